/**
 * The real install script against a real nginx serving 127.0.0.1 on free ports (its own prefix,
 * config and pid file under a temp dir): replacement verified over TLS, RSA and EC keys, failures
 * that must leave the old certificate served, and rollback after reload.
 */
import type { DocumentKind } from '../../ssm-documents/load';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { EXIT, type InstallParams, type InstallRun } from '../helpers/install-script';
import { freePort, servedSerial, startNginx, type TestNginx } from '../helpers/nginx';
import { waitFor } from '../helpers/wait';
import { createFixture, hooksDirOf, writeFailingHook, secretFragments, type Fixture } from './fixture';

const NAME = 'www.example.test';
let f: Fixture;
let nginx: TestNginx;
let params: InstallParams;
let env: Record<string, string>;
let current: string; // serial nginx should be serving on ports[0]
const runs: InstallRun[] = [];

async function run(
  overrides: InstallParams = {},
  extraEnv: Record<string, string> = {},
  program: DocumentKind = 'install',
): Promise<InstallRun> {
  const r = await f.run({ ...params, ...overrides }, { ...env, ...extraEnv }, program);
  runs.push(r);
  return r;
}

/** Served serial once it equals `expected` (reloads are asynchronous), or the last one seen. */
async function servedEventually(expected: string, ms = 5000): Promise<string> {
  const deadline = Date.now() + ms;
  let seen = servedSerial(nginx.ports[0], NAME);
  while (seen !== expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    seen = servedSerial(nginx.ports[0], NAME);
  }
  return seen;
}

function liveFiles(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of [params.CertDir!, params.KeyDir!]) {
    for (const name of ['site.crt', 'site.chain.pem', 'site.fullchain.pem', 'site.key']) {
      try {
        out[name] = readFileSync(path.join(p, name), 'utf8');
      } catch {
        /* not in this dir */
      }
    }
  }
  return out;
}

beforeAll(async () => {
  f = createFixture('nginx');
  // A first certificate installed without a server, so nginx has something to start with.
  const first = f.publish({ names: [NAME, 'example.test'] });
  params = f.params(first.versionId, 'web');
  const r = await f.run(params);
  expect(r.code).toBe(0);
  // A decoy server on a second port, for the verify-mismatch case.
  const decoy = f.publish({ names: [NAME] });
  const decoyDir = path.join(f.root, 'decoy');
  mkdirSync(decoyDir, { recursive: true });
  writeFileSync(path.join(decoyDir, 'fullchain.pem'), decoy.certificate + decoy.chain);
  writeFileSync(path.join(decoyDir, 'key.pem'), decoy.privateKey, { mode: 0o600 });
  nginx = await startNginx({
    dir: path.join(f.root, 'nginx'),
    servers: [
      { certificate: path.join(params.CertDir!, 'site.fullchain.pem'), key: path.join(params.KeyDir!, 'site.key') },
      { certificate: path.join(decoyDir, 'fullchain.pem'), key: path.join(decoyDir, 'key.pem') },
    ],
  });
  params = { ...params, Service: 'nginx', VerifyPort: String(nginx.ports[0]) };
  env = { ACM_EXPORT_NGINX_CONF: nginx.conf, ACM_EXPORT_VERIFY_SECONDS: '5' };
  current = first.serial;
  expect(servedSerial(nginx.ports[0], NAME)).toBe(first.serial);
}, 120_000);

afterAll(async () => {
  await nginx?.stop();
  f?.cleanup();
});

afterEach(() => {
  expect(execFileSync('ls', ['-A', f.tmpDir], { encoding: 'utf8' })).toBe('');
});

