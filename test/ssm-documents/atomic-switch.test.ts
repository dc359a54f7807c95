/**
 * The whole set switches at once: a run killed (SIGKILL, no trap) at each of its file operations never
 * leaves a certificate with a key that does not match it, and the next run completes with the new set.
 * Uses the test-only kill points of lib/files.sh (ACM_EXPORT_TEST_KILL_AT=N: the run kills itself at its
 * N-th file operation).
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { createFixture, hooksDirOf, present, type Fixture } from './fixture';
import { EXIT, type InstallParams } from '../helpers/install-script';

let f: Fixture;
beforeAll(() => {
  f = createFixture('atomic');
});
afterAll(() => f.cleanup());

const publicKey = (args: string[], file: string) =>
  execFileSync('openssl', [...args, '-in', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });

/** The serial behind the stable certificate name, after checking that the stable key name belongs to it. */
function livePair(params: InstallParams): string {
  const crt = path.join(params.CertDir!, 'site.crt');
  const key = path.join(params.KeyDir!, 'site.key');
  const certPub = publicKey(['x509', '-noout', '-pubkey'], crt);
  expect(publicKey(['pkey', '-pubout'], key)).toBe(certPub);
  for (const [full, parts] of [
    [path.join(params.CertDir!, 'site.fullchain.pem'), ['site.crt', 'site.chain.pem']],
  ] as const)
    expect(readFileSync(full, 'utf8')).toBe(
      parts.map((p) => readFileSync(path.join(params.CertDir!, p), 'utf8')).join(''),
    );
  return execFileSync('openssl', ['x509', '-noout', '-serial', '-in', crt], { encoding: 'utf8' }).trim();
}

test('a run killed at any step leaves the old or the new set, never a mix, and the next run completes', async () => {
  // Two certificates with different names (a renewal of the same names that expires earlier would be skipped).
  const a = f.publish({ names: ['a.example.test'] });
  const b = f.publish({ names: ['b.example.test'] });
  const serial = (c: { serial: string }) => `serial=${c.serial}`;
  const params = f.params(a.versionId, 'kill', { CombinedPem: 'true' });
  expect((await f.run(params)).code).toBe(0);
  let live = a;
  let killedAt = 0;
  for (let n = 1; n < 40; n += 1) {
    const next = live === a ? b : a;
    const killed = await f.run({ ...params, SecretVersionId: next.versionId }, { ACM_EXPORT_TEST_KILL_AT: String(n) });
    if (killed.code === 0) break; // fewer than n file operations: every step was covered
    expect(killed.code).toBeNull(); // killed by the signal, no exit code
    killedAt = n;
    expect([serial(live), serial(next)]).toContain(livePair(params));
    const combined = path.join(params.KeyDir!, 'site.combined.pem');
    expect(publicKey(['pkey', '-pubout'], combined)).toBe(
      publicKey(['pkey', '-pubout'], path.join(params.KeyDir!, 'site.key')),
    );
    // The next run completes and leaves the new set.
    const after = await f.run({ ...params, SecretVersionId: next.versionId });
    expect(after.code).toBe(0);
    expect(livePair(params)).toBe(serial(next));
    live = next;
  }
  // Every operation was a kill point, up to the last one.
  expect(killedAt).toBeGreaterThanOrEqual(5);
  // Two versions kept (current and previous), nothing else left by the killed runs.
  const store = path.join(params.CertDir!, '.acm-export', 'site');
  const versions = readdirSync(store).filter((n) => n.startsWith('v'));
  expect(versions).toHaveLength(2);
  expect(versions).toContain(readlinkSync(path.join(store, 'current')));
  expect(versions).toContain(readlinkSync(path.join(store, 'previous')));
  expect(readdirSync(path.join(params.KeyDir!, '.acm-export', 'site')).sort()).toEqual(versions.sort());
  expect(readdirSync(params.CertDir!).filter((n) => n.includes('acm-export-link'))).toEqual([]);
}, 60_000);

test('the stable names are links into the current version; the key stays below KeyDir', async () => {
  const c = f.publish({ names: ['layout.example.test'] });
  const params = f.params(c.versionId, 'layout');
  expect((await f.run(params)).code).toBe(0);
  const crt = path.join(params.CertDir!, 'site.crt');
  const key = path.join(params.KeyDir!, 'site.key');
  expect(readlinkSync(crt)).toBe('.acm-export/site/current/cert.pem');
  expect(readlinkSync(key)).toBe(path.join(params.CertDir!, '.acm-export/site/current/key.pem'));
  const store = path.join(params.CertDir!, '.acm-export', 'site');
  const version = readlinkSync(path.join(store, 'current'));
  const keyFile = path.join(params.KeyDir!, '.acm-export', 'site', version, 'key.pem');
  expect(readlinkSync(path.join(store, version, 'key.pem'))).toBe(keyFile);
  expect(lstatSync(keyFile).isFile()).toBe(true);
  expect(lstatSync(keyFile).mode & 0o777).toBe(0o600);
  expect(lstatSync(path.dirname(keyFile)).mode & 0o777).toBe(0o700);
});

