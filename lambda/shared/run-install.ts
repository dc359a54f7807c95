/**
 * ssm-run logic: find the managed nodes carrying the target tag, claim the inventory item for this export
 * (an older export arriving late is Superseded), then send the install document to the tag. Parameters are
 * identifiers and options only; the node fetches the secret version itself.
 */
import {
  DescribeInstanceInformationCommand,
  DescribeInstanceInformationCommandOutput,
  SSMClient,
  SendCommandCommand,
} from '@aws-sdk/client-ssm';
import { ExportTaskResult, InstallTaskResult, targetKey } from './contract';
import { NoMatchingNodes, isThrottling, rethrowThrottling } from './errors';
import { InventoryDeps, recordDeployOutcome, recordExport } from './inventory';
import type { ResolvedExportRequest } from './schemas';

export interface InstallDeps extends InventoryDeps {
  ssm: SSMClient;
  /** `DOCUMENT_NAME` */
  documentName: string;
  /** `COMMAND_LOG_GROUP` */
  logGroupName: string;
  /** `COMMAND_TIMEOUT_SECONDS` (30..2592000) */
  timeoutSeconds: number;
  /** Region the nodes fetch the secret from. */
  region: string;
  now?: () => Date;
  log?: (message: string, keys?: Record<string, string | number | boolean>) => void;
}

export interface InstallRequest {
  input: ResolvedExportRequest;
  export: ExportTaskResult;
  executionArn: string;
  executionStartTime: string;
}

/** All managed nodes (EC2 and hybrid) with the tag, across every page. */
export async function matchingNodes(ssm: SSMClient, tagKey: string, tagValue: string): Promise<string[]> {
  const ids: string[] = [];
  let token: string | undefined;
  do {
    let page: DescribeInstanceInformationCommandOutput;
    try {
      page = await ssm.send(
        new DescribeInstanceInformationCommand({
          Filters: [{ Key: `tag:${tagKey}`, Values: [tagValue] }],
          MaxResults: 50,
          NextToken: token,
        }),
      );
    } catch (error) {
      return rethrowThrottling(error, 'ssm:DescribeInstanceInformation');
    }
    for (const info of page.InstanceInformationList ?? []) if (info.InstanceId) ids.push(info.InstanceId);
    token = page.NextToken;
  } while (token);
  return ids;
}

/** The document parameters: each a one-element list of strings; identifiers and options only. */
export function commandParameters(request: InstallRequest, region: string): Record<string, string[]> {
  const i = request.input;
  return {
    CertName: [i.CertName],
    SecretId: [request.export.secretArn],
    SecretVersionId: [request.export.secretVersionId],
    Region: [region],
    CertDir: [i.CertDir],
    KeyDir: [i.KeyDir],
    Service: [i.Service],
    VerifyPort: [String(i.VerifyPort)],
  };
}

function executionName(executionArn: string): string {
  return executionArn.slice(executionArn.lastIndexOf(':') + 1);
}

export async function runInstall(request: InstallRequest, deps: InstallDeps): Promise<InstallTaskResult> {
  const log = deps.log ?? (() => undefined);
  const now = deps.now ?? (() => new Date());
  const i = request.input;
  const tag = `${i.TargetTagKey}=${i.TargetTagValue}`;

  const nodes = await matchingNodes(deps.ssm, i.TargetTagKey, i.TargetTagValue);
  if (nodes.length === 0) {
    throw new NoMatchingNodes(`no managed node carries the tag ${tag} (checked with ssm:DescribeInstanceInformation)`);
  }
  if (i.DryRun) {
    // A dry run changes nothing: no inventory write, no command.
    log('dry run: matching nodes found', { targetCount: nodes.length });
    return { outcome: 'DryRun', targetCount: nodes.length, nodeIds: nodes };
  }

  const key = { certificateArn: i.CertificateArn, target: targetKey(i.TargetTagKey, i.TargetTagValue) };
  const claim = await recordExport(deps, key, {
    certName: i.CertName,
    targetTagKey: i.TargetTagKey,
    targetTagValue: i.TargetTagValue,
    certDir: i.CertDir,
    keyDir: i.KeyDir,
    service: i.Service,
    verifyPort: i.VerifyPort,
    maxConcurrency: i.MaxConcurrency,
    maxErrors: i.MaxErrors,
    certExpiryDate: request.export.notAfter,
    lastExportedDate: now().toISOString(),
    lastExportStartedAt: request.executionStartTime,
    lastSerial: request.export.serial,
    lastSecretArn: request.export.secretArn,
    lastSecretVersionId: request.export.secretVersionId,
    lastExecutionArn: request.executionArn,
    lastDeployStatus: 'InProgress',
  });
  if (!claim.applied) {
    log('a newer export already owns this target; not installing', { supersededBy: claim.newerExecutionArn });
    return { outcome: 'Superseded', targetCount: 0, supersededBy: claim.newerExecutionArn };
  }

  let commandId: string | undefined;
  let responseTargets = 0;
  try {
    const out = await deps.ssm.send(
      new SendCommandCommand({
        DocumentName: deps.documentName,
        Targets: [{ Key: `tag:${i.TargetTagKey}`, Values: [i.TargetTagValue] }],
        Parameters: commandParameters(request, deps.region),
        MaxConcurrency: i.MaxConcurrency,
        MaxErrors: i.MaxErrors,
        TimeoutSeconds: deps.timeoutSeconds,
        CloudWatchOutputConfig: { CloudWatchLogGroupName: deps.logGroupName, CloudWatchOutputEnabled: true },
        Comment: `acm-export ${executionName(request.executionArn)}`.slice(0, 100),
      }),
    );
    commandId = out.Command?.CommandId;
    responseTargets = out.Command?.TargetCount ?? 0;
  } catch (error) {
    // Leave no target stuck "InProgress" when the command never went out (throttling is retried instead).
    if (!isThrottling(error)) {
      await recordDeployOutcome(deps, key, request.executionArn, { status: 'Failed', at: now().toISOString() }).catch(() => false);
    }
    return rethrowThrottling(error, 'ssm:SendCommand');
  }
  if (!commandId) throw new Error('ssm:SendCommand returned no command id');
  log('install command sent', { commandId, targetCount: nodes.length });
  return { outcome: 'Sent', commandId, targetCount: Math.max(nodes.length, responseTargets) };
}
