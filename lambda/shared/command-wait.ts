/**
 * The event path's task token: await-command stores it (one inventory item per command) and checks the
 * command once; command-events reads it when the command's status-change event arrives. Both decide with
 * status-check's own logic and complete the token with the same result status-check returns to the workflow.
 * The token is a credential for the waiting task: it is stored and sent, never logged or returned.
 */
import { SendTaskFailureCommand, SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { DeleteCommand, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from './zod';
import { COMMAND_WAIT, COMMAND_WAIT_TIMEOUT_SECONDS, INVENTORY, type PollState } from './contract';
import { rethrowThrottling } from './errors';
import type { Log } from './handler-support';
import type { InventoryDeps } from './inventory';
import { checkStatus, type StatusDeps } from '../status-check/status-check';
import { safeLine } from './redact';

/** SendTaskSuccess/SendTaskFailure's taskToken: 1 to 2048 characters (the Step Functions model). */
export const taskTokenSchema = z
  .string({ error: 'must be a string' })
  .check(
    z.minLength(1, { error: 'must not be empty' }),
    z.maxLength(2048, { error: 'must be at most 2048 characters' }),
  );

/** Run Command ids are UUIDs (36 characters). */
export const commandIdSchema = z.string({ error: 'must be a string' }).check(
  z.regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, {
    error: 'must be a command id (UUID)',
  }),
);

/** What the event path needs to decide a command's outcome later: identifiers only. */
export interface CommandWait {
  commandId: string;
  taskToken: string;
  executionArn: string;
  certificateArn: string;
  targetTagKey: string;
  targetTagValue: string;
  /** The poll attempt the wait started after (status-check's counter; 0 before any check). */
  attempt: number;
}

const storedWaitSchema = z.object({
  commandId: commandIdSchema,
  taskToken: taskTokenSchema,
  executionArn: z.string().check(z.minLength(1), z.maxLength(2048)),
  certificateArn: z.string().check(z.minLength(1), z.maxLength(2048)),
  targetTagKey: z.string().check(z.minLength(1), z.maxLength(128)),
  targetTagValue: z.string().check(z.maxLength(256)),
  attempt: z.int().check(z.minimum(0)),
});

function itemKey(commandId: string): Record<string, string> {
  return {
    [INVENTORY.partitionKey]: `${COMMAND_WAIT.partitionKeyPrefix}${commandId}`,
    [INVENTORY.sortKey]: COMMAND_WAIT.sortKey,
  };
}

/** Stores (or replaces, on a wait after a fallback check) the command's token, expiring after the wait. */
export async function storeCommandWait(deps: InventoryDeps, wait: CommandWait, now = new Date()): Promise<void> {
  const expiresAt = Math.floor(now.getTime() / 1000) + COMMAND_WAIT_TIMEOUT_SECONDS + COMMAND_WAIT.ttlMarginSeconds;
  try {
    await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: itemKey(wait.commandId),
        UpdateExpression:
          'SET taskToken = :token, executionArn = :execution, targetCertificateArn = :certificate, targetTagKey = :tagKey, targetTagValue = :tagValue, attempt = :attempt, #ttl = :expiresAt',
        ExpressionAttributeNames: { '#ttl': COMMAND_WAIT.ttlAttribute },
        ExpressionAttributeValues: {
          ':token': wait.taskToken,
          ':execution': wait.executionArn,
          ':certificate': wait.certificateArn,
          ':tagKey': wait.targetTagKey,
          ':tagValue': wait.targetTagValue,
          ':attempt': wait.attempt,
          ':expiresAt': expiresAt,
        },
      }),
    );
  } catch (error) {
    rethrowThrottling(error, 'dynamodb:UpdateItem');
  }
}

/** The stored wait of a command, or undefined (none, or not a well-formed one). */
export async function readCommandWait(deps: InventoryDeps, commandId: string): Promise<CommandWait | undefined> {
  let item: Record<string, unknown> | undefined;
  try {
    item = (await deps.ddb.send(new GetCommand({ TableName: deps.tableName, Key: itemKey(commandId) }))).Item;
  } catch (error) {
    return rethrowThrottling(error, 'dynamodb:GetItem');
  }
  if (!item) return undefined;
  const parsed = storedWaitSchema.safeParse({
    commandId,
    taskToken: item.taskToken,
    executionArn: item.executionArn,
    certificateArn: item.targetCertificateArn,
    targetTagKey: item.targetTagKey,
    targetTagValue: item.targetTagValue,
    attempt: item.attempt,
  });
  return parsed.success ? parsed.data : undefined;
}

