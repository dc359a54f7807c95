/**
 * One SendCommand of a node document (install or remove) to a tag target, with the delivery settings every
 * run uses: the stack's document, its delivery timeout and Run Command output to the command log group.
 * Parameters are identifiers and options only (see documentParameters).
 */
import { SSMClient, SendCommandCommand } from '@aws-sdk/client-ssm';
import { InventoryItem, targetKey } from './contract';
import { rethrowThrottling } from './errors';
import { StoredOptions, runParameters, storedOptions } from './fields';

/**
 * Where and how a document is sent (`DOCUMENT_NAME` or `REMOVE_DOCUMENT_NAME`, `COMMAND_LOG_GROUP`,
 * `COMMAND_TIMEOUT_SECONDS`).
 */
export interface InstallCommandSettings {
  documentName: string;
  logGroupName: string;
  /** Delivery timeout, 30..2592000 seconds. */
  timeoutSeconds: number;
}

export interface InstallCommandRun {
  tagKey: string;
  tagValue: string;
  parameters: Record<string, string[]>;
  maxConcurrency: string;
  maxErrors: string;
  /** Shown in the Run Command console (cut to SSM's 100 characters). */
  comment: string;
}

/** The SendCommand input (the node list is the tag, resolved by SSM when the command is sent). */
export function installCommandInput(settings: InstallCommandSettings, run: InstallCommandRun) {
  return {
    DocumentName: settings.documentName,
    Targets: [{ Key: `tag:${run.tagKey}`, Values: [run.tagValue] }],
    Parameters: run.parameters,
    MaxConcurrency: run.maxConcurrency,
    MaxErrors: run.maxErrors,
    TimeoutSeconds: settings.timeoutSeconds,
    CloudWatchOutputConfig: { CloudWatchLogGroupName: settings.logGroupName, CloudWatchOutputEnabled: true },
    Comment: run.comment.slice(0, 100),
  };
}

/** Sends the command; returns its id and SSM's target count. Throttling becomes Throttled. */
export async function sendInstallCommand(
  ssm: SSMClient,
  settings: InstallCommandSettings,
  run: InstallCommandRun,
): Promise<{ commandId: string; targetCount: number }> {
  let commandId: string | undefined;
  let targetCount = 0;
  try {
    const out = await ssm.send(new SendCommandCommand(installCommandInput(settings, run)));
    commandId = out.Command?.CommandId;
    targetCount = out.Command?.TargetCount ?? 0;
  } catch (error) {
    return rethrowThrottling(error, 'ssm:SendCommand');
  }
  if (!commandId) throw new Error('ssm:SendCommand returned no command id');
  return { commandId, targetCount };
}

/** How a target's files are installed: its stored options, under their API names (CertName, CertDir, ...). */
export type TargetProfile = StoredOptions;

/** The stored profile of an inventory item (defaults for options older items predate). */
export function profileFromItem(item: InventoryItem): TargetProfile {
  return storedOptions(item as unknown as Record<string, unknown>);
}

/**
 * Which document a run uses and what it installs: the install document with the exact version (a push) or
 * the stage (an association), or the report or remove document (which take no version).
 */
export type DocumentSecret =
  | { secretArn: string; versionId: string }
  | { secretArn: string; stage: 'AWSCURRENT' }
  | { secretArn: string; document: 'report' | 'remove' };

/**
 * A document's parameters: each a one-element list of strings; identifiers and options only. A push names
 * the exact version; an association names the stage (AWSCURRENT) and leaves SecretVersionId at its default;
 * the report and remove documents name neither. Which fields each document receives is the registry's
 * (fields.ts): SSM refuses a command or association naming a parameter its document does not declare.
 */
export function documentParameters(
  profile: TargetProfile,
  secret: DocumentSecret,
  region: string,
): Record<string, string[]> {
  const run = {
    ...profile,
    SecretId: secret.secretArn,
    Region: region,
    Target: targetKey(profile.TargetTagKey, profile.TargetTagValue),
    ...('versionId' in secret ? { SecretVersionId: secret.versionId } : {}),
    ...('stage' in secret ? { SecretVersionStage: secret.stage } : {}),
  };
  return runParameters('document' in secret ? secret.document : 'install', run);
}
