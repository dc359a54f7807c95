/**
 * Deleting a target with its files, end to end through local mode (its own instance, 3 nodes):
 * `DELETE /certificates/{arn}/targets/{target}?removeFiles=true` marks the inventory item Removing, deletes the
 * install and report associations and sends the remove document to the target's tag
 * through the SSM emulator. Every node removes the live files and their .prev copies and drops its custom
 * inventory entry; nothing installs or reports again; `GET .../removal` then deletes the item. A node whose web
 * server still uses the files keeps them: its invocation fails at the configuration test, the item stays
 * (RemovalFailed, shown by `certificates`), and once the server is pointed elsewhere the same command removes
 * the files and the item (the CLI's `--remove-files` waits for that outcome).
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  ListAssociationsCommand,
  ListCommandInvocationsCommand,
  SSMClient,
  type CommandInvocation,
} from '@aws-sdk/client-ssm';
import type { ApiClient } from '../../cli/api-client';
import type { DeleteTargetResponse } from '../../lambda/export-api/api-types';
import { SECRET_AFTER_REMOVAL } from '../../lambda/export-api/delete-target';
import { associationName, reportAssociationName } from '../../lambda/shared/associations';
import { CUSTOM_INVENTORY_TYPE } from '../../lambda/shared/node-reports';
import { LOCAL_DOCUMENT_NAMES } from '../../local/aws-emulator';
import type { LocalNode } from '../../local/nodes';
import { startLocalMode, type LocalMode } from '../../local/runtime';
import { runCli } from '../cli/helpers/cli-runner';
import { apiClient, exportBody, finished, leaks, requestCertificate, servedSerial, startExport } from './support';

jest.setTimeout(120_000);

const TARGET = 'Role=web';

let local: LocalMode;
let api: ApiClient;

beforeAll(async () => {
  local = await startLocalMode({
    nodes: 3,
    tags: { Role: 'web' },
    waitScale: 20,
    ssmMsPerSecond: 30,
    faults: { throttle: {}, notExportable: [], pending: [], nodes: {} },
  });
  api = apiClient(local);
}, 120_000);

afterAll(async () => {
  await local?.close();
});

/**
 * Exports `domain` as CertName `certName` to every node with all the optional outputs. The nodes' HTTPS
 * servers serve the local mode's own CertName, so nothing verifies the served serial (VerifyPort 0).
 */
async function exportTo(domain: string, certName: string): Promise<string> {
  const arn = await requestCertificate(local, domain);
  const started = await startExport(
    api,
    exportBody(local, arn, { CertName: certName, VerifyPort: 0, Pkcs12: true, CombinedPem: true }),
  );
  expect((await finished(local, api, started.executionArn)).status).toBe('SUCCEEDED');
  return arn;
}

/**
 * Every file in the node's certificate and key directories whose name mentions `certName` (live, .prev,
 * rollback copies; the run lock lies in the node's state directory).
 */
function filesOf(node: LocalNode, certName: string): string[] {
  return [node.certDir, node.keyDir]
    .flatMap((dir) =>
      readdirSync(dir)
        .filter((f) => f.includes(certName))
        .map((f) => path.join(dir, f)),
    )
    .sort();
}

function liveFiles(node: LocalNode, certName: string): string[] {
  return [
    path.join(node.certDir, `${certName}.crt`),
    path.join(node.certDir, `${certName}.chain.pem`),
    path.join(node.certDir, `${certName}.fullchain.pem`),
    path.join(node.keyDir, `${certName}.key`),
    path.join(node.keyDir, `${certName}.combined.pem`),
    path.join(node.keyDir, `${certName}.p12`),
  ].sort();
}

async function withSsm<T>(fn: (ssm: SSMClient) => Promise<T>): Promise<T> {
  const ssm = new SSMClient(local.aws.clientConfig());
  try {
    return await fn(ssm);
  } finally {
    ssm.destroy();
  }
}

/** What `aws ssm list-command-invocations --command-id ID --details` shows, once the command is done. */
async function invocations(commandId: string): Promise<CommandInvocation[]> {
  await local.aws.ssm.waitForCommand(commandId);
  return withSsm(
    async (ssm) =>
      (await ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId, Details: true }))).CommandInvocations ??
      [],
  );
}

