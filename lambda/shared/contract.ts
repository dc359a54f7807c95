/**
 * The contract between the CDK stack, the state machine and the Lambda handlers: environment variable
 * names, state names, task payloads and results, and the inventory item. Workflow state holds
 * identifiers only (ARNs, version ids, serials, dates, counts), never key material.
 */
import type { StoredOptions } from './fields';
import type { ResolvedExportRequest } from './schemas';

/** Environment variables the stack sets on the functions. */
export const ENV = {
  TABLE_NAME: 'TABLE_NAME',
  /** Secrets are created under `<prefix>/...`; the node policy is scoped to that prefix. */
  SECRET_NAME_PREFIX: 'SECRET_NAME_PREFIX',
  /** KMS key (ARN) that encrypts the certificate secrets. */
  SECRET_KMS_KEY_ID: 'SECRET_KMS_KEY_ID',
  /** Name of the install SSM document (pushes, install associations). */
  DOCUMENT_NAME: 'DOCUMENT_NAME',
  /** The report document (report associations). */
  REPORT_DOCUMENT_NAME: 'REPORT_DOCUMENT_NAME',
  /** The remove document (DELETE .../targets/...?removeFiles=true). */
  REMOVE_DOCUMENT_NAME: 'REMOVE_DOCUMENT_NAME',
  /** CloudWatch log group that receives Run Command output. */
  COMMAND_LOG_GROUP: 'COMMAND_LOG_GROUP',
  /** SendCommand delivery timeout (seconds). */
  COMMAND_TIMEOUT_SECONDS: 'COMMAND_TIMEOUT_SECONDS',
  STATE_MACHINE_ARN: 'STATE_MACHINE_ARN',
  /** Default schedule of the convergence associations (a rate expression; FIELD_RULES.ConvergenceSchedule). */
  CONVERGENCE_SCHEDULE: 'CONVERGENCE_SCHEDULE',
  /** Schedule of the report associations (report document; a rate expression; FIELD_RULES.ConvergenceSchedule). */
  DRIFT_REPORT_SCHEDULE: 'DRIFT_REPORT_SCHEDULE',
  /** SNS topic of the drift alerts. */
  ALERT_TOPIC_ARN: 'ALERT_TOPIC_ARN',
  /** Minutes after an export during which its target is not checked for drift (rollout in progress). */
  DRIFT_GRACE_MINUTES: 'DRIFT_GRACE_MINUTES',
  /** Key placement policy (JSON of PlacementPolicy): the API refuses, and renewals skip, targets outside it. */
  PLACEMENT_POLICY: 'PLACEMENT_POLICY',
  /** Name of the stack: the value of the ASSOCIATION_STACK_TAG the workflow puts on its associations. */
  STACK_NAME: 'STACK_NAME',
  /** Tag key and value a certificate must carry to be exported (see lambda/shared/export-opt-in.ts). */
  EXPORT_TAG_KEY: 'EXPORT_TAG_KEY',
  EXPORT_TAG_VALUE: 'EXPORT_TAG_VALUE',
  /** "true": any exportable certificate may be exported, tagged or not; "false": only tagged ones. */
  EXPORT_ANY_CERTIFICATE: 'EXPORT_ANY_CERTIFICATE',
} as const;

/** State names of the export workflow (local mode and tests address states by these names). */
export const STATES = {
  findNodes: 'find-nodes',
  afterFindNodes: 'ExportNeeded?',
  exportCertificate: 'acm-export',
  installOnNodes: 'ssm-run',
  afterInstall: 'InstallStarted?',
  initPoll: 'InitPoll',
  /**
   * The poll path's Wait (status-check's growing wait). Not in the deployed definition since the event path:
   * the bench renders a poll-path variant with it, and histories of executions started before still name it.
   */
  waitForNodes: 'WaitForNodes',
  checkInstall: 'status-check',
  /** Task (`.waitForTaskToken`): stores the token, checks the command once; its event completes the token. */
  awaitCommand: 'await-command',
  pollResult: 'InstallFinished?',
  notifyFailure: 'NotifyFailure',
  failed: 'ExportFailed',
  succeeded: 'ExportSucceeded',
  dryRunDone: 'DryRunDone',
  superseded: 'Superseded',
  /** Pass states that set `$.error` before NotifyFailure when a Choice (which cannot Catch) finds a failure. */
  recordInstallFailure: 'RecordInstallFailure',
  recordUnexpectedOutcome: 'RecordUnexpectedOutcome',
  recordUnexpectedNodes: 'RecordUnexpectedNodes',
  recordUnexpectedPoll: 'RecordUnexpectedPoll',
} as const;

