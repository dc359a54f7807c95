/**
 * judgeNode's verdict on the bash a node runs: the node programs need bash 4.4 (older versions stop on an empty
 * array under set -u), so a preflight report of 4.3 is a problem, and a node whose bash the prelude refused says
 * why in its line.
 */
import { judgeNode } from '../../cli/selftest';

const preflight = (bash: string) =>
  `${JSON.stringify({ node: 'i-0abc1234def567890', action: 'preflight', bash, awsCli: '2.22.0', openssl: '3.0.13', server: 'nginx', secret: 'ok', missing: [] })}\n`;

const judge = (stdout: string, stderr = '', status = 'Success') =>
  judgeNode({ instanceId: 'i-0abc1234def567890', status, stdout, stderr, agentVersion: '3.3.2746.0', logs: 'ok' });

test.each([
  ['4.4', true],
  ['5.2', true],
  ['4.3', false],
  ['4.10', true],
])('bash %s: ready %s', (bash, ready) => {
  const node = judge(preflight(bash));
  expect(node.ready).toBe(ready);
  expect(node.details).toContain(ready ? `bash ${bash}` : `bash ${bash} (needs >= 4.4)`);
});

test("a node whose bash the prelude refused: NOT READY, with the prelude's line", () => {
  const node = judge(
    '',
    'acm-export: FAILED at preflight: bash 4.4 or later is required (this is bash 4.2.46(2)-release)\n',
    'Failed',
  );
  expect(node.ready).toBe(false);
  expect(node.details[1]).toMatch(
    /^preflight Failed: FAILED at preflight: bash 4\.4 or later is required \(this is bash 4\.2\.46/,
  );
});
