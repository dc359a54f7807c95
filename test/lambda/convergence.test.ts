/**
 * Fleet convergence on the Lambda side: the shared drift comparison (all serial formats), the scheduled
 * drift check (one alert per drifting target, the DriftingNodes metric, grace period, pagination),
 * GET /certificates?nodes=true and DELETE /certificates/{certificateArn}/targets/{target}.
 */
import {
  DeleteAssociationCommand,
  DescribeInstanceInformationCommand,
  GetInventoryCommand,
  ListAssociationsCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { DeleteSecretCommand, DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import 'aws-sdk-client-mock-jest';
import { createHandler as createDriftHandler } from '../../lambda/drift-check/handler';
import { createHandler as createApiHandler } from '../../lambda/export-api/handler';
import type { DeleteTargetResponse, ListCertificatesResponse } from '../../lambda/export-api/api-types';
import { associationName } from '../../lambda/shared/associations';
import { InventoryItem } from '../../lambda/shared/contract';
import { driftAlert } from '../../lambda/drift-check/drift-check';
import { findDrift, normalizeSerial } from '../../lambda/shared/drift';
import { CUSTOM_INVENTORY_TYPE } from '../../lambda/shared/node-reports';
import { metrics } from '../../lambda/shared/powertools';
import {
  CERT_ARN,
  REGION,
  ACCOUNT,
  STATE_MACHINE_ARN,
  TARGET_WWW,
  executionArn,
  startInventory,
  mockAwsClient,
  fakeAssociationId,
} from './support';

const ssm = mockAwsClient(SSMClient);
const sns = mockAwsClient(SNSClient);
const secrets = mockAwsClient(SecretsManagerClient);
const NOW = new Date('2026-12-01T12:00:00.000Z');
const TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:alerts`;
const secretArn = (n: number) => `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:acm-export/t/${n}-AbCdEf`;
const certArn = (n: number) => CERT_ARN.replace(/[0-9a-f]{4}$/, `0${n}00`);
/** The serial ACM reports (lower-case, colons, leading zero) and the same one as OpenSSL prints it. */
const ACM_SERIAL = '0a:1b:2c:3d:4e:5f:60:71:82:93:a4:b5:c6:d7:e8:f9';
const OPENSSL_SERIAL = 'A1B2C3D4E5F60718293A4B5C6D7E8F9';
const OLD_SERIAL = '5E0F00AA11BB22CC33DD44EE55FF6677';

let inventory: Awaited<ReturnType<typeof startInventory>>;

function item(n: number, over: Partial<InventoryItem> = {}): InventoryItem {
  return {
    certificateArn: certArn(n),
    ...TARGET_WWW,
    target: `Role=web${n}`,
    CertName: `site${n}`,
    TargetTagValue: `web${n}`,
    certExpiryDate: `2027-0${n}-01T00:00:00.000Z`,
    lastExportedDate: '2026-11-30T00:00:00.000Z',
    lastExportStartedAt: '2026-11-30T00:00:00.000Z',
    lastSerial: ACM_SERIAL,
    lastSecretArn: secretArn(n),
    lastSecretVersionId: '11111111-2222-4333-8444-555555555555',
    lastExecutionArn: executionArn(`e${n}`),
    associationId: fakeAssociationId(n),
    ...over,
  };
}

/** One custom inventory entry as the install script writes it. */
function entry(n: number, serial: string, over: Record<string, string> = {}): Record<string, string> {
  return {
    CertName: `site${n}`,
    Target: `Role=web${n}`,
    SecretId: secretArn(n),
    SecretVersionId: '11111111-2222-4333-8444-555555555555',
    Serial: serial,
    ServedSerial: serial,
    NotAfter: '2027-06-01T00:00:00Z',
    Verified: 'true',
    InstalledAt: '2026-11-30T00:10:00Z',
    LastRun: 'unchanged',
    FailedStep: '',
    LastRunAt: '2026-12-01T11:00:00Z',
    Service: 'nginx',
    Node: '',
    ...over,
  };
}

function entity(id: string, content: Record<string, string>[]) {
  return {
    Id: id,
    Data: {
      [CUSTOM_INVENTORY_TYPE]: {
        TypeName: CUSTOM_INVENTORY_TYPE,
        SchemaVersion: '1.0',
        CaptureTime: '2026-12-01T11:30:00Z',
        Content: content,
      },
    },
  };
}

beforeAll(async () => {
  inventory = await startInventory();
  // 1: two nodes in sync (both serial formats), 2: one of three drifting, 3: exported 10 minutes ago (grace),
  // 4: two drifting nodes across two GetInventory pages, one reporting nothing readable.
  const items = [item(1), item(2), item(3, { lastExportedDate: '2026-12-01T11:50:00.000Z' }), item(4)];
  for (const i of items) await inventory.ddb.send(new PutCommand({ TableName: inventory.tableName, Item: i }));
});
afterAll(async () => inventory.stop());

beforeEach(() => {
  ssm.reset();
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  const reports: Record<string, { Entities: unknown[]; NextToken?: string }[]> = {
    [secretArn(1)]: [
      {
        Entities: [
          entity('i-0000000000000000a', [entry(1, OPENSSL_SERIAL)]),
          entity('mi-0000000000000000b', [entry(1, `0${OPENSSL_SERIAL}`, { ServedSerial: '' })]),
        ],
      },
    ],
    [secretArn(2)]: [
      {
        Entities: [
          entity('i-0000000000000002a', [entry(2, OPENSSL_SERIAL)]),
          entity('i-0000000000000002b', [
            entry(2, OLD_SERIAL, { InstalledAt: '2026-06-01T00:00:00Z' }),
            entry(9, OPENSSL_SERIAL, { SecretId: secretArn(9) }),
          ]),
          entity('i-0000000000000002c', [entry(2, OPENSSL_SERIAL, { ServedSerial: OPENSSL_SERIAL.toLowerCase() })]),
        ],
      },
    ],
    [secretArn(3)]: [{ Entities: [entity('i-0000000000000003a', [entry(3, OLD_SERIAL)])] }],
    [secretArn(4)]: [
      {
        Entities: [entity('i-0000000000000004a', [entry(4, OLD_SERIAL, { LastRun: 'failed', FailedStep: 'verify' })])],
        NextToken: 'page-2',
      },
      {
        Entities: [
          entity('i-0000000000000004b', [entry(4, '', { ServedSerial: '' })]),
          entity('i-0000000000000004c', [entry(4, OPENSSL_SERIAL)]),
        ],
      },
    ],
  };
  ssm.on(GetInventoryCommand).callsFake((input: { Filters?: { Values?: string[] }[]; NextToken?: string }) => {
    const pages = reports[input.Filters?.[0]?.Values?.[0] ?? ''] ?? [{ Entities: [] }];
    return pages[input.NextToken === 'page-2' ? 1 : 0];
  });
  // No tagged node beyond the reporting ones (silent nodes are covered in drift-report.test.ts).
  ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });
});

describe('drift comparison (shared with doctor --arn)', () => {
  test('ACM colon form, OpenSSL form, 0x prefix, case and leading zeros all compare equal', () => {
    expect(normalizeSerial(ACM_SERIAL)).toBe(OPENSSL_SERIAL);
    expect(normalizeSerial(`0x${OPENSSL_SERIAL.toLowerCase()}`)).toBe(OPENSSL_SERIAL);
    expect(normalizeSerial(`00${OPENSSL_SERIAL}`)).toBe(OPENSSL_SERIAL);
    const r = findDrift(ACM_SERIAL, [
      { nodeId: 'a', serial: OPENSSL_SERIAL },
      { nodeId: 'b', serial: OPENSSL_SERIAL.toLowerCase() },
      { nodeId: 'c', serial: `0${OPENSSL_SERIAL}` },
      { nodeId: 'd', serial: OLD_SERIAL, since: '2026-06-01T00:00:00Z' },
      { nodeId: 'e', serial: '' },
    ]);
    expect(r.inSync).toEqual(['a', 'b', 'c']);
    expect(r.drifting).toEqual([
      { nodeId: 'd', serves: OLD_SERIAL, since: '2026-06-01T00:00:00Z' },
      { nodeId: 'e', serves: '' },
    ]);
  });

  test('several acceptable serials (a URL behind several targets)', () => {
    expect(findDrift([OLD_SERIAL, ACM_SERIAL], [{ nodeId: 'x', serial: OPENSSL_SERIAL }]).drifting).toEqual([]);
  });

  test('the alert names nodes, what they serve and since when; no secret, subject within SNS limits', () => {
    const alert = driftAlert(
      {
        certificateArn: certArn(2),
        certName: 'site2',
        target: 'Role=web2',
        expectedSerial: ACM_SERIAL,
        nodesReporting: 3,
        drifting: [{ nodeId: 'i-1', serves: OLD_SERIAL, since: '2026-06-01T00:00:00Z' }],
      },
      NOW.toISOString(),
    );
    expect(alert.subject.length).toBeLessThanOrEqual(100);
    expect(JSON.parse(alert.message)).toMatchObject({
      certificateArn: certArn(2),
      target: 'Role=web2',
      expectedSerial: OPENSSL_SERIAL,
      drifting: [{ nodeId: 'i-1', serves: OLD_SERIAL, since: '2026-06-01T00:00:00Z' }],
    });
    expect(alert.message).not.toMatch(/BEGIN|PRIVATE|passphrase/i);
  });
});

describe('drift-check function', () => {
  const handler = () =>
    createDriftHandler({
      ddb: inventory.ddb,
      tableName: inventory.tableName,
      ssm: new SSMClient({ region: REGION }),
      sns: new SNSClient({ region: REGION }),
      topicArn: TOPIC,
      graceMinutes: 120,
      now: () => NOW,
    });

  test('one alert per drifting target, the DriftingNodes metric, targets in their grace period skipped', async () => {
    const added: [string, number][] = [];
    const spy = jest.spyOn(metrics, 'addMetric').mockImplementation((name: string, _unit: unknown, value: number) => {
      added.push([name, value]);
      return undefined as never;
    });
    try {
      const result = await handler()({ id: 'event-1' });
      expect(result).toEqual({
        targetsChecked: 3,
        targetsSkipped: 1,
        nodesReporting: 8,
        driftingNodes: 3,
        silentNodes: 0,
        driftingTargets: 2,
        alertsSent: 2,
        caughtUp: 0,
        // No secret prefix given: no orphaned-secret sweep (test/lambda/orphaned-secrets.test.ts).
        orphanedSecrets: 0,
      });
    } finally {
      spy.mockRestore();
    }
    expect(added).toEqual(
      expect.arrayContaining([
        ['DriftingNodes', 3],
        ['DriftingTargets', 2],
      ]),
    );
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 2);
    const messages = sns.commandCalls(PublishCommand).map((c) => JSON.parse(c.args[0].input.Message ?? '{}'));
    expect(messages.map((m) => m.target).sort()).toEqual(['Role=web2', 'Role=web4']);
    expect(messages.find((m) => m.target === 'Role=web2').drifting).toEqual([
      { nodeId: 'i-0000000000000002b', serves: OLD_SERIAL, since: '2026-06-01T00:00:00Z' },
    ]);
    expect(messages.find((m) => m.target === 'Role=web4').drifting.map((d: { nodeId: string }) => d.nodeId)).toEqual([
      'i-0000000000000004a',
      'i-0000000000000004b',
    ]);
    for (const call of sns.commandCalls(PublishCommand)) expect(call.args[0].input.TopicArn).toBe(TOPIC);
    // One paginated GetInventory per checked target, filtered on the custom type: never one call per node.
    const calls = ssm.commandCalls(GetInventoryCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(4);
    expect(calls[0]).toMatchObject({
      Filters: [{ Key: 'Custom:AcmExportCertificate.SecretId', Type: 'Equal' }],
      ResultAttributes: [{ TypeName: 'Custom:AcmExportCertificate' }],
    });
  });

  test('nothing drifting: no alert, DriftingNodes 0 is still published', async () => {
    ssm.on(GetInventoryCommand).resolves({ Entities: [] });
    const added: [string, number][] = [];
    const spy = jest.spyOn(metrics, 'addMetric').mockImplementation((name: string, _unit: unknown, value: number) => {
      added.push([name, value]);
      return undefined as never;
    });
    try {
      const result = await handler()({});
      expect(result.driftingNodes).toBe(0);
    } finally {
      spy.mockRestore();
    }
    expect(added).toEqual(expect.arrayContaining([['DriftingNodes', 0]]));
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 0);
  });

  test('throttled GetInventory surfaces as Throttled (the schedule tries again next hour)', async () => {
    ssm.on(GetInventoryCommand).rejects(Object.assign(new Error('slow'), { name: 'ThrottlingException' }));
    await expect(handler()({})).rejects.toMatchObject({ name: 'Throttled' });
  });
});

describe('export API', () => {
  const api = () =>
    createApiHandler({
      ddb: inventory.ddb,
      tableName: inventory.tableName,
      stateMachineArn: STATE_MACHINE_ARN,
      ssm: new SSMClient({ region: REGION }),
      secrets: new SecretsManagerClient({ region: REGION }),
      secretNamePrefix: () => 'acm-export/AcmExport',
      now: () => NOW,
    });
  const event = (over: Partial<APIGatewayProxyEvent>): APIGatewayProxyEvent =>
    ({
      httpMethod: 'GET',
      path: '/certificates',
      resource: '/certificates',
      pathParameters: null,
      queryStringParameters: null,
      requestContext: { requestId: 'r' },
      ...over,
    }) as unknown as APIGatewayProxyEvent;

  test("GET /certificates?nodes=true adds each node's serials and the drift summary", async () => {
    const res = await api()(event({ queryStringParameters: { nodes: 'true' } }));
    expect(res.statusCode).toBe(200);
    const body = JSON.parse(res.body) as ListCertificatesResponse;
    const web2 = body.items.find((i) => i.target === 'Role=web2')!;
    expect(web2).toMatchObject({
      nodesInSync: 2,
      nodesDrifting: 1,
      associationId: fakeAssociationId(2),
      certMode: '0644',
      pkcs12: false,
    });
    expect(web2.nodes?.find((n) => n.nodeId === 'i-0000000000000002b')).toMatchObject({
      serial: OLD_SERIAL,
      inSync: false,
      verified: true,
      lastRun: 'unchanged',
    });
    const web4 = body.items.find((i) => i.target === 'Role=web4')!;
    expect(web4.nodes?.find((n) => n.nodeId === 'i-0000000000000004a')).toMatchObject({
      lastRun: 'failed',
      failedStep: 'verify',
      inSync: false,
    });
    // Without nodes=true: no GetInventory at all.
    ssm.resetHistory();
    const plain = JSON.parse((await api()(event({}))).body) as ListCertificatesResponse;
    expect(plain.items[0].nodes).toBeUndefined();
    expect(ssm).toHaveReceivedCommandTimes(GetInventoryCommand, 0);
    expect((await api()(event({ queryStringParameters: { nodes: 'yes' } }))).statusCode).toBe(400);
  });

  const del = (arn: string, target: string, query: Record<string, string> | null = null, encode = true) =>
    event({
      httpMethod: 'DELETE',
      resource: '/certificates/{certificateArn}/targets/{target}',
      path: `/certificates/${encodeURIComponent(arn)}/targets/${encodeURIComponent(target)}`,
      pathParameters: encode
        ? { certificateArn: encodeURIComponent(arn), target: encodeURIComponent(target) }
        : { certificateArn: arn, target },
      queryStringParameters: query,
    });

  test('DELETE removes both associations (stored ids) and the inventory item; files stay', async () => {
    const extra = item(5, {
      target: 'tier:app=web 5',
      TargetTagKey: 'tier:app',
      TargetTagValue: 'web 5',
      reportAssociationId: fakeAssociationId(0x105),
    });
    await inventory.ddb.send(new PutCommand({ TableName: inventory.tableName, Item: extra }));
    ssm.on(DeleteAssociationCommand).resolves({});
    secrets.on(DeleteSecretCommand).resolves({ DeletionDate: new Date('2026-12-08T00:00:00.000Z') });
    const res = await api()(del(extra.certificateArn, extra.target));
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body) as DeleteTargetResponse).toEqual({
      certificateArn: extra.certificateArn,
      target: 'tier:app=web 5',
      inventoryItemDeleted: true,
      associationDeleted: true,
      reportAssociationDeleted: true,
      filesRemoval: { requested: false },
      secretDeletion: { scheduled: true, recoveryWindowDays: 7, deletionDate: '2026-12-08T00:00:00.000Z' },
    });
    expect(ssm).toHaveReceivedCommandWith(DeleteAssociationCommand, { AssociationId: fakeAssociationId(5) });
    expect(ssm).toHaveReceivedCommandWith(DeleteAssociationCommand, { AssociationId: fakeAssociationId(0x105) });
    expect(ssm).toHaveReceivedCommandTimes(ListAssociationsCommand, 0);
    const gone = await inventory.ddb.send(
      new GetCommand({
        TableName: inventory.tableName,
        Key: { certificateArn: extra.certificateArn, target: extra.target },
      }),
    );
    expect(gone.Item).toBeUndefined();
    // Again: nothing left (the secret already scheduled for deletion) → 404.
    ssm.on(ListAssociationsCommand).resolves({ Associations: [] });
    secrets.on(DeleteSecretCommand).rejects(Object.assign(new Error('marked'), { name: 'InvalidRequestException' }));
    secrets.on(DescribeSecretCommand).resolves({ DeletedDate: new Date('2026-12-01T00:00:00.000Z') });
    expect((await api()(del(extra.certificateArn, extra.target))).statusCode).toBe(404);
  });

  test('DELETE of an item without a stored id finds the association by name; already-decoded parameters work too', async () => {
    const extra = item(6, { associationId: undefined });
    await inventory.ddb.send(new PutCommand({ TableName: inventory.tableName, Item: extra }));
    ssm.on(ListAssociationsCommand).resolves({
      Associations: [
        {
          AssociationId: fakeAssociationId(0x206),
          AssociationName: associationName(extra.certificateArn, extra.target),
        },
      ],
    });
    ssm.on(DeleteAssociationCommand).resolves({});
    const res = await api()(del(extra.certificateArn, extra.target, null, false));
    expect(res.statusCode).toBe(200);
    expect(ssm).toHaveReceivedCommandWith(DeleteAssociationCommand, { AssociationId: fakeAssociationId(0x206) });
  });

  test('DELETE validates: bad ARN, bad target, removeFiles other than true/false, wrong method; never echoes the value', async () => {
    const bad = await api()(del('arn:aws:acm:x;id', 'Role=web'));
    expect(bad.statusCode).toBe(400);
    expect(bad.body).not.toContain(';id');
    expect((await api()(del(certArn(1), 'no-equals-sign'))).statusCode).toBe(400);
    expect((await api()(del(certArn(1), 'aws:cloudformation:stack-name=x'))).statusCode).toBe(400);
    const files = await api()(del(certArn(1), 'Role=web1', { removeFiles: 'TRUE;x' }));
    expect(files.statusCode).toBe(400);
    expect(JSON.parse(files.body).message).toBe('removeFiles: must be true or false');
    expect((await api()({ ...del(certArn(1), 'Role=web1'), httpMethod: 'GET' })).statusCode).toBe(405);
  });
});
