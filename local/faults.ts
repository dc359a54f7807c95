/**
 * Fault switches of local mode, settable from the environment (read once at start) or programmatically.
 *
 *   ACM_EXPORT_LOCAL_THROTTLE         "ExportCertificate=2,ssm:SendCommand=1"  next N calls → ThrottlingException
 *   ACM_EXPORT_LOCAL_NOT_EXPORTABLE   "app.example.test,..."  certificates for these domains (or ARNs) are not exportable
 *   ACM_EXPORT_LOCAL_PENDING          "app.example.test,..."  certificates for these domains (or ARNs) stay PENDING_VALIDATION
 *   ACM_EXPORT_LOCAL_FAIL_INSTALL     "node-2,..."            the install on these nodes fails (a failing hook)
 *   ACM_EXPORT_LOCAL_FAIL_CONFIG_TEST "node-2,..."            the node's service config test fails (broken nginx config)
 *   ACM_EXPORT_LOCAL_DELAY_NODE       "node-2=1500,..."       the node sleeps N ms before running a command; the sleep
 *                                                             counts against the step's execution timeout (→ TimedOut)
 *   ACM_EXPORT_LOCAL_OFFLINE          "node-3,..."            the node never picks up commands (→ DeliveryTimedOut)
 *   ACM_EXPORT_LOCAL_STALE_RELOAD     "node-2,..."            the node's reload succeeds but its HTTPS server keeps
 *                                                             serving the certificate it had (→ verify mismatch)
 *   ACM_EXPORT_LOCAL_FAIL_CALL        "secretsmanager:PutSecretValue=1,..."  next N calls fail with a non-retryable
 *                                                             service error (see {@link failureFor})
 *   ACM_EXPORT_LOCAL_OUTCOME          "node-2=Undeliverable,..."  Run Command invocations on the node end at once
 *                                                             with this outcome, the script not run (see {@link FORCED_OUTCOMES})
 *   ACM_EXPORT_LOCAL_AGENT_VERSION    "node-2=3.2.582.0,..."  the SSM Agent version the node reports; older than
 *                                                             3.3.2746.0 → its steps get no SSM_<Name> variables
 *   ACM_EXPORT_LOCAL_SECRET_DENIED    "node-2,..."            the node's `aws` gets AccessDeniedException for every
 *                                                             secret (a node role without the node policy)
 * Nodes are named by local name (node-1...) or managed node id (mi-...).
 */
/**
 * Terminal non-success outcomes a node's invocations can be forced to, with what SSM reports for each: the
 * invocation Status (CommandInvocationStatus has no Undeliverable, Terminated, InvalidPlatform or
 * AccessDenied, so those ride on Failed, or Cancelled for the system-cancelled Terminated) and StatusDetails.
 */
export const FORCED_OUTCOMES = {
  Failed: { status: 'Failed', statusDetails: 'Failed' },
  ExecutionTimedOut: { status: 'TimedOut', statusDetails: 'Execution Timed Out' },
  DeliveryTimedOut: { status: 'TimedOut', statusDetails: 'Delivery Timed Out' },
  Cancelled: { status: 'Cancelled', statusDetails: 'Cancelled' },
  Undeliverable: { status: 'Failed', statusDetails: 'Undeliverable' },
  Terminated: { status: 'Cancelled', statusDetails: 'Terminated' },
  InvalidPlatform: { status: 'Failed', statusDetails: 'InvalidPlatform' },
  AccessDenied: { status: 'Failed', statusDetails: 'AccessDenied' },
} as const;

export type ForcedOutcome = keyof typeof FORCED_OUTCOMES;

export function isForcedOutcome(value: string): value is ForcedOutcome {
  return Object.prototype.hasOwnProperty.call(FORCED_OUTCOMES, value);
}

export interface NodeFaults {
  failInstall?: boolean;
  failConfigTest?: boolean;
  delayMs?: number;
  offline?: boolean;
  /** Reload is acknowledged but the HTTPS server keeps serving what it served before. */
  staleReload?: boolean;
  /** Every Run Command invocation on the node ends at once with this outcome, without running the script. */
  outcome?: ForcedOutcome;
  /** SSM Agent version the node reports (default the emulator's, 3.3.2746.0). */
  agentVersion?: string;
  /** Every GetSecretValue of the node is denied (AccessDeniedException). */
  secretDenied?: boolean;
}

export interface FaultSpec {
  throttle: Record<string, number>;
  notExportable: string[];
  pending: string[];
  nodes: Record<string, NodeFaults>;
  /** Next N calls of an operation (`Op` or `service:Op`) fail with a non-retryable service error. */
  fail?: Record<string, number>;
}

