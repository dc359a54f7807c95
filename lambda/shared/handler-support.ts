/** Small helpers shared by the five handlers (payload peeking for correlation ids, logging adapter). */
import { AcmExportError } from './errors';
import { METRIC, count, executionName, logger } from './powertools';

export type Log = (message: string, keys?: Record<string, string | number | boolean>) => void;

export const info: Log = (message, keys) => logger.info(message, keys ?? {});

/** A string field of an object, if present (used before validation, for correlation ids only). */
export function peek(value: unknown, key: string): string | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const field = (value as Record<string, unknown>)[key];
  return typeof field === 'string' && field.length <= 2048 ? field : undefined;
}

export function correlationFromPayload(payload: unknown): { correlationId?: string; executionArn?: string } {
  const executionArn = peek(payload, 'executionArn');
  return { executionArn, correlationId: executionArn ? executionName(executionArn) : undefined };
}

/** Counts a terminal failure of an export task (typed errors other than Throttled end the execution). */
export function countTerminalFailure(error: unknown): void {
  if (error instanceof AcmExportError && error.name !== 'Throttled') count(METRIC.exportsFailed);
}

/** The execution input's certificate ARN, only if it is well-formed (never log an unvalidated value). */
export function certificateArnOf(payload: unknown): string | undefined {
  const input = payload && typeof payload === 'object' ? (payload as { input?: unknown }).input : undefined;
  const arn = peek(input, 'CertificateArn');
  return arn && /^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate\/[0-9a-f-]{36}$/.test(arn) ? arn : undefined;
}

/** Fills each dependency missing from `overrides` from its factory (factories may read the environment). */
export function resolveDeps<T extends object>(overrides: Partial<T>, factories: { [K in keyof T]: () => T[K] }): T {
  const deps = {} as T;
  for (const key of Object.keys(factories) as (keyof T)[]) {
    deps[key] = overrides[key] !== undefined ? (overrides[key] as T[keyof T]) : factories[key]();
  }
  for (const key of Object.keys(overrides) as (keyof T)[]) {
    if (!(key in deps)) deps[key] = overrides[key] as T[keyof T];
  }
  return deps;
}
