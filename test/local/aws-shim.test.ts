/**
 * The local node's `aws` (local/nodes/shims.ts + aws-cli.cjs) against the local emulator: the calls the node
 * scripts make, with AWS CLI v2's output format, error lines and exit codes, and its fault switches.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { startAwsEmulator, type AwsEmulator } from '../../local/aws-emulator';
import { LOCAL_AWS_VERSION, writeAwsShim } from '../../local/nodes/shims';

let aws: AwsEmulator;
let dir: string;
let versions: { first: string; second: string };
const SECRET = 'acm-export/shim-test';

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'acm-export-aws-shim-'));
  writeAwsShim(path.join(dir, 'aws'));
  aws = await startAwsEmulator({ faults: { throttle: {}, notExportable: [], pending: [], nodes: {} } });
  const sm = new SecretsManagerClient(aws.clientConfig());
  const created = await sm.send(new CreateSecretCommand({ Name: SECRET, SecretString: 'first "quoted"\nline' }));
  const put = await sm.send(new PutSecretValueCommand({ SecretId: SECRET, SecretString: 'second' }));
  versions = { first: created.VersionId!, second: put.VersionId! };
});

afterAll(async () => {
  await aws.close();
  rmSync(dir, { recursive: true, force: true });
});

function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(dir, 'aws'), args, {
      env: {
        PATH: '/usr/bin:/bin',
        AWS_REGION: aws.region,
        AWS_ENDPOINT_URL: aws.endpoint,
        AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out, err }));
  });
}

const ID = (): string[] => ['--region', aws.region, '--secret-id', SECRET];

test("aws --version answers CLI v2 (the scripts' preflight check)", async () => {
  await expect(run(['--version'], { PATH: '/nonexistent' })).resolves.toEqual({
    code: 0,
    out: `${LOCAL_AWS_VERSION}\n`,
    err: '',
  });
});

test('get-secret-value: the SecretString as text, and the whole answer as 4-space JSON with ISO dates', async () => {
  const text = await run([
    'secretsmanager',
    'get-secret-value',
    ...ID(),
    '--version-id',
    versions.first,
    '--query',
    'SecretString',
    '--output',
    'text',
  ]);
  expect(text).toEqual({ code: 0, out: 'first "quoted"\nline\n', err: '' });
  const json = await run([
    'secretsmanager',
    'get-secret-value',
    ...ID(),
    '--version-stage',
    'AWSCURRENT',
    '--output',
    'json',
  ]);
  expect(json.code).toBe(0);
  expect(json.out).toMatch(/^\{\n {4}"ARN": "arn:aws:secretsmanager:/);
  expect(JSON.parse(json.out)).toMatchObject({
    Name: SECRET,
    VersionId: versions.second,
    SecretString: 'second',
    VersionStages: ['AWSCURRENT'],
    CreatedDate: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$/),
  });
});

test('describe-secret --query VersionIdsToStages --output json: the stages of every labelled version', async () => {
  const r = await run([
    'secretsmanager',
    'describe-secret',
    ...ID(),
    '--query',
    'VersionIdsToStages',
    '--output',
    'json',
  ]);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.out)).toEqual({ [versions.first]: ['AWSPREVIOUS'], [versions.second]: ['AWSCURRENT'] });
  expect(r.out).toBe(`${JSON.stringify(JSON.parse(r.out), null, 4)}\n`);
  const name = await run(['secretsmanager', 'describe-secret', ...ID(), '--query', 'Name', '--output', 'text']);
  expect(name).toEqual({ code: 0, out: `${SECRET}\n`, err: '' });
  const whole = await run(['secretsmanager', 'describe-secret', ...ID()]);
  expect(JSON.parse(whole.out)).toMatchObject({ Name: SECRET, LastChangedDate: expect.stringMatching(/\+00:00$/) });
});

test('refuses what it does not implement with exit 252, and service errors with the CLI line and 254', async () => {
  const refused = [
    ['secretsmanager', 'list-secrets'],
    ['secretsmanager', 'describe-secret', ...ID(), '--query', 'VersionIdsToStages', '--output', 'text'],
    ['secretsmanager', 'describe-secret', ...ID(), '--query', 'Tags[0]'],
    ['secretsmanager', 'describe-secret', ...ID(), '--version-id', versions.first],
    ['secretsmanager', 'get-secret-value', ...ID(), '--output', 'yaml'],
    ['secretsmanager', 'describe-secret', '--region', aws.region],
  ];
  for (const args of refused) expect(await run(args)).toMatchObject({ code: 252, out: '' });
  const missing = await run(['secretsmanager', 'describe-secret', '--region', aws.region, '--secret-id', 'nope']);
  expect(missing).toMatchObject({ code: 254, out: '' });
  expect(missing.err).toBe(
    "\nAn error occurred (ResourceNotFoundException) when calling the DescribeSecret operation: Secrets Manager can't find the specified secret.\n",
  );
  const badKey = await run(['secretsmanager', 'describe-secret', ...ID()], {
    AWS_SECRET_ACCESS_KEY: `${aws.credentials.secretAccessKey}x`,
  });
  expect(badKey.code).toBe(254);
  expect(badKey.err).toMatch(/\(InvalidSignatureException\) when calling the DescribeSecret operation/);
});

test('fault switches: ACM_EXPORT_LOCAL_AWS_FAIL is an unreachable endpoint (255), _DENY an access denial (254)', async () => {
  const args = ['secretsmanager', 'describe-secret', ...ID()];
  const unreachable = await run(args, { ACM_EXPORT_LOCAL_AWS_FAIL: '1' });
  expect(unreachable).toMatchObject({ code: 255, out: '' });
  expect(unreachable.err).toContain('Could not connect to the endpoint URL');
  const denied = await run(args, { ACM_EXPORT_LOCAL_AWS_DENY: '1' });
  expect(denied).toMatchObject({ code: 254, out: '' });
  expect(denied.err).toContain('(AccessDeniedException) when calling the DescribeSecret operation');
  const closed = await run(args, { AWS_ENDPOINT_URL: 'http://127.0.0.1:9' });
  expect(closed).toMatchObject({ code: 255, out: '' });
  expect(closed.err).toBe('\nCould not connect to the endpoint URL: "http://127.0.0.1:9/"\n');
});
