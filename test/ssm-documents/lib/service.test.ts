/**
 * lib/service.sh's served-serial wait, on its own: `served_serial` is replaced by a script of answers, so
 * the graceful-reload race (a new connection still answered by an old worker after one answered with the
 * new certificate) is reproduced exactly instead of by chance.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const SERVICE_SH = path.join(__dirname, '..', '..', '..', 'ssm-documents', 'lib', 'service.sh');

/** Runs wait_served NEW with `answers` as the serials successive connections see (the last one repeats). */
function waitServed(answers: string[], verifySeconds = 30): { verified: boolean; connections: number; last: string } {
  const script = [
    'set -u',
    `source "${SERVICE_SH}"`,
    'answers=("$@")',
    'COUNT=$(mktemp); trap \'rm -f "$COUNT"\' EXIT',
    // Replaces the TLS connection: each call is one connection, answered from the list. wait_served calls it
    // in a command substitution (a subshell), so the count lives in a file.
    'served_serial() { local i; i=$(wc -l <"$COUNT"); echo x >>"$COUNT"; [ "$i" -lt "${#answers[@]}" ] || i=$((${#answers[@]} - 1)); printf %s "${answers[$i]}"; }',
    `verify_seconds=${verifySeconds}`,
    'if wait_served NEW; then v=1; else v=0; fi',
    'printf "%s %s %s\\n" "$v" "$(wc -l <"$COUNT")" "$LAST_SERVED"',
  ].join('\n');
  const r = spawnSync('bash', ['-c', script, 'wait-served', ...answers], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  const [verified, connections, last] = r.stdout.trim().split(/\s+/);
  return { verified: verified === '1', connections: Number(connections), last: last ?? '' };
}

test('one connection with the new serial between old ones does not verify: three in a row do', () => {
  // What a graceful reload looks like: the new worker answers, then an old one still does.
  const r = waitServed(['OLD', 'NEW', 'OLD', 'NEW', 'NEW', 'NEW']);
  expect(r).toEqual({ verified: true, connections: 6, last: 'NEW' });
});

test('a server that keeps answering the old serial now and then is never verified', () => {
  const flapping = Array.from({ length: 400 }, (_, i) => (i % 3 === 2 ? 'OLD' : 'NEW'));
  // A short deadline: bash's SECONDS ticks whole seconds, so this gives up after one to two seconds.
  const r = waitServed(flapping, 2);
  expect(r.verified).toBe(false);
});

test('a server that serves the new serial at once verifies after three connections', () => {
  expect(waitServed(['NEW'])).toEqual({ verified: true, connections: 3, last: 'NEW' });
});