function outputOf(invocation: CommandInvocation): string {
  return (invocation.CommandPlugins ?? []).map((p) => p.Output ?? '').join('\n');
}

/** The acm-export result line a remove run prints. */
function removeResult(invocation: CommandInvocation): {
  node: string;
  certName: string;
  action: string;
  removed: string[];
  changed: boolean;
} {
  const line = outputOf(invocation)
    .split('\n')
    .find((l) => l.startsWith('{') && l.includes('"action":"remove"'));
  expect(line).toBeDefined();
  return JSON.parse(line!) as ReturnType<typeof removeResult>;
}

async function associationsOf(arn: string): Promise<string[]> {
  return withSsm(async (ssm) => {
    const ids: string[] = [];
    for (const name of [associationName(arn, TARGET), reportAssociationName(arn, TARGET)]) {
      const out = await ssm.send(
        new ListAssociationsCommand({ AssociationFilterList: [{ key: 'AssociationName', value: name }] }),
      );
      ids.push(...(out.Associations ?? []).map((a) => a.AssociationId!));
    }
    return ids;
  });
}

function inventoryCertNames(node: LocalNode): string[] {
  return (local.aws.ssm.inventory.item(node.instanceId, CUSTOM_INVENTORY_TYPE)?.content ?? []).map((c) => c.CertName);
}

