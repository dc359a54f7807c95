/** End to end through local mode: failure paths, throttling, and what the API refuses. */
import { ACMClient, AddTagsToCertificateCommand } from '@aws-sdk/client-acm';
import type { ApiClient } from '../../cli/api-client';
import { summaryLines } from '../../cli/wait';
import { structuralErrorMessage } from '../../lambda/export-api/api-model';
import { OUTCOME_EXPLANATIONS } from '../../lambda/status-check/status-check';
import { STATES } from '../../lambda/shared/contract';
import type { ForcedOutcome } from '../../local/faults';
import { startLocalMode, type LocalMode } from '../../local/runtime';
import {
  apiClient,
  currentSerial,
  exportBody,
  finished,
  leaks,
  rawRequest,
  requestCertificate,
  servedSerial,
  startExport,
} from './support';

let local: LocalMode;
let api: ApiClient;

beforeAll(async () => {
  local = await startLocalMode({
    nodes: 3,
    tags: { Role: 'web' },
    waitScale: 20,
    ssmMsPerSecond: 20,
    faults: { throttle: {}, notExportable: [], pending: [], nodes: {} },
  });
  api = apiClient(local);
});

afterAll(async () => {
  await local?.close();
});

const executionCount = (): number => local.stepFunctions.executions.size;
const lambdaCalls = (executionArn: string, state: string): number => {
  const history = local.stepFunctions.executions.get(executionArn)!.history;
  let current = '';
  let n = 0;
  for (const e of history) {
    const entered = (e.stateEnteredEventDetails as { name?: string } | undefined)?.name;
    if (entered) current = entered;
    if (e.type === 'LambdaFunctionScheduled' && current === state) n++;
  }
  return n;
};

test("one node's install fails: it keeps serving its old valid certificate, the execution fails naming it, an alert is published, the others are updated", async () => {
  const domain = 'partial.e2e.example.test';
  const arn = await requestCertificate(local, domain);
  const first = await startExport(api, exportBody(local, arn));
  expect((await finished(local, api, first.executionArn)).status).toBe('SUCCEEDED');
  const oldSerial = currentSerial(local, arn);
  await local.aws.acm.renew(arn); // new serial, not yet deployed

  // The fault switch through the signed local control endpoint.
  expect(await api.request('POST', '/_local/faults', { body: { nodes: { 'node-2': { failInstall: true } } } })).toEqual(
    { ok: true },
  );
  const alertsBefore = local.alerts.length;
  try {
    const second = await startExport(api, exportBody(local, arn, { MaxErrors: '1' }));
    const status = await finished(local, api, second.executionArn);
    const failing = local.node('node-2');
    expect(status).toMatchObject({ status: 'FAILED', phase: 'Failed', nodes: { total: 3, failed: 1 } });
    expect(status.failures).toEqual([expect.objectContaining({ instanceId: failing.instanceId, status: 'Failed' })]);
    expect(status.error?.message ?? '').toMatch(/1 of 3 nodes failed/);

    const newSerial = currentSerial(local, arn);
    expect(await servedSerial(local, failing, domain)).toEqual({ serial: oldSerial, authorized: true });
    for (const name of ['node-1', 'node-3'])
      expect(await servedSerial(local, local.node(name), domain)).toEqual({ serial: newSerial, authorized: true });

    expect(local.alerts.length).toBe(alertsBefore + 1);
    const alert = local.alerts[local.alerts.length - 1];
    expect(JSON.stringify(alert.message)).toContain(second.executionArn);
    expect(JSON.stringify(alert.message)).toContain(failing.instanceId);
  } finally {
    local.setFaults({ nodes: { 'node-2': {} } });
  }
});

test.each<[ForcedOutcome, string]>([
  ['Undeliverable', 'Undeliverable'],
  ['DeliveryTimedOut', 'Delivery Timed Out'],
  ['ExecutionTimedOut', 'Execution Timed Out'],
  ['Cancelled', 'Cancelled'],
  ['Terminated', 'Terminated'],
  ['InvalidPlatform', 'InvalidPlatform'],
  ['AccessDenied', 'AccessDenied'],
])(
  'a node whose invocation ends %s: the export fails, and the status and the alert give that node its line',
  async (outcome, details) => {
    const arn = await requestCertificate(local, `${outcome.toLowerCase()}.e2e.example.test`);
    const node = local.node('node-2');
    expect(await api.request('POST', '/_local/faults', { body: { nodes: { 'node-2': { outcome } } } })).toEqual({
      ok: true,
    });
    const alertsBefore = local.alerts.length;
    try {
      const started = await startExport(api, exportBody(local, arn));
      const status = await finished(local, api, started.executionArn);
      const line = OUTCOME_EXPLANATIONS[details];
      expect(status).toMatchObject({ status: 'FAILED', phase: 'Failed', nodes: { total: 3 } });
      expect(status.failures).toEqual([{ instanceId: node.instanceId, status: details, line }]);
      // The readable summary: how many nodes, the outcome, its explanation, then what the other nodes did.
      expect(status.error?.message).toMatch(new RegExp(`^1 of 3 nodes failed \\(${details}\\): ${line}(; .*)?$`));

      expect(local.alerts.length).toBe(alertsBefore + 1);
      const alert = local.alerts[local.alerts.length - 1];
      const cause = (alert.message as { error: { Cause: string } }).error.Cause;
      expect(cause.split('\n')).toEqual([status.error?.message, `${node.instanceId}: ${details} (${line})`]);
    } finally {
      local.setFaults({ nodes: { 'node-2': {} } });
    }
  },
);

