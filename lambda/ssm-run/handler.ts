/**
 * ssm-run task: records the export in the inventory (unless a newer export owns the target) and
 * sends the install document to the tagged nodes.
 */
import type { Context } from 'aws-lambda';
import { ddbClient } from '../shared/clients/ddb';
import { ssmClient } from '../shared/clients/ssm';
import { ENV, InstallTaskPayload, InstallTaskResult } from '../shared/contract';
import { commandTimeoutSeconds, requireEnv } from '../shared/env';
import {
  certificateArnOf,
  correlationFromPayload,
  countTerminalFailure,
  info,
  resolveDeps,
} from '../shared/handler-support';
import { METRIC, count, observe } from '../shared/powertools';
import { InstallDeps, runInstall } from './ssm-run';
import { installTaskPayloadSchema, parsePayload, parseWorkflowInput, scopeFromExecutionArn } from '../shared/workflow';

export type SsmRunDeps = Omit<InstallDeps, 'log'>;

const factories = {
  ssm: ssmClient,
  ddb: ddbClient,
  tableName: () => requireEnv(ENV.TABLE_NAME),
  documentName: () => requireEnv(ENV.DOCUMENT_NAME),
  reportDocumentName: () => requireEnv(ENV.REPORT_DOCUMENT_NAME),
  stackName: () => requireEnv(ENV.STACK_NAME),
  logGroupName: () => requireEnv(ENV.COMMAND_LOG_GROUP),
  timeoutSeconds: commandTimeoutSeconds,
  region: () => requireEnv('AWS_REGION'),
  convergenceSchedule: () => process.env[ENV.CONVERGENCE_SCHEDULE] || undefined,
  reportSchedule: () => process.env[ENV.DRIFT_REPORT_SCHEDULE] || undefined,
  now: () => undefined,
};

export function createHandler(overrides: Partial<SsmRunDeps> = {}) {
  return async (payload: InstallTaskPayload | unknown, context?: Context): Promise<InstallTaskResult> => {
    const { correlationId, executionArn } = correlationFromPayload(payload);
    return observe(
      'ssm-run',
      context,
      correlationId,
      { executionArn, certificateArn: certificateArnOf(payload) },
      async () => {
        try {
          const deps = resolveDeps<SsmRunDeps>(overrides, factories);
          const task = parsePayload(installTaskPayloadSchema, payload, 'payload');
          const input = parseWorkflowInput(task.input, scopeFromExecutionArn(task.executionArn, deps.region));
          const result = await runInstall(
            {
              input,
              export: task.export,
              executionArn: task.executionArn,
              executionStartTime: task.executionStartTime,
            },
            { ...deps, log: info },
          );
          info('install task done', {
            outcome: result.outcome,
            targetCount: result.targetCount,
            commandId: result.commandId ?? '',
          });
          if (result.outcome === 'Superseded') count(METRIC.exportsSucceeded);
          return result;
        } catch (error) {
          countTerminalFailure(error);
          throw error;
        }
      },
    );
  };
}

export const handler = createHandler();
