/**
 * Scheduled drift check: compares the serial each node reports (custom SSM Inventory) with the inventory's
 * current serial, publishes one alert per drifting target and the DriftingNodes metric (zero included).
 */
import type { Context } from 'aws-lambda';
import { ddbClient } from '../shared/clients/ddb';
import { secretsClient } from '../shared/clients/secrets';
import { snsClient } from '../shared/clients/sns';
import { ssmClient } from '../shared/clients/ssm';
import { ENV } from '../shared/contract';
import { DEFAULT_DRIFT_GRACE_MINUTES, DriftCheckDeps, DriftCheckResult, checkDrift } from './drift-check';
import { requireEnv } from '../shared/env';
import { info, resolveDeps } from '../shared/handler-support';
import { METRIC, gauge, observe } from '../shared/powertools';

export type DriftHandlerDeps = Omit<DriftCheckDeps, 'log'>;

function graceFromEnv(): number {
  const raw = process.env[ENV.DRIFT_GRACE_MINUTES];
  if (!raw) return DEFAULT_DRIFT_GRACE_MINUTES;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 10080)
    throw new Error(`${ENV.DRIFT_GRACE_MINUTES} must be an integer from 0 to 10080`);
  return n;
}

const factories = {
  ddb: ddbClient,
  ssm: ssmClient,
  sns: snsClient,
  secrets: secretsClient,
  // Unset (an older stack): no orphaned-secret sweep.
  secretNamePrefix: () => process.env[ENV.SECRET_NAME_PREFIX] || undefined,
  tableName: () => requireEnv(ENV.TABLE_NAME),
  topicArn: () => requireEnv(ENV.ALERT_TOPIC_ARN),
  graceMinutes: graceFromEnv,
  now: () => undefined,
};

export function createHandler(overrides: Partial<DriftHandlerDeps> = {}) {
  return async (
    event: { id?: string } | unknown,
    context?: Context,
  ): Promise<
    Omit<DriftCheckResult, 'driftingTargets' | 'orphanedSecrets'> & { driftingTargets: number; orphanedSecrets: number }
  > => {
    const eventId =
      event && typeof event === 'object' && typeof (event as { id?: unknown }).id === 'string'
        ? (event as { id: string }).id.slice(0, 128)
        : undefined;
    return observe('drift-check', context, eventId, {}, async () => {
      const deps = resolveDeps<DriftHandlerDeps>(overrides, factories);
      const result = await checkDrift({ ...deps, log: info });
      gauge(METRIC.driftingNodes, result.driftingNodes);
      gauge(METRIC.driftingTargets, result.driftingTargets.length);
      const summary = {
        ...result,
        driftingTargets: result.driftingTargets.length,
        orphanedSecrets: result.orphanedSecrets.length,
      };
      info('drift check done', summary);
      return summary;
    });
  };
}

export const handler = createHandler();
