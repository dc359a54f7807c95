/**
 * Faults matrix: local mode's fault switches, one case at a time, through the real workflow. Every case
 * must end in a final state within its time budget, alert exactly when it failed, leave every node
 * serving a valid certificate (the previous one or the new one: checked over TLS against the local root
 * and on disk), and leave the inventory consistent with the outcome. The leak scan runs last, over
 * everything the matrix produced.
 */
import type { ApiClient } from '../../cli/api-client';
import type { InventoryItem } from '../../lambda/shared/contract';
import type { LocalFaultRequest, LocalMode } from '../../local/runtime';
import { startLocalMode } from '../../local/runtime';
import { apiClient, currentSerial, exportBody, requestCertificate, startExport } from '../e2e/support';
import {
  checkServed,
  inventoryItem,
  isValid,
  leakScan,
  nodeLeftovers,
  normalSerial,
  type ServedCheck,
} from '../helpers/reliability';

type Outcome = 'SUCCEEDED' | 'FAILED';
/** Which nodes end on the new certificate: all, none (the export never reached them), or all but the faulty one. */
type Reach = 'all' | 'none' | 'all-but-faulty';

interface FaultCase {
  name: string;
  /** Fresh certificate (first export of it: CreateSecret path, or a certificate that cannot be exported). */
  fresh?: 'exportable' | 'not-exportable' | 'pending';
  faults: LocalFaultRequest;
  expect: Outcome;
  reach: Reach;
  /** Text the failure reason must contain. */
  reason?: RegExp;
  /** Text the alert must contain (the failed node's one-line reason). */
  alert?: RegExp;
  /** Real-time budget from POST to the final state. */
  budgetMs?: number;
  /**
   * Arm the faults only once POST /exports has answered: the API itself writes to the inventory table (the
   * CertName claim), so a table fault armed before would fail the request, not the workflow. The workflow's
   * first table write (ssm-run) comes after find-nodes and acm-export, several emulator round trips later.
   */
  armAfterStart?: boolean;
}

const FAULTY = 'node-2';
const DEFAULT_BUDGET_MS = 30_000;
/** More throttles than the SDK's own 3 attempts: the task fails with Throttled and the workflow retries it. */
const T = 4;
/** Fewer: the SDK's own retries absorb them (used where another case already covers the task's retry). */
const S = 1;

