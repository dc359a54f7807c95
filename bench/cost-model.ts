/**
 * The cost section's arithmetic, free of I/O: counted usage × list prices (bench/prices.ts) → dollars, and the
 * month model that turns per-renewal, per-association-run and per-drift-check counts into a month.
 */
import { dollars, PRICES } from './prices';

/** Billable usage counted in one run (or summed over a month). */
export interface Usage {
  stateTransitions: number;
  lambdaRequests: number;
  lambdaGbSeconds: number;
  secretsManagerCalls: number;
  kmsRequests: number;
  dynamoReadUnits: number;
  dynamoWriteUnits: number;
  logBytes: number;
}

export const NO_USAGE: Usage = {
  stateTransitions: 0,
  lambdaRequests: 0,
  lambdaGbSeconds: 0,
  secretsManagerCalls: 0,
  kmsRequests: 0,
  dynamoReadUnits: 0,
  dynamoWriteUnits: 0,
  logBytes: 0,
};

/** Resources billed per month whatever the traffic. */
export interface FixedResources {
  secrets: number;
  kmsKeys: number;
}

/** What one design costs, counted: one entry of the cost table. */
export interface CountedDesign {
  design: string;
  /** One renewal of one certificate on the fleet of the run (handlers, workflow and every node). */
  perRenewal: Usage;
  /** One scheduled install (convergence) association run on one node that already holds the current version. */
  perInstallRunPerNode: Usage;
  /** One scheduled report association run on one node. */
  perReportRunPerNode: Usage;
  /** One scheduled drift check over the month model's whole inventory. */
  perDriftCheck: Usage;
  /** Fixed resources for the month model's certificates. */
  fixed: FixedResources;
  /** What the design has no counterpart for (said under the table). */
  lacks?: string;
}

export interface MonthModel {
  certificates: number;
  nodesPerCertificate: number;
  /** Days between two renewals of one certificate. */
  renewalIntervalDays: number;
  /** Association runs per node per month (0 for a design without associations). */
  installRunsPerNodePerMonth: number;
  reportRunsPerNodePerMonth: number;
  driftChecksPerMonth: number;
}

/** Days in an average month (365.25 / 12). */
export const DAYS_PER_MONTH = 365.25 / 12;

export function addUsage(...parts: Usage[]): Usage {
  const sum = { ...NO_USAGE };
  for (const part of parts) for (const key of Object.keys(sum) as (keyof Usage)[]) sum[key] += part[key];
  return sum;
}

export function scaleUsage(usage: Usage, factor: number): Usage {
  if (!Number.isFinite(factor) || factor < 0) throw new Error(`invalid scale factor ${factor}`);
  const out = { ...usage };
  for (const key of Object.keys(out) as (keyof Usage)[]) out[key] *= factor;
  return out;
}

/** Runs per month of an EventBridge / State Manager `rate(N unit)` expression. */
export function runsPerMonth(rateExpression: string): number {
  const m = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(rateExpression.trim());
  if (!m) throw new Error(`not a rate expression: ${rateExpression}`);
  const n = Number(m[1]);
  if (n <= 0) throw new Error(`rate must be positive: ${rateExpression}`);
  const minutes = m[2].startsWith('minute') ? n : m[2].startsWith('hour') ? n * 60 : n * 1440;
  return (DAYS_PER_MONTH * 1440) / minutes;
}

/** Dollars per usage line, and their total. */
export interface CostLines {
  stepFunctions: number;
  lambdaRequests: number;
  lambdaDuration: number;
  secretsManagerCalls: number;
  kms: number;
  dynamo: number;
  logs: number;
  secretsStored: number;
  kmsKeys: number;
  total: number;
}

export function costOf(usage: Usage, fixed: FixedResources = { secrets: 0, kmsKeys: 0 }): CostLines {
  const lines = {
    stepFunctions: dollars(PRICES.stepFunctionsTransition, usage.stateTransitions),
    lambdaRequests: dollars(PRICES.lambdaRequest, usage.lambdaRequests),
    lambdaDuration: dollars(PRICES.lambdaArmGbSecond, usage.lambdaGbSeconds),
    secretsManagerCalls: dollars(PRICES.secretsManagerApiCall, usage.secretsManagerCalls),
    kms: dollars(PRICES.kmsRequest, usage.kmsRequests),
    dynamo:
      dollars(PRICES.dynamoReadUnit, usage.dynamoReadUnits) + dollars(PRICES.dynamoWriteUnit, usage.dynamoWriteUnits),
    // GB as the price page bills it: 10^9 bytes.
    logs: dollars(PRICES.logIngestionGb, usage.logBytes / 1e9),
    secretsStored: dollars(PRICES.secretMonth, fixed.secrets),
    kmsKeys: dollars(PRICES.kmsKeyMonth, fixed.kmsKeys),
  };
  const total = Object.values(lines).reduce((sum, x) => sum + x, 0);
  return { ...lines, total };
}

/** Renewals per month of `certificates` certificates renewed every `renewalIntervalDays`. */
export function renewalsPerMonth(model: Pick<MonthModel, 'certificates' | 'renewalIntervalDays'>): number {
  if (model.renewalIntervalDays <= 0) throw new Error('the renewal interval must be positive');
  return (model.certificates * DAYS_PER_MONTH) / model.renewalIntervalDays;
}

/**
 * A month of usage: the renewals, every node's association runs, and the drift checks. The per-renewal
 * counts are for one certificate on `nodesPerCertificate` nodes, so renewals scale them as they are.
 */
export function monthlyUsage(design: CountedDesign, model: MonthModel): Usage {
  const nodes = model.certificates * model.nodesPerCertificate;
  return addUsage(
    scaleUsage(design.perRenewal, renewalsPerMonth(model)),
    scaleUsage(design.perInstallRunPerNode, nodes * model.installRunsPerNodePerMonth),
    scaleUsage(design.perReportRunPerNode, nodes * model.reportRunsPerNodePerMonth),
    scaleUsage(design.perDriftCheck, model.driftChecksPerMonth),
  );
}

export function monthlyCost(design: CountedDesign, model: MonthModel): CostLines {
  return costOf(monthlyUsage(design, model), design.fixed);
}

/** Lambda GB-seconds of invocations lasting `ms` each at `memoryMb`. */
export function gbSeconds(ms: readonly number[], memoryMb: number): number {
  // Lambda bills duration rounded up to the millisecond, memory in MB / 1024 GB.
  return ms.reduce((sum, x) => sum + Math.ceil(x), 0) / 1000 / (1024 / memoryMb);
}

/** DynamoDB request units of an item read or written without ReturnConsumedCapacity: 4 KB reads (eventually consistent: half), 1 KB writes. */
export function readUnits(itemBytes: number, stronglyConsistent = false): number {
  const units = Math.max(1, Math.ceil(itemBytes / 4096));
  return stronglyConsistent ? units : units / 2;
}

export function writeUnits(itemBytes: number): number {
  return Math.max(1, Math.ceil(itemBytes / 1024));
}
