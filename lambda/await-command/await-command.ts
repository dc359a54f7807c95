/**
 * await-command logic: the event path's wait. Stores the task token under the command id for command-events,
 * then checks the command ONCE, so a command that finished before the token was stored (its event found no
 * token) still completes the wait; otherwise the command's status-change event (or the wait's timeout) does.
 */
import * as z from '../shared/zod';
import type { PollState } from '../shared/contract';
import { InvalidInput } from '../shared/errors';
import {
  type CommandWaitOutcome,
  decideCommandWait,
  type DecideDeps,
  storeCommandWait,
  taskTokenSchema,
} from '../shared/command-wait';
import {
  executionArnSchema,
  installTaskResultSchema,
  parsePayload,
  parseWorkflowInput,
  pollStateSchema,
  scopeFromExecutionArn,
} from '../shared/workflow';

/** The task's Payload: the execution input, ssm-run's result, the last poll state and the token. */
export const awaitCommandPayloadSchema = z.object({
  input: z.unknown(),
  install: installTaskResultSchema,
  poll: pollStateSchema,
  executionArn: executionArnSchema,
  taskToken: taskTokenSchema,
});
export type AwaitCommandPayload = z.infer<typeof awaitCommandPayloadSchema>;

export interface AwaitCommandResult {
  commandId: string;
  /** InProgress: the token waits for the event; otherwise this check completed it. */
  outcome: CommandWaitOutcome['outcome'];
  /** The verdict this check completed the wait with (the command had already ended). */
  state?: PollState;
}

export async function awaitCommand(
  payload: unknown,
  region: string,
  deps: DecideDeps,
  now = new Date(),
): Promise<AwaitCommandResult> {
  const task = parsePayload(awaitCommandPayloadSchema, payload, 'payload');
  const commandId = task.install.commandId;
  if (task.install.outcome !== 'Sent' || !commandId) {
    throw new InvalidInput('install: only a command that was sent (outcome Sent with a commandId) can be awaited');
  }
  const input = parseWorkflowInput(task.input, scopeFromExecutionArn(task.executionArn, region));
  const wait = {
    commandId,
    taskToken: task.taskToken,
    executionArn: task.executionArn,
    certificateArn: input.CertificateArn,
    targetTagKey: input.TargetTagKey,
    targetTagValue: input.TargetTagValue,
    attempt: task.poll.attempt,
  };
  // Stored first: an event from now on finds the token; one that came earlier is made up for by the check below.
  await storeCommandWait(deps, wait, now);
  const decided = await decideCommandWait(wait, deps);
  return {
    commandId,
    outcome: decided.outcome,
    ...(decided.outcome === 'Completed' && decided.state ? { state: decided.state } : {}),
  };
}
