/**
 * Convergence end to end through local mode (one shared instance, 10 nodes): the install (convergence)
 * association that the workflow creates brings nodes that were offline during an export, and nodes added
 * later, to the current certificate; the report association (report document) makes files changed between
 * install runs visible to the drift check without changing anything; unchanged nodes are never reloaded;
 * deleting a target removes both associations and the inventory item and leaves the files alone.
 * Also prints the convergence measurement (no timed assertion).
 */
import { ListAssociationsCommand, SSMClient } from '@aws-sdk/client-ssm';
import { copyFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import type { ApiClient } from '../../cli/api-client';
import { associationName, reportAssociationName } from '../../lambda/shared/associations';
import type { LocalNode } from '../../local/nodes';
import { startLocalMode, type LocalMode } from '../../local/runtime';
import {
  apiClient,
  currentSerial,
  exportBody,
  finished,
  installedPairMatches,
  requestCertificate,
  servedSerial,
  startExport,
} from './support';
import { normalizeSerial } from '../../lambda/shared/drift';
import { runCli } from '../cli/helpers/cli-runner';

jest.setTimeout(90_000);

const DOMAIN = 'fleet.convergence.example.test';
const FLEET = 10;
const OFFLINE = ['node-8', 'node-9', 'node-10'];
const TARGET = 'Role=web';

let local: LocalMode;
let api: ApiClient;
let arn: string;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function serves(node: LocalNode): Promise<string> {
  return (await servedSerial(local, node, DOMAIN)).serial;
}

/** Polls until every node serves `serial` over TLS; returns when that was first seen. */
async function allServe(nodes: LocalNode[], serial: string, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const served = await Promise.all(nodes.map((n) => serves(n).catch(() => '')));
    if (served.every((s) => s === serial)) return Date.now();
    if (Date.now() > deadline)
      throw new Error(
        `not converged: ${nodes.map((n, i) => `${n.name}=${served[i] || '-'}`).join(' ')}; expected ${serial}`,
      );
    await sleep(50);
  }
}

const reloads = (): Record<string, number> => Object.fromEntries(local.nodes.map((n) => [n.name, n.reloadCount()]));
const delta = (before: Record<string, number>, after: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.keys(before).map((k) => [k, after[k] - before[k]]));
const sum = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

async function listAssociations(
  name = associationName(arn, TARGET),
): Promise<{ AssociationId?: string; AssociationName?: string }[]> {
  const ssm = new SSMClient(local.aws.clientConfig());
  try {
    const out = await ssm.send(
      new ListAssociationsCommand({ AssociationFilterList: [{ key: 'AssociationName', value: name }] }),
    );
    return out.Associations ?? [];
  } finally {
    ssm.destroy();
  }
}

/** The target's two association ids, as the inventory stores them (GET /certificates). */
async function associationIds(): Promise<{ install: string; report: string }> {
  const row = (await api.allCertificates()).find((i) => i.certificateArn === arn && i.target === TARGET);
  expect(row?.associationId).toBeTruthy();
  expect(row?.reportAssociationId).toBeTruthy();
  return { install: row!.associationId!, report: row!.reportAssociationId! };
}

/** The one JSON result line a run printed. */
const resultLine = (stdout: string): Record<string, unknown> => {
  const line = stdout.split('\n').find((l) => l.startsWith('{') && l.includes('"node"'));
  if (!line) throw new Error(`no result line in: ${stdout.slice(0, 300)}`);
  return JSON.parse(line) as Record<string, unknown>;
};

beforeAll(async () => {
  local = await startLocalMode({
    nodes: FLEET,
    tags: { Role: 'web' },
    waitScale: 20,
    ssmMsPerSecond: 30,
    // Delivery timeout of the push: 60 emulated seconds = 1.8 s, so the export ends soon after its
    // online nodes are done and the offline ones are left to the association.
    commandTimeoutSeconds: 60,
    // Association schedules in real seconds: no scheduled run (report: hourly) starts while a test counts
    // runs or reloads; the tests run associations themselves (created, updated, node online, run-now).
    associationMsPerSecond: 1000,
    faults: { throttle: {}, notExportable: [], pending: [], nodes: {} },
  });
  api = apiClient(local);
  arn = await requestCertificate(local, DOMAIN);
  const first = await startExport(api, exportBody(local, arn));
  expect((await finished(local, api, first.executionArn)).status).toBe('SUCCEEDED');
  await local.waitForAssociations();
  await allServe(local.nodes, currentSerial(local, arn));
}, 120_000);

