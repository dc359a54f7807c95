/**
 * Convergence end to end through local mode (one shared instance, 10 nodes): the convergence association
 * that the workflow creates brings nodes that were offline during an export, and nodes added later, to the
 * current certificate; the drift check reports nodes that do not serve it; unchanged nodes are never
 * reloaded; deleting a target removes its association and inventory item and leaves the files alone.
 * Also prints the convergence measurement (no timed assertion).
 */
import { ListAssociationsCommand, SSMClient } from '@aws-sdk/client-ssm';
import { copyFileSync } from 'node:fs';
import * as path from 'node:path';
import type { ApiClient } from '../../cli/api-client';
import { associationName } from '../../lambda/shared/associations';
import type { LocalNode } from '../../local/nodes';
import { startLocalMode, type LocalMode } from '../../local/runtime';
import { apiClient, currentSerial, exportBody, finished, installedPairMatches, requestCertificate, servedSerial, startExport } from './support';
import { normalizeSerial } from '../../lambda/shared/drift';

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
    if (Date.now() > deadline) throw new Error(`not converged: ${nodes.map((n, i) => `${n.name}=${served[i] || '-'}`).join(' ')}; expected ${serial}`);
    await sleep(50);
  }
}

const reloads = (): Record<string, number> => Object.fromEntries(local.nodes.map((n) => [n.name, n.reloadCount()]));
const delta = (before: Record<string, number>, after: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.keys(before).map((k) => [k, after[k] - before[k]]));
const sum = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

async function listAssociations(): Promise<{ AssociationId?: string; AssociationName?: string }[]> {
  const ssm = new SSMClient(local.aws.clientConfig());
  try {
    const out = await ssm.send(new ListAssociationsCommand({ AssociationFilterList: [{ key: 'AssociationName', value: associationName(arn, TARGET) }] }));
    return out.Associations ?? [];
  } finally {
    ssm.destroy();
  }
}

