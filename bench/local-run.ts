/**
 * Runs the REAL rendered definition with aws-local-stepfunctions against the local SSM emulator and a
 * virtual fleet whose last node finishes at a given (virtual) time. Time is scaled: one definition second
 * lasts `msPerSecond` real milliseconds for the Wait states, the task timeouts and the fleet. The status-check
 * task runs the project's status-check logic (lambda/status-check/status-check.ts) against the emulator. A
 * definition with the event path (await-command) runs on local Step Functions (local/stepfunctions.ts, which
 * runs `.waitForTaskToken` tasks): await-command's and command-events' own logic store and complete the token,
 * the event coming from the emulator's event bus when the virtual fleet's command ends.
 */
import '../local/polyfills';
import { StateMachine } from 'aws-local-stepfunctions';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { awaitCommand } from '../lambda/await-command/await-command';
import {
  COMMAND_STATUS_DETAIL_TYPE,
  COMMAND_STATUS_SOURCE,
  handleCommandEvent,
} from '../lambda/command-events/command-events';
import { checkStatus } from '../lambda/status-check/status-check';
import {
  STATES,
  type ExportTaskResult,
  type InstallTaskResult,
  type NodesTaskResult,
  type PollState,
} from '../lambda/shared/contract';
import type { Operation } from '../local/aws-emulator/server';
import { LocalStepFunctions, type LocalTask } from '../local/stepfunctions';
import { withDefaults } from '../lambda/shared/schemas';
import type { AwsEmulator } from '../local/aws-emulator';
import type { AslDefinition } from '../lib/render-definition';
import type { LocalTable } from './dynamo';
import { pollLoop, readPath, waitSecondsOf, writePath } from './polling';
import { addVirtualNodes, VIRTUAL_DOCUMENT_NAME } from './virtual-nodes';

export interface LocalRunResult {
  /** Virtual seconds from the last node finishing to the execution succeeding. */
  latency: number;
  /** States entered (Step Functions standard bills per state transition). */
  transitions: number;
  /** status-check invocations. */
  polls: number;
  /** SSM status calls made by the polls (ListCommands + ListCommandInvocations). */
  statusCalls: number;
  /** Real milliseconds the run took. */
  wallMs: number;
  /** Event path: status-change events delivered to command-events. */
  events?: number;
  /** Event path: real milliseconds from the last node finishing to the execution's end, handlers included. */
  realLatencyMs?: number;
}

export interface LocalRunContext {
  aws: AwsEmulator;
  table: LocalTable;
  ssm: SSMClient;
}

const EXPORTED: ExportTaskResult = {
  secretArn: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:acm-export/bench-AbCdEf',
  secretVersionId: '00000000-0000-4000-8000-000000000001',
  serial: '0a:0b:0c',
  notAfter: '2027-06-01T00:00:00.000Z',
  keyAlgorithm: 'EC_prime256v1',
  domainNames: ['www.example.test'],
};

let runs = 0;

/**
 * One export whose fleet of `nodes` virtual nodes finishes evenly spread over (0, finishAt] seconds after
 * the command is sent (the last one exactly at finishAt).
 */
