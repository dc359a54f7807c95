/**
 * DELETE /certificates/{certificateArn}/targets/{target}?removeFiles=true through the export-api handler
 * (dynalite inventory, mocked SSM): the item is marked Removing, both associations are deleted before the
 * remove run is sent, the run's command id is stored and the item stays (GET .../removal finishes it); the
 * run's parameters are identifiers that pass the document's rules; a failed step leaves the item
 * RemovalFailed and repeating the request converges; without removeFiles=true nothing is sent.
 */
import {
  DeleteAssociationCommand,
  ListAssociationsCommand,
  SSMClient,
  SendCommandCommand,
  type SendCommandCommandInput,
} from '@aws-sdk/client-ssm';
import { DeleteSecretCommand, DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import 'aws-sdk-client-mock-jest';
import { createHandler } from '../../../lambda/export-api/handler';
import type { DeleteTargetResponse } from '../../../lambda/export-api/api-types';
import { associationName, reportAssociationName } from '../../../lambda/shared/associations';
import { ENV, InventoryItem } from '../../../lambda/shared/contract';
import {
  NOT_SENT_LINE,
  REMOVE_MAX_ERRORS,
  SECRET_AFTER_REMOVAL,
  parseDeleteTarget,
  removalStatusPath,
} from '../../../lambda/export-api/delete-target';
import { FIELD_RULES, type FieldName } from '../../../lambda/shared/patterns';
import { secretName } from '../../../lambda/shared/target-secret';
import {
  ACCOUNT,
  CERT_ARN,
  COMMAND_ID,
  REGION,
  SECRET_ARN,
  STATE_MACHINE_ARN,
  executionArn,
  startInventory,
  mockAwsClient,
  fakeAssociationId,
} from '../support';

const ssm = mockAwsClient(SSMClient);
const secrets = mockAwsClient(SecretsManagerClient);
const DOCUMENT = 'AcmExport-InstallDocument-0123ABCD';
const LOG_GROUP = 'AcmExport-InstallDocumentCommandOutput-0123ABCD';
const SETTINGS = { documentName: DOCUMENT, logGroupName: LOG_GROUP, timeoutSeconds: 900, region: REGION };

const NOW = new Date('2026-12-04T10:00:00.000Z');
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
/** A fresh target (own certificate ARN) with both association ids stored. */
async function storeItem(over: Partial<InventoryItem> = {}): Promise<InventoryItem> {
  serial += 1;
  const n = String(serial).padStart(4, '0');
  const item: InventoryItem = {
    certificateArn: CERT_ARN.replace(/[0-9a-f]{4}$/, n),
    target: 'tier:app=web 1',
    itemType: 'target',
    CertName: 'www',
    TargetTagKey: 'tier:app',
    TargetTagValue: 'web 1',
    CertDir: '/etc/ssl/certs',
    KeyDir: '/etc/ssl/private',
    Service: 'nginx',
    VerifyPort: 443,
    MaxConcurrency: '25%',
    MaxErrors: '0',
    certExpiryDate: '2027-06-01T00:00:00.000Z',
    lastExportedDate: '2026-11-30T00:00:00.000Z',
    lastExportStartedAt: '2026-11-30T00:00:00.000Z',
    lastSerial: '0a:1b:2c:3d',
    lastSecretArn: SECRET_ARN,
    lastSecretVersionId: '11111111-2222-4333-8444-555555555555',
    lastExecutionArn: executionArn(`e${n}`),
    KeyGroup: 'ssl-cert',
    KeyMode: '0640',
    CombinedPem: true,
    associationId: fakeAssociationId(serial),
    reportAssociationId: fakeAssociationId(0x10000 + serial),
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

function api(over: Record<string, unknown> = {}) {
  return createHandler({
    ddb: inventory.ddb,
    tableName: inventory.tableName,
    stateMachineArn: STATE_MACHINE_ARN,
    ssm: new SSMClient({ region: REGION }),
    secrets: new SecretsManagerClient({ region: REGION }),
    secretNamePrefix: () => 'acm-export/AcmExport',
    removeCommand: () => SETTINGS,
    now: () => NOW,
    ...over,
  });
}

function del(
  item: Pick<InventoryItem, 'certificateArn' | 'target'>,
  query: Record<string, string> | null,
): APIGatewayProxyEvent {
  return {
    httpMethod: 'DELETE',
    resource: '/certificates/{certificateArn}/targets/{target}',
    path: `/certificates/${encodeURIComponent(item.certificateArn)}/targets/${encodeURIComponent(item.target)}`,
    pathParameters: {
      certificateArn: encodeURIComponent(item.certificateArn),
      target: encodeURIComponent(item.target),
    },
    queryStringParameters: query,
    requestContext: { requestId: 'r-1' },
  } as unknown as APIGatewayProxyEvent;
}

/** The SSM operations in the order they were sent. */
function ssmCalls(): string[] {
  return ssm
    .calls()
    .map((c) => (c.args[0] as { constructor: { name: string } }).constructor.name.replace(/Command$/, ''));
}

function sentInput(): SendCommandCommandInput {
  const calls = ssm.commandCalls(SendCommandCommand);
  expect(calls).toHaveLength(1);
  return calls[0].args[0].input;
}

describe('DELETE ?removeFiles=true', () => {
  test('deletes the install and the report association, THEN sends the remove run; the item stays, Removing, with the command id', async () => {
    const item = await storeItem();
    ssm.on(DeleteAssociationCommand).resolves({});
    // While the associations are being deleted the item already says Removing (renewals skip it from then on).
    const seenWhileDeleting: (string | undefined)[] = [];
    ssm.on(DeleteAssociationCommand).callsFake(async () => {
      seenWhileDeleting.push((await stored(item))?.removalStatus);
      return {};
    });
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: COMMAND_ID, TargetCount: 0 } });
    const res = await api()(del(item, { removeFiles: 'true' }));
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body) as DeleteTargetResponse).toEqual({
      certificateArn: item.certificateArn,
      target: item.target,
      inventoryItemDeleted: false,
      removalStatus: 'Removing',
      associationDeleted: true,
      reportAssociationDeleted: true,
      filesRemoval: {
        requested: true,
        status: 'Sent',
        commandId: COMMAND_ID,
        logGroupName: LOG_GROUP,
        statusPath: removalStatusPath(item),
      },
      // The nodes still act on the secret's ARN: it goes once they confirmed the removal.
      secretDeletion: { scheduled: false, reason: SECRET_AFTER_REMOVAL },
    });
    expect(secrets).not.toHaveReceivedCommand(DeleteSecretCommand);
    expect(removalStatusPath(item)).toBe(
      `/certificates/${encodeURIComponent(item.certificateArn)}/targets/tier%3Aapp%3Dweb%201/removal`,
    );
    expect(ssmCalls()).toEqual(['DeleteAssociation', 'DeleteAssociation', 'SendCommand']);
    const deleted = ssm.commandCalls(DeleteAssociationCommand).map((c) => c.args[0].input.AssociationId);
    expect(deleted).toEqual([item.associationId, item.reportAssociationId]);
    expect(seenWhileDeleting).toEqual(['Removing', 'Removing']);
    expect(await stored(item)).toMatchObject({
      CertName: 'www',
      removalStatus: 'Removing',
      removalRequestedAt: NOW.toISOString(),
      removalCommandId: COMMAND_ID,
    });
  });

  test('a second DELETE on a RemovalFailed item sends the run again: Removing, the new command id, the old lines gone', async () => {
    const item = await storeItem({
      removalStatus: 'RemovalFailed',
      removalRequestedAt: '2026-12-03T00:00:00.000Z',
      removalCommandId: 'aaaaaaaa-0000-4000-8000-000000000000',
      removalFailures: ['node i-0123456789abcdef0 kept the files: FAILED at configtest: ...'],
      associationId: undefined,
      reportAssociationId: undefined,
    });
    ssm.on(ListAssociationsCommand).resolves({ Associations: [] });
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: COMMAND_ID } });
    const res = await api()(del(item, { removeFiles: 'true' }));
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({
      removalStatus: 'Removing',
      associationDeleted: false,
      reportAssociationDeleted: false,
      filesRemoval: { commandId: COMMAND_ID },
    });
    const after = await stored(item);
    expect(after).toMatchObject({
      removalStatus: 'Removing',
      removalCommandId: COMMAND_ID,
      removalRequestedAt: NOW.toISOString(),
    });
    expect(after?.removalFailures).toBeUndefined();
  });

  test("the remove run: the install document on the item's tag, its MaxConcurrency, MaxErrors 100%, the delivery settings", async () => {
    const item = await storeItem();
    ssm.on(DeleteAssociationCommand).resolves({});
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: COMMAND_ID } });
    expect((await api()(del(item, { removeFiles: 'true' }))).statusCode).toBe(200);
    const input = sentInput();
    expect(input).toMatchObject({
      DocumentName: DOCUMENT,
      Targets: [{ Key: 'tag:tier:app', Values: ['web 1'] }],
      MaxConcurrency: '25%',
      MaxErrors: REMOVE_MAX_ERRORS,
      TimeoutSeconds: 900,
      CloudWatchOutputConfig: { CloudWatchLogGroupName: LOG_GROUP, CloudWatchOutputEnabled: true },
    });
    expect(REMOVE_MAX_ERRORS).toBe('100%');
    expect(input.Comment!.length).toBeLessThanOrEqual(100);
    // Exactly the remove document's parameters: SSM refuses a command naming one it does not declare.
    expect(input.Parameters).toEqual({
      CertName: ['www'],
      SecretId: [SECRET_ARN],
      CertDir: ['/etc/ssl/certs'],
      KeyDir: ['/etc/ssl/private'],
      Service: ['nginx'],
    });
  });

  test("its parameters are identifiers only, each passing the document's rule; no version, stage or secret material", async () => {
    const item = await storeItem();
    ssm.on(DeleteAssociationCommand).resolves({});
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: COMMAND_ID } });
    expect((await api()(del(item, { removeFiles: 'true' }))).statusCode).toBe(200);
    const parameters = sentInput().Parameters!;
    expect(parameters.SecretVersionId).toBeUndefined();
    expect(parameters.SecretVersionStage).toBeUndefined();
    for (const [name, values] of Object.entries(parameters)) {
      expect(name in FIELD_RULES).toBe(true);
      const rule = FIELD_RULES[name as FieldName];
      expect(values).toHaveLength(1);
      expect({ name, ok: values[0].length <= rule.maxLength && new RegExp(rule.pattern).test(values[0]) }).toEqual({
        name,
        ok: true,
      });
    }
    const text = JSON.stringify(sentInput());
    expect(text).not.toMatch(/-----BEGIN|PRIVATE KEY|passphrase|AWSCURRENT/i);
    expect(text).not.toContain(item.lastSecretVersionId);
  });

  test('SendCommand fails: 500, the item stays, RemovalFailed saying the run was not sent; repeating the request sends it', async () => {
    const item = await storeItem();
    ssm.on(DeleteAssociationCommand).resolves({});
    ssm.on(SendCommandCommand).rejects(Object.assign(new Error('document not found'), { name: 'InvalidDocument' }));
    const first = await api()(del(item, { removeFiles: 'true' }));
    expect(first.statusCode).toBe(500);
    expect(first.body).not.toContain('document not found');
    const failed = await stored(item);
    expect(failed).toMatchObject({
      CertName: 'www',
      removalStatus: 'RemovalFailed',
      removalFailures: [NOT_SENT_LINE],
    });
    expect(failed?.removalCommandId).toBeUndefined();

    // The associations are gone now: their stored ids answer AssociationDoesNotExist, their names find nothing.
    ssm.reset();
    ssm.on(DeleteAssociationCommand).rejects(Object.assign(new Error('gone'), { name: 'AssociationDoesNotExist' }));
    ssm.on(ListAssociationsCommand).resolves({ Associations: [] });
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: COMMAND_ID } });
    const retry = await api()(del(item, { removeFiles: 'true' }));
    expect(retry.statusCode).toBe(200);
    expect(JSON.parse(retry.body)).toMatchObject({
      associationDeleted: false,
      reportAssociationDeleted: false,
      inventoryItemDeleted: false,
      removalStatus: 'Removing',
      filesRemoval: { requested: true, commandId: COMMAND_ID },
    });
    expect(ssm).toHaveReceivedCommandWith(ListAssociationsCommand, {
      AssociationFilterList: [{ key: 'AssociationName', value: associationName(item.certificateArn, item.target) }],
    });
    expect(ssm).toHaveReceivedCommandWith(ListAssociationsCommand, {
      AssociationFilterList: [
        { key: 'AssociationName', value: reportAssociationName(item.certificateArn, item.target) },
      ],
    });
    expect(await stored(item)).toMatchObject({ removalStatus: 'Removing', removalCommandId: COMMAND_ID });
  });

  test('SendCommand throttled: 429 (try again), the item stays', async () => {
    const item = await storeItem();
    ssm.on(DeleteAssociationCommand).resolves({});
    ssm
      .on(SendCommandCommand)
      .rejects(
        Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }),
      );
    const res = await api()(del(item, { removeFiles: 'true' }));
    expect(res.statusCode).toBe(429);
    expect(await stored(item)).toMatchObject({ removalStatus: 'RemovalFailed', removalFailures: [NOT_SENT_LINE] });
  });

  test('a failing association delete stops before the run: nothing sent, the item stays and says RemovalFailed', async () => {
    const item = await storeItem();
    ssm.on(DeleteAssociationCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    expect((await api()(del(item, { removeFiles: 'true' }))).statusCode).toBe(500);
    expect(ssm).toHaveReceivedCommandTimes(SendCommandCommand, 0);
    expect(await stored(item)).toMatchObject({
      associationId: item.associationId,
      removalStatus: 'RemovalFailed',
      removalFailures: [NOT_SENT_LINE],
    });
  });

  test('no inventory item: 404 saying there is no record of what was installed; nothing deleted or sent', async () => {
    const missing = { certificateArn: CERT_ARN.replace(/[0-9a-f]{4}$/, 'ffff'), target: 'Role=web' };
    ssm.on(ListAssociationsCommand).resolves({
      Associations: [
        {
          AssociationId: fakeAssociationId(0x500),
          AssociationName: associationName(missing.certificateArn, missing.target),
        },
      ],
    });
    const res = await api()(del(missing, { removeFiles: 'true' }));
    expect(res.statusCode).toBe(404);
    expect(JSON.parse(res.body).message).toMatch(
      /no target Role=web .* in the inventory: without its record .* no files can be removed; nothing was changed/,
    );
    expect(ssm.calls()).toHaveLength(0);
  });

  test('the settings come from the environment only when files are removed; a missing variable changes nothing', async () => {
    const saved = { ...process.env };
    try {
      delete process.env[ENV.REMOVE_DOCUMENT_NAME];
      const item = await storeItem();
      ssm.on(DeleteAssociationCommand).resolves({});
      ssm.on(SendCommandCommand).resolves({ Command: { CommandId: COMMAND_ID } });
      const fromEnv = api({ removeCommand: undefined });
      expect((await fromEnv(del(item, { removeFiles: 'true' }))).statusCode).toBe(500);
      expect(ssm.calls()).toHaveLength(0);
      expect(await stored(item)).toEqual(item);

      Object.assign(process.env, {
        [ENV.REMOVE_DOCUMENT_NAME]: DOCUMENT,
        [ENV.COMMAND_LOG_GROUP]: LOG_GROUP,
        [ENV.COMMAND_TIMEOUT_SECONDS]: '120',
        AWS_REGION: 'eu-central-1',
      });
      expect((await fromEnv(del(item, { removeFiles: 'true' }))).statusCode).toBe(200);
      expect(sentInput()).toMatchObject({
        DocumentName: DOCUMENT,
        TimeoutSeconds: 120,
        Parameters: expect.objectContaining({ CertName: ['www'] }),
      });
    } finally {
      process.env = saved;
    }
  });
});

