/**
 * The nginx and Apache snippets of docs/operations.md ("Web server configuration") name the files the real
 * installer writes, and a real server accepts them: the installer runs into a temporary CertDir/KeyDir, the
 * snippet's default directories are swapped for those, and `nginx -t` (which loads certificate and key and
 * checks that they match) passes; Apache, when installed, passes `-t` and serves the installed serial.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadInstallDocument } from '../../ssm-documents/load';
import { freePort } from '../helpers/nginx';
import type { InstallResult } from '../helpers/install-script';
import { createFixture, type Fixture } from '../ssm-documents/fixture';

const PAGE = readFileSync(path.join(__dirname, '..', '..', 'docs', 'operations.md'), 'utf8');
const SERVER_NAME = 'www.example.com';

/** The one fenced block of `language` on the page. */
function snippet(language: string): string {
  const blocks = [...PAGE.matchAll(new RegExp('^```' + language + '\\n([\\s\\S]*?)^```', 'gm'))].map((m) => m[1]);
  expect(blocks).toHaveLength(1);
  return blocks[0];
}

/** The value of every `directive <path>` line (nginx ends them with `;`). */
function directive(text: string, name: string): string {
  const values = [...text.matchAll(new RegExp(`^\\s*${name}\\s+(\\S+?);?\\s*$`, 'gm'))].map((m) => m[1]);
  expect(values).toHaveLength(1);
  return values[0];
}

const parameters = loadInstallDocument().parameters as Record<string, { default?: string }>;
const DEFAULT_CERT_DIR = String(parameters.CertDir.default);
const DEFAULT_KEY_DIR = String(parameters.KeyDir.default);

let f: Fixture;
let installed: InstallResult;
let certDir: string;
let keyDir: string;
let serial: string;

/** The snippet as it would be on a node whose CertDir and KeyDir are the test's. */
function localized(text: string): string {
  return text.split(`${DEFAULT_CERT_DIR}/`).join(`${certDir}/`).split(`${DEFAULT_KEY_DIR}/`).join(`${keyDir}/`);
}

beforeAll(async () => {
  f = createFixture('snippets');
  const cert = f.publish({ names: [SERVER_NAME], keyAlgorithm: 'EC_prime256v1' });
  const params = f.params(cert.versionId, 'node', { CertName: 'www' });
  certDir = params.CertDir!;
  keyDir = params.KeyDir!;
  const run = await f.run(params);
  expect({ code: run.code, failure: run.failure }).toEqual({ code: 0, failure: undefined });
  installed = run.result!;
  serial = cert.serial;
});
afterAll(() => f.cleanup());

