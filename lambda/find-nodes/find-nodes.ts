/**
 * find-nodes logic, the workflow's first step: the certificate can be exported (DescribeCertificate, no
 * export) and which managed nodes carry the target tag. It runs before anything is exported, so a DryRun
 * and a tag no node carries end the execution with no secret written (a secret with no target would have no
 * inventory item, and nothing would ever delete it).
 */
import { ACMClient } from '@aws-sdk/client-acm';
import { SSMClient } from '@aws-sdk/client-ssm';
import { describeExportable } from '../shared/certificate';
import type { NodesTaskResult } from '../shared/contract';
import { NoMatchingNodes } from '../shared/errors';
import { matchingNodes } from '../shared/node-reports';
import type { ResolvedExportRequest } from '../shared/schemas';
import type { ArnScope } from '../shared/workflow';

export interface FindNodesDeps {
  acm: ACMClient;
  ssm: SSMClient;
  scope: ArnScope;
  log?: (message: string, keys?: Record<string, string | number | boolean>) => void;
}

/** At most this many node ids travel in the workflow state (and the DryRun answer of GET /exports). */
export const MAX_DRY_RUN_NODE_IDS = 1000;

export async function findNodes(input: ResolvedExportRequest, deps: FindNodesDeps): Promise<NodesTaskResult> {
  const tag = `${input.TargetTagKey}=${input.TargetTagValue}`;
  // The same certificate checks as acm-export, so a DryRun also answers "can this certificate be exported?".
  await describeExportable(deps.acm, input.CertificateArn, deps.scope);
  const nodes = await matchingNodes(deps.ssm, input.TargetTagKey, input.TargetTagValue);
  if (nodes.length === 0) {
    throw new NoMatchingNodes(`no managed node carries ${tag}: nothing was exported`);
  }
  if (input.DryRun) {
    deps.log?.('dry run: matching nodes found, nothing exported', { targetCount: nodes.length });
    return { outcome: 'DryRun', targetCount: nodes.length, nodeIds: nodes.slice(0, MAX_DRY_RUN_NODE_IDS) };
  }
  return { outcome: 'Export', targetCount: nodes.length };
}