const CASES: FaultCase[] = [
  {
    name: 'throttle acm:DescribeCertificate ×1',
    faults: { throttle: { 'acm:DescribeCertificate': S } },
    expect: 'SUCCEEDED',
    reach: 'all',
  },
  {
    name: 'throttle acm:ExportCertificate ×4',
    faults: { throttle: { 'acm:ExportCertificate': T } },
    expect: 'SUCCEEDED',
    reach: 'all',
  },
  {
    name: 'throttle secretsmanager:DescribeSecret ×1',
    faults: { throttle: { 'secretsmanager:DescribeSecret': S } },
    expect: 'SUCCEEDED',
    reach: 'all',
  },
  {
    name: 'throttle secretsmanager:CreateSecret ×1',
    fresh: 'exportable',
    faults: { throttle: { 'secretsmanager:CreateSecret': S } },
    expect: 'SUCCEEDED',
    reach: 'all',
  },
  {
    name: 'throttle secretsmanager:PutSecretValue ×4',
    faults: { throttle: { 'secretsmanager:PutSecretValue': T } },
    expect: 'SUCCEEDED',
    reach: 'all',
  },
  {
    name: 'throttle ssm:DescribeInstanceInformation ×1',
    faults: { throttle: { 'ssm:DescribeInstanceInformation': S } },
    expect: 'SUCCEEDED',
    reach: 'all',
  },
  {
    name: 'throttle ssm:SendCommand ×4',
    faults: { throttle: { 'ssm:SendCommand': T } },
    expect: 'SUCCEEDED',
    reach: 'all',
  },
  {
    name: 'throttle ssm:ListCommands ×4',
    faults: { throttle: { 'ssm:ListCommands': T } },
    expect: 'SUCCEEDED',
    reach: 'all',
  },
  {
    name: 'throttle dynamodb:UpdateItem ×1',
    faults: { throttle: { 'dynamodb:UpdateItem': S } },
    expect: 'SUCCEEDED',
    reach: 'all',
  },
  {
    name: 'throttle secretsmanager:GetSecretValue ×1 (node side)',
    faults: { throttle: { 'secretsmanager:GetSecretValue': S } },
    expect: 'SUCCEEDED',
    reach: 'all',
  },
  {
    name: 'throttle ssm:ListCommandInvocations ×4 (failure report)',
    faults: { throttle: { 'ssm:ListCommandInvocations': T }, nodes: { [FAULTY]: { failInstall: true } } },
    expect: 'FAILED',
    reach: 'all-but-faulty',
    reason: /1 of 3 nodes failed/,
  },
  {
    name: 'certificate not exportable',
    fresh: 'not-exportable',
    faults: {},
    expect: 'FAILED',
    reach: 'none',
    reason: /Export=ENABLED|not exportable|refused to export/,
  },
  {
    name: 'certificate pending validation',
    fresh: 'pending',
    faults: {},
    expect: 'FAILED',
    reach: 'none',
    reason: /PENDING_VALIDATION/,
  },
  {
    name: 'secret write failure (PutSecretValue)',
    faults: { fail: { 'secretsmanager:PutSecretValue': 1 } },
    expect: 'FAILED',
    reach: 'none',
    reason: /EncryptionFailure|encrypt/,
  },
  {
    name: 'secret write failure (CreateSecret)',
    fresh: 'exportable',
    faults: { fail: { 'secretsmanager:CreateSecret': 1 } },
    expect: 'FAILED',
    reach: 'none',
    reason: /EncryptionFailure|encrypt/,
  },
  {
    name: 'inventory write failure (UpdateItem)',
    faults: { fail: { 'dynamodb:UpdateItem': 1 } },
    armAfterStart: true,
    expect: 'FAILED',
    reach: 'none',
  },
  {
    name: 'node install failure',
    faults: { nodes: { [FAULTY]: { failInstall: true } } },
    expect: 'FAILED',
    reach: 'all-but-faulty',
    reason: /1 of 3 nodes failed/,
    alert: /hook .* exited/,
  },
  {
    name: 'config test failure',
    faults: { nodes: { [FAULTY]: { failConfigTest: true } } },
    expect: 'FAILED',
    reach: 'all-but-faulty',
    reason: /1 of 3 nodes failed/,
    // The reason line quotes a long server path, which the alert withholds as key-like material.
    alert: /config|output withheld/i,
  },
  {
    name: 'verify mismatch (reload not applied)',
    faults: { nodes: { [FAULTY]: { staleReload: true } } },
    expect: 'FAILED',
    reach: 'all-but-faulty',
    reason: /1 of 3 nodes failed/,
    alert: /serves serial .* not the new/,
  },
  {
    name: 'delayed node within the timeout',
    faults: { nodes: { [FAULTY]: { delayMs: 500 } } },
    expect: 'SUCCEEDED',
    reach: 'all',
  },
  {
    name: 'delayed node beyond the command timeout',
    faults: { nodes: { [FAULTY]: { delayMs: 3_600_000 } } },
    expect: 'FAILED',
    reach: 'all-but-faulty',
    reason: /Execution Timed Out|TimedOut/,
    budgetMs: 45_000,
  },
];

interface Row {
  name: string;
  outcome: string;
  seconds: string;
  alert: string;
  nodes: string;
  inventory: string;
  verdict: 'ok' | 'FAIL';
}

let local: LocalMode;
let api: ApiClient;
let mainArn: string;
const MAIN_DOMAIN = 'main.faults.example.test';
const rows: Row[] = [];

beforeAll(async () => {
  local = await startLocalMode({
    nodes: 3,
    tags: { Role: 'web' },
    waitScale: 20,
    ssmMsPerSecond: 20,
    faults: { throttle: {}, notExportable: [], pending: [], nodes: {} },
  });
  api = apiClient(local);
  mainArn = await requestCertificate(local, MAIN_DOMAIN);
  // Baseline: every node serves a certificate of the local CA before the first fault.
  const first = await startExport(api, exportBody(local, mainArn));
  await local.stepFunctions.waitFor(first.executionArn);
  expect(local.stepFunctions.executions.get(first.executionArn)!.status).toBe('SUCCEEDED');
}, 120_000);

