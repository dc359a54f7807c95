/**
 * The node library (lib/files.sh and lib/inventory.sh) ships beside the install document, which names it by S3
 * location and sha256: the node fetches it once into a root-only cache, runs only a copy with that sha256, and
 * stops before touching any live file when it cannot get one.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_PLACEMENT } from '../../lambda/shared/placement';
import { EXAMPLE_LIBRARY_LOCATION, loadDocument, nodeLibrary } from '../../ssm-documents/load';
import { EXIT } from '../helpers/install-script';
import { createFixture, loggingOpenssl, type Fixture } from './fixture';

const LIBRARY = nodeLibrary();
const { bucket, key } = EXAMPLE_LIBRARY_LOCATION;
const OBJECT = `s3://${bucket}/${key}`;

let f: Fixture;
beforeAll(() => {
  f = createFixture('library');
});
afterAll(() => f.cleanup());

/** Calls of `aws s3 cp` so far. */
const fetches = () => f.aws.calls().filter((args) => args[0] === 's3' && args[1] === 'cp').length;
/** A state directory of its own for one test (the library cache is <state dir>/lib). */
const stateDir = (name: string) => path.join(f.root, `state-${name}`);

describe('the install document', () => {
  test('carries the library location and sha256 instead of the library code, which report and remove embed', () => {
    const script = loadDocument('install').mainSteps[0].inputs.runCommand[0];
    expect(script).toContain(
      `declare -r LIB_OBJECT='${OBJECT}' LIB_REGION='${EXAMPLE_LIBRARY_LOCATION.region}' LIB_SHA256='${LIBRARY.sha256}'`,
    );
    expect(script).not.toContain('set_store() {');
    expect(LIBRARY.text).toContain('set_store() {');
    expect(loadDocument('report').mainSteps[0].inputs.runCommand[0]).toContain('set_store() {');
    expect(LIBRARY.sha256).toBe(createHash('sha256').update(LIBRARY.text).digest('hex'));
  });

  test('a location that would put shell text into the script is refused at synth', () => {
    const bad = { ...EXAMPLE_LIBRARY_LOCATION, bucket: "b'; touch /tmp/x; '" };
    expect(() => loadDocument('install', DEFAULT_PLACEMENT, undefined, bad)).toThrow(
      'node library: bucket is not valid',
    );
  });
});

