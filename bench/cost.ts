/**
 * 9. Cost per renewal and per month, from counted calls × list prices (bench/prices.ts).
 *
 * Counted in one run: local mode with the real handlers, the real definition and 50 virtual nodes (they report
 * success without running a script, finishing spread over a 60-second rollout). One certificate is exported,
 * then renewed; the renewal's state transitions and Lambda invocations come from the execution history, each
 * invocation's wall milliseconds stand in for Lambda's billed duration, Secrets Manager and KMS calls are counted
 * at the emulator, DynamoDB units are what dynalite reports for each call (ReturnConsumedCapacity), and log bytes
 * are the handlers' own log lines. The nodes' own calls come from the `runs` section's measurement with real
 * local nodes (per node, multiplied by the fleet). The baseline is the same handlers run by the same definition
 * with a fixed 15-s Wait (as the completion section models it), its renewal lookup a Scan (as the renewal
 * section models it), and nodes that fetch nothing (the sample passes certificate and key as Run Command
 * parameters); it has no associations and no drift check.
 *
 * Each design is one entry of a list of counted designs: another variant of the workflow is one more entry.
 */
import { INITIAL_POLL } from '../lambda/shared/contract';
import { DEFAULT_CONVERGENCE_SCHEDULE, DEFAULT_DRIFT_REPORT_SCHEDULE } from '../lambda/shared/patterns';
import { FUNCTION_NAMES } from '../local/functions';
import { startLocalMode, type LocalMode } from '../local/runtime';
import { LocalStepFunctions, type LocalExecution, type LocalTask } from '../local/stepfunctions';
import type { AslDefinition } from '../lib/render-definition';
import { taskFunction } from '../local/template';
import { BASELINE_WAIT_SECONDS, FINISH_TIMES } from './completion';
import {
  addUsage,
  costOf,
  gbSeconds,
  monthlyCost,
  NO_USAGE,
  renewalsPerMonth,
  runsPerMonth,
  type CountedDesign,
  type MonthModel,
  type Usage,
} from './cost-model';
import { withFixedWait, withPollLoop } from './polling';
import { PRICES } from './prices';
import { scanForCertificate } from './renewal';
import { row, type BenchRow } from './report';
import { exportNewCertificate, measureRunsPerRenewal } from './runs';
import { builtStack } from './stack';
import { addVirtualNodes } from './virtual-nodes';

const SECTION = 'cost';
/** Memory of every function (lib/constructs/node-function.ts). */
export const FUNCTION_MEMORY_MB = 512;
const FLEET = 50;
const ROLLOUT_SECONDS = 60;
/** ACM exportable certificates: 198 days valid, renewed 45 days before expiry (aws-facts, "Validity schedule"). */
export const RENEWAL_INTERVAL_DAYS = 198 - 45;

export interface CostOptions {
  msPerSecond: number;
  /** Real local nodes for the nodes' per-run calls (the runs section's measurement). */
  realNodes: number;
}

/** DynamoDB units reported by dynalite, per kind; `unreported` counts calls that came back without ConsumedCapacity. */
interface DynamoTally {
  read: number;
  write: number;
  unreported: number;
}

const READ_OPS = new Set([
  'GetItemCommand',
  'QueryCommand',
  'ScanCommand',
  'BatchGetItemCommand',
  'TransactGetItemsCommand',
]);
const WRITE_OPS = new Set([
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'BatchWriteItemCommand',
  'TransactWriteItemsCommand',
]);