afterAll(async () => {
  if (rows.length) {
    const cols: (keyof Row)[] = ['name', 'outcome', 'seconds', 'alert', 'nodes', 'inventory', 'verdict'];
    const width = (k: keyof Row): number => Math.max(k.length, ...rows.map((r) => r[k].length));
    const line = (r: Record<keyof Row, string>): string => cols.map((k) => r[k].padEnd(width(k))).join(' | ');
    const header = Object.fromEntries(cols.map((k) => [k, k])) as Record<keyof Row, string>;
    console.log(
      [
        `faults matrix (${local?.serverKind ?? '?'} nodes): ${rows.length} cases, ${rows.filter((r) => r.verdict === 'ok').length} as expected`,
        line(header),
        cols.map((k) => '-'.repeat(width(k))).join('-|-'),
        ...rows.map(line),
      ].join('\n'),
    );
  }
  await local?.close();
});

async function servedAll(domain: string): Promise<ServedCheck[]> {
  // The export also creates or updates the target's convergence association, whose runs install on the
  // same nodes (serialized with the push by the node lock). Check the nodes at rest, not mid-install.
  await local.waitForAssociations();
  return Promise.all(local.nodes.map((n) => checkServed(local, n, domain)));
}

function clearFaults(): void {
  local.aws.throttles.clear();
  local.aws.failures.clear();
  local.setFaults({ nodes: Object.fromEntries(local.nodes.map((n) => [n.name, {}])) });
}

