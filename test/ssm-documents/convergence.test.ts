/**
 * Convergence behaviour of the real install script (no web server): association mode (AWSCURRENT), the
 * idempotent second run, repair of tampered files, output profiles (owner/group/mode, PKCS#12, combined
 * PEM) and the custom inventory file the SSM Agent collects.
 */
import { loadDocument, type DocumentKind } from '../../ssm-documents/load';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';
import { EXIT, type InstallParams, type InstallRun } from '../helpers/install-script';
import { waitFor } from '../helpers/wait';
import { createFixture, loggingOpenssl, nodeDirOf, secretFragments, type Fixture } from './fixture';

let f: Fixture;
const runs: InstallRun[] = [];
const isRoot = process.getuid?.() === 0;

beforeAll(() => {
  f = createFixture('converge');
});
afterAll(() => f.cleanup());

async function run(
  params: InstallParams,
  env: Record<string, string> = {},
  program: DocumentKind = 'install',
): Promise<InstallRun> {
  const r = await f.run(params, env, program);
  runs.push(r);
  return r;
}

/** Document parameters of an association: the stage instead of a version id. */
function associationParams(slot: string, extra: InstallParams = {}): InstallParams {
  const { SecretVersionId: _unused, ...rest } = f.params('unused', slot, extra);
  void _unused;
  return { ...rest, SecretVersionStage: 'AWSCURRENT', Target: 'Role=web', ...extra };
}

/** Custom inventory location (and its state) of one simulated node. */
function inventoryEnv(slot: string, nodeId?: string): Record<string, string> {
  const dir = path.join(f.root, slot, 'inventory');
  return {
    ACM_EXPORT_INVENTORY_DIR: dir,
    ACM_EXPORT_STATE_DIR: `${dir}-state`,
    ...(nodeId ? { AWS_SSM_INSTANCE_ID: nodeId } : {}),
  };
}

function inventoryFile(dir: string): { SchemaVersion: string; TypeName: string; Content: Record<string, string>[] } {
  return JSON.parse(readFileSync(path.join(dir, 'AcmExportCertificate.json'), 'utf8'));
}

function mtimes(dir: string, names: string[]): number[] {
  return names.map((n) => statSync(path.join(dir, n)).mtimeMs);
}

const pfxPassphrase = () => randomBytes(24).toString('base64url');