/** Asks every DynamoDB call of the handlers for its consumed capacity and adds it up. */
function countDynamo(local: LocalMode): { tally: DynamoTally; reset: () => void } {
  const state = { tally: { read: 0, write: 0, unreported: 0 } };
  local.ddb.middlewareStack.add(
    (next, context) => async (args) => {
      const op = context.commandName ?? '';
      const isRead = READ_OPS.has(op);
      const isWrite = WRITE_OPS.has(op);
      if (isRead || isWrite) (args.input as Record<string, unknown>).ReturnConsumedCapacity = 'TOTAL';
      try {
        const result = await next(args);
        const consumed = (result.output as { ConsumedCapacity?: unknown }).ConsumedCapacity;
        const list = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) as { CapacityUnits?: number }[];
        const units = list.reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0);
        if (isRead || isWrite) {
          if (list.length === 0) state.tally.unreported++;
          if (isRead) state.tally.read += units;
          else state.tally.write += units;
        }
        return result;
      } catch (error) {
        // A failed conditional write still consumes a write unit.
        if (isWrite && (error as { name?: string }).name === 'ConditionalCheckFailedException') state.tally.write += 1;
        throw error;
      }
    },
    { step: 'initialize', name: 'benchCostCapacity' },
  );
  return {
    get tally() {
      return state.tally;
    },
    reset: () => (state.tally = { read: 0, write: 0, unreported: 0 }),
  } as { tally: DynamoTally; reset: () => void };
}

/** Secrets Manager calls, and KMS requests: the emulator's counted decrypts plus one data key per stored value. */
function secretCalls(local: LocalMode): { secretsManager: number; kms: number } {
  const counts = local.aws.callCounts();
  let secretsManager = 0;
  for (const [key, n] of Object.entries(counts)) if (key.startsWith('secretsmanager:')) secretsManager += n;
  let kms = 0;
  for (const calls of Object.values(local.aws.callCountsByCaller()))
    for (const [key, n] of Object.entries(calls)) if (key.startsWith('kms:')) kms += n;
  // Secrets Manager asks KMS for a data key for each value it stores (not counted by the emulator).
  kms += (counts['secretsmanager:PutSecretValue'] ?? 0) + (counts['secretsmanager:CreateSecret'] ?? 0);
  return { secretsManager, kms };
}

/** Transitions and Lambda invocation times of an ended execution, from its history. */
export function historyCounts(history: LocalExecution['history']): { transitions: number; lambdaMs: number[] } {
  let transitions = 0;
  const lambdaMs: number[] = [];
  let started: number | undefined;
  for (const event of history) {
    if (event.type.endsWith('StateEntered')) transitions++;
    else if (event.type === 'LambdaFunctionStarted') started = event.timestamp;
    // A `.waitForTaskToken` Lambda task: the invocation runs from TaskStarted to TaskSubmitted (then the wait).
    else if (
      event.type === 'TaskStarted' &&
      (event.taskStartedEventDetails as { resourceType?: string } | undefined)?.resourceType === 'lambda'
    )
      started = event.timestamp;
    else if (event.type === 'TaskSubmitted' && started !== undefined) {
      lambdaMs.push(event.timestamp - started);
      started = undefined;
    } else if (
      (event.type === 'LambdaFunctionSucceeded' || event.type === 'LambdaFunctionFailed') &&
      started !== undefined
    ) {
      lambdaMs.push(event.timestamp - started);
      started = undefined;
    }
  }
  return { transitions, lambdaMs };
}

function logBytes(lines: readonly string[]): number {
  return lines.reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0);
}

/** A variant of the stack's state machine (the poll path, the baseline's fixed Wait), run by the same in-process handlers. */
function variantWorkflow(local: LocalMode, definition: AslDefinition, msPerSecond: number): LocalStepFunctions {
  const tasks: Record<string, LocalTask> = {};
  for (const [name, state] of Object.entries(definition.States)) {
    if (state.Type !== 'Task') continue;
    const spec = taskFunction(local.model, state);
    if (spec) {
      const fn = local.functions.get(spec.name);
      tasks[name] = { kind: 'lambda', resource: String(state.Resource), run: (payload) => fn.invoke(payload) };
    } else
      tasks[name] = { kind: 'service', resource: String(state.Resource), run: async () => ({ MessageId: 'bench' }) };
  }
  return new LocalStepFunctions({
    definition,
    stateMachineArn: local.stateMachineArn,
    msPerSecond,
    defaultWaitSeconds: INITIAL_POLL.waitSeconds,
    // The poll path's Wait reads the seconds status-check returns (as local/workflow.ts follows them).
    waitSecondsFrom: (_state, output) =>
      output && typeof output === 'object' && typeof (output as { waitSeconds?: unknown }).waitSeconds === 'number'
        ? (output as { waitSeconds: number }).waitSeconds
        : undefined,
    tasks,
  });
}