describe('successful installs are served', () => {
  test('replacement: nginx is tested, reloaded, and serves the new serial (verified over TLS)', async () => {
    const next = f.publish({ names: [NAME, 'example.test'] });
    const r = await run({ SecretVersionId: next.versionId });
    expect(r.code).toBe(0);
    expect(r.result).toMatchObject({
      serial: next.serial,
      service: 'nginx',
      reloaded: true,
      verified: true,
      names: [NAME, 'example.test'],
    });
    expect(next.serial).not.toBe(current);
    expect(servedSerial(nginx.ports[0], NAME)).toBe(next.serial);
    current = next.serial;
  });

  test.each(['RSA_2048', 'EC_prime256v1', 'EC_secp384r1'] as const)(
    '%s key served after install',
    async (keyAlgorithm) => {
      const next = f.publish({ names: [NAME], keyAlgorithm });
      const r = await run({ SecretVersionId: next.versionId });
      expect(r.code).toBe(0);
      expect(r.result?.verified).toBe(true);
      expect(servedSerial(nginx.ports[0], NAME)).toBe(next.serial);
      current = next.serial;
    },
  );

  test('first-ever install of a new CertName with Service=nginx: its server block only passes nginx -t once the files exist', async () => {
    const FRESH = 'fresh.example.test';
    const port = await freePort();
    const fresh = f.publish({ names: [FRESH] });
    const crt = path.join(params.CertDir!, 'fresh.fullchain.pem');
    const key = path.join(params.KeyDir!, 'fresh.key');
    expect([existsSync(crt), existsSync(key)]).toEqual([false, false]);
    // nginx already serves the other certificate; its configuration now names files that do not exist yet.
    writeFileSync(
      path.join(nginx.includeDir, 'fresh.conf'),
      [
        'server {',
        `  listen 127.0.0.1:${port} ssl;`,
        `  server_name ${FRESH};`,
        `  ssl_certificate ${crt};`,
        `  ssl_certificate_key ${key};`,
        '  return 200 "fresh\\n";',
        '}',
        '',
      ].join('\n'),
    );
    const before = spawnSync('nginx', ['-c', nginx.conf, '-t'], { encoding: 'utf8' });
    expect(before.status).not.toBe(0);
    expect(before.stderr).toContain('fresh.fullchain.pem');
    expect(servedSerial(port, FRESH)).toBe('');

    const r = await run({ CertName: 'fresh', SecretVersionId: fresh.versionId, VerifyPort: String(port) });
    expect(r.code).toBe(0);
    expect(r.result).toMatchObject({
      certName: 'fresh',
      serial: fresh.serial,
      service: 'nginx',
      changed: true,
      reloaded: true,
      verified: true,
    });
    expect(r.stderr).toContain('installing: ');
    expect(existsSync(`${crt}.prev`)).toBe(false); // nothing to keep on a first install
    expect(spawnSync('nginx', ['-c', nginx.conf, '-t']).status).toBe(0);
    expect(servedSerial(port, FRESH)).toBe(fresh.serial);
    // The server block that was already there still serves its own certificate.
    expect(servedSerial(nginx.ports[0], NAME)).toBe(current);
  });

  test('a wildcard first name is verified with a concrete SNI name', async () => {
    const next = f.publish({ names: ['*.example.test', NAME] });
    const r = await run({ SecretVersionId: next.versionId });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('for acm-export-verify.example.test');
    current = next.serial;
  });
});

