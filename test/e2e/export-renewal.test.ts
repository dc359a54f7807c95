/**
 * End to end through local mode: the real handlers, the real state machine definition, the real install
 * script on 3 local nodes running nginx, the signed local API.
 */
import type { ApiClient } from '../../cli/api-client';
import { EXIT_NOT_INSTALLED, exitCodeFor, summaryLines } from '../../cli/wait';
import { startLocalNode, type LocalNode } from '../../local/nodes';
import { startLocalMode, type LocalMode } from '../../local/runtime';
import {
  apiClient,
  currentSerial,
  exportBody,
  finished,
  installedPairMatches,
  leaks,
  requestCertificate,
  servedSerial,
  startExport,
  type KeyAlgorithm,
} from './support';

let local: LocalMode;
let api: ApiClient;
let edge: LocalNode;

beforeAll(async () => {
  local = await startLocalMode({
    nodes: 3,
    tags: { Role: 'web' },
    waitScale: 20,
    ssmMsPerSecond: 20,
    faults: { throttle: {}, notExportable: [], pending: [], nodes: {} },
  });
  api = apiClient(local);
  // A second target: one node tagged Role=edge.
  edge = await startLocalNode(local.aws, {
    root: local.root,
    name: 'edge-1',
    tags: { Role: 'edge' },
    certName: local.certName,
    env: { ACM_EXPORT_VERIFY_SECONDS: '5' },
  });
});

afterAll(async () => {
  await edge?.stop();
  await local?.close();
});

describe.each<[KeyAlgorithm, string]>([
  ['RSA_2048', 'rsa.e2e.example.test'],
  ['EC_prime256v1', 'ec.e2e.example.test'],
])('export to 3 nodes (%s)', (algorithm, domain) => {
  test(`every node serves the exported ${algorithm} certificate with a valid chain; inventory recorded`, async () => {
    const arn = await requestCertificate(local, domain, algorithm);
    const started = await startExport(api, exportBody(local, arn));
    expect(started).toEqual({
      exportId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      executionArn: expect.stringContaining(`:execution:`),
      startDate: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
    });
    const status = await finished(local, api, started.executionArn);
    expect(status).toMatchObject({
      status: 'SUCCEEDED',
      phase: 'Succeeded',
      nodes: { total: 3, completed: 3, failed: 0 },
      certificateArn: arn,
    });
    const serial = currentSerial(local, arn);
    for (const node of local.nodes) {
      expect({ node: node.name, ...(await servedSerial(local, node, domain)) }).toEqual({
        node: node.name,
        serial,
        authorized: true,
      });
      expect(installedPairMatches(local, node)).toEqual({ serial, matches: true });
    }
    const { items } = await api.listCertificates({});
    expect(items.find((i) => i.certificateArn === arn)).toMatchObject({
      target: 'Role=web',
      lastDeployStatus: 'Succeeded',
      lastSerial: local.aws.acm.current(arn)!.serial,
    });
  });
});

test('renewal redeploys the new serial on every node of every target; the same event 3 times starts one execution per target', async () => {
  const domain = 'renew.e2e.example.test';
  const arn = await requestCertificate(local, domain, 'EC_secp384r1');
  const web = await startExport(api, exportBody(local, arn));
  const edgeExport = await startExport(api, exportBody(local, arn, { TargetTagValue: 'edge' }));
  expect((await finished(local, api, web.executionArn)).status).toBe('SUCCEEDED');
  expect((await finished(local, api, edgeExport.executionArn)).status).toBe('SUCCEEDED');
  const before = currentSerial(local, arn);

  const event = await local.aws.acm.renew(arn);
  const results = [];
  for (let i = 0; i < 3; i++) results.push(await local.deliverEvent(event));
  // Like the service, StartExecution with the name and input of a RUNNING execution returns that execution
  // (counted as started), and ExecutionAlreadyExists once it has ended: either way nothing new starts.
  expect(results[0]).toMatchObject({ started: 2, alreadyStarted: 0, targets: 2 });
  for (const r of results) expect(r.started + r.alreadyStarted).toBe(2);
  expect(new Set(results.flatMap((r) => r.executionArns)).size).toBe(2);
  const renewals = [...local.stepFunctions.executions.values()].filter(
    (e) => e.name.startsWith('renew-') && JSON.parse(e.input).CertificateArn === arn,
  );
  expect(renewals).toHaveLength(2);
  for (const r of renewals) expect((await finished(local, api, r.executionArn)).status).toBe('SUCCEEDED');

  const after = currentSerial(local, arn);
  expect(after).not.toBe(before);
  for (const node of [...local.nodes, edge]) {
    expect({ node: node.name, ...(await servedSerial(local, node, domain)) }).toEqual({
      node: node.name,
      serial: after,
      authorized: true,
    });
  }
});

