/**
 * ssm-run logic: find the managed nodes carrying the target tag, claim the inventory item for this export
 * (an older export arriving late is Superseded), upsert the target's install and report associations, then
 * send the install document to the tag. Parameters are identifiers and options only; the node fetches the
 * secret version itself.
 */
import { SSMClient, SendCommandCommand } from '@aws-sdk/client-ssm';
import { AssociationKind, AssociationSpec, UpsertOptions, upsertAssociation } from '../shared/associations';
import { ExportTaskResult, InstallTaskResult, InventoryItem, targetKey } from '../shared/contract';
import { AcmExportError, NoMatchingNodes, isThrottling, rethrowThrottling } from '../shared/errors';
import { optionsToStore } from '../shared/fields';
import { TargetProfile, documentParameters, installCommandInput } from '../shared/install-command';
import { InventoryDeps, recordAssociation, recordDeployOutcome, recordExport } from '../shared/inventory';
import { matchingNodeStates } from '../shared/node-reports';
import { DEFAULT_CONVERGENCE_SCHEDULE, DEFAULT_DRIFT_REPORT_SCHEDULE } from '../shared/patterns';
import type { ResolvedExportRequest } from '../shared/schemas';

export interface InstallDeps extends InventoryDeps {
  ssm: SSMClient;
  /** `DOCUMENT_NAME`: the install document (the push, the install association). */
  documentName: string;
  /** `REPORT_DOCUMENT_NAME`: the report document (the report association). */
  reportDocumentName: string;
  /** `STACK_NAME`: tags the associations so that only this stack's export-api may delete them. */
  stackName: string;
  /** `COMMAND_LOG_GROUP` */
  logGroupName: string;
  /** `COMMAND_TIMEOUT_SECONDS` (30..2592000) */
  timeoutSeconds: number;
  /** Region the nodes fetch the secret from. */
  region: string;
  /** `CONVERGENCE_SCHEDULE`: schedule of the install associations when the request sets none. */
  convergenceSchedule?: string;
  /** `DRIFT_REPORT_SCHEDULE`: schedule of the report associations (default DEFAULT_DRIFT_REPORT_SCHEDULE). */
  reportSchedule?: string;
  now?: () => Date;
  log?: (message: string, keys?: Record<string, string | number | boolean>) => void;
}

export interface InstallRequest {
  input: ResolvedExportRequest;
  export: ExportTaskResult;
  executionArn: string;
  executionStartTime: string;
}

export function profileFromRequest(i: ResolvedExportRequest): TargetProfile {
  return optionsToStore(i);
}

/** The push's parameters (the exact version this export wrote). */
export function commandParameters(request: InstallRequest, region: string): Record<string, string[]> {
  return documentParameters(
    profileFromRequest(request.input),
    { secretArn: request.export.secretArn, versionId: request.export.secretVersionId },
    region,
  );
}

function executionName(executionArn: string): string {
  return executionArn.slice(executionArn.lastIndexOf(':') + 1);
}

