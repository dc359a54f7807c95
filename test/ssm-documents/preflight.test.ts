/**
 * The preflight program (preflight document), run directly with bash as the SSM Agent would: it reports the
 * node's readiness as one JSON line, reads the canary secret only to learn whether it can (the value goes
 * nowhere), and writes nothing: no lock, no temp file, no inventory.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { loadDocument } from '../../ssm-documents/load';
import { runInstall, type InstallParams } from '../helpers/install-script';

const SECRET_ID = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:acm-export/AcmExport/preflight-canary-AbCdEf';
const CANARY = 'canary value that must not be printed';

let root: string;
let awsDir: string;

/** An `aws` that answers --version and, for get-secret-value, what ANSWER says: ok, denied or notfound. */
const FAKE_AWS = `#!/usr/bin/env bash
if [ "$1" = --version ]; then echo "aws-cli/2.31.0 Python/3.13.0 Linux/test exe/x86_64.test"; exit 0; fi
case "$ANSWER" in
  ok) echo "${CANARY}"; exit 0 ;;
  denied) echo "An error occurred (AccessDeniedException) when calling the GetSecretValue operation: User: arn:aws:sts::123456789012:assumed-role/web/i-0abc is not authorized" >&2; exit 254 ;;
  *) echo "An error occurred (ResourceNotFoundException) when calling the GetSecretValue operation: Secrets Manager can't find the specified secret." >&2; exit 254 ;;
esac
`;

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'acm-export-preflight-'));
  awsDir = path.join(root, 'aws-bin');
  mkdirSync(awsDir);
  writeFileSync(path.join(awsDir, 'aws'), FAKE_AWS);
  chmodSync(path.join(awsDir, 'aws'), 0o755);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

function params(dir: string): InstallParams {
  return {
    CertName: 'site',
    SecretId: SECRET_ID,
    Region: 'eu-west-1',
    CertDir: path.join(dir, 'certs'),
    KeyDir: path.join(dir, 'private'),
  };
}

function freshDir(name: string): { dir: string; tmp: string } {
  const dir = path.join(root, name);
  const tmp = path.join(dir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  return { dir, tmp };
}

test('a ready node: versions, web server and "secret ok" on one JSON line; no file written anywhere, secret value not printed', async () => {
  const { dir, tmp } = freshDir('ready');
  const run = await runInstall({
    program: 'preflight',
    params: params(dir),
    path: [awsDir],
    tmpDir: tmp,
    env: { ANSWER: 'ok', AWS_SSM_INSTANCE_ID: 'i-0abc1234def567890' },
  });
  expect(run.code).toBe(0);
  const report = JSON.parse(run.stdout) as Record<string, unknown>;
  const opensslVersion = /^OpenSSL (\S+)/.exec(spawnSync('openssl', ['version'], { encoding: 'utf8' }).stdout)?.[1];
  const bashVersion = spawnSync('bash', ['-c', 'echo ${BASH_VERSINFO[0]}.${BASH_VERSINFO[1]}'], {
    encoding: 'utf8',
  }).stdout.trim();
  expect(report).toMatchObject({
    node: 'i-0abc1234def567890',
    action: 'preflight',
    awsCli: '2.31.0',
    openssl: opensslVersion,
    bash: bashVersion,
    secret: 'ok',
    missing: [],
  });
  expect(['none', 'nginx', 'apache2', 'httpd']).toContain(report.server);
  expect(run.stderr).toMatch(/^acm-export: preflight: bash .*, aws-cli 2\.31\.0, .*secret ok$/m);
  expect(`${run.stdout}${run.stderr}`).not.toContain(CANARY);
  // Nothing written: no CertDir/KeyDir (so no lock file), no temp dir left, nothing else in the test dir.
  expect(readdirSync(dir)).toEqual(['tmp']);
  expect(readdirSync(tmp)).toEqual([]);
});

test('denied and not-found reads are reported as a class, without the service message', async () => {
  for (const answer of ['denied', 'notfound']) {
    const { dir, tmp } = freshDir(`read-${answer}`);
    const run = await runInstall({
      program: 'preflight',
      params: params(dir),
      path: [awsDir],
      tmpDir: tmp,
      env: { ANSWER: answer },
    });
    expect({ answer, code: run.code, secret: (JSON.parse(run.stdout) as { secret: string }).secret }).toEqual({
      answer,
      code: 0,
      secret: answer,
    });
    expect(`${run.stdout}${run.stderr}`).not.toMatch(/AccessDeniedException|not authorized|can't find/);
  }
});

test('a node without flock or the AWS CLI: both listed as missing, the secret cannot be read (error)', async () => {
  const { dir, tmp } = freshDir('missing');
  // Only what the preflight itself needs, without flock and aws; the script adds /usr/local/sbin,
  // /usr/sbin and /sbin to PATH, where neither is found on the test machines.
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  for (const tool of [
    'bash',
    'env',
    'sed',
    'head',
    'id',
    'uname',
    'tr',
    'openssl',
    'grep',
    'awk',
    'mktemp',
    'sync',
    'timeout',
    'stat',
    'date',
    'cat',
  ]) {
    const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    symlinkSync(found, path.join(bin, tool));
  }
  const run = await runInstall({ program: 'preflight', params: params(dir), tmpDir: tmp, env: { PATH: bin } });
  expect(run.code).toBe(0);
  expect(JSON.parse(run.stdout)).toMatchObject({ awsCli: '', secret: 'error', missing: ['flock', 'aws'] });
});

test('the preflight document declares only SecretId and Region; an invalid Region is a parameter error', async () => {
  expect(Object.keys(loadDocument('preflight').parameters).sort()).toEqual(['Region', 'SecretId']);
  const { dir, tmp } = freshDir('bad-region');
  const run = await runInstall({
    program: 'preflight',
    params: { ...params(dir), Region: 'nowhere' },
    path: [awsDir],
    tmpDir: tmp,
    env: { ANSWER: 'ok' },
  });
  expect(run.code).toBe(10);
  expect(run.stderr).toMatch(/SSM_Region does not match its allowedPattern/);
});
