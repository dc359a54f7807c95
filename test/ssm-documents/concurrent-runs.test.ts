/**
 * Runs that meet on one node: a run that waited for the CertName lock acts on what it reads under the lock, not
 * on what it read before; a run that failed before it took the lock never writes over the entry of the run that
 * holds it; a removal stopped half way is completed by the next one as any removal (its configuration test
 * included); a report or a removal that waited for the lock judges the files as the run it waited for left them;
 * one CertName's removal does not break another's first install in the same directories; a run of
 * another document version (a stack update) pruning the node library cache does not take this run's library away.
 *
 * A run is paused or killed at an exact step by a wrapper first on its PATH around one of the programs it starts
 * (flock, mkdir, mv, rm): `gate` holds that call until the test lets it go, `killAfter` runs it and then kills
 * the run with SIGKILL (no trap runs).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';
import { EXAMPLE_LIBRARY_LOCATION, nodeLibrary, type DocumentKind } from '../../ssm-documents/load';
import { EXIT, installEnv, installScriptWith, type InstallParams } from '../helpers/install-script';
import { createFixture, present, REGION, writeFailingHook, type Fixture } from './fixture';

let f: Fixture;
beforeAll(() => (f = createFixture('concurrent')));
afterAll(() => f.cleanup());

const nodeDir = (slot: string) => path.join(f.root, 'nodes', slot);
const inventory = (slot: string) =>
  (
    JSON.parse(readFileSync(path.join(nodeDir(slot), 'inventory', 'AcmExportCertificate.json'), 'utf8')) as {
      Content: Record<string, string>[];
    }
  ).Content;
const withoutVersion = (p: InstallParams): InstallParams => {
  const { SecretVersionId: _unused, ...rest } = p;
  void _unused;
  return rest;
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(file: string) {
  while (!existsSync(file)) await sleep(20);
}
/** The real program behind a name on this machine's PATH. */
const realCommand = (cmd: string) => spawnSync('bash', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim();

/**
 * A PATH directory whose `cmd` stops on its first call for which `match` (a shell test on "$@") holds, touching
 * `ready`, until `go` exists; then it runs the real command.
 */
function gate(name: string, cmd: string, match: string): { bin: string; ready: string; go: string } {
  const bin = path.join(f.root, `gate-${name}`);
  mkdirSync(bin, { recursive: true });
  const ready = path.join(bin, 'ready');
  const go = path.join(bin, 'go');
  writeFileSync(
    path.join(bin, cmd),
    `#!/bin/bash\nif [ ! -e '${ready}' ] && ${match}; then : >'${ready}'; while [ ! -e '${go}' ]; do sleep 0.05; done; fi\nexec '${realCommand(cmd)}' "$@"\n`,
    { mode: 0o755 },
  );
  return { bin, ready, go };
}

/** A PATH directory whose `cmd` runs, then kills the run that started it (SIGKILL) when `match` holds. */
function killAfter(name: string, cmd: string, match: string): string {
  const bin = path.join(f.root, `kill-${name}`);
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    path.join(bin, cmd),
    `#!/bin/bash\n'${realCommand(cmd)}' "$@"; rc=$?\nif ${match}; then kill -KILL $PPID; fi\nexit $rc\n`,
    { mode: 0o755 },
  );
  return bin;
}
const pathWith = (bin: string) => `${bin}:${f.aws.binDir}:${process.env.PATH}`;

