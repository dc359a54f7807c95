import type { FaultSpec } from './faults';

/** How local mode starts (argument of `startLocalMode`). */
export interface LocalModeOptions {
  /** Port of the local API (default: a free port). */
  port?: number;
  /** Number of local nodes (default 3). */
  nodes?: number;
  /** Tags of every node (default Role=web). */
  tags?: Record<string, string>;
  /** File stem the nodes' HTTPS servers serve (default `site`): export with this CertName to see it served. */
  certName?: string;
  /** Persist everything (CA, certificates, secrets, inventory, nodes) here; a temporary directory when omitted. */
  stateDir?: string;
  /**
   * `auto`: nginx when installed, else the built-in HTTPS server (an error instead when
   * ACM_EXPORT_LOCAL_NGINX=required, as in the tests); `never`: always the built-in one.
   */
  nginx?: 'auto' | 'never';
  /** Real milliseconds per second of the workflow's waits and retry intervals (default 50). */
  waitScale?: number;
  /** Real milliseconds per emulated second of SSM timeouts (default 50). */
  ssmMsPerSecond?: number;
  /**
   * Real milliseconds per emulated second of the associations' schedules (default: ssmMsPerSecond; at 50 an
   * install association's rate(12 hours) runs every 36 minutes and a report association's rate(1 hour) every 3
   * minutes; {@link LocalMode.runAssociations} runs them at once).
   */
  associationMsPerSecond?: number;
  /** The workflow's SendCommand delivery timeout (COMMAND_TIMEOUT_SECONDS, 30..2592000; default the stack's). */
  commandTimeoutSeconds?: number;
  /** DRIFT_GRACE_MINUTES of the drift check (default 0: targets are checked right after an export). */
  driftGraceMinutes?: number;
  /** Run the drift check every N real milliseconds (the stack runs it hourly); off when omitted. */
  driftCheckIntervalMs?: number;
  /** Fault switches (default: the ACM_EXPORT_LOCAL_* environment variables). */
  faults?: FaultSpec;
  /** Use this synthesized template instead of building the stack in-process. */
  templateFile?: string;
  /**
   * Also write the endpoint file here (besides `<root>/endpoint.json`), e.g. a per-user file that
   * `acm-export local renew` reads; removed on close while it still names this instance.
   */
  endpointFile?: string;
}