beforeAll(async () => {
  local = await startLocalMode({
    nodes: FLEET,
    tags: { Role: 'web' },
    waitScale: 20,
    ssmMsPerSecond: 30,
    // Delivery timeout of the push: 60 emulated seconds = 1.8 s, so the export ends soon after its
    // online nodes are done and the offline ones are left to the association.
    commandTimeoutSeconds: 60,
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

test('the export created one convergence association for the target, applied to every node; every node reported its state as custom inventory', async () => {
  const associations = await listAssociations();
  expect(associations).toHaveLength(1);
  const states = local.aws.ssm.associations.nodeStates(associations[0].AssociationId!);
  expect(Object.keys(states).sort()).toEqual(local.nodes.map((n) => n.instanceId).sort());
  for (const node of local.nodes) {
    const item = local.aws.ssm.inventory.item(node.instanceId, 'Custom:AcmExportCertificate');
    expect(item?.content).toEqual([expect.objectContaining({ CertName: local.certName, Target: TARGET, Serial: currentSerial(local, arn) })]);
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
  const message = JSON.parse(String(alert[0].message)) as { target: string; drifting: { nodeId: string; serves: string }[] };
  expect(message.target).toBe(TARGET);
  expect(message.drifting.map((d) => d.nodeId).sort()).toEqual(offline.map((n) => n.instanceId).sort());
  // Alerts show serials normalized like the comparison (no leading zeros): compare in that form.
  expect(new Set(message.drifting.map((d) => normalizeSerial(d.serves)))).toEqual(new Set([normalizeSerial(oldSerial)]));

  // The export is over; the 3 come online and their pending association runs install the current version.
  const reloadsOnline = reloads();
  const tBack = Date.now();
  for (const n of offline) local.setNodeOnline(n.name, true);
  const tConverged = await allServe(local.nodes, newSerial);
  await local.waitForAssociations();
  const afterConvergence = reloads();

  // A scheduled run (run now): every node already has the current version.
  const runsBefore = local.aws.ssm.associations.runs.length;
  await local.runAssociations();
  const tickRuns = local.aws.ssm.associations.runs.slice(runsBefore);
  expect(tickRuns).toHaveLength(FLEET);
  for (const run of tickRuns) {
    expect(run.status).toBe('Success');
    expect(run.stdout).toContain('"changed":false');
    expect(run.stdout).toContain('"reloaded":false');
  }
  const afterTick = reloads();
  // Unchanged nodes: the 7 during the 3's convergence, all 10 during the scheduled run.
  const unchangedDuringCatchUp = Object.fromEntries(online.map((n) => [n.name, afterConvergence[n.name] - reloadsOnline[n.name]]));
  const unchangedDuringTick = delta(afterConvergence, afterTick);
  const unchangedReloads = sum(unchangedDuringCatchUp) + sum(unchangedDuringTick);
  const caughtUpReloads = offline.map((n) => afterConvergence[n.name] - reloadsOnline[n.name]);

  console.log(
    [
      `convergence (local mode, ${local.serverKind} nodes): ${FLEET}-node fleet, ${OFFLINE.length} offline during the export`,
      `  export start -> all ${FLEET} serve the new serial: ${tConverged - t0} ms`,
      `    export (renewal workflow, ${status.status}): ${tExport - t0} ms; the ${online.length} online nodes served it after ${tOnlineDone - t0} ms`,
      `    the ${OFFLINE.length} offline nodes came online ${tBack - t0} ms after the start and served it ${tConverged - tBack} ms later`,
      `  reloads on unchanged nodes: ${unchangedReloads} (catch-up: ${sum(unchangedDuringCatchUp)} on ${online.length} nodes; scheduled run: ${sum(unchangedDuringTick)} on ${FLEET} nodes)`,
      `  reloads on the nodes that caught up: ${caughtUpReloads.join(', ')}`,
    ].join('\n'),
  );
  expect(unchangedReloads).toBe(0);
  expect(caughtUpReloads).toEqual([1, 1, 1]);
  const clean = await local.runDriftCheck();
  expect(clean).toMatchObject({ driftingNodes: 0, alertsSent: 0 });
});

test('a freshly added node with the tag converges without any export', async () => {
  const executions = local.stepFunctions.executions.size;
  const node = await local.addNode();
  await local.waitForAssociations();
  expect(await serves(node)).toBe(currentSerial(local, arn));
  expect(installedPairMatches(local, node)).toEqual({ serial: currentSerial(local, arn), matches: true });
  expect(local.stepFunctions.executions.size).toBe(executions);
  const runs = local.aws.ssm.associations.runs.filter((r) => r.instanceId === node.instanceId);
  expect(runs.map((r) => r.reason)).toEqual(['node-registered']);
});

test('a tampered node whose repair run fails is reported drifting (one alert naming it, DriftingNodes 1); the next run repairs it and the drift check is clean', async () => {
  const node = local.node('node-2');
  const serial = currentSerial(local, arn);
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
  // Its report only changes when something runs on it; this run cannot repair it (a deploy hook fails).
  local.setFaults({ nodes: { 'node-2': { failInstall: true } } });
  await local.runAssociations();
  expect(local.aws.ssm.associations.runs.filter((r) => r.instanceId === node.instanceId).pop()?.status).toBe('Failed');
  expect(await serves(node)).toBe(tampered);

  const alertsBefore = local.alerts.length;
  const logsBefore = local.handlerLogs.length;
  const drift = await local.runDriftCheck();
  expect(drift).toMatchObject({ driftingNodes: 1, driftingTargets: 1, alertsSent: 1 });
  const alerts = local.alerts.slice(alertsBefore);
  expect(alerts).toHaveLength(1);
  expect(alerts[0].subject).toContain(TARGET);
  const message = JSON.parse(String(alerts[0].message)) as { drifting: { nodeId: string; serves: string }[] };
  expect(message.drifting.map((d) => ({ nodeId: d.nodeId, serves: normalizeSerial(d.serves) }))).toEqual([{ nodeId: node.instanceId, serves: normalizeSerial(tampered) }]);
  const metric = local.handlerLogs.slice(logsBefore).find((l) => l.includes('"DriftingNodes"') && l.includes('_aws'));
  expect(metric && (JSON.parse(metric) as { DriftingNodes: number }).DriftingNodes).toBe(1);

  local.setFaults({ nodes: { 'node-2': {} } });
  await local.runAssociations();
  expect(await serves(node)).toBe(serial);
  expect(installedPairMatches(local, node)).toEqual({ serial, matches: true });
  const after = await local.runDriftCheck();
  expect(after).toMatchObject({ driftingNodes: 0, alertsSent: 0 });
});

test('GET /certificates?nodes=true shows every node with the current serial, in sync', async () => {
  const items = await api.allCertificates({ nodes: true });
  const row = items.find((i) => i.certificateArn === arn && i.target === TARGET);
  expect(row?.nodes).toHaveLength(local.nodes.length);
  const serial = currentSerial(local, arn);
  expect(new Set(row!.nodes!.map((n) => n.nodeId))).toEqual(new Set(local.nodes.map((n) => n.instanceId)));
  for (const n of row!.nodes!) expect(n).toMatchObject({ serial, inSync: true });
  expect(row).toMatchObject({ nodesInSync: local.nodes.length, nodesDrifting: 0 });
});

test('DELETE /certificates/{arn}/targets/{target} (signed): the association and the inventory item go, the files stay on the nodes', async () => {
  expect(await listAssociations()).toHaveLength(1);
  const serial = currentSerial(local, arn);
  const deleted = await api.deleteTarget(arn, TARGET);
  expect(deleted).toEqual({ certificateArn: arn, target: TARGET, inventoryItemDeleted: true, associationDeleted: true, filesRemoved: false });
  expect(await listAssociations()).toHaveLength(0);
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