describe('on the node', () => {
  test('the first run fetches the library once into a 0700 cache; later runs use it; older copies are pruned', async () => {
    const state = stateDir('cache');
    const cert = f.publish({ names: ['cache.example.test'] });
    const params = f.params(cert.versionId, 'cache');
    const before = fetches();
    expect((await f.run(params, { ACM_EXPORT_STATE_DIR: state })).code).toBe(0);
    expect(fetches()).toBe(before + 1);
    const cached = path.join(state, 'lib', `${LIBRARY.sha256}.sh`);
    expect(readFileSync(cached, 'utf8')).toBe(LIBRARY.text);
    expect(lstatSync(path.join(state, 'lib')).mode & 0o777).toBe(0o700);
    expect(lstatSync(cached).mode & 0o777).toBe(0o600);
    const old = path.join(state, 'lib', `${'1'.repeat(64)}.sh`);
    writeFileSync(old, 'an earlier version\n');
    const renewal = f.publish({ names: ['cache.example.test'] });
    expect((await f.run(f.params(renewal.versionId, 'cache'), { ACM_EXPORT_STATE_DIR: state })).code).toBe(0);
    expect(fetches()).toBe(before + 1);
    // Beside it only the record of its last check (.verified: sha256, inode, change time, size).
    expect(readdirSync(path.join(state, 'lib')).sort()).toEqual(['.verified', `${LIBRARY.sha256}.sh`]);
  });

  test('the cached copy is hashed again only when it is not the file last hashed (inode, change time, size)', async () => {
    const state = stateDir('rehash');
    // An openssl that logs its subcommand, then runs the real one.
    const { bin, subcommands } = loggingOpenssl(f.root, 'openssl-subcommands');
    const env = {
      ACM_EXPORT_STATE_DIR: state,
      PATH: [bin, f.aws.binDir, process.env.PATH ?? '/usr/bin:/bin'].join(':'),
    };
    const digests = () => subcommands().filter((l) => l === 'dgst').length;
    const install = async () => {
      const cert = f.publish({ names: ['rehash.example.test'] });
      expect((await f.run(f.params(cert.versionId, 'rehash'), env)).code).toBe(0);
    };
    await install();
    expect(digests()).toBe(1); // the fetched object
    await install();
    expect(digests()).toBe(1); // the cached copy, untouched since it was hashed
    // Same content, but written to since (a new change time): hashed again before it is run.
    chmodSync(path.join(state, 'lib', `${LIBRARY.sha256}.sh`), 0o600);
    await install();
    expect(digests()).toBe(2);
  });

  test('a tampered object is refused: the checksum named, nothing written, the live pair unchanged', async () => {
    const state = stateDir('tampered');
    const cert = f.publish({ names: ['tampered.example.test'] });
    const params = f.params(cert.versionId, 'tampered');
    expect((await f.run(params, { ACM_EXPORT_STATE_DIR: state })).code).toBe(0);
    const live = (name: string) => readFileSync(path.join(params.CertDir!, name), 'utf8');
    const liveKey = () => readFileSync(path.join(params.KeyDir!, 'site.key'), 'utf8');
    const [certBefore, keyBefore] = [live('site.crt'), liveKey()];
    // The cached copy is altered too, so the run must fetch again and meet the tampered object.
    const tampered = LIBRARY.text.replace('set_store() {', 'set_store() { touch /tmp/owned;');
    writeFileSync(path.join(state, 'lib', `${LIBRARY.sha256}.sh`), tampered);
    f.aws.putObject(bucket, key, tampered);
    try {
      const renewal = f.publish({ names: ['tampered.example.test'] });
      const r = await f.run(f.params(renewal.versionId, 'tampered'), { ACM_EXPORT_STATE_DIR: state });
      const found = createHash('sha256').update(tampered).digest('hex');
      expect(r.code).toBe(EXIT.preflight);
      expect(r.failure).toBe(
        `acm-export: FAILED at preflight: node library ${OBJECT} has sha256 ${found}, expected ${LIBRARY.sha256}; refusing to run it (nothing was changed)`,
      );
      expect(JSON.parse(r.stdout.trim())).toMatchObject({ failedStep: 'preflight', exitCode: EXIT.preflight });
      expect([live('site.crt'), liveKey()]).toEqual([certBefore, keyBefore]);
      expect(
        readdirSync(path.join(state, 'lib')).map((n) => readFileSync(path.join(state, 'lib', n), 'utf8')),
      ).not.toContain(LIBRARY.text);
    } finally {
      f.aws.putObject(bucket, key, LIBRARY.text);
    }
  });

  test('an object that cannot be fetched stops the run with the CLI error', async () => {
    f.aws.deleteObject(bucket, key);
    try {
      const cert = f.publish({ names: ['missing.example.test'] });
      const params = f.params(cert.versionId, 'missing');
      const r = await f.run(params, { ACM_EXPORT_STATE_DIR: stateDir('missing') });
      expect(r.code).toBe(EXIT.preflight);
      expect(r.failure).toBe(
        `acm-export: FAILED at preflight: could not fetch the node library ${OBJECT}: fatal error: An error occurred (404) when calling the HeadObject operation: Key "${key}" does not exist (nothing was changed)`,
      );
      expect(existsSync(params.CertDir!)).toBe(false);
    } finally {
      f.aws.putObject(bucket, key, LIBRARY.text);
    }
  });

  test('a symbolic link planted as the cache directory is refused, not followed', async () => {
    const state = stateDir('linked-dir');
    const elsewhere = path.join(f.root, 'elsewhere');
    mkdirSync(state, { recursive: true });
    mkdirSync(elsewhere, { mode: 0o700 });
    symlinkSync(elsewhere, path.join(state, 'lib'));
    const cert = f.publish({ names: ['link.example.test'] });
    const params = f.params(cert.versionId, 'linked-dir');
    const r = await f.run(params, { ACM_EXPORT_STATE_DIR: state });
    expect(r.code).toBe(EXIT.preflight);
    // Refused with the other directories of the state directory, before the library code looks at it.
    expect(r.stderr).toContain(`state directory ${state}/lib is a symbolic link; refusing to use it`);
    expect(readdirSync(elsewhere)).toEqual([]);
    expect(existsSync(params.CertDir!)).toBe(false);
  });

  test('a symbolic link planted at the cached file is replaced, and the file it names is left alone', async () => {
    const state = stateDir('linked-file');
    mkdirSync(path.join(state, 'lib'), { recursive: true, mode: 0o700 });
    const target = path.join(f.root, 'linked-target.sh');
    writeFileSync(target, LIBRARY.text);
    const cached = path.join(state, 'lib', `${LIBRARY.sha256}.sh`);
    symlinkSync(target, cached);
    const before = fetches();
    const cert = f.publish({ names: ['linkfile.example.test'] });
    expect((await f.run(f.params(cert.versionId, 'linked-file'), { ACM_EXPORT_STATE_DIR: state })).code).toBe(0);
    expect(fetches()).toBe(before + 1);
    expect(lstatSync(cached).isFile()).toBe(true);
    expect(readFileSync(target, 'utf8')).toBe(LIBRARY.text);
  });
});
