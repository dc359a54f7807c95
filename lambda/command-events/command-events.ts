/**
 * command-events logic: the target of the rule on Run Command's "EC2 Command Status-change Notification"
 * events for the install document's commands in a terminal status. It finds the task token the workflow's
 * await-command stored for the command and completes it with status-check's verdict. An event for a command
 * nobody waits on (a duplicate, a command that await-command already completed, a stopped execution whose
 * token is gone) is logged and ignored; so is a token that is no longer open.
 */
import * as z from '../shared/zod';
import {
  type CommandWaitOutcome,
  commandIdSchema,
  decideCommandWait,
  type DecideDeps,
  readCommandWait,
} from '../shared/command-wait';
import { InvalidInput } from '../shared/errors';
import { formatIssues } from '../shared/schemas';

/** Event source and detail type of a Run Command command's status change (per command, not per node). */
export const COMMAND_STATUS_SOURCE = 'aws.ssm';
export const COMMAND_STATUS_DETAIL_TYPE = 'EC2 Command Status-change Notification';
/** The command statuses after which it never changes again (the rule matches only these). */
export const TERMINAL_COMMAND_STATUSES = ['Success', 'Failed', 'TimedOut', 'Cancelled'] as const;

/** The fields of the event this function reads; others (parameters, expire-after...) are ignored. */
export const commandStatusEventSchema = z.object({
  source: z.literal(COMMAND_STATUS_SOURCE, { error: `must be ${COMMAND_STATUS_SOURCE}` }),
  'detail-type': z.literal(COMMAND_STATUS_DETAIL_TYPE, { error: `must be ${COMMAND_STATUS_DETAIL_TYPE}` }),
  detail: z.object({
    'command-id': commandIdSchema,
    'document-name': z
      .string({ error: 'must be a string' })
      .check(
        z.minLength(1, { error: 'must not be empty' }),
        z.maxLength(128, { error: 'must be at most 128 characters' }),
      ),
    status: z.enum(TERMINAL_COMMAND_STATUSES, { error: `must be one of ${TERMINAL_COMMAND_STATUSES.join(', ')}` }),
  }),
});
export type CommandStatusEvent = z.infer<typeof commandStatusEventSchema>;

export function parseCommandStatusEvent(event: unknown): CommandStatusEvent {
  const parsed = commandStatusEventSchema.safeParse(event);
  if (!parsed.success) throw new InvalidInput(`event: ${formatIssues(parsed.error)}`);
  return parsed.data;
}

export type CommandEventResult =
  { commandId: string; outcome: 'NotAwaited' } | ({ commandId: string } & CommandWaitOutcome);

export interface CommandEventDeps extends DecideDeps {
  /** The install document: events of other documents' commands are not this function's (the rule filters too). */
  documentName: string;
}

export async function handleCommandEvent(event: unknown, deps: CommandEventDeps): Promise<CommandEventResult> {
  const parsed = parseCommandStatusEvent(event);
  const commandId = parsed.detail['command-id'];
  if (parsed.detail['document-name'] !== deps.documentName) {
    throw new InvalidInput('event: detail.document-name: must be the install document the rule matches');
  }
  const wait = await readCommandWait(deps, commandId);
  if (!wait) return { commandId, outcome: 'NotAwaited' };
  return { commandId, ...(await decideCommandWait(wait, deps)) };
}
