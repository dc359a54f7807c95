/**
 * Ownership on the node: acm-export replaces or deletes only what its record (or the proven state of the
 * previous layout) says it wrote; a removal puts back an original that layout replaced.
 */
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { EXIT } from '../helpers/install-script';
import { createFixture, hooksDirOf, REGION, SECRET_ID, writeFailingHook, type Fixture } from './fixture';

let f: Fixture;
beforeAll(() => {
  f = createFixture('owned');
});
afterAll(() => f.cleanup());

const FOREIGN = '-----BEGIN CERTIFICATE-----\nnot ours: the system CA bundle\n-----END CERTIFICATE-----\n';

test('CertName=ca-certificates over a foreign file of that name is refused and leaves it untouched', async () => {
  const cert = f.publish({ names: ['ca.example.test'] });
  const params = f.params(cert.versionId, 'system', { CertName: 'ca-certificates' });
  mkdirSync(params.CertDir!, { recursive: true, mode: 0o755 });
  const bundle = path.join(params.CertDir!, 'ca-certificates.crt');
  writeFileSync(bundle, FOREIGN, { mode: 0o644 });
  const before = statSync(bundle);
  const r = await f.run(params);
  expect(r.code).toBe(EXIT.install);
  expect(r.failure).toBe(
    `acm-export: FAILED at install: ${bundle} is a file acm-export did not write (no record of it on this node); refusing to replace it (nothing was changed; ${f.root}/takeover.d/ca-certificates would let acm-export take it over)`,
  );
  const removal = await f.run(params, {}, 'remove');
  expect(removal.code).toBe(EXIT.install);
  expect(removal.failure).toContain(`${bundle} is a file acm-export did not write`);
  expect(readFileSync(bundle, 'utf8')).toBe(FOREIGN);
  expect(statSync(bundle).ino).toBe(before.ino);
  expect(existsSync(path.join(params.KeyDir!, 'ca-certificates.key'))).toBe(false);
});

test('a certificate name held by another secret is refused, naming both', async () => {
  const cert = f.publish({ names: ['held.example.test'] });
  const params = f.params(cert.versionId, 'held');
  expect((await f.run(params)).code).toBe(0);
  const other = `${SECRET_ID.replace(/site-AbC123$/, '')}other-XyZ789`;
  const issued = f.publish({ names: ['other.example.test'] });
  const versionId = f.storeAs(other, issued);
  const r = await f.run({ ...params, SecretId: other, SecretVersionId: versionId });
  expect(r.code).toBe(EXIT.install);
  expect(r.failure).toBe(
    `acm-export: FAILED at install: site on this node holds the certificate of secret ${SECRET_ID}, not of ${other}; refusing to replace it (remove that target first; nothing was changed)`,
  );
  expect(readFileSync(path.join(params.CertDir!, 'site.crt'), 'utf8')).toBe(cert.certificate);
});

/**
 * A name recorded for another secret passes to this one only where `POST /exports` frees it too: the other
 * secret is of the same target (`<prefix>/<certificate id>/<target hash>`) and its target was deleted.
 */