describe('nginx', () => {
  /** `nginx -t` on the snippet inside a minimal main configuration; returns its status and output. */
  function nginxTest(server: string, name: string): { status: number | null; output: string } {
    const dir = path.join(f.root, name);
    mkdirSync(dir, { recursive: true });
    const conf = path.join(dir, 'nginx.conf');
    writeFileSync(
      conf,
      [
        `pid ${path.join(dir, 'nginx.pid')};`,
        `error_log ${path.join(dir, 'error.log')};`,
        'events {}',
        'http {',
        ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${path.join(dir, t)};`),
        server,
        '}',
        '',
      ].join('\n'),
    );
    const r = spawnSync('nginx', ['-t', '-c', conf, '-e', path.join(dir, 'error.log')], { encoding: 'utf8' });
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
  }

  test('names the full chain and the key the installer writes, for the default directories', () => {
    const text = snippet('nginx');
    expect(localized(directive(text, 'ssl_certificate'))).toBe(installed.files.fullchain);
    expect(localized(directive(text, 'ssl_certificate_key'))).toBe(installed.files.key);
    expect(directive(text, 'server_name')).toBe(SERVER_NAME);
  });

  test('nginx -t accepts it with the installed files (certificate and key are loaded and must match)', () => {
    const r = nginxTest(localized(snippet('nginx')), 'nginx-ok');
    expect(r).toEqual({ status: 0, output: expect.stringContaining('test is successful') });
  });

  test('control: nginx -t rejects the snippet when the key line names a file that is not the key', () => {
    const wrongKey = localized(snippet('nginx')).replace(installed.files.key, installed.files.chain);
    expect(nginxTest(wrongKey, 'nginx-wrong-key').status).not.toBe(0);
  });
});

/** The Apache binary and module directory of this machine (Debian or Red Hat layout), if installed. */
function findApache(): { bin: string; modules: string } | undefined {
  const bin = ['apache2', 'httpd'].find((b) => spawnSync(b, ['-v']).status === 0);
  const modules = ['/usr/lib/apache2/modules', '/usr/lib64/httpd/modules', '/usr/lib/httpd/modules'].find((d) =>
    existsSync(path.join(d, 'mod_ssl.so')),
  );
  return bin && modules ? { bin, modules } : undefined;
}
// Required, never skipped: npm test's prerequisites install apache2 (test/prerequisites.sh).
const apache = findApache();

describe('Apache snippet names', () => {
  test('the full chain and the key the installer writes, for the default directories', () => {
    const text = snippet('apache');
    expect(localized(directive(text, 'SSLCertificateFile'))).toBe(installed.files.fullchain);
    expect(localized(directive(text, 'SSLCertificateKeyFile'))).toBe(installed.files.key);
    expect(directive(text, 'ServerName')).toBe(SERVER_NAME);
  });
});

describe('Apache', () => {
  test('Apache (apache2 or httpd) with mod_ssl is installed', () => {
    expect(apache).toBeDefined();
  });
  const { bin, modules } = apache ?? { bin: 'apache2', modules: '/usr/lib/apache2/modules' };
  let port: number;

  /** The snippet on a free loopback port inside a minimal main configuration. */
  function apacheConf(vhost: string, name: string): { conf: string; dir: string } {
    const dir = path.join(f.root, name);
    mkdirSync(dir, { recursive: true });
    const conf = path.join(dir, 'httpd.conf');
    const load = (mod: string, file: string) => `LoadModule ${mod}_module ${path.join(modules, file)}`;
    writeFileSync(
      conf,
      [
        load('mpm_event', 'mod_mpm_event.so'),
        load('authz_core', 'mod_authz_core.so'),
        load('ssl', 'mod_ssl.so'),
        `ServerRoot ${dir}`,
        'ServerName localhost',
        `PidFile ${path.join(dir, 'httpd.pid')}`,
        `ErrorLog ${path.join(dir, 'error.log')}`,
        `DefaultRuntimeDir ${dir}`,
        `Mutex file:${dir} default`,
        `Listen 127.0.0.1:${port}`,
        vhost.replace('<VirtualHost *:443>', `<VirtualHost *:${port}>`),
        '',
      ].join('\n'),
    );
    return { conf, dir };
  }

  beforeAll(async () => {
    port = await freePort();
  });

  test('apache -t accepts it with the installed files, and rejects a missing file (control)', () => {
    const ok = apacheConf(localized(snippet('apache')), 'apache-ok');
    const r = spawnSync(bin, ['-t', '-f', ok.conf], { encoding: 'utf8' });
    expect({ status: r.status, output: `${r.stdout}${r.stderr}` }).toEqual({
      status: 0,
      output: expect.stringContaining('Syntax OK'),
    });
    const missing = apacheConf(
      localized(snippet('apache')).replace(installed.files.fullchain, `${installed.files.fullchain}.missing`),
      'apache-missing',
    );
    expect(spawnSync(bin, ['-t', '-f', missing.conf], { encoding: 'utf8' }).status).not.toBe(0);
  });

  test('Apache started with it serves the installed certificate', async () => {
    const { conf, dir } = apacheConf(localized(snippet('apache')), 'apache-serve');
    const child: ChildProcess = spawn(bin, ['-f', conf, '-DFOREGROUND'], { stdio: 'ignore' });
    try {
      let served = '';
      for (let i = 0; i < 100 && !served; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const hello = spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', SERVER_NAME], {
          input: '',
          encoding: 'utf8',
          timeout: 5000,
        });
        const x509 = spawnSync('openssl', ['x509', '-noout', '-serial'], { input: hello.stdout, encoding: 'utf8' });
        served = x509.status === 0 ? x509.stdout.trim().replace(/^serial=/, '') : '';
      }
      expect({ served, log: served ? '' : readFileSync(path.join(dir, 'error.log'), 'utf8') }).toEqual({
        served: serial,
        log: '',
      });
    } finally {
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    }
  });
});