describe('a run that failed before it took the lock', () => {
  test('does not bring back the entry of a target removed from this node', async () => {
    const slot = 'failed-after-removal';
    const issued = f.publish({ names: ['removed.example.test'] });
    expect((await f.run(f.params(issued.versionId, slot))).code).toBe(0);
    expect((await f.run(withoutVersion(f.params('unused', slot)), {}, 'remove')).code).toBe(0);
    expect(inventory(slot)).toEqual([]);
    // A push that was in flight, whose version cannot be read any more.
    const late = await f.run(f.params('00000000-0000-4000-8000-000000000000', slot));
    expect(late.code).toBe(EXIT.preflight);
    expect(late.stderr).toContain(`custom inventory not written: site was removed from this node`);
    expect(inventory(slot)).toEqual([]);
  });

  test('leaves the entry to the run that holds the lock (a lock timeout)', async () => {
    const slot = 'lock-timeout';
    const issued = f.publish({ names: ['timeout.example.test'] });
    expect((await f.run(f.params(issued.versionId, slot))).code).toBe(0);
    const fragment = path.join(nodeDir(slot), 'state', 'inventory', 'site.json');
    const before = readFileSync(fragment, 'utf8');
    const lockFile = path.join(nodeDir(slot), 'state', 'locks', 'site.lock');
    // -o: the lock is flock's own, not its child's, so killing flock releases it.
    const holder = spawn('flock', ['-o', lockFile, 'sleep', '30'], { stdio: 'ignore' });
    try {
      while (spawnSync('flock', ['-n', lockFile, 'true']).status === 0) await sleep(20);
      const r = await f.run(f.params(issued.versionId, slot), { ACM_EXPORT_LOCK_SECONDS: '1' });
      expect(r.code).toBe(EXIT.lock);
      expect(readFileSync(fragment, 'utf8')).toBe(before);
    } finally {
      holder.kill();
    }
  });

  test("leaves the entry of another secret's target alone when it is refused the CertName that target holds", async () => {
    const slot = 'refused-name';
    const issued = f.publish({ names: ['held.example.test'] });
    expect((await f.run(f.params(issued.versionId, slot))).code).toBe(0);
    const entry = inventory(slot);
    const other = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:acm-export/elsewhere-QwE456';
    const otherVersion = f.storeAs(other, issued);
    const r = await f.run({ ...f.params(otherVersion, slot), SecretId: other });
    expect(r.code).toBe(EXIT.install);
    expect(r.failure).toContain('site on this node holds the certificate of secret');
    expect(inventory(slot)).toEqual(entry);
  });

  test("nor does that target's report association, which runs all the same", async () => {
    const slot = 'refused-report';
    const issued = f.publish({ names: ['heldreport.example.test'] });
    expect((await f.run(f.params(issued.versionId, slot))).code).toBe(0);
    const entry = inventory(slot);
    const other = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:acm-export/elsewhere-RtY789';
    expect((await f.run({ ...f.params(f.storeAs(other, issued), slot), SecretId: other })).code).toBe(EXIT.install);
    const r = await f.run({ ...withoutVersion(f.params('unused', slot)), SecretId: other }, {}, 'report');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      `custom inventory not written: site on this node holds the certificate of secret ${entry[0].SecretId}`,
    );
    expect(inventory(slot)).toEqual(entry);
  });

  test('records the failure of a takeover of a name whose secret was deleted (the name was released)', async () => {
    const target = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:acm-export/stack';
    const hash = '0123456789abcdef';
    const holder = `${target}/cert-a/${hash}-AbC123`;
    const next = `${target}/cert-b/${hash}-XyZ789`;
    const slot = 'released-name';
    const first = f.publish({ names: ['holder.example.test'] });
    const params = f.params(f.storeAs(holder, first), slot, { SecretId: holder });
    expect((await f.run(params)).code).toBe(0);
    f.aws.deleteSecret(REGION, holder);
    const second = f.publish({ names: ['next.example.test'] });
    const hook = writeFailingHook(params);
    try {
      const r = await f.run({ ...params, SecretId: next, SecretVersionId: f.storeAs(next, second) });
      expect(r.code).toBe(EXIT.hooks);
    } finally {
      rmSync(hook);
    }
    expect(inventory(slot).map((e) => [e.SecretId, e.LastRun, e.FailedStep])).toEqual([[next, 'failed', 'hooks']]);
  });

  test('records the failure of a new export of a removed target (its version created after the removal)', async () => {
    const slot = 'readded';
    const issued = f.publish({ names: ['readded.example.test'] });
    const params = f.params(issued.versionId, slot);
    expect((await f.run(params)).code).toBe(0);
    expect((await f.run(withoutVersion(params), {}, 'remove')).code).toBe(0);
    const fresh = f.publish({ names: ['readded.example.test'] }, undefined, '2030-01-01T00:00:00+00:00');
    // Failing at its deploy hook (under the lock, rolled back): recorded.
    const hook = writeFailingHook(params);
    try {
      expect((await f.run(f.params(fresh.versionId, slot))).code).toBe(EXIT.hooks);
    } finally {
      rmSync(hook);
    }
    expect(inventory(slot).map((e) => [e.LastRun, e.FailedStep])).toEqual([['failed', 'hooks']]);
    // One that fails before the lock (at decrypt) makes no AWS call to learn when its version was created: it
    // writes nothing while the target is still removed here.
    const broken = f.publish(
      { names: ['readded.example.test'] },
      (b) => ({ ...b, passphrase: 'wrong-passphrase-0123456789' }),
      '2030-01-02T00:00:00+00:00',
    );
    const r = await f.run(f.params(broken.versionId, slot));
    expect(r.code).toBe(EXIT.decrypt);
    expect(r.stderr).toContain('custom inventory not written: site was removed from this node');
    expect(inventory(slot).map((e) => [e.LastRun, e.FailedStep])).toEqual([['failed', 'hooks']]);
  });

  test('records an unexpected error (ended through the EXIT trap) like any other failure', async () => {
    const slot = 'unexpected';
    const issued = f.publish({ names: ['unexpected.example.test'] });
    expect((await f.run(f.params(issued.versionId, slot))).code).toBe(0);
    // An awk that fails: the secret's split fails with no message of the program's own.
    const bin = path.join(f.root, 'failing-awk');
    mkdirSync(bin, { recursive: true });
    writeFileSync(path.join(bin, 'awk'), '#!/bin/sh\nexit 2\n', { mode: 0o755 });
    const r = await f.run(f.params(issued.versionId, slot), { PATH: pathWith(bin) });
    expect(r.code).toBe(EXIT.decrypt);
    expect(r.failure).toMatch(/^acm-export: FAILED at decrypt: unexpected error \(status 2 near line \d+\)$/);
    expect(inventory(slot).map((e) => [e.LastRun, e.FailedStep])).toEqual([['failed', 'decrypt']]);
  });

  test('still records a failure of its own (a secret that does not decrypt) when nobody holds the lock', async () => {
    const slot = 'failed-decrypt';
    const issued = f.publish({ names: ['decrypt.example.test'] });
    expect((await f.run(f.params(issued.versionId, slot))).code).toBe(0);
    const broken = f.publish({ names: ['decrypt.example.test'] }, (b) => ({
      ...b,
      passphrase: 'wrong-passphrase-0123456789',
    }));
    const r = await f.run(f.params(broken.versionId, slot));
    expect(r.code).toBe(EXIT.decrypt);
    expect(inventory(slot).map((e) => [e.LastRun, e.FailedStep, e.Serial])).toEqual([
      ['failed', 'decrypt', issued.serial],
    ]);
  });
});

