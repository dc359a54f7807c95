/**
 * status-check logic: ONE ListCommands call per poll, decided from the command's aggregate counts. Once the
 * command is terminal, ONE paginated listing of all its invocations (with Details) reads each node's outcome:
 * a node that did not succeed gets one short line for the alert (Undeliverable nodes included: they leave a
 * command Success with clean counts), and a node that succeeded is tallied from its result line (installed,
 * unchanged, skipped, which web server it reloaded). An export succeeds only when every node installed the
 * certificate or already had it: a node that skipped it (it holds a newer one) did not get what was asked.
 */
import {
  Command,
  CommandInvocation,
  ListCommandInvocationsCommand,
  ListCommandInvocationsCommandOutput,
  ListCommandsCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import * as z from '../shared/zod';
import {
  MAX_NODE_LINES,
  NodeFailure,
  NodeOutcomes,
  nodeFailureLine,
  nodeSkipLine,
  PollState,
  skipExplanation,
  targetKey,
} from '../shared/contract';
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
  /** The target: only the certificate and the tag are read (the event path stores just these). */
  input: Pick<ResolvedExportRequest, 'CertificateArn' | 'TargetTagKey' | 'TargetTagValue'>;
  commandId: string;
  poll: PollState;
  executionArn: string;
}

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
/** At most this many per-node lines go into the alert (and as many skip lines). */
export const MAX_FAILURE_LINES = MAX_NODE_LINES;
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

/** What went wrong on one node: the outcome's explanation, then (for a run that failed) its failure line. */
function failureDetail(outcome: string, output: string): string {
  const explanation = OUTCOME_EXPLANATIONS[outcome] ?? UNKNOWN_OUTCOME;
  return OUTPUT_OUTCOMES.has(outcome) && output ? `${explanation}: ${output}` : explanation;
}

/** The alert's text: the summary, then one line per node that did not succeed or skipped. */
export function failureReport(reason: string, failures: NodeFailure[], outcomes?: NodeOutcomes): string {
  const skips = (outcomes?.skips ?? []).map(nodeSkipLine);
  const lines = [...failures.map(nodeFailureLine), ...skips];
  const cut =
    failures.length >= MAX_FAILURE_LINES || skips.length >= MAX_FAILURE_LINES
      ? [`(only the first ${MAX_FAILURE_LINES} nodes of each kind are listed)`]
      : [];
  return [reason, ...lines, ...cut].join('\n');
}

/** The failing step and its reason in a node's output: the script's `acm-export: FAILED at <step>: <reason>`. */
const FAILED_LINE = /acm-export: FAILED at ([a-z]{1,20}): (.*)$/;
/** Separator the SSM Agent puts between a plugin's stdout and its stderr in the invocation's Output. */
const STDERR_MARK = '\n----------ERROR-------\n';

/** The fields of a node's result line that status-check reads; anything else in it is ignored. */
/** An optional field whose malformed value reads as absent. */
const lenient = <T extends z.ZodMiniType>(schema: T) => z.catch(z.optional(schema), undefined);
const ResultLine = z.object({
  changed: lenient(z.boolean()),
  reloaded: lenient(z.boolean()),
  service: lenient(z.enum(['none', 'nginx', 'apache2', 'httpd'])),
  requestedService: lenient(z.string().check(z.maxLength(7))),
  skipped: lenient(z.string().check(z.maxLength(100))),
  installedSerial: lenient(z.string().check(z.regex(/^[0-9A-F]{1,80}$/))),
  installedNotAfter: lenient(z.string().check(z.regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/))),
});
type ResultLine = z.infer<typeof ResultLine>;

/** The last JSON object line of the stdout part of a plugin's Output (stdout comes first), parsed. */
function lastJsonLine(output: string | undefined, prefix: string): unknown {
  const stdout = (output ?? '').split(STDERR_MARK)[0];
  const line = stdout
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.startsWith(prefix) && l.endsWith('}'))
    .pop();
  if (!line) return undefined;
  try {
    return JSON.parse(line) as unknown;
  } catch {
    return undefined;
  }
}

/** The install script's JSON result line in a plugin's Output, or undefined. */
export function resultLine(output: string | undefined): ResultLine | undefined {
  const parsed = ResultLine.safeParse(lastJsonLine(output, '{"node":'));
  return parsed.success && parsed.data ? parsed.data : undefined;
}

/** The script's failure line on stdout, which survives the agent cutting the end of a long stderr. */
const FailureLine = z.object({
  failedStep: z.string().check(z.regex(/^[a-z]{1,20}$/)),
  reason: z.string().check(z.maxLength(2000)),
});

/**
 * The failing step and line of a failed run: from its stdout failure line, else the last
 * `acm-export: FAILED at <step>:` line of its stderr, else its last line.
 */
