/**
 * A removal is final against runs already under way: after a remove run, an install of the same CertName
 * from the same secret whose version was created before the removal (an association run or a push that was
 * in flight) changes nothing; a new export (a version created after the removal) installs again.
 */
import type { DocumentKind } from '../../ssm-documents/load';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { EXIT, type InstallParams, type InstallRun } from '../helpers/install-script';
import { createFixture, listTree, secretFragments, type Fixture } from './fixture';

let f: Fixture;
const runs: InstallRun[] = [];

beforeAll(() => {
  f = createFixture('removal');
});
afterAll(() => f.cleanup());

const slot = 'node';
const inventoryDir = () => path.join(f.root, slot, 'inventory');
/** Each test file's node keeps its own state and custom inventory. */
const nodeEnv = () => ({
  ACM_EXPORT_INVENTORY_DIR: inventoryDir(),
  ACM_EXPORT_STATE_DIR: path.join(f.root, slot, 'state'),
});

async function run(params: InstallParams, program: DocumentKind = 'install'): Promise<InstallRun> {
  const r = await f.run(params, nodeEnv(), program);
  runs.push(r);
  return r;
}

function association(extra: InstallParams = {}): InstallParams {
  const { SecretVersionId: _unused, ...rest } = f.params('unused', slot, extra);
  void _unused;
  return { ...rest, SecretVersionStage: 'AWSCURRENT', ...extra };
}

function remove(): InstallParams {
  const { SecretVersionId: _unused, ...rest } = f.params('unused', slot);
  void _unused;
  return rest;
}

const inventoryNames = () =>
  (
    JSON.parse(readFileSync(path.join(inventoryDir(), 'AcmExportCertificate.json'), 'utf8')) as {
      Content: { CertName: string }[];
    }
  ).Content.map((c) => c.CertName);

const liveCert = () => path.join(f.root, slot, 'certs', 'site.crt');

describe('installs that were under way when the target was removed', () => {
  let old: ReturnType<Fixture['publish']>;

  test('setup: a pushed version is installed, then the target is removed', async () => {
    old = f.publish({ names: ['race.example.test'] });
    expect((await run(f.params(old.versionId, slot))).code).toBe(0);
    const r = await run(remove(), 'remove');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ action: 'remove', changed: true });
    expect(existsSync(liveCert())).toBe(false);
  });

  test('the association run that was in flight (AWSCURRENT is still the old version) installs nothing', async () => {
    const before = listTree(path.join(f.root, slot));
    const r = await run(association());
    expect(r.code).toBe(0);
    expect(r.result).toMatchObject({ changed: false, reloaded: false, skipped: 'target removed from this node' });
    expect(r.result).not.toHaveProperty('installedSerial');
    expect(r.stderr).toMatch(
      /acm-export: refused: site was removed from this node at \S+Z and secret version [0-9a-f-]{36} was created before that \(2026-01-01T00:00:00Z\): this run was already under way; nothing written, nothing reloaded/,
    );
    expect(existsSync(liveCert())).toBe(false);
    expect(listTree(path.join(f.root, slot))).toEqual(before);
    expect(inventoryNames()).toEqual([]);
  });

  test('a push of that version sent before the removal (retried, or waiting for the node) installs nothing either', async () => {
    const r = await run(f.params(old.versionId, slot));
    expect(r.code).toBe(0);
    expect(r.result?.skipped).toBe('target removed from this node');
    expect(existsSync(liveCert())).toBe(false);
    expect(inventoryNames()).toEqual([]);
  });

  test('a report run after the removal does not bring the entry back', async () => {
    const { SecretVersionId: _unused, ...rest } = f.params('unused', slot);
    void _unused;
    const r = await run(rest, 'report');
    expect(r.code).toBe(0);
    expect(inventoryNames()).toEqual([]);
  });

  test('a new export (a version created after the removal) installs, and older versions install again after it', async () => {
    const later = new Date(Date.now() + 60_000).toISOString();
    const fresh = f.publish({ names: ['race.example.test'] }, undefined, later);
    const r = await run(f.params(fresh.versionId, slot));
    expect(r.code).toBe(0);
    expect(r.result).toMatchObject({ changed: true, secretVersionId: fresh.versionId });
    expect(r.result?.skipped).toBeUndefined();
    expect(readFileSync(liveCert(), 'utf8')).toBe(fresh.certificate);
    expect(inventoryNames()).toEqual(['site']);
    // The target is back: its association runs converge as before.
    const again = await run(association());
    expect(again.code).toBe(0);
    expect(again.result).toMatchObject({ changed: false, secretVersionId: fresh.versionId });
  });

  test('the same CertName from another secret is not affected by the removal', async () => {
    expect((await run(remove(), 'remove')).code).toBe(0);
    const other = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:acm-export/other-AbCdEf';
    const cert = f.publish({ names: ['other.example.test'] });
    f.aws.addSecretVersion({
      region: 'eu-west-1',
      secretId: other,
      versionId: '11111111-2222-4333-8444-555555555555',
      secretString: readFileSync(path.join(f.root, 'aws', 'store', `${cert.versionId}.secret`), 'utf8'),
    });
    const r = await run({
      ...f.params('11111111-2222-4333-8444-555555555555', slot),
      SecretId: other,
    });
    expect(r.code).toBe(0);
    expect(r.result?.changed).toBe(true);
  });

  test('no key material in any output', () => {
    const fragments = secretFragments(f.secrets);
    for (const r of runs) for (const fragment of fragments) expect(`${r.stdout}${r.stderr}`).not.toContain(fragment);
  });
});

/**
 * The CertName lock lies in the state directory, so a removal or a report sent while a first install is under
 * way (KeyDir not created yet) waits for it instead of deleting the store it is filling.
 */
describe('the lock before KeyDir exists', () => {
  test.each(['remove', 'report'] as const)('a %s run waits for the lock that another run holds', async (program) => {
    const lockSlot = `lock-${program}`;
    const state = path.join(f.root, lockSlot, 'state');
    const lockFile = path.join(state, 'locks', 'site.lock');
    mkdirSync(path.dirname(lockFile), { recursive: true });
    // Another run holds the lock (flock on the same file) until it is killed.
    const holder = spawn('flock', [lockFile, 'sleep', '30'], { stdio: 'ignore' });
    try {
      while (spawnSync('flock', ['-n', lockFile, 'true']).status === 0) await new Promise((r) => setTimeout(r, 20));
      const { SecretVersionId: _unused, ...params } = f.params('unused', lockSlot);
      void _unused;
      expect(existsSync(params.KeyDir!)).toBe(false);
      const r = await f.run(params, { ACM_EXPORT_STATE_DIR: state, ACM_EXPORT_LOCK_SECONDS: '1' }, program);
      expect(r.code).toBe(EXIT.lock);
      expect(r.failure).toBe('acm-export: FAILED at lock: another run for site held the lock for more than 1s');
    } finally {
      holder.kill();
    }
  });
});
