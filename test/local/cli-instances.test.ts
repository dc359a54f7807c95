/**
 * Two `acm-export local up` at once (two state dirs, the real CLI in child processes): each client command
 * talks to the instance of the state dir it is given and refuses, in one line, to guess or to use a stale or
 * recycled endpoint; each has its own key pair (the client commands read it from the state dir; the pair local
 * mode once published gets 403); `local ca` prints the root CA `local up` announced; the association and drift-check
 * commands run the report association alone, show the drift, and the install association repairs it.
 */
import { ACMClient, DescribeCertificateCommand, RequestCertificateCommand } from '@aws-sdk/client-acm';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import {
  loadOrCreateLocalCredentials,
  LOCAL_REGION,
  readLocalCredentials,
  type LocalCredentials,
} from '../../local/credentials';
import { DEFAULT_EXPORT_TAG } from '../../lambda/shared/export-opt-in';
import type { LocalEndpointFile } from '../../local/endpoint-file';

jest.setTimeout(180_000);

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'cli', 'bin.cjs');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

let tmp: string;
/** The CLI's environment: no AWS keys unless given (the local commands read the pair from the state dir). */
const env = (credentials?: LocalCredentials): NodeJS.ProcessEnv => {
  const e: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp, AWS_REGION: LOCAL_REGION };
  delete e.ACM_EXPORT_LOCAL_STATE_DIR;
  delete e.AWS_ACCESS_KEY_ID;
  delete e.AWS_SECRET_ACCESS_KEY;
  delete e.AWS_SESSION_TOKEN;
  delete e.AWS_PROFILE;
  if (credentials) {
    e.AWS_ACCESS_KEY_ID = credentials.accessKeyId;
    e.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;
  }
  return e;
};

/** Runs one CLI command to its end. */
function cli(args: string[], credentials?: LocalCredentials): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: env(credentials),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    // 'close', not 'exit': the process may exit before its piped output has all been read.
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface Instance {
  dir: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<void>;
  info: () => LocalEndpointFile;
  acm: () => ACMClient;
  credentials: () => LocalCredentials;
}

