/**
 * Runs the REAL rendered definition with aws-local-stepfunctions against the local SSM emulator and a
 * virtual fleet whose last node finishes at a given (virtual) time. Time is scaled: one definition second
 * lasts `msPerSecond` real milliseconds for the Wait states and for the fleet. The status-check task runs
 * the project's status-check logic (lambda/status-check/status-check.ts) against the emulator.
 */
import '../local/polyfills';
import { StateMachine } from 'aws-local-stepfunctions';
import { SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { checkStatus } from '../lambda/status-check/status-check';
import { STATES, type ExportTaskResult, type InstallTaskResult, type PollState } from '../lambda/shared/contract';
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
  const finishAtVirtual = (i: number): number => (finishAt * (i + 1)) / fleetSize;
  const fleet = addVirtualNodes(ctx.aws, fleetSize, { Fleet: tagValue }, undefined, async (_req, i) => {
    const deadline = Date.now() + (finishAt + 60) * msPerSecond * 4;
    while (virtualNow() < finishAtVirtual(i) || inTaskSince !== undefined) {
      if (Date.now() > deadline) throw new Error('virtual node never reached its finish time');
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    finishedAt.push(virtualNow());
  });
  const timed =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      inTaskSince = Date.now();
      try {
        return await fn(...args);
      } finally {
        if (sentAt > 0) taskMs += Date.now() - Math.max(inTaskSince, sentAt);
        inTaskSince = undefined;
      }
    };

  const { init, wait, check } = pollLoop(asl);
  const resultPath = String(check.ResultPath ?? '$');
  let lastPoll = readPath(writePath({}, String(init.ResultPath ?? '$'), init.Result), resultPath) as PollState;
  let polls = 0;
  // Read at every entry into the Wait state: the definition's own wait (Seconds or SecondsPath), scaled.
  const waitTimeOverrides = {
    get [STATES.waitForNodes](): number {
      return waitSecondsOf(wait, writePath({}, resultPath, lastPoll)) * msPerSecond;
    },
  };
  const before = ctx.aws.callCount('ssm:ListCommands') + ctx.aws.callCount('ssm:ListCommandInvocations');
  const handlers = {
    [STATES.exportCertificate]: async (): Promise<ExportTaskResult> => EXPORTED,
    [STATES.installOnNodes]: timed(async (): Promise<InstallTaskResult> => {
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
    }),
    [STATES.checkInstall]: timed(
      async (payload: { install: InstallTaskResult; poll: PollState; executionArn: string }): Promise<PollState> => {
        polls++;
        lastPoll = await checkStatus(
          {
            input: withDefaults(request),
            commandId: payload.install.commandId ?? '',
            poll: payload.poll,
            executionArn: payload.executionArn,
          },
          { ssm: ctx.ssm, ddb: ctx.table.ddb, tableName: ctx.table.tableName },
        );
        return lastPoll;
      },
    ),
    [STATES.notifyFailure]: async (): Promise<Record<string, string>> => ({ MessageId: 'bench' }),
  };
  const machine = new StateMachine(asl as never, { validationOptions: { checkArn: false } });
  const start = Date.now();
  const execution = machine.run(request, {
    overrides: { taskResourceLocalHandlers: handlers as never, waitTimeOverrides },
    context: { Execution: { Id: `arn:aws:states:us-east-1:111111111111:execution:AcmExport:${tagValue}` } },
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
    if (output.poll?.status !== 'Succeeded') throw new Error(`export did not succeed: ${JSON.stringify(output.poll)}`);
    if (finishedAt.length !== fleet.length)
      throw new Error(`${fleet.length - finishedAt.length} virtual nodes never finished`);
    return {
      latency: ended - Math.max(...finishedAt),
      transitions,
      polls,
      statusCalls: ctx.aws.callCount('ssm:ListCommands') + ctx.aws.callCount('ssm:ListCommandInvocations') - before,
      wallMs: endedAt - start,
    };
  } finally {
    for (const [id, node] of ctx.aws.ssm.nodes) if (node.tags.Fleet === tagValue) ctx.aws.ssm.deregisterNode(id);
  }
}
