/**
 * An execution that fails, times out or is aborted while its install is in progress never reaches
 * status-check again: execution-end records Failed with the reason on the target that execution still owns,
 * and leaves every other item (a newer export's, an outcome already recorded, a removed target) alone.
 */
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import 'aws-sdk-client-mock-jest';
import { createHandler } from '../../lambda/execution-end/handler';
import { endReason, recordExecutionEnd, parseExecutionEndEvent } from '../../lambda/execution-end/execution-end';
import { toView } from '../../lambda/export-api/list-certificates';
import type { InventoryItem } from '../../lambda/shared/contract';
import { recordCatchUp, recordExport } from '../../lambda/shared/inventory';
import {
  ACCOUNT,
  CERT_ARN,
  INPUT,
  REGION,
  executionArn,
  executionStatusEvent,
  mockAwsClient,
  startInventory,
  TARGET_WWW,
} from './support';

const ITEM: InventoryItem = {
  certificateArn: CERT_ARN,
  ...TARGET_WWW,
  certExpiryDate: '2027-07-01T00:00:00.000Z',
  lastExportedDate: '2026-12-04T08:00:00.000Z',
  lastExportStartedAt: '2026-12-04T08:00:00.000Z',
  lastSerial: 'a1:b2:c3',
  lastSecretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:acm-export/t/1-AbCdEf`,
  lastSecretVersionId: '11111111-2222-4333-8444-555555555555',
  lastExecutionArn: executionArn('exec-1'),
  lastDeployStatus: 'InProgress',
};

let inventory: Awaited<ReturnType<typeof startInventory>>;

beforeEach(async () => {
  inventory = await startInventory();
});
afterEach(async () => inventory.stop());

async function store(over: Partial<InventoryItem> = {}): Promise<void> {
  await inventory.ddb.send(new PutCommand({ TableName: inventory.tableName, Item: { ...ITEM, ...over } }));
}

async function stored(): Promise<InventoryItem | undefined> {
  const out = await inventory.ddb.send(
    new GetCommand({ TableName: inventory.tableName, Key: { certificateArn: CERT_ARN, target: 'Role=web' } }),
  );
  return out.Item as InventoryItem | undefined;
}

const handle = (event: unknown) => createHandler({ ddb: inventory.ddb, tableName: inventory.tableName })(event);

describe('execution-end: an abnormal end while the install was in progress', () => {
  test('ABORTED (StopExecution): the target becomes Failed with the reason, and GET /certificates shows it', async () => {
    await store();
    const result = await handle(
      executionStatusEvent('ABORTED', { error: 'OperatorStopped', cause: 'stopped by the on-call engineer' }),
    );
    const reason =
      'the export execution was stopped before it recorded the install outcome: OperatorStopped: stopped by the on-call engineer';
    expect(result).toEqual({ outcome: 'Recorded', certificateArn: CERT_ARN, target: 'Role=web', reason });
    const item = await stored();
    expect(item).toMatchObject({ lastDeployStatus: 'Failed', lastDeployFailure: reason });
    expect(toView(item!, new Date('2026-12-04T10:00:00Z'))).toMatchObject({
      lastDeployStatus: 'Failed',
      lastDeployFailure: reason,
    });
  });

  test('TIMED_OUT and FAILED (a States.Runtime error no Catch sees) are recorded with their error', async () => {
    await store();
    await handle(executionStatusEvent('TIMED_OUT', { error: 'States.Timeout' }));
    expect((await stored())?.lastDeployFailure).toBe(
      'the export execution timed out before it recorded the install outcome: States.Timeout',
    );

    await store({ lastExecutionArn: executionArn('exec-1') });
    await handle(
      executionStatusEvent('FAILED', {
        error: 'States.Runtime',
        cause: "An error occurred while executing the state 'InstallFinished?'.\nInvalid path '$.poll.status'",
      }),
    );
    expect(await stored()).toMatchObject({
      lastDeployStatus: 'Failed',
      lastDeployFailure:
        "the export execution failed before it recorded the install outcome: States.Runtime: Invalid path '$.poll.status'",
    });
  });

  test('an outcome status-check already recorded is kept (FAILED after NotifyFailure, or a late event)', async () => {
    for (const status of ['Succeeded', 'Failed'] as const) {
      await store({ lastDeployStatus: status });
      expect(await handle(executionStatusEvent('FAILED', { error: 'InstallFailed' }))).toMatchObject({
        outcome: 'NotOwned',
      });
      const item = await stored();
      expect(item?.lastDeployStatus).toBe(status);
      expect(item?.lastDeployFailure).toBeUndefined();
    }
  });

  test("a newer export's InProgress item is not touched by the older execution's end", async () => {
    await store({ lastExecutionArn: executionArn('exec-2') });
    expect(await handle(executionStatusEvent('ABORTED'))).toMatchObject({ outcome: 'NotOwned' });
    expect(await stored()).toMatchObject({ lastDeployStatus: 'InProgress', lastExecutionArn: executionArn('exec-2') });
  });

  test('a removed target (item gone) is not brought back', async () => {
    expect(await handle(executionStatusEvent('ABORTED'))).toMatchObject({ outcome: 'NotOwned' });
    expect(await stored()).toBeUndefined();
  });

  test('an execution whose input names no target (it failed validation) records nothing', async () => {
    await store();
    const invalid = { ...INPUT, TargetTagKey: 'aws:reserved key with spaces and = signs' };
    expect(await handle(executionStatusEvent('FAILED', { input: JSON.stringify(invalid) }))).toMatchObject({
      outcome: 'NoTarget',
    });
    expect(await handle(executionStatusEvent('FAILED', { input: '{not json' }))).toEqual({
      outcome: 'NoTarget',
      why: 'the execution input is not JSON',
    });
    expect(
      await handle(executionStatusEvent('FAILED', { input: null, inputDetails: { included: false } })),
    ).toMatchObject({
      outcome: 'NoTarget',
    });
    expect((await stored())?.lastDeployStatus).toBe('InProgress');
  });
});

describe('execution-end: the reason holds no secrets and no control characters', () => {
  test('key material in a cause is withheld; a malformed error name is dropped', () => {
    const pem = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKjMzEfYyjiWA4R4';
    const reason = endReason(
      parseExecutionEndEvent(
        executionStatusEvent('ABORTED', { error: 'bad name\u0007 with spaces', cause: `x\n${pem}` }),
      ).detail,
    );
    expect(reason).toBe(
      'the export execution was stopped before it recorded the install outcome: (output withheld: it looks like key or certificate material)',
    );
    expect(reason).not.toContain(pem.slice(0, 20));
  });
});

describe('execution-end: the event is validated', () => {
  const ddb = mockAwsClient(DynamoDBDocumentClient.from(new DynamoDBClient({ region: REGION })));
  beforeEach(() => ddb.reset());

  test.each([
    ['another source', { ...executionStatusEvent('ABORTED'), source: 'aws.acm' }, 'source: must be aws.states'],
    ['a status that is not an abnormal end', executionStatusEvent('SUCCEEDED'), 'detail.status: must be one of'],
    ['no execution ARN', executionStatusEvent('ABORTED', { executionArn: undefined }), 'detail.executionArn:'],
    ['not an object', 'ABORTED', 'event:'],
  ])('%s is rejected, and nothing is written', async (_what, event, message) => {
    const handler = createHandler({ ddb: ddb as unknown as DynamoDBDocumentClient, tableName: 'Inventory' });
    await expect(handler(event)).rejects.toMatchObject({
      name: 'InvalidInput',
      message: expect.stringContaining(message),
    });
    expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
  });
});

describe('a later export or catch-up clears the recorded reason', () => {
  test('a new export of the target removes lastDeployFailure; so does the drift check catching up', async () => {
    await store();
    await handle(executionStatusEvent('ABORTED'));
    const deps = { ddb: inventory.ddb, tableName: inventory.tableName };
    await recordCatchUp(
      deps,
      { certificateArn: CERT_ARN, target: 'Role=web' },
      executionArn('exec-1'),
      '2026-12-04T11:00:00.000Z',
    );
    expect(await stored()).toMatchObject({ lastDeployStatus: 'Succeeded' });
    expect((await stored())?.lastDeployFailure).toBeUndefined();

    await store({ lastDeployStatus: 'InProgress' });
    await handle(executionStatusEvent('ABORTED'));
    expect((await stored())?.lastDeployFailure).toEqual(expect.any(String));
    const { certificateArn: _a, target: _t, itemType: _i, lastDeployStatus: _s, ...fields } = ITEM;
    await recordExport(
      deps,
      { certificateArn: CERT_ARN, target: 'Role=web' },
      {
        ...fields,
        lastDeployStatus: 'InProgress',
        lastExecutionArn: executionArn('exec-3'),
        lastExportStartedAt: '2026-12-04T12:00:00.000Z',
      },
    );
    expect(await stored()).toMatchObject({ lastDeployStatus: 'InProgress', lastExecutionArn: executionArn('exec-3') });
    expect((await stored())?.lastDeployFailure).toBeUndefined();
  });

  test('recordExecutionEnd works on the parsed event alone (no environment)', async () => {
    await store();
    const result = await recordExecutionEnd(parseExecutionEndEvent(executionStatusEvent('TIMED_OUT')), {
      ddb: inventory.ddb,
      tableName: inventory.tableName,
    });
    expect(result.outcome).toBe('Recorded');
  });
});
