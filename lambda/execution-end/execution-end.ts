/**
 * execution-end logic: an export execution that failed, timed out or was aborted while its install was in
 * progress can no longer record the outcome itself (status-check never runs again), so its target would stay
 * InProgress. This records `Failed` with the reason instead, only on the item that execution still owns.
 */
import * as z from '../shared/zod';
import { targetKey } from '../shared/contract';
import { InvalidInput } from '../shared/errors';
import { InventoryDeps, recordAbnormalEnd } from '../shared/inventory';
import { certificateArnRule } from '../shared/patterns';
import { safeLine } from '../shared/redact';
import { field, formatIssues, ruleString } from '../shared/schemas';
import { executionArnSchema } from '../shared/workflow';

/** Execution end states recorded on the target (the rule matches these; others are not this function's). */
export const RECORDED_END_STATUSES = ['FAILED', 'TIMED_OUT', 'ABORTED'] as const;
export type RecordedEndStatus = (typeof RECORDED_END_STATUSES)[number];

export const EXECUTION_STATUS_SOURCE = 'aws.states';
export const EXECUTION_STATUS_DETAIL_TYPE = 'Step Functions Execution Status Change';

/** The fields of the status-change event this function reads (limits: StartExecution input, Sensitive{Error,Cause}). */
export const executionEndEventSchema = z.object({
  source: z.literal(EXECUTION_STATUS_SOURCE, { error: `must be ${EXECUTION_STATUS_SOURCE}` }),
  'detail-type': z.literal(EXECUTION_STATUS_DETAIL_TYPE, { error: `must be ${EXECUTION_STATUS_DETAIL_TYPE}` }),
  detail: z.object({
    executionArn: executionArnSchema,
    status: z.enum(RECORDED_END_STATUSES, { error: `must be one of ${RECORDED_END_STATUSES.join(', ')}` }),
    // Null when the input did not fit into the event (over 248 KB with the output).
    input: z.nullish(z.string().check(z.maxLength(262144, { error: 'must be at most 262144 characters' }))),
    error: z.nullish(z.string().check(z.maxLength(256, { error: 'must be at most 256 characters' }))),
    cause: z.nullish(z.string().check(z.maxLength(32768, { error: 'must be at most 32768 characters' }))),
  }),
});
export type ExecutionEndEvent = z.infer<typeof executionEndEventSchema>;

/** The target an execution input names. Other fields are not read: only these find the item. */
const targetOfInput = z.object({
  CertificateArn: ruleString(certificateArnRule()),
  TargetTagKey: field('TargetTagKey'),
  TargetTagValue: field('TargetTagValue'),
});

export type ExecutionEndResult =
  | { outcome: 'Recorded'; certificateArn: string; target: string; reason: string }
  /** The item is gone, owned by a newer execution, or its outcome was already recorded. */
  | { outcome: 'NotOwned'; certificateArn: string; target: string }
  /** The input names no target (it never passed validation, so no item can be owned by this execution). */
  | { outcome: 'NoTarget'; why: string };

export function parseExecutionEndEvent(event: unknown): ExecutionEndEvent {
  const parsed = executionEndEventSchema.safeParse(event);
  if (!parsed.success) throw new InvalidInput(`event: ${formatIssues(parsed.error)}`);
  return parsed.data;
}

const STATUS_WORDS: Record<RecordedEndStatus, string> = {
  FAILED: 'failed',
  TIMED_OUT: 'timed out',
  ABORTED: 'was stopped',
};

/** An error name as Step Functions reports it (`States.Timeout`, `InstallFailed`); anything else is dropped. */
function errorName(error: string | null | undefined): string | undefined {
  const name = error?.trim();
  return name && /^[A-Za-z0-9_.:-]{1,100}$/.test(name) ? name : undefined;
}

/**
 * One line for the item: what happened to the execution, its error name and the last line of its cause
 * (control characters removed, anything key-like withheld, at most 200 characters).
 */
export function endReason(detail: ExecutionEndEvent['detail']): string {
  const name = errorName(detail.error);
  const cause = detail.cause ? safeLine(detail.cause) : '';
  const what = `the export execution ${STATUS_WORDS[detail.status]} before it recorded the install outcome`;
  return [what, name, cause].filter(Boolean).join(': ');
}

/** Marks the execution's target Failed with the reason, if that execution still owns it and it is InProgress. */
export async function recordExecutionEnd(event: ExecutionEndEvent, deps: InventoryDeps): Promise<ExecutionEndResult> {
  const { detail } = event;
  if (detail.input === null || detail.input === undefined) {
    // Not for an execution that owns an item: ssm-run accepts only inputs within the API's field limits.
    return { outcome: 'NoTarget', why: 'the event does not include the execution input' };
  }
  let input: unknown;
  try {
    input = JSON.parse(detail.input);
  } catch {
    return { outcome: 'NoTarget', why: 'the execution input is not JSON' };
  }
  const target = targetOfInput.safeParse(input);
  if (!target.success) return { outcome: 'NoTarget', why: `input: ${formatIssues(target.error)}` };
  const certificateArn = target.data.CertificateArn;
  const key = { certificateArn, target: targetKey(target.data.TargetTagKey, target.data.TargetTagValue) };
  const reason = endReason(detail);
  const recorded = await recordAbnormalEnd(deps, key, detail.executionArn, reason);
  return recorded ? { outcome: 'Recorded', ...key, reason } : { outcome: 'NotOwned', ...key };
}
