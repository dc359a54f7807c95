/**
 * Local Step Functions: the real state machine definition (rendered from the synthesized template) run by
 * aws-local-stepfunctions, behind the StartExecution / DescribeExecution / GetExecutionHistory /
 * ListExecutions / StopExecution operations of the AWS JSON 1.0 protocol, so the unmodified SFN SDK client
 * (export-api and acm-renew handlers, the local API) talks to it like to the service.
 *
 * Task states are overridden by name with local functions (the real Lambda handlers, called with the task
 * payload as Lambda would receive it); the history records what the service records for Lambda tasks
 * (LambdaFunctionScheduled/Started/Succeeded/Failed, with a Lambda-style JSON cause) and SNS tasks.
 * Waits and retry intervals are shortened by `msPerSecond` (real milliseconds per definition second),
 * never by changing the definition. `.waitForTaskToken` tasks (which aws-local-stepfunctions does not run)
 * get a fresh token in `$$.Task.Token`, invoke their function, then wait for SendTaskSuccess/SendTaskFailure
 * on this API, for their TimeoutSeconds/HeartbeatSeconds (scaled), or for the execution to be stopped. Each ended execution is handed, as the "Step Functions Execution Status
 * Change" event EventBridge would receive, to `onExecutionEnd` (the stack's rules on that event).
 */
import './polyfills';
import { randomBytes, randomUUID } from 'node:crypto';
import { StateMachine } from 'aws-local-stepfunctions';
import type { AslDefinition } from '../lib/render-definition';
import { AwsServiceError } from './aws-emulator/errors';
import { Input, paginate, type JsonObject } from './aws-emulator/input';
import type { EmulatedService } from './aws-emulator/server';

export type TaskFunction = (payload: unknown) => Promise<unknown>;

export interface LocalTask {
  /** `lambda` tasks get Lambda history events and a Lambda-style error cause; `service` tasks TaskScheduled/TaskSucceeded. */
  kind: 'lambda' | 'service';
  /** Resource ARN shown in the history. */
  resource: string;
  run: TaskFunction;
  /** A `.waitForTaskToken` task: its result is the token's completion, not `run`'s return value. */
  waitForTaskToken?: boolean;
}

/** A task token handed out by a `.waitForTaskToken` task; closed once completed, timed out or stopped. */
interface TaskTokenState {
  executionArn: string;
  open: boolean;
  complete: (outcome: { output: unknown } | { error: string; cause?: string }) => void;
}

export interface LocalStepFunctionsOptions {
  definition: AslDefinition;
  stateMachineArn: string;
  roleArn?: string;
  /** Task states run locally, by state name. Every Task state of the definition must be listed. */
  tasks: Record<string, LocalTask>;
  /** Real milliseconds per second of Wait states and retry intervals (default 1000 = real time). */
  msPerSecond?: number;
  /** Seconds of a `SecondsPath` wait before any task has said otherwise. */
  defaultWaitSeconds?: number;
  /** Called with the output of every task, to follow `SecondsPath` waits (state name → seconds). */
  waitSecondsFrom?: (stateName: string, taskOutput: unknown) => number | undefined;
  /**
   * Called once per execution that ended (not when local mode shuts down) with its status-change event; the
   * execution's `done` resolves after it. Errors are the callee's to report: they are not rethrown.
   */
  onExecutionEnd?: (event: ExecutionStatusChangeEvent) => Promise<void>;
}

/** The "Step Functions Execution Status Change" event as Step Functions sends it to EventBridge. */
export interface ExecutionStatusChangeEvent {
  version: '0';
  id: string;
  'detail-type': 'Step Functions Execution Status Change';
  source: 'aws.states';
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: {
    executionArn: string;
    stateMachineArn: string;
    name: string;
    status: ExecutionStatus;
    startDate: number;
    stopDate: number | null;
    input: string;
    inputDetails: { included: boolean };
    output: string | null;
    outputDetails: { included: boolean } | null;
    error: string | null;
    cause: string | null;
  };
}

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface HistoryEvent {
  id: number;
  previousEventId: number;
  timestamp: number;
  type: string;
  [details: string]: unknown;
}

