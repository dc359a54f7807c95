/**
 * Deploy hooks of the real install script: they run only from the one fixed directory (no parameter can
 * point them anywhere else), and what they print stays in a root-only log on the node; the run output gets
 * a short, redacted summary per hook.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadInstallDocument } from '../../ssm-documents/load';
import { EXIT, type InstallParams, type InstallRun } from '../helpers/install-script';
import { createFixture, hooksDirOf, secretFragments, type Fixture } from './fixture';

let f: Fixture;
const isRoot = process.getuid?.() === 0;

beforeAll(() => {
  f = createFixture('hooks');
});
afterAll(() => f.cleanup());

const logDir = () => path.join(f.root, 'log');
const output = (r: InstallRun) => `${r.stdout}\n${r.stderr}`;

/** Installs a first version in `slot`, then writes the given hooks (name → shell body) for the next run. */
async function withHooks(slot: string, hooks: Record<string, string>): Promise<InstallParams> {
  const first = f.publish({ names: [`${slot}.example.test`] });
  const params = f.params(first.versionId, slot);
  expect((await f.run(params)).code).toBe(0);
  const dir = hooksDirOf(params);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const [name, body] of Object.entries(hooks)) {
    writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(path.join(dir, name), 0o755);
  }
  return params;
}

describe('hook output', () => {
  test('a hook printing the private key, its path and a passphrase: none of it in the run output, all of it in the root-only log', async () => {
    const params = await withHooks('noisy', {
      '10-noisy': [
        'echo "starting php-fpm reload"',
        'cat "$ACM_EXPORT_KEY"',
        'echo "key file: $ACM_EXPORT_KEY" >&2',
        'echo "pass Xk9fQ2mZr7LpW4sTn8vB3yHc6dJe1aGu5oRi0KqYwEx"',
        'echo "reloaded php-fpm"',
      ].join('\n'),
    });
    const next = f.publish({ names: ['noisy.example.test'] });
    const r = await f.run({ ...params, SecretVersionId: next.versionId });
    expect(r.code).toBe(0);
    const keyPath = path.join(params.KeyDir!, 'site.key');
    const text = output(r);
    expect(text).not.toMatch(/PRIVATE KEY/);
    for (const fragment of secretFragments([next.privateKey])) expect(text).not.toContain(fragment);
    // (The script names the key file itself, in its result line; the hook's line about it is what must not show.)
    expect(text).not.toContain(`key file: ${keyPath}`);
    expect(text).not.toContain('Xk9fQ2mZr7LpW4sTn8vB3yHc6dJe1aGu5oRi0KqYwEx');
    expect(text).not.toContain('starting php-fpm reload'); // beyond the last 3 lines
    // The summary: name, status, the last lines with the secrets masked.
    expect(r.stderr).toContain(
      `acm-export: hook 10-noisy exited with status 0; last output (redacted; all of it in ${logDir()}/hooks.log): ` +
        '"key file: [path under KeyDir]" | "pass [withheld]" | "reloaded php-fpm"',
    );
    // Kept on the node, readable by its owner only.
    const log = path.join(logDir(), 'hooks.log');
    const kept = readFileSync(log, 'utf8');
    expect(kept).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ site hook 10-noisy exited with status 0$/m);
    expect(kept).toContain(next.privateKey.trim().split('\n')[1]);
    expect(kept).toContain(`key file: ${keyPath}`);
    expect(statSync(log).mode & 0o777).toBe(0o600);
    expect(statSync(logDir()).mode & 0o777).toBe(0o700);
  });

  test('a failing hook: the install rolls back, its output stays out of the run output too', async () => {
    const params = await withHooks('failing', {
      '20-fail': 'cat "$ACM_EXPORT_KEY" >&2\necho "cannot restart: see journal"\nexit 4',
    });
    const next = f.publish({ names: ['failing.example.test'] });
    const r = await f.run({ ...params, SecretVersionId: next.versionId });
    expect(r.code).toBe(EXIT.hooks);
    expect(r.failure).toBe(
      'acm-export: FAILED at hooks: hook 20-fail exited with status 4; rolled back to the previous files',
    );
    expect(output(r)).not.toMatch(/PRIVATE KEY/);
    for (const fragment of secretFragments([next.privateKey])) expect(output(r)).not.toContain(fragment);
    expect(r.stderr).toContain('hook 20-fail exited with status 4; last output (redacted;');
    expect(r.stderr).toContain('"[PEM block withheld]" | "cannot restart: see journal"');
  });

  test('a hook that dumps the key as text (openssl -text): none of its hex reaches the run output', async () => {
    const params = await withHooks('dump', { '40-dump': 'openssl pkey -in "$ACM_EXPORT_KEY" -text -noout' });
    const next = f.publish({ names: ['dump.example.test'], keyAlgorithm: 'RSA_2048' });
    const r = await f.run({ ...params, SecretVersionId: next.versionId });
    expect(r.code).toBe(0);
    // The key's own dump: every run of two or more hex octets in it, and its last line (an octet or two),
    // stays out of the run output.
    const dump = execFileSync('openssl', ['pkey', '-text', '-noout'], { input: next.privateKey, encoding: 'utf8' });
    const octets = dump.match(/[0-9a-f]{2}(:[0-9a-f]{2})+/g) ?? [];
    expect(octets.length).toBeGreaterThan(20);
    for (const run of octets) expect(output(r)).not.toContain(run);
    const last = dump.trimEnd().split('\n').pop()!.trim();
    expect(last).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2})*:?$/);
    expect(r.stderr).not.toContain(`"${last}"`);
    expect(r.stderr).toContain('hook 40-dump exited with status 0; last output (redacted;');
    expect(r.stderr).toMatch(/"\[withheld\]" \| "\[withheld\]"/);
  });

  test('the log is bounded: at most 256 KiB kept per hook run, and a log past 1 MiB is rotated once', async () => {
    const params = await withHooks('bounded', { '30-loud': 'head -c 600000 /dev/zero | tr "\\0" "x"' });
    const log = path.join(logDir(), 'hooks.log');
    appendFileSync(log, 'y'.repeat(1_100_000));
    const next = f.publish({ names: ['bounded.example.test'] });
    const r = await f.run({ ...params, SecretVersionId: next.versionId });
    expect(r.code).toBe(0);
    expect(statSync(`${log}.1`).size).toBeGreaterThan(1_100_000);
    const size = statSync(log).size;
    expect(size).toBeGreaterThan(262_144);
    expect(size).toBeLessThan(262_144 + 200);
    // A long run of one character is not a line worth showing: masked like any long base64-like run.
    expect(r.stderr).toContain('hook 30-loud exited with status 0; last output (redacted;');
    expect(r.stderr).not.toContain('x'.repeat(41));
  });
});

