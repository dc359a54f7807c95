/**
 * The real install script against a real Apache 2.4 (Service=apache2): one private instance for the suite, on a
 * free 127.0.0.1 port, tested and gracefully restarted by the script through Debian's apachectl (APACHE_CONFDIR
 * names the instance). The cases run in order and share its state: first install, no-change re-run, renewal,
 * then the failures that must leave the old certificate served.
 */
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { startApache, type TestApache } from '../helpers/apache';
import type { DocumentKind } from '../../ssm-documents/load';
import { EXIT, type InstallParams, type InstallRun } from '../helpers/install-script';
import { freePort, servedSerial } from '../helpers/nginx';
import { createFixture, writeFailingHook, secretFragments, type Fixture } from './fixture';

const NAME = 'www.example.test';
const FRESH = 'fresh.example.test';
let f: Fixture;
let apache: TestApache;
let params: InstallParams;
let env: Record<string, string>;
let current: string; // serial Apache should be serving on apache.port
const runs: InstallRun[] = [];
/** What the first case installed (the no-change case runs it again). */
let installed: { versionId: string; serial: string; port: number } | undefined;

async function run(overrides: InstallParams = {}, program: DocumentKind = 'install'): Promise<InstallRun> {
  const r = await f.run({ ...params, ...overrides }, env, program);
  runs.push(r);
  return r;
}

/** Served serial once it equals `expected` (a graceful restart is asynchronous), or the last one seen. */
async function servedEventually(port: number, name: string, expected: string, ms = 5000): Promise<string> {
  const deadline = Date.now() + ms;
  let seen = servedSerial(port, name);
  while (seen !== expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    seen = servedSerial(port, name);
  }
  return seen;
}

/** The four live files of `certName` (content and inode: a rewrite changes the inode). */
function liveFiles(certName = 'site'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [dir, suffixes] of [
    [params.CertDir!, ['.crt', '.chain.pem', '.fullchain.pem']],
    [params.KeyDir!, ['.key']],
  ] as const) {
    for (const suffix of suffixes) {
      const file = path.join(dir, certName + suffix);
      out[certName + suffix] = `${statSync(file).ino}:${readFileSync(file, 'utf8')}`;
    }
  }
  return out;
}

const configtest = () =>
  spawnSync('apachectl', ['configtest'], {
    encoding: 'utf8',
    env: { ...process.env, APACHE_CONFDIR: apache.confDir, PATH: `${process.env.PATH ?? ''}:/usr/sbin` },
  });

beforeAll(async () => {
  f = createFixture('apache');
  // A first certificate installed without a server, so Apache has something to start with.
  const first = f.publish({ names: [NAME, 'example.test'] });
  params = f.params(first.versionId, 'web');
  expect((await f.run(params)).code).toBe(0);
  apache = await startApache({
    dir: path.join(f.root, 'apache'),
    certificate: path.join(params.CertDir!, 'site.fullchain.pem'),
    key: path.join(params.KeyDir!, 'site.key'),
  });
  params = { ...params, Service: 'apache2', VerifyPort: String(apache.port) };
  env = {
    APACHE_CONFDIR: apache.confDir,
    PATH: [apache.binDir, f.aws.binDir, process.env.PATH ?? '/usr/bin:/bin'].join(':'),
    ACM_EXPORT_VERIFY_SECONDS: '5',
  };
  current = first.serial;
  expect(servedSerial(apache.port, NAME)).toBe(first.serial);
}, 60_000);

afterAll(async () => {
  await apache?.stop();
  f?.cleanup();
});

beforeEach(() => apache?.clearCalls());