/** Execution input: the API body (or the stored target options, for a renewal). */
export type WorkflowInput = ResolvedExportRequest | Record<string, unknown>;

/** Result of find-nodes, stored at `$.nodes`: `DryRun` ends the workflow before anything is exported. */
export interface NodesTaskResult {
  outcome: 'Export' | 'DryRun';
  /** Managed nodes that carry the target tag (at least one: none fails the task with NoMatchingNodes). */
  targetCount: number;
  /** DryRun only: the ids of the matching managed nodes. */
  nodeIds?: string[];
}

/** Payload of the acm-export task. */
export interface ExportTaskPayload {
  input: unknown;
  executionArn: string;
}

/** Result of acm-export, stored at `$.export`. */
export interface ExportTaskResult {
  secretArn: string;
  secretVersionId: string;
  serial: string;
  notAfter: string;
  keyAlgorithm: string;
  domainNames: string[];
}

/** Payload of the ssm-run task. */
export interface InstallTaskPayload {
  input: unknown;
  export: ExportTaskResult;
  executionArn: string;
  executionStartTime: string;
}

/** Result of ssm-run, stored at `$.install`. */
export interface InstallTaskResult {
  /** `Sent` when a command went out; `Superseded` ends the workflow without installing (DryRun ends at find-nodes). */
  outcome: 'Sent' | 'Superseded';
  commandId?: string;
  /** Nodes the command targets. */
  targetCount: number;
  /** Superseded only: the newer execution that already owns the inventory item. */
  supersededBy?: string;
  /** Sent only: the target's convergence association (created or updated by this task). */
  associationId?: string;
  /** Sent only: why the association could not be created or updated (the push went out anyway). */
  associationError?: string;
  /** Sent only: the target's report association (report document; created or updated by this task). */
  reportAssociationId?: string;
  /** Sent only: why the report association could not be created or updated (the push went out anyway). */
  reportAssociationError?: string;
}

/** Status-poll state, stored at `$.poll`. */
export interface PollState {
  status: 'InProgress' | 'Succeeded' | 'Failed';
  attempt: number;
  /** Seconds the next Wait state waits (grows with each attempt, capped). */
  waitSeconds: number;
  targetCount?: number;
  completedCount?: number;
  errorCount?: number;
  deliveryTimedOutCount?: number;
  /** Terminal polls: what the nodes that ran the install reported in their result lines (bounded, no secrets). */
  outcomes?: NodeOutcomes;
  /** Failed only: one short line per failed node (no secrets). */
  failures?: NodeFailure[];
  /** Failed only: a one-line summary used in the alert. */
  reason?: string;
  /** Failed only: the alert's text, the summary then one line per failed node (see nodeFailureLine). */
  report?: string;
}

/**
 * The per-node tally of one install command, from each node's result line (the JSON line the install script
 * prints). Counts cover every node; the lines are bounded like the failures (MAX_NODE_LINES).
 */
export interface NodeOutcomes {
  /** Nodes that wrote the new files (changed: true). */
  installed: number;
  /** Nodes that already held exactly this version (nothing written, nothing reloaded). */
  unchanged: number;
  /** Nodes that refused this version (e.g. it is older than the installed certificate): not installed there. */
  skipped: number;
  /** Nodes whose command succeeded but whose output held no readable result line. */
  unreported: number;
  /** Web server reloaded → number of nodes (`{ nginx: 3 }`). */
  reloaded: Record<string, number>;
  /** Nodes where Service=auto found no running web server: files installed, nothing reloaded. */
  noWebServer: number;
  /** One line per node that skipped (the first MAX_NODE_LINES). */
  skips: NodeSkip[];
}

export interface NodeSkip {
  instanceId: string;
  /** The node's own reason, e.g. `older than installed`. */
  reason: string;
  /** What the node holds instead (serial as OpenSSL prints it, notAfter ISO-8601), when it said. */
  installedSerial?: string;
  installedNotAfter?: string;
}

/** At most this many node lines (failures, skips) travel in the workflow state and the API. */
export const MAX_NODE_LINES = 50;

