/**
 * EventBridge target for "Step Functions Execution Status Change" (FAILED, TIMED_OUT, ABORTED) of the export
 * workflow: records Failed, with the reason, on the target the execution was installing.
 */
import type { Context } from 'aws-lambda';
import { ddbClient } from '../shared/clients/ddb';
import { ENV } from '../shared/contract';
import { requireEnv } from '../shared/env';
import { info, resolveDeps } from '../shared/handler-support';
import type { InventoryDeps } from '../shared/inventory';
import { executionName, observe } from '../shared/powertools';
import { ExecutionEndResult, parseExecutionEndEvent, recordExecutionEnd } from './execution-end';

const factories = {
  ddb: ddbClient,
  tableName: () => requireEnv(ENV.TABLE_NAME),
};

/** The execution ARN of an event, only if well-formed (a correlation id before validation). */
function executionArnOf(event: unknown): string | undefined {
  const detail = event && typeof event === 'object' ? (event as { detail?: unknown }).detail : undefined;
  const arn = detail && typeof detail === 'object' ? (detail as { executionArn?: unknown }).executionArn : undefined;
  return typeof arn === 'string' && /^arn:aws[a-z-]*:states:[^\s]{1,2000}$/.test(arn) ? arn : undefined;
}

export function createHandler(overrides: Partial<InventoryDeps> = {}) {
  return async (event: unknown, context?: Context): Promise<ExecutionEndResult> => {
    const executionArn = executionArnOf(event);
    return observe(
      'execution-end',
      context,
      executionArn ? executionName(executionArn) : undefined,
      { executionArn },
      async () => {
        const deps = resolveDeps<InventoryDeps>(overrides, factories);
        const parsed = parseExecutionEndEvent(event);
        const result = await recordExecutionEnd(parsed, deps);
        info('execution end handled', {
          status: parsed.detail.status,
          outcome: result.outcome,
          ...('target' in result ? { certificateArn: result.certificateArn, target: result.target } : {}),
          ...(result.outcome === 'NoTarget' ? { why: result.why.slice(0, 300) } : {}),
        });
        return result;
      },
    );
  };
}

export const handler = createHandler();
