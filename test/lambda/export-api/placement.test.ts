/**
 * Key placement policy at the API: hostile POST /exports bodies are refused with 400 naming the field and the
 * rule, and start nothing; the handler reads the policy the stack puts in PLACEMENT_POLICY.
 */
import { ACMClient, ListTagsForCertificateCommand } from '@aws-sdk/client-acm';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import 'aws-sdk-client-mock-jest';
import { createHandler } from '../../../lambda/export-api/handler';
import {
  DEFAULT_PLACEMENT,
  isAtOrBelow,
  parsePlacementPolicy,
  placementFromEnv,
} from '../../../lambda/shared/placement';
import { DEFAULT_EXPORT_TAG } from '../../../lambda/shared/export-opt-in';
import { INPUT, STATE_MACHINE_ARN, mockAwsClient, startInventory } from '../support';

const sfn = mockAwsClient(SFNClient);
const acm = mockAwsClient(ACMClient);
beforeEach(() => {
  sfn.reset();
  acm.reset();
  acm
    .on(ListTagsForCertificateCommand)
    .resolves({ Tags: [{ Key: DEFAULT_EXPORT_TAG.key, Value: DEFAULT_EXPORT_TAG.value }] });
  sfn.on(StartExecutionCommand).resolves({ executionArn: `${STATE_MACHINE_ARN}:x`, startDate: new Date() });
});

function post(body: unknown): APIGatewayProxyEvent {
  return {
    httpMethod: 'POST',
    path: '/exports',
    resource: '/exports',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    isBase64Encoded: false,
    pathParameters: null,
    queryStringParameters: null,
    requestContext: { requestId: 'c0ffee00-1234-4abc-8def-0123456789ab' },
  } as unknown as APIGatewayProxyEvent;
}

let inventory: Awaited<ReturnType<typeof startInventory>>;
beforeAll(async () => {
  inventory = await startInventory();
});
afterAll(() => inventory.stop());
const handler = (event: APIGatewayProxyEvent) =>
  createHandler({
    stateMachineArn: STATE_MACHINE_ARN,
    sfn: sfn as unknown as SFNClient,
    ddb: inventory.ddb,
    tableName: inventory.tableName,
    placement: DEFAULT_PLACEMENT,
    acm: acm as unknown as ACMClient,
    exportOptIn: () => ({ tagKey: DEFAULT_EXPORT_TAG.key, tagValue: DEFAULT_EXPORT_TAG.value, anyCertificate: false }),
  })(event);

async function refused(body: Record<string, unknown>): Promise<string> {
  const res = await handler(post({ ...INPUT, ...body }));
  expect(res.statusCode).toBe(400);
  expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  return (JSON.parse(res.body) as { message: string }).message;
}

const ALLOWED = '/etc/ssl, /etc/pki, /etc/nginx/ssl, /etc/apache2/ssl, /etc/httpd/ssl, /etc/haproxy';