export async function runLocalExport(
  ctx: LocalRunContext,
  asl: AslDefinition,
  options: { finishAt: number; msPerSecond: number; nodes?: number },
): Promise<LocalRunResult> {
  const { finishAt, msPerSecond } = options;
  const fleetSize = options.nodes ?? 10;
  const tagValue = `bench-${++runs}`;
  const request = {
    CertificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
    CertName: 'www',
    TargetTagKey: 'Fleet',
    TargetTagValue: tagValue,
  };
  // The definition's clock: real time since the command was sent, minus time spent inside task handlers
  // (Lambda and emulator time count as zero, as in the computation), divided by the scale.
  let sentAt = 0;
  let taskMs = 0;
  let inTaskSince: number | undefined;
  const virtualNow = (): number =>
    (Date.now() - sentAt - taskMs - (inTaskSince === undefined ? 0 : Date.now() - inTaskSince)) / msPerSecond;
  const finishedAt: number[] = [];
  let lastFinishReal = 0;
  const finishAtVirtual = (i: number): number => (finishAt * (i + 1)) / fleetSize;
  const fleet = addVirtualNodes(ctx.aws, fleetSize, { Fleet: tagValue }, undefined, async (_req, i) => {
    const deadline = Date.now() + (finishAt + 60) * msPerSecond * 4;
    while (virtualNow() < finishAtVirtual(i) || inTaskSince !== undefined) {
      if (Date.now() > deadline) throw new Error('virtual node never reached its finish time');
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    finishedAt.push(virtualNow());
    lastFinishReal = Math.max(lastFinishReal, Date.now());
  });
  // Reentrant: command-events may run while await-command's own invocation is still in progress.
  let depth = 0;
  const timed =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      if (depth++ === 0) inTaskSince = Date.now();
      try {
        return await fn(...args);
      } finally {
        if (--depth === 0 && inTaskSince !== undefined) {
          if (sentAt > 0) taskMs += Date.now() - Math.max(inTaskSince, sentAt);
          inTaskSince = undefined;
        }
      }
    };
  const executionArn = `arn:aws:states:us-east-1:111111111111:execution:AcmExport:${tagValue}`;
  const sendCommand = timed(async (): Promise<InstallTaskResult> => {
    sentAt = Date.now();
    const out = await ctx.ssm.send(
      new SendCommandCommand({
        DocumentName: VIRTUAL_DOCUMENT_NAME,
        Targets: [{ Key: 'tag:Fleet', Values: [tagValue] }],
        MaxConcurrency: '100%',
        MaxErrors: '0',
      }),
    );
    return { outcome: 'Sent', commandId: out.Command?.CommandId ?? '', targetCount: out.Command?.TargetCount ?? 0 };
  });
  const found: NodesTaskResult = { outcome: 'Export', targetCount: fleetSize };
  const statusDeps = { ssm: ctx.ssm, ddb: ctx.table.ddb, tableName: ctx.table.tableName };
  let polls = 0;
  const check = timed(
    async (payload: { install: InstallTaskResult; poll: PollState; executionArn: string }): Promise<PollState> => {
      polls++;
      return checkStatus(
        {
          input: withDefaults(request),
          commandId: payload.install.commandId ?? '',
          poll: payload.poll,
          executionArn: payload.executionArn,
        },
        statusDeps,
      );
    },
  );
  const before = ctx.aws.callCount('ssm:ListCommands') + ctx.aws.callCount('ssm:ListCommandInvocations');
  const statusCalls = (): number =>
    ctx.aws.callCount('ssm:ListCommands') + ctx.aws.callCount('ssm:ListCommandInvocations') - before;
  const checkFleet = (succeeded: boolean, output: unknown): void => {
    if (!succeeded) throw new Error(`export did not succeed: ${JSON.stringify(output)}`);
    if (finishedAt.length !== fleet.length)
      throw new Error(`${fleet.length - finishedAt.length} virtual nodes never finished`);
  };
  const cleanUp = (): void => {
    for (const [id, node] of ctx.aws.ssm.nodes) if (node.tags.Fleet === tagValue) ctx.aws.ssm.deregisterNode(id);
  };

  if (asl.States[STATES.awaitCommand]) {
    // The event path, on local Step Functions (it runs the `.waitForTaskToken` task).
    const sfn = eventPathService(ctx);
    const lambda = (run: (payload: unknown) => Promise<unknown>): LocalTask => ({
      kind: 'lambda',
      resource: 'bench',
      run,
    });
    const decideDeps = { ...statusDeps, sfn: sfn.client, log: () => undefined };
    const machine = new LocalStepFunctions({
      definition: asl,
      stateMachineArn: executionArn.replace(':execution:', ':stateMachine:').replace(/:[^:]+$/, ''),
      msPerSecond,
      tasks: {
        [STATES.findNodes]: lambda(async () => found),
        [STATES.exportCertificate]: lambda(async () => EXPORTED),
        [STATES.installOnNodes]: lambda(() => sendCommand()),
        [STATES.checkInstall]: lambda((payload) => check(payload as never)),
        [STATES.awaitCommand]: {
          kind: 'lambda',
          resource: 'bench',
          waitForTaskToken: true,
          run: timed((parameters: unknown) =>
            awaitCommand((parameters as { Payload: unknown }).Payload, 'us-east-1', decideDeps),
          ),
        },
        [STATES.notifyFailure]: { kind: 'service', resource: 'arn:aws:states:::sns:publish', run: async () => ({}) },
      },
    });
    sfn.current = machine;
    let events = 0;
    const unsubscribe = ctx.aws.events.subscribe({
      matches: (event) =>
        event.source === COMMAND_STATUS_SOURCE &&
        event['detail-type'] === COMMAND_STATUS_DETAIL_TYPE &&
        event.detail['document-name'] === VIRTUAL_DOCUMENT_NAME,
      deliver: timed(async (event) => {
        events++;
        return handleCommandEvent(event, { ...decideDeps, documentName: VIRTUAL_DOCUMENT_NAME });
      }),
    });
    const start = Date.now();
    try {
      const started = await sfn.client.send(
        new StartExecutionCommand({
          stateMachineArn: machine.stateMachineArn,
          name: tagValue,
          input: JSON.stringify(request),
        }),
      );
      const execution = await machine.waitFor(started.executionArn ?? '');
      const endedAt = Date.now();
      // The clock stopped when the execution ended (its end is stamped on the last history event).
      const ended = virtualNow() - (endedAt - (execution.stopDate?.getTime() ?? endedAt)) / msPerSecond;
      const output = JSON.parse(execution.output ?? '{}') as { poll?: PollState };
      checkFleet(execution.status === 'SUCCEEDED' && output.poll?.status === 'Succeeded', execution.output);
      return {
        latency: ended - Math.max(...finishedAt),
        transitions: execution.history.filter((e) => e.type.endsWith('StateEntered')).length,
        polls,
        statusCalls: statusCalls(),
        wallMs: endedAt - start,
        events,
        realLatencyMs: (execution.stopDate?.getTime() ?? endedAt) - lastFinishReal,
      };
    } finally {
      unsubscribe();
      machine.close();
      sfn.current = undefined;
      cleanUp();
    }
  }

  const { init, wait, check: checkState } = pollLoop(asl);
  const resultPath = String(checkState.ResultPath ?? '$');
  let lastPoll = readPath(writePath({}, String(init.ResultPath ?? '$'), init.Result), resultPath) as PollState;
  // Read at every entry into the Wait state: the definition's own wait (Seconds or SecondsPath), scaled.
  const waitTimeOverrides = {
    get [STATES.waitForNodes](): number {
      return waitSecondsOf(wait, writePath({}, resultPath, lastPoll)) * msPerSecond;
    },
  };
  const handlers = {
    [STATES.findNodes]: async (): Promise<NodesTaskResult> => found,
    [STATES.exportCertificate]: async (): Promise<ExportTaskResult> => EXPORTED,
    [STATES.installOnNodes]: () => sendCommand(),
    [STATES.checkInstall]: async (payload: {
      install: InstallTaskResult;
      poll: PollState;
      executionArn: string;
    }): Promise<PollState> => {
      lastPoll = await check(payload);
      return lastPoll;
    },
    [STATES.notifyFailure]: async (): Promise<Record<string, string>> => ({ MessageId: 'bench' }),
  };
  const machine = new StateMachine(asl as never, { validationOptions: { checkArn: false } });
  const start = Date.now();
  const execution = machine.run(request, {
    overrides: { taskResourceLocalHandlers: handlers as never, waitTimeOverrides },
    context: { Execution: { Id: executionArn } },
  });
  let transitions = 0;
  const counting = (async () => {
    for await (const event of execution.eventLogs) if (event.type === 'StateEntered') transitions++;
  })();
  try {
    const output = (await execution.result) as { poll?: PollState };
    const endedAt = Date.now();
    const ended = virtualNow();
    await counting;
    checkFleet(output.poll?.status === 'Succeeded', output.poll);
    return {
      latency: ended - Math.max(...finishedAt),
      transitions,
      polls,
      statusCalls: statusCalls(),
      wallMs: endedAt - start,
    };
  } finally {
    cleanUp();
  }
}

