import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { ListCommandInvocationsCommand, ListCommandsCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import 'aws-sdk-client-mock-jest';
import { createHandler as createAwaitHandler } from '../../lambda/await-command/handler';
import { createHandler as createEventsHandler } from '../../lambda/command-events/handler';
import {
  COMMAND_STATUS_DETAIL_TYPE,
  COMMAND_STATUS_SOURCE,
  TERMINAL_COMMAND_STATUSES,
} from '../../lambda/command-events/command-events';
import {
  COMMAND_WAIT,
  COMMAND_WAIT_TIMEOUT_SECONDS,
  INITIAL_POLL,
  INVENTORY,
  type InstallTaskResult,
  type PollState,
} from '../../lambda/shared/contract';
import { metrics } from '../../lambda/shared/powertools';
import { COMMAND_ID, INPUT, executionArn, mockAwsClient, startInventory } from './support';

const ssm = mockAwsClient(SSMClient);
const sfn = mockAwsClient(SFNClient);
let inventory: Awaited<ReturnType<typeof startInventory>>;
let awaitCommand: ReturnType<typeof createAwaitHandler>;
let commandEvents: ReturnType<typeof createEventsHandler>;
const NOW = new Date('2026-11-20T10:05:00.000Z');
const DOCUMENT = 'AcmExport-InstallDocument-AbCdEf';
const TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAA' + 'x'.repeat(600);
const SENT: InstallTaskResult = { outcome: 'Sent', commandId: COMMAND_ID, targetCount: 2 };

beforeAll(async () => {
  inventory = await startInventory();
  const common = { ddb: inventory.ddb, tableName: inventory.tableName, now: () => NOW };
  awaitCommand = createAwaitHandler({ ...common, region: 'us-east-1' });
  commandEvents = createEventsHandler({ ...common, documentName: DOCUMENT });
});
afterAll(async () => inventory.stop());
beforeEach(() => {
  ssm.reset();
  sfn.reset();
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn.on(SendTaskFailureCommand).resolves({});
  ssm.on(ListCommandInvocationsCommand).resolves({ CommandInvocations: [] });
});

function command(status: 'InProgress' | 'Success' | 'Failed', counts = { completed: 2, errors: 0 }) {
  ssm.on(ListCommandsCommand).resolves({
    Commands: [
      {
        CommandId: COMMAND_ID,
        Status: status,
        StatusDetails: status,
        TargetCount: 2,
        CompletedCount: status === 'InProgress' ? 0 : counts.completed,
        ErrorCount: counts.errors,
        DeliveryTimedOutCount: 0,
      },
    ],
  });
}

function waitPayload(token = TOKEN, poll: PollState = INITIAL_POLL) {
  return { input: INPUT, install: SENT, poll, executionArn: executionArn('exec-ev'), taskToken: token };
}

function statusEvent(over: Record<string, unknown> = {}, status = 'Success') {
  return {
    version: '0',
    id: '51c0891d-0e34-45b1-83d6-95db273d1602',
    'detail-type': COMMAND_STATUS_DETAIL_TYPE,
    source: COMMAND_STATUS_SOURCE,
    account: '111122223333',
    time: '2026-11-20T10:06:00Z',
    region: 'us-east-1',
    resources: [],
    detail: {
      'command-id': COMMAND_ID,
      'document-name': DOCUMENT,
      'expire-after': '2026-11-20T10:15:00.000Z',
      parameters: {},
      'requested-date-time': '2026-11-20T10:05:00.000Z',
      status,
      ...over,
    },
  };
}

async function storedWait() {
  const key = {
    [INVENTORY.partitionKey]: `${COMMAND_WAIT.partitionKeyPrefix}${COMMAND_ID}`,
    [INVENTORY.sortKey]: COMMAND_WAIT.sortKey,
  };
  return (await inventory.ddb.send(new GetCommand({ TableName: inventory.tableName, Key: key }))).Item;
}

function successOutput(): PollState {
  const call = sfn.commandCalls(SendTaskSuccessCommand)[0];
  return JSON.parse(call.args[0].input.output ?? 'null') as PollState;
}

describe('await-command', () => {
  test('stores the token for the event and completes nothing while the command runs', async () => {
    command('InProgress');
    await expect(awaitCommand(waitPayload())).resolves.toEqual({ commandId: COMMAND_ID, outcome: 'InProgress' });
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
    const item = await storedWait();
    expect(item).toMatchObject({ taskToken: TOKEN, executionArn: executionArn('exec-ev'), attempt: 0 });
    // Expires a little after the wait's own timeout.
    expect(item?.[COMMAND_WAIT.ttlAttribute]).toBe(
      NOW.getTime() / 1000 + COMMAND_WAIT_TIMEOUT_SECONDS + COMMAND_WAIT.ttlMarginSeconds,
    );
  });

  test('a command that finished before the token was stored completes the wait at once', async () => {
    command('Success');
    await expect(awaitCommand(waitPayload('token-early'))).resolves.toMatchObject({
      commandId: COMMAND_ID,
      outcome: 'Completed',
    });
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, { taskToken: 'token-early' });
    expect(successOutput()).toMatchObject({ status: 'Succeeded', attempt: 1, targetCount: 2, completedCount: 2 });
    expect(await storedWait()).toBeUndefined();
  });

  test('rejects a payload without a token or a sent command, naming the field', async () => {
    await expect(awaitCommand({ ...waitPayload(), taskToken: '' })).rejects.toThrow(/taskToken: must not be empty/);
    await expect(
      awaitCommand({ ...waitPayload(), install: { outcome: 'Superseded', targetCount: 0 } }),
    ).rejects.toThrow(/only a command that was sent/);
  });
});