describe('association mode (SecretVersionStage=AWSCURRENT)', () => {
  const slot = 'assoc';
  let first: ReturnType<Fixture['publish']>;

  test('installs the current version, names it, and reports it as custom inventory', async () => {
    first = f.publish({ names: ['www.example.test'] });
    const inventoryDir = path.join(f.root, slot, 'inventory');
    const r = await run(associationParams(slot), inventoryEnv(slot, 'i-0123456789abcdef0'));
    expect(r.code).toBe(0);
    expect(r.result).toMatchObject({
      serial: first.serial,
      changed: true,
      secretVersionId: first.versionId,
      node: 'i-0123456789abcdef0',
    });
    // The stage is resolved to a version id first (DescribeSecret: no value); then exactly that version is fetched.
    const calls = f.aws.calls().slice(-2);
    expect(calls[0]).toEqual(expect.arrayContaining(['describe-secret', '--query', 'VersionIdsToStages']));
    expect(calls[1]).toEqual(expect.arrayContaining(['--version-id', first.versionId, '--query', 'SecretString']));

    const inv = inventoryFile(inventoryDir);
    expect(inv.SchemaVersion).toBe('1.0');
    expect(inv.TypeName).toBe('Custom:AcmExportCertificate');
    expect(inv.Content).toHaveLength(1);
    const entry = inv.Content[0];
    expect(entry).toEqual({
      CertName: 'site',
      Target: 'Role=web',
      SecretId: expect.stringMatching(/^arn:aws:secretsmanager:/),
      SecretVersionId: first.versionId,
      Serial: first.serial,
      ServedSerial: '',
      NotAfter: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      Verified: 'false',
      InstalledAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      LastRun: 'installed',
      FailedStep: '',
      LastRunAt: expect.stringMatching(/Z$/),
      CheckedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      Problem: '',
      Service: 'none',
      Node: 'i-0123456789abcdef0',
    });
    // Every value is a string (the custom inventory Content is a list of string maps), at most 50 keys.
    for (const value of Object.values(entry)) expect(typeof value).toBe('string');
    expect(Object.keys(entry).length).toBeLessThanOrEqual(50);
    expect(statSync(path.join(inventoryDir, 'AcmExportCertificate.json')).mode & 0o777).toBe(0o644);
  });

  test('a second run with the same version changes nothing (no file rewritten) and says so', async () => {
    const inventoryDir = path.join(f.root, slot, 'inventory');
    const certDir = path.join(f.root, slot, 'certs');
    const keyDir = path.join(f.root, slot, 'private');
    const before = [
      ...mtimes(certDir, ['site.crt', 'site.chain.pem', 'site.fullchain.pem']),
      ...mtimes(keyDir, ['site.key']),
    ];
    const callsBefore = f.aws.calls().length;
    const r = await run(associationParams(slot), inventoryEnv(slot, 'i-0123456789abcdef0'));
    expect(r.code).toBe(0);
    expect(r.result).toMatchObject({
      serial: first.serial,
      changed: false,
      reloaded: false,
      secretVersionId: first.versionId,
      names: ['www.example.test'],
      notAfter: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
    });
    expect(r.stderr).toContain('unchanged:');
    // The node holds the current version: one DescribeSecret, no GetSecretValue (so no KMS decrypt).
    const calls = f.aws.calls().slice(callsBefore);
    expect(calls.map((c) => c[1])).toEqual(['describe-secret']);
    const after = [
      ...mtimes(certDir, ['site.crt', 'site.chain.pem', 'site.fullchain.pem']),
      ...mtimes(keyDir, ['site.key']),
    ];
    expect(after).toEqual(before);
    expect(existsSync(path.join(certDir, 'site.crt.prev'))).toBe(false);
    const entry = inventoryFile(inventoryDir).Content[0];
    expect(entry.LastRun).toBe('unchanged');
    expect(entry.SecretVersionId).toBe(first.versionId);
  });

  test('a pinned push of the installed version is idempotent too', async () => {
    const r = await run({ ...f.params(first.versionId, slot), Target: 'Role=web' });
    expect(r.code).toBe(0);
    expect(r.result).toMatchObject({ changed: false });
  });

  test('tampered files and modes are repaired by the next run', async () => {
    const certDir = path.join(f.root, slot, 'certs');
    const keyDir = path.join(f.root, slot, 'private');
    writeFileSync(path.join(certDir, 'site.chain.pem'), 'tampered\n');
    chmodSync(path.join(keyDir, 'site.key'), 0o644);
    const r = await run(associationParams(slot));
    expect(r.code).toBe(0);
    expect(r.result).toMatchObject({ changed: true, serial: first.serial });
    expect(readFileSync(path.join(certDir, 'site.chain.pem'), 'utf8')).toBe(first.chain);
    expect(statSync(path.join(keyDir, 'site.key')).mode & 0o777).toBe(0o600);
  });

  test('a new current version is picked up without naming it, with one GetSecretValue', async () => {
    const second = f.publish({ names: ['www.example.test'] });
    const callsBefore = f.aws.calls().length;
    const r = await run(associationParams(slot), inventoryEnv(slot, 'i-0123456789abcdef0'));
    expect(r.code).toBe(0);
    expect(r.result).toMatchObject({ serial: second.serial, changed: true, secretVersionId: second.versionId });
    expect(readFileSync(path.join(f.root, slot, 'certs', 'site.crt'), 'utf8')).toBe(second.certificate);
    const calls = f.aws.calls().slice(callsBefore);
    expect(calls.filter((c) => c[1] === 'get-secret-value')).toHaveLength(1);
  });

  test('a key replaced by hand under an unchanged version: the secret is read and the key repaired', async () => {
    const keyFile = path.join(f.root, slot, 'private', 'site.key');
    const original = readFileSync(keyFile, 'utf8');
    const other = f.publish({ names: ['other.example.test'] });
    // Publishing moved AWSCURRENT: back to the installed version, which the node's state names.
    f.aws.setCurrent(inventoryFile(path.join(f.root, slot, 'inventory')).Content[0].SecretVersionId);
    writeFileSync(keyFile, other.privateKey);
    const r = await run(associationParams(slot), inventoryEnv(slot, 'i-0123456789abcdef0'));
    expect(r.code).toBe(0);
    expect(r.result).toMatchObject({ changed: true });
    expect(readFileSync(keyFile, 'utf8')).toBe(original);
  });

  test('DescribeSecret denied (an older node policy): one warning, then the secret is read as before', async () => {
    const denied = createFixture('converge-denied');
    try {
      const cert = denied.publish({ names: ['www.example.test'] });
      denied.aws.denyDescribe();
      const { SecretVersionId: _unused, ...rest } = denied.params('unused', 'node');
      void _unused;
      const r = await denied.run({ ...rest, SecretVersionStage: 'AWSCURRENT' });
      runs.push(r);
      expect(r.code).toBe(0);
      expect(r.result).toMatchObject({ serial: cert.serial, changed: true, secretVersionId: cert.versionId });
      expect(r.stderr.split('\n').filter((l) => l.includes('warning:'))).toEqual([
        expect.stringContaining('DescribeSecret was denied'),
      ]);
    } finally {
      denied.cleanup();
    }
  });

  test('both or neither of SecretVersionId and SecretVersionStage is a parameter error', async () => {
    const both = await run({ ...associationParams(slot), SecretVersionId: first.versionId });
    expect(both.code).toBe(EXIT.parameters);
    expect(both.stderr).toContain(
      'exactly one of SSM_SecretVersionId (push) and SSM_SecretVersionStage (association), not both',
    );
    const neither = await run({ ...associationParams(slot), SecretVersionStage: '' });
    expect(neither.code).toBe(EXIT.parameters);
  });

  test('a failed run is reported in the custom inventory with the live (previous) serial', async () => {
    const inventoryDir = path.join(f.root, slot, 'inventory');
    const live = readFileSync(path.join(f.root, slot, 'certs', 'site.crt'), 'utf8');
    const liveSerial = execFileSync('openssl', ['x509', '-noout', '-serial'], { input: live, encoding: 'utf8' })
      .trim()
      .replace(/^serial=/, '');
    f.publish({ names: ['www.example.test'] }, (b) => ({ ...b, passphrase: 'wrong-passphrase-0123456789' }));
    const r = await run(associationParams(slot), inventoryEnv(slot, 'i-0123456789abcdef0'));
    expect(r.code).toBe(EXIT.decrypt);
    expect(r.failure).toMatch(/^acm-export: FAILED at decrypt:/);
    const entry = inventoryFile(inventoryDir).Content[0];
    expect(entry).toMatchObject({ LastRun: 'failed', FailedStep: 'decrypt', Serial: liveSerial, Verified: 'false' });
  });
});

