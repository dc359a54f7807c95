/**
 * GET /certificates/{certificateArn}/targets/{target}/removal through the export-api handler (dynalite
 * inventory, mocked SSM): one check of the remove run per request. Every node removed the files: the item
 * is deleted (Removed). A node kept them (configuration test) or was not reached: RemovalFailed with one line
 * per node, the item stays, and GET /certificates shows it. A newer DELETE or export is never overwritten.
 */
import {
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  type Command,
  type CommandPluginStatus,
  type ListCommandsCommandOutput,
  SSMClient,
  type CommandInvocation,
} from '@aws-sdk/client-ssm';
import { DeleteSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import 'aws-sdk-client-mock-jest';
import { createHandler } from '../../../lambda/export-api/handler';
import type { ListCertificatesResponse, TargetRemovalResponse } from '../../../lambda/export-api/api-types';
import { NOT_SENT_LINE } from '../../../lambda/export-api/delete-target';
import { REMOVAL_CHECK, UNKNOWN_COMMAND_LINE } from '../../../lambda/export-api/target-removal';
import type { InventoryItem } from '../../../lambda/shared/contract';
import { recordExport } from '../../../lambda/shared/inventory';
import {
  CERT_ARN,
  COMMAND_ID,
  REGION,
  SECRET_ARN,
  STATE_MACHINE_ARN,
  executionArn,
  mockAwsClient,
  startInventory,
  TARGET_WWW,
} from '../support';

const ssm = mockAwsClient(SSMClient);
const secrets = mockAwsClient(SecretsManagerClient);
const REQUESTED_AT = '2026-12-04T10:00:00.000Z';
const SOON = new Date(Date.parse(REQUESTED_AT) + 10_000);
const LATE = new Date(Date.parse(REQUESTED_AT) + 3_600_000);
const NODES = ['i-0aaaaaaaaaaaaaaa1', 'i-0aaaaaaaaaaaaaaa2', 'mi-0aaaaaaaaaaaaaaa3'];
const CONFIGTEST_LINE =
  'acm-export: FAILED at configtest: nginx configuration test fails without the files, so the server still uses them (point it at other files first): cannot load certificate';

let inventory: Awaited<ReturnType<typeof startInventory>>;
beforeAll(async () => {
  inventory = await startInventory();
});
afterAll(async () => inventory.stop());
beforeEach(() => {
  ssm.reset();
  secrets.reset();
  secrets.on(DeleteSecretCommand).resolves({ DeletionDate: new Date('2026-12-11T10:00:00.000Z') });
});

let serial = 0;
async function storeItem(over: Partial<InventoryItem> = {}): Promise<InventoryItem> {
  serial += 1;
  const n = String(serial).padStart(4, '0');
  const item: InventoryItem = {
    certificateArn: CERT_ARN.replace(/[0-9a-f]{4}$/, n),
    ...TARGET_WWW,
    certExpiryDate: '2027-06-01T00:00:00.000Z',
    lastExportedDate: '2026-11-30T00:00:00.000Z',
    lastExportStartedAt: '2026-11-30T00:00:00.000Z',
    lastSerial: '0a:1b',
    lastSecretArn: SECRET_ARN,
    lastSecretVersionId: '11111111-2222-4333-8444-555555555555',
    lastExecutionArn: executionArn(`e${n}`),
    lastDeployStatus: 'Succeeded',
    removalStatus: 'Removing',
    removalRequestedAt: REQUESTED_AT,
    removalCommandId: COMMAND_ID,
    ...over,
  };
  await inventory.ddb.send(new PutCommand({ TableName: inventory.tableName, Item: item }));
  return item;
}

async function stored(item: InventoryItem): Promise<InventoryItem | undefined> {
  const out = await inventory.ddb.send(
    new GetCommand({
      TableName: inventory.tableName,
      Key: { certificateArn: item.certificateArn, target: item.target },
    }),
  );
  return out.Item as InventoryItem | undefined;
}

function api(now: Date = SOON) {
  return createHandler({
    ddb: inventory.ddb,
    tableName: inventory.tableName,
    stateMachineArn: STATE_MACHINE_ARN,
    ssm: new SSMClient({ region: REGION }),
    secrets: new SecretsManagerClient({ region: REGION }),
    secretNamePrefix: () => 'acm-export/AcmExport',
    removeCommand: () => {
      throw new Error('not needed');
    },
    now: () => now,
  });
}

function get(item: Pick<InventoryItem, 'certificateArn' | 'target'>): APIGatewayProxyEvent {
  const segments = { certificateArn: encodeURIComponent(item.certificateArn), target: encodeURIComponent(item.target) };
  return {
    httpMethod: 'GET',
    resource: '/certificates/{certificateArn}/targets/{target}/removal',
    path: `/certificates/${segments.certificateArn}/targets/${segments.target}/removal`,
    pathParameters: segments,
    queryStringParameters: null,
    requestContext: { requestId: 'r-1' },
  } as unknown as APIGatewayProxyEvent;
}

async function check(item: InventoryItem, now?: Date): Promise<{ statusCode: number; body: TargetRemovalResponse }> {
  const res = await api(now)(get(item));
  return { statusCode: res.statusCode, body: JSON.parse(res.body) as TargetRemovalResponse };
}

function command(status: string, over: Record<string, unknown> = {}): ListCommandsCommandOutput {
  return {
    $metadata: {},
    Commands: [
      {
        CommandId: COMMAND_ID,
        Status: status,
        StatusDetails: status,
        TargetCount: NODES.length,
        CompletedCount: status === 'InProgress' ? 1 : NODES.length,
        ErrorCount: 0,
        DeliveryTimedOutCount: 0,
        ...over,
      } as Command,
    ],
  };
}

function invocation(node: string, status: string, details = status, output = ''): CommandInvocation {
  return {
    CommandId: COMMAND_ID,
    InstanceId: node,
    Status: status as CommandInvocation['Status'],
    StatusDetails: details,
    CommandPlugins: [{ Name: 'install', Status: status as CommandPluginStatus, Output: output }],
  };
}

describe('GET .../removal', () => {
  test('the run is still going: Removing with the node counts; the item is unchanged and no invocation is listed', async () => {
    const item = await storeItem();
    ssm.on(ListCommandsCommand).resolves(command('InProgress'));
    const { statusCode, body } = await check(item);
    expect(statusCode).toBe(200);
    expect(body).toEqual({
      certificateArn: item.certificateArn,
      target: item.target,
      status: 'Removing',
      requestedAt: REQUESTED_AT,
      commandId: COMMAND_ID,
      nodes: { total: 3, completed: 1, failed: 0 },
      failures: [],
    });
    expect(ssm).toHaveReceivedCommandWith(ListCommandsCommand, { CommandId: COMMAND_ID });
    expect(ssm).toHaveReceivedCommandTimes(ListCommandInvocationsCommand, 0);
    expect(await stored(item)).toEqual(item);
  });

  test('every node removed the files: Removed, and the inventory item is deleted (a later check is 404)', async () => {
    const item = await storeItem();
    ssm.on(ListCommandsCommand).resolves(command('Success'));
    ssm.on(ListCommandInvocationsCommand).resolves({ CommandInvocations: NODES.map((n) => invocation(n, 'Success')) });
    const { statusCode, body } = await check(item);
    expect(statusCode).toBe(200);
    expect(body).toMatchObject({ status: 'Removed', commandId: COMMAND_ID, failures: [] });
    expect(await stored(item)).toBeUndefined();
    const again = await api()(get(item));
    expect(again.statusCode).toBe(404);
    expect(JSON.parse(again.body).message).toMatch(/in the inventory \(removed, or never added\)/);
  });

  test("removal confirmed: the target's secret is scheduled for deletion (7-day window) BEFORE the item goes", async () => {
    const item = await storeItem();
    ssm.on(ListCommandsCommand).resolves(command('Success'));
    ssm.on(ListCommandInvocationsCommand).resolves({ CommandInvocations: NODES.map((n) => invocation(n, 'Success')) });
    const deletionDate = new Date(SOON.getTime() + 7 * 86_400_000);
    secrets.on(DeleteSecretCommand).resolves({ ARN: SECRET_ARN, DeletionDate: deletionDate });
    const { body } = await check(item);
    expect(body).toMatchObject({
      status: 'Removed',
      secretDeletion: { scheduled: true, recoveryWindowDays: 7, deletionDate: deletionDate.toISOString() },
    });
    expect(secrets).toHaveReceivedCommandWith(DeleteSecretCommand, { SecretId: SECRET_ARN, RecoveryWindowInDays: 7 });
    expect(secrets).not.toHaveReceivedCommandWith(DeleteSecretCommand, { ForceDeleteWithoutRecovery: true });
  });

  test('removal confirmed but DeleteSecret fails: still Removing, the item stays, the next check completes both', async () => {
    const item = await storeItem();
    ssm.on(ListCommandsCommand).resolves(command('Success'));
    ssm.on(ListCommandInvocationsCommand).resolves({ CommandInvocations: NODES.map((n) => invocation(n, 'Success')) });
    secrets.on(DeleteSecretCommand).rejectsOnce(Object.assign(new Error('no'), { name: 'AccessDeniedException' }));
    const first = await check(item);
    expect(first.body).toMatchObject({
      status: 'Removing',
      secretDeletion: { scheduled: false, reason: expect.stringMatching(/^AccessDeniedException: .*repeat/) },
    });
    expect(await stored(item)).toBeDefined();
    secrets.on(DeleteSecretCommand).resolves({ ARN: SECRET_ARN, DeletionDate: new Date() });
    expect((await check(item)).body).toMatchObject({ status: 'Removed', secretDeletion: { scheduled: true } });
    expect(await stored(item)).toBeUndefined();
  });

  test('a node whose web server still uses the files kept them: RemovalFailed with its line, the item stays, GET /certificates shows it', async () => {
    const item = await storeItem();
    ssm.on(ListCommandsCommand).resolves(command('Success', { StatusDetails: 'Success', ErrorCount: 1 }));
    ssm.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        invocation(NODES[0], 'Failed', 'Failed', `moving the files aside\n${CONFIGTEST_LINE}\n`),
        invocation(NODES[1], 'Success'),
        invocation(NODES[2], 'Success'),
      ],
    });
    const { body } = await check(item);
    const line = `node ${NODES[0]} kept the files: ${CONFIGTEST_LINE.replace(/^acm-export: /, '')}`.slice(0, 250);
    expect(body.status).toBe('RemovalFailed');
    expect(body.failures).toHaveLength(1);
    expect(body.failures[0]).toMatch(
      new RegExp(
        `^node ${NODES[0]} kept the files: FAILED at configtest: nginx configuration test fails without the files`,
      ),
    );
    expect(line.startsWith(body.failures[0].replace(/\.\.\.$/, ''))).toBe(true);
    expect(await stored(item)).toMatchObject({
      CertName: 'www',
      removalStatus: 'RemovalFailed',
      removalCommandId: COMMAND_ID,
      removalFailures: body.failures,
    });

    const list = await api()({
      httpMethod: 'GET',
      resource: '/certificates',
      path: '/certificates',
      queryStringParameters: null,
      requestContext: { requestId: 'r-2' },
    } as unknown as APIGatewayProxyEvent);
    const row = (JSON.parse(list.body) as ListCertificatesResponse).items.find(
      (i) => i.certificateArn === item.certificateArn,
    );
    expect(row).toMatchObject({
      removalStatus: 'RemovalFailed',
      removalRequestedAt: REQUESTED_AT,
      removalCommandId: COMMAND_ID,
      removalFailures: body.failures,
    });

    // A later check answers from the item, without asking SSM again.
    ssm.reset();
    expect((await check(item)).body).toMatchObject({ status: 'RemovalFailed', failures: body.failures });
    expect(ssm.calls()).toHaveLength(0);
  });

  test('Undeliverable and Delivery Timed Out nodes (command Success, clean counts) are not removals: RemovalFailed naming them', async () => {
    const item = await storeItem();
    ssm.on(ListCommandsCommand).resolves(command('Success'));
    ssm.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        invocation(NODES[0], 'Success'),
        invocation(NODES[1], 'Failed', 'Undeliverable'),
        invocation(NODES[2], 'TimedOut', 'Delivery Timed Out'),
      ],
    });
    const { body } = await check(item);
    expect(body.status).toBe('RemovalFailed');
    expect(body.failures).toEqual([
      `node ${NODES[1]} was not reached (not reachable by SSM); its files, if any, are still there`,
      `node ${NODES[2]} was not reached (it did not pick up the run before it expired); its files, if any, are still there`,
    ]);
    expect(await stored(item)).toMatchObject({ removalStatus: 'RemovalFailed' });
  });

  test("a node's output that looks like key material never reaches the item or the answer", async () => {
    const item = await storeItem();
    ssm.on(ListCommandsCommand).resolves(command('Failed', { ErrorCount: 1 }));
    ssm.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        invocation(
          NODES[0],
          'Failed',
          'Failed',
          '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n',
        ),
      ],
    });
    const { body } = await check(item);
    expect(JSON.stringify(body)).not.toMatch(/BEGIN|MIIEvQ/);
    expect(JSON.stringify(await stored(item))).not.toMatch(/BEGIN|MIIEvQ/);
  });

  test('no command id: Removing right after the DELETE; after the API could still be sending it, RemovalFailed (not sent)', async () => {
    const item = await storeItem({ removalCommandId: undefined });
    expect((await check(item, SOON)).body).toMatchObject({ status: 'Removing', failures: [] });
    const late = new Date(Date.parse(REQUESTED_AT) + (REMOVAL_CHECK.notSentAfterSeconds + 1) * 1000);
    expect((await check(item, late)).body).toMatchObject({ status: 'RemovalFailed', failures: [NOT_SENT_LINE] });
    expect(ssm.calls()).toHaveLength(0);
    expect(await stored(item)).toMatchObject({ removalStatus: 'RemovalFailed', removalFailures: [NOT_SENT_LINE] });
  });

  test('a command SSM does not know: Removing at first, RemovalFailed once it cannot be a delay', async () => {
    const item = await storeItem();
    ssm.on(ListCommandsCommand).rejects(Object.assign(new Error('no such command'), { name: 'InvalidCommandId' }));
    expect((await check(item, SOON)).body.status).toBe('Removing');
    expect((await check(item, LATE)).body).toMatchObject({ status: 'RemovalFailed', failures: [UNKNOWN_COMMAND_LINE] });
  });

  test('a newer DELETE re-sent the run while this check ran: the item is not deleted; the answer is about the new run', async () => {
    const item = await storeItem();
    const newer = 'bbbbbbbb-0000-4000-8000-000000000000';
    ssm.on(ListCommandsCommand, { CommandId: COMMAND_ID }).resolves(command('Success'));
    ssm.on(ListCommandsCommand, { CommandId: newer }).resolves(command('InProgress', { CommandId: newer }));
    ssm.on(ListCommandInvocationsCommand).callsFake(async () => {
      await inventory.ddb.send(
        new UpdateCommand({
          TableName: inventory.tableName,
          Key: { certificateArn: item.certificateArn, target: item.target },
          UpdateExpression: 'SET removalCommandId = :c, removalRequestedAt = :at',
          ExpressionAttributeValues: { ':c': newer, ':at': '2026-12-04T10:00:05.000Z' },
        }),
      );
      return { CommandInvocations: NODES.map((n) => invocation(n, 'Success')) };
    });
    const { body } = await check(item);
    expect(body).toMatchObject({ status: 'Removing', commandId: newer });
    expect(await stored(item)).toMatchObject({ removalStatus: 'Removing', removalCommandId: newer });
  });

  test('not being removed: 409; no such target: 404; unknown query parameters: 400', async () => {
    const item = await storeItem({
      removalStatus: undefined,
      removalRequestedAt: undefined,
      removalCommandId: undefined,
    });
    const res = await api()(get(item));
    expect(res.statusCode).toBe(409);
    expect(JSON.parse(res.body).message).toMatch(/is not being removed/);
    const missing = await api()(get({ certificateArn: CERT_ARN.replace(/[0-9a-f]{4}$/, 'ffff'), target: 'Role=web' }));
    expect(missing.statusCode).toBe(404);
    const withQuery = await api()({ ...get(item), queryStringParameters: { wait: 'true' } });
    expect(withQuery.statusCode).toBe(400);
    expect(ssm.calls()).toHaveLength(0);
  });

  test('the raw path (local mode, proxies without `resource`) reaches the same route; other methods are 405', async () => {
    const item = await storeItem();
    ssm.on(ListCommandsCommand).resolves(command('InProgress'));
    const raw = { ...get(item), resource: undefined } as unknown as APIGatewayProxyEvent;
    expect((await api()(raw)).statusCode).toBe(200);
    expect((await api()({ ...get(item), httpMethod: 'POST' })).statusCode).toBe(405);
  });
});

