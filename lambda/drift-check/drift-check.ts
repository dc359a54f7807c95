/**
 * drift-check logic (scheduled): for every target in the inventory (a Query on the ByExpiry index, never a
 * Scan), read its nodes' reports from SSM Inventory and compare what they serve and hold with the
 * inventory's lastSerial (findDrift). The reports are refreshed by every install run and, between install
 * runs, by the target's report association (report document), so files changed by hand show up within its
 * schedule. ONE alert per drifting target (node ids, what they serve and hold, the problem their files
 * have, since when), no secrets.
 *
 * Reports alone cannot say how many nodes carry the tag (a node that never reported is invisible), so
 * every checked target's tagged managed nodes are listed too (one paginated DescribeInstanceInformation
 * filtered by the tag, per target and run): a tagged node that reports nothing for the target (offline,
 * agent stopped, never installed) is named in the target's alert as silent.
 *
 * A target whose last deploy is Failed (the push missed some node, e.g. one that was offline) is set to
 * Succeeded, marked as caught up through the association, once every node that carries its tag reports
 * the current serial served and held with no problem. InProgress belongs to a running execution and is
 * left to it; targets being removed are skipped altogether.
 *
 * Then, when the secret prefix is known, the orphaned-secret sweep (orphaned-secrets.ts): one alert listing
 * this stack's target secrets that no inventory item uses (never deleted here).
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { InventoryItem } from '../shared/contract';
import { DriftFinding, findDrift, normalizeSerial } from '../shared/drift';
import { rethrowThrottling } from '../shared/errors';
import { InventoryDeps, recordCatchUp, targetsByExpiry } from '../shared/inventory';
import { matchingNodes, nodeReportsForSecret, observationOf } from '../shared/node-reports';
import { OrphanedSecret, findOrphanedSecrets, orphanedSecretsAlert, ownedSecrets } from './orphaned-secrets';

export interface DriftCheckDeps extends InventoryDeps {
  ssm: SSMClient;
  sns: SNSClient;
  /** With `secretNamePrefix` (`SECRET_NAME_PREFIX`): the orphaned-secret sweep runs. */
  secrets?: SecretsManagerClient;
  secretNamePrefix?: string;
  /** `ALERT_TOPIC_ARN` */
  topicArn: string;
  /** Targets exported less than this many minutes ago are skipped (their rollout may still be running). */
  graceMinutes: number;
  now?: () => Date;
  log?: (message: string, keys?: Record<string, string | number | boolean>) => void;
}

export interface TargetDrift {
  certificateArn: string;
  certName: string;
  target: string;
  expectedSerial: string;
  nodesReporting: number;
  drifting: DriftFinding[];
  /** Managed nodes that carry the target's tag (DescribeInstanceInformation). */
  nodesTagged?: number;
  /** Tagged nodes that report nothing for the target: offline, SSM Agent stopped, or never installed it. */
  silent?: string[];
  /** The target's install association (repairs the nodes at its next run), when known. */
  associationId?: string;
  /** The target's report association (refreshes the reports between install runs), when known. */
  reportAssociationId?: string;
}

export interface DriftCheckResult {
  targetsChecked: number;
  targetsSkipped: number;
  nodesReporting: number;
  driftingNodes: number;
  /** Tagged nodes that reported nothing for their target, summed over the targets. */
  silentNodes: number;
  /** Targets alerted: some node drifts or is silent. */
  driftingTargets: TargetDrift[];
  alertsSent: number;
  /** Targets whose Failed deploy was set to Succeeded because every tagged node caught up. */
  caughtUp: number;
  /** Secrets of this stack no inventory item uses (older than the grace period); reported, never deleted. */
  orphanedSecrets: OrphanedSecret[];
}

export const DEFAULT_DRIFT_GRACE_MINUTES = 120;
const MAX_NODES_IN_ALERT = 50;

