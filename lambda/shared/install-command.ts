/**
 * One SendCommand of the install document to a tag target, with the delivery settings every run uses: the
 * stack's document, its delivery timeout and Run Command output to the command log group. Parameters are
 * identifiers and options only (see documentParameters in run-install.ts).
 */
import { SSMClient, SendCommandCommand } from '@aws-sdk/client-ssm';
import { rethrowThrottling } from './errors';

/** Where and how the install document is sent (`DOCUMENT_NAME`, `COMMAND_LOG_GROUP`, `COMMAND_TIMEOUT_SECONDS`). */
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