export function failedStep(output: string | undefined): { step?: string; line: string } {
  const json = FailureLine.safeParse(lastJsonLine(output, '{'));
  if (json.success) return { step: json.data.failedStep, line: safeLine(json.data.reason) };
  const lines = (output ?? '').split(/\r?\n/).filter((l) => FAILED_LINE.test(l));
  const last = lines[lines.length - 1];
  if (!last) return { line: safeLine(output) };
  const m = FAILED_LINE.exec(last)!;
  return { step: m[1], line: safeLine(m[2]) };
}

export function emptyOutcomes(): NodeOutcomes {
  return { installed: 0, unchanged: 0, skipped: 0, unreported: 0, reloaded: {}, noWebServer: 0, skips: [] };
}

/** Adds one successful node's result line to the tally. */
function tally(outcomes: NodeOutcomes, instanceId: string, result: ResultLine | undefined): void {
  if (!result) {
    outcomes.unreported += 1;
    return;
  }
  if (result.skipped) {
    outcomes.skipped += 1;
    if (outcomes.skips.length < MAX_NODE_LINES) {
      outcomes.skips.push({
        instanceId,
        reason: safeLine(result.skipped),
        ...(result.installedSerial ? { installedSerial: result.installedSerial } : {}),
        ...(result.installedNotAfter ? { installedNotAfter: result.installedNotAfter } : {}),
      });
    }
    return;
  }
  if (result.changed === false) outcomes.unchanged += 1;
  else outcomes.installed += 1;
  if (result.reloaded && result.service && result.service !== 'none') {
    outcomes.reloaded[result.service] = (outcomes.reloaded[result.service] ?? 0) + 1;
  }
  if (result.requestedService === 'auto' && result.service === 'none') outcomes.noWebServer += 1;
}

/** A non-success invocation as one failure line (undefined for Success or one still running). */
function invocationFailure(inv: CommandInvocation): NodeFailure | undefined {
  // StatusDetails holds the finer outcome (Undeliverable, Terminated...) that Status folds away.
  const outcome =
    inv.StatusDetails && inv.StatusDetails !== 'Success'
      ? inv.StatusDetails
      : inv.Status && inv.Status !== 'Success'
        ? inv.Status
        : 'Success';
  if (outcome === 'Success' || RUNNING_OUTCOMES.has(outcome)) return undefined;
  const plugin = (inv.CommandPlugins ?? []).find((p) => p.Status && p.Status !== 'Success') ?? inv.CommandPlugins?.[0];
  const failed = OUTPUT_OUTCOMES.has(outcome) ? failedStep(plugin?.Output) : { line: '' };
  return {
    instanceId: inv.InstanceId ?? '',
    status: safeLine(outcome),
    ...(failed.step ? { step: failed.step } : {}),
    line: failureDetail(outcome, failed.line),
  };
}
/** Invocation outcomes that are not an end yet (a terminal command should have none). */
const RUNNING_OUTCOMES = new Set(['Pending', 'InProgress', 'Delayed', 'Cancelling']);

export interface InvocationReport {
  /** Every node that did not succeed (counted), the first MAX_FAILURE_LINES listed. */
  failedCount: number;
  failures: NodeFailure[];
  outcomes: NodeOutcomes;
}

/** One paginated listing of every invocation of the command, with their output (MaxResults 50, the API's cap). */
export async function readInvocations(ssm: SSMClient, commandId: string): Promise<InvocationReport> {
  const seen = new Set<string>();
  const report: InvocationReport = { failedCount: 0, failures: [], outcomes: emptyOutcomes() };
  let token: string | undefined;
  do {
    let page: ListCommandInvocationsCommandOutput;
    try {
      page = await ssm.send(
        new ListCommandInvocationsCommand({ CommandId: commandId, Details: true, MaxResults: 50, NextToken: token }),
      );
    } catch (error) {
      return rethrowThrottling(error, 'ssm:ListCommandInvocations');
    }
    for (const inv of page.CommandInvocations ?? []) {
      if (!inv.InstanceId || seen.has(inv.InstanceId)) continue;
      seen.add(inv.InstanceId);
      const failure = invocationFailure(inv);
      if (failure) {
        report.failedCount += 1;
        if (report.failures.length < MAX_FAILURE_LINES) report.failures.push(failure);
      } else if (!RUNNING_OUTCOMES.has(inv.StatusDetails ?? inv.Status ?? '')) {
        tally(report.outcomes, inv.InstanceId, resultLine(inv.CommandPlugins?.[0]?.Output));
      }
    }
    token = page.NextToken;
  } while (token);
  return report;
}