describe('never downgrade: a late push of an older version', () => {
  const slot = 'downgrade';
  const env = () => inventoryEnv(slot, 'i-0aaaaaaaaaaaaaaa1');
  const files = ['site.crt', 'site.chain.pem', 'site.fullchain.pem'];

  test('a certificate that expires before the installed one is skipped: success, changed false, nothing written, inventory keeps the installed version', async () => {
    const older = f.publish({ names: ['down.example.test'], days: 30 }); // exported first
    const newer = f.publish({ names: ['down.example.test'], days: 90 }); // the renewal, installed first
    const params = f.params(newer.versionId, slot, { Target: 'Role=web' });
    expect((await run(params, env())).result).toMatchObject({ serial: newer.serial, changed: true });
    const certDir = params.CertDir!;
    const before = {
      content: files.map((n) => readFileSync(path.join(certDir, n), 'utf8')),
      mtimes: mtimes(certDir, files),
      key: readFileSync(path.join(params.KeyDir!, 'site.key'), 'utf8'),
    };

    const late = await run({ ...params, SecretVersionId: older.versionId }, env());
    expect(late.code).toBe(0);
    expect(late.result).toMatchObject({
      serial: older.serial,
      secretVersionId: older.versionId,
      changed: false,
      reloaded: false,
      verified: false,
      skipped: 'older than installed',
      installedSerial: newer.serial,
      installedNotAfter: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
    });
    expect(new Date(late.result!.installedNotAfter!).getTime()).toBeGreaterThan(
      new Date(late.result!.notAfter).getTime(),
    );
    expect(late.stderr).toMatch(
      new RegExp(
        `acm-export: skipped: serial ${older.serial} \\(version ${older.versionId}, not after [^)]+\\) is older than the installed serial ${newer.serial} \\(not after [^)]+\\); nothing written, nothing reloaded`,
      ),
    );
    expect(files.map((n) => readFileSync(path.join(certDir, n), 'utf8'))).toEqual(before.content);
    expect(mtimes(certDir, files)).toEqual(before.mtimes);
    expect(readFileSync(path.join(params.KeyDir!, 'site.key'), 'utf8')).toBe(before.key);
    expect(existsSync(path.join(certDir, 'site.crt.prev'))).toBe(false);
    const entry = inventoryFile(path.join(f.root, slot, 'inventory')).Content[0];
    expect(entry).toMatchObject({
      LastRun: 'skipped',
      Serial: newer.serial,
      SecretVersionId: newer.versionId,
      FailedStep: '',
    });
  });

  test('the same serial again is the ordinary idempotent run, and a newer certificate still installs', async () => {
    const params = f.params('unused', slot, { Target: 'Role=web' });
    const installed = readFileSync(path.join(params.CertDir!, 'site.crt'), 'utf8');
    const renewal = f.publish({ names: ['down.example.test'], days: 120 });
    const r = await run({ ...params, SecretVersionId: renewal.versionId }, env());
    expect(r.result).toMatchObject({ serial: renewal.serial, changed: true });
    expect(r.result?.skipped).toBeUndefined();
    expect(readFileSync(path.join(params.CertDir!, 'site.crt.prev'), 'utf8')).toBe(installed);
    const same = await run({ ...params, SecretVersionId: renewal.versionId }, env());
    expect(same.result).toMatchObject({ serial: renewal.serial, changed: false });
    expect(same.result?.skipped).toBeUndefined();
  });

  test('an association whose AWSCURRENT was moved back to an older version skips too', async () => {
    const older = f.publish({ names: ['down.example.test'], days: 10 }); // now AWSCURRENT in the fake
    const r = await run(associationParams(slot), env());
    expect(r.code).toBe(0);
    expect(r.result).toMatchObject({ serial: older.serial, changed: false, skipped: 'older than installed' });
  });

  test('a different certificate (other names) for the same CertName installs even when it expires sooner', async () => {
    const params = f.params('unused', slot, { Target: 'Role=web' });
    const other = f.publish({ names: ['switched.example.test'], days: 5 });
    const r = await run({ ...params, SecretVersionId: other.versionId }, env());
    expect(r.code).toBe(0);
    expect(r.result).toMatchObject({ serial: other.serial, changed: true, names: ['switched.example.test'] });
    expect(r.result?.skipped).toBeUndefined();
  });
});

