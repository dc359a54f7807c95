/**
 * EventBridge target for Run Command's status-change events of the install document's commands: completes the
 * workflow's wait on the command (see command-events.ts). The task token is never logged.
 */
import type { Context } from 'aws-lambda';
import { ddbClient } from '../shared/clients/ddb';
import { sfnClient } from '../shared/clients/sfn';
import { ssmClient } from '../shared/clients/ssm';
import { ENV } from '../shared/contract';
import { requireEnv } from '../shared/env';
import { info, resolveDeps } from '../shared/handler-support';
import { countInstallVerdict, observe } from '../shared/powertools';
import { type CommandEventDeps, type CommandEventResult, handleCommandEvent } from './command-events';

const factories = {
  ssm: ssmClient,
  ddb: ddbClient,
  sfn: sfnClient,
  tableName: () => requireEnv(ENV.TABLE_NAME),
  documentName: () => requireEnv(ENV.DOCUMENT_NAME),
  now: () => undefined,
};

/** The command id of an event, only if well-formed (a correlation id before validation). */
function commandIdOf(event: unknown): string | undefined {
  const detail = event && typeof event === 'object' ? (event as { detail?: unknown }).detail : undefined;
  const id = detail && typeof detail === 'object' ? (detail as Record<string, unknown>)['command-id'] : undefined;
  return typeof id === 'string' && /^[0-9a-f-]{36}$/i.test(id) ? id : undefined;
}

export function createHandler(overrides: Partial<Omit<CommandEventDeps, 'log'>> = {}) {
  return async (event: unknown, context?: Context): Promise<CommandEventResult> => {
    const commandId = commandIdOf(event);
    return observe('command-events', context, commandId, { commandId }, async () => {
      const deps = resolveDeps<Omit<CommandEventDeps, 'log'>>(overrides, factories);
      const result = await handleCommandEvent(event, { ...deps, log: info });
      // Counted once: only the function that completed the token (a duplicate event finds it closed).
      if (result.outcome === 'Completed' && result.state) countInstallVerdict(result.state);
      info('command event handled', {
        outcome: result.outcome,
        ...('status' in result ? { status: result.status } : {}),
      });
      return result;
    });
  };
}

export const handler = createHandler();
