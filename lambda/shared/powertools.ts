/**
 * One Logger, Metrics and Tracer per process, plus the wrapper every handler uses: correlation id,
 * identifier-only log keys, a subsegment per invocation when tracing is on, and a metrics flush per
 * invocation. Nothing secret is ever passed to these.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import type { Context } from 'aws-lambda';
import type { PollState } from './contract';
import { AcmExportError } from './errors';
import { mapStackTraces } from './stack-trace';

// In a deployed bundle, traces name our sources (lambda/<fn>/<file>.ts:line), mapped when one is formatted.
mapStackTraces(__filename);

const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'acm-export';

export const logger = new Logger({ serviceName });
export const metrics = new Metrics({ serviceName, namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'AcmExport' });

/**
 * Whether Powertools could enable tracing here: only inside Lambda (AWS_EXECUTION_ENV set) and unless
 * POWERTOOLS_TRACE_ENABLED is false. Elsewhere (tests, local mode) the Tracer is never loaded: the X-Ray SDK
 * behind it takes about 20 ms of a cold start.
 */
export function tracingMayBeOn(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.AWS_EXECUTION_ENV) && (env.POWERTOOLS_TRACE_ENABLED ?? '').toLowerCase() !== 'false';
}

function loadTracer(): Tracer | undefined {
  if (!tracingMayBeOn()) return undefined;
  // Loaded at init, as a static import would be, but only when tracing can be on.
  type TracerModule = typeof import('@aws-lambda-powertools/tracer');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Tracer: TracerClass } = require('@aws-lambda-powertools/tracer') as TracerModule;
  const created = new TracerClass({ serviceName });
  return created.isTracingEnabled() ? created : undefined;
}

const tracer = loadTracer();

/** The Tracer when X-Ray tracing is on (inside Lambda with active tracing), else undefined. */
export function activeTracer(): Tracer | undefined {
  return tracer;
}

/** Metric names published by the functions. */
export const METRIC = {
  exportsStarted: 'ExportsStarted',
  exportsSucceeded: 'ExportsSucceeded',
  /**
   * Failures a function sees (typed task errors, commands whose nodes failed). Timed-out, aborted and
   * crashed executions are not counted here: AWS/States ExecutionsFailed/TimedOut/Aborted count those.
   */
  exportsFailed: 'ExportsFailed',
  nodesUpdated: 'NodesUpdated',
  nodesFailed: 'NodesFailed',
  renewalsTriggered: 'RenewalsTriggered',
  renewalsIgnored: 'RenewalsIgnored',
  driftingNodes: 'DriftingNodes',
  driftingTargets: 'DriftingTargets',
  associationFailures: 'AssociationFailures',
} as const;

export function count(name: (typeof METRIC)[keyof typeof METRIC], value = 1): void {
  if (value > 0) metrics.addMetric(name, MetricUnit.Count, value);
}

/**
 * The metrics of an install's verdict (a PollState that is no longer InProgress), counted once per command by
 * whichever function decided it: status-check on the fallback path, await-command or command-events when they
 * completed the workflow's wait (a token that was already closed is not counted again).
 */
export function countInstallVerdict(state: PollState): void {
  if (state.status === 'InProgress') return;
  const failed = (state.errorCount ?? 0) + (state.deliveryTimedOutCount ?? 0);
  // Nodes that wrote the new files, from their result lines (unchanged and skipped nodes updated nothing).
  count(
    METRIC.nodesUpdated,
    state.outcomes ? state.outcomes.installed : Math.max(0, (state.completedCount ?? 0) - (state.errorCount ?? 0)),
  );
  count(METRIC.nodesFailed, failed);
  count(state.status === 'Succeeded' ? METRIC.exportsSucceeded : METRIC.exportsFailed);
}

/** A gauge-like count published even when it is zero (e.g. DriftingNodes: zero is the good news). */
export function gauge(name: (typeof METRIC)[keyof typeof METRIC], value: number): void {
  metrics.addMetric(name, MetricUnit.Count, value);
}

/** Execution name of a Step Functions execution ARN (its last `:` field). */
export function executionName(executionArn: string): string {
  return executionArn.slice(executionArn.lastIndexOf(':') + 1);
}

/**
 * Runs one invocation with structured logging, tracing and metrics. `correlationId` is the execution name
 * or event id; `keys` holds identifiers only (ARNs, ids).
 */
export async function observe<T>(
  name: string,
  context: Context | undefined,
  correlationId: string | undefined,
  keys: Record<string, string | undefined>,
  work: () => Promise<T>,
): Promise<T> {
  if (context) logger.addContext(context);
  logger.resetKeys();
  if (correlationId) logger.setCorrelationId(correlationId);
  const defined = Object.fromEntries(Object.entries(keys).filter(([, v]) => v !== undefined)) as Record<string, string>;
  logger.appendKeys(defined);
  metrics.captureColdStartMetric(context?.functionName);

  const parent = tracer?.getSegment();
  const segment = parent?.addNewSubsegment(`## ${name}`);
  if (tracer && segment) {
    tracer.setSegment(segment);
    tracer.annotateColdStart();
    tracer.addServiceNameAnnotation();
  }
  try {
    return await work();
  } catch (error) {
    const err = error instanceof Error ? error : new Error('non-error thrown');
    // Name and message only: our messages carry identifiers; SDK errors are reduced to their name.
    logger.error(`${name} failed`, { errorName: err.name, errorMessage: safeMessage(err) });
    segment?.addError(err, true);
    throw error;
  } finally {
    segment?.close();
    if (tracer && parent) tracer.setSegment(parent);
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
}

/** Our typed errors' messages are safe; anything else is reported by name only. */
export function safeMessage(error: Error): string {
  return error instanceof AcmExportError ? error.message.slice(0, 500) : `(${error.name})`;
}