/** `2 at configtest (nginx configuration test failed: ...)`, or `1 Undeliverable (the node is not reachable by SSM)`. */
function failureGroups(failures: NodeFailure[]): { key: string; count: number; first: NodeFailure }[] {
  const groups = new Map<string, { key: string; count: number; first: NodeFailure }>();
  for (const f of failures) {
    const key = f.step ? `at ${f.step}` : f.status;
    const group = groups.get(key);
    if (group) group.count += 1;
    else groups.set(key, { key, count: 1, first: f });
  }
  return [...groups.values()];
}

/** What the node's own line says after the outcome's explanation (the FAILED reason), else the explanation. */
function groupDetail(f: NodeFailure): string {
  const explanation = OUTCOME_EXPLANATIONS[f.status] ?? UNKNOWN_OUTCOME;
  return f.line.startsWith(`${explanation}: `) ? f.line.slice(explanation.length + 2) : f.line;
}

/**
 * The one-line verdict for people: `1 of 3 nodes failed at configtest: <the node's line>`; with several kinds
 * `2 of 3 nodes failed: 1 at configtest (<line>), 1 Undeliverable (<explanation>)`; then what the other nodes did.
 */
export function failureSummary(report: InvocationReport, targetCount: number): string {
  const groups = failureGroups(report.failures);
  const total = Math.max(report.failedCount, report.failures.length);
  let text: string;
  if (groups.length === 1) {
    const g = groups[0];
    text = `${total} of ${targetCount} nodes failed ${g.first.step ? g.key : `(${g.key})`}: ${groupDetail(g.first)}`;
  } else {
    text = `${total} of ${targetCount} nodes failed: ${groups.map((g) => `${g.count} ${g.key} (${groupDetail(g.first)})`).join(', ')}`;
  }
  const rest = outcomeSummary(report.outcomes);
  return rest ? `${text}; ${rest}` : text;
}

/** `installed on 2, 1 unchanged, 1 skipped: the node holds a newer certificate (...); reloaded nginx on 2`. */
export function outcomeSummary(o: NodeOutcomes): string {
  const parts: string[] = [];
  if (o.installed) parts.push(`installed on ${o.installed}`);
  if (o.unchanged) parts.push(`${o.unchanged} unchanged`);
  if (o.unreported) parts.push(`${o.unreported} succeeded without details`);
  if (o.skipped) parts.push(`${o.skipped} skipped${o.skips[0] ? `: ${skipExplanation(o.skips[0])}` : ''}`);
  const reloads = Object.entries(o.reloaded).map(([service, n]) => `reloaded ${service} on ${n}`);
  if (o.noWebServer) reloads.push(`${o.noWebServer} with no running web server (no reload)`);
  return [parts.join(', '), ...reloads].filter(Boolean).join('; ');
}

/** `not installed on 3 of 3 nodes: 3 skipped: the node holds a newer certificate (serial ..., not after ...)`. */
function skipSummary(o: NodeOutcomes, targetCount: number): string {
  const skip = o.skips[0];
  const why = skip ? `: ${skipExplanation(skip)}` : '';
  return `installed on ${o.installed + o.unchanged + o.unreported}/${targetCount} node(s); ${o.skipped} skipped${why}`;
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
  let outcomes: NodeOutcomes | undefined;
  let skipOnly = false;
  const targetCount = c.targetCount ?? 0;
  if (command && targetCount > 0) {
    const report = await readInvocations(deps.ssm, request.commandId);
    failures = report.failures;
    outcomes = report.outcomes;
    if (verdict.status === 'Failed') {
      if (failures.length > 0) verdict = { status: 'Failed', reason: failureSummary(report, targetCount) };
    } else if (failures.length > 0) {
      // Undeliverable nodes leave the command Success with clean counts, yet they never got the certificate.
      verdict = { status: 'Failed', reason: failureSummary(report, targetCount) };
    } else if (outcomes.skipped > 0) {
      verdict = { status: 'Failed', reason: skipSummary(outcomes, targetCount) };
      skipOnly = true;
    }
  }
  const key = { certificateArn: i.CertificateArn, target: targetKey(i.TargetTagKey, i.TargetTagValue) };
  const owned = await recordDeployOutcome(deps, key, request.executionArn, {
    status: verdict.status,
    at: now().toISOString(),
  });
  if (!owned) log('a newer export owns this target; its inventory status was left alone');
  if (!owned && skipOnly) {
    // A late push of an older export: a newer one owns the target and its nodes already hold the newer
    // certificate. Nothing to alert about; the outcome tally still says they skipped this one.
    log('nodes skipped this export for the newer certificate of the export that owns the target');
    verdict = { status: 'Succeeded' };
  }

  const state: PollState = { status: verdict.status, attempt, waitSeconds: 0, ...c, ...(outcomes ? { outcomes } : {}) };
  if (verdict.status === 'Failed') {
    const reason = verdict.reason ?? 'install failed';
    state.failures = failures;
    state.reason = reason;
    state.report = failureReport(reason, failures, outcomes);
  }
  return state;
}