describe('where hooks come from', () => {
  test('the document has no HooksDir parameter, and the script ignores SSM_HooksDir', async () => {
    expect(Object.keys(loadInstallDocument().parameters)).not.toContain('HooksDir');
    const params = await withHooks('param', {});
    const elsewhere = path.join(f.root, 'param-elsewhere');
    mkdirSync(elsewhere, { mode: 0o755 });
    const ran = path.join(f.root, 'param-hook-ran');
    writeFileSync(path.join(elsewhere, '10-root'), `#!/bin/sh\ntouch ${ran}\n`, { mode: 0o755 });
    const next = f.publish({ names: ['param.example.test'] });
    // As Run Command would pass a parameter of that name, if the document had one.
    const r = await f.run({ ...params, SecretVersionId: next.versionId }, { SSM_HooksDir: elsewhere });
    expect(r.code).toBe(0);
    expect(r.result?.changed).toBe(true);
    expect(() => statSync(ran)).toThrow();
    expect(r.stderr).not.toContain('10-root');
  });

  (isRoot ? test : test.skip)(
    'as root, a hooks directory below a group-writable directory is refused before anything changes',
    async () => {
      const params = await withHooks('trust', { '10-ok': 'true' });
      chmodSync(path.dirname(hooksDirOf(params)), 0o775);
      const next = f.publish({ names: ['trust.example.test'] });
      const r = await f.run({ ...params, SecretVersionId: next.versionId });
      chmodSync(path.dirname(hooksDirOf(params)), 0o755);
      expect(r.code).toBe(EXIT.preflight);
      expect(r.stderr).toMatch(
        /hooks directory \S+hooks\.d is not safe to write as uid 0: \S+ is writable by group or others/,
      );
    },
  );
});
