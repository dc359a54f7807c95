/**
 * await-command task (`lambda:invoke.waitForTaskToken`): stores the task token for the command's status-change
 * event and checks the command once. Its return value is not the task's result: the token's completion is.
 */
import type { Context } from 'aws-lambda';
import { ddbClient } from '../shared/clients/ddb';
import { sfnClient } from '../shared/clients/sfn';
import { ssmClient } from '../shared/clients/ssm';
import type { DecideDeps } from '../shared/command-wait';
import { ENV } from '../shared/contract';
import { requireEnv } from '../shared/env';
import { certificateArnOf, correlationFromPayload, info, resolveDeps } from '../shared/handler-support';
import { countInstallVerdict, observe } from '../shared/powertools';
import { awaitCommand, type AwaitCommandResult } from './await-command';

export type AwaitCommandDeps = Omit<DecideDeps, 'log'> & { region: string };

const factories = {
  ssm: ssmClient,
  ddb: ddbClient,
  sfn: sfnClient,
  tableName: () => requireEnv(ENV.TABLE_NAME),
  region: () => requireEnv('AWS_REGION'),
  now: () => undefined,
};

export function createHandler(overrides: Partial<AwaitCommandDeps> = {}) {
  return async (payload: unknown, context?: Context): Promise<AwaitCommandResult> => {
    const { correlationId, executionArn } = correlationFromPayload(payload);
    return observe(
      'await-command',
      context,
      correlationId,
      { executionArn, certificateArn: certificateArnOf(payload) },
      async () => {
        const deps = resolveDeps<AwaitCommandDeps>(overrides, factories);
        const result = await awaitCommand(payload, deps.region, { ...deps, log: info }, deps.now?.() ?? new Date());
        // The token is never logged: the command id and what the check found identify the wait.
        info('waiting on command', { commandId: result.commandId, outcome: result.outcome });
        if (result.state) countInstallVerdict(result.state);
        return result;
      },
    );
  };
}

export const handler = createHandler();
