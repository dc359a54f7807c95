/**
 * Per-node state from SSM Inventory: the install and report documents write one Custom:AcmExportCertificate
 * entry per certificate on the node (see ssm-documents/lib/inventory.sh), which the SSM Agent's inventory
 * collection uploads. Install runs (push and install association) and report runs (the report association,
 * report document) both rewrite it: a report run refreshes Serial, ServedSerial, NotAfter, Verified,
 * InstalledAt, CheckedAt and Problem and keeps the last install run's LastRun, LastRunAt, FailedStep and
 * SecretVersionId. One paginated GetInventory per target (filtered on the target's secret ARN), never
 * one call per node.
 *
 * SSM API used: GetInventory { Filters: [{ Key: 'Custom:AcmExportCertificate.SecretId', Values: [arn],
 * Type: 'Equal' }], ResultAttributes: [{ TypeName: 'Custom:AcmExportCertificate' }], MaxResults, NextToken }
 * → { Entities: [{ Id: <node id>, Data: { 'Custom:AcmExportCertificate': { CaptureTime, Content: [{...}] } } }],
 * NextToken }.
 *
 * Also the managed nodes that carry a target's tag (DescribeInstanceInformation, all pages): the nodes a push
 * goes to, and the nodes whose reports the drift check must see before it calls a failed deploy caught up.
 */
import {
  DescribeInstanceInformationCommand,
  DescribeInstanceInformationCommandOutput,
  GetInventoryCommand,
  GetInventoryCommandOutput,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { rethrowThrottling } from './errors';
import type { Observation } from './drift';

export const CUSTOM_INVENTORY_TYPE = 'Custom:AcmExportCertificate';

/** One node's entry for one certificate (all values are strings in SSM Inventory). */
export interface NodeReport {
  nodeId: string;
  certName: string;
  target: string;
  secretId: string;
  secretVersionId: string;
  /** Serial of the installed certificate file (OpenSSL form). */
  serial: string;
  /** Serial served on VerifyPort at the last run; empty when not checked. */
  servedSerial: string;
  notAfter: string;
  verified: boolean;
  /** When the installed files were written. */
  installedAt: string;
  /** installed | unchanged | skipped (an older version arrived late) | failed */
  lastRun: string;
  failedStep: string;
  lastRunAt: string;
  /** When the node last looked at its files and served certificate (any run, install or report); empty from older scripts. */
  checkedAt: string;
  /** Empty, or one line saying why the files are not a consistent set (missing file, key not matching the certificate). */
  problem: string;
  /** When the SSM Agent collected the entry. */
  capturedAt: string;
}

const text = (value: unknown, max = 512): string => (typeof value === 'string' ? value.slice(0, max) : '');
/** Free text from the node: control characters (line breaks included) become spaces, trimmed, bounded. */
const oneLine = (value: unknown, max: number): string =>
  text(value, max)
    .replace(/\p{Cc}+/gu, ' ')
    .trim();

export function parseReport(nodeId: string, entry: Record<string, string>, capturedAt: string): NodeReport {
  return {
    nodeId,
    certName: text(entry.CertName, 64),
    target: text(entry.Target, 385),
    secretId: text(entry.SecretId, 2048),
    secretVersionId: text(entry.SecretVersionId, 36),
    serial: text(entry.Serial, 80),
    servedSerial: text(entry.ServedSerial, 80),
    notAfter: text(entry.NotAfter, 40),
    verified: entry.Verified === 'true',
    installedAt: text(entry.InstalledAt, 40),
    lastRun: text(entry.LastRun, 16),
    failedStep: text(entry.FailedStep, 16),
    lastRunAt: text(entry.LastRunAt, 40),
    checkedAt: text(entry.CheckedAt, 40),
    problem: oneLine(entry.Problem, 300),
    capturedAt: text(capturedAt, 40),
  };
}

/** Every node's report for one target (its secret ARN), across all pages. */
export async function nodeReportsForSecret(ssm: SSMClient, secretArn: string): Promise<NodeReport[]> {
  const reports: NodeReport[] = [];
  let token: string | undefined;
  do {
    let page: GetInventoryCommandOutput;
    try {
      page = await ssm.send(
        new GetInventoryCommand({
          Filters: [{ Key: `${CUSTOM_INVENTORY_TYPE}.SecretId`, Values: [secretArn], Type: 'Equal' }],
          ResultAttributes: [{ TypeName: CUSTOM_INVENTORY_TYPE }],
          MaxResults: 50,
          NextToken: token,
        }),
      );
    } catch (error) {
      return rethrowThrottling(error, 'ssm:GetInventory');
    }
    for (const entity of page.Entities ?? []) {
      const item = entity.Data?.[CUSTOM_INVENTORY_TYPE];
      if (!entity.Id || !item) continue;
      // The filter selects nodes; a node may hold several certificates: keep only this target's entry.
      for (const entry of item.Content ?? []) {
        if (entry.SecretId === secretArn) reports.push(parseReport(entity.Id, entry, item.CaptureTime ?? ''));
      }
    }
    token = page.NextToken;
  } while (token);
  return reports;
}

/**
 * What a node serves and holds, for the drift comparison: the served serial when it was checked, else its
 * files'; the serial of its files; and the problem its last run found in them.
 */
export function observationOf(report: NodeReport): Observation {
  return {
    nodeId: report.nodeId,
    serial: report.servedSerial || report.serial,
    holds: report.serial,
    ...(report.problem ? { problem: report.problem } : {}),
    ...(report.installedAt ? { since: report.installedAt } : {}),
    ...(report.checkedAt ? { checkedAt: report.checkedAt } : {}),
  };
}

/** All managed nodes (EC2 and hybrid) with the tag, across every page. */
export async function matchingNodes(ssm: SSMClient, tagKey: string, tagValue: string): Promise<string[]> {
  return (await matchingNodeStates(ssm, tagKey, tagValue)).map((n) => n.instanceId);
}

/**
 * All managed nodes with the tag, and whether each is online (not PingStatus `ConnectionLost` or `Inactive`:
 * those get a Run Command only if they return before its delivery timeout).
 */
export async function matchingNodeStates(
  ssm: SSMClient,
  tagKey: string,
  tagValue: string,
): Promise<{ instanceId: string; online: boolean }[]> {
  const nodes: { instanceId: string; online: boolean }[] = [];
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
    for (const info of page.InstanceInformationList ?? [])
      if (info.InstanceId)
        nodes.push({
          instanceId: info.InstanceId,
          // Offline only when SSM says so (an answer without a PingStatus is taken as online).
          online: info.PingStatus !== 'ConnectionLost' && info.PingStatus !== 'Inactive',
        });
    token = page.NextToken;
  } while (token);
  return nodes;
}
