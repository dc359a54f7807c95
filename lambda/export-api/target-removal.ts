/**
 * `GET /certificates/{certificateArn}/targets/{target}/removal`: how the removal of a target's files stands,
 * and the step that finishes it. A `Removing` item's remove run is checked once per request (one ListCommands;
 * once it has ended, its invocations): when every node removed the files the inventory item is deleted
 * (`Removed`); when some node did not, the item becomes `RemovalFailed` with one line per such node and stays,
 * so the files it names are still on record and the DELETE can be repeated. Every write is conditional on the
 * removal still being the item's current one (a newer DELETE or export wins).
 */
import {
  Command,
  CommandInvocation,
  ListCommandInvocationsCommand,
  ListCommandInvocationsCommandOutput,
  ListCommandsCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { TargetRemovalResponse } from './api-types';
import { InventoryItem } from '../shared/contract';
import { rethrowThrottling } from '../shared/errors';
import { InventoryDeps, deleteRemovedItem, getItem, recordRemovalFailed } from '../shared/inventory';
import { safeLine } from '../shared/redact';
import { NO_SECRET, scheduleSecretDeletion } from '../shared/target-secret';
import { NOT_SENT_LINE } from './delete-target';

export interface TargetRemovalDeps extends InventoryDeps {
  ssm: SSMClient;
  secrets: SecretsManagerClient;
  now?: () => Date;
}

export const REMOVAL_CHECK = {
  /** A removal with no command id this long after the DELETE never got its run sent (the API times out at 29 s). */
  notSentAfterSeconds: 120,
  /** A command id ListCommands does not know this long after the DELETE is gone for good. */
  unknownCommandAfterSeconds: 300,
  /** At most this many per-node lines are stored on the item. */
  maxFailureLines: 50,
} as const;

export const UNKNOWN_COMMAND_LINE =
  'the remove run is not known to Systems Manager (it keeps commands for 30 days); repeat the DELETE';

export type TargetRemovalResult =
  | { found: true; body: TargetRemovalResponse }
  /** `notRemoving`: the item exists but no removal was requested. */
  | { found: false; notRemoving: boolean };

const TERMINAL_STATUS = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled']);

/** Why one node did not remove the files, from its invocation (identifiers and the node's last output line). */
export function removalFailureLine(invocation: CommandInvocation): string {
  const node = invocation.InstanceId ?? 'unknown node';
  const outcome = invocation.StatusDetails ?? invocation.Status ?? 'unknown';
  const plugin =
    (invocation.CommandPlugins ?? []).find((p) => p.Status && p.Status !== 'Success') ?? invocation.CommandPlugins?.[0];
  const output = safeLine(plugin?.Output).replace(/^acm-export:\s*/, '');
  switch (outcome) {
    case 'Failed':
    case 'Execution Timed Out':
      return `node ${node} kept the files: ${output || outcome}`;
    case 'Undeliverable':
      return `node ${node} was not reached (not reachable by SSM); its files, if any, are still there`;
    case 'Delivery Timed Out':
      return `node ${node} was not reached (it did not pick up the run before it expired); its files, if any, are still there`;
    default:
      return `node ${node} did not run the removal (${safeLine(outcome)}); its files, if any, are still there`;
  }
}

/** Every invocation of the command that did not end in Success (all pages, bounded by maxFailureLines). */
async function unsuccessfulInvocations(ssm: SSMClient, commandId: string): Promise<CommandInvocation[]> {
  const out: CommandInvocation[] = [];
  let token: string | undefined;
  do {
    let page: ListCommandInvocationsCommandOutput;
    try {
      page = await ssm.send(
        new ListCommandInvocationsCommand({ CommandId: commandId, Details: true, MaxResults: 50, NextToken: token }),
      );
    } catch (error) {
      return rethrowThrottling(error, 'ssm:ListCommandInvocations');
    }
    for (const inv of page.CommandInvocations ?? []) {
      if (inv.Status === 'Success' && (inv.StatusDetails ?? 'Success') === 'Success') continue;
      out.push(inv);
      if (out.length >= REMOVAL_CHECK.maxFailureLines) return out;
    }
    token = page.NextToken;
  } while (token);
  return out;
}

async function describeCommand(ssm: SSMClient, commandId: string): Promise<Command | undefined> {
  try {
    return (await ssm.send(new ListCommandsCommand({ CommandId: commandId }))).Commands?.[0];
  } catch (error) {
    if (error instanceof Error && error.name === 'InvalidCommandId') return undefined;
    return rethrowThrottling(error, 'ssm:ListCommands');
  }
}

function view(item: InventoryItem, status: TargetRemovalResponse['status'], failures: string[]): TargetRemovalResponse {
  return {
    certificateArn: item.certificateArn,
    target: item.target,
    status,
    requestedAt: item.removalRequestedAt ?? '',
    ...(item.removalCommandId ? { commandId: item.removalCommandId } : {}),
    failures,
  };
}

export async function targetRemoval(
  key: { certificateArn: string; target: string },
  deps: TargetRemovalDeps,
): Promise<TargetRemovalResult> {
  const now = (deps.now ?? (() => new Date()))();
  const item = await getItem(deps, key);
  if (!item) return { found: false, notRemoving: false };
  if (!item.removalStatus) return { found: false, notRemoving: true };
  if (item.removalStatus === 'RemovalFailed')
    return { found: true, body: view(item, 'RemovalFailed', item.removalFailures ?? []) };

  const requestedAt = item.removalRequestedAt ?? '';
  const ageSeconds = (now.getTime() - (Date.parse(requestedAt) || 0)) / 1000;
  /** Marks the removal failed (if it is still this one) and answers with what the item now says. */
  const failed = async (failures: string[], extra: Partial<TargetRemovalResponse> = {}) => {
    const applied = await recordRemovalFailed(
      deps,
      key,
      { requestedAt, ...(item.removalCommandId ? { commandId: item.removalCommandId } : {}) },
      failures,
    );
    if (!applied) return targetRemoval(key, deps);
    return { found: true as const, body: { ...view(item, 'RemovalFailed', failures), ...extra } };
  };

  const commandId = item.removalCommandId;
  if (!commandId) {
    return ageSeconds > REMOVAL_CHECK.notSentAfterSeconds
      ? failed([NOT_SENT_LINE])
      : { found: true, body: view(item, 'Removing', []) };
  }
  const command = await describeCommand(deps.ssm, commandId);
  if (!command) {
    return ageSeconds > REMOVAL_CHECK.unknownCommandAfterSeconds
      ? failed([UNKNOWN_COMMAND_LINE])
      : { found: true, body: view(item, 'Removing', []) };
  }
  const nodes = {
    total: command.TargetCount ?? 0,
    completed: command.CompletedCount ?? 0,
    failed: (command.ErrorCount ?? 0) + (command.DeliveryTimedOutCount ?? 0),
  };
  if (!TERMINAL_STATUS.has(command.Status ?? ''))
    return { found: true, body: { ...view(item, 'Removing', []), nodes } };

  // Undeliverable nodes leave a command Success with clean counts: the invocations are the only proof.
  const unsuccessful = nodes.total > 0 ? await unsuccessfulInvocations(deps.ssm, commandId) : [];
  const lines = unsuccessful.map(removalFailureLine);
  if (command.Status !== 'Success' && lines.length === 0)
    lines.push(`the remove run ended ${safeLine(command.StatusDetails ?? command.Status)}; repeat the DELETE`);
  if (lines.length > 0) return failed(lines, { nodes });

  // Every node removed the files (or no node carries the tag any more): the secret goes first (the item
  // names it), then the record, which has served its purpose. A failed DeleteSecret keeps the item Removing:
  // the next request tries again.
  const secretDeletion = await scheduleSecretDeletion(deps.secrets, item.lastSecretArn, now);
  if (!secretDeletion.scheduled && secretDeletion.reason !== NO_SECRET)
    return { found: true, body: { ...view(item, 'Removing', []), nodes, secretDeletion } };
  if (!(await deleteRemovedItem(deps, key, commandId))) return targetRemoval(key, deps);
  return { found: true, body: { ...view(item, 'Removed', []), nodes, secretDeletion } };
}