describe('an association run that waited for the lock', () => {
  test('does not answer "unchanged" from the entry it read before: the target was removed and another secret installed', async () => {
    const slot = 'waited-unchanged';
    const issued = f.publish({ names: ['waited.example.test'] });
    const params = f.params(issued.versionId, slot);
    expect((await f.run(params)).code).toBe(0);
    // The association run of this target reads which version the node holds, then waits for the lock.
    const g = gate('unchanged', 'flock', '[ "$1" = -n ] && [ "$2" = 9 ]');
    const association = { ...withoutVersion(params), SecretVersionStage: 'AWSCURRENT' };
    const waiting = f.run(association, { PATH: pathWith(g.bin) });
    await until(g.ready);
    // Meanwhile the target is removed, and another target (another secret) installs the same certificate as
    // CertName site.
    expect((await f.run(withoutVersion(params), {}, 'remove')).code).toBe(0);
    const other = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:acm-export/other-XyZ987';
    const otherVersion = f.storeAs(other, issued);
    expect((await f.run({ ...params, SecretId: other, SecretVersionId: otherVersion })).code).toBe(0);
    writeFileSync(g.go, '');
    const r = await waiting;
    expect(r.stderr).not.toMatch(/unchanged: version/);
    // As the same run would without the wait: the name is the other target's now.
    expect([r.code, r.failure]).toEqual([
      EXIT.install,
      `acm-export: FAILED at install: site on this node holds the certificate of secret ${other}, not of ${params.SecretId}; refusing to replace it (remove that target first; nothing was changed)`,
    ]);
    // The other target's entry and record stand.
    expect(inventory(slot).map((e) => [e.SecretId, e.LastRun])).toEqual([[other, 'installed']]);
    expect(readFileSync(path.join(nodeDir(slot), 'state', 'owned', 'site'), 'utf8')).toContain(`SecretId=${other}`);
  });

  test.each([
    ['with', 'waited-stage', {}],
    ['without', 'waited-stage-no-inventory', { ACM_EXPORT_INVENTORY_DIR: '' }],
  ])(
    'installs nothing when its stage moved on meanwhile (a renewal pushed), %s a custom inventory directory',
    async (_with, slot, env: Record<string, string>) => {
      const first = f.publish({ names: ['stage.example.test'] });
      const params = f.params(first.versionId, slot);
      expect((await f.run(params, env)).code).toBe(0);
      const resolved = f.publish({ names: ['stage.example.test', 'www.stage.example.test'] });
      const g = gate(slot, 'flock', '[ "$1" = -n ] && [ "$2" = 9 ]');
      const waiting = f.run(
        { ...withoutVersion(params), SecretVersionStage: 'AWSCURRENT' },
        { ...env, PATH: pathWith(g.bin) },
      );
      await until(g.ready);
      // A renewal: a newer version (other names, so the never-downgrade rule does not apply) is pushed and installed.
      const newer = f.publish({ names: ['stage.example.test', 'www.stage.example.test', 'api.stage.example.test'] });
      expect((await f.run(f.params(newer.versionId, slot), env)).code).toBe(0);
      writeFileSync(g.go, '');
      const r = await waiting;
      expect(r.code).toBe(0);
      expect(r.result).toMatchObject({
        changed: false,
        secretVersionId: resolved.versionId,
        skipped: 'AWSCURRENT moved on while this run waited',
      });
      expect(readFileSync(path.join(params.CertDir!, 'site.crt'), 'utf8')).toBe(newer.certificate);
    },
  );
});