describe('custom inventory', () => {
  test('one entry per certificate on the node, updated in place', async () => {
    const slot = 'multi';
    const inventoryDir = path.join(f.root, slot, 'inventory');
    const env = inventoryEnv(slot);
    const a = f.publish({ names: ['a.example.test'] });
    const b = f.publish({ names: ['b.example.test'] });
    expect((await run(f.params(a.versionId, slot, { CertName: 'alpha' }), env)).code).toBe(0);
    expect((await run(f.params(b.versionId, slot, { CertName: 'beta' }), env)).code).toBe(0);
    expect((await run(f.params(a.versionId, slot, { CertName: 'alpha' }), env)).code).toBe(0);
    const content = inventoryFile(inventoryDir).Content;
    expect(content.map((c) => c.CertName).sort()).toEqual(['alpha', 'beta']);
    expect(content.find((c) => c.CertName === 'alpha')).toMatchObject({ Serial: a.serial, LastRun: 'unchanged' });
    expect(content.find((c) => c.CertName === 'beta')).toMatchObject({ Serial: b.serial, LastRun: 'installed' });
  });

  test('without an SSM Agent directory and no inventory override, no custom inventory is written', async () => {
    const cert = f.publish({ names: ['www.example.test'] });
    const params = f.params(cert.versionId, 'noagent');
    const r = await run(params, {
      ACM_EXPORT_INVENTORY_DIR: '',
      // The state stays in the test's node (its default is the machine's /var/lib/acm-export).
      ACM_EXPORT_STATE_DIR: path.join(nodeDirOf(f.root, params), 'state'),
      AWS_SSM_INSTANCE_ID: 'i-0fedcba9876543210',
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('custom inventory not written');
    expect(existsSync('/var/lib/amazon/ssm/i-0fedcba9876543210')).toBe(false);
  });
});

describe('output profiles', () => {
  test('PKCS#12 bundle opens with the PFX passphrase and holds the key, the leaf and the chain', async () => {
    const pfx = pfxPassphrase();
    f.secrets.push(pfx);
    const cert = f.publish({ names: ['www.example.test'], keyAlgorithm: 'EC_secp384r1' }, (b) => ({
      ...b,
      pfxPassphrase: pfx,
    }));
    const params = f.params(cert.versionId, 'p12', { Pkcs12: 'true' });
    const r = await run(params);
    expect(r.code).toBe(0);
    const p12 = path.join(params.KeyDir!, 'site.p12');
    expect(r.result?.files.pkcs12).toBe(p12);
    expect(statSync(p12).mode & 0o777).toBe(0o600);
    const env = { ...process.env, PFX: pfx };
    const certs = execFileSync('openssl', ['pkcs12', '-in', p12, '-passin', 'env:PFX', '-nokeys'], {
      env,
      encoding: 'utf8',
    });
    const blocks = certs.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    expect(blocks.length).toBe(1 + (cert.chain.match(/BEGIN CERTIFICATE/g) ?? []).length);
    const key = execFileSync('openssl', ['pkcs12', '-in', p12, '-passin', 'env:PFX', '-nocerts', '-nodes'], {
      env,
      encoding: 'utf8',
    });
    const pub = (pem: string) => execFileSync('openssl', ['pkey', '-pubout'], { input: pem, encoding: 'utf8' });
    expect(pub(key)).toBe(pub(cert.privateKey));
    // Modern protection: AES-256-CBC with PBKDF2 (what -info reports for PBES2), SHA-256 MAC.
    const info = execFileSync('openssl', ['pkcs12', '-in', p12, '-passin', 'env:PFX', '-info', '-noout'], {
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    void info;
    const infoErr = execFileSync('sh', ['-c', 'openssl pkcs12 -in "$1" -passin env:PFX -info -noout 2>&1', 'sh', p12], {
      env,
      encoding: 'utf8',
    });
    expect(infoErr).toMatch(/PBES2, PBKDF2, AES-256-CBC/);
    expect(infoErr).toMatch(/MAC: sha256/);
    expect(() =>
      execFileSync('openssl', ['pkcs12', '-in', p12, '-passin', 'pass:wrong', '-nokeys'], { stdio: 'ignore' }),
    ).toThrow();

    // A second run does not rebuild the bundle (salts differ every time, so equality is by content).
    const mtime = statSync(p12).mtimeMs;
    const again = await run(params);
    expect(again.result).toMatchObject({ changed: false });
    expect(statSync(p12).mtimeMs).toBe(mtime);
  });

  test('Pkcs12=true with a secret version that has no PFX passphrase fails before touching files', async () => {
    const cert = f.publish({ names: ['www.example.test'] });
    const r = await run(f.params(cert.versionId, 'nopfx', { Pkcs12: 'true' }));
    expect(r.code).toBe(EXIT.decrypt);
    expect(r.failure).toContain('holds no PFX passphrase');
    expect(existsSync(path.join(f.root, 'nopfx', 'certs'))).toBe(false);
  });

  test("combined PEM is the key followed by the full chain, with the key's mode", async () => {
    const cert = f.publish({ names: ['www.example.test'] });
    const params = f.params(cert.versionId, 'combined', { CombinedPem: 'true', KeyMode: '0400' });
    const r = await run(params);
    expect(r.code).toBe(0);
    const combined = path.join(params.KeyDir!, 'site.combined.pem');
    expect(r.result?.files.combined).toBe(combined);
    const text = readFileSync(combined, 'utf8');
    const key = readFileSync(path.join(params.KeyDir!, 'site.key'), 'utf8');
    expect(text).toBe(key + cert.certificate + cert.chain);
    expect(statSync(combined).mode & 0o777).toBe(0o400);
    expect(statSync(path.join(params.KeyDir!, 'site.key')).mode & 0o777).toBe(0o400);
  });

  (isRoot ? test : test.skip)('owner, group and mode of the certificate and key files are applied (root)', async () => {
    const cert = f.publish({ names: ['www.example.test'] });
    const params = f.params(cert.versionId, 'owners', {
      CertOwner: 'daemon',
      CertGroup: 'daemon',
      CertMode: '0640',
      KeyOwner: 'nobody',
      KeyGroup: 'daemon',
      KeyMode: '0440',
      CombinedPem: 'true',
    });
    const r = await run(params);
    expect(r.code).toBe(0);
    const id = (flag: string, name: string) => Number(execFileSync('id', [flag, name], { encoding: 'utf8' }).trim());
    const gid = (name: string) => Number(execFileSync('getent', ['group', name], { encoding: 'utf8' }).split(':')[2]);
    for (const name of ['site.crt', 'site.chain.pem', 'site.fullchain.pem']) {
      const st = statSync(path.join(params.CertDir!, name));
      expect({ name, uid: st.uid, gid: st.gid, mode: st.mode & 0o777 }).toEqual({
        name,
        uid: id('-u', 'daemon'),
        gid: gid('daemon'),
        mode: 0o640,
      });
    }
    for (const name of ['site.key', 'site.combined.pem']) {
      const st = statSync(path.join(params.KeyDir!, name));
      expect({ name, uid: st.uid, gid: st.gid, mode: st.mode & 0o777 }).toEqual({
        name,
        uid: id('-u', 'nobody'),
        gid: gid('daemon'),
        mode: 0o440,
      });
    }
    // The key directory lets the key's group in, no one else.
    const dir = statSync(params.KeyDir!);
    expect({ gid: dir.gid, mode: dir.mode & 0o777 }).toEqual({ gid: gid('daemon'), mode: 0o710 });
    // Same profile again: nothing to do. Owner changed behind its back: repaired.
    expect((await run(params)).result).toMatchObject({ changed: false });
    execFileSync('chown', ['root', path.join(params.KeyDir!, 'site.key')]);
    const repaired = await run(params);
    expect(repaired.result).toMatchObject({ changed: true });
    expect(statSync(path.join(params.KeyDir!, 'site.key')).uid).toBe(id('-u', 'nobody'));
  });

  test('an unknown owner is a preflight problem', async () => {
    const cert = f.publish({ names: ['www.example.test'] });
    const r = await run(f.params(cert.versionId, 'badowner', { KeyOwner: 'no_such_user_x' }));
    expect(r.code).toBe(EXIT.preflight);
    expect(r.stderr).toContain('KeyOwner no_such_user_x does not exist on this node');
  });
});

/** Parameters of a report or remove run: no version, no stage. */
function actionParams(action: 'report' | 'remove', slot: string, extra: InstallParams = {}): InstallParams {
  const { SecretVersionId: _unused, ...rest } = f.params('unused', slot);
  void _unused;
  void action;
  return { ...rest, Target: 'Role=web', ...extra };
}

function fileState(dir: string, names: string[]): Record<string, { content: string; mtime: number } | undefined> {
  return Object.fromEntries(
    names.map((n) => {
      const file = path.join(dir, n);
      return [n, existsSync(file) ? { content: readFileSync(file, 'utf8'), mtime: statSync(file).mtimeMs } : undefined];
    }),
  );
}

describe('report program', () => {
  const slot = 'report';
  const node = 'i-0bbbbbbbbbbbbbbb1';
  const certDir = () => path.join(f.root, slot, 'certs');
  const keyDir = () => path.join(f.root, slot, 'private');
  const snapshot = () => ({
    ...fileState(certDir(), ['site.crt', 'site.chain.pem', 'site.fullchain.pem']),
    ...fileState(keyDir(), ['site.key']),
  });
  let installed: ReturnType<Fixture['publish']>;

  test('on a node that never installed: exit 0, Problem "not installed", no serial, nothing created', async () => {
    const r = await run(actionParams('report', slot), inventoryEnv(slot, node), 'report');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      node,
      certName: 'site',
      action: 'report',
      serial: '',
      servedSerial: '',
      problem: 'not installed',
    });
    expect(existsSync(certDir())).toBe(false);
    expect(existsSync(keyDir())).toBe(false);
    expect(inventoryFile(path.join(f.root, slot, 'inventory')).Content[0]).toMatchObject({
      Serial: '',
      Problem: 'not installed',
      LastRun: '',
    });
  });

  test("after an install: reports the live serial, reads no secret, writes no file, keeps the install run's outcome", async () => {
    installed = f.publish({ names: ['report.example.test'] });
    expect((await run(associationParams(slot), inventoryEnv(slot, node))).code).toBe(0);
    const inventoryDir = path.join(f.root, slot, 'inventory');
    const before = inventoryFile(inventoryDir).Content[0];
    const files = snapshot();
    const awsCalls = f.aws.calls().length;
    // CheckedAt has one-second resolution: let the clock's second pass the recorded one, so the report's differs.
    const nowSecond = () => `${new Date().toISOString().slice(0, 19)}Z`;
    await waitFor(() => nowSecond() > before.CheckedAt, 2000, `the clock to pass CheckedAt ${before.CheckedAt}`);
    const r = await run(actionParams('report', slot), inventoryEnv(slot, node), 'report');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      node,
      certName: 'site',
      action: 'report',
      serial: installed.serial,
      servedSerial: '',
      problem: '',
    });
    expect(f.aws.calls()).toHaveLength(awsCalls);
    expect(snapshot()).toEqual(files);
    const after = inventoryFile(inventoryDir).Content[0];
    expect(after).toEqual({ ...before, CheckedAt: expect.any(String) });
    expect(after.LastRun).toBe('installed');
    expect(after.CheckedAt > before.CheckedAt).toBe(true);
  });

  test('files unchanged since the install are judged from the ownership record: no openssl call, same entry', async () => {
    // An openssl that logs each call, then runs the real one.
    const { bin, subcommands } = loggingOpenssl(f.root, 'openssl-report');
    const before = inventoryFile(path.join(f.root, slot, 'inventory')).Content[0];
    const env = {
      ...inventoryEnv(slot, node),
      PATH: [bin, f.aws.binDir, process.env.PATH ?? '/usr/bin:/bin'].join(':'),
    };
    const r = await run(actionParams('report', slot), env, 'report');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ serial: installed.serial, problem: '' });
    expect(subcommands()).toEqual([]);
    const after = inventoryFile(path.join(f.root, slot, 'inventory')).Content[0];
    expect(after).toEqual({ ...before, CheckedAt: expect.any(String) });
  });

  test('a certificate copied over the live one by hand: its serial and "the key does not match the certificate"; nothing repaired', async () => {
    const other = f.publish({ names: ['report.example.test'] });
    writeFileSync(path.join(certDir(), 'site.crt'), other.certificate);
    const files = snapshot();
    const r = await run(actionParams('report', slot), inventoryEnv(slot, node), 'report');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      serial: other.serial,
      problem: 'the key does not match the certificate',
    });
    expect(snapshot()).toEqual(files);
    expect(inventoryFile(path.join(f.root, slot, 'inventory')).Content[0]).toMatchObject({
      Serial: other.serial,
      Problem: 'the key does not match the certificate',
      LastRun: 'installed',
    });
    writeFileSync(path.join(certDir(), 'site.crt'), installed.certificate);
  });

  test('a full chain that is not leaf + chain, and a missing key, are problems too', async () => {
    const fullchain = path.join(certDir(), 'site.fullchain.pem');
    const saved = readFileSync(fullchain, 'utf8');
    writeFileSync(fullchain, installed.chain);
    let r = await run(actionParams('report', slot), inventoryEnv(slot, node), 'report');
    expect(JSON.parse(r.stdout)).toMatchObject({
      serial: installed.serial,
      problem: `${fullchain} is not the certificate followed by the chain`,
    });
    writeFileSync(fullchain, saved);
    const key = path.join(keyDir(), 'site.key');
    const keyText = readFileSync(key, 'utf8');
    const keyLink = readlinkSync(key);
    rmSync(key);
    r = await run(actionParams('report', slot), inventoryEnv(slot, node), 'report');
    expect(JSON.parse(r.stdout)).toMatchObject({ problem: `missing ${key}` });
    // A file put there by hand is not the installed set, even with the same bytes.
    writeFileSync(key, keyText, { mode: 0o600 });
    r = await run(actionParams('report', slot), inventoryEnv(slot, node), 'report');
    expect(JSON.parse(r.stdout)).toMatchObject({ problem: `${key} is not a file acm-export installed` });
    rmSync(key);
    symlinkSync(keyLink, key);
    r = await run(actionParams('report', slot), inventoryEnv(slot, node), 'report');
    expect(JSON.parse(r.stdout)).toMatchObject({ serial: installed.serial, problem: '' });
  });

  test('the report document takes neither a version nor a stage; an invalid parameter is a parameter error', async () => {
    expect(Object.keys(loadDocument('report').parameters)).not.toEqual(expect.arrayContaining(['SecretVersionId']));
    expect(Object.keys(loadDocument('report').parameters)).not.toContain('SecretVersionStage');
    const bad = await run(actionParams('report', slot, { VerifyPort: 'x' }), inventoryEnv(slot, node), 'report');
    expect(bad.code).toBe(EXIT.parameters);
    // A failed report is not an install run: the entry still says what the last install did.
    expect(inventoryFile(path.join(f.root, slot, 'inventory')).Content[0]).toMatchObject({
      LastRun: 'installed',
      FailedStep: '',
    });
  });
});

