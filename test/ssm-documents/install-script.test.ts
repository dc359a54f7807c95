/**
 * The real install script run with bash against a temporary root (Service=none): files, modes, result
 * line, validation before any live file is touched, rollback copies, parameter hardening, locking,
 * no secret in the output, and the private temp dir removed on every exit path.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';
import { loadInstallDocument } from '../../ssm-documents/load';
import {
  DOCUMENT_PARAMETERS,
  EXIT,
  installScriptWith,
  installEnv,
  runInstall,
  type InstallParams,
  type InstallRun,
} from '../helpers/install-script';
import { waitFor } from '../helpers/wait';
import {
  createFixture,
  HOSTILE_VALUES,
  hooksDirOf,
  listTree,
  loggingOpenssl,
  nodeDirOf,
  REGION,
  SECRET_ID,
  secretFragments,
  type Fixture,
} from './fixture';

let f: Fixture;
const runs: InstallRun[] = [];

beforeAll(() => {
  f = createFixture('script');
});
afterAll(() => f.cleanup());

async function run(...args: Parameters<Fixture['run']>): Promise<InstallRun> {
  const r = await f.run(...args);
  runs.push(r);
  return r;
}

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of listTree(dir)) {
    const p = path.join(dir, rel);
    const st = statSync(p);
    out[rel] = st.isFile() ? `${st.ino}:${st.mode.toString(8)}:${readFileSync(p, 'utf8')}` : 'dir';
  }
  return out;
}

afterEach(() => {
  // The private work dir is gone after every run, successful or not.
  expect(readdirSync(f.tmpDir)).toEqual([]);
});

describe('fresh install', () => {
  test('writes leaf, chain, fullchain and key with the right modes and prints one JSON line', async () => {
    const cert = f.publish({ names: ['www.example.test', 'example.test'], keyAlgorithm: 'EC_prime256v1' });
    const params = f.params(cert.versionId, 'fresh');
    const r = await run(params, { AWS_SSM_INSTANCE_ID: 'mi-0123456789abcdef0' });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(1);
    const certDir = params.CertDir!;
    const keyDir = params.KeyDir!;
    expect(r.result).toEqual({
      node: 'mi-0123456789abcdef0',
      certName: 'site',
      serial: cert.serial,
      notAfter: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      names: ['www.example.test', 'example.test'],
      files: {
        cert: path.join(certDir, 'site.crt'),
        chain: path.join(certDir, 'site.chain.pem'),
        fullchain: path.join(certDir, 'site.fullchain.pem'),
        key: path.join(keyDir, 'site.key'),
      },
      service: 'none',
      requestedService: 'none',
      reloaded: false,
      verified: false,
      changed: true,
      secretVersionId: cert.versionId,
    });
    expect(new Date(r.result!.notAfter).getTime()).toBeGreaterThan(Date.now());
    expect(readFileSync(path.join(certDir, 'site.crt'), 'utf8')).toBe(cert.certificate);
    expect(readFileSync(path.join(certDir, 'site.chain.pem'), 'utf8')).toBe(cert.chain);
    expect(readFileSync(path.join(certDir, 'site.fullchain.pem'), 'utf8')).toBe(cert.certificate + cert.chain);
    const key = readFileSync(path.join(keyDir, 'site.key'), 'utf8');
    expect(key).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    // Same key as issued: compare the public halves.
    const pub = (pem: string) => execFileSync('openssl', ['pkey', '-pubout'], { input: pem, encoding: 'utf8' });
    expect(pub(key)).toBe(pub(cert.privateKey));
    expect(statSync(path.join(keyDir, 'site.key')).mode & 0o777).toBe(0o600);
    expect(statSync(keyDir).mode & 0o777).toBe(0o700);
    for (const name of ['site.crt', 'site.chain.pem', 'site.fullchain.pem'])
      expect(statSync(path.join(certDir, name)).mode & 0o777).toBe(0o644);
    if (process.getuid?.() === 0) expect(statSync(path.join(keyDir, 'site.key')).uid).toBe(0);
    // Nothing but the four files in the target dirs (the lock is in the state directory); no .prev on a fresh
    // install.
    expect(readdirSync(certDir).sort()).toEqual(['.acm-export', 'site.chain.pem', 'site.crt', 'site.fullchain.pem']);
    expect(readdirSync(keyDir).sort()).toEqual(['.acm-export', 'site.key']);
    expect(readdirSync(path.join(nodeDirOf(f.root, params), 'state', 'locks'))).toEqual(['site.lock']);
    // The exact aws invocation.
    expect(f.aws.calls()).toContainEqual([
      'secretsmanager',
      'get-secret-value',
      '--region',
      REGION,
      '--secret-id',
      SECRET_ID,
      '--version-id',
      cert.versionId,
      '--query',
      'SecretString',
      '--output',
      'text',
    ]);
  });

  test.each(['RSA_2048', 'EC_prime256v1', 'EC_secp384r1'] as const)('installs a %s key', async (keyAlgorithm) => {
    const cert = f.publish({ names: [`${keyAlgorithm.toLowerCase().replace(/_/g, '-')}.example.test`], keyAlgorithm });
    const params = f.params(cert.versionId, `alg-${keyAlgorithm}`);
    const r = await run(params);
    expect(r.code).toBe(0);
    expect(r.result?.serial).toBe(cert.serial);
    const text = execFileSync('openssl', ['pkey', '-in', path.join(params.KeyDir!, 'site.key'), '-noout', '-text'], {
      encoding: 'utf8',
    });
    expect(text).toContain(
      keyAlgorithm === 'RSA_2048' ? '2048 bit' : keyAlgorithm === 'EC_prime256v1' ? 'P-256' : 'P-384',
    );
  });

  test('KeyGroup makes the key 0640 to that group', async () => {
    const group = readFileSync('/etc/group', 'utf8')
      .split('\n')
      .map((l) => l.split(':'))
      .find((g) => g[0] !== 'root' && /^[a-z_][a-z0-9_-]*$/.test(g[0]));
    if (!group || process.getuid?.() !== 0) return; // needs root to chgrp to an arbitrary group
    const cert = f.publish({ names: ['group.example.test'] });
    const params = f.params(cert.versionId, 'group', { KeyGroup: group[0] });
    const r = await run(params);
    expect(r.code).toBe(0);
    const st = statSync(path.join(params.KeyDir!, 'site.key'));
    expect(st.mode & 0o777).toBe(0o640);
    expect(st.gid).toBe(Number(group[2]));
    expect(st.uid).toBe(0);
    // A key dir the script creates lets the group through (and nothing more).
    const dir = statSync(params.KeyDir!);
    expect([dir.mode & 0o777, dir.gid]).toEqual([0o710, Number(group[2])]);
  });
});

describe('replacement', () => {
  test('replaces the set, keeps the previous one as .prev, and runs hooks in order with the new paths', async () => {
    const first = f.publish({ names: ['replace.example.test'] });
    const params = f.params(first.versionId, 'replace');
    expect((await run(params)).code).toBe(0);
    const hooks = hooksDirOf(params);
    mkdirSync(hooks, { recursive: true, mode: 0o755 });
    const log = path.join(f.root, 'replace-hooks.log');
    const hook = (name: string, body: string, mode = 0o755) => {
      writeFileSync(path.join(hooks, name), `#!/bin/sh\n${body}\n`);
      chmodSync(path.join(hooks, name), mode);
    };
    hook('20-second', `echo "20 $ACM_EXPORT_CERT_NAME $ACM_EXPORT_SERIAL" >>${log}`);
    hook(
      '10-first',
      `echo "10 $ACM_EXPORT_CERT $ACM_EXPORT_CHAIN $ACM_EXPORT_FULLCHAIN $ACM_EXPORT_KEY" >>${log}; test -s "$ACM_EXPORT_KEY"`,
    );
    hook('30-not-executable', `echo "30" >>${log}`, 0o644);
    hook('40-group-writable', `echo "40" >>${log}`, 0o775);
    const second = f.publish({ names: ['replace.example.test'], keyAlgorithm: 'RSA_2048' });
    const r = await run({ ...params, SecretVersionId: second.versionId });
    expect(r.code).toBe(0);
    expect(r.result?.serial).toBe(second.serial);
    const d = params.CertDir!;
    expect(readFileSync(path.join(d, 'site.crt'), 'utf8')).toBe(second.certificate);
    expect(readFileSync(path.join(d, 'site.crt.prev'), 'utf8')).toBe(first.certificate);
    expect(readFileSync(path.join(d, 'site.fullchain.pem.prev'), 'utf8')).toBe(first.certificate + first.chain);
    expect(statSync(path.join(params.KeyDir!, 'site.key.prev')).mode & 0o777).toBe(0o600);
    expect(readdirSync(d).filter((n) => n.startsWith('.'))).toEqual(['.acm-export']);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    const expected40 = process.getuid?.() === 0 ? [] : ['40'];
    expect(lines).toEqual([
      `10 ${path.join(d, 'site.crt')} ${path.join(d, 'site.chain.pem')} ${path.join(d, 'site.fullchain.pem')} ${path.join(params.KeyDir!, 'site.key')}`,
      `20 site ${second.serial}`,
      ...expected40,
    ]);
    expect(r.stderr).toContain('hook 30-not-executable skipped');
  });

  test('a failing hook rolls the files back and names the step', async () => {
    const first = f.publish({ names: ['hookfail.example.test'] });
    const params = f.params(first.versionId, 'hookfail');
    expect((await run(params)).code).toBe(0);
    const before = snapshot(path.join(f.root, 'hookfail'));
    mkdirSync(hooksDirOf(params), { recursive: true, mode: 0o755 });
    writeFileSync(path.join(hooksDirOf(params), '50-fail'), '#!/bin/sh\nexit 3\n', { mode: 0o755 });
    const second = f.publish({ names: ['hookfail.example.test'] });
    const r = await run({ ...params, SecretVersionId: second.versionId });
    expect(r.code).toBe(EXIT.hooks);
    expect(r.failure).toBe(
      'acm-export: FAILED at hooks: hook 50-fail exited with status 3; rolled back to the previous files',
    );
    const after = snapshot(path.join(f.root, 'hookfail'));
    delete after['hooks.d'];
    delete after['hooks.d/50-fail'];
    expect(after).toEqual(before);
  });
});

// Runs killed at every step: test/ssm-documents/atomic-switch.test.ts.

describe('signals', () => {
  test('SIGTERM during the hooks: files rolled back, temp dir removed, the step named', async () => {
    const good = f.publish({ names: ['term.example.test'] });
    const params = f.params(good.versionId, 'term');
    expect((await run(params)).code).toBe(0);
    const before = snapshot(path.join(f.root, 'term'));
    mkdirSync(hooksDirOf(params), { recursive: true, mode: 0o755 });
    const started = path.join(f.root, 'term-hook-started');
    writeFileSync(path.join(hooksDirOf(params), '10-slow'), `#!/bin/sh\ntouch ${started}\nsleep 1\n`, { mode: 0o755 });
    const next = f.publish({ names: ['term.example.test'] });
    const child = spawn('bash', [installScriptWith()], {
      env: installEnv({
        params: { ...params, SecretVersionId: next.versionId },
        path: [f.aws.binDir],
        tmpDir: f.tmpDir,
        env: { ACM_EXPORT_HOOKS_DIR: hooksDirOf(params), ACM_EXPORT_LOG_DIR: path.join(f.root, 'log') },
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    while (!existsSync(started)) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code).toBe(EXIT.hooks);
    expect(stderr.trimEnd().split('\n').pop()).toMatch(
      /^acm-export: FAILED at hooks: unexpected error \(status 143 .*\); rolled back to the previous files$/,
    );
    const after = snapshot(path.join(f.root, 'term'));
    for (const k of Object.keys(after)) if (k.startsWith('hooks.d')) delete after[k];
    expect(after).toEqual(before);
  });
});

describe('apache2 / httpd', () => {
  test('configtest then graceful through apachectl when systemd does not run the service', async () => {
    const bin = path.join(f.root, 'apache-bin');
    mkdirSync(bin, { recursive: true });
    const log = path.join(f.root, 'apachectl.log');
    writeFileSync(
      path.join(bin, 'apachectl'),
      `#!/bin/sh\necho "$*" >>${log}\n[ "$1" != configtest ] || [ ! -e ${log}.fail ] || { echo "AH00526: Syntax error on line 3" >&2; exit 1; }\n`,
      { mode: 0o755 },
    );
    const cert = f.publish({ names: ['apache.example.test'] });
    const params = f.params(cert.versionId, 'apache', { Service: 'apache2' });
    const ok = await runInstall({ params, path: [bin, f.aws.binDir], tmpDir: f.tmpDir });
    runs.push(ok);
    expect(ok.code).toBe(0);
    expect(ok.result).toMatchObject({ service: 'apache2', reloaded: true });
    const systemd = existsSync('/run/systemd/system');
    if (!systemd) expect(readFileSync(log, 'utf8')).toBe('configtest\ngraceful\n');
    // A failing configtest rolls back without a reload.
    writeFileSync(`${log}.fail`, '');
    writeFileSync(log, '');
    const before = snapshot(path.join(f.root, 'apache'));
    const next = f.publish({ names: ['apache.example.test'] });
    const bad = await runInstall({
      params: { ...params, Service: 'httpd', SecretVersionId: next.versionId },
      path: [bin, f.aws.binDir],
      tmpDir: f.tmpDir,
    });
    runs.push(bad);
    expect(bad.code).toBe(EXIT.configtest);
    expect(bad.failure).toBe(
      'acm-export: FAILED at configtest: httpd configuration test failed: AH00526: Syntax error on line 3; rolled back to the previous files',
    );
    expect(snapshot(path.join(f.root, 'apache'))).toEqual(before);
    if (!systemd) expect(readFileSync(log, 'utf8')).toBe('configtest\n');
  });
});

describe('Service=auto: the web server the node runs', () => {
  /**
   * A node's view of its processes through PATH shims: `pgrep -x NAME` succeeds for the names listed in
   * running.txt (this machine may run real nginx for other tests), and fake nginx / apache2 / apachectl
   * binaries that log how they were called.
   */
  function fakeNode(slot: string, running: string[], binaries = ['nginx', 'apache2', 'apachectl']) {
    const bin = path.join(f.root, `${slot}-bin`);
    mkdirSync(bin, { recursive: true });
    const log = path.join(f.root, `${slot}-calls.log`);
    writeFileSync(path.join(f.root, `${slot}-running.txt`), running.map((r) => `${r}\n`).join(''));
    writeFileSync(
      path.join(bin, 'pgrep'),
      `#!/bin/sh\n[ "$1" = -x ] && grep -qx -- "$2" '${path.join(f.root, `${slot}-running.txt`)}'\n`,
      { mode: 0o755 },
    );
    for (const name of binaries)
      writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name} $*" >>'${log}'\n`, { mode: 0o755 });
    const calls = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []);
    const install = async (params: InstallParams) => {
      const r = await runInstall({
        params,
        path: [bin, f.aws.binDir],
        tmpDir: f.tmpDir,
        env: {
          ACM_EXPORT_INVENTORY_DIR: path.join(nodeDirOf(f.root, params), 'inventory'),
          ACM_EXPORT_STATE_DIR: path.join(nodeDirOf(f.root, params), 'state'),
        },
      });
      runs.push(r);
      return r;
    };
    return { install, calls };
  }

  test('the document and the script default to auto', async () => {
    expect(loadInstallDocument().parameters.Service.default).toBe('auto');
    const node = fakeNode('auto-default', ['nginx']);
    const cert = f.publish({ names: ['auto-default.example.test'] });
    const params = f.params(cert.versionId, 'auto-default');
    delete params.Service;
    const r = await node.install(params);
    expect(r.code).toBe(0);
    expect(r.result).toMatchObject({ service: 'nginx', requestedService: 'auto', reloaded: true });
  });

  test('one running server (nginx): its configuration is tested and it is reloaded, and the result says so', async () => {
    const node = fakeNode('auto-nginx', ['nginx']);
    const cert = f.publish({ names: ['auto-nginx.example.test'] });
    const r = await node.install(f.params(cert.versionId, 'auto-nginx', { Service: 'auto' }));
    expect(r.code).toBe(0);
    expect(r.result).toMatchObject({ service: 'nginx', requestedService: 'auto', reloaded: true, changed: true });
    expect(node.calls()).toEqual(['nginx -t', 'nginx -s reload']);
    expect(r.stderr).toContain('acm-export: Service=auto: nginx is running');
  });

  test('one running server (apache2): apachectl tests and reloads it', async () => {
    const node = fakeNode('auto-apache', ['apache2']);
    const cert = f.publish({ names: ['auto-apache.example.test'] });
    const r = await node.install(f.params(cert.versionId, 'auto-apache', { Service: 'auto' }));
    expect(r.code).toBe(0);
    expect(r.result).toMatchObject({ service: 'apache2', requestedService: 'auto', reloaded: true });
    if (!existsSync('/run/systemd/system'))
      expect(node.calls()).toEqual(['apachectl configtest', 'apachectl graceful']);
  });

  test('a server binary that is not running does not count: none running installs the files and reloads nothing', async () => {
    const node = fakeNode('auto-none', []);
    const cert = f.publish({ names: ['auto-none.example.test'] });
    const params = f.params(cert.versionId, 'auto-none', { Service: 'auto' });
    const r = await node.install(params);
    expect(r.code).toBe(0);
    expect(r.result).toMatchObject({ service: 'none', requestedService: 'auto', reloaded: false, changed: true });
    expect(r.stderr).toContain('acm-export: Service=auto: no running web server found; files installed, no reload');
    expect(readFileSync(path.join(params.CertDir!, 'site.crt'), 'utf8')).toBe(cert.certificate);
    expect(node.calls()).toEqual([]);
  });

  test('a running process without the binary on PATH does not count', async () => {
    const node = fakeNode('auto-nobin', ['httpd'], ['apachectl']);
    const cert = f.publish({ names: ['auto-nobin.example.test'] });
    const r = await node.install(f.params(cert.versionId, 'auto-nobin', { Service: 'auto' }));
    expect(r.code).toBe(0);
    expect(r.result).toMatchObject({ service: 'none', reloaded: false });
  });

  test('two running servers: the run fails at preflight before changing anything, asking for an explicit Service', async () => {
    const node = fakeNode('auto-two', ['nginx', 'apache2']);
    const cert = f.publish({ names: ['auto-two.example.test'] });
    const r = await node.install(f.params(cert.versionId, 'auto-two', { Service: 'auto' }));
    expect(r.code).toBe(EXIT.preflight);
    expect(r.stderr).toContain(
      'acm-export: preflight: Service=auto found more than one running web server (nginx apache2); set Service to the one to reload',
    );
    expect(r.failure).toBe('acm-export: FAILED at preflight: 1 problem(s); nothing was changed');
    expect(existsSync(path.join(f.root, 'auto-two'))).toBe(false);
    expect(node.calls()).toEqual([]);
  });

  test('Service=none never reloads, even with a server running', async () => {
    const node = fakeNode('explicit-none', ['nginx']);
    const cert = f.publish({ names: ['explicit-none.example.test'] });
    const r = await node.install(f.params(cert.versionId, 'explicit-none', { Service: 'none' }));
    expect(r.code).toBe(0);
    expect(r.result).toMatchObject({ service: 'none', requestedService: 'none', reloaded: false });
    expect(node.calls()).toEqual([]);
  });
});