describe('failures leave the old certificate served', () => {
  test('wrong passphrase: fails at decrypt, nothing touched', async () => {
    const before = liveFiles();
    const bad = f.publish({ names: [NAME] }, (b) => ({ ...b, passphrase: 'wrong-passphrase-0000' }));
    const r = await run({ SecretVersionId: bad.versionId });
    expect(r.code).toBe(EXIT.decrypt);
    expect(liveFiles()).toEqual(before);
    expect(servedSerial(nginx.ports[0], NAME)).toBe(current);
  });

  test('key/cert mismatch: fails at validate before touching files', async () => {
    const before = liveFiles();
    const other = f.publish({ names: ['other.example.test'] });
    const bad = f.publish({ names: [NAME] }, (b) => ({
      ...b,
      encryptedPrivateKey: other.encryptedPrivateKey,
      passphrase: other.passphrase,
    }));
    const r = await run({ SecretVersionId: bad.versionId });
    expect(r.code).toBe(EXIT.validate);
    expect(liveFiles()).toEqual(before);
    expect(servedSerial(nginx.ports[0], NAME)).toBe(current);
  });

  test('nginx -t fails (bad configuration): files rolled back, no reload, old certificate served', async () => {
    const before = liveFiles();
    const broken = path.join(nginx.includeDir, 'broken.conf');
    writeFileSync(broken, 'this_is_not_a_directive on;\n');
    try {
      const next = f.publish({ names: [NAME] });
      const r = await run({ SecretVersionId: next.versionId });
      expect(r.code).toBe(EXIT.configtest);
      expect(r.failure).toMatch(
        /^acm-export: FAILED at configtest: nginx configuration test failed: .*unknown directive "this_is_not_a_directive".*; rolled back to the previous files$/,
      );
      expect(liveFiles()).toEqual(before);
      expect(servedSerial(nginx.ports[0], NAME)).toBe(current);
    } finally {
      rmSync(broken);
    }
  });

  test('a hook fails after the reload: files rolled back, nginx reloaded again, old certificate served', async () => {
    const before = liveFiles();
    const hook = writeFailingHook(params);
    try {
      const next = f.publish({ names: [NAME] });
      const r = await run({ SecretVersionId: next.versionId });
      expect(r.code).toBe(EXIT.hooks);
      expect(r.stderr).toContain(`deploy hook saw ${next.serial}`);
      expect(r.failure).toBe(
        'acm-export: FAILED at hooks: hook 50-fail exited with status 7; rolled back to the previous files and reloaded nginx',
      );
      expect(liveFiles()).toEqual(before);
      expect(await servedEventually(current)).toBe(current);
    } finally {
      rmSync(hook);
    }
  });

  test('verify mismatch (port serves another certificate): rollback, reload, old certificate served', async () => {
    const before = liveFiles();
    const next = f.publish({ names: [NAME] });
    const r = await run(
      { SecretVersionId: next.versionId, VerifyPort: String(nginx.ports[1]) },
      { ACM_EXPORT_VERIFY_SECONDS: '2' },
    );
    expect(r.code).toBe(EXIT.verify);
    expect(r.failure).toMatch(
      new RegExp(
        `^acm-export: FAILED at verify: 127\\.0\\.0\\.1:${nginx.ports[1]} serves serial [0-9A-F]+ for ${NAME.replace(/\./g, '\\.')}, not the new ${next.serial}; rolled back to the previous files and reloaded nginx; 127\\.0\\.0\\.1:${nginx.ports[1]} did not serve the previous certificate again within 2s$`,
      ),
    );
    expect(liveFiles()).toEqual(before);
    expect(await servedEventually(current)).toBe(current);
  });

  test('a hook that breaks the configuration and fails: files restored, the failed re-reload is reported (exit 21)', async () => {
    const before = liveFiles();
    mkdirSync(hooksDirOf(params), { recursive: true, mode: 0o755 });
    const hook = path.join(hooksDirOf(params), '60-break');
    const broken = path.join(nginx.includeDir, 'hook-broken.conf');
    writeFileSync(hook, `#!/bin/sh\necho 'broken_by_hook on;' >${broken}\nexit 1\n`, { mode: 0o755 });
    try {
      const next = f.publish({ names: [NAME] });
      const r = await run({ SecretVersionId: next.versionId });
      expect(r.code).toBe(EXIT.rollbackIncomplete);
      expect(r.failure).toMatch(
        /^acm-export: FAILED at hooks: hook 60-break exited with status 1; rolled back to the previous files; ROLLBACK INCOMPLETE: reloading nginx with the previous files failed: .*broken_by_hook/,
      );
      expect(liveFiles()).toEqual(before);
      // nginx kept the configuration it had: the new certificate, until someone fixes and reloads.
      expect(await servedEventually(next.serial)).toBe(next.serial);
    } finally {
      rmSync(hook);
      rmSync(broken, { force: true });
      execFileSync('nginx', ['-c', nginx.conf, '-s', 'reload'], { stdio: 'ignore' });
    }
    expect(await servedEventually(current)).toBe(current);
  });
});

describe('convergence (association mode)', () => {
  /** nginx logs "signal 1 (SIGHUP) received ..., reconfiguring" (notice level) once per reload. */
  const reloads = () => (nginx.errorLog().match(/signal 1 \(SIGHUP\) received/g) ?? []).length;
  // What the agent passes for an association: SecretVersionId left at its document default ('').
  const association = (): InstallParams => ({
    SecretVersionId: '',
    SecretVersionStage: 'AWSCURRENT',
    Target: 'Role=web',
  });

  test('the current version already served: nothing written, nginx not reloaded, served serial verified', async () => {
    const next = f.publish({ names: [NAME] }); // becomes AWSCURRENT in the fake
    await nginx.settled();
    const beforePush = reloads();
    const pushed = await run({ SecretVersionId: next.versionId });
    expect(pushed.result).toMatchObject({ changed: true, reloaded: true, verified: true });
    current = next.serial;
    await waitFor(() => reloads() > beforePush, 5000, 'nginx to log the reload of the push before counting');
    const before = { reloads: reloads(), files: liveFiles() };
    for (let i = 0; i < 3; i++) {
      const r = await run(association());
      expect(r.code).toBe(0);
      expect(r.result).toMatchObject({
        serial: next.serial,
        changed: false,
        reloaded: false,
        verified: true,
        secretVersionId: next.versionId,
      });
    }
    await nginx.settled(); // a reload sent by any of the runs is logged by now
    expect(reloads()).toBe(before.reloads);
    expect(liveFiles()).toEqual(before.files);
    expect(servedSerial(nginx.ports[0], NAME)).toBe(next.serial);
  });

  test('files tampered with: the next association run repairs them, reloads once and verifies', async () => {
    const fullchain = path.join(params.CertDir!, 'site.fullchain.pem');
    const good = readFileSync(fullchain, 'utf8');
    writeFileSync(fullchain, good.replace(/\n-----END CERTIFICATE-----\n$/, '\n-----END CERTIFICATE-----\n\n'));
    const before = reloads();
    const r = await run(association());
    expect(r.code).toBe(0);
    expect(r.result).toMatchObject({ changed: true, reloaded: true, verified: true });
    expect(readFileSync(fullchain, 'utf8')).toBe(good);
    await waitFor(() => reloads() > before, 5000, 'nginx to log the reload');
    await nginx.settled();
    expect(reloads()).toBe(before + 1);
  });

  test('served serial differs although the files match (server never reloaded): reload, no rewrite needed but verified', async () => {
    const next = f.publish({ names: [NAME] });
    // Put the new files in place behind nginx's back (no reload), as a manual copy would.
    const pushedNoReload = await run({ SecretVersionId: next.versionId, Service: 'none', VerifyPort: '0' });
    expect(pushedNoReload.result).toMatchObject({ changed: true, reloaded: false });
    expect(servedSerial(nginx.ports[0], NAME)).toBe(current);
    const r = await run(association());
    expect(r.code).toBe(0);
    expect(r.result).toMatchObject({ serial: next.serial, changed: true, reloaded: true, verified: true });
    expect(await servedEventually(next.serial)).toBe(next.serial);
    current = next.serial;
  });
});