/** `i-0abc: skipped (the node holds a newer certificate: serial 0A1B, not after 2027-03-01T00:00:00Z)`. */
export function nodeSkipLine(skip: NodeSkip): string {
  return `${skip.instanceId}: skipped (${skipExplanation(skip)})`;
}

/** What a skip means, in plain words: `the node holds a newer certificate (serial 0A1B, not after ...)`. */
export function skipExplanation(skip: Omit<NodeSkip, 'instanceId'>): string {
  const held = [
    skip.installedSerial ? `serial ${skip.installedSerial}` : '',
    skip.installedNotAfter ? `not after ${skip.installedNotAfter}` : '',
  ].filter(Boolean);
  const what = skip.reason === 'older than installed' ? 'the node holds a newer certificate' : skip.reason;
  return held.length ? `${what} (${held.join(', ')})` : what;
}

export interface NodeFailure {
  instanceId: string;
  /** The invocation's outcome (its StatusDetails): Failed, Undeliverable, Delivery Timed Out... */
  status: string;
  /** The install step that failed on the node (configtest, reload, ...), when its output names it. */
  step?: string;
  /** What that outcome means for the node, then (for a failed run) the last line of its output. */
  line: string;
}

/** The one line a node gets in the status and the alert: `mi-0abc: Undeliverable (the node is not reachable by SSM)`. */
export function nodeFailureLine(failure: NodeFailure): string {
  return `${failure.instanceId}: ${failure.status} (${failure.line})`;
}

/** Payload of the status-check task. */
export interface StatusTaskPayload {
  input: unknown;
  export: ExportTaskResult;
  install: InstallTaskResult;
  poll: PollState;
  executionArn: string;
  executionStartTime: string;
}

/** The first poll state (set by a Pass state before the first wait). */
export const INITIAL_POLL: PollState = { status: 'InProgress', attempt: 0, waitSeconds: 2 };

/**
 * Polling backoff: first wait, growth factor, cap (seconds): waits 2, 4, 8, 10, 10, ... The workflow waits
 * for the command's status-change event; status-check's poll state (and this backoff) serve the fallback
 * check after a wait times out, and the poll path the benchmarks render for comparison. The cap decides
 * how late a longer rollout is seen. With 10 s, completion is detected 4.9 s after the last node finishes
 * on average (finish uniform in (0, 300] s), against 7.45 s for a fixed 15-s loop and 14 s with a 30-s cap.
 * Trade-off: long rollouts poll more often than the 15-s loop (3 state transitions per poll at $0.000025
 * each, and one ListCommands call): a 300-s rollout takes 32 polls instead of 20, about $0.0009 more.
 */
export const POLL_BACKOFF = { firstSeconds: 2, factor: 2, capSeconds: 10 } as const;

/**
 * The event path's wait on a task token (await-command): how long it waits for the command's status-change
 * event before one status-check (the fallback when an event is late or lost), then it waits again with a
 * fresh token. Longer than most rollouts, so a rollout normally costs no fallback check at all; if events
 * are lost altogether, completion is seen at most this late.
 */
export const COMMAND_WAIT_TIMEOUT_SECONDS = 600;

/**
 * The stored task token of a command the workflow waits on: one inventory item per command, outside the
 * target items' key space (no `itemType`, so never in ByExpiry; its sort key is not a `Key=Value` target).
 * DynamoDB deletes it after `expiresAt` (epoch seconds) if nobody did first.
 */
export const COMMAND_WAIT = {
  partitionKeyPrefix: 'command-wait#',
  sortKey: 'task-token',
  ttlAttribute: 'expiresAt',
  /** Seconds the item outlives the wait's timeout. */
  ttlMarginSeconds: 600,
} as const;

/** Whole-execution timeout of the workflow (seconds). */
export const WORKFLOW_TIMEOUT_SECONDS = 3600;

/** DynamoDB inventory: one item per (certificate, target). */
export const INVENTORY = {
  partitionKey: 'certificateArn',
  sortKey: 'target',
  byTargetIndex: 'ByTarget',
  byExpiryIndex: 'ByExpiry',
  /** Constant partition of the ByExpiry index, so "all targets ordered by expiry" is a Query, not a Scan. */
  itemTypeAttribute: 'itemType',
  itemTypeValue: 'target',
  expiryAttribute: 'certExpiryDate',
} as const;

