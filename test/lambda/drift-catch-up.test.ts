/**
 * The drift check brings the inventory up to date after a catch-up: a target whose last deploy is Failed
 * (the push missed a node) becomes Succeeded, marked as caught up through the association, once EVERY node
 * with its tag reports the current serial served and held with no problem. InProgress (a running
 * execution), a newer export's status and targets being removed are left alone.
 */
import { DescribeInstanceInformationCommand, GetInventoryCommand, SSMClient } from '@aws-sdk/client-ssm';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import 'aws-sdk-client-mock-jest';
import { checkDrift } from '../../lambda/drift-check/drift-check';
import { listCertificates } from '../../lambda/export-api/list-certificates';
import type { InventoryItem } from '../../lambda/shared/contract';
import { CUSTOM_INVENTORY_TYPE } from '../../lambda/shared/node-reports';
import { ACCOUNT, CERT_ARN, REGION, TARGET_WWW, executionArn, mockAwsClient, startInventory } from './support';

const ssm = mockAwsClient(SSMClient);
const sns = mockAwsClient(SNSClient);
const NOW = new Date('2026-12-04T12:00:00.000Z');
const SECRET = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:acm-export/t/9-AbCdEf`;
const CURRENT = 'A1B2C3D4E5F6';
const OLD = '5E0F00AA11BB';
const NODES = ['i-00000000000000091', 'i-00000000000000092', 'mi-00000000000000093'];

const ITEM: InventoryItem = {
  certificateArn: CERT_ARN,
  ...TARGET_WWW,
  target: 'Role=web9',
  CertName: 'site9',
  TargetTagValue: 'web9',
  certExpiryDate: '2027-07-01T00:00:00.000Z',
  lastExportedDate: '2026-12-04T08:00:00.000Z',
  lastExportStartedAt: '2026-12-04T08:00:00.000Z',
  lastSerial: 'a1:b2:c3:d4:e5:f6',
  lastSecretArn: SECRET,
  lastSecretVersionId: '11111111-2222-4333-8444-555555555555',
  lastExecutionArn: executionArn('renewal-9'),
  lastDeployStatus: 'Failed',
};

function report(nodeId: string, over: Record<string, string> = {}) {
  return {
    Id: nodeId,
    Data: {
      [CUSTOM_INVENTORY_TYPE]: {
        TypeName: CUSTOM_INVENTORY_TYPE,
        SchemaVersion: '1.0',
        CaptureTime: '2026-12-04T11:40:00Z',
        Content: [
          {
            CertName: 'site9',
            Target: 'Role=web9',
            SecretId: SECRET,
            SecretVersionId: '11111111-2222-4333-8444-555555555555',
            Serial: CURRENT,
            ServedSerial: CURRENT,
            NotAfter: '2027-07-01T00:00:00Z',
            Verified: 'true',
            InstalledAt: '2026-12-04T10:00:00Z',
            LastRun: 'installed',
            FailedStep: '',
            LastRunAt: '2026-12-04T10:00:00Z',
            CheckedAt: '2026-12-04T11:00:00Z',
            Problem: '',
            ...over,
          },
        ],
      },
    },
  };
}

let inventory: Awaited<ReturnType<typeof startInventory>>;

beforeEach(async () => {
  inventory = await startInventory();
  ssm.reset();
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  ssm.on(GetInventoryCommand).resolves({ Entities: NODES.map((n) => report(n)) });
  ssm
    .on(DescribeInstanceInformationCommand)
    .resolves({ InstanceInformationList: NODES.map((InstanceId) => ({ InstanceId })) });
});
afterEach(async () => inventory.stop());

async function store(over: Partial<InventoryItem> = {}): Promise<InventoryItem> {
  const item = { ...ITEM, ...over };
  await inventory.ddb.send(new PutCommand({ TableName: inventory.tableName, Item: item }));
  return item;
}

async function stored(): Promise<InventoryItem> {
  const out = await inventory.ddb.send(
    new GetCommand({
      TableName: inventory.tableName,
      Key: { certificateArn: ITEM.certificateArn, target: ITEM.target },
    }),
  );
  return out.Item as InventoryItem;
}

const run = () =>
  checkDrift({
    ddb: inventory.ddb,
    tableName: inventory.tableName,
    ssm: new SSMClient({ region: REGION }),
    sns: new SNSClient({ region: REGION }),
    topicArn: `arn:aws:sns:${REGION}:${ACCOUNT}:alerts`,
    graceMinutes: 120,
    now: () => NOW,
  });

describe('drift check: a failed deploy that caught up', () => {
  test('every tagged node reports the current serial: Failed becomes Succeeded (caught up), and GET /certificates says so', async () => {
    await store();
    const result = await run();
    expect(result).toMatchObject({ targetsChecked: 1, driftingNodes: 0, alertsSent: 0, caughtUp: 1 });
    expect(ssm).toHaveReceivedCommandWith(DescribeInstanceInformationCommand, {
      Filters: [{ Key: 'tag:Role', Values: ['web9'] }],
    });
    expect(await stored()).toMatchObject({
      lastDeployStatus: 'Succeeded',
      lastDeployedDate: NOW.toISOString(),
      lastDeploySource: 'association',
      lastExecutionArn: ITEM.lastExecutionArn,
    });
    const listed = await listCertificates({ limit: 10 }, { ddb: inventory.ddb, tableName: inventory.tableName });
    expect(listed.items[0]).toMatchObject({
      lastDeployStatus: 'Succeeded',
      lastDeployedDate: NOW.toISOString(),
      lastDeploySource: 'association',
    });
  });

  test('a tagged node that never reported keeps it Failed (the reports alone do not count the nodes), and is alerted as silent', async () => {
    await store();
    ssm.on(GetInventoryCommand).resolves({ Entities: NODES.slice(0, 2).map((n) => report(n)) });
    expect(await run()).toMatchObject({ caughtUp: 0, silentNodes: 1, alertsSent: 1 });
    expect(await stored()).toMatchObject({ lastDeployStatus: 'Failed' });
    expect((await stored()).lastDeploySource).toBeUndefined();
  });

  test('a node still behind keeps it Failed (and is alerted); the tagged nodes are listed once', async () => {
    await store();
    ssm.on(GetInventoryCommand).resolves({
      Entities: [report(NODES[0]), report(NODES[1]), report(NODES[2], { Serial: OLD, ServedSerial: OLD })],
    });
    expect(await run()).toMatchObject({ driftingNodes: 1, alertsSent: 1, caughtUp: 0 });
    expect(await stored()).toMatchObject({ lastDeployStatus: 'Failed' });
    expect(ssm).toHaveReceivedCommandTimes(DescribeInstanceInformationCommand, 1);
  });

  test.each(['InProgress', 'Succeeded'] as const)(
    'a %s deploy is left alone (the tagged nodes are listed once, for the silent-node check)',
    async (lastDeployStatus) => {
      const item = await store({ lastDeployStatus, lastDeployedDate: '2026-12-01T00:00:00.000Z' });
      expect((await run()).caughtUp).toBe(0);
      expect(await stored()).toEqual(item);
      expect(ssm).toHaveReceivedCommandTimes(DescribeInstanceInformationCommand, 1);
    },
  );

  test('a newer export that claimed the target meanwhile keeps its status (the update is conditional on the owner and on Failed)', async () => {
    await store();
    const newer = executionArn('newer-export');
    ssm.on(DescribeInstanceInformationCommand).callsFake(async () => {
      await inventory.ddb.send(
        new UpdateCommand({
          TableName: inventory.tableName,
          Key: { certificateArn: ITEM.certificateArn, target: ITEM.target },
          UpdateExpression: 'SET lastExecutionArn = :arn, lastDeployStatus = :status',
          ExpressionAttributeValues: { ':arn': newer, ':status': 'InProgress' },
        }),
      );
      return { InstanceInformationList: NODES.map((InstanceId) => ({ InstanceId })) };
    });
    expect((await run()).caughtUp).toBe(0);
    expect(await stored()).toMatchObject({ lastExecutionArn: newer, lastDeployStatus: 'InProgress' });
    expect((await stored()).lastDeploySource).toBeUndefined();
  });

  test.each(['Removing', 'RemovalFailed'] as const)(
    'a target being removed (%s) is skipped: no reports read, no alert, no status change',
    async (removalStatus) => {
      const item = await store({ removalStatus, removalRequestedAt: '2026-12-04T09:00:00.000Z' });
      ssm.on(GetInventoryCommand).resolves({
        Entities: NODES.map((n) => report(n, { Serial: OLD, ServedSerial: OLD })),
      });
      expect(await run()).toMatchObject({ targetsChecked: 0, targetsSkipped: 1, alertsSent: 0, caughtUp: 0 });
      expect(ssm).toHaveReceivedCommandTimes(GetInventoryCommand, 0);
      expect(sns).toHaveReceivedCommandTimes(PublishCommand, 0);
      expect(await stored()).toEqual(item);
    },
  );
});