test("a node whose nginx configuration test fails: the API and the CLI say which step failed on how many nodes, with the node's line", async () => {
  const domain = 'configtest.e2e.example.test';
  const arn = await requestCertificate(local, domain);
  const failing = local.node('node-3');
  local.setFaults({ nodes: { 'node-3': { failConfigTest: true } } });
  try {
    const started = await startExport(api, exportBody(local, arn, { MaxErrors: '1' }));
    const status = await finished(local, api, started.executionArn);
    expect(status).toMatchObject({ status: 'FAILED', phase: 'Failed' });
    expect(status.failures).toEqual([
      expect.objectContaining({ instanceId: failing.instanceId, status: 'Failed', step: 'configtest' }),
    ]);
    expect(status.error?.message).toMatch(
      /^1 of 3 nodes failed at configtest: nginx configuration test failed: .*local_fault_switch_breaks_this_config/,
    );
    const [first] = summaryLines(status);
    expect(first).toBe(`export ${started.exportId} failed: ${status.error?.message}`);
    expect(first).not.toMatch(/[{}]/);
  } finally {
    local.setFaults({ nodes: { 'node-3': {} } });
  }
});

test('no node matches the tag: the execution fails before anything is exported (no secret)', async () => {
  const arn = await requestCertificate(local, 'nobody.e2e.example.test');
  const started = await startExport(api, exportBody(local, arn, { TargetTagValue: 'no-such-fleet' }));
  const status = await finished(local, api, started.executionArn);
  expect(status).toMatchObject({ status: 'FAILED', nodes: { total: 0 } });
  expect(status.error?.message ?? '').toBe('no managed node carries Role=no-such-fleet: nothing was exported');
  expect(lambdaCalls(started.executionArn, STATES.exportCertificate)).toBe(0);
  expect([...local.aws.secrets.secrets.values()].some((x) => x.tags.some((t) => t.Value === arn))).toBe(false);
  expect(lambdaCalls(started.executionArn, STATES.checkInstall)).toBeLessThanOrEqual(1);
  expect(
    local.stepFunctions.executions.get(started.executionArn)!.history.filter((e) => e.type === 'WaitStateEntered')
      .length,
  ).toBeLessThanOrEqual(1);
});

test('ACM throttling is retried (SDK, then the workflow) and the export succeeds', async () => {
  const domain = 'throttled.e2e.example.test';
  const arn = await requestCertificate(local, domain);
  local.aws.resetCallCounts();
  // More throttles than the SDK's own 3 attempts: the task fails with Throttled once and the state retries.
  local.setFaults({ throttle: { 'acm:ExportCertificate': 4 } });
  const started = await startExport(api, exportBody(local, arn));
  const status = await finished(local, api, started.executionArn);
  expect(status.status).toBe('SUCCEEDED');
  expect(local.aws.callCount('acm:ExportCertificate')).toBe(5);
  expect(lambdaCalls(started.executionArn, STATES.exportCertificate)).toBe(2);
  for (const node of local.nodes)
    expect((await servedSerial(local, node, domain)).serial).toBe(currentSerial(local, arn));
});