describe('an export and a pending removal', () => {
  const fields = (startedAt: string) => ({
    CertName: 'www',
    TargetTagKey: 'Role',
    TargetTagValue: 'web',
    CertDir: '/etc/ssl/certs',
    KeyDir: '/etc/ssl/private',
    Service: 'nginx' as const,
    VerifyPort: 443,
    MaxConcurrency: '10%',
    MaxErrors: '0',
    certExpiryDate: '2027-06-01T00:00:00.000Z',
    lastExportedDate: startedAt,
    lastExportStartedAt: startedAt,
    lastSerial: '0a:1c',
    lastSecretArn: SECRET_ARN,
    lastSecretVersionId: '22222222-2222-4333-8444-555555555555',
    lastExecutionArn: executionArn('renew-x'),
    lastDeployStatus: 'InProgress' as const,
  });

  test('an export that started before the DELETE (a renewal already running) does not bring the target back', async () => {
    const item = await storeItem();
    const claim = await recordExport(inventory, item, fields('2026-12-04T09:59:00.000Z'));
    expect(claim).toMatchObject({ applied: false, removalRequestedAt: REQUESTED_AT });
    expect(await stored(item)).toEqual(item);
  });

  test('an export started after the DELETE adds the target again: the removal is cleared, and GET .../removal is 409', async () => {
    const item = await storeItem({ removalStatus: 'RemovalFailed', removalFailures: ['node x kept the files: ...'] });
    const claim = await recordExport(inventory, item, fields('2026-12-04T11:00:00.000Z'));
    expect(claim.applied).toBe(true);
    const after = await stored(item);
    expect(after).toMatchObject({ lastSerial: '0a:1c', lastDeployStatus: 'InProgress' });
    for (const field of ['removalStatus', 'removalRequestedAt', 'removalCommandId', 'removalFailures'] as const)
      expect(after?.[field]).toBeUndefined();
    expect((await api()(get(item))).statusCode).toBe(409);
  });
});