export async function runInstall(request: InstallRequest, deps: InstallDeps): Promise<InstallTaskResult> {
  const log = deps.log ?? (() => undefined);
  const now = deps.now ?? (() => new Date());
  const i = request.input;
  const tag = `${i.TargetTagKey}=${i.TargetTagValue}`;

  const nodes = await matchingNodeStates(deps.ssm, i.TargetTagKey, i.TargetTagValue);
  // find-nodes checked before the export; the nodes may have gone since (DryRun never reaches this task).
  if (nodes.length === 0) {
    throw new NoMatchingNodes(`no managed node carries the tag ${tag} (checked with ssm:DescribeInstanceInformation)`);
  }

  const key = { certificateArn: i.CertificateArn, target: targetKey(i.TargetTagKey, i.TargetTagValue) };
  const claim = await recordExport(deps, key, {
    ...profileFromRequest(i),
    ConvergenceSchedule: i.ConvergenceSchedule ?? deps.convergenceSchedule ?? DEFAULT_CONVERGENCE_SCHEDULE,
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
    if (claim.removalRequestedAt)
      log("the target's removal was requested after this export started; not installing", {
        removalRequestedAt: claim.removalRequestedAt,
      });
    else log('a newer export already owns this target; not installing', { supersededBy: claim.newerExecutionArn });
    return { outcome: 'Superseded', targetCount: 0, supersededBy: claim.newerExecutionArn };
  }

  // Convergence first (nothing sent yet, so a throttled task retries cleanly). Any other failure is
  // reported in the result and the logs but does not hold back the push: renewals must still deploy.
  const offlineNodes = nodes.filter((n) => !n.online).length;
  if (offlineNodes > 0)
    log('some nodes are offline: the install association is re-applied so that they install on return', {
      offlineNodes,
    });
  const associations = await ensureAssociations(request, claim.item, key, deps, log, offlineNodes);

  let commandId: string | undefined;
  let responseTargets = 0;
  try {
    const out = await deps.ssm.send(
      new SendCommandCommand(
        installCommandInput(deps, {
          tagKey: i.TargetTagKey,
          tagValue: i.TargetTagValue,
          parameters: commandParameters(request, deps.region),
          maxConcurrency: i.MaxConcurrency,
          maxErrors: i.MaxErrors,
          comment: `acm-export ${executionName(request.executionArn)}`,
        }),
      ),
    );
    commandId = out.Command?.CommandId;
    responseTargets = out.Command?.TargetCount ?? 0;
  } catch (error) {
    // Leave no target stuck "InProgress" when the command never went out (throttling is retried instead).
    if (!isThrottling(error)) {
      await recordDeployOutcome(deps, key, request.executionArn, { status: 'Failed', at: now().toISOString() }).catch(
        () => false,
      );
    }
    return rethrowThrottling(error, 'ssm:SendCommand');
  }
  if (!commandId) throw new Error('ssm:SendCommand returned no command id');
  log('install command sent', { commandId, targetCount: nodes.length });
  return { outcome: 'Sent', commandId, targetCount: Math.max(nodes.length, responseTargets), ...associations };
}

type AssociationOutcome = Pick<
  InstallTaskResult,
  'associationId' | 'associationError' | 'reportAssociationId' | 'reportAssociationError'
>;

const ASSOCIATION_LABEL: Record<AssociationKind, string> = {
  install: 'convergence association',
  report: 'report association',
};

/**
 * Upserts the target's install association (AWSCURRENT on the convergence schedule) and its report
 * association (report document on the drift-report schedule), then stores their ids. An association that
 * already matches is not updated (an update re-runs it on every node), so a renewal's only run per node is
 * the push; except the install association when some node is offline, so that it catches up on its return. Throttling is rethrown
 * (the task retries; an association created meanwhile is found again by its name); any other failure of
 * either is reported in the result and does not hold back the push, nor the other association.
 */
async function ensureAssociations(
  request: InstallRequest,
  item: InventoryItem,
  key: { certificateArn: string; target: string },
  deps: InstallDeps,
  log: NonNullable<InstallDeps['log']>,
  offlineNodes: number,
): Promise<AssociationOutcome> {
  const i = request.input;
  const profile = profileFromRequest(i);
  const secretArn = request.export.secretArn;
  const base = {
    certificateArn: key.certificateArn,
    target: key.target,
    tagKey: i.TargetTagKey,
    tagValue: i.TargetTagValue,
    maxConcurrency: i.MaxConcurrency,
  };
  const install = await upsertOne(
    'install',
    {
      ...base,
      parameters: documentParameters(profile, { secretArn, stage: 'AWSCURRENT' }, deps.region),
      schedule:
        item.ConvergenceSchedule ?? i.ConvergenceSchedule ?? deps.convergenceSchedule ?? DEFAULT_CONVERGENCE_SCHEDULE,
    },
    item.associationId,
    deps,
    log,
    // An offline node misses the push unless it returns within the delivery timeout; a re-applied install
    // association runs on it when it comes back (and once more, changing nothing, on the online ones).
    { reapply: offlineNodes > 0 },
  );
  const report = await upsertOne(
    'report',
    {
      ...base,
      parameters: documentParameters(profile, { secretArn, document: 'report' }, deps.region),
      schedule: deps.reportSchedule ?? DEFAULT_DRIFT_REPORT_SCHEDULE,
    },
    item.reportAssociationId,
    deps,
    log,
  );
  const changed = {
    ...(install.id && install.id !== item.associationId ? { associationId: install.id } : {}),
    ...(report.id && report.id !== item.reportAssociationId ? { reportAssociationId: report.id } : {}),
  };
  if (Object.keys(changed).length > 0) await recordAssociation(deps, key, request.executionArn, changed);
  return {
    ...(install.id ? { associationId: install.id } : { associationError: install.error }),
    ...(report.id ? { reportAssociationId: report.id } : { reportAssociationError: report.error }),
  };
}

async function upsertOne(
  kind: AssociationKind,
  spec: Omit<AssociationSpec, 'kind'>,
  knownId: string | undefined,
  deps: InstallDeps,
  log: NonNullable<InstallDeps['log']>,
  options: UpsertOptions = {},
): Promise<{ id: string; error?: undefined } | { id?: undefined; error: string }> {
  const label = ASSOCIATION_LABEL[kind];
  try {
    const { associationId, action, differences } = await upsertAssociation({ kind, ...spec }, deps, knownId, options);
    // Field names only: the parameters' values are not logged.
    log(`${label} ${action}`, {
      associationId,
      schedule: spec.schedule,
      ...(differences ? { differences: differences.join(',') } : {}),
    });
    return { id: associationId };
  } catch (error) {
    if (isThrottling(error) || (error instanceof AcmExportError && error.name === 'Throttled')) throw error;
    const name = error instanceof Error ? error.name : 'Error';
    log(`could not create or update the ${label}; the push goes out anyway`, { errorName: name });
    return { error: `${name}: the ${label} could not be created or updated` };
  }
}