describe('report and remove actions with nginx', () => {
  const reloads = () => (nginx.errorLog().match(/signal 1 \(SIGHUP\) received/g) ?? []).length;
  const action = (_name: 'report' | 'remove', extra: InstallParams = {}): InstallParams => ({
    SecretVersionId: '',
    Target: 'Role=web',
    ...extra,
  });

  test('report: the served serial over TLS, verified, no reload; a server still on an old certificate shows it', async () => {
    await nginx.settled(); // earlier tests' reloads are logged before counting
    const before = { reloads: reloads(), files: liveFiles() };
    let r = await run(action('report'), {}, 'report');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      action: 'report',
      serial: current,
      servedSerial: current,
      problem: '',
    });
    // New files behind nginx's back (no reload): the files hold one serial, the server serves another.
    const next = f.publish({ names: [NAME] });
    expect((await run({ SecretVersionId: next.versionId, Service: 'none', VerifyPort: '0' })).result).toMatchObject({
      changed: true,
      reloaded: false,
    });
    r = await run(action('report'), {}, 'report');
    expect(JSON.parse(r.stdout)).toMatchObject({ serial: next.serial, servedSerial: current, problem: '' });
    await nginx.settled();
    expect(reloads()).toBe(before.reloads);
    // Repaired by an install run (the files are right; the server is reloaded).
    expect((await run({ SecretVersionId: next.versionId })).result).toMatchObject({
      changed: true,
      reloaded: true,
      verified: true,
    });
    current = next.serial;
  });

  test('remove while nginx still uses the files: fails at configtest with its reason, every file put back, still served', async () => {
    const before = liveFiles();
    const prev = readFileSync(path.join(params.CertDir!, 'site.crt.prev'), 'utf8');
    const r = await run(action('remove'), {}, 'remove');
    expect(r.code).toBe(EXIT.configtest);
    expect(r.failure).toMatch(
      /^acm-export: FAILED at configtest: nginx configuration test fails without the files, so the server still uses them \(point it at other files first\): .*site\.(fullchain\.pem|key).*; rolled back to the previous files$/,
    );
    expect(liveFiles()).toEqual(before);
    expect(readFileSync(path.join(params.CertDir!, 'site.crt.prev'), 'utf8')).toBe(prev);
    expect(servedSerial(nginx.ports[0], NAME)).toBe(current);
    expect(spawnSync('nginx', ['-c', nginx.conf, '-t']).status).toBe(0);
  });

  test('remove of a certificate nginx no longer uses: configtest passes, files gone, no reload', async () => {
    const cert = f.publish({ names: ['unused.example.test'] });
    expect((await run({ CertName: 'unused', SecretVersionId: cert.versionId, VerifyPort: '0' })).code).toBe(0);
    await nginx.settled(); // the install's reload is logged before counting
    const before = reloads();
    const r = await run(action('remove', { CertName: 'unused' }), {}, 'remove');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ certName: 'unused', action: 'remove', changed: true });
    expect(existsSync(path.join(params.CertDir!, 'unused.crt'))).toBe(false);
    expect(existsSync(path.join(params.KeyDir!, 'unused.key'))).toBe(false);
    await nginx.settled();
    expect(reloads()).toBe(before);
    expect(servedSerial(nginx.ports[0], NAME)).toBe(current);
  });
});

describe('output hygiene', () => {
  test('no key, passphrase or certificate body was printed', () => {
    expect(runs.length).toBeGreaterThan(8);
    const fragments = secretFragments(f.secrets);
    for (const r of runs) {
      const out = r.stdout + r.stderr;
      expect(out).not.toContain('-----BEGIN');
      for (const fragment of fragments) expect(out.includes(fragment)).toBe(false);
    }
  });
});
