/**
 * lib/params.sh's check of the directory settings (ACM_EXPORT_STATE_DIR and the others), on its own:
 * `plain_dir_path` must accept exactly what ^(/[A-Za-z0-9_][A-Za-z0-9._-]{0,63}){1,32}$ accepts (it checks that
 * pattern in cheaper parts), judged by bash's own regex engine on the same values. Likewise `check_param` for a
 * parameter whose bounded tail (TAIL) or key and value (PAIR) it checks as lengths (ssm-documents/load.ts).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { FIELDS, bashParamPrelude } from '../../../lambda/shared/fields';
import { bashPairRules, bashTailRules } from '../../../ssm-documents/load';
import { placementProblems } from '../../../lambda/shared/placement';

const PARAMS_SH = path.join(__dirname, '..', '..', '..', 'ssm-documents', 'lib', 'params.sh');
const PATTERN = '^(/[A-Za-z0-9_][A-Za-z0-9._-]{0,63}){1,32}$';

/**
 * Runs `setup` and then, for each value, `loop` (which prints two digits: the reference's verdict, then the
 * function's) in one bash process; returns [accepted by the reference, accepted by the function] per value.
 */
function verdicts(setup: string[], loop: string[], values: string[]): [boolean, boolean][] {
  const script = ['set -u', 'export LC_ALL=C', ...setup, 'for v in "$@"; do', ...loop, 'done'].join('\n');
  const r = spawnSync('bash', ['-c', script, 'params', ...values], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => [l[0] === '1', l[1] === '1']);
}

/**
 * Each value judged alike by the reference and the function, and both kinds (accepted, refused) more than
 * `atLeast` times among the values.
 */
function expectSameVerdicts(values: string[], verdicts: [boolean, boolean][], atLeast: number): void {
  expect(verdicts).toHaveLength(values.length);
  for (const [i, [byPattern, byFunction]] of verdicts.entries()) {
    expect({ value: values[i], accepted: byFunction }).toEqual({ value: values[i], accepted: byPattern });
  }
  expect(verdicts.filter(([p]) => p).length).toBeGreaterThan(atLeast);
  expect(verdicts.filter(([p]) => !p).length).toBeGreaterThan(atLeast);
}

/** For each value: [accepted by the pattern, accepted by plain_dir_path]. */
function judge(values: string[]): [boolean, boolean][] {
  return verdicts(
    [`source "${PARAMS_SH}"`, `re='${PATTERN}'`],
    [
      '  a=0; if [[ $v =~ $re ]]; then a=1; fi',
      '  b=0; if plain_dir_path "$v"; then b=1; fi',
      '  printf "%s%s\\n" "$a" "$b"',
    ],
    values,
  );
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
  expectSameVerdicts(values, verdicts, 4);
});

/** For each value: [accepted by the parameter's own pattern and length, accepted by check_param]. */
function judgeParam(name: string, values: string[]): [boolean, boolean][] {
  return verdicts(
    [bashParamPrelude('install'), bashTailRules('install'), `source "${PARAMS_SH}"`, `name=${name}`],
    [
      '  a=0; if [ "${#v}" -le "${MAX[$name]}" ] && [[ $v =~ ${RE[$name]} ]]; then a=1; fi',
      '  problems=(); check_param "$name" "$v"; b=0; if [ "${#problems[@]}" = 0 ]; then b=1; fi',
      '  printf "%s%s\\n" "$a" "$b"',
    ],
    values,
  );
}

test('check_param accepts exactly the SecretId values its pattern and length accept (tail checked as a length)', () => {
  expect(bashTailRules('install')).toContain("TAIL[SecretId]=': 512'");
  const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:';
  const values = [
    `${arn}acm-export/site-AbC123`,
    `${arn}a`,
    arn,
    `${arn}${'x'.repeat(511)}`,
    `${arn}${'x'.repeat(512)}`,
    `${arn}${'x'.repeat(513)}`,
    `arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:${'y'.repeat(512)}`,
    `arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:${'y'.repeat(513)}`,
    `${arn}a:b`,
    `${arn}${'x'.repeat(300)}:${'x'.repeat(300)}`,
    `${arn}a/b+c=d.e@f-g_h`,
    `${arn}a b`,
    `${arn}abc\n`,
    `arn:aws:secretsmanager:eu-west-1:12345678901:secret:abc`,
    `arn:aws:secretsmanager:eu-west-1:123456789012:secretx:abc`,
    `${'x'.repeat(600)}${arn}abc`,
    'abc',
    '',
  ];
  const verdicts = judgeParam('SecretId', values);
  expectSameVerdicts(values, verdicts, 3);
});

