/**
 * lib/run.sh on its own: the JSON lines the programs write, whose status the callers act on.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const RUN = path.join(__dirname, '..', '..', '..', 'ssm-documents', 'lib', 'run.sh');

/** Runs `body` with run.sh sourced under set -eu; returns stdout. */
function inBash(body: string): string {
  const r = spawnSync('bash', ['-c', `set -eu\nsource ${RUN}\n${body}`], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  return r.stdout;
}

test('json_obj: one line, and a failed write is its failure (a full disk must not leave an empty entry)', () => {
  expect(inBash('json_obj CertName site Serial 0A1B')).toBe('{"CertName":"site","Serial":"0A1B"}\n');
  expect(inBash('json_obj Problem \'a "quoted" word\'')).toBe('{"Problem":"a \\"quoted\\" word"}\n');
  // Both ways: the plain values' fast path and the escaping one; also from an EXIT trap, which is where a failed
  // run records its entry (a bare return there gives the trap's own status).
  const body = [
    'rc=0; json_obj a b >/dev/full 2>/dev/null || rc=$?; echo "fast $rc"',
    'rc=0; json_obj a \'"\' >/dev/full 2>/dev/null || rc=$?; echo "escaped $rc"',
    'rc=0; json_obj a b >/dev/null || rc=$?; echo "written $rc"',
  ].join('\n');
  expect(inBash(body)).toBe('fast 1\nescaped 1\nwritten 0\n');
  const trapped = `trap 'rc=0; json_obj a b >/dev/full 2>/dev/null || rc=$?; echo "full $rc"; json_obj a b >/dev/null && echo written' EXIT\nfalse || exit 3`;
  const r = spawnSync('bash', ['-c', `source ${RUN}\n${trapped}`], { encoding: 'utf8' });
  expect([r.status, r.stdout]).toEqual([3, 'full 1\nwritten\n']);
});
