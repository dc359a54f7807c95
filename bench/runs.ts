/**
 * 8. Runs per node per renewal: in local mode (real handlers, real definition, real install document on local
 * nodes), export one certificate to N nodes, then renew it, and count per node what the renewal cost: script
 * runs (pushes and association runs), GetSecretValue calls and the KMS decrypts Secrets Manager makes for them
 * (the emulator counts both per calling node). Then run each association once on the unchanged nodes and
 * count the GetSecretValue calls per run. Goals: 1 run, 1 GetSecretValue, 1 decrypt per node per renewal; no
 * GetSecretValue in an association run on a node that already holds the current version.
 */
import {
  DescribeAssociationCommand,
  ListCommandInvocationsCommand,
  SSMClient,
  UpdateAssociationCommand,
  type CommandInvocation,
} from '@aws-sdk/client-ssm';
import { ACMClient } from '@aws-sdk/client-acm';
import { ApiClient } from '../cli/api-client';
import { validateExportRequest } from '../cli/export';
import type { StartExportResponse } from '../lambda/export-api/api-types';
import { associationName, reportAssociationName } from '../lambda/shared/associations';
import { requestExportableCertificate } from '../local/demo';
import { startLocalMode, type LocalMode } from '../local/runtime';
import { row, type BenchRow } from './report';

export interface RunsPerRenewal {
  nodes: number;
  /** Per node, averaged over the nodes (each node's own figure is the same when they all are). */
  perNode: { scriptRuns: number; getSecretValue: number; kmsDecrypt: number };
  /** Of those runs, how many came from association (re)applications rather than the push. */
  associationRunsPerNode: number;
  /** Per run of each association on unchanged nodes. */
  unchangedRun: { install: number; report: number };
  /** Every call the nodes made during the renewal, per node (`service:Operation` → mean count). */
  renewalCallsPerNode: Record<string, number>;
  /** Every call per node per run of each association on unchanged nodes. */
  unchangedRunCalls: { install: Record<string, number>; report: Record<string, number> };
}

const GOALS = { scriptRuns: 1, getSecretValue: 1, kmsDecrypt: 1, unchangedGetSecretValue: 0 };

/** Run Command invocations (pushes) requested since `since`, per node. */
async function pushesSince(ssm: SSMClient, since: Date): Promise<Map<string, number>> {
  const invocations: CommandInvocation[] = [];
  let token: string | undefined;
  do {
    const page = await ssm.send(new ListCommandInvocationsCommand({ MaxResults: 50, NextToken: token }));
    invocations.push(...(page.CommandInvocations ?? []));
    token = page.NextToken;
  } while (token);
  const perNode = new Map<string, number>();
  for (const inv of invocations)
    if (inv.InstanceId && inv.RequestedDateTime && inv.RequestedDateTime >= since)
      perNode.set(inv.InstanceId, (perNode.get(inv.InstanceId) ?? 0) + 1);
  return perNode;
}

/** The nodes' calls by `service:Operation`, summed over `ids` and divided by `divisor`. */
function callsPerNode(local: LocalMode, ids: readonly string[], divisor: number): Record<string, number> {
  const byCaller = local.aws.callCountsByCaller();
  const sum: Record<string, number> = {};
  for (const id of ids) for (const [key, n] of Object.entries(byCaller[id] ?? {})) sum[key] = (sum[key] ?? 0) + n;
  return Object.fromEntries(Object.entries(sum).map(([key, n]) => [key, n / divisor]));
}

function callsOf(local: LocalMode, instanceId: string, key: string): number {
  return local.aws.callCountsByCaller()[instanceId]?.[key] ?? 0;
}

/**
 * Requests an exportable certificate (tagged for export) in the local ACM and exports it to local mode's
 * target through the local API; resolves with its ARN once the export succeeded and the associations ran.
 */