afterAll(async () => {
  await local?.close();
});

test('the export created an install and a report association for the target, both applied to every node; every node reported its state as custom inventory', async () => {
  const ids = await associationIds();
  const install = await listAssociations();
  const report = await listAssociations(reportAssociationName(arn, TARGET));
  expect(install.map((a) => a.AssociationId)).toEqual([ids.install]);
  expect(report.map((a) => a.AssociationId)).toEqual([ids.report]);
  const nodeIds = local.nodes.map((n) => n.instanceId).sort();
  for (const id of [ids.install, ids.report]) {
    const states = local.aws.ssm.associations.nodeStates(id);
    expect(Object.keys(states).sort()).toEqual(nodeIds);
    for (const state of Object.values(states)) expect(state.status).toBe('Success');
  }
  for (const node of local.nodes) {
    const item = local.aws.ssm.inventory.item(node.instanceId, 'Custom:AcmExportCertificate');
    expect(item?.content).toEqual([
      expect.objectContaining({
        CertName: local.certName,
        Target: TARGET,
        Serial: currentSerial(local, arn),
        Problem: '',
      }),
    ]);
    expect(Date.parse(String(item?.content[0].CheckedAt))).not.toBeNaN();
  }
});

test('10-node fleet, 3 offline during a renewal: the export ends, the drift check names the 3, and they converge when they come online; unchanged nodes are not reloaded', async () => {
  const online = local.nodes.filter((n) => !OFFLINE.includes(n.name));
  const offline = local.nodes.filter((n) => OFFLINE.includes(n.name));
  const oldSerial = currentSerial(local, arn);
  for (const n of offline) local.setNodeOnline(n.name, false);

  const t0 = Date.now();
  const renewed = await local.renew(arn);
  expect(renewed.result.executionArns).toHaveLength(1);
  const newSerial = currentSerial(local, arn);
  expect(newSerial).not.toBe(oldSerial);
  const status = await finished(local, api, renewed.result.executionArns[0]);
  const tExport = Date.now();
  await local.waitForAssociations();
  const tOnlineDone = await allServe(online, newSerial);
  for (const n of offline) expect(await serves(n)).toBe(oldSerial);

  // The 3 offline nodes still report the old serial: the drift check names exactly them.
  const alertsBefore = local.alerts.length;
  const drift = await local.runDriftCheck();
  expect(drift).toMatchObject({ driftingNodes: 3, driftingTargets: 1, alertsSent: 1 });
  const alert = local.alerts.slice(alertsBefore);
  expect(alert).toHaveLength(1);
  const message = JSON.parse(String(alert[0].message)) as {
    target: string;
    drifting: { nodeId: string; serves: string }[];
  };
  expect(message.target).toBe(TARGET);
  expect(message.drifting.map((d) => d.nodeId).sort()).toEqual(offline.map((n) => n.instanceId).sort());
  // Alerts show serials normalized like the comparison (no leading zeros): compare in that form.
  expect(new Set(message.drifting.map((d) => normalizeSerial(d.serves)))).toEqual(
    new Set([normalizeSerial(oldSerial)]),
  );

  // The push missed the 3 offline nodes: the workflow recorded the deploy as Failed.
  expect(status.status).toBe('FAILED');
  const row = async () => (await api.allCertificates()).find((i) => i.certificateArn === arn && i.target === TARGET);
  expect(await row()).toMatchObject({ lastDeployStatus: 'Failed' });
  expect((await row())?.lastDeploySource).toBeUndefined();

  // The export is over; the 3 come online and their pending association runs install the current version.
  const reloadsOnline = reloads();
  const tBack = Date.now();
  for (const n of offline) local.setNodeOnline(n.name, true);
  const tConverged = await allServe(local.nodes, newSerial);
  await local.waitForAssociations();
  const afterConvergence = reloads();

  // A scheduled tick of both associations (run now): every node already has the current version; the
  // report runs only look.
  const ids = await associationIds();
  const runsBefore = local.aws.ssm.associations.runs.length;
  await local.runAssociations();
  const tickRuns = local.aws.ssm.associations.runs.slice(runsBefore);
  expect(tickRuns).toHaveLength(2 * FLEET);
  for (const run of tickRuns) expect(run.status).toBe('Success');
  const installRuns = tickRuns.filter((r) => r.associationId === ids.install);
  const reportRuns = tickRuns.filter((r) => r.associationId === ids.report);
  expect(installRuns).toHaveLength(FLEET);
  expect(reportRuns).toHaveLength(FLEET);
  for (const run of installRuns) {
    expect(run.stdout).toContain('"changed":false');
    expect(run.stdout).toContain('"reloaded":false');
  }
  for (const run of reportRuns) {
    expect(resultLine(run.stdout)).toMatchObject({ action: 'report', problem: '' });
    expect(normalizeSerial(String(resultLine(run.stdout).serial))).toBe(normalizeSerial(newSerial));
  }
  const afterTick = reloads();
  // Unchanged nodes: the 7 during the 3's convergence, all 10 during the scheduled run.
  const unchangedDuringCatchUp = Object.fromEntries(
    online.map((n) => [n.name, afterConvergence[n.name] - reloadsOnline[n.name]]),
  );
  const unchangedDuringTick = delta(afterConvergence, afterTick);
  const unchangedReloads = sum(unchangedDuringCatchUp) + sum(unchangedDuringTick);
  const caughtUpReloads = offline.map((n) => afterConvergence[n.name] - reloadsOnline[n.name]);

  console.log(
    [
      `convergence (local mode, ${local.serverKind} nodes): ${FLEET}-node fleet, ${OFFLINE.length} offline during the export`,
      `  export start -> all ${FLEET} serve the new serial: ${tConverged - t0} ms`,
      `    export (renewal workflow, ${status.status}): ${tExport - t0} ms; the ${online.length} online nodes served it after ${tOnlineDone - t0} ms`,
      `    the ${OFFLINE.length} offline nodes came online ${tBack - t0} ms after the start and served it ${tConverged - tBack} ms later`,
      `  reloads on unchanged nodes: ${unchangedReloads} (catch-up: ${sum(unchangedDuringCatchUp)} on ${online.length} nodes; scheduled install and report runs: ${sum(unchangedDuringTick)} on ${FLEET} nodes)`,
      `  reloads on the nodes that caught up: ${caughtUpReloads.join(', ')}`,
    ].join('\n'),
  );
  expect(unchangedReloads).toBe(0);
  expect(caughtUpReloads).toEqual([1, 1, 1]);
  // Every node now reports the current serial: the drift check brings the inventory up to date.
  const clean = await local.runDriftCheck();
  expect(clean).toMatchObject({ driftingNodes: 0, alertsSent: 0, caughtUp: 1 });
  expect(await row()).toMatchObject({
    lastDeployStatus: 'Succeeded',
    lastDeploySource: 'association',
    lastExecutionArn: renewed.result.executionArns[0],
  });
  const listing = await runCli(['--endpoint', local.apiEndpoint, 'certificates', '--all'], {
    env: {
      AWS_ACCESS_KEY_ID: local.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: local.credentials.secretAccessKey,
      AWS_REGION: local.region,
    },
  });
  expect(listing.stdout).toMatch(new RegExp(`${TARGET}\\s.*Succeeded \\d{4}-\\d{2}-\\d{2} \\(caught up\\)`));
  // Once is enough: the next check changes nothing.
  expect(await local.runDriftCheck()).toMatchObject({ caughtUp: 0 });
});