/** An nginx configuration (not started: for `nginx -t`) whose server names the slot's full chain and key. */
function nginxNaming(params: InstallParams, name: string): string {
  const dir = path.join(f.root, name);
  mkdirSync(dir, { recursive: true });
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `pid ${dir}/nginx.pid; error_log ${dir}/error.log; events {}\nhttp { access_log off; client_body_temp_path ${dir}/cb; proxy_temp_path ${dir}/p; fastcgi_temp_path ${dir}/f; uwsgi_temp_path ${dir}/u; scgi_temp_path ${dir}/s;\n` +
      ` server { listen 127.0.0.1:1; ssl_certificate ${params.CertDir}/site.fullchain.pem; ssl_certificate_key ${params.KeyDir}/site.key; } }\n`,
  );
  return conf;
}

describe('a removal stopped half way (SIGKILL)', () => {
  test('after it moved the names aside: the next removal puts them back and still runs the configuration test', async () => {
    const slot = 'removal-killed';
    const issued = f.publish({ names: ['killed.example.test'] });
    const params = f.params(issued.versionId, slot);
    expect((await f.run(params)).code).toBe(0);
    // nginx's configuration names the files: a removal is refused at its configuration test.
    const conf = nginxNaming(params, 'nginx-removal-killed');
    const removal = { ...withoutVersion(params), Service: 'nginx' };
    const env = { ACM_EXPORT_NGINX_CONF: conf };
    const key = path.join(params.KeyDir!, 'site.key');
    const keyLink = readlinkSync(key);
    expect((await f.run(removal, env, 'remove')).code).toBe(EXIT.configtest);
    // Killed right after it moved the last name aside, before its configuration test.
    const bin = killAfter('removal', 'mv', `[[ "\${@: -1}" == */.site.key.acm-export-rollback ]]`);
    expect((await f.run(removal, { ...env, PATH: pathWith(bin) }, 'remove')).code).toBeNull();
    expect(existsSync(key)).toBe(false);
    const again = await f.run(removal, env, 'remove');
    expect(again.code).toBe(EXIT.configtest);
    expect(again.stderr).toContain(`put back ${key}, which a removal that was stopped had moved aside`);
    // Everything as before the first removal: the names are links into the store again, no rollback link left.
    expect(readlinkSync(key)).toBe(keyLink);
    expect(existsSync(path.join(params.KeyDir!, '.site.key.acm-export-rollback'))).toBe(false);
    expect(spawnSync('nginx', ['-c', conf, '-t'], { stdio: 'ignore' }).status).toBe(0);
    // Without nginx naming them, a removal then deletes them.
    expect((await f.run(withoutVersion(params), {}, 'remove')).code).toBe(0);
    expect(() => lstatSync(key)).toThrow();
  });

  /**
   * A PATH directory whose programs that change files count their calls in one file and kill the run (SIGKILL)
   * right after call `n`.
   */
  function killAtCall(name: string, n: number): string {
    const bin = path.join(f.root, `kill-at-${name}`);
    mkdirSync(bin, { recursive: true });
    const counter = path.join(bin, 'count');
    writeFileSync(counter, '0');
    for (const cmd of ['mv', 'rm', 'rmdir', 'ln', 'mkdir', 'chmod', 'mktemp', 'sync', 'flock']) {
      writeFileSync(
        path.join(bin, cmd),
        `#!/bin/bash\n'${realCommand(cmd)}' "$@"; rc=$?\nc=$(($(cat '${counter}') + 1)); echo $c >'${counter}'\n` +
          `if [ "$c" = ${n} ]; then kill -KILL $PPID; fi\nexit $rc\n`,
        { mode: 0o755 },
      );
    }
    return bin;
  }

  test('at any step: the next removal completes it, and leaves nothing of it behind', async () => {
    const issued = f.publish({ names: ['every-step.example.test'] });
    let steps = 0;
    for (let n = 1; n <= 80; n += 1) {
      const slot = `removal-step-${n}`;
      const params = f.params(issued.versionId, slot);
      expect((await f.run(params)).code).toBe(0);
      const killed = await f.run(withoutVersion(params), { PATH: pathWith(killAtCall(slot, n)) }, 'remove');
      if (killed.code === 0) break; // fewer than n such calls: every step was covered
      steps = n;
      const again = await f.run(withoutVersion(params), {}, 'remove');
      expect([n, again.code, again.failure]).toEqual([n, 0, undefined]);
      const names = ['site.crt', 'site.chain.pem', 'site.fullchain.pem'].map((x) => path.join(params.CertDir!, x));
      names.push(path.join(params.KeyDir!, 'site.key'));
      for (const name of names) {
        expect([n, name, present(name), present(`${name}.prev`)]).toEqual([n, name, false, false]);
        expect([n, present(path.join(path.dirname(name), `.${path.basename(name)}.acm-export-rollback`))]).toEqual([
          n,
          false,
        ]);
      }
      expect([
        n,
        present(path.join(params.CertDir!, '.acm-export')),
        present(path.join(params.KeyDir!, '.acm-export')),
      ]).toEqual([n, false, false]);
      expect([n, present(path.join(nodeDir(slot), 'state', 'owned', 'site'))]).toEqual([n, false]);
      expect([n, inventory(slot)]).toEqual([n, []]);
    }
    expect(steps).toBeGreaterThanOrEqual(5);
  }, 180_000);

  test('at any step while the server still names the files: the next removal puts every name back', async () => {
    const issued = f.publish({ names: ['every-step-served.example.test'] });
    let steps = 0;
    for (let n = 1; n <= 40; n += 1) {
      const slot = `removal-served-step-${n}`;
      const params = f.params(issued.versionId, slot);
      expect((await f.run(params)).code).toBe(0);
      const removal = { ...withoutVersion(params), Service: 'nginx' };
      const env = { ACM_EXPORT_NGINX_CONF: nginxNaming(params, `nginx-${slot}`) };
      const killed = await f.run(removal, { ...env, PATH: pathWith(killAtCall(slot, n)) }, 'remove');
      if (killed.code === EXIT.configtest) break; // refused before call n: every step was covered
      steps = n;
      const again = await f.run(removal, env, 'remove');
      expect([n, again.code]).toEqual([n, EXIT.configtest]);
      // The set as the install left it: every name, the pair matching, no rollback link, the server's test passes.
      expect([n, readFileSync(path.join(params.CertDir!, 'site.fullchain.pem'), 'utf8')]).toEqual([
        n,
        issued.certificate + issued.chain,
      ]);
      expect([n, readFileSync(path.join(params.KeyDir!, 'site.key'), 'utf8')]).toEqual([n, issued.privateKey]);
      for (const dir of [params.CertDir!, params.KeyDir!])
        expect([n, readdirSync(dir).filter((x) => x.endsWith('.acm-export-rollback'))]).toEqual([n, []]);
      expect([n, spawnSync('nginx', ['-c', env.ACM_EXPORT_NGINX_CONF, '-t'], { stdio: 'ignore' }).status]).toEqual([
        n,
        0,
      ]);
    }
    expect(steps).toBeGreaterThanOrEqual(3);
  }, 120_000);

  test('between deleting the entry and rewriting the inventory: the next removal takes it out', async () => {
    const slot = 'removal-killed-inventory';
    const issued = f.publish({ names: ['entry.example.test'] });
    const params = f.params(issued.versionId, slot);
    expect((await f.run(params)).code).toBe(0);
    const bin = killAfter('inventory', 'rm', `[[ "\${@: -1}" == */state/inventory/site.json ]]`);
    expect((await f.run(withoutVersion(params), { PATH: pathWith(bin) }, 'remove')).code).toBeNull();
    expect(inventory(slot).map((e) => e.CertName)).toEqual(['site']);
    expect((await f.run(withoutVersion(params), {}, 'remove')).code).toBe(0);
    expect(inventory(slot)).toEqual([]);
  });
});