/** Runs `input` once on a variant of the definition; the variant's history and nothing else. */
async function runVariant(
  local: LocalMode,
  definition: AslDefinition,
  name: string,
  input: string,
  msPerSecond: number,
): Promise<LocalExecution> {
  const workflow = variantWorkflow(local, definition, msPerSecond);
  try {
    const started = workflow
      .service()
      .operations.StartExecution({ stateMachineArn: local.stateMachineArn, name, input }, undefined as never) as {
      executionArn: string;
    };
    const execution = await workflow.waitFor(started.executionArn);
    if (execution.status !== 'SUCCEEDED') throw new Error(`the ${name} execution ended ${execution.status}`);
    return execution;
  } finally {
    workflow.close();
  }
}

/**
 * Times every invocation of the command-events function (the event path's completion: EventBridge invokes it,
 * so it is not in the execution history).
 */
function timeCommandEvents(local: LocalMode): { ms: number[] } {
  const fn = local.functions.get(FUNCTION_NAMES.commandEvents);
  const timedCalls = { ms: [] as number[] };
  const invoke = fn.invoke.bind(fn);
  fn.invoke = async (payload: unknown) => {
    const start = process.hrtime.bigint();
    try {
      return await invoke(payload);
    } finally {
      timedCalls.ms.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
  };
  return timedCalls;
}

interface Window {
  start(): void;
  usage(extra: { transitions: number; lambdaMs: number[] }): Usage;
}

/** Counts what happens between start() and usage(): calls at the emulator, DynamoDB units, handler log lines. */
function window(local: LocalMode, dynamo: ReturnType<typeof countDynamo>): Window {
  let logsFrom = 0;
  return {
    start() {
      local.aws.resetCallCounts();
      dynamo.reset();
      logsFrom = local.handlerLogs.length;
    },
    usage({ transitions, lambdaMs }) {
      const calls = secretCalls(local);
      return {
        stateTransitions: transitions,
        lambdaRequests: lambdaMs.length,
        lambdaGbSeconds: gbSeconds(lambdaMs, FUNCTION_MEMORY_MB),
        secretsManagerCalls: calls.secretsManager,
        kmsRequests: calls.kms,
        dynamoReadUnits: dynamo.tally.read,
        dynamoWriteUnits: dynamo.tally.write,
        logBytes: logBytes(local.handlerLogs.slice(logsFrom)),
      };
    },
  };
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { value, ms: Number(process.hrtime.bigint() - start) / 1e6 };
}

function nodeUsage(callsPerNode: Record<string, number>, nodes: number): Usage {
  let secretsManager = 0;
  let kms = 0;
  for (const [key, n] of Object.entries(callsPerNode)) {
    if (key.startsWith('secretsmanager:')) secretsManager += n;
    if (key.startsWith('kms:')) kms += n;
  }
  return { ...NO_USAGE, secretsManagerCalls: secretsManager * nodes, kmsRequests: kms * nodes };
}

/** One renewal of ours (event path, nodes included) and of the baseline at one rollout length. */
export interface RolloutCost {
  rolloutSeconds: number;
  ours: Usage;
  /** The part of `ours` that is the nodes' own calls (each fetches its secret version once). */
  oursNodes: Usage;
  baseline: Usage;
}

export interface MeasuredDesigns {
  designs: CountedDesign[];
  byRollout: RolloutCost[];
  model: MonthModel;
  notes: string[];
}

/** Runs both designs on one local mode with a virtual fleet and counts what each renewal and each check uses. */
export async function measureDesigns(options: CostOptions): Promise<MeasuredDesigns> {
  const notes: string[] = [];
  const nodeRuns = await measureRunsPerRenewal(options.realNodes);
  const local = await startLocalMode({ nodes: 0, waitScale: options.msPerSecond, ssmMsPerSecond: options.msPerSecond });
  try {
    // Virtual nodes: node i of a command finishes (i+1)/FLEET of the rollout after the command first reached a node.
    let rolloutSeconds = ROLLOUT_SECONDS;
    const firstSeen = new Map<string, number>();
    addVirtualNodes(local.aws, FLEET, local.tags, (request, i) => {
      const start = firstSeen.get(request.commandId) ?? Date.now();
      firstSeen.set(request.commandId, start);
      return start + (rolloutSeconds * options.msPerSecond * (i + 1)) / FLEET;
    });
    const dynamo = countDynamo(local);
    const counted = window(local, dynamo);
    const certificateArn = await exportNewCertificate(local, 'cost.bench.acm-export.test');
    const commandEvents = timeCommandEvents(local);
    // The poll path and the baseline wait for no event: none is delivered while they run.
    const withoutEvents = async <T>(run: () => Promise<T>): Promise<T> => {
      local.aws.events.dropEvents = true;
      try {
        return await run();
      } finally {
        local.aws.events.dropEvents = false;
      }
    };

    // Ours (event path, the stack's definition): ACM's renewal event → acm-renew → one execution per target;
    // command-events, which EventBridge invokes on the command's end, completes the execution's wait.
    const renewOurs = async (): Promise<{ usage: Usage; input: string; renewMs: number }> => {
      const event = await local.aws.acm.renew(certificateArn);
      counted.start();
      commandEvents.ms.length = 0;
      const renew = await timed(() => local.deliverEvent(event));
      const executions: LocalExecution[] = [];
      for (const arn of renew.value.executionArns) executions.push(await local.stepFunctions.waitFor(arn));
      if (executions.length !== 1 || executions[0].status !== 'SUCCEEDED')
        throw new Error(
          `the renewal ran ${executions.length} execution(s): ${executions.map((e) => e.status).join(', ')}`,
        );
      await local.waitForAssociations();
      // command-events completes the wait before it returns: let its invocation end before counting.
      await local.aws.events.idle();
      const ours = historyCounts(executions[0].history);
      const usage = counted.usage({
        transitions: ours.transitions,
        lambdaMs: [renew.ms, ...ours.lambdaMs, ...commandEvents.ms],
      });
      return { usage, input: executions[0].input, renewMs: renew.ms };
    };
    // The baseline: the same execution input on the definition with the fixed Wait; its renewal lookup is a Scan.
    const renewBaseline = (input: string, name: string): Promise<Usage> =>
      withoutEvents(async () => {
        counted.start();
        const lookup = await timed(() =>
          scanForCertificate({ ddb: local.ddb, tableName: tableNameOf(local) } as never, certificateArn),
        );
        const baseExecution = await runVariant(
          local,
          withFixedWait(withPollLoop(local.model.definition), BASELINE_WAIT_SECONDS),
          name,
          input,
          options.msPerSecond,
        );
        const base = historyCounts(baseExecution.history);
        return counted.usage({ transitions: base.transitions, lambdaMs: [lookup.ms, ...base.lambdaMs] });
      });

    const main = await renewOurs();
    const oursRenewal = main.usage;
    const input = main.input;

    // The poll path (the stack before the event path): the same input on the definition with the wait rendered
    // as the backoff loop, started by the same renewal function.
    const pollRenewal = await withoutEvents(async () => {
      counted.start();
      const pollExecution = await runVariant(
        local,
        withPollLoop(local.model.definition),
        'cost-poll',
        input,
        options.msPerSecond,
      );
      const poll = historyCounts(pollExecution.history);
      return counted.usage({ transitions: poll.transitions, lambdaMs: [main.renewMs, ...poll.lambdaMs] });
    });

    const baselineRenewal = await renewBaseline(input, 'cost-baseline');
    const nodesPerRenewal = nodeUsage(nodeRuns.renewalCallsPerNode, FLEET);

    // The same two designs at each rollout length (the baseline's polling grows with it, the event path's not).
    const byRollout: RolloutCost[] = [];
    for (const seconds of FINISH_TIMES) {
      rolloutSeconds = seconds;
      const ours = seconds === ROLLOUT_SECONDS ? main : await renewOurs();
      const baseline =
        seconds === ROLLOUT_SECONDS ? baselineRenewal : await renewBaseline(ours.input, `cost-baseline-${seconds}s`);
      byRollout.push({
        rolloutSeconds: seconds,
        ours: addUsage(ours.usage, nodesPerRenewal),
        oursNodes: nodesPerRenewal,
        baseline,
      });
    }
    rolloutSeconds = ROLLOUT_SECONDS;

    // Drift check (ours only): one run over the inventory of this run (one target of FLEET nodes).
    counted.start();
    const drift = await timed(() => local.runDriftCheck());
    const driftUsage = counted.usage({ transitions: 0, lambdaMs: [drift.ms] });
    if (dynamo.tally.unreported > 0)
      notes.push(`${dynamo.tally.unreported} DynamoDB call(s) came back without consumed capacity.`);

    const model: MonthModel = {
      certificates: 20,
      nodesPerCertificate: FLEET,
      renewalIntervalDays: RENEWAL_INTERVAL_DAYS,
      installRunsPerNodePerMonth: runsPerMonth(DEFAULT_CONVERGENCE_SCHEDULE),
      reportRunsPerNodePerMonth: runsPerMonth(DEFAULT_DRIFT_REPORT_SCHEDULE),
      driftChecksPerMonth: runsPerMonth(driftSchedule()),
    };
    // The drift check's per-target work (everything but its one invocation) grows with the targets.
    const perTargetDrift = { ...driftUsage, lambdaRequests: 0 };
    const driftAtScale = addUsage(
      { ...NO_USAGE, lambdaRequests: 1 },
      {
        ...perTargetDrift,
        lambdaGbSeconds: perTargetDrift.lambdaGbSeconds * model.certificates,
        secretsManagerCalls: perTargetDrift.secretsManagerCalls * model.certificates,
        kmsRequests: perTargetDrift.kmsRequests * model.certificates,
        dynamoReadUnits: perTargetDrift.dynamoReadUnits * model.certificates,
        dynamoWriteUnits: perTargetDrift.dynamoWriteUnits * model.certificates,
        logBytes: perTargetDrift.logBytes * model.certificates,
      },
    );
    const ourRuns = {
      perInstallRunPerNode: nodeUsage(nodeRuns.unchangedRunCalls.install, 1),
      perReportRunPerNode: nodeUsage(nodeRuns.unchangedRunCalls.report, 1),
      perDriftCheck: driftAtScale,
      // One secret per certificate and target, the nodes' canary; the certificate, inventory and alert keys.
      fixed: { secrets: model.certificates + 1, kmsKeys: countKmsKeys() },
    };
    const designs: CountedDesign[] = [
      {
        design: 'ours (event path)',
        perRenewal: addUsage(oursRenewal, nodesPerRenewal),
        ...ourRuns,
      },
      {
        design: 'ours (poll path, before the event path)',
        perRenewal: addUsage(pollRenewal, nodesPerRenewal),
        ...ourRuns,
      },
      {
        design: 'baseline',
        perRenewal: baselineRenewal,
        perInstallRunPerNode: NO_USAGE,
        perReportRunPerNode: NO_USAGE,
        perDriftCheck: NO_USAGE,
        fixed: { secrets: model.certificates, kmsKeys: 0 },
        lacks:
          'no convergence or report associations (a node offline at push time keeps the old certificate), no drift check, certificate and key as Run Command parameters (readable with ListCommands); one secret per certificate (the passphrase) and no key of its own are assumed, which can only favour it',
      },
    ];
    notes.push(
      `Nodes' calls per renewal and per association run measured by the runs section with ${nodeRuns.nodes} real local nodes, per node × ${FLEET}: ` +
        `renewal ${fmtCalls(nodeRuns.renewalCallsPerNode)}; unchanged install run ${fmtCalls(nodeRuns.unchangedRunCalls.install)}; report run ${fmtCalls(nodeRuns.unchangedRunCalls.report)}.`,
    );
    return { designs, model, notes, byRollout };
  } finally {
    await local.close();
  }
}

function fmtCalls(calls: Record<string, number>): string {
  const entries = Object.entries(calls).filter(([key]) => /^(secretsmanager|kms):/.test(key));
  return entries.length ? entries.map(([k, n]) => `${k} ${n}`).join(', ') : 'no Secrets Manager or KMS call';
}

function tableNameOf(local: LocalMode): string {
  return local.functions.get(FUNCTION_NAMES.acmRenew).environment.TABLE_NAME;
}

/** The drift check rule's schedule, from the synthesized template. */
function driftSchedule(): string {
  const rules = Object.values(builtStack().template.Resources).filter(
    (r) => r.Type === 'AWS::Events::Rule' && typeof r.Properties?.ScheduleExpression === 'string',
  );
  if (rules.length !== 1) throw new Error(`expected one scheduled rule in the template, found ${rules.length}`);
  return String(rules[0].Properties!.ScheduleExpression);
}

function countKmsKeys(): number {
  return Object.values(builtStack().template.Resources).filter((r) => r.Type === 'AWS::KMS::Key').length;
}

function usd(x: number): number {
  return Number(x.toPrecision(3));
}

/** The table rows: per renewal and per month, each design against the baseline. */
export function costRows(designs: readonly CountedDesign[], model: MonthModel): BenchRow[] {
  const baseline = designs.find((d) => d.design === 'baseline');
  if (!baseline) throw new Error('the cost table needs a baseline entry');
  const rows: BenchRow[] = [];
  const b = costOf(baseline.perRenewal);
  const bm = monthlyCost(baseline, model);
  for (const d of designs) {
    if (d === baseline) continue;
    const r = costOf(d.perRenewal);
    const label = `${d.design}`;
    const u = d.perRenewal;
    const bu = baseline.perRenewal;
    rows.push(
      row(
        SECTION,
        `${label}: $ per renewal, 1 certificate on ${model.nodesPerCertificate} nodes`,
        'USD',
        usd(r.total),
        usd(b.total),
        `goal: at most the baseline's, ${r.total <= b.total ? 'met' : 'not met'}`,
      ),
    );
    rows.push(row(SECTION, `${label}: state transitions per renewal`, '', u.stateTransitions, bu.stateTransitions));
    rows.push(row(SECTION, `${label}: Lambda invocations per renewal`, '', u.lambdaRequests, bu.lambdaRequests));
    rows.push(
      row(
        SECTION,
        `${label}: Lambda GB-s per renewal`,
        'GB-s',
        usd(u.lambdaGbSeconds),
        usd(bu.lambdaGbSeconds),
        `${FUNCTION_MEMORY_MB} MB, local wall ms`,
      ),
    );
    rows.push(
      row(
        SECTION,
        `${label}: Secrets Manager calls per renewal`,
        '',
        u.secretsManagerCalls,
        bu.secretsManagerCalls,
        'handlers + nodes',
      ),
    );
    rows.push(row(SECTION, `${label}: KMS requests per renewal`, '', u.kmsRequests, bu.kmsRequests));
    rows.push(
      row(
        SECTION,
        `${label}: DynamoDB read + write units per renewal`,
        '',
        usd(u.dynamoReadUnits + u.dynamoWriteUnits),
        usd(bu.dynamoReadUnits + bu.dynamoWriteUnits),
      ),
    );
    rows.push(row(SECTION, `${label}: handler log bytes per renewal`, 'bytes', u.logBytes, bu.logBytes));
    const m = monthlyCost(d, model);
    const nodes = model.certificates * model.nodesPerCertificate;
    rows.push(
      row(
        SECTION,
        `${label}: $ per month, ${model.certificates} certificates on ${nodes.toLocaleString('en-US')} nodes`,
        'USD',
        usd(m.total),
        usd(bm.total),
        `renewals ${usd(renewalsPerMonth(model))}/month; ours: associations + drift check + fixed $${usd(m.secretsStored + m.kmsKeys)}`,
      ),
    );
    rows.push(
      row(
        SECTION,
        `${label}: $ per month without fixed costs (secrets, keys)`,
        'USD',
        usd(m.total - m.secretsStored - m.kmsKeys),
        usd(bm.total - bm.secretsStored - bm.kmsKeys),
      ),
    );
  }
  return rows;
}

/**
 * Per renewal at each rollout length: ours (event path, its nodes' calls included) against the baseline, with
 * both designs' state transitions, the one cost that grows with the rollout. A second row per length holds the
 * nodes' own calls alone against the baseline's whole renewal: the design has each node fetch and decrypt its
 * secret version through Secrets Manager once (the baseline's nodes get the key in Run Command parameters and
 * fetch nothing), so where that part alone costs more than the baseline, no workflow can meet the goal.
 */
export function rolloutRows(byRollout: readonly RolloutCost[], nodes: number): BenchRow[] {
  return byRollout.flatMap((r) => {
    const ours = costOf(r.ours).total;
    const nodeCalls = costOf(r.oursNodes).total;
    const baseline = costOf(r.baseline).total;
    const room = baseline - nodeCalls;
    return [
      row(
        SECTION,
        `ours (event path): $ per renewal, 1 certificate on ${nodes} nodes, last node done at t=${r.rolloutSeconds} s`,
        'USD',
        usd(ours),
        usd(baseline),
        `${r.ours.stateTransitions} vs ${r.baseline.stateTransitions} transitions; goal: at most the baseline's, ${ours <= baseline ? 'met' : 'not met'}`,
      ),
      row(
        SECTION,
        `ours, the nodes' own secret fetches alone (${r.oursNodes.secretsManagerCalls} Secrets Manager, ${r.oursNodes.kmsRequests} KMS calls): $ per renewal, t=${r.rolloutSeconds} s`,
        'USD',
        usd(nodeCalls),
        usd(baseline),
        room <= 0
          ? "more than the baseline's whole renewal: the goal cannot be met at this length by any workflow while each node fetches its key from Secrets Manager"
          : `leaves $${usd(room)} of the baseline's cost for the workflow and functions; ours spends $${usd(ours - nodeCalls)} on them`,
      ),
    ];
  });
}

export async function benchCost(options: CostOptions, notes: string[]): Promise<BenchRow[]> {
  const measured = await measureDesigns(options);
  const { designs, model } = measured;
  const rows = [...costRows(designs, model), ...rolloutRows(measured.byRollout, model.nodesPerCertificate)];
  notes.push(
    `Per renewal: local mode, real handlers and definition, ${FLEET} virtual nodes finishing over a ${ROLLOUT_SECONDS}-s rollout (1 s = ${options.msPerSecond} ms); transitions and Lambda invocations from the execution history plus the acm-renew invocation and, on the event path, the command-events invocations EventBridge makes (baseline: its Scan lookup timed as its renew function); each invocation's local wall ms stands in for Lambda's billed ms at ${FUNCTION_MEMORY_MB} MB arm64; Secrets Manager and KMS calls counted at the emulator (plus one KMS data key per stored secret value); DynamoDB units as dynalite reports them per call; log bytes are the handlers' own lines (Lambda's START/END/REPORT lines are not counted).`,
  );
  notes.push(
    `Per month: ${model.certificates} certificates, one target of ${model.nodesPerCertificate} nodes each, renewed every ${RENEWAL_INTERVAL_DAYS} days (198-day exportable certificates renewed 45 days before expiry); install associations ${DEFAULT_CONVERGENCE_SCHEDULE} and report associations ${DEFAULT_DRIFT_REPORT_SCHEDULE} on every node, the drift check ${driftSchedule()} (counted on one target, its per-target work × ${model.certificates}). Fixed: $${PRICES.secretMonth.usd}/secret-month, $${PRICES.kmsKeyMonth.usd}/key-month. List prices in ${'bench/prices.ts'} (us-east-1, no free tier); log storage: price not found, left out. Run Command, State Manager and the stack's EventBridge rules (AWS service events and schedules on the default bus) cost nothing.`,
  );
  notes.push(
    `Per renewal by rollout length: one more renewal of each design per length, the virtual nodes finishing evenly up to that time; the ${ROLLOUT_SECONDS}-s rows are the renewal above. Ours includes its nodes' calls (below), the baseline's nodes fetch nothing.`,
  );
  for (const d of designs) if (d.lacks) notes.push(`${d.design} lacks: ${d.lacks}.`);
  notes.push(...measured.notes);
  return rows;
}
