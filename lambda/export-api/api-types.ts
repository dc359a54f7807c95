/**
 * Response bodies of the export API (deployed API Gateway and local mode alike), shared by the
 * export-api Lambda and the CLI. Identifiers, dates and counts only.
 */
import type { NodeOutcomes } from '../shared/contract';
import type { SecretDeletion } from '../shared/target-secret';

/** `POST /exports` → 200. `exportId` is the Step Functions execution name. */
export interface StartExportResponse {
  exportId: string;
  executionArn: string;
  /**
   * When the execution started, ISO 8601 in UTC (e.g. "2026-12-01T10:00:00.123Z"), from StartExecution.
   * Deployments from before POST /exports went through the export-api function answered with epoch
   * milliseconds as a decimal string; clients still accept both: `/^\d+$/.test(s) ? new Date(Number(s)) : new Date(s)`.
   */
  startDate: string;
}

/** Error body of every 4xx/5xx: one line naming the field and the rule, or what went wrong. */
export interface ErrorResponse {
  message: string;
}

export type ExportPhase = 'Exporting' | 'Installing' | 'Polling' | 'Succeeded' | 'Failed' | 'DryRun' | 'Superseded';

/** `GET /exports/{exportId}` → 200. */
export interface ExportStatusResponse {
  exportId: string;
  executionArn: string;
  /** Step Functions execution status. */
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'PENDING_REDRIVE';
  phase: ExportPhase;
  startDate: string;
  stopDate?: string;
  /** When each phase was entered (ISO-8601). */
  phases: Partial<Record<'exportStarted' | 'installStarted' | 'pollingStarted' | 'finished', string>>;
  certificateArn?: string;
  certName?: string;
  target?: string;
  serial?: string;
  notAfter?: string;
  commandId?: string;
  nodes: { total: number; completed: number; failed: number };
  /**
   * Once the install command ended: what each node that ran it reported. An export is installed only on
   * `installed + unchanged` nodes; a skipped node kept the certificate it had (e.g. a newer one).
   */
  outcomes?: NodeOutcomesView;
  /** Failed only: one short line per failed node (with the install step that failed, when known). */
  failures: { instanceId: string; status: string; step?: string; line: string }[];
  /** DryRun only: the managed nodes the export would install on. */
  dryRunNodeIds?: string[];
  error?: { name: string; message: string };
}

/**
 * `GET /certificates/{certificateArn}/targets/{target}/removal` → 200: how the removal of the target's files
 * stands. One check of the remove run per request; `Removed` means every node removed the files and the
 * inventory item was deleted by this request. 404 when the target is not in the inventory (already removed,
 * or never added), 409 when it is not being removed.
 */
export interface TargetRemovalResponse {
  certificateArn: string;
  target: string;
  status: 'Removing' | 'RemovalFailed' | 'Removed';
  requestedAt: string;
  commandId?: string;
  /** The remove run's node counts, when it is known to Systems Manager. */
  nodes?: { total: number; completed: number; failed: number };
  /** RemovalFailed: one line per node that did not remove the files, or why the run was not sent. */
  failures: string[];
  /**
   * Once every node removed the files: the target's secret, scheduled for deletion before the item is
   * deleted. When that fails the status stays `Removing` and the next request tries again.
   */
  secretDeletion?: SecretDeletion;
}

/**
 * Per-node outcome counts of an export's install command, and one line per node that skipped (at most 50):
 * the workflow's tally (contract.ts), sanitised by GET /exports/{id}.
 */
export type NodeOutcomesView = NodeOutcomes;