/** Sort key of a target: `<TagKey>=<TagValue>` (tag keys cannot contain "="). */
export function targetKey(tagKey: string, tagValue: string): string {
  return `${tagKey}=${tagValue}`;
}

export function parseTargetKey(target: string): { tagKey: string; tagValue: string } {
  const at = target.indexOf('=');
  if (at <= 0) throw new Error(`not a target key: ${target.slice(0, 80)}`);
  return { tagKey: target.slice(0, at), tagValue: target.slice(at + 1) };
}

export type RemovalStatus = 'Removing' | 'RemovalFailed';

/**
 * Options every item has had from the start; the output profile and the schedule came later (an item
 * written before them lacks them until read: itemFromStored fills in the defaults).
 */
type ItemOptions = Partial<StoredOptions> &
  Pick<
    StoredOptions,
    | 'CertName'
    | 'TargetTagKey'
    | 'TargetTagValue'
    | 'CertDir'
    | 'KeyDir'
    | 'Service'
    | 'VerifyPort'
    | 'MaxConcurrency'
    | 'MaxErrors'
  >;

/**
 * One target's item. Its options (CertName, CertDir, ..., ConvergenceSchedule: the registry's stored fields)
 * are stored under their API names; items written before that hold them under camelCase names, which the
 * inventory reads too (see itemFromStored in inventory.ts).
 */
export interface InventoryItem extends ItemOptions {
  certificateArn: string;
  target: string;
  itemType: 'target';
  certExpiryDate: string;
  lastExportedDate: string;
  /** Start time of the execution that last exported; an older execution never overwrites a newer one. */
  lastExportStartedAt: string;
  lastSerial: string;
  lastSecretArn: string;
  lastSecretVersionId: string;
  lastExecutionArn: string;
  lastDeployStatus?: 'InProgress' | 'Succeeded' | 'Failed';
  lastDeployedDate?: string;
  /**
   * `association`: lastDeployStatus was turned from Failed to Succeeded by the drift check, after every node
   * with the tag reported the current certificate (the install association caught up the nodes the push
   * missed); lastDeployedDate is then when that was seen. Absent when the workflow recorded the status.
   */
  lastDeploySource?: 'association';
  /**
   * Why lastDeployStatus is Failed when the execution could not record it itself: it failed, timed out or was
   * aborted while the install was in progress (recorded from the execution's status-change event).
   */
  lastDeployFailure?: string;
  /**
   * Set by `DELETE ...?removeFiles=true`: the associations are gone and the nodes were (or are being) sent
   * the remove run; the item stays until every node confirmed it. `RemovalFailed`: some node kept the files
   * (removalFailures says which and why) or the run could not be sent; repeating the DELETE sends it again.
   */
  removalStatus?: RemovalStatus;
  /** When the removal was requested (the newest DELETE); an export started before it does not revive the target. */
  removalRequestedAt?: string;
  /** The remove run's command id, once sent. */
  removalCommandId?: string;
  /** RemovalFailed only: one line per node that did not remove the files (no secrets). */
  removalFailures?: string[];
  /** Id of the target's State Manager association (set by the workflow). */
  associationId?: string;
  /** Id of the target's report association (report document, set by the workflow). */
  reportAssociationId?: string;
}

/** Tags put on every certificate secret: who it is for, for people and audits (access is granted by name). */
export const SECRET_TAGS = {
  certificateArn: 'acm-export:certificate-arn',
  targetTagKey: 'acm-export:target-tag-key',
  targetTagValue: 'acm-export:target-tag-value',
} as const;

/**
 * IAM tag an operator puts on a node role to name the one target whose secrets its nodes may read. Its value is
 * `targetHash(<TagKey>=<TagValue>)`, the last segment of those secrets' names; the node policy matches the secret
 * name (immutable, unlike secret tags) against it, in GetSecretValue and in the KMS decrypt's SecretARN context.
 */
export const NODE_ROLE_TARGET_TAG = 'acm-export:target-hash';

/**
 * Tag the workflow puts on each State Manager association it creates (and adds on update, for associations
 * created before the tag existed), valued with the stack's name: the export-api role may delete only
 * associations carrying it with this stack's name (SSM association ids are random, so a name pattern cannot).
 */
export const ASSOCIATION_STACK_TAG = 'acm-export:stack';