export interface LocalExecution {
  executionArn: string;
  name: string;
  input: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
  history: HistoryEvent[];
  done: Promise<void>;
  /** Stops the execution (StopExecution's optional error and cause are kept, as the service keeps them). */
  abort: (reason?: { error?: string; cause?: string }) => void;
}

const NAME_CHARS = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/]{1,80}$/;
/** Execution names: 1-80 characters, none of whitespace, brackets, wildcards, `"#%\^|~`$&,;:/` or control characters. */
const validName = (name: string): boolean => NAME_CHARS.test(name) && !/\p{Cc}/u.test(name);
const MAX_INPUT = 256 * 1024;
const STATE_EVENT_TYPES = new Set(['Task', 'Pass', 'Wait', 'Choice', 'Succeed', 'Fail', 'Map', 'Parallel']);

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** Local task tokens: 64 URL-safe base64 characters (the service's are longer and opaque). */
const TOKEN_FORMAT = /^[A-Za-z0-9_-]{64}$/;

/** An error whose name a Catch or Retry matches (`States.Timeout`, a SendTaskFailure error...). */
function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** Lambda's error cause: `{"errorType","errorMessage"}` as a JSON string. */
function lambdaCause(error: Error): string {
  return JSON.stringify({ errorType: error.name, errorMessage: error.message });
}

export class LocalStepFunctions {
  readonly executions = new Map<string, LocalExecution>();
  private readonly tokens = new Map<string, TaskTokenState>();
  private readonly machine: StateMachine;
  private readonly msPerSecond: number;
  private closed = false;

  constructor(private readonly options: LocalStepFunctionsOptions) {
    for (const [name, state] of Object.entries(options.definition.States)) {
      if (state.Type === 'Task' && !options.tasks[name])
        throw new Error(`local Step Functions: no local task for state ${name}`);
    }
    this.machine = new StateMachine(options.definition as never, { validationOptions: { checkArn: false } });
    this.msPerSecond = options.msPerSecond ?? 1000;
  }

  get stateMachineArn(): string {
    return this.options.stateMachineArn;
  }

  service(): EmulatedService {
    return {
      targetPrefix: 'AWSStepFunctions',
      signingName: 'states',
      namespace: 'com.amazonaws.states',
      jsonVersion: '1.0',
      operations: {
        StartExecution: (i) => this.startExecution(new Input(i)),
        DescribeExecution: (i) => this.describeExecution(new Input(i)),
        GetExecutionHistory: (i) => this.getExecutionHistory(new Input(i)),
        ListExecutions: (i) => this.listExecutions(new Input(i)),
        StopExecution: (i) => this.stopExecution(new Input(i)),
        SendTaskSuccess: (i) => this.sendTaskSuccess(new Input(i)),
        SendTaskFailure: (i) => this.sendTaskFailure(new Input(i)),
      },
    };
  }

  /** Resolves when the execution has ended. */
  async waitFor(executionArn: string): Promise<LocalExecution> {
    const execution = this.executions.get(executionArn);
    if (!execution) throw new Error(`unknown execution ${executionArn}`);
    await execution.done;
    return execution;
  }

  /** Resolves when every execution has ended and its status-change event was handled. */
  async idle(): Promise<void> {
    for (;;) {
      // Every `done`, not only the running ones': an execution that just ended may still be handing its event on.
      await Promise.all([...this.executions.values()].map((e) => e.done));
      if (![...this.executions.values()].some((e) => e.status === 'RUNNING')) return;
    }
  }

  /** Aborts running executions (shutdown). */
  close(): void {
    this.closed = true;
    for (const e of this.executions.values()) if (e.status === 'RUNNING') e.abort();
  }

  // ---- operations -------------------------------------------------------------------------------

  private findExecution(input: Input): LocalExecution {
    const arn = input.string('executionArn', { min: 1, max: 2048 });
    if (!/^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[^:]+:[^:]+$/.test(arn))
      throw new AwsServiceError('InvalidArn', `Invalid Arn: '${arn.slice(0, 200)}'`);
    const execution = this.executions.get(arn);
    if (!execution)
      throw new AwsServiceError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn.slice(0, 200)}'`);
    return execution;
  }

  private checkStateMachine(arn: string): void {
    if (!/^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[^:]+$/.test(arn))
      throw new AwsServiceError('InvalidArn', `Invalid Arn: '${arn.slice(0, 200)}'`);
    if (arn !== this.options.stateMachineArn)
      throw new AwsServiceError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn.slice(0, 200)}'`);
  }

  private startExecution(input: Input): JsonObject {
    if (this.closed) throw new AwsServiceError('ServiceUnavailable', 'local mode is shutting down', 503);
    this.checkStateMachine(input.string('stateMachineArn', { min: 1, max: 2048 }));
    const name = input.optString('name') ?? randomUUID();
    if (!validName(name)) throw new AwsServiceError('InvalidName', `Invalid Name: '${name.slice(0, 100)}'`);
    const text = input.optString('input') ?? '{}';
    if (Buffer.byteLength(text) > MAX_INPUT)
      throw new AwsServiceError('InvalidExecutionInput', 'Execution input exceeds the maximum size of 262144 bytes.');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new AwsServiceError(
        'InvalidExecutionInput',
        'Invalid State Machine Execution Input: the input is not valid JSON.',
      );
    }
    const executionArn = `${this.options.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      // As the service (STANDARD): same name and input while running → the same execution; otherwise a conflict.
      if (existing.status === 'RUNNING' && existing.input === text)
        return { executionArn, startDate: existing.startDate.getTime() / 1000 };
      throw new AwsServiceError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const execution = this.run(executionArn, name, text, parsed);
    return { executionArn, startDate: execution.startDate.getTime() / 1000 };
  }

  private describeExecution(input: Input): JsonObject {
    const e = this.findExecution(input);
    return {
      executionArn: e.executionArn,
      stateMachineArn: this.options.stateMachineArn,
      name: e.name,
      status: e.status,
      startDate: e.startDate.getTime() / 1000,
      ...(e.stopDate ? { stopDate: e.stopDate.getTime() / 1000 } : {}),
      input: e.input,
      inputDetails: { included: true },
      ...(e.output !== undefined ? { output: e.output, outputDetails: { included: true } } : {}),
      ...(e.error !== undefined ? { error: e.error } : {}),
      ...(e.cause !== undefined ? { cause: e.cause } : {}),
    };
  }

  private getExecutionHistory(input: Input): JsonObject {
    const e = this.findExecution(input);
    const reverse = input.body.reverseOrder === true;
    const events = reverse ? [...e.history].reverse() : e.history;
    const { page, nextToken } = paginate(
      events,
      input.optNumber('maxResults', { min: 0, max: 1000 }) || undefined,
      input.optString('nextToken'),
      1000,
    );
    return {
      events: page.map((ev) => ({ ...ev, timestamp: ev.timestamp / 1000 })),
      ...(nextToken ? { nextToken } : {}),
    };
  }

  private listExecutions(input: Input): JsonObject {
    this.checkStateMachine(input.string('stateMachineArn'));
    const filter = input.optString('statusFilter');
    const all = [...this.executions.values()]
      .filter((e) => !filter || e.status === filter)
      .sort((a, b) => b.startDate.getTime() - a.startDate.getTime());
    const { page, nextToken } = paginate(
      all,
      input.optNumber('maxResults', { min: 0, max: 1000 }) || undefined,
      input.optString('nextToken'),
      100,
    );
    return {
      executions: page.map((e) => ({
        executionArn: e.executionArn,
        stateMachineArn: this.options.stateMachineArn,
        name: e.name,
        status: e.status,
        startDate: e.startDate.getTime() / 1000,
        ...(e.stopDate ? { stopDate: e.stopDate.getTime() / 1000 } : {}),
      })),
      ...(nextToken ? { nextToken } : {}),
    };
  }

  private stopExecution(input: Input): JsonObject {
    const e = this.findExecution(input);
    if (e.status === 'RUNNING') e.abort({ error: input.optString('error'), cause: input.optString('cause') });
    return { stopDate: Date.now() / 1000 };
  }

  /** The open task a token names, or the error the service answers with for that token. */
  private openToken(input: Input): TaskTokenState {
    const token = input.string('taskToken', { min: 1, max: 2048 });
    const state = this.tokens.get(token);
    if (!state) {
      if (!TOKEN_FORMAT.test(token)) throw new AwsServiceError('InvalidToken', 'Invalid Token');
      throw new AwsServiceError('TaskDoesNotExist', 'Task Does Not Exist');
    }
    if (!state.open)
      throw new AwsServiceError('TaskTimedOut', "Task Timed Out: 'Provided task does not exist anymore'");
    return state;
  }

  private sendTaskSuccess(input: Input): JsonObject {
    const text = input.string('output', { min: 0, max: MAX_INPUT });
    let output: unknown;
    try {
      output = JSON.parse(text);
    } catch {
      throw new AwsServiceError('InvalidOutput', 'Invalid Output: the output is not valid JSON.');
    }
    this.openToken(input).complete({ output });
    return {};
  }

  private sendTaskFailure(input: Input): JsonObject {
    const state = this.openToken(input);
    const cause = input.optString('cause');
    state.complete({ error: input.optString('error') ?? '', ...(cause !== undefined ? { cause } : {}) });
    return {};
  }

  /** The status-change event of an ended execution, with the fields the service sends. */
  private statusChangeEvent(e: LocalExecution): ExecutionStatusChangeEvent {
    const [, , , region = '', account = ''] = this.options.stateMachineArn.split(':');
    return {
      version: '0',
      id: randomUUID(),
      'detail-type': 'Step Functions Execution Status Change',
      source: 'aws.states',
      account,
      time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region,
      resources: [e.executionArn],
      detail: {
        executionArn: e.executionArn,
        stateMachineArn: this.options.stateMachineArn,
        name: e.name,
        status: e.status,
        startDate: e.startDate.getTime(),
        stopDate: e.stopDate ? e.stopDate.getTime() : null,
        input: e.input,
        inputDetails: { included: true },
        output: e.output ?? null,
        outputDetails: e.output !== undefined ? { included: true } : null,
        error: e.error ?? null,
        cause: e.cause ?? null,
      },
    };
  }

  // ---- running ----------------------------------------------------------------------------------

  /**
   * One `.waitForTaskToken` task: the token is open before the function runs (it may complete the token
   * itself), then the task waits for SendTaskSuccess/SendTaskFailure, its TimeoutSeconds (counted from the
   * task's start) or HeartbeatSeconds (nothing here sends heartbeats), both scaled, or the execution's stop.
   */
  private async waitForToken(
    executionArn: string,
    token: string,
    openTokens: Set<string>,
    task: LocalTask,
    payload: unknown,
    state: { TimeoutSeconds?: number; HeartbeatSeconds?: number },
    add: (type: string, details?: Record<string, unknown>) => number,
  ): Promise<unknown> {
    const [, , , , , ...rest] = task.resource.split(':');
    const resource = rest.join(':') || 'task';
    const timers: NodeJS.Timeout[] = [];
    const settled = new Promise<{ output: unknown } | { error: string; cause?: string }>((resolve) => {
      const tokenState: TaskTokenState = {
        executionArn,
        open: true,
        complete: (outcome) => {
          if (!tokenState.open) return;
          tokenState.open = false;
          openTokens.delete(token);
          for (const timer of timers) clearTimeout(timer);
          resolve(outcome);
        },
      };
      this.tokens.set(token, tokenState);
      openTokens.add(token);
      const after = (seconds: number | undefined, error: string): void => {
        if (seconds !== undefined)
          timers.push(setTimeout(() => tokenState.complete({ error }), Math.round(seconds * this.msPerSecond)));
      };
      after(state.TimeoutSeconds, 'States.Timeout');
      after(state.HeartbeatSeconds, 'States.HeartbeatTimeout');
    });
    add('TaskScheduled', {
      taskScheduledEventDetails: {
        resourceType: 'lambda',
        resource,
        region: 'local',
        parameters: JSON.stringify(payload),
        ...(state.TimeoutSeconds !== undefined ? { timeoutInSeconds: state.TimeoutSeconds } : {}),
      },
    });
    add('TaskStarted', { taskStartedEventDetails: { resourceType: 'lambda', resource } });
    try {
      await task.run(payload);
    } catch (err) {
      // The invocation itself failed: the task fails with the function's error, the token is dropped.
      const error = err instanceof Error ? err : new Error(String(err));
      this.tokens.get(token)?.complete({ error: error.name, cause: lambdaCause(error) });
    }
    add('TaskSubmitted', { taskSubmittedEventDetails: { resourceType: 'lambda', resource } });
    const outcome = await settled;
    if ('output' in outcome) {
      add('TaskSucceeded', {
        taskSucceededEventDetails: { resourceType: 'lambda', resource, output: JSON.stringify(outcome.output) },
      });
      return outcome.output;
    }
    if (outcome.error === 'States.Timeout' || outcome.error === 'States.HeartbeatTimeout')
      add('TaskTimedOut', { taskTimedOutEventDetails: { resourceType: 'lambda', resource, error: outcome.error } });
    else if (outcome.error !== 'States.Aborted')
      add('TaskFailed', {
        taskFailedEventDetails: { resourceType: 'lambda', resource, error: outcome.error, cause: outcome.cause ?? '' },
      });
    throw namedError(outcome.error, outcome.cause ?? '');
  }

  private run(executionArn: string, name: string, text: string, input: unknown): LocalExecution {
    const history: HistoryEvent[] = [];
    const add = (type: string, details: Record<string, unknown> = {}): number => {
      const id = history.length + 1;
      history.push({ id, previousEventId: id - 1, timestamp: Date.now(), type, ...details });
      return id;
    };
    const scale = this.msPerSecond / 1000;
    let waitSeconds: number | undefined;

    // $$.Task.Token: a fresh token each time a state's parameters read it (one per task entry, as in the service).
    let issuedToken: string | undefined;
    const taskContext = {
      get Token(): string {
        issuedToken = randomBytes(48).toString('base64url');
        return issuedToken;
      },
    };
    const openTokens = new Set<string>();

    const taskHandlers: Record<string, (payload: unknown) => Promise<unknown>> = {};
    for (const [stateName, task] of Object.entries(this.options.tasks)) {
      if (task.waitForTaskToken) {
        const state = this.options.definition.States[stateName] as {
          TimeoutSeconds?: number;
          HeartbeatSeconds?: number;
        };
        taskHandlers[stateName] = async (payload: unknown) => {
          await tick();
          const token = issuedToken;
          issuedToken = undefined;
          if (!token) throw namedError('States.Runtime', `${stateName}: its parameters do not read $$.Task.Token`);
          return this.waitForToken(executionArn, token, openTokens, task, payload, state, add);
        };
        continue;
      }
      taskHandlers[stateName] = async (payload: unknown) => {
        // Let the event-log reader record the state entry first.
        await tick();
        const json = JSON.stringify(payload);
        if (task.kind === 'lambda') {
          add('LambdaFunctionScheduled', {
            lambdaFunctionScheduledEventDetails: {
              resource: task.resource,
              input: json,
              inputDetails: { truncated: false },
              timeoutInSeconds: 120,
            },
          });
          add('LambdaFunctionStarted');
        } else {
          const [, , service = 'service', , , ...rest] = task.resource.split(':');
          add('TaskScheduled', {
            taskScheduledEventDetails: {
              resourceType: service,
              resource: rest.join(':') || 'task',
              region: 'local',
              parameters: json,
            },
          });
          add('TaskStarted', {
            taskStartedEventDetails: { resourceType: service, resource: rest.join(':') || 'task' },
          });
        }
        try {
          const result = await task.run(payload);
          const out = JSON.stringify(result ?? null);
          if (task.kind === 'lambda')
            add('LambdaFunctionSucceeded', {
              lambdaFunctionSucceededEventDetails: { output: out, outputDetails: { truncated: false } },
            });
          else
            add('TaskSucceeded', {
              taskSucceededEventDetails: { resourceType: 'sns', resource: 'publish', output: out },
            });
          const seconds = this.options.waitSecondsFrom?.(stateName, result);
          if (seconds !== undefined) waitSeconds = seconds;
          return result;
        } catch (err) {
          const error = err instanceof Error ? err : new Error(String(err));
          const cause = task.kind === 'lambda' ? lambdaCause(error) : error.message;
          if (task.kind === 'lambda')
            add('LambdaFunctionFailed', { lambdaFunctionFailedEventDetails: { error: error.name, cause } });
          else
            add('TaskFailed', {
              taskFailedEventDetails: { resourceType: 'sns', resource: 'publish', error: error.name, cause },
            });
          const rethrown = new Error(cause);
          rethrown.name = error.name;
          throw rethrown;
        }
      };
    }

    // Waits: a Wait state with SecondsPath follows the seconds the last task asked for; others their Seconds.
    const waitTimeOverrides: Record<string, number> = {};
    for (const [stateName, state] of Object.entries(this.options.definition.States)) {
      if (state.Type !== 'Wait') continue;
      const fixed = typeof state.Seconds === 'number' ? state.Seconds : undefined;
      Object.defineProperty(waitTimeOverrides, stateName, {
        enumerable: true,
        get: () => Math.round((fixed ?? waitSeconds ?? this.options.defaultWaitSeconds ?? 1) * 1000 * scale),
      });
    }
    const retryIntervalOverrides: Record<string, number[]> = {};
    for (const [stateName, state] of Object.entries(this.options.definition.States)) {
      const retry = state.Retry as { IntervalSeconds?: number }[] | undefined;
      if (retry)
        retryIntervalOverrides[stateName] = retry.map((r) => Math.round((r.IntervalSeconds ?? 1) * 1000 * scale));
    }

    const startDate = new Date();
    const running = this.machine.run(input as never, {
      overrides: { taskResourceLocalHandlers: taskHandlers as never, waitTimeOverrides, retryIntervalOverrides },
      context: {
        Execution: { Id: executionArn, Name: name, RoleArn: this.options.roleArn ?? '' },
        Task: taskContext,
      } as never,
      noThrowOnAbort: true,
    });
    let aborted = false;
    let abortReason: { error?: string; cause?: string } = {};
    const abort = (reason: { error?: string; cause?: string } = {}): void => {
      aborted = true;
      abortReason = reason;
      // A stopped execution's tokens are closed: a late SendTaskSuccess gets TaskTimedOut, as in the service.
      for (const token of openTokens) this.tokens.get(token)?.complete({ error: 'States.Aborted' });
      running.abort();
    };
    const execution: LocalExecution = {
      executionArn,
      name,
      input: text,
      status: 'RUNNING',
      startDate,
      history,
      done: Promise.resolve(),
      abort,
    };
    this.executions.set(executionArn, execution);

    const reader = (async () => {
      for await (const ev of running.eventLogs) {
        const e = ev as unknown as {
          type: string;
          state?: { name: string; type: string; input: unknown; output?: unknown };
          input?: unknown;
          output?: unknown;
          Error?: string;
          Cause?: unknown;
        };
        switch (e.type) {
          case 'ExecutionStarted':
            add('ExecutionStarted', {
              executionStartedEventDetails: {
                input: text,
                inputDetails: { truncated: false },
                roleArn: this.options.roleArn ?? '',
              },
            });
            break;
          case 'StateEntered':
            if (e.state && STATE_EVENT_TYPES.has(e.state.type))
              add(`${e.state.type}StateEntered`, {
                stateEnteredEventDetails: {
                  name: e.state.name,
                  input: JSON.stringify(e.state.input),
                  inputDetails: { truncated: false },
                },
              });
            break;
          case 'StateExited':
            if (e.state && STATE_EVENT_TYPES.has(e.state.type))
              add(`${e.state.type}StateExited`, {
                stateExitedEventDetails: {
                  name: e.state.name,
                  output: JSON.stringify(e.state.output ?? null),
                  outputDetails: { truncated: false },
                },
              });
            break;
          case 'ExecutionSucceeded':
            add('ExecutionSucceeded', {
              executionSucceededEventDetails: {
                output: JSON.stringify(e.output ?? null),
                outputDetails: { truncated: false },
              },
            });
            break;
          case 'ExecutionFailed':
            add('ExecutionFailed', {
              executionFailedEventDetails: {
                error: e.Error ?? 'States.Runtime',
                cause: typeof e.Cause === 'string' ? e.Cause : JSON.stringify(e.Cause ?? ''),
              },
            });
            break;
          case 'ExecutionTimeout':
            add('ExecutionTimedOut', { executionTimedOutEventDetails: { error: 'States.Timeout' } });
            break;
          case 'ExecutionAborted':
            add('ExecutionAborted', {
              executionAbortedEventDetails: {
                ...(abortReason.error !== undefined ? { error: abortReason.error } : {}),
                ...(abortReason.cause !== undefined ? { cause: abortReason.cause } : {}),
              },
            });
            break;
          default:
            // StateFailed / StateRetried / StateCaught have no history event of their own in the service.
            break;
        }
      }
    })();

    execution.done = running.result
      .then(
        (output) => {
          if (execution.status !== 'RUNNING') return;
          if (aborted) execution.status = 'ABORTED';
          else {
            execution.status = 'SUCCEEDED';
            execution.output = JSON.stringify(output);
          }
        },
        (err: unknown) => {
          const error = err instanceof Error ? err : new Error(String(err));
          if (error.name === 'ExecutionTimeoutError') {
            execution.status = 'TIMED_OUT';
            execution.error = 'States.Timeout';
          } else {
            execution.status = 'FAILED';
            const inner = (error as Error & { cause?: unknown }).cause;
            const source = inner instanceof Error ? inner : error;
            execution.error = source.name === 'ExecutionError' ? 'States.Runtime' : source.name;
            execution.cause = source.message;
          }
        },
      )
      .then(async () => {
        await reader;
        const last = history[history.length - 1]?.type;
        if (execution.status === 'FAILED') {
          const failed = [...history].reverse().find((h) => h.type === 'ExecutionFailed')
            ?.executionFailedEventDetails as { error?: string; cause?: string } | undefined;
          if (failed) {
            execution.error = failed.error;
            execution.cause = failed.cause;
          }
        }
        if (execution.status === 'RUNNING') execution.status = last === 'ExecutionAborted' ? 'ABORTED' : 'SUCCEEDED';
        if (execution.status === 'ABORTED') {
          execution.error = abortReason.error;
          execution.cause = abortReason.cause;
        }
        execution.stopDate = new Date();
        if (!this.closed && this.options.onExecutionEnd)
          await this.options.onExecutionEnd(this.statusChangeEvent(execution)).catch(() => undefined);
      });
    return execution;
  }
}
