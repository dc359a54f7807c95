/**
 * acm-export task: validates the execution input against this function's partition, region and
 * account, exports the certificate into one new secret version and returns identifiers only.
 */
import type { Context } from 'aws-lambda';
import { acmClient } from '../shared/clients/acm';
import { secretsClient } from '../shared/clients/secrets';
import { ENV, ExportTaskPayload, ExportTaskResult } from '../shared/contract';
import { requireEnv } from '../shared/env';
import { exportOptInFromEnvIfSet } from '../shared/export-opt-in';
import { ExportDeps, exportCertificate } from './acm-export';
import {
  certificateArnOf,
  correlationFromPayload,
  countTerminalFailure,
  info,
  resolveDeps,
} from '../shared/handler-support';
import { METRIC, count, observe } from '../shared/powertools';
import { exportTaskPayloadSchema, parsePayload, parseWorkflowInput, scopeFromExecutionArn } from '../shared/workflow';

export type AcmExportDeps = Omit<ExportDeps, 'scope' | 'log'> & { region: string };

const factories = {
  acm: acmClient,
  secrets: secretsClient,
  secretNamePrefix: () => requireEnv(ENV.SECRET_NAME_PREFIX),
  kmsKeyId: () => requireEnv(ENV.SECRET_KMS_KEY_ID),
  region: () => requireEnv('AWS_REGION'),
  exportOptIn: () => exportOptInFromEnvIfSet(),
  random: () => undefined,
};

export function createHandler(overrides: Partial<AcmExportDeps> = {}) {
  return async (payload: ExportTaskPayload | unknown, context?: Context): Promise<ExportTaskResult> => {
    const { correlationId, executionArn } = correlationFromPayload(payload);
    const certificateArn = certificateArnOf(payload);
    return observe('acm-export', context, correlationId, { executionArn, certificateArn }, async () => {
      try {
        const deps = resolveDeps<AcmExportDeps>(overrides, factories);
        const task = parsePayload(exportTaskPayloadSchema, payload, 'payload');
        const scope = scopeFromExecutionArn(task.executionArn, deps.region);
        const request = parseWorkflowInput(task.input, scope);
        count(METRIC.exportsStarted);
        const result = await exportCertificate(request, task.executionArn, { ...deps, scope, log: info });
        info('export stored', {
          secretArn: result.secretArn,
          secretVersionId: result.secretVersionId,
          serial: result.serial,
        });
        return result;
      } catch (error) {
        countTerminalFailure(error);
        throw error;
      }
    });
  };
}

export const handler = createHandler();