export async function exportNewCertificate(local: LocalMode, domainName: string): Promise<string> {
  const acm = new ACMClient(local.aws.clientConfig());
  try {
    const api = new ApiClient({
      endpoint: new URL(local.apiEndpoint),
      region: local.region,
      credentials: { ...local.credentials },
      fetch: (input, init) => fetch(input, init),
    });
    const certificateArn = await requestExportableCertificate(acm, domainName);
    await runExport(local, api, certificateArn);
    return certificateArn;
  } finally {
    acm.destroy();
  }
}

async function runExport(local: LocalMode, api: ApiClient, certificateArn: string): Promise<void> {
  const [[key, value]] = Object.entries(local.tags);
  const body = validateExportRequest({
    CertificateArn: certificateArn,
    CertName: local.certName,
    TargetTagKey: key,
    TargetTagValue: value,
    Service: 'nginx',
    VerifyPort: 443,
    MaxConcurrency: '100%',
  });
  const started = await api.request<StartExportResponse>('POST', '/exports', { body });
  const status = await local.stepFunctions.waitFor(started.executionArn);
  if (status.status !== 'SUCCEEDED') throw new Error(`the first export ended ${status.status}`);
  await local.waitForAssociations();
}

/**
 * The previous ssm-run's renewal: it sent UpdateAssociation for both associations on every export, with
 * unchanged fields, and SSM re-applied each on every node. Re-sent here as it sent them (every field as
 * DescribeAssociation returns it).
 */
async function reapplyAssociations(ssm: SSMClient, ids: string[]): Promise<void> {
  for (const id of ids) {
    const a = (await ssm.send(new DescribeAssociationCommand({ AssociationId: id }))).AssociationDescription!;
    await ssm.send(
      new UpdateAssociationCommand({
        AssociationId: id,
        Name: a.Name,
        DocumentVersion: a.DocumentVersion,
        AssociationName: a.AssociationName,
        Targets: a.Targets,
        Parameters: a.Parameters,
        ScheduleExpression: a.ScheduleExpression,
        MaxConcurrency: a.MaxConcurrency,
        MaxErrors: a.MaxErrors,
        ComplianceSeverity: a.ComplianceSeverity,
        SyncCompliance: a.SyncCompliance,
      }),
    );
  }
}

/**
 * One export then one renewal on `nodes` local nodes. `reapply`: also re-apply both associations during the
 * renewal, as the previous ssm-run did (the baseline).
 */
export async function measureRunsPerRenewal(nodes: number, reapply = false): Promise<RunsPerRenewal> {
  const local = await startLocalMode({ nodes, tags: { Role: 'web' }, nginx: 'auto' });
  const ssm = new SSMClient(local.aws.clientConfig());
  try {
    const certificateArn = await exportNewCertificate(local, 'runs.bench.acm-export.test');

    // The renewal: ACM re-issues, the renewal event starts one export per stored target.
    local.aws.resetCallCounts();
    const runsBefore = local.aws.ssm.associations.runs.length;
    const since = new Date();
    const target = `${Object.keys(local.tags)[0]}=${Object.values(local.tags)[0]}`;
    const byName = new Map(local.aws.ssm.associations.summaries().map((a) => [a.name, a.id]));
    const associationIds = {
      install: byName.get(associationName(certificateArn, target)),
      report: byName.get(reportAssociationName(certificateArn, target)),
    };
    if (!associationIds.install || !associationIds.report) throw new Error(`no associations for ${target}`);
    const { result } = await local.renew(certificateArn);
    if (reapply) await reapplyAssociations(ssm, [associationIds.install, associationIds.report]);
    for (const arn of result.executionArns) {
      const status = await local.stepFunctions.waitFor(arn);
      if (status.status !== 'SUCCEEDED') throw new Error(`the renewal export ended ${status.status}`);
    }
    await local.waitForAssociations();
    const pushes = await pushesSince(ssm, since);
    const associationRuns = local.aws.ssm.associations.runs.slice(runsBefore);
    const ids = local.nodes.map((n) => n.instanceId);
    const mean = (f: (id: string) => number): number => ids.reduce((sum, id) => sum + f(id), 0) / ids.length;
    const runsOn = (id: string): number => associationRuns.filter((r) => r.instanceId === id).length;
    const perNode = {
      scriptRuns: mean((id) => (pushes.get(id) ?? 0) + runsOn(id)),
      getSecretValue: mean((id) => callsOf(local, id, 'secretsmanager:GetSecretValue')),
      kmsDecrypt: mean((id) => callsOf(local, id, 'kms:Decrypt')),
    };
    const renewalCallsPerNode = callsPerNode(local, ids, ids.length);

    // One run of each association on the nodes, which hold the current version already.
    const unchangedRun = { install: 0, report: 0 };
    const unchangedRunCalls: RunsPerRenewal['unchangedRunCalls'] = { install: {}, report: {} };
    for (const kind of ['install', 'report'] as const) {
      const id = associationIds[kind]!;
      local.aws.resetCallCounts();
      const before = local.aws.ssm.associations.runs.length;
      await local.runAssociations(id);
      const runs = local.aws.ssm.associations.runs.slice(before);
      if (runs.some((r) => r.status !== 'Success')) throw new Error(`an unchanged ${kind} association run failed`);
      const fetched = ids.reduce((sum, node) => sum + callsOf(local, node, 'secretsmanager:GetSecretValue'), 0);
      unchangedRun[kind] = fetched / Math.max(1, runs.length);
      unchangedRunCalls[kind] = callsPerNode(local, ids, Math.max(1, runs.length));
    }
    return {
      nodes,
      perNode,
      associationRunsPerNode: mean(runsOn),
      unchangedRun,
      renewalCallsPerNode,
      unchangedRunCalls,
    };
  } finally {
    ssm.destroy();
    await local.close();
  }
}