test('a freshly added node with the tag converges without any export', async () => {
  const executions = local.stepFunctions.executions.size;
  const node = await local.addNode();
  await local.waitForAssociations();
  expect(await serves(node)).toBe(currentSerial(local, arn));
  expect(installedPairMatches(local, node)).toEqual({ serial: currentSerial(local, arn), matches: true });
  expect(local.stepFunctions.executions.size).toBe(executions);
  // One run of each association, both because the node registered.
  const ids = await associationIds();
  const runs = local.aws.ssm.associations.runs.filter((r) => r.instanceId === node.instanceId);
  expect(runs.map((r) => r.reason)).toEqual(['node-registered', 'node-registered']);
  expect(runs.map((r) => r.associationId).sort()).toEqual([ids.install, ids.report].sort());
});

test('a node tampered with between install runs: the report run alone makes the drift check name it (nothing changed, no reload); the install run repairs it and the next report is clean', async () => {
  const node = local.node('node-2');
  const serial = currentSerial(local, arn);
  const ids = await associationIds();
  // Tamper: put the previous files back by hand (as a restore from backup would) and reload the server.
  for (const [dir, file] of [
    [node.certDir, `${local.certName}.crt`],
    [node.certDir, `${local.certName}.chain.pem`],
    [node.certDir, `${local.certName}.fullchain.pem`],
    [node.keyDir, `${local.certName}.key`],
  ] as const) {
    copyFileSync(path.join(dir, `${file}.prev`), path.join(dir, file));
  }
  await node.reload();
  // nginx swaps its workers asynchronously: wait until the tampered certificate is served.
  let tampered = await serves(node);
  for (let i = 0; i < 100 && tampered === serial; i++) {
    await sleep(50);
    tampered = await serves(node);
  }
  expect(tampered).not.toBe(serial);
  // Nothing has run since: the node's report still says it serves the current certificate.
  expect(await local.runDriftCheck()).toMatchObject({ driftingNodes: 0, alertsSent: 0 });

  // Only the report association runs (as its hourly schedule would, long before the next install run).
  const beforeReport = reloads();
  const runsBefore = local.aws.ssm.associations.runs.length;
  await local.runAssociations(ids.report);
  const reportRuns = local.aws.ssm.associations.runs.slice(runsBefore);
  expect(reportRuns).toHaveLength(local.nodes.length);
  expect(new Set(reportRuns.map((r) => r.associationId))).toEqual(new Set([ids.report]));
  for (const run of reportRuns) expect(run.status).toBe('Success');
  const own = reportRuns.find((r) => r.instanceId === node.instanceId)!;
  expect(resultLine(own.stdout)).toMatchObject({ action: 'report', problem: '' });
  expect(normalizeSerial(String(resultLine(own.stdout).serial))).toBe(normalizeSerial(tampered));
  expect(normalizeSerial(String(resultLine(own.stdout).servedSerial))).toBe(normalizeSerial(tampered));
  // The report changed nothing: no reload anywhere, node-2 still serves the tampered certificate.
  expect(sum(delta(beforeReport, reloads()))).toBe(0);
  expect(await serves(node)).toBe(tampered);
  expect(installedPairMatches(local, node)).toEqual({ serial: tampered, matches: true });

  const alertsBefore = local.alerts.length;
  const logsBefore = local.handlerLogs.length;
  const drift = await local.runDriftCheck();
  expect(drift).toMatchObject({ driftingNodes: 1, driftingTargets: 1, alertsSent: 1 });
  const alerts = local.alerts.slice(alertsBefore);
  expect(alerts).toHaveLength(1);
  expect(alerts[0].subject).toContain(TARGET);
  const message = JSON.parse(String(alerts[0].message)) as {
    drifting: { nodeId: string; serves: string; holds?: string }[];
    detectedBy: string;
    fix: string;
    reportAssociationId: string;
  };
  expect(
    message.drifting.map((d) => ({ nodeId: d.nodeId, serves: normalizeSerial(d.serves), holds: d.holds })),
  ).toEqual([{ nodeId: node.instanceId, serves: normalizeSerial(tampered), holds: undefined }]);
  expect(message.reportAssociationId).toBe(ids.report);
  expect(message.detectedBy).toContain('report association');
  expect(message.fix).toContain(ids.install);
  const metric = local.handlerLogs.slice(logsBefore).find((l) => l.includes('"DriftingNodes"') && l.includes('_aws'));
  expect(metric && (JSON.parse(metric) as { DriftingNodes: number }).DriftingNodes).toBe(1);
  expect(await serves(node)).toBe(tampered);

  // The install association's run repairs node-2 (one reload there, none elsewhere).
  const beforeRepair = reloads();
  await local.runAssociations(ids.install);
  expect(await serves(node)).toBe(serial);
  expect(installedPairMatches(local, node)).toEqual({ serial, matches: true });
  expect(delta(beforeRepair, reloads())).toEqual({
    ...Object.fromEntries(local.nodes.map((n) => [n.name, 0])),
    [node.name]: 1,
  });

  // The next report run: clean.
  const beforeClean = reloads();
  await local.runAssociations(ids.report);
  expect(sum(delta(beforeClean, reloads()))).toBe(0);
  expect(await local.runDriftCheck()).toMatchObject({ driftingNodes: 0, alertsSent: 0 });
});