/** The line naming the tagged nodes that report nothing for the target (node ids only). */
export function silentNodesLine(drift: TargetDrift): string | undefined {
  const silent = drift.silent ?? [];
  if (silent.length === 0) return undefined;
  const shown = silent.slice(0, MAX_NODES_IN_ALERT).join(', ');
  const more = silent.length > MAX_NODES_IN_ALERT ? ` and ${silent.length - MAX_NODES_IN_ALERT} more` : '';
  return `${silent.length} of ${drift.nodesTagged ?? silent.length} nodes tagged ${drift.target} report nothing for ${drift.certName}: ${shown}${more}`;
}

/**
 * The alert of one target with drifting or silent nodes: subject ≤ 100 characters, a JSON message of
 * identifiers only.
 */
export function driftAlert(drift: TargetDrift, checkedAt: string): { subject: string; message: string } {
  const n = drift.drifting.length;
  const silentLine = silentNodesLine(drift);
  const subject = (
    n > 0
      ? `acm-export: ${n} node(s) drifting from ${drift.certName} (${drift.target})`
      : `acm-export: ${drift.silent?.length ?? 0} of ${drift.nodesTagged ?? 0} node(s) tagged ${drift.target} report nothing for ${drift.certName}`
  ).slice(0, 100);
  const runNow = drift.associationId
    ? `aws ssm start-associations-once --association-ids ${drift.associationId}`
    : undefined;
  const driftLine =
    n > 0
      ? `${n} of ${drift.nodesReporting} reporting node(s) of target ${drift.target} do not serve and hold the current certificate ${drift.certName} as a consistent set of files`
      : undefined;
  const message = {
    alert: [driftLine, silentLine].filter(Boolean).join('; '),
    detectedBy:
      "The target's report association (report document, changes nothing on the nodes), which refreshes the nodes' own reports (custom SSM Inventory) between install runs; install runs refresh them too.",
    certificateArn: drift.certificateArn,
    certName: drift.certName,
    target: drift.target,
    expectedSerial: normalizeSerial(drift.expectedSerial),
    checkedAt,
    ...(drift.associationId ? { associationId: drift.associationId } : {}),
    ...(drift.reportAssociationId ? { reportAssociationId: drift.reportAssociationId } : {}),
    drifting: drift.drifting.slice(0, MAX_NODES_IN_ALERT),
    ...(n > MAX_NODES_IN_ALERT ? { moreDriftingNodes: n - MAX_NODES_IN_ALERT } : {}),
    ...(silentLine
      ? {
          nodesTagged: drift.nodesTagged,
          silentNodes: (drift.silent ?? []).slice(0, MAX_NODES_IN_ALERT),
          silentDetectedBy:
            "The managed nodes carrying the target's tag (DescribeInstanceInformation) compared with the nodes that sent a report for the target's secret.",
        }
      : {}),
    fix:
      'The install association re-installs the current version on these nodes at its next run. To act now: ' +
      (runNow ? `run it once ("${runNow}"), or ` : '') +
      'run "acm-export renew <certificateArn>" (a new export pushed to the target). Nodes that stay behind: check their SSM Agent and the association output.' +
      (silentLine
        ? ' Silent nodes: check that they are Online (aws ssm describe-instance-information) and that the install association ran on them.'
        : ''),
  };
  return { subject, message: JSON.stringify(message, null, 2) };
}

function skip(item: InventoryItem, now: Date, graceMinutes: number): string | undefined {
  // The removal route owns a target being removed: no alert would be true, no repair is wanted.
  if (item.removalStatus) return 'being removed';
  if (!item.lastSecretArn || !item.lastSerial) return 'no completed export';
  const exported = Date.parse(item.lastExportedDate);
  if (!Number.isNaN(exported) && now.getTime() - exported < graceMinutes * 60_000)
    return 'exported within the grace period';
  return undefined;
}

/** Whether every managed node with the target's tag is among the in-sync reporters (and there is one). */
function everyTaggedNodeInSync(tagged: string[], inSync: string[]): boolean {
  const reported = new Set(inSync);
  return inSync.length > 0 && tagged.length > 0 && tagged.every((id) => reported.has(id));
}