test('removeFiles=true: both associations, then the remove run on every node (files and .prev copies gone, inventory entry gone), then the item', async () => {
  const certName = 'retired';
  const arn = await exportTo('retired.remove.example.test', certName);
  // A renewal replaces the files, so every node also holds .prev copies.
  const renewed = await local.renew(arn);
  expect((await finished(local, api, renewed.result.executionArns[0])).status).toBe('SUCCEEDED');
  for (const node of local.nodes) {
    expect(filesOf(node, certName)).toEqual(
      expect.arrayContaining([...liveFiles(node, certName), path.join(node.certDir, `${certName}.crt.prev`)]),
    );
    expect(inventoryCertNames(node)).toContain(certName);
  }
  const associations = await associationsOf(arn);
  expect(associations).toHaveLength(2);
  const servedBefore = await Promise.all(local.nodes.map(async (n) => (await servedSerial(local, n, n.name)).serial));
  const reloadsBefore = local.nodes.map((n) => n.reloadCount());

  const deleted: DeleteTargetResponse = await api.deleteTarget(arn, TARGET, { removeFiles: true });
  expect(deleted).toEqual({
    certificateArn: arn,
    target: TARGET,
    inventoryItemDeleted: false,
    removalStatus: 'Removing',
    associationDeleted: true,
    reportAssociationDeleted: true,
    filesRemoval: {
      requested: true,
      status: 'Sent',
      commandId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      logGroupName: expect.any(String),
      statusPath: `/certificates/${encodeURIComponent(arn)}/targets/${encodeURIComponent(TARGET)}/removal`,
    },
    secretDeletion: { scheduled: false, reason: SECRET_AFTER_REMOVAL },
  });
  if (!deleted.filesRemoval.requested) throw new Error('unreachable');
  const secretOfTarget = () => [...local.aws.secrets.secrets.values()].find((x) => x.tags.some((t) => t.Value === arn));
  expect(secretOfTarget()?.deletedDate).toBeUndefined();
  const commandId = deleted.filesRemoval.commandId;

  // The associations are gone at once; the command was sent after the associations were deleted; the item
  // stays, Removing, until the nodes confirmed.
  expect(await associationsOf(arn)).toEqual([]);
  for (const id of associations) expect(local.aws.ssm.associations.ids()).not.toContain(id);
  expect((await api.allCertificates()).find((i) => i.certificateArn === arn)).toMatchObject({
    removalStatus: 'Removing',
    removalCommandId: commandId,
  });
  const ssmOps = local.aws.records.filter((r) => r.service === 'ssm').map((r) => r.operation);
  expect(ssmOps.lastIndexOf('DeleteAssociation')).toBeLessThan(ssmOps.lastIndexOf('SendCommand'));
  const send = local.aws.records.filter((r) => r.service === 'ssm' && r.operation === 'SendCommand').at(-1)!;
  expect(send.request).toMatchObject({
    DocumentName: LOCAL_DOCUMENT_NAMES.remove,
    MaxErrors: '100%',
    Parameters: expect.objectContaining({ CertName: [certName] }),
  });

  const runs = await invocations(commandId);
  expect(runs.map((r) => r.InstanceId).sort()).toEqual(local.nodes.map((n) => n.instanceId).sort());
  for (const node of local.nodes) {
    const run = runs.find((r) => r.InstanceId === node.instanceId)!;
    expect({ node: node.name, status: run.Status }).toEqual({ node: node.name, status: 'Success' });
    const result = removeResult(run);
    expect(result).toMatchObject({ certName, action: 'remove', changed: true });
    expect(result.removed).toEqual(
      expect.arrayContaining(
        ['.crt', '.chain.pem', '.fullchain.pem', '.key', '.combined.pem', '.p12', '.crt.prev'].map((s) =>
          expect.stringContaining(`${certName}${s}`),
        ),
      ),
    );
    expect(filesOf(node, certName)).toEqual([]);
    expect(inventoryCertNames(node)).not.toContain(certName);
  }
  // Nothing else changed on the nodes: the server kept serving what it served, with no reload.
  expect(await Promise.all(local.nodes.map(async (n) => (await servedSerial(local, n, n.name)).serial))).toEqual(
    servedBefore,
  );
  expect(local.nodes.map((n) => n.reloadCount())).toEqual(reloadsBefore);

  // Nothing installs or reports again: a run-now of every association starts nothing for this target.
  const associationRuns = local.aws.ssm.associations.runs.length;
  await local.runAssociations();
  expect(local.aws.ssm.associations.runs.length).toBe(associationRuns);
  for (const node of local.nodes) expect(filesOf(node, certName)).toEqual([]);

  // Every node confirmed: the removal check deletes the item.
  expect(await api.targetRemoval(arn, TARGET)).toMatchObject({
    status: 'Removed',
    commandId,
    nodes: { total: 3, completed: 3, failed: 0 },
    failures: [],
    secretDeletion: { scheduled: true, recoveryWindowDays: 7 },
  });
  // ... and the target's secret (its private key) is scheduled for deletion: no longer readable.
  expect(secretOfTarget()?.deletedDate).toEqual(expect.any(String));
  const deleteCall = local.aws.records.filter((r) => r.operation === 'DeleteSecret').at(-1);
  expect(deleteCall?.request).toMatchObject({ RecoveryWindowInDays: 7 });
  expect((await api.allCertificates()).find((i) => i.certificateArn === arn)).toBeUndefined();

  // Repeating the request: the record is gone, so nothing says which files to remove (404, nothing sent).
  const sends = local.aws.records.filter((r) => r.operation === 'SendCommand').length;
  await expect(api.deleteTarget(arn, TARGET, { removeFiles: true })).rejects.toMatchObject({ status: 404 });
  expect(local.aws.records.filter((r) => r.operation === 'SendCommand').length).toBe(sends);
  expect(leaks(local)).toEqual([]);
});

