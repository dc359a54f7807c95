/**
 * Response bodies of the export API (deployed API Gateway and local mode alike), shared by the
 * export-api Lambda and the CLI. Identifiers, dates and counts only.
 */

/** `POST /exports` → 200. `exportId` is the Step Functions execution name. */
export interface StartExportResponse {
  exportId: string;
  executionArn: string;
  /**
   * When the export was accepted. The deployed API answers POST /exports with a mapping template (no
   * Lambda), which cannot format dates: there it is the API request time in epoch milliseconds as a decimal
   * string (e.g. "1795452830752"). Clients accept both forms: `/^\d+$/.test(s) ? new Date(Number(s)) : new Date(s)`.
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
  /** Failed only: one short line per failed node, and the error name/cause of the execution. */
  failures: { instanceId: string; status: string; line: string }[];
  error?: { name: string; message: string };
}

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
  lastExecutionArn: string;
  certDir: string;
  keyDir: string;
  service: string;
  verifyPort: number;
  maxConcurrency: string;
  maxErrors: string;
}

/** `GET /certificates?expiringWithinDays=N&limit=N&nextToken=T` → 200. */
export interface ListCertificatesResponse {
  items: CertificateTargetView[];
  nextToken?: string;
}