export async function checkDrift(deps: DriftCheckDeps): Promise<DriftCheckResult> {
  const log = deps.log ?? (() => undefined);
  const now = (deps.now ?? (() => new Date()))();
  const result: DriftCheckResult = {
    targetsChecked: 0,
    targetsSkipped: 0,
    nodesReporting: 0,
    driftingNodes: 0,
    silentNodes: 0,
    driftingTargets: [],
    alertsSent: 0,
    caughtUp: 0,
    orphanedSecrets: [],
  };
  const items: InventoryItem[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await targetsByExpiry(deps, { limit: 100, startKey });
    for (const item of page.items) {
      items.push(item);
      const reason = skip(item, now, deps.graceMinutes);
      if (reason) {
        result.targetsSkipped++;
        continue;
      }
      result.targetsChecked++;
      const reports = await nodeReportsForSecret(deps.ssm, item.lastSecretArn);
      result.nodesReporting += reports.length;
      const { drifting, inSync } = findDrift(item.lastSerial, reports.map(observationOf));
      const tagged = await matchingNodes(deps.ssm, item.TargetTagKey, item.TargetTagValue);
      const reporting = new Set(reports.map((r) => r.nodeId));
      const silent = tagged.filter((id) => !reporting.has(id));
      if (drifting.length === 0 && silent.length === 0) {
        if (item.lastDeployStatus === 'Failed' && everyTaggedNodeInSync(tagged, inSync)) {
          const key = { certificateArn: item.certificateArn, target: item.target };
          if (await recordCatchUp(deps, key, item.lastExecutionArn, now.toISOString())) {
            result.caughtUp++;
            log('failed deploy caught up through the association', {
              certificateArn: item.certificateArn,
              target: item.target,
              nodes: inSync.length,
            });
          }
        }
        continue;
      }
      const drift: TargetDrift = {
        certificateArn: item.certificateArn,
        certName: item.CertName,
        target: item.target,
        expectedSerial: item.lastSerial,
        nodesReporting: reports.length,
        drifting,
        nodesTagged: tagged.length,
        silent,
        ...(item.associationId ? { associationId: item.associationId } : {}),
        ...(item.reportAssociationId ? { reportAssociationId: item.reportAssociationId } : {}),
      };
      result.driftingTargets.push(drift);
      result.driftingNodes += drifting.length;
      result.silentNodes += silent.length;
      const alert = driftAlert(drift, now.toISOString());
      try {
        await deps.sns.send(
          new PublishCommand({ TopicArn: deps.topicArn, Subject: alert.subject, Message: alert.message }),
        );
        result.alertsSent++;
      } catch (error) {
        rethrowThrottling(error, 'sns:Publish');
      }
      log('drifting target alerted', {
        certificateArn: item.certificateArn,
        target: item.target,
        driftingNodes: drifting.length,
        silentNodes: silent.length,
      });
    }
    startKey = page.lastKey;
  } while (startKey);

  if (deps.secrets && deps.secretNamePrefix) {
    const owned = ownedSecrets(items, deps.secretNamePrefix);
    result.orphanedSecrets = await findOrphanedSecrets(
      deps.secrets,
      deps.secretNamePrefix,
      owned,
      now,
      deps.graceMinutes,
    );
    if (result.orphanedSecrets.length > 0) {
      const alert = orphanedSecretsAlert(result.orphanedSecrets, now.toISOString());
      try {
        await deps.sns.send(
          new PublishCommand({ TopicArn: deps.topicArn, Subject: alert.subject, Message: alert.message }),
        );
        result.alertsSent++;
      } catch (error) {
        rethrowThrottling(error, 'sns:Publish');
      }
      log('orphaned secrets alerted', { orphanedSecrets: result.orphanedSecrets.length });
    }
  }
  return result;
}