test('a name held by another secret of this target passes to a new secret only once that secret is deleted or gone', async () => {
  const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:acm-export/stack';
  const HASH = '0123456789abcdef';
  const holder = `${ARN}/cert-a/${HASH}-AbC123`;
  const next = `${ARN}/cert-b/${HASH}-XyZ789`;
  const describeCalls = () => f.aws.calls().filter((c) => c[1] === 'describe-secret' && c[7] === 'DeletedDate');
  /** A new version of `secretId` holding `issued`. */
  const store = (secretId: string, issued: ReturnType<Fixture['publish']>) => ({
    SecretId: secretId,
    SecretVersionId: f.storeAs(secretId, issued),
  });
  const first = f.publish({ names: ['holder.example.test'] });
  const params = f.params(first.versionId, 'released', store(holder, first));
  const env = { ACM_EXPORT_STATE_DIR: path.join(f.root, 'released', 'state') };
  const owned = path.join(env.ACM_EXPORT_STATE_DIR, 'owned', 'site');
  const crt = () => readFileSync(path.join(params.CertDir!, 'site.crt'), 'utf8');
  expect((await f.run(params, env)).code).toBe(0);
  const second = f.publish({ names: ['next.example.test'] });
  /** Installs `second` from `secretId`: the failure line ('' on success) and the DescribeSecret calls made. */
  const attempt = async (secretId: string) => {
    const callsBefore = describeCalls().length;
    const r = await f.run({ ...params, ...store(secretId, second) }, env);
    return { failure: r.code === 0 ? '' : r.failure, describeCalls: describeCalls().length - callsBefore, r };
  };
  const refusal = (of: string) =>
    `acm-export: FAILED at install: site on this node holds the certificate of secret ${holder}, not of ${of}; refusing to replace it (remove that target first; nothing was changed)`;

  // The holder's target still exists: refused, after one DescribeSecret.
  expect(await attempt(next)).toMatchObject({ failure: refusal(next), describeCalls: 1 });
  f.aws.deleteSecret(REGION, holder);
  // Deleted, but the node cannot tell (DescribeSecret denied): refused.
  f.aws.denyDescribe();
  expect((await attempt(next)).failure).toBe(refusal(next));
  f.aws.denyDescribe(false);
  // Deleted, but the new secret is of another target or another stack's prefix: refused without asking AWS.
  for (const other of [`${ARN}/cert-b/fedcba9876543210-XyZ789`, `${ARN}-other/cert-b/${HASH}-XyZ789`])
    expect(await attempt(other)).toMatchObject({ failure: refusal(other), describeCalls: 0 });
  expect(crt()).toBe(first.certificate);

  // Deleted (its target was): the new secret takes the name over; the record names it from now on.
  const taken = await attempt(next);
  expect(taken).toMatchObject({ failure: '', describeCalls: 1 });
  expect(taken.r.stderr).toContain(`site was installed from secret ${holder} of this target, which is deleted`);
  expect(crt()).toBe(second.certificate);
  expect(readFileSync(owned, 'utf8')).toContain(`SecretId=${next}\n`);

  // Gone altogether (ResourceNotFoundException): taken over too.
  const gone = `${ARN}/cert-gone/${HASH}-QqQ111`;
  writeFileSync(owned, readFileSync(owned, 'utf8').replace(`SecretId=${next}\n`, `SecretId=${gone}\n`));
  const third = f.publish({ names: ['third.example.test'] });
  const later = `${ARN}/cert-c/${HASH}-ZzZ222`;
  expect((await f.run({ ...params, ...store(later, third) }, env)).code).toBe(0);
  expect(crt()).toBe(third.certificate);
});

test('the record lists the secret, its version and the sha256 of each file written', async () => {
  const cert = f.publish({ names: ['record.example.test'] });
  const params = f.params(cert.versionId, 'record');
  const env = { ACM_EXPORT_STATE_DIR: path.join(f.root, 'record-state') };
  expect((await f.run(params, env)).code).toBe(0);
  const record = readFileSync(path.join(f.root, 'record-state', 'owned', 'site'), 'utf8');
  expect(record).toContain(`SecretId=${SECRET_ID}\nSecretVersionId=${cert.versionId}\n`);
  expect(record).toMatch(/^Sha256:cert\.pem=[0-9a-f]{64}$/m);
  expect(record).toMatch(/^Sha256:key\.pem=[0-9a-f]{64}$/m);
  expect(statSync(path.join(f.root, 'record-state', 'owned', 'site')).mode & 0o777).toBe(0o600);
});

/** The previous layout: plain files at the stable names, .prev copies, and its inventory entry. */
function legacyInstall(slot: string, live: ReturnType<Fixture['publish']>, prev: { crt: string; key: string }) {
  const params = f.params(live.versionId, slot);
  const certDir = params.CertDir!;
  const keyDir = params.KeyDir!;
  mkdirSync(certDir, { recursive: true, mode: 0o755 });
  mkdirSync(keyDir, { recursive: true, mode: 0o700 });
  writeFileSync(path.join(certDir, 'site.crt'), live.certificate, { mode: 0o644 });
  writeFileSync(path.join(certDir, 'site.chain.pem'), live.chain, { mode: 0o644 });
  writeFileSync(path.join(certDir, 'site.fullchain.pem'), live.certificate + live.chain, { mode: 0o644 });
  writeFileSync(path.join(keyDir, 'site.key'), live.privateKey, { mode: 0o600 });
  writeFileSync(path.join(certDir, 'site.crt.prev'), prev.crt, { mode: 0o644 });
  writeFileSync(path.join(keyDir, 'site.key.prev'), prev.key, { mode: 0o600 });
  const state = path.join(f.root, `${slot}-state`);
  mkdirSync(path.join(state, 'inventory'), { recursive: true });
  writeFileSync(
    path.join(state, 'inventory', 'site.json'),
    `${JSON.stringify({ CertName: 'site', SecretId: SECRET_ID, Serial: live.serial, LastRun: 'installed' })}\n`,
  );
  return { params, env: { ACM_EXPORT_STATE_DIR: state }, certDir, keyDir };
}