describe('remove program', () => {
  const slot = 'remove';
  const node = 'i-0ccccccccccccccc1';
  const certDir = () => path.join(f.root, slot, 'certs');
  const keyDir = () => path.join(f.root, slot, 'private');
  const profile: InstallParams = { CombinedPem: 'true', Pkcs12: 'true' };

  test('removes every file of CertName and their .prev copies, and its inventory entry; other certificates stay', async () => {
    const inventoryDir = path.join(f.root, slot, 'inventory');
    f.publish({ names: ['remove.example.test'] }, (b) => ({ ...b, pfxPassphrase: pfxPassphrase() }));
    expect((await run(associationParams(slot, profile), inventoryEnv(slot, node))).code).toBe(0);
    f.publish({ names: ['remove.example.test'] }, (b) => ({ ...b, pfxPassphrase: pfxPassphrase() }));
    expect((await run(associationParams(slot, profile), inventoryEnv(slot, node))).code).toBe(0);
    // Another certificate on the same node, in the same directories.
    expect((await run(associationParams(slot, { ...profile, CertName: 'other' }), inventoryEnv(slot, node))).code).toBe(
      0,
    );
    const live = [
      ...['site.crt', 'site.chain.pem', 'site.fullchain.pem'].map((n) => path.join(certDir(), n)),
      ...['site.key', 'site.combined.pem', 'site.p12'].map((n) => path.join(keyDir(), n)),
    ];
    for (const file of [...live, ...live.map((l) => `${l}.prev`)]) expect(existsSync(file)).toBe(true);
    expect(
      inventoryFile(inventoryDir)
        .Content.map((c) => c.CertName)
        .sort(),
    ).toEqual(['other', 'site']);

    const r = await run(actionParams('remove', slot), inventoryEnv(slot, node), 'remove');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as {
      action: string;
      removed: string[];
      changed: boolean;
      certName: string;
      node: string;
    };
    expect(result).toMatchObject({ node, certName: 'site', action: 'remove', changed: true });
    expect(result.removed.sort()).toEqual([...live, ...live.map((l) => `${l}.prev`)].sort());
    for (const file of result.removed) expect(existsSync(file)).toBe(false);
    expect(
      execFileSync('ls', ['-A', certDir()], { encoding: 'utf8' })
        .split('\n')
        .filter((n) => n.startsWith('site')),
    ).toEqual([]);
    // The other certificate is untouched; the inventory lists only it.
    expect(existsSync(path.join(certDir(), 'other.crt'))).toBe(true);
    expect(existsSync(path.join(keyDir(), 'other.key'))).toBe(true);
    expect(inventoryFile(inventoryDir).Content.map((c) => c.CertName)).toEqual(['other']);
  });

  test('again: nothing to remove, success with changed false', async () => {
    const r = await run(actionParams('remove', slot), inventoryEnv(slot, node), 'remove');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ action: 'remove', removed: [], changed: false });
  });

  test('the last certificate removed leaves an empty inventory list (so the removal shows)', async () => {
    const inventoryDir = path.join(f.root, slot, 'inventory');
    const r = await run(actionParams('remove', slot, { CertName: 'other' }), inventoryEnv(slot, node), 'remove');
    expect(r.code).toBe(0);
    expect(inventoryFile(inventoryDir).Content).toEqual([]);
  });

  test('refused when this node recorded CertName as installed from another secret: nothing removed', async () => {
    const own = 'remove-owner';
    f.publish({ names: ['owner.example.test'] });
    expect((await run(associationParams(own), inventoryEnv(own, node))).code).toBe(0);
    const otherSecret = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:acm-export/someone-else-AbCdEf';
    const r = await run(actionParams('remove', own, { SecretId: otherSecret }), inventoryEnv(own, node), 'remove');
    expect(r.code).toBe(EXIT.install);
    expect(r.failure).toMatch(
      /^acm-export: FAILED at install: site on this node holds the certificate of secret arn:aws:secretsmanager:\S+-AbC123, not of arn:aws:secretsmanager:\S+someone-else-AbCdEf; nothing was removed$/,
    );
    expect(existsSync(path.join(f.root, own, 'certs', 'site.crt'))).toBe(true);
    expect(existsSync(path.join(f.root, own, 'private', 'site.key'))).toBe(true);
    expect(inventoryFile(path.join(f.root, own, 'inventory')).Content.map((c) => c.CertName)).toEqual(['site']);
  });

  test('a live name that is a symbolic link is refused, nothing removed', async () => {
    const own = 'remove-link';
    f.publish({ names: ['link.example.test'] });
    expect((await run(associationParams(own), inventoryEnv(own, node))).code).toBe(0);
    const chain = path.join(f.root, own, 'certs', 'site.chain.pem');
    rmSync(chain);
    execFileSync('ln', ['-s', path.join(f.root, own, 'private', 'site.key'), chain]);
    const r = await run(actionParams('remove', own), inventoryEnv(own, node), 'remove');
    expect(r.code).toBe(EXIT.install);
    expect(r.failure).toBe(
      `acm-export: FAILED at install: ${chain} is a symbolic link acm-export did not create; refusing to remove it (nothing was changed)`,
    );
    expect(existsSync(path.join(f.root, own, 'private', 'site.key'))).toBe(true);
    expect(existsSync(path.join(f.root, own, 'certs', 'site.crt'))).toBe(true);
  });
});

