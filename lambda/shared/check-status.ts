/**
 * status-check logic: ONE ListCommands call per poll, decided from the command's aggregate counts. Only
 * when the command ended badly are the failed invocations listed (paginated, per failure status) to get
 * one short line per node for the alert.
 */
import {
  Command,
  ListCommandInvocationsCommand,
  ListCommandInvocationsCommandOutput,
  ListCommandsCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { NodeFailure, PollState, targetKey } from './contract';
import { rethrowThrottling } from './errors';
import { InventoryDeps, recordDeployOutcome } from './inventory';
import { pollWaitSeconds } from './backoff';
import type { ResolvedExportRequest } from './schemas';

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

/** Failed-invocation statuses listed for the alert, in this order. */
export const FAILURE_STATUSES = ['Failed', 'TimedOut', 'Cancelled', 'Undeliverable'] as const;
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
  'NoInstancesInTag',
]);

/** PEM armour (a BEGIN/END line, or the tail of one). */
const PEM_ARMOUR = /-----(BEGIN|END) |PRIVATE KEY-----/;
/** Runs of base64/base64url characters long enough to hold a secret (a passphrase is 43, PEM lines 64). */
const LONG_RUN = /[A-Za-z0-9+/=_-]{40,}/g;

/** True when `run` decodes to the start of a DER SEQUENCE (0x30, then a length): a certificate or key body. */
function decodesAsDer(run: string): boolean {
  const bytes = Buffer.from(run.replace(/[^A-Za-z0-9+/]/g, '').slice(0, 8), 'base64');
  return bytes.length >= 2 && bytes[0] === 0x30 && (bytes[1] < 0x80 || (bytes[1] >= 0x81 && bytes[1] <= 0x83));
}

/** Average length of the lower-case runs: under 2 in random base64, 4 or more in words (`ReloadWebServers`). */
function shortLowerRuns(text: string): boolean {
  const lower = text.match(/[a-z]+/g) ?? [];
  return lower.length > 0 && lower.join('').length / lower.length < 3;
}

/**
 * Random text rather than words, host names or hex ids: both cases, and digits or short lower-case runs.
 * (Lower-case names and hex ids lack a case; CamelCase words have long lower-case runs.)
 */
function random(text: string): boolean {
  return /[A-Z]/.test(text) && /[a-z]/.test(text) && (/[0-9]/.test(text) || shortLowerRuns(text));
}

/**
 * Whether a long run of base64-alphabet characters is (probably) key material rather than a path. Paths
 * are `/`-separated words (`/var/lib/acm-export/certs/site`); base64 has at most a few `/`, and the pieces
 * between them are random text.
 */
function looksLikeKeyMaterial(run: string): boolean {
  if (!random(run)) return false;
  if (decodesAsDer(run)) return true;
  if ((run.match(/\//g) ?? []).length <= 2) return true; // 40+ random characters, at most a couple of '/'
  // A PEM body line: 64 base64 characters, however many of them happen to be '/'.
  if (run.length === 64 && /^[A-Za-z0-9+/]+={0,2}$/.test(run)) return true;
  // Otherwise base64 only if most of its characters sit in random (not word-like) pieces.
  const segments = run.split('/').filter((segment) => segment.length > 0);
  const randomChars = segments
    .filter((segment) => segment.length >= 4 && random(segment) && shortLowerRuns(segment))
    .reduce((sum, segment) => sum + segment.length, 0);
  return run.length >= 60 && randomChars * 2 > segments.reduce((sum, segment) => sum + segment.length, 0);
}

/** PEM armour, or a run of base64 without path structure (a passphrase, a PEM body line, a DER blob). */
export function looksLikeSecret(line: string): boolean {
  if (PEM_ARMOUR.test(line)) return true;
  return (line.match(LONG_RUN) ?? []).some(looksLikeKeyMaterial);
}

/** One safe, short line: control characters removed, anything key-like withheld, at most 200 characters. */
export function safeLine(text: string | undefined): string {
  const lines = (text ?? '')
    .split(/\r?\n/)
    .map((l) => l.replace(/\p{Cc}/gu, ' ').trim())
    .filter((l) => l.length > 0);
  const last = lines[lines.length - 1] ?? '';
  if (looksLikeSecret(last)) return '(output withheld: it looks like key or certificate material)';
  return last.length > 200 ? `${last.slice(0, 197)}...` : last;
}

async function failedInvocations(ssm: SSMClient, commandId: string, wanted: number): Promise<NodeFailure[]> {
  const seen = new Map<string, NodeFailure>();
  for (const status of FAILURE_STATUSES) {
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
        const plugin = (inv.CommandPlugins ?? []).find((p) => p.Status && p.Status !== 'Success') ?? inv.CommandPlugins?.[0];
        const line = safeLine(plugin?.Output) || safeLine(plugin?.StatusDetails) || safeLine(inv.StatusDetails) || status;
        seen.set(inv.InstanceId, { instanceId: inv.InstanceId, status: inv.StatusDetails ?? inv.Status ?? status, line });
        if (seen.size >= MAX_FAILURE_LINES) return [...seen.values()];
      }
      token = page.NextToken;
    } while (token);
    if (wanted > 0 && seen.size >= wanted) break;
  }
  return [...seen.values()];
}

function counts(command: Command): Pick<PollState, 'targetCount' | 'completedCount' | 'errorCount' | 'deliveryTimedOutCount'> {
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
      : { status: 'Failed', reason: 'the install command is not known to Systems Manager (ListCommands returned nothing)' };
  }
  const c = counts(command);
  const terminal = TERMINAL_STATUS.has(command.Status ?? '') || TERMINAL_DETAILS.has(command.StatusDetails ?? '');
  if (!terminal) return { status: 'InProgress' };
  if (c.targetCount === 0) return { status: 'Failed', reason: `no managed node matches tag ${tag}` };
  const bad = (c.errorCount ?? 0) + (c.deliveryTimedOutCount ?? 0);
  if (command.Status === 'Success' && bad === 0 && (c.completedCount ?? 0) >= (c.targetCount ?? 0)) {
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
  const verdict = decide(command, attempt, tag);
  const c = command ? counts(command) : {};

  if (verdict.status === 'InProgress') {
    return { status: 'InProgress', attempt, waitSeconds: pollWaitSeconds(attempt), ...c };
  }

  let failures: NodeFailure[] = [];
  if (verdict.status === 'Failed' && command && (c.targetCount ?? 0) > 0) {
    failures = await failedInvocations(deps.ssm, request.commandId, (c.errorCount ?? 0) + (c.deliveryTimedOutCount ?? 0));
  }
  const key = { certificateArn: i.CertificateArn, target: targetKey(i.TargetTagKey, i.TargetTagValue) };
  const owned = await recordDeployOutcome(deps, key, request.executionArn, { status: verdict.status, at: now().toISOString() });
  if (!owned) log('a newer export owns this target; its inventory status was left alone');

  const state: PollState = { status: verdict.status, attempt, waitSeconds: 0, ...c };
  if (verdict.status === 'Failed') {
    state.failures = failures;
    state.reason = verdict.reason;
  }
  return state;
}