test('check_param accepts exactly the Target values its pattern and length accept (key and value checked as lengths)', () => {
  expect(bashTailRules('install')).toContain("PAIR[Target]='= 128 254'");
  const key = (n: number) => 'k'.repeat(n);
  const value = (n: number) => (n === 1 ? 'v' : `v${' '.repeat(n - 2)}v`);
  const values = [
    '',
    'Env=prod',
    'aws:cloudformation:stack-name=acm-export-prod',
    `${key(128)}=${value(256)}`,
    `${key(129)}=v`,
    `k=${value(257)}`,
    `${key(128)}=${value(257)}`,
    `k=${'='.repeat(256)}`,
    `k=${'='.repeat(257)}`,
    'k=v=w',
    'k==',
    '=v',
    'k=',
    'k= v',
    'k=v ',
    'k=a b',
    'k v=w',
    'kv',
    'k=v\n',
    `${key(200)}`,
    `${key(60)}=${value(200)}=${value(60)}`,
  ];
  const verdicts = judgeParam('Target', values);
  expectSameVerdicts(values, verdicts, 5);
});

test('bashPairRules: an optional KEY<D>VALUE pair with D not in the key, one value class twice and a large bound', () => {
  const withPattern = (pattern: string) => ({
    Target: { ...FIELDS.Target, rule: { ...FIELDS.Target.rule, pattern } },
  });
  expect(bashPairRules('install', withPattern('^([a-z]{1,100}=[a-z]([a-z ]{0,10}[a-z])?)?$'))).toEqual([
    "PAIR[Target]='= 100 10'",
  ]);
  for (const pattern of [
    '^([a-z=]{1,100}=[a-z]([a-z ]{0,10}[a-z])?)?$',
    '^([a-z]{1,10}=[a-z]([a-z ]{0,10}[a-z])?)?$',
    '^([a-z]{1,100}=[a-z]([a-z ]{0,10}[0-9])?)?$',
    '^([a-z]{1,100}=[a-z]([a-z ]{0,10}[a-z]))?$',
    '^([a-z]{2,100}=[a-z]([a-z ]{0,10}[a-z])?)?$',
  ])
    expect(bashPairRules('install', withPattern(pattern))).toEqual([]);
  expect(bashPairRules('remove')).toEqual([]);
});

test('bashTailRules: only a plain character not in the final class, a large bound and no alternation', () => {
  const withPattern = (pattern: string) => ({
    SecretId: { ...FIELDS.SecretId, rule: { ...FIELDS.SecretId.rule, pattern } },
  });
  expect(bashTailRules('install', withPattern('^a:[a-z]{1,100}$'))).toContain("TAIL[SecretId]=': 100'");
  for (const pattern of [
    '^a:[a-z:]{1,100}$',
    '^a|b:[a-z]{1,100}$',
    '^a:[a-z]{1,10}$',
    '^a:[a-z]{2,100}$',
    '^a\\:[a-z]{1,100}$',
  ])
    expect(bashTailRules('install', withPattern(pattern))).toBe('declare -A TAIL=() PAIR=()');
});

test('check_placement judges as the API does (lambda/shared/placement.ts) whatever the allowed list, an empty one too', () => {
  const dirs = [
    '/etc/ssl',
    '/etc/ssl/private',
    '/etc/ssl2',
    '/srv/a.b/c',
    '/srv/aXb/c',
    '/var/www/html',
    '/usr/share/nginx/html/x',
    '/usr/local/tls',
    '/etc',
    '/opt/app/tls',
    '/home/u/certs',
  ];
  // What a problem line says, whichever side wrote it: allowed, never allowed, below which entry, or not allowed.
  const kind = (line: string | undefined) =>
    line === undefined
      ? 'ok'
      : / is never allowed /.test(line)
        ? 'never'
        : (/ is below (\S+), /.exec(line)?.[1] ??
          (/ is not under an allowed directory /.test(line) ? 'not under' : line));
  for (const allowed of [[], ['/'], ['/etc/ssl'], ['/etc/ssl', '/srv/a.b'], ['/opt', '/usr/local']]) {
    const policy = `declare -ra ALLOWED_DIRS=(${allowed.map((d) => `'${d}'`).join(' ')})`;
    const script = readFileSync(PARAMS_SH, 'utf8').replace(/^declare -ra ALLOWED_DIRS=\(.*\)$/m, () => policy);
    const r = spawnSync(
      'bash',
      [
        '-c',
        'set -u; eval "$PARAMS"; for d in "$@"; do problems=(); check_placement CertDir "$d"; printf "%s\\n" "${problems[0]:-}"; done',
        'placement',
        ...dirs,
      ],
      { encoding: 'utf8', env: { ...process.env, PARAMS: script } },
    );
    expect(r.stderr).toBe('');
    const byScript = r.stdout
      .split('\n')
      .slice(0, dirs.length)
      .map((line) => kind(line || undefined));
    const byApi = dirs.map((dir) =>
      kind(
        placementProblems(
          { CertDir: dir, KeyDir: dir, KeyOwner: '', KeyGroup: '' },
          { allowedDirs: allowed, keyAccounts: [] },
        ).find((p) => p.startsWith('CertDir:')),
      ),
    );
    expect({ allowed, verdicts: byScript }).toEqual({ allowed, verdicts: byApi });
  }
});
