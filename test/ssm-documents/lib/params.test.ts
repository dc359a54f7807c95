/**
 * lib/params.sh's check of the directory settings (ACM_EXPORT_STATE_DIR and the others), on its own:
 * `plain_dir_path` must accept exactly what ^(/[A-Za-z0-9_][A-Za-z0-9._-]{0,63}){1,32}$ accepts (it checks that
 * pattern in cheaper parts), judged by bash's own regex engine on the same values.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const PARAMS_SH = path.join(__dirname, '..', '..', '..', 'ssm-documents', 'lib', 'params.sh');
const PATTERN = '^(/[A-Za-z0-9_][A-Za-z0-9._-]{0,63}){1,32}$';

/** For each value: [accepted by the pattern, accepted by plain_dir_path]. */
function judge(values: string[]): [boolean, boolean][] {
  const script = [
    'set -u',
    'export LC_ALL=C',
    `source "${PARAMS_SH}"`,
    `re='${PATTERN}'`,
    'for v in "$@"; do',
    '  a=0; if [[ $v =~ $re ]]; then a=1; fi',
    '  b=0; if plain_dir_path "$v"; then b=1; fi',
    '  printf "%s%s\\n" "$a" "$b"',
    'done',
  ].join('\n');
  const r = spawnSync('bash', ['-c', script, 'params', ...values], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => [l[0] === '1', l[1] === '1']);
}

test('plain_dir_path accepts exactly the values the directory pattern accepts', () => {
  const name = (n: number) => 'a'.repeat(n);
  const components = (n: number) => Array.from({ length: n }, () => '/x').join('');
  const values = [
    '/var/lib/acm-export',
    '/',
    '/a',
    '/a/',
    '//a',
    '/a//b',
    '/.a',
    '/_a',
    '/a/..',
    '/a/b.c-d_e',
    `/${name(64)}`,
    `/${name(65)}`,
    `/b/${name(64)}/c`,
    `/b/${name(65)}/c`,
    `/b/${name(63)}.-/c`,
    components(32),
    components(33),
    `${components(31)}/${name(64)}`,
    '/a b',
    '/a/-b',
    '/-a',
    'a/b',
    'relative',
    '/a\n/b',
    '/a/b\n',
    '/é',
    '/a*',
  ];
  const verdicts = judge(values);
  expect(verdicts).toHaveLength(values.length);
  for (const [i, [byPattern, byFunction]] of verdicts.entries()) {
    expect({ value: values[i], accepted: byFunction }).toEqual({ value: values[i], accepted: byPattern });
  }
  // Both kinds are among the values.
  expect(verdicts.filter(([p]) => p).length).toBeGreaterThan(4);
  expect(verdicts.filter(([p]) => !p).length).toBeGreaterThan(4);
});
