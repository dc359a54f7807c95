/**
 * The install script enforces the placement policy written into it, before it reads the secret or creates a
 * directory: hostile CertDir/KeyDir/KeyOwner/KeyGroup values are refused with one line each (exit 10).
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { EXIT, runInstall, type InstallParams } from '../helpers/install-script';
import {
  DEFAULT_PLACEMENT,
  FORBIDDEN_EXACT,
  FORBIDDEN_TREES,
  type PlacementPolicy,
} from '../../lambda/shared/placement';
import { renderInstallScript } from '../../ssm-documents/load';
import { createFixture } from './fixture';

const f = createFixture('placement');
afterAll(() => f.cleanup());

/** Only root/allowed (and below) may receive files. */
const policy = (): PlacementPolicy => ({
  allowedDirs: [path.join(f.root, 'allowed')],
  keyAccounts: DEFAULT_PLACEMENT.keyAccounts,
});

async function refused(extra: InstallParams): Promise<string[]> {
  const cert = f.publish({ names: ['placement.example.test'] });
  const callsBefore = f.aws.calls().length;
  const r = await runInstall({
    params: f.params(cert.versionId, 'allowed/node', extra),
    path: [f.aws.binDir],
    tmpDir: f.tmpDir,
    placement: policy(),
  });
  expect(r.code).toBe(EXIT.parameters);
  expect(r.failure).toMatch(/^acm-export: FAILED at parameters: \d invalid parameter value\(s\); nothing was changed$/);
  expect(existsSync(path.join(f.root, 'allowed'))).toBe(false);
  expect(f.aws.calls().length).toBe(callsBefore);
  return r.stderr.split('\n').filter((line) => line.startsWith('acm-export: parameters: '));
}

describe('the install script refuses files outside its placement policy', () => {
  test('a key in a web root and a general group: one line each, nothing created, the secret not read', async () => {
    const lines = await refused({ KeyDir: '/var/www/html', KeyGroup: 'users' });
    expect(lines).toEqual([
      'acm-export: parameters: SSM_KeyDir /var/www/html is below /var/www, which is never allowed (a system directory or a web root)',
      'acm-export: parameters: SSM_KeyGroup users is not an allowed key owner or group (root ssl-cert www-data nginx apache haproxy)',
    ]);
  });

  test.each(['/etc', '/var', '/usr/share/nginx/html', '/proc/self', '/root/tls', '/boot'])(
    'CertDir %s is never allowed',
    async (dir) => {
      expect(await refused({ CertDir: dir })).toEqual([
        expect.stringMatching(new RegExp(`^acm-export: parameters: SSM_CertDir ${dir} is (never allowed|below /)`)),
      ]);
    },
  );

  test('a sibling that shares a string prefix is not below the allowed directory', async () => {
    const sibling = path.join(f.root, 'allowed2', 'private');
    expect(await refused({ KeyDir: sibling })).toEqual([
      `acm-export: parameters: SSM_KeyDir ${sibling} is not under an allowed directory (${path.join(f.root, 'allowed')})`,
    ]);
  });

  test('KeyOwner outside the key accounts is refused', async () => {
    expect(await refused({ KeyOwner: 'nobody' })).toEqual([
      'acm-export: parameters: SSM_KeyOwner nobody is not an allowed key owner or group (root ssl-cert www-data nginx apache haproxy)',
    ]);
  });

  test('inside the policy the same script installs', async () => {
    const cert = f.publish({ names: ['placement.example.test'] });
    const params = f.params(cert.versionId, 'allowed/ok');
    const r = await runInstall({ params, path: [f.aws.binDir], tmpDir: f.tmpDir, placement: policy() });
    expect(r.code).toBe(0);
    expect(readFileSync(path.join(params.CertDir!, 'site.crt'), 'utf8')).toBe(cert.certificate);
  });
});

describe('the policy in the script text', () => {
  // The policy lines live in the parameters library that every program includes.
  const script = readFileSync(path.join(__dirname, '..', '..', 'ssm-documents', 'lib', 'params.sh'), 'utf8');
  const array = (text: string, name: string) => {
    const m = new RegExp(`^declare -ra ${name}=\\(([^)]*)\\)$`, 'm').exec(text.replace(/\n {2}'/g, " '"));
    return (m?.[1] ?? '').split(/\s+/).map((v) => v.replace(/^'|'$/g, ''));
  };

  test('the committed defaults and the fixed lists are those of lambda/shared/placement.ts', () => {
    expect(array(script, 'ALLOWED_DIRS')).toEqual(DEFAULT_PLACEMENT.allowedDirs);
    expect(array(script, 'ALLOWED_KEY_ACCOUNTS')).toEqual(DEFAULT_PLACEMENT.keyAccounts);
    expect(array(script, 'FORBIDDEN_TREES')).toEqual(FORBIDDEN_TREES);
    expect(array(script, 'FORBIDDEN_EXACT')).toEqual(FORBIDDEN_EXACT);
  });

  test('rendering replaces exactly the two policy lines and refuses entries that could reach the shell', () => {
    const out = renderInstallScript(script, { allowedDirs: ['/etc/pki'], keyAccounts: ['root'] });
    expect(array(out, 'ALLOWED_DIRS')).toEqual(['/etc/pki']);
    expect(array(out, 'ALLOWED_KEY_ACCOUNTS')).toEqual(['root']);
    expect(out.split('\n').length).toBe(script.split('\n').length);
    expect(() => renderInstallScript(script, { allowedDirs: ["/etc/x' $(id)"], keyAccounts: ['root'] })).toThrow(
      'placement policy: allowedDirs entry is not valid',
    );
  });
});