test('a node whose key file was removed by hand: the report run names the problem while it still serves the current certificate; the install run puts the key back', async () => {
  const node = local.node('node-3');
  const serial = currentSerial(local, arn);
  const ids = await associationIds();
  const keyFile = path.join(node.keyDir, `${local.certName}.key`);
  rmSync(keyFile);

  const before = reloads();
  await local.runAssociations(ids.report);
  expect(sum(delta(before, reloads()))).toBe(0);
  expect(await serves(node)).toBe(serial);
  const entry = local.aws.ssm.inventory.item(node.instanceId, 'Custom:AcmExportCertificate')?.content[0];
  expect(String(entry?.Problem)).toContain(keyFile);

  const alertsBefore = local.alerts.length;
  expect(await local.runDriftCheck()).toMatchObject({ driftingNodes: 1, alertsSent: 1 });
  const message = JSON.parse(String(local.alerts.slice(alertsBefore)[0].message)) as {
    drifting: { nodeId: string; serves: string; problem?: string }[];
  };
  expect(message.drifting).toHaveLength(1);
  expect(message.drifting[0]).toMatchObject({ nodeId: node.instanceId, problem: expect.stringContaining(keyFile) });
  expect(normalizeSerial(message.drifting[0].serves)).toBe(normalizeSerial(serial));
  const row = (await api.allCertificates({ nodes: true })).find((i) => i.certificateArn === arn && i.target === TARGET);
  expect(row?.nodes?.find((n) => n.nodeId === node.instanceId)).toMatchObject({
    inSync: false,
    problem: expect.stringContaining(keyFile),
  });

  await local.runAssociations(ids.install);
  expect(installedPairMatches(local, node)).toEqual({ serial, matches: true });
  await local.runAssociations(ids.report);
  expect(await local.runDriftCheck()).toMatchObject({ driftingNodes: 0, alertsSent: 0 });
});

