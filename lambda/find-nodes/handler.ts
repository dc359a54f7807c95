/**
 * find-nodes task: validates the execution input and finds the managed nodes with the target tag before
 * anything is exported; DryRun ends here with their ids, no node at all fails the execution.
 */
import type { Context } from 'aws-lambda';
import { acmClient } from '../shared/clients/acm';
import { ssmClient } from '../shared/clients/ssm';
import type { NodesTaskResult } from '../shared/contract';
import { requireEnv } from '../shared/env';
import {
  certificateArnOf,
  correlationFromPayload,
  countTerminalFailure,
  info,
  resolveDeps,
} from '../shared/handler-support';
import { METRIC, count, observe } from '../shared/powertools';
import { FindNodesDeps, findNodes } from './find-nodes';
import { exportTaskPayloadSchema, parsePayload, parseWorkflowInput, scopeFromExecutionArn } from '../shared/workflow';

export type FindNodesHandlerDeps = Omit<FindNodesDeps, 'scope' | 'log'> & { region: string };

const factories = {
  acm: acmClient,
  ssm: ssmClient,
  region: () => requireEnv('AWS_REGION'),
};

export function createHandler(overrides: Partial<FindNodesHandlerDeps> = {}) {
  return async (payload: unknown, context?: Context): Promise<NodesTaskResult> => {
    const { correlationId, executionArn } = correlationFromPayload(payload);
    const certificateArn = certificateArnOf(payload);
    return observe('find-nodes', context, correlationId, { executionArn, certificateArn }, async () => {
      try {
        const deps = resolveDeps<FindNodesHandlerDeps>(overrides, factories);
        const task = parsePayload(exportTaskPayloadSchema, payload, 'payload');
        const scope = scopeFromExecutionArn(task.executionArn, deps.region);
        const input = parseWorkflowInput(task.input, scope);
        const result = await findNodes(input, { ...deps, scope, log: info });
        info('nodes found', { outcome: result.outcome, targetCount: result.targetCount });
        if (result.outcome === 'DryRun') count(METRIC.exportsSucceeded);
        return result;
      } catch (error) {
        countTerminalFailure(error);
        throw error;
      }
    });
  };
}

export const handler = createHandler();