describe('validation happens before any live file is touched', () => {
  let params: ReturnType<Fixture['params']>;
  let before: Record<string, string>;
  beforeAll(async () => {
    const good = f.publish({ names: ['valid.example.test'] });
    params = f.params(good.versionId, 'validate');
    expect((await run(params)).code).toBe(0);
    before = snapshot(path.join(f.root, 'validate'));
  });
  afterEach(() => expect(snapshot(path.join(f.root, 'validate'))).toEqual(before));

  test('wrong passphrase', async () => {
    const bad = f.publish({ names: ['valid.example.test'] }, (b) => ({ ...b, passphrase: 'not-the-passphrase' }));
    const r = await run({ ...params, SecretVersionId: bad.versionId });
    expect(r.code).toBe(EXIT.decrypt);
    expect(r.failure).toMatch(/^acm-export: FAILED at decrypt: could not decrypt the private key/);
  });

  test('key does not match the certificate', async () => {
    const other = f.publish({ names: ['other.example.test'] });
    const bad = f.publish({ names: ['valid.example.test'] }, (b) => ({
      ...b,
      encryptedPrivateKey: other.encryptedPrivateKey,
      passphrase: other.passphrase,
    }));
    const r = await run({ ...params, SecretVersionId: bad.versionId });
    expect(r.code).toBe(EXIT.validate);
    expect(r.failure).toBe('acm-export: FAILED at validate: the private key does not match the certificate');
  });

  test('expired certificate', async () => {
    const bad = f.publish({ names: ['valid.example.test'], expired: true });
    const r = await run({ ...params, SecretVersionId: bad.versionId });
    expect(r.code).toBe(EXIT.validate);
    expect(r.failure).toMatch(
      /^acm-export: FAILED at validate: the certificate has expired \(Feb {2}1 00:00:00 2020 GMT\)$/,
    );
  });

  test('with two faults, the one checked first is reported: the checks run beside the decrypt, their verdicts in order', async () => {
    const bad = f.publish({ names: ['valid.example.test'], expired: true }, (b) => ({
      ...b,
      chain: f.ca.rootCertificate + f.ca.intermediateCertificate,
    }));
    const r = await run({ ...params, SecretVersionId: bad.versionId });
    expect(r.code).toBe(EXIT.validate);
    expect(r.failure).toMatch(/^acm-export: FAILED at validate: the certificate has expired /);
  });

  test('chain out of order', async () => {
    const bad = f.publish({ names: ['valid.example.test'] }, (b) => ({
      ...b,
      chain: f.ca.rootCertificate + f.ca.intermediateCertificate,
    }));
    const r = await run({ ...params, SecretVersionId: bad.versionId });
    expect(r.code).toBe(EXIT.validate);
    expect(r.failure).toMatch(/^acm-export: FAILED at validate: the chain is not in order/);
  });

  test('an unencrypted key under the ENCRYPTED PRIVATE KEY label is refused: the block must need the passphrase', async () => {
    const issued = f.publish({ names: ['valid.example.test'] });
    const bad = f.publish({ names: ['valid.example.test'] }, (b) => ({
      ...b,
      certificate: issued.certificate,
      chain: issued.chain,
      encryptedPrivateKey: issued.privateKey.replace(
        /-----(BEGIN|END) PRIVATE KEY-----/g,
        '-----$1 ENCRYPTED PRIVATE KEY-----',
      ),
    }));
    expect(issued.privateKey).toContain('-----BEGIN PRIVATE KEY-----');
    const r = await run({ ...params, SecretVersionId: bad.versionId });
    expect(r.code).toBe(EXIT.decrypt);
    expect(r.failure).toMatch(/^acm-export: FAILED at decrypt: could not decrypt the private key/);
  });

  test('300 copies of the intermediate: refused before any of them is verified', async () => {
    const bad = f.publish({ names: ['valid.example.test'] }, (b) => ({
      ...b,
      chain: f.ca.intermediateCertificate.repeat(300) + f.ca.rootCertificate,
    }));
    // The chain checks start beside the decrypt: none may start for a chain that is refused.
    const { bin, subcommands } = loggingOpenssl(f.root, 'openssl-long-chain');
    const r = await run(
      { ...params, SecretVersionId: bad.versionId },
      { PATH: [bin, f.aws.binDir, process.env.PATH].join(':') },
    );
    expect(r.code).toBe(EXIT.validate);
    expect(r.failure).toBe('acm-export: FAILED at validate: the chain holds 301 certificates; at most 10 are accepted');
    expect(subcommands()).toContain('pkcs8');
    expect(subcommands()).not.toContain('verify');
  });

  test('a certificate given twice in the chain is refused', async () => {
    const bad = f.publish({ names: ['valid.example.test'] }, (b) => ({
      ...b,
      chain: f.ca.intermediateCertificate + f.ca.intermediateCertificate + f.ca.rootCertificate,
    }));
    const r = await run({ ...params, SecretVersionId: bad.versionId });
    expect(r.code).toBe(EXIT.validate);
    expect(r.failure).toBe('acm-export: FAILED at validate: certificate 3 of the secret repeats certificate 2');
  });

  test('chain from another CA', async () => {
    const bad = f.publish({ names: ['valid.example.test'] }, (b) => ({
      ...b,
      chain: b.chain.replace(f.ca.intermediateCertificate, f.ca.rootCertificate),
    }));
    const r = await run({ ...params, SecretVersionId: bad.versionId });
    expect(r.code).toBe(EXIT.validate);
  });

  test('a secret that is not in the acm-export format', async () => {
    const versionId = f.publishRaw('{"certificate":"not pem"}');
    const r = await run({ ...params, SecretVersionId: versionId });
    expect(r.code).toBe(EXIT.decrypt);
    expect(r.failure).toMatch(/^acm-export: FAILED at decrypt: the secret is not in the acm-export format/);
  });

  test('an unknown secret version fails preflight with the CLI error', async () => {
    const r = await run({ ...params, SecretVersionId: '00000000-0000-4000-8000-000000000000' });
    expect(r.code).toBe(EXIT.preflight);
    expect(r.stderr).toContain(
      'acm-export: preflight: cannot read the secret version: An error occurred (ResourceNotFoundException)',
    );
    expect(r.failure).toBe('acm-export: FAILED at preflight: 1 problem(s); nothing was changed');
  });
});