export async function benchRuns(options: { nodes: number }, notes: string[]): Promise<BenchRow[]> {
  const m = await measureRunsPerRenewal(options.nodes);
  const before = await measureRunsPerRenewal(options.nodes, true);
  const label = `${m.nodes} node${m.nodes === 1 ? '' : 's'}`;
  const goal = (value: number, target: number): string => `goal ${target}${value <= target ? ', met' : ', not met'}`;
  const rows = [
    row(
      'runs',
      `renewal: script runs per node, ${label}`,
      '',
      m.perNode.scriptRuns,
      before.perNode.scriptRuns,
      goal(m.perNode.scriptRuns, GOALS.scriptRuns),
    ),
    row(
      'runs',
      `renewal: GetSecretValue calls per node, ${label}`,
      '',
      m.perNode.getSecretValue,
      before.perNode.getSecretValue,
      goal(m.perNode.getSecretValue, GOALS.getSecretValue),
    ),
    row(
      'runs',
      `renewal: KMS decrypts per node (by Secrets Manager for the node), ${label}`,
      '',
      m.perNode.kmsDecrypt,
      before.perNode.kmsDecrypt,
      goal(m.perNode.kmsDecrypt, GOALS.kmsDecrypt),
    ),
    row(
      'runs',
      'unchanged node: GetSecretValue calls per install association run',
      '',
      m.unchangedRun.install,
      undefined,
      goal(m.unchangedRun.install, GOALS.unchangedGetSecretValue),
    ),
    row(
      'runs',
      'unchanged node: GetSecretValue calls per report association run',
      '',
      m.unchangedRun.report,
      undefined,
      goal(m.unchangedRun.report, GOALS.unchangedGetSecretValue),
    ),
  ];
  notes.push(
    `Local mode, one certificate exported to ${label}, then renewed; counted by the emulator per calling node (the nodes' aws CLI sends its instance id as the SDK app id). ` +
      `Of the renewal's script runs per node, ${m.associationRunsPerNode} came from association runs; the push is the other. ` +
      `Baseline: the same renewal with both associations re-applied by an UpdateAssociation of unchanged fields, as ssm-run sent it on every export before it compared (${before.associationRunsPerNode} association runs per node). ` +
      "A KMS decrypt is counted for each secret value Secrets Manager returns (it decrypts with the caller's permissions). " +
      "An association run on a node that holds the current version reads it with DescribeSecret and fetches nothing, so the baseline's re-applied runs cost no fetch either.",
  );
  return rows;
}