describe('DELETE without removeFiles=true', () => {
  test.each([[null], [{ removeFiles: 'false' }]])(
    'query %j: both associations and the item go, nothing is sent',
    async (query) => {
      const item = await storeItem();
      ssm.on(DeleteAssociationCommand).resolves({});
      const res = await api({
        removeCommand: () => {
          throw new Error('not needed');
        },
      })(del(item, query));
      expect(res.statusCode).toBe(200);
      expect(JSON.parse(res.body)).toMatchObject({
        associationDeleted: true,
        reportAssociationDeleted: true,
        inventoryItemDeleted: true,
        filesRemoval: { requested: false },
      });
      expect(ssm).toHaveReceivedCommandTimes(SendCommandCommand, 0);
      expect(await stored(item)).toBeUndefined();
    },
  );

  test("the target's secret is scheduled for deletion (7-day window) before the item goes; the answer says until when", async () => {
    const item = await storeItem();
    ssm.on(DeleteAssociationCommand).resolves({});
    const res = await api()(del(item, null));
    expect(JSON.parse(res.body)).toMatchObject({
      inventoryItemDeleted: true,
      secretDeletion: { scheduled: true, recoveryWindowDays: 7, deletionDate: '2026-12-11T10:00:00.000Z' },
    });
    expect(secrets).toHaveReceivedCommandWith(DeleteSecretCommand, { SecretId: SECRET_ARN, RecoveryWindowInDays: 7 });
  });

  test('DeleteSecret fails: the answer says so; a repeated DELETE (item already gone) schedules it, found by its name', async () => {
    const item = await storeItem();
    ssm.on(DeleteAssociationCommand).resolves({});
    secrets
      .on(DeleteSecretCommand)
      .rejectsOnce(Object.assign(new Error('arn...'), { name: 'AccessDeniedException' }))
      .resolves({ DeletionDate: new Date('2026-12-11T10:00:00.000Z') });
    const first = JSON.parse((await api()(del(item, null))).body) as DeleteTargetResponse;
    expect(first.secretDeletion).toEqual({
      scheduled: false,
      reason: 'AccessDeniedException: the secret could not be scheduled for deletion; repeat the DELETE',
    });
    expect(await stored(item)).toBeUndefined();
    ssm.on(ListAssociationsCommand).resolves({ Associations: [] });
    const again = await api()(del(item, null));
    expect(again.statusCode).toBe(200);
    expect(JSON.parse(again.body)).toMatchObject({ inventoryItemDeleted: false, secretDeletion: { scheduled: true } });
    expect(secrets.commandCalls(DeleteSecretCommand)[1].args[0].input.SecretId).toBe(
      secretName('acm-export/AcmExport', item.certificateArn, item.target),
    );
  });

  test('a DELETE repeated after the secret was scheduled reports the same schedule (from DescribeSecret)', async () => {
    const item = await storeItem();
    ssm.on(DeleteAssociationCommand).resolves({});
    secrets
      .on(DeleteSecretCommand)
      .rejects(Object.assign(new Error('marked for deletion'), { name: 'InvalidRequestException' }));
    secrets.on(DescribeSecretCommand).resolves({ DeletedDate: new Date('2026-12-01T00:00:00.000Z') });
    expect(JSON.parse((await api()(del(item, null))).body).secretDeletion).toEqual({
      scheduled: true,
      recoveryWindowDays: 7,
      deletionDate: '2026-12-08T00:00:00.000Z',
      alreadyScheduled: true,
    });
  });

  test('a report association left without an item is found by name and deleted (200); nothing at all is 404', async () => {
    const orphan = {
      certificateArn: `arn:aws:acm:${REGION}:${ACCOUNT}:certificate/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2beeee`,
      target: 'Role=web',
    };
    ssm.on(ListAssociationsCommand).callsFake((input: { AssociationFilterList: { value: string }[] }) =>
      input.AssociationFilterList[0].value === reportAssociationName(orphan.certificateArn, orphan.target)
        ? {
            Associations: [
              { AssociationId: fakeAssociationId(0x400), AssociationName: input.AssociationFilterList[0].value },
            ],
          }
        : { Associations: [] },
    );
    ssm.on(DeleteAssociationCommand).resolves({});
    const res = await api()(del(orphan, null));
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({
      associationDeleted: false,
      reportAssociationDeleted: true,
      inventoryItemDeleted: false,
    });
    expect(ssm).toHaveReceivedCommandWith(DeleteAssociationCommand, { AssociationId: fakeAssociationId(0x400) });
    ssm.reset();
    ssm.on(ListAssociationsCommand).resolves({ Associations: [] });
    secrets.on(DeleteSecretCommand).rejects(Object.assign(new Error('none'), { name: 'ResourceNotFoundException' }));
    expect((await api()(del(orphan, null))).statusCode).toBe(404);
  });
});

describe('parseDeleteTarget: removeFiles', () => {
  const path = { certificateArn: encodeURIComponent(CERT_ARN), target: 'Role%3Dweb' };
  test('true and false (or absent) are the only values; anything else is a 400 naming the rule, never the value', () => {
    expect(parseDeleteTarget(path, { removeFiles: 'true' }).removeFiles).toBe(true);
    expect(parseDeleteTarget(path, { removeFiles: 'false' }).removeFiles).toBe(false);
    expect(parseDeleteTarget(path, null).removeFiles).toBe(false);
    for (const value of ['TRUE', '1', 'yes', '', 'true;rm -rf /']) {
      expect(() => parseDeleteTarget(path, { removeFiles: value })).toThrow(/^removeFiles: must be true or false$/);
    }
  });
});