test("one CertName's removal empties .acm-export while another's first install is about to create its store there", async () => {
  const slot = 'shared-store-dir';
  const issued = f.publish({ names: ['shared.example.test'] });
  const a = f.params(issued.versionId, slot, { CertName: 'a' } as InstallParams);
  expect((await f.run(a)).code).toBe(0);
  const b = f.params(issued.versionId, slot, { CertName: 'b' } as InstallParams);
  const store = path.join(b.CertDir!, '.acm-export', 'b');
  // b stops just before it creates its store; a's removal then deletes the (empty) .acm-export.
  const g = gate('shared', 'mkdir', `[ "\${@: -1}" = '${store}' ]`);
  const install = f.run(b, { PATH: pathWith(g.bin) });
  await until(g.ready);
  expect((await f.run(withoutVersion(a), {}, 'remove')).code).toBe(0);
  writeFileSync(g.go, '');
  const r = await install;
  expect(r.code).toBe(0);
  expect(readFileSync(path.join(b.CertDir!, 'b.crt'), 'utf8')).toBe(issued.certificate);
});

describe('two document versions on one node (a stack update): each prunes the library cache of the other', () => {
  /**
   * The install program of another document version: the same programs, naming a library of another sha256 (put
   * where the fake S3 serves it). Runs in the slot's node like `f.run`, with `bin` first on its PATH.
   */
  function otherVersion(slot: string) {
    const library = nodeLibrary();
    const text = `${library.text}: another document version\n`;
    const sha256 = createHash('sha256').update(text).digest('hex');
    const key = `${'1'.repeat(64)}.sh`;
    f.aws.putObject(EXAMPLE_LIBRARY_LOCATION.bucket, key, text);
    const script = path.join(f.root, `install-${slot}.sh`);
    writeFileSync(
      script,
      readFileSync(installScriptWith(), 'utf8')
        .replace(EXAMPLE_LIBRARY_LOCATION.key, key)
        .replace(library.sha256, sha256),
    );
    const libraryFile = path.join(nodeDir(slot), 'state', 'lib', `${sha256}.sh`);
    const run = (params: InstallParams, bin: string) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const env = installEnv({
          params,
          path: [bin, f.aws.binDir],
          tmpDir: f.tmpDir,
          env: {
            ACM_EXPORT_STATE_DIR: path.join(nodeDir(slot), 'state'),
            ACM_EXPORT_INVENTORY_DIR: path.join(nodeDir(slot), 'inventory'),
            ACM_EXPORT_HOOKS_DIR: path.join(f.root, 'hooks.d'),
            ACM_EXPORT_TAKEOVER_DIR: path.join(f.root, 'takeover.d'),
          },
        });
        let stderr = '';
        const child = spawn('bash', [script], { env });
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        child.on('close', (code) => resolve({ code, stderr }));
      });
    return { libraryFile, run };
  }

  /**
   * The other version's run stops at `stopAt` (a program call, given its library's path); meanwhile a run of this
   * version prunes every other library; then the other run goes on and must install.
   */
  async function prunedMeanwhile(slot: string, cachedFirst: boolean, stopAt: (library: string) => [string, string]) {
    const issued = f.publish({ names: [`${slot}.example.test`] });
    const other = otherVersion(slot);
    if (cachedFirst) expect((await f.run(f.params(issued.versionId, slot))).code).toBe(0);
    const g = gate(slot, ...stopAt(other.libraryFile));
    const waiting = other.run(f.params(issued.versionId, slot, { CertName: 'other' } as InstallParams), g.bin);
    await until(g.ready);
    expect((await f.run(f.params(issued.versionId, slot))).code).toBe(0);
    expect(existsSync(other.libraryFile)).toBe(false);
    writeFileSync(g.go, '');
    expect((await waiting).code).toBe(0);
    expect(readFileSync(path.join(f.root, slot, 'certs', 'other.crt'), 'utf8')).toBe(issued.certificate);
  }

  test('a library pruned between its check and its use is fetched again', async () => {
    // Stopped right after it stored its library (the scan that reads it again), before it opened it.
    await prunedMeanwhile('pruned-before-open', false, (library) => [
      'find',
      `[ "$2" = '${library}' ] && [ "$3" = -maxdepth ]`,
    ]);
  });

  test('a library pruned once it was opened still runs', async () => {
    // This version's library is cached first; the other run opened its own and stops as it prunes this one's.
    await prunedMeanwhile('pruned-after-open', true, (library) => [
      'rm',
      `[ "\${@: -1}" != '${library}' ] && [[ "\${@: -1}" == */state/lib/*.sh ]]`,
    ]);
  });
});