test('an install or a removal for other directories than the record is refused: nothing is left behind unowned', async () => {
  const a = f.publish({ names: ['keydir-a.example.test'] });
  const b = f.publish({ names: ['keydir-b.example.test'] });
  const params = f.params(a.versionId, 'keydir');
  expect((await f.run(params)).code).toBe(0);
  const store = path.join(params.CertDir!, '.acm-export', 'site');
  const before = readlinkSync(path.join(store, 'current'));
  // Same CertName and CertDir, the key moved to a new KeyDir.
  const otherKeyDir = path.join(f.root, 'keydir', 'private2');
  const moved = { ...params, SecretVersionId: b.versionId, KeyDir: otherKeyDir };
  const r = await f.run(moved);
  expect(r.code).toBe(EXIT.install);
  expect(r.failure).toBe(
    `acm-export: FAILED at install: site is installed on this node in CertDir ${params.CertDir} and KeyDir ${params.KeyDir} (its record), not in ${params.CertDir} and ${otherKeyDir}; installing there would leave those files behind: remove the target with its files first, or keep its directories (nothing was changed)`,
  );
  expect(readlinkSync(path.join(store, 'current'))).toBe(before);
  expect(livePair(params)).toBe(`serial=${a.serial}`);
  const { SecretVersionId: _unused, ...removal } = moved;
  void _unused;
  const removed = await f.run(removal, {}, 'remove');
  expect(removed.code).toBe(EXIT.install);
  expect(removed.failure).toContain(
    'a removal there would leave those files behind: send it for the directories of the record (nothing was removed)',
  );
  expect(livePair(params)).toBe(`serial=${a.serial}`);
  // For the recorded directories the removal goes through, and leaves nothing of ours.
  const { SecretVersionId: _v, ...own } = params;
  void _v;
  expect((await f.run(own, {}, 'remove')).code).toBe(0);
  expect(readdirSync(params.KeyDir!)).toEqual([]);
});

test("a run's clean-up of half-made links never takes another CertName's (a and a.b share a prefix)", async () => {
  const c = f.publish({ names: ['prefix.example.test'] });
  const params = f.params(c.versionId, 'prefix', { CertName: 'a' });
  expect((await f.run(params)).code).toBe(0);
  // CertName a.b's temporary link, as a run of a.b would have it between its ln and its rename.
  const other = path.join(params.CertDir!, '.a.b.crt.acm-export-link.424242');
  symlinkSync('.acm-export/a.b/current/cert.pem', other);
  // And one of a's own, left by a killed run: that one goes.
  const own = path.join(params.CertDir!, '.a.crt.acm-export-link.424242');
  symlinkSync('.acm-export/a/current/cert.pem', own);
  const next = f.publish({ names: ['prefix2.example.test'] });
  expect((await f.run({ ...params, SecretVersionId: next.versionId })).code).toBe(0);
  expect(lstatSync(other).isSymbolicLink()).toBe(true);
  expect(present(own)).toBe(false);
});

test('a run killed after its switch, before its hooks: the next run, with nothing to write, runs them', async () => {
  const a = f.publish({ names: ['resume-a.example.test'] });
  const b = f.publish({ names: ['resume-b.example.test'] });
  let resumed = 0;
  for (let n = 1; n < 40; n += 1) {
    const params = f.params(a.versionId, `resume-${n}`);
    const hooks = hooksDirOf(params);
    mkdirSync(hooks, { recursive: true, mode: 0o755 });
    const log = path.join(f.root, `resume-${n}.log`);
    writeFileSync(path.join(hooks, '10-log'), `#!/bin/sh\necho "$ACM_EXPORT_SERIAL" >>${log}\n`, { mode: 0o755 });
    expect((await f.run(params)).code).toBe(0);
    const next = { ...params, SecretVersionId: b.versionId };
    const killed = await f.run(next, { ACM_EXPORT_TEST_KILL_AT: String(n) });
    if (killed.code === 0) break;
    const hookRan = () => readFileSync(log, 'utf8').includes(b.serial);
    const switched = readFileSync(path.join(params.CertDir!, 'site.crt'), 'utf8') === b.certificate;
    if (!switched || hookRan()) continue;
    // The new set is live and its hooks never ran: the next run (here the association's, which names the
    // version by its stage) completes them.
    f.aws.setCurrent(b.versionId);
    const { SecretVersionId: _unused, ...association } = next;
    void _unused;
    const again = await f.run({ ...association, SecretVersionStage: 'AWSCURRENT' });
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('completing an earlier run');
    expect(hookRan()).toBe(true);
    expect(livePair(params)).toBe(`serial=${b.serial}`);
    // The names that run did not get to are made too: the .prev pair names the set it replaced.
    expect(readFileSync(path.join(params.CertDir!, 'site.crt.prev'), 'utf8')).toBe(a.certificate);
    expect(publicKey(['pkey', '-pubout'], path.join(params.KeyDir!, 'site.key.prev'))).toBe(
      publicKey(['x509', '-noout', '-pubkey'], path.join(params.CertDir!, 'site.crt.prev')),
    );
    // And only once: the run after it is unchanged and runs nothing.
    const third = await f.run(next);
    expect(third.stderr).not.toContain('completing an earlier run');
    expect(readFileSync(log, 'utf8').split(b.serial).length - 1).toBe(1);
    resumed += 1;
  }
  expect(resumed).toBeGreaterThanOrEqual(1);
}, 120_000);