/** One inventory row in `GET /certificates`. */
export interface CertificateTargetView {
  certificateArn: string;
  certName: string;
  target: string;
  targetTagKey: string;
  targetTagValue: string;
  lastSerial: string;
  certExpiryDate: string;
  daysToExpiry: number;
  lastExportedDate: string;
  lastDeployStatus?: string;
  lastDeployedDate?: string;
  /** `association`: the workflow's Failed became Succeeded when every node caught up through the install association. */
  lastDeploySource?: 'association';
  /** Failed only: the execution failed, timed out or was aborted during the install (what it reported). */
  lastDeployFailure?: string;
  /** Present while the target's files are being removed (`Removing`) or some node kept them (`RemovalFailed`). */
  removalStatus?: 'Removing' | 'RemovalFailed';
  removalRequestedAt?: string;
  removalCommandId?: string;
  /** RemovalFailed: one line per node that kept the files. */
  removalFailures?: string[];
  lastExecutionArn: string;
  certDir: string;
  keyDir: string;
  service: string;
  verifyPort: number;
  maxConcurrency: string;
  maxErrors: string;
  /** Output profile (this API fills in the defaults; optional for clients of older deployments). */
  keyOwner?: string;
  keyGroup?: string;
  keyMode?: string;
  certOwner?: string;
  certGroup?: string;
  certMode?: string;
  pkcs12?: boolean;
  combinedPem?: boolean;
  /** Schedule of the target's convergence association, and its id once the workflow created it. */
  convergenceSchedule?: string;
  associationId?: string;
  /** Id of the target's report association (report document, on the stack's drift-report schedule). */
  reportAssociationId?: string;
  /** Only with `?nodes=true`: what each node reported (custom SSM Inventory), and the drift summary. */
  nodes?: NodeView[];
  nodesInSync?: number;
  nodesDrifting?: number;
}

/** One node's report for a target (`GET /certificates?nodes=true`). No secrets: serials and dates. */
export interface NodeView {
  nodeId: string;
  /** Serial of the installed files (OpenSSL form: upper-case hex). */
  serial: string;
  /** Serial served on the verify port at the node's last run; empty when not checked. */
  servedSerial: string;
  notAfter: string;
  verified: boolean;
  installedAt: string;
  /**
   * installed | unchanged | skipped (an older version arrived late, or an association run's stage moved on while it
   * waited for another run) | failed (then failedStep names the step).
   */
  lastRun: string;
  failedStep?: string;
  lastRunAt: string;
  /**
   * When the node last looked at its files and what it serves (its last install or report run); absent
   * when its install document predates report runs.
   */
  checkedAt?: string;
  /** Only when its files are not a consistent set: one line (a missing file, a key that does not match). */
  problem?: string;
  secretVersionId: string;
  /** When the SSM Agent collected the report. */
  capturedAt: string;
  /** Whether what it serves and what its files hold are the target's lastSerial, with no problem. */
  inSync: boolean;
}

/** `GET /certificates?expiringWithinDays=N&limit=N&nextToken=T&nodes=true` → 200. */
export interface ListCertificatesResponse {
  items: CertificateTargetView[];
  nextToken?: string;
}

/**
 * What `DELETE ...?removeFiles=true` did about the installed files. The removal runs asynchronously on the
 * nodes: follow it by its command id (`aws ssm list-command-invocations --command-id <id> --details`) or in
 * the Run Command output log group.
 */
export type FilesRemoval =
  | {
      /** removeFiles was not true: the installed files stay on the nodes. */
      requested: false;
    }
  | {
      requested: true;
      /** The remove run (remove document) was sent to the target's tag. */
      status: 'Sent';
      commandId: string;
      /** CloudWatch log group that receives each node's output of the run. */
      logGroupName: string;
      /**
       * `GET` this path (`/certificates/{certificateArn}/targets/{target}/removal`) to learn the outcome: it
       * deletes the inventory item once every node removed the files. Absent from older deployments.
       */
      statusPath?: string;
    };

/**
 * `DELETE /certificates/{certificateArn}/targets/{target}[?removeFiles=true|false]` → 200 (404 when neither
 * the inventory item nor an association exists; with removeFiles=true, 404 whenever the inventory item is
 * missing, because only the item says which files were installed).
 */
export interface DeleteTargetResponse {
  certificateArn: string;
  target: string;
  /** Without removeFiles=true: the item was found and deleted. With it: always false (see removalStatus). */
  inventoryItemDeleted: boolean;
  /**
   * removeFiles=true: the item stays, marked `Removing`, until `filesRemoval.statusPath` sees every node
   * remove the files (then it deletes the item). Absent without removeFiles=true and from older deployments.
   */
  removalStatus?: 'Removing';
  /** The install (convergence) association was found and deleted. */
  associationDeleted: boolean;
  /** The report association (report document) was found and deleted. */
  reportAssociationDeleted: boolean;
  filesRemoval: FilesRemoval;
  /**
   * The target's secret (it holds the private key): scheduled for deletion with a recovery window of
   * `recoveryWindowDays` (restorable until `deletionDate`), or why not (no secret; removeFiles=true: not
   * before the nodes confirmed the removal; or the call failed: repeat the DELETE). Absent from older deployments.
   */
  secretDeletion?: SecretDeletion;
}
