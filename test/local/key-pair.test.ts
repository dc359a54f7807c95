/**
 * Local mode's key pair is random per state dir, kept there in a file only its user can read, and reused on
 * restart; a request signed with the key pair local mode once published is refused; the client commands read
 * the pair from the state dir; the secret appears in no log or shared file.
 */
import { ACMClient, ListCertificatesCommand } from '@aws-sdk/client-acm';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  generateLocalCredentials,
  loadOrCreateLocalCredentials,
  localCredentialsFile,
  readLocalCredentials,
} from '../../local/credentials';
import { ENDPOINT_FILE } from '../../local/endpoint-file';
import { localModeCredentials } from '../../local/locate';
import { startLocalMode } from '../../local/runtime';
import { rawRequest } from '../e2e/support';

jest.setTimeout(120_000);

/** The key pair every local mode accepted before it was random per state dir (it is in the project's history). */
const PUBLISHED_PAIR = {
  accessKeyId: 'AKIALOCALACMEXPORT01',
  secretAccessKey: 'local-mode-only/not-an-aws-secret-key+00',
};

let scratch: string;
beforeEach(() => {
  scratch = mkdtempSync(path.join(tmpdir(), 'acm-export-keypair-'));
});
afterEach(() => {
  rmSync(scratch, { recursive: true, force: true });
});

const mode = (file: string): number => statSync(file).mode & 0o777;

/** Every file under `dir` (recursively) but the key pair file, as text. */
function filesUnder(dir: string): { file: string; text: string }[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .filter((f) => path.basename(f) !== 'credentials.json')
    .map((file) => ({ file, text: readFileSync(file).toString('latin1') }));
}

describe('the key pair file', () => {
  test('each state dir gets its own random pair in AWS shape, mode 600, reused by the next load', () => {
    const [a, b] = ['a', 'b'].map((d) => path.join(scratch, d));
    for (const d of [a, b]) mkdirSync(d, { mode: 0o700 });
    const pairA = loadOrCreateLocalCredentials(a);
    const pairB = loadOrCreateLocalCredentials(b);
    for (const pair of [pairA, pairB]) {
      expect(pair.accessKeyId).toMatch(/^AKIA[A-Z0-9]{16}$/);
      expect(pair.secretAccessKey).toMatch(/^[A-Za-z0-9+/]{40}$/);
      expect(pair.accessKeyId).not.toBe(PUBLISHED_PAIR.accessKeyId);
    }
    expect(pairB.accessKeyId).not.toBe(pairA.accessKeyId);
    expect(pairB.secretAccessKey).not.toBe(pairA.secretAccessKey);
    expect(mode(localCredentialsFile(a))).toBe(0o600);
    expect(loadOrCreateLocalCredentials(a)).toEqual(pairA);
    expect(readLocalCredentials(a)).toEqual(pairA);
    expect(new Set(Array.from({ length: 20 }, () => generateLocalCredentials().secretAccessKey)).size).toBe(20);
  });

  test('a pair file others may read, a foreign one or a malformed one is refused without showing its content', () => {
    const dir = path.join(scratch, 's');
    mkdirSync(dir, { mode: 0o700 });
    const pair = loadOrCreateLocalCredentials(dir);
    const file = localCredentialsFile(dir);
    chmodSync(file, 0o644);
    expect(() => loadOrCreateLocalCredentials(dir)).toThrow(/readable or writable by other users \(mode 644\)/);
    expect(() => readLocalCredentials(dir)).toThrow(/remove it to get a new key pair/);
    try {
      readLocalCredentials(dir);
    } catch (error) {
      expect(String(error)).not.toContain(pair.secretAccessKey);
    }
    rmSync(file);
    writeFileSync(file, JSON.stringify({ ...pair, secretAccessKey: 'short' }), { mode: 0o600 });
    expect(() => readLocalCredentials(dir)).toThrow(/secretAccessKey must be 40 characters/);
    // The client side says which state dir and what to do, in a CLI error.
    const info = {
      endpoint: 'http://127.0.0.1:9/v1/',
      region: 'us-east-1',
      accessKeyId: pair.accessKeyId,
      pid: process.pid,
      root: dir,
      instance: 'i',
      rootCaFile: '',
      awsEndpoint: 'http://127.0.0.1:9',
      preflightDocumentName: 'd',
      preflightSecretArn: 'a',
    };
    expect(() => localModeCredentials(info)).toThrow(`reading the key pair of the local mode with state dir ${dir}`);
    rmSync(file);
    loadOrCreateLocalCredentials(dir);
    // A new pair in the file: not the one the running instance announced.
    expect(() => localModeCredentials(info)).toThrow(
      /does not hold the access key id the running local mode announced/,
    );
  });
});

test('a running local mode refuses the published pair, serves its own, and keeps it across a restart', async () => {
  const stateDir = path.join(scratch, 'state');
  mkdirSync(stateDir, { mode: 0o755 });
  let local = await startLocalMode({ nodes: 0, stateDir });
  let pair;
  try {
    pair = { ...local.credentials };
    expect(pair).toEqual(readLocalCredentials(stateDir));
    expect(mode(stateDir)).toBe(0o700);
    expect(mode(localCredentialsFile(stateDir))).toBe(0o600);

    // The API and the emulated AWS endpoint.
    expect((await rawRequest(local, 'GET', '/certificates', { credentials: PUBLISHED_PAIR })).status).toBe(403);
    expect((await rawRequest(local, 'GET', '/certificates')).status).toBe(200);
    const published = new ACMClient({ ...local.aws.clientConfig(), credentials: PUBLISHED_PAIR, maxAttempts: 1 });
    await expect(published.send(new ListCertificatesCommand({}))).rejects.toMatchObject({
      name: 'UnrecognizedClientException',
    });
    published.destroy();
    const own = new ACMClient(local.aws.clientConfig());
    await expect(own.send(new ListCertificatesCommand({}))).resolves.toMatchObject({ CertificateSummaryList: [] });
    own.destroy();

    // The endpoint file (also written to shared places) names the key id only.
    const endpoint = readFileSync(path.join(stateDir, ENDPOINT_FILE), 'utf8');
    expect(endpoint).toContain(pair.accessKeyId);
    expect(endpoint).not.toContain(pair.secretAccessKey);
  } finally {
    await local.close();
  }

  local = await startLocalMode({ nodes: 0, stateDir });
  try {
    expect(local.credentials).toEqual(pair);
    expect((await rawRequest(local, 'GET', '/certificates')).status).toBe(200);
  } finally {
    await local.close();
  }

  // Nothing under the state dir but the pair file, and no handler log line, holds the secret.
  const holders = filesUnder(stateDir).filter((f) => f.text.includes(pair.secretAccessKey));
  expect(holders.map((f) => f.file)).toEqual([]);
  expect(local.handlerLogs.join('\n')).not.toContain(pair.secretAccessKey);

  // Another state dir (here a temporary one) has another pair.
  const other = await startLocalMode({ nodes: 0 });
  try {
    expect(other.credentials.accessKeyId).not.toBe(pair.accessKeyId);
    expect(other.credentials.secretAccessKey).not.toBe(pair.secretAccessKey);
    expect((await rawRequest(other, 'GET', '/certificates', { credentials: pair })).status).toBe(403);
  } finally {
    await other.close();
  }
});
