/**
 * status-check logic: ONE ListCommands call per poll, decided from the command's aggregate counts. Only
 * when the command ended badly are the failed invocations listed (paginated, per failure status) to get
 * one short line per node for the alert. An apparent success is confirmed with one listing of Undeliverable
 * invocations, the only outcome that leaves a command Success with clean counts.
 */
import {
  Command,
  ListCommandInvocationsCommand,
  ListCommandInvocationsCommandOutput,
  ListCommandsCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { NodeFailure, nodeFailureLine, PollState, targetKey } from '../shared/contract';
import { rethrowThrottling } from '../shared/errors';
import { InventoryDeps, recordDeployOutcome } from '../shared/inventory';
import { pollWaitSeconds } from './backoff';
import { safeLine } from '../shared/redact';
import type { ResolvedExportRequest } from '../shared/schemas';

export interface StatusDeps extends InventoryDeps {
  ssm: SSMClient;
  now?: () => Date;
  log?: (message: string, keys?: Record<string, string | number | boolean>) => void;
}

export interface StatusRequest {
  input: ResolvedExportRequest;
  commandId: string;
  poll: PollState;
  executionArn: string;
}

/**
 * ListCommandInvocations Status filter values of the terminal non-success outcomes, listed for the alert in
 * this order (`TimedOut` covers Delivery and Execution Timed Out).
 */
export const FAILURE_STATUSES = [
  'Failed',
  'TimedOut',
  'Cancelled',
  'Undeliverable',
  'Terminated',
  'InvalidPlatform',
  'AccessDenied',
] as const;

/**
 * What each terminal non-success invocation outcome (its StatusDetails) means for the node, in plain words.
 * Counting, per the SSM model: Failed and Execution Timed Out count against MaxErrors (ErrorCount); Delivery
 * Timed Out has its own count and Undeliverable none. Terminated invocations were never run (the system
 * cancelled them after MaxErrors was exceeded), so they count as neither; InvalidPlatform and AccessDenied
 * are refusals before anything ran, documented as not counting against MaxErrors. Every one of them still
 * means the node did not get the certificate, so each fails the export.
 */
export const OUTCOME_EXPLANATIONS: Readonly<Record<string, string>> = {
  Failed: 'the install script failed on the node',
  'Execution Timed Out': 'the install script did not finish before its execution timeout',
  'Delivery Timed Out': 'the node did not pick up the command before it expired',
  Undeliverable: 'the node is not reachable by SSM',
  Terminated: 'not run: the rollout stopped after more nodes failed than MaxErrors allows',
  Cancelled: 'the command was cancelled before it finished on the node',
  InvalidPlatform: "the node's platform is not one the install document supports",
  AccessDenied: 'the caller is not allowed to run commands on this node',
};
const UNKNOWN_OUTCOME = 'the command did not succeed on the node';

/** Outcomes after which the node's own output says more than the explanation does. */
const OUTPUT_OUTCOMES = new Set(['Failed', 'Execution Timed Out']);
/** At most this many per-node lines go into the alert. */
export const MAX_FAILURE_LINES = 50;
/** Polls during which a command not yet visible in ListCommands counts as pending. */
export const MISSING_COMMAND_POLLS = 3;

const TERMINAL_STATUS = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled']);
const TERMINAL_DETAILS = new Set([
  'Success',
  'Failed',
  'Cancelled',
  'Incomplete',
  'Delivery Timed Out',
  'Execution Timed Out',
  'Rate Exceeded',
  'NoInstancesInTag',
]);

/** What went wrong on one node: the outcome's explanation, then (for a run that failed) its last output line. */
function failureDetail(outcome: string, output: string): string {
  const explanation = OUTCOME_EXPLANATIONS[outcome] ?? UNKNOWN_OUTCOME;
  return OUTPUT_OUTCOMES.has(outcome) && output ? `${explanation}: ${output}` : explanation;
}

/** The alert's text: the summary, then one line per node that did not succeed. */
export function failureReport(reason: string, failures: NodeFailure[]): string {
  const cut = failures.length >= MAX_FAILURE_LINES ? [`(only the first ${MAX_FAILURE_LINES} nodes are listed)`] : [];
  return [reason, ...failures.map(nodeFailureLine), ...cut].join('\n');
}

/** `install Failed: 2 of 3 nodes failed (1 Failed, 1 Undeliverable)`, from the nodes listed. */
function failureSummary(detail: string, failures: NodeFailure[], targetCount: number): string {
  const tally = new Map<string, number>();
  for (const f of failures) tally.set(f.status, (tally.get(f.status) ?? 0) + 1);
  const outcomes = [...tally].map(([status, n]) => `${n} ${status}`).join(', ');
  return `install ${detail}: ${failures.length} of ${targetCount} nodes failed (${outcomes})`;
}

/**
 * The invocations that ended in one of `statuses`, one entry per node. Stops once every target node is
 * accounted for: a node's outcome can match two filters (TimedOut and DeliveryTimedOut, say).
 */
async function failedInvocations(
  ssm: SSMClient,
  commandId: string,
  statuses: readonly string[],
  targetCount: number,
): Promise<NodeFailure[]> {
  const seen = new Map<string, NodeFailure>();
  for (const status of statuses) {
    let token: string | undefined;
    do {
      let page: ListCommandInvocationsCommandOutput;
      try {
        page = await ssm.send(
          new ListCommandInvocationsCommand({
            CommandId: commandId,
            Details: true,
            Filters: [{ key: 'Status', value: status }],
            MaxResults: 50,
            NextToken: token,
          }),
        );
      } catch (error) {
        return rethrowThrottling(error, 'ssm:ListCommandInvocations');
      }
      for (const inv of page.CommandInvocations ?? []) {
        if (!inv.InstanceId || seen.has(inv.InstanceId)) continue;
        // StatusDetails holds the finer outcome (Undeliverable, Terminated...) that Status folds away.
        const outcome =
          inv.StatusDetails && inv.StatusDetails !== 'Success'
            ? inv.StatusDetails
            : inv.Status && inv.Status !== 'Success'
              ? inv.Status
              : status;
        if (outcome === 'Success') continue;
        const plugin =
          (inv.CommandPlugins ?? []).find((p) => p.Status && p.Status !== 'Success') ?? inv.CommandPlugins?.[0];
        const output = safeLine(plugin?.Output);
        seen.set(inv.InstanceId, {
          instanceId: inv.InstanceId,
          status: safeLine(outcome),
          line: failureDetail(outcome, output),
        });
        if (seen.size >= MAX_FAILURE_LINES) return [...seen.values()];
      }
      token = page.NextToken;
    } while (token);
    if (targetCount > 0 && seen.size >= targetCount) break;
  }
  return [...seen.values()];
}

function counts(
  command: Command,
): Pick<PollState, 'targetCount' | 'completedCount' | 'errorCount' | 'deliveryTimedOutCount'> {
  return {
    targetCount: command.TargetCount ?? 0,
    completedCount: command.CompletedCount ?? 0,
    errorCount: command.ErrorCount ?? 0,
    deliveryTimedOutCount: command.DeliveryTimedOutCount ?? 0,
  };
}

/** The verdict for one ListCommands result (pure; no I/O). */
export function decide(
  command: Command | undefined,
  attempt: number,
  tag: string,
): { status: 'InProgress' | 'Succeeded' | 'Failed'; reason?: string } {
  if (!command) {
    return attempt < MISSING_COMMAND_POLLS
      ? { status: 'InProgress' }
      : {
          status: 'Failed',
          reason: 'the install command is not known to Systems Manager (ListCommands returned nothing)',
        };
  }
  const c = counts(command);
  const terminal = TERMINAL_STATUS.has(command.Status ?? '') || TERMINAL_DETAILS.has(command.StatusDetails ?? '');
  if (!terminal) return { status: 'InProgress' };
  if (c.targetCount === 0) return { status: 'Failed', reason: `no managed node matches tag ${tag}` };
  const bad = (c.errorCount ?? 0) + (c.deliveryTimedOutCount ?? 0);
  // Incomplete (some node not Success, too few to fail the command) is terminal but not a success,
  // whichever Status it comes with.
  const details = command.StatusDetails ?? 'Success';
  if (
    command.Status === 'Success' &&
    details === 'Success' &&
    bad === 0 &&
    (c.completedCount ?? 0) >= (c.targetCount ?? 0)
  ) {
    return { status: 'Succeeded' };
  }
  const detail = command.StatusDetails ?? command.Status ?? 'Failed';
  return {
    status: 'Failed',
    reason: `install ${detail}: ${c.errorCount} of ${c.targetCount} nodes failed, ${c.deliveryTimedOutCount} not reached, ${c.completedCount} completed`,
  };
}

export async function checkStatus(request: StatusRequest, deps: StatusDeps): Promise<PollState> {
  const log = deps.log ?? (() => undefined);
  const now = deps.now ?? (() => new Date());
  const attempt = request.poll.attempt + 1;
  const i = request.input;
  const tag = `${i.TargetTagKey}=${i.TargetTagValue}`;

  let command: Command | undefined;
  try {
    command = (await deps.ssm.send(new ListCommandsCommand({ CommandId: request.commandId }))).Commands?.[0];
  } catch (error) {
    const name = error instanceof Error ? error.name : '';
    if (name !== 'InvalidCommandId') return rethrowThrottling(error, 'ssm:ListCommands');
    command = undefined;
  }
  const decided = decide(command, attempt, tag);
  const c = command ? counts(command) : {};

  if (decided.status === 'InProgress') {
    return { status: 'InProgress', attempt, waitSeconds: pollWaitSeconds(attempt), ...c };
  }
  let verdict: { status: 'Succeeded' | 'Failed'; reason?: string } = {
    status: decided.status,
    ...(decided.reason ? { reason: decided.reason } : {}),
  };

  let failures: NodeFailure[] = [];
  const targetCount = c.targetCount ?? 0;
  if (verdict.status === 'Failed' && command && targetCount > 0) {
    failures = await failedInvocations(deps.ssm, request.commandId, FAILURE_STATUSES, targetCount);
    const detail = command.StatusDetails ?? command.Status ?? 'Failed';
    if (failures.length > 0) verdict = { status: 'Failed', reason: failureSummary(detail, failures, targetCount) };
  } else if (verdict.status === 'Succeeded') {
    // Undeliverable nodes leave the command Success with clean counts, yet they never got the certificate.
    failures = await failedInvocations(deps.ssm, request.commandId, ['Undeliverable'], targetCount);
    if (failures.length > 0)
      verdict = { status: 'Failed', reason: failureSummary('Incomplete', failures, targetCount) };
  }
  const key = { certificateArn: i.CertificateArn, target: targetKey(i.TargetTagKey, i.TargetTagValue) };
  const owned = await recordDeployOutcome(deps, key, request.executionArn, {
    status: verdict.status,
    at: now().toISOString(),
  });
  if (!owned) log('a newer export owns this target; its inventory status was left alone');

  const state: PollState = { status: verdict.status, attempt, waitSeconds: 0, ...c };
  if (verdict.status === 'Failed') {
    const reason = verdict.reason ?? 'install failed';
    state.failures = failures;
    state.reason = reason;
    state.report = failureReport(reason, failures);
  }
  return state;
}
