/**
 * CLI side of fleet convergence: `certificates --nodes`, `targets delete` / `untarget` (SigV4-signed DELETE with
 * URL-encoded ARN and target, checked by the signature-verifying stand-in), the export profile options, and the
 * doctor's drift rule being the shared one.
 */
import type {
  CertificateTargetView,
  DeleteTargetResponse,
  ListCertificatesResponse,
} from '../../lambda/export-api/api-types';
import { findDrift } from '../../lambda/shared/drift';
import { buildExportRequest, validateExportRequest } from '../../cli/export';
import { requestForTarget } from '../../cli/renew';
import { checkDrift, normalizeSerial } from '../../cli/doctor/checks';
import type { CliError } from '../../cli/errors';
import { runCli } from './helpers/cli-runner';
import { startFakeApi, type FakeApi, type Route } from './helpers/fake-api';

const ARN = 'arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666';
const EXEC = 'arn:aws:states:eu-west-1:123456789012:execution:ExportWorkflow:exp-1';

function row(partial: Partial<CertificateTargetView>): CertificateTargetView {
  return {
    certificateArn: ARN,
    certName: 'www',
    target: 'Role=web',
    targetTagKey: 'Role',
    targetTagValue: 'web',
    lastSerial: '0a:1b:2c:3d',
    certExpiryDate: '2027-05-01T00:00:00.000Z',
    daysToExpiry: 160,
    lastExportedDate: '2026-11-20T10:00:00.000Z',
    lastExecutionArn: EXEC,
    certDir: '/etc/ssl/certs',
    keyDir: '/etc/ssl/private',
    service: 'nginx',
    verifyPort: 443,
    maxConcurrency: '10%',
    maxErrors: '0',
    ...partial,
  };
}

const node = (nodeId: string, serial: string, inSync: boolean, over: object = {}) => ({
  nodeId,
  serial,
  servedSerial: serial,
  notAfter: '2027-05-01T00:00:00Z',
  verified: true,
  installedAt: '2026-11-20T10:04:00Z',
  lastRun: 'unchanged',
  lastRunAt: '2026-11-21T10:00:00Z',
  secretVersionId: '11111111-2222-4333-8444-555555555555',
  capturedAt: '2026-11-21T10:10:00Z',
  inSync,
  ...over,
});