export const FAULT_ENV = {
  throttle: 'ACM_EXPORT_LOCAL_THROTTLE',
  notExportable: 'ACM_EXPORT_LOCAL_NOT_EXPORTABLE',
  pending: 'ACM_EXPORT_LOCAL_PENDING',
  failInstall: 'ACM_EXPORT_LOCAL_FAIL_INSTALL',
  failConfigTest: 'ACM_EXPORT_LOCAL_FAIL_CONFIG_TEST',
  delayNode: 'ACM_EXPORT_LOCAL_DELAY_NODE',
  offline: 'ACM_EXPORT_LOCAL_OFFLINE',
  staleReload: 'ACM_EXPORT_LOCAL_STALE_RELOAD',
  failCall: 'ACM_EXPORT_LOCAL_FAIL_CALL',
  outcome: 'ACM_EXPORT_LOCAL_OUTCOME',
  agentVersion: 'ACM_EXPORT_LOCAL_AGENT_VERSION',
  secretDenied: 'ACM_EXPORT_LOCAL_SECRET_DENIED',
} as const;

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function pairs(value: string | undefined, name: string): [string, number][] {
  return list(value).map((item) => {
    const at = item.lastIndexOf('=');
    const n = Number(item.slice(at + 1));
    if (at <= 0 || !Number.isInteger(n) || n < 0) throw new Error(`${name}: expected NAME=NUMBER items, got "${item}"`);
    return [item.slice(0, at), n];
  });
}

export function faultsFromEnv(env: NodeJS.ProcessEnv = process.env): FaultSpec {
  const spec: FaultSpec = {
    throttle: Object.fromEntries(pairs(env[FAULT_ENV.throttle], FAULT_ENV.throttle)),
    notExportable: list(env[FAULT_ENV.notExportable]),
    pending: list(env[FAULT_ENV.pending]),
    nodes: {},
  };
  const node = (name: string): NodeFaults => (spec.nodes[name] ??= {});
  for (const n of list(env[FAULT_ENV.failInstall])) node(n).failInstall = true;
  for (const n of list(env[FAULT_ENV.failConfigTest])) node(n).failConfigTest = true;
  for (const n of list(env[FAULT_ENV.offline])) node(n).offline = true;
  for (const [n, ms] of pairs(env[FAULT_ENV.delayNode], FAULT_ENV.delayNode)) node(n).delayMs = ms;
  for (const n of list(env[FAULT_ENV.staleReload])) node(n).staleReload = true;
  for (const item of list(env[FAULT_ENV.outcome])) {
    const at = item.lastIndexOf('=');
    const outcome = item.slice(at + 1);
    if (at <= 0 || !isForcedOutcome(outcome)) {
      throw new Error(
        `${FAULT_ENV.outcome}: expected NODE=OUTCOME items (OUTCOME one of ${Object.keys(FORCED_OUTCOMES).join(', ')}), got "${item}"`,
      );
    }
    node(item.slice(0, at)).outcome = outcome;
  }
  for (const n of list(env[FAULT_ENV.secretDenied])) node(n).secretDenied = true;
  for (const item of list(env[FAULT_ENV.agentVersion])) {
    const at = item.lastIndexOf('=');
    if (at <= 0 || !/^\d+(\.\d+){1,3}$/.test(item.slice(at + 1)))
      throw new Error(`${FAULT_ENV.agentVersion}: expected NAME=VERSION items, got "${item}"`);
    node(item.slice(0, at)).agentVersion = item.slice(at + 1);
  }
  const fail = pairs(env[FAULT_ENV.failCall], FAULT_ENV.failCall);
  if (fail.length) spec.fail = Object.fromEntries(fail);
  return spec;
}

/** Throttling switch shared by all emulated services: `throttle('ExportCertificate', 2)`. */
export class Throttles {
  private readonly remaining = new Map<string, number>();

  /** `operation` is `Op` (any service) or `service:Op` with service acm|secretsmanager|ssm. */
  throttle(operation: string, count: number): void {
    if (count <= 0) this.remaining.delete(operation);
    else this.remaining.set(operation, count);
  }

  clear(): void {
    this.remaining.clear();
  }

  /** Armed calls not consumed yet, by operation key (tests check a switch took effect). */
  armed(): Record<string, number> {
    return Object.fromEntries(this.remaining);
  }

  /** Consumes one throttle for this call, if any is armed. */
  take(service: string, operation: string): boolean {
    for (const key of [`${service}:${operation}`, operation]) {
      const n = this.remaining.get(key);
      if (n !== undefined && n > 0) {
        if (n === 1) this.remaining.delete(key);
        else this.remaining.set(key, n - 1);
        return true;
      }
    }
    return false;
  }
}

/**
 * The error a failing call answers with: what the service returns when the call cannot be served and a
 * retry would not help (Secrets Manager: the KMS key cannot encrypt the value; others: a 400 validation
 * error), so neither the SDK nor the workflow retries it.
 */
export function failureFor(service: string): { type: string; message: string; statusCode: number } {
  if (service === 'secretsmanager')
    return {
      type: 'EncryptionFailure',
      message:
        "Secrets Manager can't encrypt the protected secret text using the provided KMS key (local fault switch).",
      statusCode: 400,
    };
  return { type: 'ValidationException', message: 'The request failed (local fault switch).', statusCode: 400 };
}