test('GET /certificates?nodes=true shows every node with the current serial, in sync', async () => {
  const items = await api.allCertificates({ nodes: true });
  const row = items.find((i) => i.certificateArn === arn && i.target === TARGET);
  expect(row?.nodes).toHaveLength(local.nodes.length);
  const serial = currentSerial(local, arn);
  expect(new Set(row!.nodes!.map((n) => n.nodeId))).toEqual(new Set(local.nodes.map((n) => n.instanceId)));
  for (const n of row!.nodes!) {
    expect(n).toMatchObject({ serial, inSync: true });
    expect(n).not.toHaveProperty('problem');
    expect(Date.parse(n.checkedAt ?? '')).not.toBeNaN();
  }
  expect(row).toMatchObject({ nodesInSync: local.nodes.length, nodesDrifting: 0 });
});

test('DELETE /certificates/{arn}/targets/{target} (signed): both associations and the inventory item go, the files stay on the nodes', async () => {
  expect(await listAssociations()).toHaveLength(1);
  expect(await listAssociations(reportAssociationName(arn, TARGET))).toHaveLength(1);
  const serial = currentSerial(local, arn);
  const deleted = await api.deleteTarget(arn, TARGET);
  expect(deleted).toEqual({
    certificateArn: arn,
    target: TARGET,
    inventoryItemDeleted: true,
    associationDeleted: true,
    reportAssociationDeleted: true,
    filesRemoval: { requested: false },
    // The target's secret (its private key) goes too, restorable for 7 days.
    secretDeletion: { scheduled: true, recoveryWindowDays: 7, deletionDate: expect.any(String) },
  });
  const secret = [...local.aws.secrets.secrets.values()].find((x) => x.tags.some((t) => t.Value === arn));
  expect(secret?.deletedDate).toEqual(expect.any(String));
  expect(await listAssociations()).toHaveLength(0);
  expect(await listAssociations(reportAssociationName(arn, TARGET))).toHaveLength(0);
  expect(local.aws.ssm.associations.ids()).toHaveLength(0);
  const items = await api.allCertificates();
  expect(items.find((i) => i.certificateArn === arn)).toBeUndefined();
  for (const node of local.nodes) {
    expect(installedPairMatches(local, node)).toEqual({ serial, matches: true });
    expect(await serves(node)).toBe(serial);
  }
  // Nothing converges the target any more: a run-now starts nothing.
  const runs = local.aws.ssm.associations.runs.length;
  await local.runAssociations();
  expect(local.aws.ssm.associations.runs.length).toBe(runs);
});
