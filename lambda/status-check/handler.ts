/**
 * status-check task: one ListCommands call, returns the next poll state (InProgress with the next
 * wait, Succeeded, or Failed with one line per failed node) and records the outcome in the inventory.
 */
import type { Context } from 'aws-lambda';
import { ddbClient } from '../shared/clients/ddb';
import { ssmClient } from '../shared/clients/ssm';
import { ENV, PollState, StatusTaskPayload } from '../shared/contract';
import { requireEnv } from '../shared/env';
import { InvalidInput } from '../shared/errors';
import { certificateArnOf, correlationFromPayload, info, resolveDeps } from '../shared/handler-support';
import { countInstallVerdict, observe } from '../shared/powertools';
import { StatusDeps, checkStatus } from './status-check';
import { parsePayload, parseWorkflowInput, scopeFromExecutionArn, statusTaskPayloadSchema } from '../shared/workflow';

export type StatusCheckDeps = Omit<StatusDeps, 'log'> & { region: string };

const factories = {
  ssm: ssmClient,
  ddb: ddbClient,
  tableName: () => requireEnv(ENV.TABLE_NAME),
  region: () => requireEnv('AWS_REGION'),
  now: () => undefined,
};

export function createHandler(overrides: Partial<StatusCheckDeps> = {}) {
  return async (payload: StatusTaskPayload | unknown, context?: Context): Promise<PollState> => {
    const { correlationId, executionArn } = correlationFromPayload(payload);
    return observe(
      'status-check',
      context,
      correlationId,
      { executionArn, certificateArn: certificateArnOf(payload) },
      async () => {
        const deps = resolveDeps<StatusCheckDeps>(overrides, factories);
        const task = parsePayload(statusTaskPayloadSchema, payload, 'payload');
        if (task.install.outcome !== 'Sent' || !task.install.commandId) {
          throw new InvalidInput(
            'install: status can only be checked for a command that was sent (outcome Sent with a commandId)',
          );
        }
        const input = parseWorkflowInput(task.input, scopeFromExecutionArn(task.executionArn, deps.region));
        const state = await checkStatus(
          { input, commandId: task.install.commandId, poll: task.poll, executionArn: task.executionArn },
          { ...deps, log: info },
        );
        info('install status', {
          commandId: task.install.commandId,
          status: state.status,
          attempt: state.attempt,
          targetCount: state.targetCount ?? 0,
          completedCount: state.completedCount ?? 0,
          errorCount: state.errorCount ?? 0,
          ...(state.outcomes
            ? {
                installed: state.outcomes.installed,
                unchanged: state.outcomes.unchanged,
                skipped: state.outcomes.skipped,
              }
            : {}),
        });
        countInstallVerdict(state);
        return state;
      },
    );
  };
}

export const handler = createHandler();