describe('preflight', () => {
  test('missing SSM_ variables mean an SSM Agent without ENV_VAR interpolation', async () => {
    const r = await runInstall({ params: {}, path: [f.aws.binDir], tmpDir: f.tmpDir });
    runs.push(r);
    expect(r.code).toBe(EXIT.parameters);
    expect(r.failure).toContain('SSM_CertName SSM_SecretId SSM_SecretVersionId SSM_Region not set');
    expect(r.failure).toContain('SSM Agent >= 3.3.2746.0');
    expect(f.aws.calls().length).toBeGreaterThan(0); // earlier tests called it; this one must not add calls
  });

  test('no AWS CLI v2, a missing service binary and an unknown group: one line per problem', async () => {
    const bin = path.join(f.root, 'aws-v1-bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(path.join(bin, 'aws'), '#!/bin/sh\necho "aws-cli/1.18.0 Python/2.7"\n', { mode: 0o755 });
    const cert = f.publish({ names: ['pre.example.test'] });
    const params = f.params(cert.versionId, 'pre', { Service: 'httpd', KeyGroup: 'no-such-group-xyz' });
    // The node holds the node library already (an install of another name fetched it): the run goes on to
    // its checks.
    const state = path.join(nodeDirOf(f.root, params), 'state');
    const seed = await run(f.params(cert.versionId, 'pre-seed', { CertName: 'seed' }), { ACM_EXPORT_STATE_DIR: state });
    expect(seed.code).toBe(0);
    const r = await runInstall({
      params,
      path: [bin],
      tmpDir: f.tmpDir,
      env: { PATH: `${bin}:/usr/bin:/bin` },
      emptyDirs: ['/usr/sbin', '/usr/local/sbin'],
    });
    runs.push(r);
    expect(r.code).toBe(EXIT.preflight);
    const problems = r.stderr.split('\n').filter((l) => l.startsWith('acm-export: preflight: '));
    // The CLI version is asked last: only a run that fails anyway (or whose aws call failed) asks it.
    expect(problems).toEqual([
      'acm-export: preflight: Service=httpd but apachectl is not on PATH',
      'acm-export: preflight: KeyGroup no-such-group-xyz does not exist on this node',
      'acm-export: preflight: AWS CLI v2 is required (aws --version does not report aws-cli/2)',
    ]);
    expect(r.failure).toBe('acm-export: FAILED at preflight: 3 problem(s); nothing was changed');
    expect(existsSync(path.join(f.root, 'pre'))).toBe(false);
  });

  test('the OpenSSL version is asked only when an openssl call failed; a too old one is the preflight problem', async () => {
    // An openssl that logs its subcommand; with OLD_OPENSSL=1 it is a 1.0.2 that knows none of the options used
    // (dgst passes, so that the node library still loads).
    const { bin, subcommands } = loggingOpenssl(
      f.root,
      'openssl-old',
      `if [ "$OLD_OPENSSL" = 1 ] && [ "$1" = version ]; then echo 'OpenSSL 1.0.2k-fips  26 Jan 2017'; exit 0; fi\n` +
        `if [ "$OLD_OPENSSL" = 1 ] && [ "$1" != dgst ]; then exit 1; fi\n`,
    );
    const install = (old: boolean) => {
      const cert = f.publish({ names: ['old-openssl.example.test'] });
      return runInstall({
        params: f.params(cert.versionId, 'old-openssl'),
        path: [bin, f.aws.binDir],
        tmpDir: f.tmpDir,
        env: { OLD_OPENSSL: old ? '1' : '0' },
      });
    };
    const ok = await install(false);
    runs.push(ok);
    expect(ok.code).toBe(0);
    expect(subcommands()).not.toContain('version');
    const r = await install(true);
    runs.push(r);
    expect(r.code).toBe(EXIT.preflight);
    expect(r.stderr).toContain(
      'acm-export: preflight: OpenSSL 1.1.1 or later is required (found: OpenSSL 1.0.2k-fips  26 Jan 2017',
    );
    expect(r.failure).toBe('acm-export: FAILED at preflight: 1 problem(s); nothing was changed');
    expect(JSON.parse(r.stdout)).toMatchObject({ failedStep: 'preflight', exitCode: EXIT.preflight });
  });

  test('a target path blocked by a file', async () => {
    const cert = f.publish({ names: ['blocked.example.test'] });
    writeFileSync(path.join(f.root, 'blocked-file'), '');
    const r = await run(f.params(cert.versionId, 'blocked', { CertDir: path.join(f.root, 'blocked-file', 'certs') }));
    expect(r.code).toBe(EXIT.preflight);
    expect(r.stderr).toContain(
      `acm-export: preflight: CertDir ${path.join(f.root, 'blocked-file', 'certs')} is not a directory`,
    );
  });
});

describe('directory trust: no directory on the way to the files may be changed by anyone but root', () => {
  const asRoot = process.getuid?.() === 0;
  /** Runs as root only; elsewhere the test is reported as skipped, with the reason in its name. */
  const rootTest = asRoot ? test : test.skip;
  const NOBODY = 65534;
  /**
   * <root>/<name>/certs, a relative link up to / and back down to <root>/<name>-target (both directories root's,
   * 0755): a walk of it passes every directory above the fixture, the sticky one included.
   */
  const linkUpAndDown = (name: string) => {
    const dir = path.join(f.root, name);
    const target = path.join(f.root, `${name}-target`);
    mkdirSync(dir, { mode: 0o755 });
    mkdirSync(target, { mode: 0o755 });
    const link = path.join(dir, 'certs');
    symlinkSync(`${'../'.repeat(dir.split('/').length - 1)}${path.relative('/', target)}`, link);
    return { dir, target, link };
  };
  const refused = (r: InstallRun, needle: string) => {
    expect(r.code).toBe(EXIT.preflight);
    expect(r.failure).toMatch(/^acm-export: FAILED at preflight: \d+ problem\(s\); nothing was changed$/);
    expect(r.stderr).toContain(needle);
    // The same problem in the stdout failure line (what status-check reads when stderr is cut).
    expect(JSON.parse(r.stdout)).toMatchObject({ failedStep: 'preflight', exitCode: EXIT.preflight });
    expect((JSON.parse(r.stdout) as { reason: string }).reason).toContain(
      needle.replace(/^acm-export: preflight: /, ''),
    );
  };

  rootTest(
    'as root: a CertDir inside a directory owned by nobody is refused before anything is written (skipped when not root)',
    async () => {
      const cert = f.publish({ names: ['trust.example.test'] });
      const parent = path.join(f.root, 'trust-nobody');
      mkdirSync(parent, { mode: 0o755 });
      chownSync(parent, NOBODY, NOBODY);
      const params = f.params(cert.versionId, 'trust-nobody-slot', { CertDir: path.join(parent, 'certs') });
      const calls = f.aws.calls().length;
      const r = await run(params);
      refused(
        r,
        `acm-export: preflight: CertDir ${path.join(parent, 'certs')} is not safe to write as uid 0: ${parent} is owned by uid ${NOBODY}, not by root`,
      );
      expect(readdirSync(parent)).toEqual([]);
      expect(existsSync(params.KeyDir!)).toBe(false);
      expect(
        f.aws
          .calls()
          .slice(calls)
          .filter((c) => c[1] === 'get-secret-value'),
      ).toEqual([]); // refused before the secret is read
    },
  );

  rootTest(
    'as root: targets below a sticky world-writable directory such as /tmp are refused unless explicitly allowed (skipped when not root)',
    async () => {
      const cert = f.publish({ names: ['trust.example.test'] });
      const params = f.params(cert.versionId, 'trust-sticky');
      const r = await run(params, { ACM_EXPORT_ALLOW_STICKY_ANCESTOR: '0' });
      // The nearest sticky directory above the fixture (the system's /tmp, wherever TMPDIR points below it).
      let sticky = path.dirname(f.root);
      while ((statSync(sticky).mode & 0o1000) === 0 && sticky !== '/') sticky = path.dirname(sticky);
      refused(r, `is writable by group or others (mode ${(statSync(sticky).mode & 0o7777).toString(8)})`);
      expect(r.stderr).toContain(
        `KeyDir ${params.KeyDir} is not safe to write as uid 0: ${sticky} is writable by group or others`,
      );
      expect(existsSync(path.join(f.root, 'trust-sticky'))).toBe(false);
    },
  );

  rootTest('as root: a symbolic link on the way owned by someone else is refused (skipped when not root)', async () => {
    const cert = f.publish({ names: ['trust.example.test'] });
    const real = path.join(f.root, 'trust-link-real');
    mkdirSync(real, { mode: 0o755 });
    const link = path.join(f.root, 'trust-link');
    symlinkSync(real, link);
    lchownSync(link, NOBODY, NOBODY);
    const r = await run(f.params(cert.versionId, 'trust-link-slot', { CertDir: path.join(link, 'certs') }));
    refused(r, `symbolic link ${link} is owned by uid ${NOBODY}, not by root`);
    expect(readdirSync(real)).toEqual([]);
  });

  test('a CertDir inside a group- or world-writable (0777, not sticky) directory is refused', async () => {
    const cert = f.publish({ names: ['trust.example.test'] });
    const parent = path.join(f.root, 'trust-0777');
    mkdirSync(parent);
    chmodSync(parent, 0o777);
    const r = await run(f.params(cert.versionId, 'trust-0777-slot', { CertDir: path.join(parent, 'certs') }));
    refused(r, `${parent} is writable by group or others (mode 777)`);
    expect(readdirSync(parent)).toEqual([]);
  });

  test('a link whose text holds newlines cannot pass an untrusted directory off as trusted (the scan reads it NUL-separated)', async () => {
    const cert = f.publish({ names: ['trust.example.test'] });
    const params = f.params(cert.versionId, 'trust-forge-slot');
    expect((await run(params)).code).toBe(0);
    const certDir = params.CertDir!;
    // CertDir writable by its group: a real trust problem. Whoever can write there plants a .prev name (one the
    // report's scan reads) whose link text, were the scan read a line per field, would end the link's own line
    // and add a line pair claiming CertDir is a root-owned 0755 directory.
    chmodSync(certDir, 0o775);
    symlinkSync(`x\n${certDir}\nT d 0 0 755 2 1 1.0 4096 1.0`, path.join(certDir, 'site.chain.pem.prev'));
    const { SecretVersionId: _unused, ...reportParams } = params;
    void _unused;
    const r = await run(reportParams, {}, 'report');
    refused(r, `CertDir ${certDir} is not safe to write as uid`);
    expect(r.stderr).toContain(`${certDir} is writable by group or others (mode 775)`);
  });

  rootTest(
    'as root: a report refuses a state directory owned by someone else at once, though that user holds the lock in it (skipped when not root)',
    async () => {
      const state = path.join(f.root, 'trust-lockholder-state');
      const lockFile = path.join(state, 'locks', 'site.lock');
      mkdirSync(path.dirname(lockFile), { recursive: true, mode: 0o755 });
      writeFileSync(lockFile, '');
      for (const p of [state, path.dirname(lockFile), lockFile]) chownSync(p, NOBODY, NOBODY);
      // The other user holds the lock file's lock: a run that locked before judging the directory would wait.
      const holder = spawn('flock', [lockFile, 'sleep', '60'], { stdio: 'ignore' });
      try {
        await waitFor(
          () => spawnSync('flock', ['-n', lockFile, 'true']).status === 1,
          5000,
          'the other user to hold the lock',
        );
        const { SecretVersionId: _unused, ...params } = f.params('unused', 'trust-lockholder-slot');
        void _unused;
        const r = await run(params, { ACM_EXPORT_STATE_DIR: state, ACM_EXPORT_LOCK_SECONDS: '5' }, 'report');
        refused(
          r,
          `state directory ${state} is not safe to write as uid 0: ${state} is owned by uid ${NOBODY}, not by root`,
        );
        expect(r.stderr).not.toContain('held the lock');
      } finally {
        holder.kill('SIGKILL');
      }
    },
  );

  rootTest(
    'as root: a link on the way whose text holds a newline is judged like any other link (skipped when not root)',
    async () => {
      const cert = f.publish({ names: ['trust.example.test'] });
      const base = path.join(f.root, 'trust-nl');
      // The link's target exists: a directory named "a<newline>b" holding c.
      mkdirSync(path.join(base, 'a\nb', 'c'), { recursive: true, mode: 0o755 });
      const link = path.join(base, 'cd');
      symlinkSync('a\nb/c', link);
      lchownSync(link, NOBODY, NOBODY);
      const r = await run(f.params(cert.versionId, 'trust-nl-slot', { CertDir: link, KeyDir: link }));
      refused(r, `symbolic link ${link} is owned by uid ${NOBODY}, not by root`);
      expect(r.stderr).not.toContain('unexpected error');
    },
  );

  rootTest(
    'as root: a directory of the state directory owned by someone else is refused before anything is written (skipped when not root)',
    async () => {
      const cert = f.publish({ names: ['trust.example.test'] });
      const state = path.join(f.root, 'trust-state-subdir');
      mkdirSync(path.join(state, 'owned'), { recursive: true, mode: 0o755 });
      chownSync(path.join(state, 'owned'), NOBODY, NOBODY);
      const params = f.params(cert.versionId, 'trust-state-subdir-slot');
      const r = await run(params, { ACM_EXPORT_STATE_DIR: state });
      refused(
        r,
        `state directory ${path.join(state, 'owned')} is not safe to write as uid 0: ${path.join(state, 'owned')} is owned by uid ${NOBODY}, not by root`,
      );
      expect(readdirSync(path.join(state, 'owned'))).toEqual([]);
      expect(existsSync(params.CertDir!)).toBe(false);
    },
  );

  rootTest(
    'as root: a relative link of another user is refused though the walk then reaches a sticky directory it may pass (skipped when not root)',
    async () => {
      const cert = f.publish({ names: ['trust.example.test'] });
      // The walk passes the sticky directory the fixture lies in (ACM_EXPORT_ALLOW_STICKY_ANCESTOR=1).
      let sticky = path.dirname(f.root);
      while ((statSync(sticky).mode & 0o1000) === 0 && sticky !== '/') sticky = path.dirname(sticky);
      expect(sticky).not.toBe('/');
      const { target, link } = linkUpAndDown('trust-rel-link');
      lchownSync(link, NOBODY, NOBODY);
      const r = await run(f.params(cert.versionId, 'trust-rel-slot', { CertDir: link }));
      refused(r, `symbolic link ${link} is owned by uid ${NOBODY}, not by root`);
      expect(readdirSync(target)).toEqual([]);
    },
  );

  rootTest(
    'as root: a cycle of links of another user is refused with each problem once (skipped when not root)',
    async () => {
      const cert = f.publish({ names: ['trust.example.test'] });
      const dir = path.join(f.root, 'trust-cycle');
      mkdirSync(dir, { mode: 0o755 });
      for (const [name, text] of [
        ['a', 'b'],
        ['b', 'a'],
      ]) {
        symlinkSync(text, path.join(dir, name));
        lchownSync(path.join(dir, name), NOBODY, NOBODY);
      }
      const certDir = path.join(dir, 'a', 'certs');
      const r = await run(f.params(cert.versionId, 'trust-cycle-slot', { CertDir: certDir }));
      refused(r, `symbolic link ${path.join(dir, 'a')} is owned by uid ${NOBODY}, not by root`);
      const lines = r.stderr
        .split('\n')
        .filter((line) => line.startsWith(`acm-export: preflight: CertDir ${certDir} `));
      expect(lines.length).toBeGreaterThan(0);
      expect(new Set(lines).size).toBe(lines.length);
      expect(lines.some((line) => line.endsWith('too many symbolic links below ' + dir))).toBe(true);
    },
  );

  rootTest(
    'as root: a sticky world-writable state directory is refused though all its own directories are trusted (skipped when not root)',
    async () => {
      const cert = f.publish({ names: ['trust.example.test'] });
      const state = path.join(f.root, 'trust-sticky-state');
      for (const d of ['lib', 'locks', 'owned', 'inventory', 'pending', 'removed'])
        mkdirSync(path.join(state, d), { recursive: true, mode: d === 'lib' ? 0o700 : 0o755 });
      chmodSync(state, 0o1777);
      const params = f.params(cert.versionId, 'trust-sticky-state-slot');
      const r = await run(params, { ACM_EXPORT_STATE_DIR: state });
      refused(r, `${state} is a world-writable directory; state directory must be a directory below it`);
      expect(existsSync(params.CertDir!)).toBe(false);
    },
  );

  rootTest(
    'as root: a sticky world-writable directory owned by someone else does not end the walk (skipped when not root)',
    async () => {
      const cert = f.publish({ names: ['trust.example.test'] });
      const sticky = path.join(f.root, 'trust-sticky-nobody');
      mkdirSync(path.join(sticky, 'mine'), { recursive: true, mode: 0o755 });
      chmodSync(sticky, 0o1777);
      chownSync(sticky, NOBODY, NOBODY);
      // Its owner may rename any entry in it, ours included.
      const certDir = path.join(sticky, 'mine', 'certs');
      const r = await run(f.params(cert.versionId, 'trust-sticky-nobody-slot', { CertDir: certDir }));
      refused(r, `CertDir ${certDir} is not safe to write as uid 0: ${sticky} is owned by uid ${NOBODY}, not by root`);
      expect(readdirSync(path.join(sticky, 'mine'))).toEqual([]);
    },
  );

  rootTest(
    'as root: what lies above a relative link stays a problem when the walk then reaches a sticky directory (skipped when not root)',
    async () => {
      const cert = f.publish({ names: ['trust.example.test'] });
      // A root-owned link, in a directory whose owner can replace it.
      const { dir, target, link } = linkUpAndDown('trust-rel-nobody');
      chownSync(dir, NOBODY, NOBODY);
      // The hooks directory elsewhere: its default lies beside CertDir, which would be refused on its own.
      const r = await run(f.params(cert.versionId, 'trust-rel-nobody-slot', { CertDir: link }), {
        ACM_EXPORT_HOOKS_DIR: path.join(f.root, 'trust-rel-nobody-hooks.d'),
      });
      refused(r, `CertDir ${link} is not safe to write as uid 0: ${dir} is owned by uid ${NOBODY}, not by root`);
      expect(readdirSync(target)).toEqual([]);
    },
  );

  test('a directory of the state directory that is a symbolic link is refused at preflight, before any change', async () => {
    const cert = f.publish({ names: ['trust.example.test'] });
    const state = path.join(f.root, 'trust-state-pending-link');
    const elsewhere = path.join(f.root, 'trust-state-pending-target');
    mkdirSync(state, { mode: 0o755 });
    mkdirSync(elsewhere, { mode: 0o755 });
    symlinkSync(elsewhere, path.join(state, 'pending'));
    const params = f.params(cert.versionId, 'trust-state-pending-slot');
    const r = await run(params, { ACM_EXPORT_STATE_DIR: state });
    refused(r, `state directory ${path.join(state, 'pending')} is a symbolic link; refusing to use it`);
    expect(existsSync(params.CertDir!)).toBe(false);
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  test('a state directory inside a group- or world-writable directory is refused, as CertDir would be', async () => {
    const cert = f.publish({ names: ['trust.example.test'] });
    const parent = path.join(f.root, 'trust-state-0777');
    mkdirSync(parent);
    chmodSync(parent, 0o777);
    const params = f.params(cert.versionId, 'trust-state-slot');
    const r = await run(params, { ACM_EXPORT_STATE_DIR: path.join(parent, 'state') });
    refused(r, `state directory ${path.join(parent, 'state')} is not safe to write as uid`);
    expect(r.stderr).toContain(`${parent} is writable by group or others (mode 777)`);
    expect(readdirSync(parent)).toEqual([]);
    expect(existsSync(params.CertDir!)).toBe(false);
  });

  test('directories and lock files of the state directory that are symbolic links are never written through', async () => {
    const cert = f.publish({ names: ['trust.example.test'] });
    const state = path.join(f.root, 'trust-state-links');
    const victim = path.join(f.root, 'trust-state-victim');
    mkdirSync(path.join(state, 'inventory'), { recursive: true });
    mkdirSync(victim);
    writeFileSync(path.join(victim, 'site'), 'not the record\n');
    symlinkSync(victim, path.join(state, 'owned'));
    const params = f.params(cert.versionId, 'trust-state-links-slot');
    // A linked directory: refused at preflight.
    const refusedRun = await run(params, { ACM_EXPORT_STATE_DIR: state });
    refused(refusedRun, `state directory ${path.join(state, 'owned')} is a symbolic link; refusing to use it`);
    expect(readFileSync(path.join(victim, 'site'), 'utf8')).toBe('not the record\n');
    expect(existsSync(params.CertDir!)).toBe(false);
    // A linked lock file: the install goes on without the inventory it guards, and nothing is created through it.
    rmSync(path.join(state, 'owned'));
    const lockTarget = path.join(f.root, 'trust-state-lock-target');
    symlinkSync(lockTarget, path.join(state, 'inventory', '.lock'));
    const r = await run(params, { ACM_EXPORT_STATE_DIR: state });
    expect(r.code).toBe(0);
    expect(existsSync(lockTarget)).toBe(false); // `>>` through the link would have created it
    expect(r.stderr).toContain('acm-export: warning: could not write the custom inventory');
    expect(readFileSync(path.join(victim, 'site'), 'utf8')).toBe('not the record\n');
  });

  test('a directory another run creates between the scan and the walk is read again, not refused', async () => {
    const cert = f.publish({ names: ['trust.example.test'] });
    const inventory = path.join(f.root, 'trust-late', 'inventory');
    // A find that lets another run create the inventory directory right after each scan.
    const bin = path.join(f.root, 'trust-late-bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(path.join(bin, 'find'), `#!/bin/sh\n/usr/bin/find "$@"\nrc=$?\nmkdir -p ${inventory}\nexit $rc\n`, {
      mode: 0o755,
    });
    const r = await run(f.params(cert.versionId, 'trust-late-slot'), {
      ACM_EXPORT_INVENTORY_DIR: inventory,
      PATH: `${bin}:${f.aws.binDir}:${process.env.PATH}`,
    });
    expect(r.failure).toBeUndefined();
    expect(r.code).toBe(0);
  });

  test('a CertDir that is a symbolic link to nothing is refused at preflight with its own line', async () => {
    const cert = f.publish({ names: ['trust.example.test'] });
    const link = path.join(f.root, 'trust-dangling');
    symlinkSync(path.join(f.root, 'trust-dangling-missing'), link);
    const r = await run(f.params(cert.versionId, 'trust-dangling-slot', { CertDir: link }));
    refused(r, `CertDir ${link}: ${link} is a symbolic link to a path that does not exist`);
  });

  test('a target that is itself a sticky world-writable directory is refused, also where the sticky rule applies', async () => {
    const cert = f.publish({ names: ['trust.example.test'] });
    const tmpLike = path.join(f.root, 'trust-tmp-like');
    mkdirSync(tmpLike);
    chmodSync(tmpLike, 0o1777);
    const r1 = await run(f.params(cert.versionId, 'trust-tmp-like-slot', { CertDir: tmpLike }));
    refused(r1, `${tmpLike} is a world-writable directory`);
    const r2 = await run(f.params(cert.versionId, 'trust-tmp-like-slot', { CertDir: path.join(tmpLike, 'certs') }));
    refused(r2, `${tmpLike} is a world-writable directory`);
    expect(readdirSync(tmpLike)).toEqual([]);
  });

  test('a live file name that is a symbolic link is refused, not written through: the file it points to is untouched', async () => {
    const first = f.publish({ names: ['trust.example.test'] });
    const params = f.params(first.versionId, 'trust-symlink');
    expect((await run(params)).code).toBe(0);
    const victim = path.join(f.root, 'trust-victim');
    writeFileSync(victim, 'victim: root-only content\n', { mode: 0o600 });
    const victimBefore = statSync(victim);
    for (const live of [
      path.join(params.CertDir!, 'site.crt'),
      path.join(params.KeyDir!, 'site.key'),
      path.join(params.CertDir!, 'site.fullchain.pem.prev'),
    ]) {
      const saved = existsSync(live) ? readlinkSync(live) : undefined;
      rmSync(live, { force: true });
      symlinkSync(victim, live);
      const next = f.publish({ names: ['trust.example.test'] });
      const r = await run({ ...params, SecretVersionId: next.versionId });
      expect(r.code).toBe(EXIT.install);
      expect(r.failure).toBe(
        `acm-export: FAILED at install: ${live} is a symbolic link acm-export did not create; refusing to replace it (nothing was changed)`,
      );
      expect(lstatSync(live).isSymbolicLink()).toBe(true);
      rmSync(live);
      if (saved) symlinkSync(saved, live);
    }
    const victimAfter = statSync(victim);
    expect(readFileSync(victim, 'utf8')).toBe('victim: root-only content\n');
    expect([victimAfter.mode, victimAfter.uid, victimAfter.gid, victimAfter.mtimeMs]).toEqual([
      victimBefore.mode,
      victimBefore.uid,
      victimBefore.gid,
      victimBefore.mtimeMs,
    ]);
  });

  test('a lock file that is a symbolic link is refused, not opened', async () => {
    const first = f.publish({ names: ['trust.example.test'] });
    const params = f.params(first.versionId, 'trust-lock');
    expect((await run(params)).code).toBe(0);
    const lock = path.join(nodeDirOf(f.root, params), 'state', 'locks', 'site.lock');
    const victim = path.join(f.root, 'trust-lock-victim-does-not-exist');
    rmSync(lock);
    symlinkSync(victim, lock);
    const next = f.publish({ names: ['trust.example.test'] });
    const r = await run({ ...params, SecretVersionId: next.versionId });
    expect(r.code).toBe(EXIT.lock);
    expect(r.failure).toBe(
      `acm-export: FAILED at lock: ${lock} is a symbolic link or not a regular file; refusing to open it`,
    );
    expect(existsSync(victim)).toBe(false); // `>>` through the link would have created it
    expect(readFileSync(path.join(params.CertDir!, 'site.crt'), 'utf8')).toBe(first.certificate);
    rmSync(lock); // the state directory (and its lock) is shared by every run of this file
  });
});

describe('hostile parameter values forced past the patterns', () => {
  // Every parameter the document declares, so a new parameter is covered without touching this test.
  const names = Object.keys(loadInstallDocument().parameters);

  test('every document parameter is covered (the list comes from the document)', () => {
    expect(names.length).toBeGreaterThanOrEqual(18);
    expect([...names].sort()).toEqual([...DOCUMENT_PARAMETERS].sort());
  });

  test('are refused before anything runs: no code executed, no aws call, nothing written, the parameter named, the value never echoed', async () => {
    const cert = f.publish({ names: ['hostile.example.test'] });
    const base = f.params(cert.versionId, 'hostile');
    const canary = path.join(f.root, 'canary');
    const values: Record<string, string> = {};
    for (const [label, value] of Object.entries(HOSTILE_VALUES)) {
      if (value.includes('\u0000')) continue; // cannot be put into an environment at all (see below)
      values[label] = value;
    }
    Object.assign(values, {
      touchSubst: `$(touch ${canary})`,
      touchBackticks: `\`touch ${canary}\``,
      touchSemicolon: `a;touch ${canary}`,
      touchNewline: `site\ntouch ${canary}`,
      absTouch: `/tmp;touch ${canary}`,
      outside: `${f.root}/hostile/../escaped`,
      long300: 'x'.repeat(300),
      homoglyphSlash: '\u2215etc\u2215passwd',
    });
    const callsBefore = f.aws.calls().length;
    const treeBefore = listTree(f.root);
    const cases = names.flatMap((name) =>
      Object.values(values).map((value) => {
        // SecretVersionStage replaces SecretVersionId (exactly one of them), so that only one value is wrong.
        const params: InstallParams = { ...base, [name]: value };
        if (name === 'SecretVersionStage') delete params.SecretVersionId;
        return { name, value, params };
      }),
    );
    expect(cases.length).toBe(names.length * Object.keys(values).length);
    const results: { name: string; value: string; r: InstallRun }[] = [];
    for (let i = 0; i < cases.length; i += 8) {
      const batch = cases.slice(i, i + 8);
      const rs = await Promise.all(batch.map((c) => run(c.params)));
      rs.forEach((r, j) => results.push({ name: batch[j].name, value: batch[j].value, r }));
    }
    for (const { name, value, r } of results) {
      expect({ name, value, code: r.code, failure: r.failure, stdout: JSON.parse(r.stdout) as unknown }).toEqual({
        name,
        value,
        code: EXIT.parameters,
        failure: 'acm-export: FAILED at parameters: 1 invalid parameter value(s); nothing was changed',
        // No node id and no value: only the pattern the parameter missed.
        stdout: {
          failedStep: 'parameters',
          exitCode: EXIT.parameters,
          reason: expect.stringMatching(
            new RegExp(
              `^SSM_${name} does not match its allowedPattern .*: 1 invalid parameter value\\(s\\); nothing was changed$`,
            ),
          ),
        },
      });
      const lines = r.stderr.trimEnd().split('\n');
      expect({ name, lines: lines.length }).toEqual({ name, lines: 2 });
      expect(lines[0]).toMatch(new RegExp(`^acm-export: parameters: SSM_${name} does not match its allowedPattern `));
      // The rejected value is never echoed back (it could carry terminal escapes or a second line).
      expect({ name, value, echoed: r.stderr.includes(value) || r.stderr.includes('touch') }).toEqual({
        name,
        value,
        echoed: false,
      });
    }
    expect(existsSync(canary)).toBe(false);
    expect(f.aws.calls()).toHaveLength(callsBefore);
    expect(listTree(f.root).filter((p) => !p.startsWith('aws/') && !p.startsWith('ca/'))).toEqual(
      treeBefore.filter((p) => !p.startsWith('aws/') && !p.startsWith('ca/')),
    );
  }, 300_000);

  test('NUL bytes cannot reach the script: the environment itself refuses them', async () => {
    const base = f.params('00000000-0000-4000-8000-000000000000', 'nul');
    await expect(runInstall({ params: { ...base, CertName: 'a\u0000b' }, tmpDir: f.tmpDir })).rejects.toThrow(
      /null bytes/,
    );
  });

  test('VerifyPort above 65535 and ACM_EXPORT_* overrides are validated too', async () => {
    const cert = f.publish({ names: ['port.example.test'] });
    const r = await run(f.params(cert.versionId, 'port', { VerifyPort: '70000' }), {
      ACM_EXPORT_NGINX_CONF: 'relative/nginx.conf',
      ACM_EXPORT_VERIFY_SECONDS: '$(id)',
    });
    expect(r.code).toBe(EXIT.parameters);
    expect(r.stderr).toContain('SSM_VerifyPort must be at most 65535');
    expect(r.stderr).toContain('ACM_EXPORT_NGINX_CONF must be the absolute path');
    expect(r.stderr).toContain('ACM_EXPORT_VERIFY_SECONDS must be a whole number');
  });
});

describe('state directory', () => {
  test('unset, it defaults to <inventory dir>/.acm-export-state, which passes the path check', async () => {
    const cert = f.publish({ names: ['state.example.test'] });
    const inventoryDir = path.join(f.root, 'state-default', 'inventory');
    const r = await run(f.params(cert.versionId, 'state-default'), {
      ACM_EXPORT_INVENTORY_DIR: inventoryDir,
      ACM_EXPORT_STATE_DIR: '',
    });
    expect(r.code).toBe(0);
    expect(existsSync(path.join(inventoryDir, '.acm-export-state', 'inventory', 'site.json'))).toBe(true);
  });
});

describe('concurrency', () => {
  test('concurrent installs of one certificate serialize instead of failing or interleaving', async () => {
    const params = f.params('00000000-0000-4000-8000-000000000000', 'concurrent');
    mkdirSync(hooksDirOf(params), { recursive: true, mode: 0o755 });
    const log = path.join(f.root, 'concurrent.log');
    writeFileSync(
      path.join(hooksDirOf(params), '10-slow'),
      `#!/bin/sh\necho "start $ACM_EXPORT_SERIAL" >>${log}\nsleep 0.5\necho "end $ACM_EXPORT_SERIAL" >>${log}\n`,
      { mode: 0o755 },
    );
    const certs = [0, 1, 2].map(() => f.publish({ names: ['concurrent.example.test'] }));
    const results = await Promise.all(certs.map((c) => run({ ...params, SecretVersionId: c.versionId })));
    for (const r of results) expect(r.code).toBe(0);
    // Each run either installs (and runs the hook) or, when it got the lock after a certificate that expires
    // later was installed, is skipped as older than installed (the never-downgrade rule): no run fails.
    const installed = results.filter((r) => r.result?.changed === true);
    const skipped = results.filter((r) => r.result?.skipped === 'older than installed');
    expect(installed.length).toBeGreaterThanOrEqual(1);
    expect(installed.length + skipped.length).toBe(3);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2 * installed.length);
    for (let i = 0; i < lines.length; i += 2) {
      const serial = lines[i].replace('start ', '');
      expect(lines[i + 1]).toBe(`end ${serial}`);
    }
    const last = lines[lines.length - 1].replace('end ', '');
    expect(readFileSync(path.join(params.CertDir!, 'site.crt'), 'utf8')).toBe(
      certs.find((c) => c.serial === last)!.certificate,
    );
  });
});

describe('output hygiene', () => {
  test('no key, passphrase or certificate body was printed by any run in this file', () => {
    expect(runs.length).toBeGreaterThan(20);
    const fragments = secretFragments(f.secrets);
    expect(fragments.length).toBeGreaterThan(10);
    for (const r of runs) {
      const out = r.stdout + r.stderr;
      expect(out).not.toContain('-----BEGIN');
      for (const fragment of fragments) expect(out.includes(fragment)).toBe(false);
    }
  });

  test('every failed run ends with exactly one FAILED line, and stdout holds one failure line with the same step and reason', () => {
    for (const r of runs.filter((x) => x.code !== 0)) {
      const [, step, reason] = /^acm-export: FAILED at ([a-z]+): (.*)$/.exec(r.failure ?? '') ?? [];
      expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(1);
      const line = JSON.parse(r.stdout) as { failedStep: string; exitCode: number; reason: string };
      expect(line).toMatchObject({ failedStep: step, exitCode: r.code });
      expect(line.reason.endsWith(reason.slice(0, 500)) || reason.startsWith(line.reason.slice(0, 100))).toBe(true);
      expect(r.stderr.split('\n').filter((l) => l.includes('FAILED at'))).toHaveLength(1);
      expect(r.failure).toBeDefined();
    }
  });
});