function startUp(dir: string): Instance {
  const child = spawn(process.execPath, [BIN, 'local', 'up', '--nodes', '1', '--state-dir', dir], {
    cwd: ROOT,
    env: env(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const info = (): LocalEndpointFile =>
    JSON.parse(readFileSync(path.join(dir, 'endpoint.json'), 'utf8')) as LocalEndpointFile;
  return {
    dir,
    child,
    output: () => output,
    exited,
    info,
    acm: () =>
      new ACMClient({ region: LOCAL_REGION, endpoint: info().awsEndpoint, credentials: readLocalCredentials(dir) }),
    credentials: () => readLocalCredentials(dir),
  };
}

async function untilUp(instance: Instance): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (!instance.output().includes('Press Ctrl-C to stop.')) {
    if (instance.child.exitCode !== null || Date.now() > deadline)
      throw new Error(`local up did not start:\n${instance.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function requestCertificate(instance: Instance, domain: string): Promise<string> {
  const r = await instance.acm().send(
    new RequestCertificateCommand({
      DomainName: domain,
      Options: { Export: 'ENABLED' },
      Tags: [{ Key: DEFAULT_EXPORT_TAG.key, Value: DEFAULT_EXPORT_TAG.value }],
    }),
  );
  return r.CertificateArn!;
}

async function serial(instance: Instance, arn: string): Promise<string | undefined> {
  return (await instance.acm().send(new DescribeCertificateCommand({ CertificateArn: arn }))).Certificate?.Serial;
}

/** The one line a failing command prints. */
function oneErrorLine(r: Result): string {
  expect(r.code).toBe(1);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0];
}

describe('two local modes at once', () => {
  let a: Instance;
  let b: Instance;
  let arnA: string;
  let arnB: string;

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'acm-export-instances-'));
    a = startUp(path.join(tmp, 'A'));
    b = startUp(path.join(tmp, 'B'));
    await Promise.all([untilUp(a), untilUp(b)]);
    [arnA, arnB] = await Promise.all([
      requestCertificate(a, 'www.a.example.test'),
      requestCertificate(b, 'www.b.example.test'),
    ]);
  });

  afterAll(async () => {
    for (const i of [a, b]) if (i && i.child.exitCode === null) i.child.kill('SIGTERM');
    await Promise.all([a?.exited, b?.exited]);
    rmSync(tmp, { recursive: true, force: true });
  });

  test('local renew --state-dir A renews in A only; without a state dir it refuses to pick one', async () => {
    const [beforeA, beforeB] = [await serial(a, arnA), await serial(b, arnB)];

    const guess = await cli(['local', 'renew', arnA]);
    const line = oneErrorLine(guess);
    expect(line).toContain('2 local modes are running');
    expect(line).toContain(`state dir ${a.dir}`);
    expect(line).toContain(`state dir ${b.dir}`);
    expect(line).toContain('--state-dir DIR');
    expect(await serial(a, arnA)).toBe(beforeA);

    const renewed = await cli(['local', 'renew', '--state-dir', a.dir, arnA]);
    expect(renewed.stderr).toBe('');
    expect(renewed.code).toBe(0);
    expect(renewed.stdout).toMatch(/^renew/);
    expect(await serial(a, arnA)).not.toBe(beforeA);
    expect(await serial(b, arnB)).toBe(beforeB);

    // B's certificate does not exist in A: the command went to A, not to B.
    const wrong = await cli(['local', 'renew', '--state-dir', a.dir, arnB]);
    expect(oneErrorLine(wrong)).toMatch(/not found|ResourceNotFound|does not exist/i);
    expect(await serial(b, arnB)).toBe(beforeB);
  });

  test('a stale endpoint file and a recycled port are refused with one line naming the running instances', async () => {
    const c = path.join(tmp, 'C');
    mkdirSync(c, { recursive: true });
    // C's local up was killed with -9: its endpoint file names a process that is gone.
    const stale: LocalEndpointFile = { ...a.info(), root: c, instance: 'c-instance', pid: 2 ** 22 + 17 };
    writeFileSync(path.join(c, 'endpoint.json'), JSON.stringify(stale));
    const staleLine = oneErrorLine(await cli(['local', 'drift-check', '--state-dir', c]));
    expect(staleLine).toContain('is stale');
    expect(staleLine).toContain(`pid ${stale.pid}`);
    expect(staleLine).toContain(`state dir ${a.dir}`);

    // C's endpoint file names a live process, but A now answers on C's port.
    // C has its own key pair (from its first start): A refuses it, so the command reaches nothing of A's.
    const pairC = loadOrCreateLocalCredentials(c);
    writeFileSync(
      path.join(c, 'endpoint.json'),
      JSON.stringify({ ...stale, pid: process.pid, accessKeyId: pairC.accessKeyId }),
    );
    const before = await serial(a, arnA);
    const recycled = oneErrorLine(await cli(['local', 'renew', '--state-dir', c, arnA]));
    expect(recycled).toContain(`${a.info().endpoint} is not that local mode (it answered 403`);
    expect(recycled).toContain(`local up --state-dir ${c}`);
    expect(await serial(a, arnA)).toBe(before);

    const missing = oneErrorLine(await cli(['local', 'drift-check', '--state-dir', path.join(tmp, 'none')]));
    expect(missing).toContain('does not exist');
  });

  test('local ca prints the root CA whose file and fingerprint local up announced', async () => {
    const announced = /^\s+file\s+(\S+)\n\s+SHA-256\s+(\S+)$/m.exec(a.output());
    expect(announced).not.toBeNull();
    const [, file, sha256] = announced!;
    expect(file).toBe(path.join(a.dir, 'root-ca.pem'));
    expect(a.output()).toContain(`curl --cacert ${file}`);
    expect(a.output()).toContain(`NODE_EXTRA_CA_CERTS=${file}`);
    expect(a.output()).toContain(`acm-export doctor --ca ${file}`);

    const printed = await cli(['local', 'ca', '--state-dir', a.dir]);
    expect(printed.code).toBe(0);
    const cert = new X509Certificate(printed.stdout);
    expect(cert.fingerprint256).toBe(sha256);
    expect(cert.subject).toContain('Root CA');
    expect(printed.stdout).toBe(readFileSync(file, 'utf8'));
    expect(printed.stdout).not.toMatch(/PRIVATE KEY/);
    // B has its own CA.
    const other = await cli(['local', 'ca', '--state-dir', b.dir, '--json']);
    expect((JSON.parse(other.stdout) as { sha256: string }).sha256).not.toBe(sha256);
  });

  test('each local up has its own key pair, printed at start, kept in its state dir only; the published pair gets 403', async () => {
    const [pairA, pairB] = [a.credentials(), b.credentials()];
    expect(pairA.accessKeyId).not.toBe(pairB.accessKeyId);
    expect(pairA.secretAccessKey).not.toBe(pairB.secretAccessKey);
    for (const [i, pair] of [
      [a, pairA],
      [b, pairB],
    ] as const) {
      expect(statSync(path.join(i.dir, 'credentials.json')).mode & 0o777).toBe(0o600);
      expect(statSync(i.dir).mode & 0o777).toBe(0o700);
      expect(i.output()).toMatch(new RegExp(`^ {2}access key id {6}${pair.accessKeyId}$`, 'm'));
      expect(i.output()).toContain(`  secret access key  ${pair.secretAccessKey}\n`);
      expect(i.info().accessKeyId).toBe(pair.accessKeyId);
    }
    // The per-user run directory's endpoint files and the logs hold no secret.
    const runDir = readdirSync(tmp).find((d) => d.startsWith('acm-export-run-'))!;
    const shared = readdirSync(path.join(tmp, runDir)).map((f) => readFileSync(path.join(tmp, runDir, f), 'utf8'));
    expect(shared.length).toBeGreaterThanOrEqual(2);
    for (const dir of [a.dir, b.dir])
      for (const f of readdirSync(path.join(dir, 'logs'))) shared.push(readFileSync(path.join(dir, 'logs', f), 'utf8'));
    for (const text of shared) {
      expect(text).not.toContain(pairA.secretAccessKey);
      expect(text).not.toContain(pairB.secretAccessKey);
    }

    // A request signed with the key pair local mode used to publish is refused by a running local up.
    const signedGet = async (credentials: LocalCredentials): Promise<number> => {
      const url = new URL('_local/whoami', a.info().endpoint);
      const signer = new SignatureV4({ credentials, region: LOCAL_REGION, service: 'execute-api', sha256: Sha256 });
      const request = await signer.sign(
        new HttpRequest({
          method: 'GET',
          protocol: 'http:',
          hostname: url.hostname,
          port: Number(url.port),
          path: url.pathname,
          headers: { host: url.host },
        }),
      );
      const headers = Object.fromEntries(Object.entries(request.headers).filter(([k]) => k !== 'host'));
      return (await fetch(url, { headers })).status;
    };
    expect(
      await signedGet({
        accessKeyId: 'AKIALOCALACMEXPORT01',
        secretAccessKey: 'local-mode-only/not-an-aws-secret-key+00',
      }),
    ).toBe(403);
    expect(await signedGet(pairB)).toBe(403);
    expect(await signedGet(pairA)).toBe(200);
    // --endpoint names no state dir: the command signs with the environment's keys, which must be A's.
    const withB = await cli(['--endpoint', a.info().endpoint, 'local', 'drift-check'], pairB);
    expect(oneErrorLine(withB)).toMatch(/403/);
    const withA = await cli(['--endpoint', a.info().endpoint, 'local', 'drift-check', '--json'], pairA);
    expect(withA.code).toBe(0);
  });

  test('tamper, run only the report association, drift-check alerts, the install association repairs', async () => {
    const exported = await cli(
      [
        '--endpoint',
        a.info().endpoint,
        'export',
        '--arn',
        arnA,
        '--name',
        'site',
        '--tag',
        'Role=web',
        '--service',
        'nginx',
        '--verify-port',
        '443',
        '--wait',
      ],
      a.credentials(),
    );
    expect(exported.code).toBe(0);
    const nodesDir = path.join(a.dir, 'nodes');
    const [nodeDir] = readdirSync(nodesDir).map((d) => path.join(nodesDir, d));
    const keyFile = path.join(nodeDir, 'root', 'etc', 'ssl', 'private', 'site.key');
    expect(existsSync(keyFile)).toBe(true);
    rmSync(keyFile);

    const report = await cli(['local', 'associations', 'run', '--kind', 'report', '--state-dir', a.dir, '--json']);
    expect(report.code).toBe(0);
    const ran = JSON.parse(report.stdout) as { associations: { kind: string; runs: { status: string }[] }[] };
    expect(ran.associations.map((x) => x.kind)).toEqual(['report']);
    expect(ran.associations[0].runs.map((r) => r.status)).toEqual(['Success']);
    expect(existsSync(keyFile)).toBe(false); // the report run changes nothing

    const drift = await cli(['local', 'drift-check', '--state-dir', a.dir]);
    expect(drift.code).toBe(0);
    expect(drift.stdout).toMatch(/DRIFT: 1 node\(s\) in 1 target\(s\)/);
    expect(drift.stdout).toMatch(/1 alert\(s\) sent/);
    expect(drift.stdout).toMatch(/^ {2}alert: .*Role=web/m);

    const install = await cli([
      'local',
      'associations',
      'run',
      '--kind',
      'install',
      '--arn',
      arnA,
      '--target',
      'Role=web',
      '--state-dir',
      a.dir,
    ]);
    expect(install.code).toBe(0);
    expect(install.stdout).toMatch(/^ran 1 association\(s\) \(1 install\): 1 node run\(s\), 1 succeeded$/m);
    expect(existsSync(keyFile)).toBe(true);

    expect((await cli(['local', 'associations', 'run', '--kind', 'report', '--state-dir', a.dir])).code).toBe(0);
    const clean = JSON.parse((await cli(['local', 'drift-check', '--json', '--state-dir', a.dir])).stdout) as {
      driftingNodes: number;
      targetsChecked: number;
    };
    expect(clean).toMatchObject({ driftingNodes: 0, targetsChecked: 1 });
    // B saw none of it: no export, so nothing to check there.
    const inB = JSON.parse((await cli(['local', 'drift-check', '--json', '--state-dir', b.dir])).stdout) as {
      targetsChecked: number;
    };
    expect(inB.targetsChecked).toBe(0);
  });
});

test('option mistakes of the local client commands are one line, before any local mode is contacted', async () => {
  const { runCli } = await import('../cli/helpers/cli-runner');
  const ARN = 'arn:aws:acm:us-east-1:000000000000:certificate/0a1b2c3d-1111-2222-3333-444455556666';
  const fetch = jest.fn();
  const half = await runCli(['local', 'associations', 'run', '--arn', ARN], { fetch });
  expect(half.stderr).toBe('acm-export: reading the options: --arn and --target go together. Pass both, or neither.\n');
  expect(half.code).toBe(1);
  const kind = await runCli(['local', 'associations', 'run', '--kind', 'all'], { fetch });
  expect(kind.stderr).toMatch(/^acm-export: invalid command line: .*--kind.*install, report/);
  const both = await runCli(['--endpoint', 'http://127.0.0.1:9/v1/', 'local', 'drift-check', '--state-dir', '.'], {
    fetch,
  });
  expect(both.stderr).toContain('--endpoint and --state-dir both name a local mode');
  // The environment variable names the state dir like --state-dir does.
  const missing = path.join(tmpdir(), 'acm-export-no-such-state-dir');
  const fromEnv = await runCli(['local', 'drift-check'], { fetch, env: { ACM_EXPORT_LOCAL_STATE_DIR: missing } });
  expect(fromEnv.stderr).toContain(`the state dir ${missing} does not exist`);
  expect(fromEnv.code).toBe(1);
  expect(fetch).not.toHaveBeenCalled();
});