test('upgrade: a proven install of the previous layout is adopted; the original it replaced is put back by remove', async () => {
  const old = f.publish({ names: ['legacy.example.test'] });
  const { params, env, certDir, keyDir } = legacyInstall('legacy', old, { crt: FOREIGN, key: 'original key\n' });
  const next = f.publish({ names: ['legacy.example.test'] });
  const r = await f.run({ ...params, SecretVersionId: next.versionId }, env);
  expect(r.code).toBe(0);
  expect(r.stderr).toContain('adopted the files of the previous acm-export layout');
  expect(readlinkSync(path.join(certDir, 'site.crt'))).toBe('.acm-export/site/current/cert.pem');
  expect(readFileSync(path.join(certDir, 'site.crt'), 'utf8')).toBe(next.certificate);
  expect(readFileSync(path.join(certDir, 'site.crt.prev'), 'utf8')).toBe(old.certificate);
  const removal = await f.run(params, env, 'remove');
  expect(removal.code).toBe(0);
  // The originals are back as the regular files they were; nothing of ours is left.
  expect(lstatSync(path.join(certDir, 'site.crt')).isFile()).toBe(true);
  expect(readFileSync(path.join(certDir, 'site.crt'), 'utf8')).toBe(FOREIGN);
  expect(readFileSync(path.join(keyDir, 'site.key'), 'utf8')).toBe('original key\n');
  expect(existsSync(path.join(certDir, 'site.chain.pem'))).toBe(false);
  expect(existsSync(path.join(certDir, '.acm-export'))).toBe(false);
  expect(existsSync(path.join(keyDir, '.acm-export'))).toBe(false);
});