test('a node whose web server still uses the files keeps them: the CLI reports the refusal and the item stays (RemovalFailed); once nginx is pointed elsewhere, the same command removes the files and the item', async () => {
  const certName = 'pinned';
  const arn = await exportTo('pinned.remove.example.test', certName);
  const [pinned, ...others] = local.nodes;
  // node-1's server is pointed at this target's files (as an operator would), and reloaded.
  const original = readFileSync(pinned.confPath, 'utf8');
  const repointed = original
    .split(path.join(pinned.certDir, `${local.certName}.fullchain.pem`))
    .join(path.join(pinned.certDir, `${certName}.fullchain.pem`))
    .split(path.join(pinned.keyDir, `${local.certName}.key`))
    .join(path.join(pinned.keyDir, `${certName}.key`));
  expect(repointed).not.toBe(original);
  writeFileSync(pinned.confPath, repointed);
  await pinned.reload();
  const cliRun = (args: string[]) =>
    runCli(['--endpoint', local.apiEndpoint, ...args], {
      env: {
        AWS_ACCESS_KEY_ID: local.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: local.credentials.secretAccessKey,
        AWS_REGION: local.region,
      },
      // The CLI waits for the nodes: real (short) pauses between its checks.
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 100))),
    });
  const removeArgs = ['targets', 'delete', arn, '--tag', TARGET, '--remove-files'];
  let restored = false;
  try {
    const cli = await cliRun(removeArgs);
    expect(cli.stderr).toBe('');
    // The refusal is the outcome: exit 1, the pinned node named with the reason, the item kept.
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain('the inventory item stays (RemovalFailed)');
    expect(cli.stdout).toMatch(
      new RegExp(
        `node ${pinned.instanceId} kept the files: FAILED at configtest: nginx configuration test fails without the files`,
      ),
    );
    for (const node of others) expect(cli.stdout).not.toContain(node.instanceId);
    const commandId = /removal command: ([0-9a-f-]{36})/.exec(cli.stdout)?.[1];
    expect(commandId).toBeDefined();
    expect(cli.stdout).toContain(
      `aws ssm list-command-invocations --region ${local.region} --command-id ${commandId} --details`,
    );

    const runs = await invocations(commandId!);
    const pinnedRun = runs.find((r) => r.InstanceId === pinned.instanceId)!;
    expect(pinnedRun.Status).toBe('Failed');
    expect(outputOf(pinnedRun)).toMatch(/FAILED at configtest: nginx configuration test fails without the files/);
    expect(pinnedRun.CommandPlugins?.[0]?.ResponseCode).toBe(16);
    // Everything is back where it was on that node, and it still serves the files.
    expect(filesOf(pinned, certName)).toEqual(liveFiles(pinned, certName));
    expect(inventoryCertNames(pinned)).toContain(certName);
    const served = await servedSerial(local, pinned, pinned.name);
    expect(served.serial).toBe(local.aws.acm.current(arn)!.serial.replace(/:/g, '').toUpperCase());
    // The other nodes were not held back (MaxErrors 100%).
    for (const node of others) {
      const run = runs.find((r) => r.InstanceId === node.instanceId)!;
      expect({ node: node.name, status: run.Status }).toEqual({ node: node.name, status: 'Success' });
      expect(filesOf(node, certName)).toEqual([]);
      expect(inventoryCertNames(node)).not.toContain(certName);
    }
    // No association re-installs on the others; the item stays as the record of what the pinned node holds.
    expect(await associationsOf(arn)).toEqual([]);
    const row = (await api.allCertificates()).find((i) => i.certificateArn === arn);
    expect(row).toMatchObject({ removalStatus: 'RemovalFailed', removalCommandId: commandId });
    expect(row?.removalFailures).toHaveLength(1);
    const listing = await cliRun(['certificates', '--all']);
    expect(listing.code).toBe(0);
    expect(listing.stdout).toMatch(new RegExp(`${certName}\\s.*RemovalFailed since `));
    expect(listing.stdout).toContain(
      `removal failed: ${certName} (${TARGET}): node ${pinned.instanceId} kept the files`,
    );
    // A renewal now leaves the target alone (nothing reinstalled on the nodes that removed the files).
    const renewed = await local.renew(arn);
    expect(renewed.result).toMatchObject({ started: 0, skipped: 1 });
    for (const node of others) expect(filesOf(node, certName)).toEqual([]);

    // The operator points nginx back at its own files; the same command now removes them and the item.
    writeFileSync(pinned.confPath, original);
    await pinned.reload();
    restored = true;
    const again = await cliRun(removeArgs);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('files removed from every node (3/3 node(s) done); the inventory item was deleted');
    expect(filesOf(pinned, certName)).toEqual([]);
    expect(inventoryCertNames(pinned)).not.toContain(certName);
    expect((await api.allCertificates()).find((i) => i.certificateArn === arn)).toBeUndefined();
  } finally {
    if (!restored) {
      writeFileSync(pinned.confPath, original);
      await pinned.reload().catch(() => undefined);
    }
  }
  expect(leaks(local)).toEqual([]);
});