test.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
  const problems: string[] = [];
  // The certificate of this case: a fresh one, or the main one renewed (new key and serial, not yet deployed).
  let arn = mainArn;
  let domain = MAIN_DOMAIN;
  if (c.fresh) {
    domain = `${c.name
      .replace(/[^a-z0-9]+/gi, '-')
      .replace(/^-+|-+$/g, '')
      .toLowerCase()}.faults.example.test`;
    if (c.fresh === 'not-exportable') local.aws.acm.makeNotExportable(domain);
    if (c.fresh === 'pending') await local.aws.acm.setPending(domain, true);
    arn = await requestCertificate(local, domain);
  } else {
    await local.aws.acm.renew(arn);
  }
  const newSerial = c.fresh === 'not-exportable' || c.fresh === 'pending' ? '' : currentSerial(local, arn);
  const before = await servedAll(domain);
  for (const b of before)
    if (!isValid(b))
      problems.push(`before: ${b.node} does not serve a valid certificate (${b.problem ?? JSON.stringify(b)})`);
  const itemBefore = await inventoryItem(local, arn);
  const alertsBefore = local.alerts.length;

  if (!c.armAfterStart) local.setFaults(c.faults);
  const started = Date.now();
  let executionArn = '';
  let status = 'NOT STARTED';
  let reason = '';
  try {
    executionArn = (await startExport(api, exportBody(local, arn))).executionArn;
    if (c.armAfterStart) local.setFaults(c.faults);
    const budget = c.budgetMs ?? DEFAULT_BUDGET_MS;
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      local.stepFunctions.waitFor(executionArn).then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), budget);
      }),
    ]);
    clearTimeout(timer);
    const execution = local.stepFunctions.executions.get(executionArn)!;
    status = ended ? execution.status : `RUNNING after ${budget / 1000} s`;
    reason = `${execution.error ?? ''} ${execution.cause ?? ''}`;
  } finally {
    // The export's convergence association runs on the same nodes: let those runs meet the same faults
    // before clearing them, so the faulty node's outcome does not depend on which run took its lock first.
    await local.waitForAssociations();
    const unused = { ...local.aws.throttles.armed(), ...local.aws.failures.armed() };
    if (Object.keys(unused).length) problems.push(`fault switch not consumed: ${JSON.stringify(unused)}`);
    clearFaults();
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (status !== c.expect) problems.push(`status ${status}, expected ${c.expect} (${reason.slice(0, 300)})`);
  if (c.reason && !c.reason.test(reason))
    problems.push(`failure reason does not match ${c.reason}: ${reason.slice(0, 300)}`);

  // Alert exactly when it failed, naming the execution (and the faulty node when one failed).
  const alerts = local.alerts.slice(alertsBefore);
  if (c.expect === 'FAILED') {
    if (alerts.length !== 1) problems.push(`${alerts.length} alerts, expected 1`);
    else {
      const text = JSON.stringify(alerts[0].message);
      if (!text.includes(executionArn)) problems.push('the alert does not name the execution');
      if (c.reach === 'all-but-faulty' && !text.includes(local.node(FAULTY).instanceId))
        problems.push('the alert does not name the failed node');
      if (c.alert && !c.alert.test(text))
        problems.push(
          `the alert does not match ${c.alert}: ${text.slice(text.indexOf('"error"'), text.indexOf('"error"') + 600)}`,
        );
    }
  } else if (alerts.length !== 0) problems.push(`${alerts.length} alerts for a successful export`);

  // Every node serves a valid certificate: the new one, or the one it served before.
  const after = await servedAll(domain);
  const nodeNotes: string[] = [];
  after.forEach((a, i) => {
    const old = before[i].serial;
    const faulty = a.node === FAULTY;
    const wantNew = c.reach === 'all' || (c.reach === 'all-but-faulty' && !faulty);
    const want = wantNew ? newSerial : old;
    if (!isValid(a)) problems.push(`${a.node} does not serve a valid certificate: ${a.problem ?? JSON.stringify(a)}`);
    if (a.serial !== want)
      problems.push(`${a.node} serves ${a.serial}, expected the ${wantNew ? 'new' : 'previous'} ${want}`);
    nodeNotes.push(a.serial === newSerial ? 'new' : a.serial === old ? 'old' : '???');
  });

  // The inventory agrees with the outcome.
  const item = await inventoryItem(local, arn);
  let inventory = 'unchanged';
  const ownItem = item?.lastExecutionArn === executionArn;
  if (item?.lastDeployStatus === 'InProgress') problems.push('inventory left InProgress after the final state');
  if (c.expect === 'SUCCEEDED') {
    inventory = `Succeeded ${normalSerial(item?.lastSerial).slice(0, 8)}…`;
    if (!ownItem || item?.lastDeployStatus !== 'Succeeded' || normalSerial(item?.lastSerial) !== newSerial)
      problems.push(`inventory ${JSON.stringify(pick(item))} after a successful export`);
  } else if (c.reach === 'all-but-faulty') {
    inventory = 'Failed (this run)';
    if (!ownItem || item?.lastDeployStatus !== 'Failed' || normalSerial(item?.lastSerial) !== newSerial)
      problems.push(`inventory ${JSON.stringify(pick(item))} after a failed install`);
  } else if (ownItem) {
    // The export failed before or while claiming the target: the item may be this run's, but never Succeeded.
    inventory = `${item?.lastDeployStatus} (this run)`;
    if (item?.lastDeployStatus !== 'Failed')
      problems.push(`inventory ${JSON.stringify(pick(item))} after a failed export`);
  } else {
    if (JSON.stringify(pick(item)) !== JSON.stringify(pick(itemBefore)))
      problems.push(
        `inventory changed by a failed export: ${JSON.stringify(pick(itemBefore))} → ${JSON.stringify(pick(item))}`,
      );
    inventory = item ? `unchanged (${item.lastDeployStatus})` : 'no item';
  }

  rows.push({
    name: c.name,
    outcome: status,
    seconds,
    alert: alerts.length ? 'yes' : 'no',
    nodes: nodeNotes.join(','),
    inventory,
    verdict: problems.length ? 'FAIL' : 'ok',
  });
  expect(problems).toEqual([]);
});

function pick(item: InventoryItem | undefined): Partial<InventoryItem> | undefined {
  if (!item) return undefined;
  return {
    lastSerial: item.lastSerial,
    lastDeployStatus: item.lastDeployStatus,
    lastExecutionArn: item.lastExecutionArn,
  };
}

test('leak scan: no private key, passphrase or certificate body in any history, log, SSM parameter, command output, alert or API response', async () => {
  const result = await leakScan(local);
  const leftovers = nodeLeftovers(local);
  console.log(
    `leak scan: ${result.bytes} bytes in ${result.sources} sources scanned, ${result.needles} secrets searched for, ${result.hits.length} hits, ${leftovers.length} files left in node scratch dirs`,
  );
  expect(result.hits).toEqual([]);
  expect(leftovers).toEqual([]);
});