test('5 concurrent exports of the same certificate all succeed; every node ends with an intact, matching key and certificate', async () => {
  const domain = 'concurrent.e2e.example.test';
  const arn = await requestCertificate(local, domain);
  const started = await Promise.all(Array.from({ length: 5 }, () => startExport(api, exportBody(local, arn))));
  expect(new Set(started.map((s) => s.exportId)).size).toBe(5);
  const statuses = await Promise.all(started.map((s) => finished(local, api, s.executionArn)));
  expect(statuses.map((s) => s.status)).toEqual(Array(5).fill('SUCCEEDED'));
  const serial = currentSerial(local, arn);
  for (const node of local.nodes) {
    expect({ node: node.name, ...installedPairMatches(local, node) }).toEqual({
      node: node.name,
      serial,
      matches: true,
    });
    expect((await servedSerial(local, node, domain)).serial).toBe(serial);
  }
  // Each export wrote one secret version; each version's key opens with that version's passphrase.
  const exportsOfThisCert = local.aws.records.filter(
    (r) =>
      r.operation === 'ExportCertificate' &&
      (r.request as { CertificateArn?: string }).CertificateArn === arn &&
      r.statusCode === 200,
  );
  expect(exportsOfThisCert).toHaveLength(5);
});

test('the four-field request (no Service) reloads the running nginx: every node serves the new serial', async () => {
  const domain = 'auto.e2e.example.test';
  const arn = await requestCertificate(local, domain);
  const [[key, value]] = Object.entries(local.tags);
  const reloadsBefore = local.nodes.map((node) => node.reloadCount());
  const started = await startExport(api, {
    CertificateArn: arn,
    CertName: local.certName,
    TargetTagKey: key,
    TargetTagValue: value,
  });
  const status = await finished(local, api, started.executionArn);
  expect(status).toMatchObject({ status: 'SUCCEEDED', outcomes: { skipped: 0, noWebServer: 0 } });
  // The target's association runs at the same time as the push: a node installs from whichever comes
  // first, and the other finds it unchanged. Every node that installed from the push reloaded nginx.
  const outcomes = status.outcomes!;
  expect(outcomes.installed + outcomes.unchanged).toBe(3);
  expect(outcomes.reloaded).toEqual(outcomes.installed ? { nginx: outcomes.installed } : {});
  if (outcomes.installed)
    expect(summaryLines(status)).toContain(
      `  reloaded nginx on ${outcomes.installed} node${outcomes.installed === 1 ? '' : 's'}`,
    );
  const serial = currentSerial(local, arn);
  for (const [i, node] of local.nodes.entries()) {
    expect({ node: node.name, ...(await servedSerial(local, node, domain)) }).toEqual({
      node: node.name,
      serial,
      authorized: true,
    });
    expect(node.reloadCount()).toBeGreaterThan(reloadsBefore[i]);
  }
});

test('a P-384 certificate, then an RSA one with the same names that expires earlier: every node skips it, the export says so and exits non-zero', async () => {
  const domain = 'keyswitch.e2e.example.test';
  // Requested a second apart, so the RSA certificate expires a second before the P-384 one.
  const rsa = await requestCertificate(local, domain, 'RSA_2048');
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const p384 = await requestCertificate(local, domain, 'EC_secp384r1');
  const first = await finished(local, api, (await startExport(api, exportBody(local, p384))).executionArn);
  expect(first).toMatchObject({ status: 'SUCCEEDED', outcomes: { skipped: 0 } });
  expect(first.outcomes!.installed + first.outcomes!.unchanged).toBe(3);
  const held = currentSerial(local, p384);

  const second = await finished(local, api, (await startExport(api, exportBody(local, rsa))).executionArn);
  expect(second).toMatchObject({
    status: 'FAILED',
    outcomes: { installed: 0, unchanged: 0, skipped: 3 },
    failures: [],
  });
  expect(second.outcomes?.skips).toHaveLength(3);
  for (const skip of second.outcomes!.skips)
    expect(skip).toMatchObject({ reason: 'older than installed', installedSerial: held });
  expect(second.error?.message).toMatch(
    /^installed on 0\/3 node\(s\); 3 skipped: the node holds a newer certificate \(serial /,
  );
  // What the CLI prints and its exit code for this status.
  const lines = summaryLines(second);
  expect(lines[0]).toMatch(/^export \S+: installed on 0\/3 node\(s\); 3 skipped: the node holds a newer certificate/);
  expect(lines.filter((line) => / skipped \(/.test(line))).toHaveLength(3);
  expect(lines.join('\n')).not.toContain('succeeded');
  expect(exitCodeFor(second)).toBe(EXIT_NOT_INSTALLED);
  for (const node of local.nodes) expect((await servedSerial(local, node, domain)).serial).toBe(held);
});

test('no private key, passphrase or certificate body in any execution history, handler log, SSM parameter, API response or alert', () => {
  expect(local.handlerLogs.length).toBeGreaterThan(10);
  expect(leaks(local)).toEqual([]);
});