describe('fleet convergence commands', () => {
  let api: FakeApi | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  test('certificates --nodes asks for nodes=true and prints one row per node, drifting ones marked, problems below', async () => {
    const body: ListCertificatesResponse = {
      items: [
        row({
          nodes: [
            node('i-0123456789abcdef0', '0A1B2C3D', true, { checkedAt: '2026-11-21T11:00:07Z' }),
            node('mi-0123456789abcdef0', '5E0F', false, { lastRun: 'failed', failedStep: 'verify' }),
            node('i-0123456789abcdef1', '0A1B2C3D', false, {
              checkedAt: '2026-11-21T11:00:09Z',
              problem: 'the key does not match the certificate',
            }),
          ],
          nodesInSync: 1,
          nodesDrifting: 2,
        }),
        row({ target: 'Role=api', targetTagValue: 'api', nodes: [], nodesInSync: 0, nodesDrifting: 0 }),
      ],
    };
    const route: Route = (r) => (r.method === 'GET' && r.path === '/certificates' ? { status: 200, body } : undefined);
    api = await startFakeApi([route]);
    const result = await runCli(['--endpoint', api.url, 'certificates', '--nodes']);
    expect(result.code).toBe(0);
    expect(api.requests[0].query).toEqual({ nodes: 'true' });
    const lines = result.stdout.trimEnd().split('\n');
    const header = lines.findIndex((l) => l.startsWith('NAME') && l.includes('NODE'));
    expect(lines[header]).toMatch(
      /^NAME\s+TARGET\s+NODE\s+SERIAL\s+SERVED\s+VERIFIED\s+IN SYNC\s+LAST RUN\s+INSTALLED\s+CHECKED$/,
    );
    expect(lines[header + 1]).toMatch(
      /^www\s+Role=web\s+i-0123456789abcdef0\s+0A1B2C3D\s+0A1B2C3D\s+yes\s+yes\s+unchanged\s+2026-11-20\s+2026-11-21 11:00$/,
    );
    expect(lines[header + 2]).toMatch(
      /^www\s+Role=web\s+mi-0123456789abcdef0\s+5E0F\s+5E0F\s+yes\s+NO\s+failed \(verify\)\s+2026-11-20\s+-$/,
    );
    expect(lines[header + 3]).toMatch(
      /^www\s+Role=web\s+i-0123456789abcdef1\s+0A1B2C3D\s+0A1B2C3D\s+yes\s+NO\s+unchanged\s+2026-11-20\s+2026-11-21 11:00$/,
    );
    expect(lines[header + 4]).toContain('(no node reports yet)');
    expect(result.stdout).toContain(
      'problem: i-0123456789abcdef1 (www, Role=web): the key does not match the certificate\n',
    );
    expect(result.stdout).toContain(
      '2 node(s) do not serve and hold the last exported certificate as a consistent set of files',
    );
    expect(api.rejected).toBe(0);

    const json = await runCli(['--endpoint', api.url, '--json', 'certificates', '--nodes', '--all']);
    expect(JSON.parse(json.stdout)).toEqual({ items: body.items });
  });

  test('targets delete sends a signed DELETE with the ARN and target URL-encoded; untarget is the same', async () => {
    const seen: string[] = [];
    const reply: DeleteTargetResponse = {
      certificateArn: ARN,
      target: 'tier:app=web 1',
      inventoryItemDeleted: true,
      associationDeleted: true,
      reportAssociationDeleted: true,
      filesRemoval: { requested: false },
      secretDeletion: { scheduled: true, recoveryWindowDays: 7, deletionDate: '2026-12-11T10:00:00.000Z' },
    };
    const route: Route = (r) => {
      if (r.method !== 'DELETE') return undefined;
      seen.push(r.path);
      return { status: 200, body: reply };
    };
    api = await startFakeApi([route]);
    const result = await runCli(['--endpoint', api.url, 'targets', 'delete', ARN, '--tag', 'tier:app=web 1']);
    expect(result.code).toBe(0);
    expect(seen[0]).toBe(`/certificates/${encodeURIComponent(ARN)}/targets/${encodeURIComponent('tier:app=web 1')}`);
    expect(result.stdout).toContain(
      'association deleted, report association deleted, inventory item deleted; installed files were left on the nodes',
    );
    expect(result.stdout).toMatch(
      /^secret: +scheduled for deletion on 2026-12-11T10:00:00.000Z \(7-day recovery window/m,
    );
    expect(api.requests[0].query).toEqual({});
    expect(api.rejected).toBe(0); // the signature over the encoded path verifies

    const json = await runCli(['--endpoint', api.url, '--json', 'untarget', ARN, '--tag', 'tier:app=web 1']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(reply);
  });

  test('targets delete: unknown target is one clear line; bad input is refused before sending', async () => {
    const route: Route = (r) => (r.method === 'DELETE' ? { status: 404, body: { message: 'no target' } } : undefined);
    api = await startFakeApi([route]);
    const missing = await runCli(['--endpoint', api.url, 'targets', 'delete', ARN, '--tag', 'Role=web']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^acm-export: deleting target Role=web: the certificate has no such target\. /);
    const before = api.requests.length;
    const badArn = await runCli(['--endpoint', api.url, 'targets', 'delete', 'arn:aws:acm:x', '--tag', 'Role=web']);
    expect(badArn.code).toBe(1);
    const badTag = await runCli(['--endpoint', api.url, 'targets', 'delete', ARN, '--tag', 'Role=a;b']);
    expect(badTag.code).toBe(1);
    expect(api.requests.length).toBe(before);
  });

  test('export: output profile and schedule options become API fields, validated with the shared rules', () => {
    const body = buildExportRequest({
      arn: ARN,
      name: 'www',
      tag: 'Role=web',
      keyOwner: 'haproxy',
      keyMode: '0640',
      certMode: '0444',
      pkcs12: true,
      combinedPem: true,
      convergenceSchedule: 'rate(6 hours)',
    });
    expect(validateExportRequest(body)).toMatchObject({
      KeyOwner: 'haproxy',
      KeyMode: '0640',
      CertMode: '0444',
      Pkcs12: true,
      CombinedPem: true,
      ConvergenceSchedule: 'rate(6 hours)',
    });
    const line = (options: Parameters<typeof buildExportRequest>[0]) => {
      try {
        validateExportRequest(buildExportRequest(options));
        return 'accepted';
      } catch (error) {
        return (error as CliError).line();
      }
    };
    expect(line({ arn: ARN, name: 'www', tag: 'Role=web', keyMode: '0777' })).toMatch(/KeyMode: .*Fix --key-mode/);
    expect(line({ arn: ARN, name: 'www', tag: 'Role=web', convergenceSchedule: 'rate(5 minutes)' })).toMatch(
      /Fix --convergence-schedule/,
    );
  });

  test('renew repeats the stored profile and schedule', () => {
    const request = requestForTarget(
      row({
        keyOwner: 'haproxy',
        combinedPem: true,
        pkcs12: false,
        certMode: '0644',
        convergenceSchedule: 'rate(1 day)',
      }),
    );
    expect(request).toMatchObject({
      KeyOwner: 'haproxy',
      CombinedPem: true,
      Pkcs12: false,
      CertMode: '0644',
      ConvergenceSchedule: 'rate(1 day)',
    });
    expect(validateExportRequest(request)).toBeTruthy();
  });

  test('doctor --arn uses the shared drift rule: ACM and OpenSSL serial forms agree', () => {
    expect(normalizeSerial('0a:1b:2c:3d')).toBe('A1B2C3D');
    expect(checkDrift('0A1B2C3D', ['0a:1b:2c:3d'], 'last export').status).toBe('pass');
    expect(checkDrift('0A1B2C3E', ['0a:1b:2c:3d'], 'last export').status).toBe('fail');
    for (const [served, expected] of [
      ['0A1B2C3D', '0a:1b:2c:3d'],
      ['A1B2C3D', '0x0a1b2c3d'],
      ['FF', '0a'],
    ] as const) {
      const shared = findDrift(expected, [{ nodeId: 'server', serial: served }]).drifting.length === 0;
      expect(checkDrift(served, [expected], 'x').status === 'pass').toBe(shared);
    }
  });
});