/**
 * A run that waited for the CertName lock reads the store as the run that held the lock left it: what it read
 * before the lock (the directory-trust walk) says nothing about the store, which that run may have switched,
 * collected or removed meanwhile.
 */
describe('a run that waited for the lock', () => {
  /** Installs in a slot of its own, then starts `program` while another process holds the lock; `meanwhile` runs
   * once the program waits for it, then the lock is released. */
  async function waitedRun(lockSlot: string, program: DocumentKind, meanwhile: (params: InstallParams) => void) {
    const issued = f.publish({ names: ['waited.example.test'] });
    const params = f.params(issued.versionId, lockSlot);
    expect((await f.run(params)).code).toBe(0);
    const { SecretVersionId: _unused, ...runParams } = params;
    void _unused;
    const lockFile = path.join(f.root, 'nodes', lockSlot, 'state', 'locks', 'site.lock');
    // -o: the lock is flock's own, not its child's, so killing flock releases it.
    const holder = spawn('flock', ['-o', lockFile, 'sleep', '30'], { stdio: 'ignore' });
    try {
      while (spawnSync('flock', ['-n', lockFile, 'true']).status === 0) await new Promise((r) => setTimeout(r, 20));
      const waiting = f.run(runParams, { ACM_EXPORT_LOCK_SECONDS: '29' }, program);
      while (spawnSync('pgrep', ['-f', 'flock -w 29 9']).status !== 0) await new Promise((r) => setTimeout(r, 20));
      meanwhile(params);
      holder.kill();
      return { params, run: await waiting };
    } finally {
      holder.kill();
    }
  }
  /** The certificate's stable name made a link of someone else's: the same kind of file, another target. */
  function foreignLink(lockSlot: string, params: InstallParams) {
    const stable = path.join(params.CertDir!, 'site.crt');
    const foreign = path.join(f.root, lockSlot, 'foreign.crt');
    writeFileSync(foreign, 'not ours\n');
    rmSync(stable);
    symlinkSync(foreign, stable);
    return { stable, foreign };
  }

  test('a report reads the files as they are once it has the lock', async () => {
    let names = { stable: '', foreign: '' };
    const { run: r } = await waitedRun(
      'lock-waited-report',
      'report',
      (p) => (names = foreignLink('lock-waited-report', p)),
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      action: 'report',
      problem: `${names.stable} is not a file acm-export installed`,
    });
  });

  test('a removal leaves a link it did not make, though it was its own when the removal started', async () => {
    let names = { stable: '', foreign: '' };
    const { run: r } = await waitedRun(
      'lock-waited-remove',
      'remove',
      (p) => (names = foreignLink('lock-waited-remove', p)),
    );
    expect([r.code, r.failure]).toEqual([
      EXIT.install,
      `acm-export: FAILED at install: ${names.stable} is a symbolic link acm-export did not create; refusing to remove it (nothing was changed)`,
    ]);
    expect(readlinkSync(names.stable)).toBe(names.foreign);
    expect(readFileSync(names.foreign, 'utf8')).toBe('not ours\n');
  });
});
