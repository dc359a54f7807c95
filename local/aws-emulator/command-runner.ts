/**
 * The Run Command runner: dispatches a command's invocations to the managed nodes (MaxConcurrency /
 * MaxErrors, delivery timeout, forced outcomes) and runs each invocation's document steps through the
 * node's executor. SendCommand (ssm.ts) and State Manager's association runs (associations.ts) both run
 * their commands here.
 */
import { agentVersionAtLeast, type SsmCommandDocument } from '../../ssm-documents/load';
import { FORCED_OUTCOMES, isForcedOutcome, type ForcedOutcome } from '../faults';
import { limit, type Command, type Invocation, type PluginResult } from './commands';
import type { InventoryStore } from './inventory';
import { agentVersionOf, type ManagedNode, type StepResult } from './managed-nodes';
import { resolveParameters } from './parameters';

/** Shortest execution timeout of a document step in local mode, real milliseconds (see runStep's call). */
export const MIN_STEP_TIMEOUT_MS = 20_000;

/** Invocation outcomes (StatusDetails) counted in ErrorCount and against MaxErrors. */
const COUNTS_AS_ERROR = new Set(['Failed', 'Execution Timed Out']);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface CommandRunnerOptions {
  /** The registered managed nodes, by id. */
  nodes: ReadonlyMap<string, ManagedNode>;
  /** Collects each node's custom inventory after a run on it. */
  inventory: InventoryStore;
  /** Real milliseconds per emulated second for delivery and execution timeouts. */
  msPerSecond: number;
}

export class CommandRunner {
  constructor(private readonly options: CommandRunnerOptions) {}

