/**
 * cli/bin.cjs drops exactly the AWS SDK's NodeVersionSupportWarning (multi-line, once per process on
 * Node < 22) and keeps every other warning.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const SDK_CLIENT = "new (require('@aws-sdk/client-acm').ACMClient)({ region: 'us-east-1' });";

function stderrOf(script: string): string {
  const env = { ...process.env };
  delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
  const r = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, env, encoding: 'utf8' });
  expect(r.status).toBe(0);
  return r.stderr;
}

test('the SDK version warning is dropped, other warnings stay', () => {
  const stderr = stderrOf(
    [
      "process.argv = [process.argv[0], 'cli/bin.cjs', '--version'];",
      "require('./cli/bin.cjs');",
      SDK_CLIENT,
      "process.emitWarning('another warning stays');",
      "process.emitWarning('NodeVersionSupportWarning is mentioned here, but this is not the SDK', 'DeprecationWarning');",
    ].join('\n'),
  );
  expect(stderr).not.toContain('The AWS SDK for JavaScript');
  expect(stderr).toContain('Warning: another warning stays');
  expect(stderr).toContain('DeprecationWarning: NodeVersionSupportWarning is mentioned here');
});

const major = Number(process.versions.node.split('.')[0]);
(major < 22 ? test : test.skip)(
  'without bin.cjs the SDK does print it on this Node version (the filter matches what the SDK emits)',
  () => {
    expect(stderrOf(SDK_CLIENT)).toContain('NodeVersionSupportWarning: The AWS SDK for JavaScript');
  },
);

test('a reader that closes the pipe early ends the command quietly, without an EPIPE stack trace', () => {
  // `acm-export --help | head -1`: the help is longer than one line; head exits after the first.
  const r = spawnSync('bash', ['-c', 'set -o pipefail; node cli/bin.cjs selftest --help | head -c 10 >/dev/null'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  expect(r.stderr).not.toMatch(/EPIPE|Unhandled 'error' event/);
  expect(r.status).toBe(0);
});