describe('refused requests start nothing', () => {
  let arn: string;
  beforeAll(async () => {
    arn = await requestCertificate(local, 'refused.e2e.example.test');
  });

  test('unsigned, wrongly signed, unknown key, tampered body → 403', async () => {
    const body = JSON.stringify(exportBody(local, arn));
    const before = executionCount();
    const cases = [
      await rawRequest(local, 'POST', '/exports', { body, contentType: 'application/json', credentials: null }),
      await rawRequest(local, 'POST', '/exports', {
        body,
        contentType: 'application/json',
        credentials: {
          accessKeyId: local.credentials.accessKeyId,
          secretAccessKey: 'not-the-local-secret-key-000000000000000',
        },
      }),
      await rawRequest(local, 'POST', '/exports', {
        body,
        contentType: 'application/json',
        credentials: { accessKeyId: 'AKIAOTHERKEY00000000', secretAccessKey: local.credentials.secretAccessKey },
      }),
      await rawRequest(local, 'POST', '/exports', { body, contentType: 'application/json', tamper: true }),
      await rawRequest(local, 'GET', '/certificates', { credentials: null }),
    ];
    expect(cases.map((c) => c.status)).toEqual([403, 403, 403, 403, 403]);
    for (const c of cases) expect(JSON.parse(c.body)).toEqual({ message: expect.any(String) });
    expect(executionCount()).toBe(before);
  });

  test('a certificate without the export tag → 403 naming the tag and the command; tagged, the same body starts', async () => {
    const untagged = await requestCertificate(local, 'untagged.e2e.example.test', 'RSA_2048', { optedIn: false });
    const before = executionCount();
    const res = await rawRequest(local, 'POST', '/exports', {
      body: JSON.stringify(exportBody(local, untagged)),
      contentType: 'application/json',
    });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toEqual({
      message: `CertificateArn: ${untagged} is not enabled for export: add the tag acm-export:exportable=true (aws acm add-tags-to-certificate --certificate-arn ${untagged} --tags Key=acm-export:exportable,Value=true)`,
    });
    expect(executionCount()).toBe(before);

    const acm = new ACMClient(local.aws.clientConfig());
    try {
      await acm.send(
        new AddTagsToCertificateCommand({
          CertificateArn: untagged,
          Tags: [{ Key: 'acm-export:exportable', Value: 'true' }],
        }),
      );
    } finally {
      acm.destroy();
    }
    const started = await startExport(api, { ...exportBody(local, untagged), DryRun: true });
    expect((await finished(local, api, started.executionArn)).status).toBe('SUCCEEDED');
  });

  test('another certificate under the CertName a certificate already holds on the tag → 409 naming the holder', async () => {
    const [[key, value]] = Object.entries(local.tags);
    const target = `${key}=${value}`;
    const holder = await requestCertificate(local, 'holder.e2e.example.test');
    const held = await startExport(api, exportBody(local, holder));
    const before = executionCount();
    const res = await rawRequest(local, 'POST', '/exports', {
      body: JSON.stringify(exportBody(local, arn)),
      contentType: 'application/json',
    });
    expect(res.status).toBe(409);
    expect(JSON.parse(res.body)).toEqual({
      message: `CertName ${local.certName} on ${target} is held by ${holder}; remove that target first (DELETE /certificates/{certificateArn}/targets/{target}) or choose another name`,
    });
    expect(executionCount()).toBe(before);
    expect(await finished(local, api, held.executionArn)).toMatchObject({ status: 'SUCCEEDED' });
  });

  test('malformed or hostile bodies → 400 naming the field (the fixed structural message when the shape is wrong; 415 for non-JSON, 413 when too large), nothing echoed', async () => {
    const before = executionCount();
    const good = exportBody(local, arn);
    const structural = structuralErrorMessage();
    const hostile: [string, string, number, string | RegExp][] = [
      ['not json', '{"CertificateArn": ', 400, structural],
      ['array', '[]', 400, structural],
      ['empty object', '{}', 400, structural],
      ['unknown field', JSON.stringify({ ...good, Extra: 'x' }), 400, structural],
      ['wrong type', JSON.stringify({ ...good, DryRun: 'yes' }), 400, structural],
      [
        'shell in CertName',
        JSON.stringify({ ...good, CertName: 'x;rm -rf /' }),
        400,
        /^CertName: must be a plain file name stem/,
      ],
      [
        'path traversal',
        JSON.stringify({ ...good, CertDir: '/etc/../root' }),
        400,
        /^CertDir: must be an absolute directory path without "\.\."/,
      ],
      [
        'reserved tag key',
        JSON.stringify({ ...good, TargetTagKey: 'aws:cloudformation:stack-name' }),
        400,
        /^TargetTagKey: must not start with "aws:"/,
      ],
      [
        'other account',
        JSON.stringify({ ...good, CertificateArn: arn.replace('000000000000', '123456789012') }),
        400,
        /^CertificateArn: must be the ARN of an ACM certificate in /,
      ],
      [
        'port out of range',
        JSON.stringify({ ...good, VerifyPort: 70000 }),
        400,
        /^VerifyPort: must be an integer from 0 to 65535$/,
      ],
      ['key material pasted', JSON.stringify({ ...good, CertName: '-----BEGIN PRIVATE KEY-----' }), 400, /^CertName: /],
      ['prototype pollution', '{"__proto__": {"polluted": true}, "CertName": "x"}', 400, structural],
      [
        "over the function's size limit",
        JSON.stringify({ ...good, TargetTagValue: 'v'.repeat(9000) }),
        400,
        /^request body is too large/,
      ],
      ['huge', JSON.stringify({ ...good, CertName: 'a'.repeat(100_000) }), 413, /too (long|large)/i],
    ];
    for (const [what, body, expected, message] of hostile) {
      const res = await rawRequest(local, 'POST', '/exports', { body, contentType: 'application/json' });
      expect({ what, status: res.status }).toEqual({ what, status: expected });
      const answered = (JSON.parse(res.body) as { message: string }).message;
      if (typeof message === 'string') expect({ what, answered }).toEqual({ what, answered: message });
      else expect({ what, answered }).toEqual({ what, answered: expect.stringMatching(message) });
      expect(res.body).not.toContain('rm -rf');
      expect(res.body).not.toContain('BEGIN PRIVATE KEY');
    }
    const plain = await rawRequest(local, 'POST', '/exports', {
      body: JSON.stringify(good),
      contentType: 'text/plain',
    });
    expect(plain.status).toBe(415);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(executionCount()).toBe(before);
  });
});

test('no private key, passphrase or certificate body in any execution history, handler log, SSM parameter, API response or alert', () => {
  expect(leaks(local)).toEqual([]);
});