  /** Runs the command's invocations, at most MaxConcurrency at a time, cancelling the rest once MaxErrors is exceeded. */
  async run(command: Command, doc: SsmCommandDocument): Promise<void> {
    const total = command.invocations.length;
    const concurrency = Math.max(1, limit(command.maxConcurrency, total, 1));
    const maxErrors = limit(command.maxErrors, total, 0);
    const queue = [...command.invocations];
    let errors = 0;
    const worker = async (): Promise<void> => {
      for (let inv = queue.shift(); inv; inv = queue.shift()) {
        if (errors > maxErrors) {
          // SSM's word for an invocation the system cancelled because MaxErrors was exceeded.
          inv.status = 'Cancelled';
          inv.statusDetails = 'Terminated';
          inv.end = new Date();
          continue;
        }
        await this.runInvocation(command, doc, inv);
        // Only Failed and Execution Timed Out count against MaxErrors (not Undeliverable, InvalidPlatform...).
        if (COUNTS_AS_ERROR.has(inv.statusDetails)) errors++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, total) }, () => worker()));
  }

  private async runInvocation(command: Command, doc: SsmCommandDocument, inv: Invocation): Promise<void> {
    const node = this.options.nodes.get(inv.instanceId);
    const msPerSecond = this.options.msPerSecond;
    // Run Command only: association runs keep converging the node, as the switch is about one command's outcome.
    const forced = node?.executor.forcedOutcome?.();
    if (node && forced && isForcedOutcome(forced) && !command.associationId) {
      this.forceOutcome(doc, inv, forced);
      return;
    }
    const deliveryDeadline = Date.now() + command.timeoutSeconds * msPerSecond;
    while (!node || !node.executor.isOnline()) {
      if (Date.now() >= deliveryDeadline) {
        inv.status = 'TimedOut';
        inv.statusDetails = 'Delivery Timed Out';
        inv.end = new Date();
        return;
      }
      await sleep(Math.min(50, Math.max(1, deliveryDeadline - Date.now())));
    }
    inv.status = 'InProgress';
    inv.statusDetails = 'In Progress';
    inv.start = new Date();
    const { values } = resolveParameters(doc, command.parameters);
    const environment: Record<string, string> = {};
    if (agentVersionAtLeast(agentVersionOf(node))) {
      for (const [name, def] of Object.entries(doc.parameters ?? {}))
        if (def.interpolationType === 'ENV_VAR') environment[`SSM_${name}`] = values[name];
    }
    let failed = false;
    let timedOut = false;
    for (const step of doc.mainSteps) {
      const plugin: PluginResult = {
        name: step.name,
        status: 'Pending',
        statusDetails: 'Pending',
        responseCode: -1,
        stdout: '',
        stderr: '',
      };
      inv.plugins.push(plugin);
      const pre = step.precondition?.StringEquals;
      if (step.action !== 'aws:runShellScript' || (pre && !pre.some((v) => v.toLowerCase() === 'linux'))) {
        plugin.status = 'Success';
        plugin.statusDetails = 'Success';
        plugin.responseCode = 0;
        plugin.stdout = pre
          ? 'Step execution skipped due to unsatisfied preconditions: platformType'
          : `Step execution skipped: action ${step.action} is not supported locally`;
        continue;
      }
      if (failed) {
        plugin.status = 'Cancelled';
        plugin.statusDetails = 'Cancelled';
        continue;
      }
      const script = step.inputs.runCommand
        .join('\n')
        .replace(/\{\{\s*([A-Za-z0-9_.]+)\s*\}\}/g, (m, p: string) => (p in values ? values[p] : m));
      let stepTimeout = Number(step.inputs.timeoutSeconds ?? 3600);
      if (!Number.isInteger(stepTimeout) || stepTimeout < 5 || stepTimeout > 172800) stepTimeout = 3600;
      plugin.status = 'InProgress';
      plugin.statusDetails = 'In Progress';
      plugin.start = new Date();
      let result: StepResult;
      try {
        result = await node.executor.runStep({
          commandId: command.commandId,
          stepName: step.name,
          script,
          parameters: values,
          environment,
          // Scaled like every emulated duration, but never below what the script itself waits in real
          // seconds (another run's lock, served-serial checks): a scaled 600-second step would otherwise be
          // killed while legitimately waiting for the run before it.
          timeoutMs: Math.max(stepTimeout * msPerSecond, Math.min(stepTimeout * 1000, MIN_STEP_TIMEOUT_MS)),
          ...(step.inputs.workingDirectory ? { workingDirectory: step.inputs.workingDirectory } : {}),
        });
      } catch (err) {
        result = {
          exitCode: 1,
          stdout: '',
          stderr: `failed to run step: ${err instanceof Error ? err.message : String(err)}`,
          timedOut: false,
        };
      }
      plugin.end = new Date();
      plugin.stdout = result.stdout;
      plugin.stderr = result.stderr;
      plugin.responseCode = result.timedOut ? -1 : result.exitCode;
      if (result.timedOut) {
        plugin.status = 'TimedOut';
        plugin.statusDetails = 'Execution Timed Out';
        failed = timedOut = true;
      } else if (result.exitCode !== 0) {
        plugin.status = 'Failed';
        plugin.statusDetails = 'Failed';
        failed = true;
      } else {
        plugin.status = 'Success';
        plugin.statusDetails = 'Success';
      }
    }
    inv.end = new Date();
    const ran = inv.plugins.filter((p) => p.start);
    inv.responseCode = ran.length ? ran[ran.length - 1].responseCode : 0;
    if (timedOut) {
      inv.status = 'TimedOut';
      inv.statusDetails = 'Execution Timed Out';
    } else if (failed) {
      inv.status = 'Failed';
      inv.statusDetails = 'Failed';
    } else {
      inv.status = 'Success';
      inv.statusDetails = 'Success';
    }
    this.options.inventory.collect(inv.instanceId, node.executor);
  }

  /**
   * Ends an invocation with a forced outcome as SSM reports it: outcomes reached before the script ran have
   * no plugin result and ResponseCode -1; Failed and Execution Timed Out show the step as run.
   */
  private forceOutcome(doc: SsmCommandDocument, inv: Invocation, outcome: ForcedOutcome): void {
    const { status, statusDetails } = FORCED_OUTCOMES[outcome];
    const now = new Date();
    const ran = outcome === 'Failed' || outcome === 'ExecutionTimedOut';
    if (ran) {
      const step = doc.mainSteps[0];
      inv.start = now;
      inv.plugins.push({
        name: step?.name ?? 'install',
        status,
        statusDetails,
        responseCode: outcome === 'Failed' ? 1 : -1,
        stdout: '',
        stderr: outcome === 'Failed' ? 'local fault switch: the install was made to fail' : '',
        start: now,
        end: now,
      });
    }
    inv.status = status;
    inv.statusDetails = statusDetails;
    inv.responseCode = outcome === 'Failed' ? 1 : -1;
    inv.end = now;
  }
}