/** The public key of a certificate or key file, to compare a live pair ('' when it cannot be read). */
function publicKeyOf(file: string, kind: 'x509' | 'pkey'): string {
  const args = kind === 'x509' ? ['x509', '-noout', '-pubkey'] : ['pkey', '-pubout'];
  try {
    return execFileSync('openssl', [...args, '-in', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
}

test('upgrade: an adoption killed at any step is finished by the next run, which installs', async () => {
  let killedAt = 0;
  for (let n = 1; n < 40; n += 1) {
    const old = f.publish({ names: [`adopt${n}.example.test`] });
    const original = f.publish({ names: [`original${n}.example.test`] });
    const { params, env, certDir, keyDir } = legacyInstall(`adopt-kill-${n}`, old, {
      crt: original.certificate,
      key: original.privateKey,
    });
    const next = f.publish({ names: [`adopt${n}.example.test`] });
    const killed = await f.run(
      { ...params, SecretVersionId: next.versionId },
      { ...env, ACM_EXPORT_TEST_KILL_AT: String(n) },
    );
    if (killed.code === 0) break;
    expect(killed.code).toBeNull();
    killedAt = n;
    // The live pair matches at every step (hard links, then links to the same files).
    const crt = path.join(certDir, 'site.crt');
    expect(publicKeyOf(crt, 'x509')).not.toBe('');
    expect(publicKeyOf(path.join(keyDir, 'site.key'), 'pkey')).toBe(publicKeyOf(crt, 'x509'));
    const again = await f.run({ ...params, SecretVersionId: next.versionId }, env);
    expect({ n, code: again.code, failure: again.failure }).toEqual({ n, code: 0, failure: undefined });
    expect(readFileSync(crt, 'utf8')).toBe(next.certificate);
    expect(readlinkSync(path.join(keyDir, 'site.key'))).toBe(path.join(certDir, '.acm-export/site/current/key.pem'));
    // No plain .prev copy is left behind (each is kept in the store until a removal puts it back).
    for (const prev of [path.join(certDir, 'site.crt.prev'), path.join(keyDir, 'site.key.prev')])
      expect(existsSync(prev) && lstatSync(prev).isFile()).toBe(false);
  }
  expect(killedAt).toBeGreaterThanOrEqual(5);
}, 120_000);

test('upgrade: plain files without the previous layout state proving them are refused', async () => {
  const old = f.publish({ names: ['unproven.example.test'] });
  const { params, env, certDir, keyDir } = legacyInstall('unproven', old, {
    crt: old.certificate,
    key: old.privateKey,
  });
  writeFileSync(path.join(env.ACM_EXPORT_STATE_DIR, 'inventory', 'site.json'), '{"SecretId":"someone else"}\n');
  const next = f.publish({ names: ['unproven.example.test'] });
  const r = await f.run({ ...params, SecretVersionId: next.versionId }, env);
  expect(r.code).toBe(EXIT.install);
  // The .prev names are named first: a takeover file would not let acm-export take them over.
  expect(r.failure).toContain(`${path.join(keyDir, 'site.key.prev')} is a file acm-export did not write`);
  expect(readFileSync(path.join(certDir, 'site.crt'), 'utf8')).toBe(old.certificate);
});

test('a removal where the install never ran deletes nothing', async () => {
  const cert = f.publish({ names: ['never.example.test'] });
  const params = f.params(cert.versionId, 'never');
  const r = await f.run(params, {}, 'remove');
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ removed: [], changed: false });
});

/**
 * Takeover: a placeholder the operator put at the stable names (so the web server starts before the first
 * install) is replaced only when the operator's takeover file for that CertName allows it.
 */
describe('takeover of files at the stable names', () => {
  const PLACEHOLDER_CERT = '-----BEGIN CERTIFICATE-----\nself-signed placeholder\n-----END CERTIFICATE-----\n';
  const PLACEHOLDER_KEY = '-----BEGIN PRIVATE KEY-----\nplaceholder key\n-----END PRIVATE KEY-----\n';

  /** A placeholder at the paths a server config names (fullchain and key), and where its takeover file goes. */
  function placeholder(slot: string) {
    const cert = f.publish({ names: [`${slot}.example.test`] });
    const params = f.params(cert.versionId, slot);
    const fullchain = path.join(params.CertDir!, 'site.fullchain.pem');
    const key = path.join(params.KeyDir!, 'site.key');
    mkdirSync(params.CertDir!, { recursive: true, mode: 0o755 });
    mkdirSync(params.KeyDir!, { recursive: true, mode: 0o700 });
    writeFileSync(fullchain, PLACEHOLDER_CERT, { mode: 0o644 });
    writeFileSync(key, PLACEHOLDER_KEY, { mode: 0o600 });
    const takeoverDir = path.join(f.root, slot, 'takeover.d');
    const env = { ACM_EXPORT_TAKEOVER_DIR: takeoverDir, ACM_EXPORT_STATE_DIR: path.join(f.root, slot, 'state') };
    return { cert, params, fullchain, key, takeoverDir, env };
  }
  function allowTakeover(takeoverDir: string, mode = 0o644) {
    mkdirSync(takeoverDir, { recursive: true, mode: 0o755 });
    writeFileSync(path.join(takeoverDir, 'site'), '', { mode });
    chmodSync(path.join(takeoverDir, 'site'), mode);
  }
  function expectPlaceholder(fullchain: string, key: string) {
    expect(lstatSync(fullchain).isFile()).toBe(true);
    expect(readFileSync(fullchain, 'utf8')).toBe(PLACEHOLDER_CERT);
    expect(lstatSync(key).isFile()).toBe(true);
    expect(readFileSync(key, 'utf8')).toBe(PLACEHOLDER_KEY);
    expect(statSync(key).mode & 0o777).toBe(0o600);
  }

  test('without a takeover file the placeholder is refused, and the line names the file that would allow it', async () => {
    const { params, fullchain, key, takeoverDir, env } = placeholder('no-takeover');
    const r = await f.run(params, env);
    expect(r.code).toBe(EXIT.install);
    expect(r.failure).toBe(
      `acm-export: FAILED at install: ${fullchain} is a file acm-export did not write (no record of it on this node); refusing to replace it (nothing was changed; ${takeoverDir}/site would let acm-export take it over)`,
    );
    expectPlaceholder(fullchain, key);
  });

  test('with it the install takes the placeholder over, and remove puts it back byte for byte', async () => {
    const { cert, params, fullchain, key, takeoverDir, env } = placeholder('takeover');
    allowTakeover(takeoverDir);
    const r = await f.run(params, env);
    expect(r.code).toBe(0);
    expect(readlinkSync(fullchain)).toBe('.acm-export/site/current/fullchain.pem');
    expect(readFileSync(fullchain, 'utf8')).toBe(cert.certificate + cert.chain);
    expect(readFileSync(key, 'utf8')).toBe(cert.privateKey);
    const removal = await f.run(params, env, 'remove');
    expect(removal.code).toBe(0);
    expectPlaceholder(fullchain, key);
    expect(existsSync(path.join(params.CertDir!, 'site.crt'))).toBe(false);
    expect(existsSync(path.join(params.CertDir!, '.acm-export'))).toBe(false);
  });

  test('a first install that fails after taking the placeholder over puts it back', async () => {
    const { params, fullchain, key, takeoverDir, env } = placeholder('takeover-rollback');
    allowTakeover(takeoverDir);
    const hooks = hooksDirOf(params);
    mkdirSync(hooks, { recursive: true, mode: 0o755 });
    writeFileSync(path.join(hooks, '10-fail'), '#!/bin/sh\nexit 3\n', { mode: 0o755 });
    chmodSync(path.join(hooks, '10-fail'), 0o755);
    const r = await f.run(params, env);
    expect(r.code).toBe(EXIT.hooks);
    expectPlaceholder(fullchain, key);
  });

  test("a takeover killed at any step leaves the operator's pair or the new one, never a mix; the next run completes", async () => {
    let killedAt = 0;
    for (let n = 1; n < 40; n += 1) {
      const slot = `takeover-kill-${n}`;
      const operator = f.publish({ names: [`operator${n}.example.test`] });
      const next = f.publish({ names: [`next${n}.example.test`] });
      const params = f.params(next.versionId, slot);
      const crt = path.join(params.CertDir!, 'site.crt');
      const key = path.join(params.KeyDir!, 'site.key');
      mkdirSync(params.CertDir!, { recursive: true, mode: 0o755 });
      mkdirSync(params.KeyDir!, { recursive: true, mode: 0o700 });
      writeFileSync(crt, operator.certificate, { mode: 0o644 });
      writeFileSync(key, operator.privateKey, { mode: 0o600 });
      const takeoverDir = path.join(f.root, slot, 'takeover.d');
      allowTakeover(takeoverDir);
      const env = { ACM_EXPORT_TAKEOVER_DIR: takeoverDir, ACM_EXPORT_STATE_DIR: path.join(f.root, slot, 'state') };
      const killed = await f.run(params, { ...env, ACM_EXPORT_TEST_KILL_AT: String(n) });
      if (killed.code === 0) break;
      expect(killed.code).toBeNull();
      killedAt = n;
      const shown = publicKeyOf(crt, 'x509');
      expect([publicKeyOf(crt, 'x509'), publicKeyOf(key, 'pkey')]).toEqual([shown, shown]);
      expect([operator.certificate, next.certificate]).toContain(readFileSync(crt, 'utf8'));
      const again = await f.run(params, env);
      expect({ n, code: again.code, failure: again.failure }).toEqual({ n, code: 0, failure: undefined });
      expect(readFileSync(crt, 'utf8')).toBe(next.certificate);
      expect(publicKeyOf(key, 'pkey')).toBe(publicKeyOf(crt, 'x509'));
    }
    expect(killedAt).toBeGreaterThanOrEqual(5);
  }, 120_000);

  test('a takeover rolled back: without the takeover file the placeholder is not taken again, and a removal leaves it', async () => {
    const { params, fullchain, key, takeoverDir, env } = placeholder('takeover-withdrawn');
    allowTakeover(takeoverDir);
    const hook = writeFailingHook(params);
    expect((await f.run(params, env)).code).toBe(EXIT.hooks);
    expectPlaceholder(fullchain, key);
    rmSync(hook);
    rmSync(path.join(takeoverDir, 'site'));
    const again = await f.run(params, env);
    expect(again.code).toBe(EXIT.install);
    expect(again.failure).toContain(`${fullchain} is a file acm-export did not write`);
    expectPlaceholder(fullchain, key);
    const removal = await f.run(params, env, 'remove');
    expect(removal.code).toBe(0);
    expectPlaceholder(fullchain, key);
  });

  test('a takeover rolled back, then the placeholder rewritten: the next takeover keeps the new one as the original', async () => {
    const { cert, params, fullchain, takeoverDir, env } = placeholder('takeover-rewritten');
    allowTakeover(takeoverDir);
    const hook = writeFailingHook(params);
    expect((await f.run(params, env)).code).toBe(EXIT.hooks);
    rmSync(hook);
    // The operator writes a new placeholder (a new file at the name, as cp or an editor does).
    rmSync(fullchain);
    writeFileSync(fullchain, `${PLACEHOLDER_CERT}# renewed by hand\n`, { mode: 0o644 });
    const r = await f.run(params, env);
    expect(r.code).toBe(0);
    expect(readFileSync(fullchain, 'utf8')).toBe(cert.certificate + cert.chain);
    expect((await f.run(params, env, 'remove')).code).toBe(0);
    expect(readFileSync(fullchain, 'utf8')).toBe(`${PLACEHOLDER_CERT}# renewed by hand\n`);
    expect(lstatSync(fullchain).isFile()).toBe(true);
  });

  test('a failing takeover killed at any step: the next failing run rolls back to what the names showed, a placeholder as plain files', async () => {
    let killedAt = 0;
    let placeholderShown = 0;
    for (let n = 1; n < 60; n += 1) {
      const { params, fullchain, key, takeoverDir, env } = placeholder(`takeover-undo-${n}`);
      allowTakeover(takeoverDir);
      writeFailingHook(params);
      const killed = await f.run(params, { ...env, ACM_EXPORT_TEST_KILL_AT: String(n) });
      if (killed.code === EXIT.hooks) break; // fewer than n file operations, the rollback included
      expect(killed.code).toBeNull();
      killedAt = n;
      // What the names showed when the run was killed: the placeholder (plain, or through links into the
      // snapshot) or the set that run had switched to.
      const shown = [readFileSync(fullchain, 'utf8'), readFileSync(key, 'utf8')];
      const again = await f.run(params, env);
      if (shown[0] === PLACEHOLDER_CERT) {
        placeholderShown += 1;
        expect({ n, code: again.code }).toEqual({ n, code: EXIT.hooks });
        expectPlaceholder(fullchain, key);
      } else {
        // The new set was live already: the next run finds it complete (unchanged) or rolls back to it.
        expect([0, EXIT.hooks]).toContain(again.code);
        expect([readFileSync(fullchain, 'utf8'), readFileSync(key, 'utf8')]).toEqual(shown);
      }
    }
    expect(killedAt).toBeGreaterThanOrEqual(10);
    // Kills before the switch and during the first run's own rollback both left the placeholder showing.
    expect(placeholderShown).toBeGreaterThan(killedAt / 2);
  }, 120_000);

  test('a takeover leaves a file at a name this install does not write as it was', async () => {
    const { cert, params, key, takeoverDir, env } = placeholder('takeover-unwritten');
    allowTakeover(takeoverDir);
    // CombinedPem is off: the combined name is not one this install writes.
    const combined = path.join(params.KeyDir!, 'site.combined.pem');
    writeFileSync(combined, PLACEHOLDER_KEY, { mode: 0o600 });
    const r = await f.run(params, env);
    expect(r.code).toBe(0);
    expect(readFileSync(key, 'utf8')).toBe(cert.privateKey);
    expect(lstatSync(combined).isFile()).toBe(true);
    expect(readFileSync(combined, 'utf8')).toBe(PLACEHOLDER_KEY);
  });

  test('a takeover file others can write is refused, as the hooks directory would be', async () => {
    const { params, fullchain, key, takeoverDir, env } = placeholder('takeover-open');
    allowTakeover(takeoverDir, 0o646);
    const r = await f.run(params, env);
    expect(r.code).toBe(EXIT.preflight);
    expect(r.stderr).toContain(
      `acm-export: preflight: takeover file ${takeoverDir}/site must be a regular file owned by root and not writable by group or others`,
    );
    expect(r.failure).toBe('acm-export: FAILED at preflight: 1 problem(s); nothing was changed');
    expectPlaceholder(fullchain, key);
  });

  test('a .prev file is never taken over', async () => {
    const { params, fullchain, takeoverDir, env } = placeholder('takeover-prev');
    allowTakeover(takeoverDir);
    writeFileSync(`${fullchain}.prev`, PLACEHOLDER_CERT, { mode: 0o644 });
    const r = await f.run(params, env);
    expect(r.code).toBe(EXIT.install);
    expect(r.failure).toContain(`${fullchain}.prev is a file acm-export did not write`);
    expect(r.failure).toContain('refusing to replace it (nothing was changed)');
    expect(readFileSync(`${fullchain}.prev`, 'utf8')).toBe(PLACEHOLDER_CERT);
  });
});