describe('installs served by Apache', () => {
  test('install: a CertName Apache already names only passes its configuration test once the files exist; then it is served', async () => {
    const port = await freePort();
    const fresh = f.publish({ names: [FRESH] });
    writeFileSync(
      path.join(apache.includeDir, 'fresh.conf'),
      [
        `Listen 127.0.0.1:${port}`,
        `<VirtualHost 127.0.0.1:${port}>`,
        '  SSLEngine on',
        `  SSLCertificateFile ${path.join(params.CertDir!, 'fresh.fullchain.pem')}`,
        `  SSLCertificateKeyFile ${path.join(params.KeyDir!, 'fresh.key')}`,
        '</VirtualHost>',
        '',
      ].join('\n'),
    );
    expect(configtest().status).not.toBe(0);
    const restarts = apache.gracefulRestarts();

    const r = await run({ CertName: 'fresh', SecretVersionId: fresh.versionId, VerifyPort: String(port) });
    expect(r.code).toBe(0);
    expect(r.result).toMatchObject({
      certName: 'fresh',
      serial: fresh.serial,
      service: 'apache2',
      requestedService: 'apache2',
      changed: true,
      reloaded: true,
      verified: true,
    });
    expect(apache.calls()).toEqual(['configtest', 'graceful']);
    expect(configtest().status).toBe(0);
    expect(servedSerial(port, FRESH)).toBe(fresh.serial);
    expect(apache.gracefulRestarts()).toBe(restarts + 1);
    installed = { versionId: fresh.versionId, serial: fresh.serial, port };
    // The virtual host that was already there still serves its own certificate.
    expect(servedSerial(apache.port, NAME)).toBe(current);
  });

  test('no-change re-run: the installed version again writes nothing, calls no apachectl, and verifies the served serial', async () => {
    const { versionId, serial, port } = installed!;
    const before = { files: liveFiles('fresh'), restarts: apache.gracefulRestarts() };

    const r = await run({ CertName: 'fresh', SecretVersionId: versionId, VerifyPort: String(port) });
    expect(r.code).toBe(0);
    expect(r.result).toMatchObject({ certName: 'fresh', serial, changed: false, reloaded: false, verified: true });
    expect(apache.calls()).toEqual([]);
    expect(liveFiles('fresh')).toEqual(before.files);
    expect(apache.gracefulRestarts()).toBe(before.restarts);
    expect(servedSerial(port, FRESH)).toBe(serial);
  });

  test('renewal: the new version replaces the old one, Apache restarts gracefully and serves the new serial', async () => {
    const old = readFileSync(path.join(params.CertDir!, 'site.crt'), 'utf8');
    const restarts = apache.gracefulRestarts();
    const renewed = f.publish({ names: [NAME, 'example.test'] });
    expect(renewed.serial).not.toBe(current);

    const r = await run({ SecretVersionId: renewed.versionId });
    expect(r.code).toBe(0);
    expect(r.result).toMatchObject({
      serial: renewed.serial,
      service: 'apache2',
      changed: true,
      reloaded: true,
      verified: true,
    });
    expect(apache.calls()).toEqual(['configtest', 'graceful']);
    expect(servedSerial(apache.port, NAME)).toBe(renewed.serial);
    expect(readFileSync(path.join(params.CertDir!, 'site.crt'), 'utf8')).toBe(renewed.certificate);
    expect(readFileSync(path.join(params.CertDir!, 'site.crt.prev'), 'utf8')).toBe(old);
    expect(apache.gracefulRestarts()).toBe(restarts + 1);
    current = renewed.serial;
  });
});

describe('failures leave the old certificate served by Apache', () => {
  test('configuration test fails (broken Apache configuration): rolled back, no graceful restart, old certificate served', async () => {
    const before = liveFiles();
    const broken = path.join(apache.includeDir, 'broken.conf');
    writeFileSync(broken, 'ThisIsNotADirective on\n');
    try {
      const next = f.publish({ names: [NAME] });
      const r = await run({ SecretVersionId: next.versionId });
      expect(r.code).toBe(EXIT.configtest);
      expect(r.failure).toMatch(
        /^acm-export: FAILED at configtest: apache2 configuration test failed: .*ThisIsNotADirective.*; rolled back to the previous files$/,
      );
      expect(apache.calls()).toEqual(['configtest']);
      expect(liveFiles()).toEqual(before);
      expect(servedSerial(apache.port, NAME)).toBe(current);
    } finally {
      rmSync(broken);
    }
  });

  test('a deploy hook fails after the graceful restart: rolled back, Apache restarted again, old certificate served', async () => {
    const before = liveFiles();
    const hook = writeFailingHook(params);
    try {
      const next = f.publish({ names: [NAME] });
      const r = await run({ SecretVersionId: next.versionId });
      expect(r.code).toBe(EXIT.hooks);
      expect(r.stderr).toContain(`deploy hook saw ${next.serial}`);
      expect(r.failure).toBe(
        'acm-export: FAILED at hooks: hook 50-fail exited with status 7; rolled back to the previous files and reloaded apache2',
      );
      expect(apache.calls()).toEqual(['configtest', 'graceful', 'configtest', 'graceful']);
      expect(liveFiles()).toEqual(before);
      expect(await servedEventually(apache.port, NAME, current)).toBe(current);
    } finally {
      rmSync(hook);
    }
  });

  test('removal while Apache still names the files: refused at its configuration test, every file kept, still served', async () => {
    const before = liveFiles();
    const prev = readFileSync(path.join(params.CertDir!, 'site.crt.prev'), 'utf8');
    const r = await run({}, 'remove');
    expect(r.code).toBe(EXIT.configtest);
    expect(r.failure).toMatch(
      /^acm-export: FAILED at configtest: apache2 configuration test fails without the files, so the server still uses them \(point it at other files first\): .*site\.(fullchain\.pem|key).*; rolled back to the previous files$/,
    );
    expect(apache.calls()).toEqual(['configtest']);
    expect(liveFiles()).toEqual(before);
    expect(readFileSync(path.join(params.CertDir!, 'site.crt.prev'), 'utf8')).toBe(prev);
    expect(configtest().status).toBe(0);
    expect(servedSerial(apache.port, NAME)).toBe(current);
  });
});

test('no key, passphrase or certificate body was printed', () => {
  expect(runs.length).toBeGreaterThanOrEqual(6);
  const fragments = secretFragments(f.secrets);
  for (const r of runs) {
    const out = r.stdout + r.stderr;
    expect(out).not.toContain('-----BEGIN');
    for (const fragment of fragments) expect(out.includes(fragment)).toBe(false);
  }
});