describe('command-events', () => {
  test('the status-change event completes the stored token with status-check’s result, once', async () => {
    command('InProgress');
    await awaitCommand(waitPayload());
    command('Success');
    await expect(commandEvents(statusEvent())).resolves.toMatchObject({ outcome: 'Completed', status: 'Succeeded' });
    expect(sfn).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 1);
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, { taskToken: TOKEN });
    expect(successOutput()).toMatchObject({ status: 'Succeeded', waitSeconds: 0, targetCount: 2 });
    expect(await storedWait()).toBeUndefined();
    // The same event again (EventBridge delivers at least once): nobody waits any more.
    await expect(commandEvents(statusEvent())).resolves.toEqual({ commandId: COMMAND_ID, outcome: 'NotAwaited' });
    expect(sfn).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 1);
  });

  test('a failed install completes the wait with the failure report (the workflow alerts it)', async () => {
    command('InProgress');
    await awaitCommand(waitPayload());
    command('Failed', { completed: 2, errors: 1 });
    await expect(commandEvents(statusEvent({}, 'Failed'))).resolves.toMatchObject({ status: 'Failed' });
    expect(successOutput()).toMatchObject({ status: 'Failed', errorCount: 1, reason: expect.stringMatching(/1 of 2/) });
  });

  test('a token whose task already ended (timed out, stopped) is ignored, and the stored wait removed', async () => {
    command('InProgress');
    await awaitCommand(waitPayload());
    command('Success');
    sfn.on(SendTaskSuccessCommand).rejects(Object.assign(new Error('Task Timed Out'), { name: 'TaskTimedOut' }));
    await expect(commandEvents(statusEvent())).resolves.toMatchObject({ outcome: 'AlreadyClosed' });
    expect(await storedWait()).toBeUndefined();
  });

  test('a check that fails for good fails the task instead of leaving it to time out', async () => {
    command('InProgress');
    await awaitCommand(waitPayload());
    ssm.on(ListCommandsCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    await expect(commandEvents(statusEvent())).resolves.toMatchObject({ outcome: 'Completed', status: 'CheckFailed' });
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, { taskToken: TOKEN, error: 'AccessDeniedException' });
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
  });

  test('an event while ListCommands still shows the command running leaves the token for the timeout', async () => {
    command('InProgress');
    await awaitCommand(waitPayload());
    await expect(commandEvents(statusEvent())).resolves.toMatchObject({ outcome: 'InProgress' });
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
    expect(await storedWait()).toMatchObject({ taskToken: TOKEN });
  });

  test('rejects malformed events with the field and the rule', async () => {
    await expect(commandEvents({ ...statusEvent(), source: 'aws.ec2' })).rejects.toThrow(/source: must be aws\.ssm/);
    await expect(commandEvents(statusEvent({ 'command-id': 'not-a-command' }))).rejects.toThrow(
      /detail\.command-id: must be a command id/,
    );
    await expect(commandEvents(statusEvent({}, 'InProgress'))).rejects.toThrow(
      new RegExp(`detail\\.status: must be one of ${TERMINAL_COMMAND_STATUSES.join(', ')}`),
    );
    await expect(commandEvents(statusEvent({ 'document-name': 'Other' }))).rejects.toThrow(/install document/);
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
  });
});

describe('the verdict metrics on the event path (status-check counts them only on the fallback)', () => {
  let added: [string, number][];
  let spy: jest.SpyInstance;
  beforeEach(() => {
    added = [];
    spy = jest.spyOn(metrics, 'addMetric').mockImplementation((name: string, _unit: unknown, value: number) => {
      added.push([name, value]);
      return undefined as never;
    });
  });
  afterEach(() => spy.mockRestore());

  test('a success completed by the event is counted once, even when the event comes twice', async () => {
    command('InProgress');
    await awaitCommand(waitPayload());
    expect(added).toEqual([]);
    command('Success');
    await commandEvents(statusEvent());
    await commandEvents(statusEvent());
    // NodesUpdated comes from the nodes' result lines, which this listing has none of.
    expect(added).toEqual([['ExportsSucceeded', 1]]);
  });

  test('a failure is counted with its failed nodes; a command already ended when the wait began is counted by await-command', async () => {
    command('Failed', { completed: 2, errors: 1 });
    await awaitCommand(waitPayload('token-failed'));
    expect(added).toEqual([
      ['NodesFailed', 1],
      ['ExportsFailed', 1],
    ]);
  });

  test('a token that was already closed counts nothing', async () => {
    command('InProgress');
    await awaitCommand(waitPayload());
    command('Success');
    sfn.on(SendTaskSuccessCommand).rejects(Object.assign(new Error('closed'), { name: 'TaskTimedOut' }));
    await commandEvents(statusEvent());
    expect(added).toEqual([]);
  });
});