describe('work directories of killed runs', () => {
  test('a later run removes one older than an hour (a run killed at its timeout leaves it); a recent one stays', async () => {
    const stale = path.join(f.tmpDir, 'acm-export-work.killed01');
    const recent = path.join(f.tmpDir, 'acm-export-work.running1');
    for (const dir of [stale, recent]) {
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'key.pem'), 'left by a killed run\n');
    }
    execFileSync('touch', ['-d', '2 hours ago', stale]);
    const r = await run(actionParams('report', 'report'), inventoryEnv('report', 'i-0bbbbbbbbbbbbbbb1'), 'report');
    expect(r.code).toBe(0);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(recent)).toBe(true);
    rmSync(recent, { recursive: true });
  });
});

describe('output hygiene', () => {
  test('no key, passphrase or certificate body in any output or in the inventory files', () => {
    const fragments = secretFragments(f.secrets);
    const inventories = ['assoc', 'multi', 'report', 'remove'].map((slot) =>
      readFileSync(path.join(f.root, slot, 'inventory', 'AcmExportCertificate.json'), 'utf8'),
    );
    for (const text of [...runs.flatMap((r) => [r.stdout, r.stderr]), ...inventories]) {
      for (const fragment of fragments) expect(text.includes(fragment)).toBe(false);
      expect(text).not.toMatch(/BEGIN (ENCRYPTED )?PRIVATE KEY|BEGIN CERTIFICATE/);
    }
  });

  test('the temp dir is empty after every run', () => {
    expect(execFileSync('ls', ['-A', f.tmpDir], { encoding: 'utf8' })).toBe('');
  });
});