/** Deletes the wait only if it still holds this token (a later wait of the same command stored a fresh one). */
export async function deleteCommandWait(deps: InventoryDeps, commandId: string, taskToken: string): Promise<void> {
  try {
    await deps.ddb.send(
      new DeleteCommand({
        TableName: deps.tableName,
        Key: itemKey(commandId),
        ConditionExpression: 'taskToken = :token',
        ExpressionAttributeValues: { ':token': taskToken },
      }),
    );
  } catch (error) {
    if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return;
    rethrowThrottling(error, 'dynamodb:DeleteItem');
  }
}

/** Errors of SendTask* on a token whose task already ended (completed, timed out, or its execution stopped). */
const CLOSED_TOKEN_ERRORS = new Set(['TaskTimedOut', 'InvalidToken', 'TaskDoesNotExist']);

export type Completion = 'Completed' | 'AlreadyClosed';

/** Completes the waiting task with status-check's result; a token that is no longer open is not an error. */
export async function completeTask(sfn: SFNClient, taskToken: string, state: PollState, log: Log): Promise<Completion> {
  try {
    await sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(state) }));
    return 'Completed';
  } catch (error) {
    return closedOrRethrow(error, 'states:SendTaskSuccess', log);
  }
}

/** Fails the waiting task with an error the workflow's Catch sends to the alert (name and one safe line). */
export async function failTask(sfn: SFNClient, taskToken: string, failure: Error, log: Log): Promise<Completion> {
  try {
    await sfn.send(
      new SendTaskFailureCommand({
        taskToken,
        error: /^[A-Za-z0-9_.:-]{1,256}$/.test(failure.name) ? failure.name : 'Error',
        cause: safeLine(failure.message),
      }),
    );
    return 'Completed';
  } catch (error) {
    return closedOrRethrow(error, 'states:SendTaskFailure', log);
  }
}

function closedOrRethrow(error: unknown, operation: string, log: Log): Completion {
  const name = error instanceof Error ? error.name : '';
  if (CLOSED_TOKEN_ERRORS.has(name)) {
    // A duplicate event, a task that already timed out, or a stopped execution: nothing waits on it any more.
    log('the waiting task had already ended; nothing to complete', { operation, errorName: name });
    return 'AlreadyClosed';
  }
  return rethrowThrottling(error, operation);
}

export interface DecideDeps extends StatusDeps, InventoryDeps {
  sfn: SFNClient;
  log: Log;
}

export type CommandWaitOutcome =
  /** The command is still running: the token stays stored for its event (or the wait's timeout). */
  | { outcome: 'InProgress' }
  | {
      outcome: 'Completed' | 'AlreadyClosed';
      status: 'Succeeded' | 'Failed' | 'CheckFailed';
      /** The verdict the token was completed with (not for CheckFailed). */
      state?: PollState;
    };

/**
 * One status check of the waited-on command (status-check's logic and counts); a terminal result completes
 * the token and removes the stored wait. A check that fails for good (not throttling) fails the task, so the
 * workflow alerts instead of waiting for its timeout; throttling is rethrown for the caller's retry.
 */
export async function decideCommandWait(wait: CommandWait, deps: DecideDeps): Promise<CommandWaitOutcome> {
  let state: PollState;
  try {
    state = await checkStatus(
      {
        input: {
          CertificateArn: wait.certificateArn,
          TargetTagKey: wait.targetTagKey,
          TargetTagValue: wait.targetTagValue,
        },
        commandId: wait.commandId,
        poll: { status: 'InProgress', attempt: wait.attempt, waitSeconds: 0 },
        executionArn: wait.executionArn,
      },
      deps,
    );
  } catch (error) {
    if (error instanceof Error && error.name === 'Throttled') throw error;
    const failure = error instanceof Error ? error : new Error('status check failed');
    const completion = await failTask(deps.sfn, wait.taskToken, failure, deps.log);
    await deleteCommandWait(deps, wait.commandId, wait.taskToken);
    return { outcome: completion, status: 'CheckFailed' };
  }
  if (state.status === 'InProgress') return { outcome: 'InProgress' };
  const completion = await completeTask(deps.sfn, wait.taskToken, state, deps.log);
  await deleteCommandWait(deps, wait.commandId, wait.taskToken);
  return { outcome: completion, status: state.status, state };
}