describe('POST /exports refuses files outside the placement policy', () => {
  test('a key in a web root, readable by a general group, is refused naming field and rule', async () => {
    const message = await refused({ KeyDir: '/var/www/html', KeyGroup: 'users', KeyMode: '0640' });
    expect(message).toBe(
      'KeyDir: /var/www/html is below /var/www, which is never allowed (a system directory or a web root); ' +
        `KeyGroup: users is not an allowed key owner or group (root, ssl-cert, www-data, nginx, apache, haproxy)`,
    );
  });

  test.each([
    '/etc',
    '/var',
    '/tmp',
    '/proc',
    '/proc/self',
    '/dev/shm',
    '/sys/kernel',
    '/usr/local/etc/ssl',
    '/bin',
    '/boot/efi',
    '/root/tls',
    '/var/www',
    '/var/www/html',
    '/usr/share/nginx/html',
    '/srv/www/site',
  ])('KeyDir %s is never allowed', async (dir) => {
    expect(await refused({ KeyDir: dir })).toMatch(new RegExp(`^KeyDir: ${dir} is (never allowed|below )`));
  });

  test.each(['/etc/ssl2', '/etc/sslx/private', '/opt/app/tls', '/home/alice', '/etc/nginx'])(
    'CertDir %s is not under an allowed directory (component-wise, not a string prefix)',
    async (dir) => {
      expect(await refused({ CertDir: dir })).toBe(`CertDir: ${dir} is not under an allowed directory (${ALLOWED})`);
    },
  );

  test('a path with .. never reaches the policy: the field pattern refuses it first', async () => {
    expect(await refused({ KeyDir: '/etc/ssl/../../var/www' })).toMatch(/^KeyDir: must be an absolute directory path/);
  });

  test('KeyOwner outside the key accounts is refused', async () => {
    expect(await refused({ KeyOwner: 'alice' })).toBe(
      'KeyOwner: alice is not an allowed key owner or group (root, ssl-cert, www-data, nginx, apache, haproxy)',
    );
  });

  test.each([
    [{}],
    [{ CertDir: '/etc/ssl', KeyDir: '/etc/ssl/private' }],
    [{ CertDir: '/etc/pki/tls/certs', KeyDir: '/etc/pki/tls/private', KeyGroup: 'apache' }],
    [{ KeyDir: '/etc/haproxy/certs', CombinedPem: true, KeyOwner: 'haproxy' }],
    [{ KeyDir: '/etc/nginx/ssl', KeyGroup: 'ssl-cert', KeyMode: '0640' }],
  ])('allowed placements start the export: %j', async (body) => {
    const res = await handler(post({ ...INPUT, ...body }));
    expect(res.statusCode).toBe(200);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
  });

  test('the handler reads the stack policy from PLACEMENT_POLICY', async () => {
    const previous = process.env.PLACEMENT_POLICY;
    process.env.PLACEMENT_POLICY = JSON.stringify({ allowedDirs: ['/etc/pki'], keyAccounts: ['root'] });
    try {
      const fromEnv = createHandler({
        stateMachineArn: STATE_MACHINE_ARN,
        sfn: sfn as unknown as SFNClient,
        tableName: 'unused',
        acm: acm as unknown as ACMClient,
        exportOptIn: () => ({
          tagKey: DEFAULT_EXPORT_TAG.key,
          tagValue: DEFAULT_EXPORT_TAG.value,
          anyCertificate: false,
        }),
      });
      const res = await fromEnv(post(INPUT)); // default CertDir /etc/ssl/certs
      expect(res.statusCode).toBe(400);
      expect(JSON.parse(res.body)).toEqual({
        message:
          'CertDir: /etc/ssl/certs is not under an allowed directory (/etc/pki); KeyDir: /etc/ssl/private is not under an allowed directory (/etc/pki)',
      });
    } finally {
      if (previous === undefined) delete process.env.PLACEMENT_POLICY;
      else process.env.PLACEMENT_POLICY = previous;
    }
  });
});

describe('placement policy configuration', () => {
  test('component-wise containment', () => {
    expect(isAtOrBelow('/etc/ssl', '/etc/ssl')).toBe(true);
    expect(isAtOrBelow('/etc/ssl/private', '/etc/ssl')).toBe(true);
    expect(isAtOrBelow('/etc/ssl2', '/etc/ssl')).toBe(false);
  });

  test.each([
    [{ allowedDirs: ['/etc'], keyAccounts: ['root'] }, /allowedDirs\.0: is a system directory, a web root/],
    [{ allowedDirs: ['/var/www'], keyAccounts: ['root'] }, /allowedDirs\.0: is a system directory/],
    [{ allowedDirs: ['/'], keyAccounts: ['root'] }, /allowedDirs\.0: must be an absolute directory path/],
    [{ allowedDirs: [], keyAccounts: ['root'] }, /allowedDirs: must name at least one directory/],
    [{ allowedDirs: ['/etc/ssl'], keyAccounts: ["root' x"] }, /keyAccounts\.0: must be a POSIX user or group name/],
  ])('a policy that would widen placement is refused at synth: %j', (policy, message) => {
    expect(() => parsePlacementPolicy(policy, 'context')).toThrow(message);
  });

  test('unset PLACEMENT_POLICY is the default policy; a broken one fails loudly', () => {
    expect(placementFromEnv(undefined)).toBe(DEFAULT_PLACEMENT);
    expect(() => placementFromEnv('{')).toThrow('PLACEMENT_POLICY is not JSON');
  });
});