/**
 * Local Step Functions behind the emulator for the event path: one served API per emulator (the emulator
 * serves a service once), handing SendTaskSuccess/SendTaskFailure to the run in progress.
 */
const eventPathServices = new WeakMap<AwsEmulator, { client: SFNClient; current?: LocalStepFunctions }>();
function eventPathService(ctx: LocalRunContext): { client: SFNClient; current?: LocalStepFunctions } {
  const existing = eventPathServices.get(ctx.aws);
  if (existing) return existing;
  const holder: { client: SFNClient; current?: LocalStepFunctions } = {
    client: new SFNClient({ ...ctx.aws.clientConfig(), maxAttempts: 1 }),
  };
  const forward =
    (operation: string): Operation =>
    (input, context) => {
      if (!holder.current) throw new Error('no event-path run in progress');
      return holder.current.service().operations[operation](input, context);
    };
  ctx.aws.addService({
    targetPrefix: 'AWSStepFunctions',
    signingName: 'states',
    namespace: 'com.amazonaws.states',
    jsonVersion: '1.0',
    operations: Object.fromEntries(
      ['StartExecution', 'SendTaskSuccess', 'SendTaskFailure'].map((op) => [op, forward(op)]),
    ),
  });
  eventPathServices.set(ctx.aws, holder);
  return holder;
}
