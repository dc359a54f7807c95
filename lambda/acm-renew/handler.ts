/**
 * EventBridge target for "ACM Certificate Available": starts one export execution per inventory target of
 * a renewed, exportable certificate. Other events are logged and ignored.
 */
import type { Context } from 'aws-lambda';
import { acmClient } from '../shared/clients/acm';
import { ddbClient } from '../shared/clients/ddb';
import { sfnClient } from '../shared/clients/sfn';
import { ENV } from '../shared/contract';
import { requireEnv } from '../shared/env';
import { exportOptInFromEnv } from '../shared/export-opt-in';
import { info, peek, resolveDeps } from '../shared/handler-support';
import { METRIC, count, logger, observe } from '../shared/powertools';
import { RenewDeps, RenewResult, parseAcmEvent, renew } from './acm-renew';
import { ArnScope } from '../shared/workflow';
import { placementFromEnv } from '../shared/placement';

export type AcmRenewDeps = Omit<RenewDeps, 'log'> & { region: string };

const factories = {
  acm: acmClient,
  sfn: sfnClient,
  ddb: ddbClient,
  tableName: () => requireEnv(ENV.TABLE_NAME),
  stateMachineArn: () => requireEnv(ENV.STATE_MACHINE_ARN),
  placement: () => placementFromEnv(process.env[ENV.PLACEMENT_POLICY]),
  region: () => requireEnv('AWS_REGION'),
  exportOptIn: () => exportOptInFromEnv(),
};

/** Partition and account of the stack (from the state machine ARN), region of the function. */
function stackScope(stateMachineArn: string, region: string): ArnScope {
  const m = /^arn:(aws(?:-[a-z]+)*):states:([a-z0-9-]+):([0-9]{12}):stateMachine:/.exec(stateMachineArn);
  if (!m) throw new Error(`${ENV.STATE_MACHINE_ARN} is not a state machine ARN`);
  return { partition: m[1], region: region || m[2], account: m[3] };
}

export function createHandler(overrides: Partial<AcmRenewDeps> = {}) {
  return async (event: unknown, context?: Context): Promise<RenewResult> => {
    const eventId = peek(event, 'id');
    return observe('acm-renew', context, eventId?.slice(0, 128), {}, async () => {
      const deps = resolveDeps<AcmRenewDeps>(overrides, factories);
      const parsed = parseAcmEvent(event);
      const certificateArn = parsed.resources[0];
      info('ACM event received', {
        certificateArn,
        detailType: parsed['detail-type'],
        action: parsed.detail?.Action ?? '',
      });
      const result = await renew(parsed, stackScope(deps.stateMachineArn, deps.region), { ...deps, log: info });
      if (result.outsidePlacement) {
        logger.warn('renewal skipped: targets outside the placement policy (remove them or export them again)', {
          certificateArn,
          targets: result.outsidePlacement.join(', ').slice(0, 1000),
        });
      }
      if (result.ignoredCode === 'CertificateNotOptedIn') {
        // Warn: its targets keep the previous certificate until it expires, unless the tag is added back.
        logger.warn('renewed certificate not exported: it no longer carries the export tag', {
          certificateArn,
          reason: (result.ignored ?? '').slice(0, 400),
        });
      } else if (result.ignored) {
        info('event ignored', { certificateArn, reason: result.ignored.slice(0, 400) });
      }
      if (result.ignored) {
        if (result.ignoredCode === 'CertificateNotExportable' || result.ignoredCode === 'CertificateNotOptedIn')
          count(METRIC.renewalsIgnored);
      }
      count(METRIC.renewalsTriggered, result.started);
      info('renewal handled', {
        certificateArn,
        started: result.started,
        alreadyStarted: result.alreadyStarted,
        targets: result.targets,
        skipped: result.skipped,
      });
      return result;
    });
  };
}

export const handler = createHandler();
