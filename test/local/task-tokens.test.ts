import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { startAwsEmulator, type AwsEmulator } from '../../local/aws-emulator';
import { LocalStepFunctions } from '../../local/stepfunctions';
import type { AslDefinition } from '../../lib/render-definition';

const ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:Tokens';
const FUNCTION = 'arn:aws:lambda:us-east-1:000000000000:function:waiter';
const DEFINITION: AslDefinition = {
  StartAt: 'Wait',
  States: {
    Wait: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: { FunctionName: FUNCTION, Payload: { 'job.$': '$.job', 'taskToken.$': '$$.Task.Token' } },
      TimeoutSeconds: 20,
      ResultPath: '$.result',
      Catch: [
        { ErrorEquals: ['States.Timeout'], ResultPath: '$.timedOut', Next: 'TimedOut' },
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Failed' },
      ],
      End: true,
    },
    TimedOut: { Type: 'Pass', Result: true, ResultPath: '$.fellBack', End: true },
    Failed: { Type: 'Fail', Error: 'JobFailed', Cause: 'the token was failed' },
  },
};

let aws: AwsEmulator;
let sfn: SFNClient;
let local: LocalStepFunctions;
/** Each invocation's payload, and what the function does: nothing (the test completes the token) or completes it itself. */
const invoked: { job: string; taskToken: string }[] = [];

beforeAll(async () => {
  aws = await startAwsEmulator({ faults: { throttle: {}, notExportable: [], pending: [], nodes: {} } });
  local = new LocalStepFunctions({
    definition: DEFINITION,
    stateMachineArn: ARN,
    msPerSecond: 10, // TimeoutSeconds 20 → 200 ms
    tasks: {
      Wait: {
        kind: 'lambda',
        resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
        waitForTaskToken: true,
        run: async (parameters) => {
          const p = (parameters as { Payload: { job: string; taskToken: string } }).Payload;
          invoked.push(p);
          // Like await-command when the command already ended: the function completes its own token.
          if (p.job === 'self')
            await sfn.send(new SendTaskSuccessCommand({ taskToken: p.taskToken, output: '{"by":"function"}' }));
          return { stored: true };
        },
      },
    },
  });
  aws.addService(local.service());
  sfn = new SFNClient({ ...aws.clientConfig(), maxAttempts: 1 });
});

afterAll(async () => {
  sfn.destroy();
  local.close();
  await aws.close();
});

async function start(name: string, job: string): Promise<{ executionArn: string; taskToken: string }> {
  const { executionArn } = await sfn.send(
    new StartExecutionCommand({ stateMachineArn: ARN, name, input: JSON.stringify({ job }) }),
  );
  for (let i = 0; i < 200 && !invoked.some((p) => p.job === job); i++) await new Promise((r) => setTimeout(r, 5));
  const payload = invoked.find((p) => p.job === job);
  if (!payload || !executionArn) throw new Error(`${job} was never invoked`);
  return { executionArn, taskToken: payload.taskToken };
}

const errorName = (promise: Promise<unknown>) =>
  promise.then(
    () => 'resolved',
    (e: Error) => e.name,
  );

test('the function gets a fresh token; SendTaskSuccess is the task result; a used token is TaskTimedOut', async () => {
  const { executionArn, taskToken } = await start('ok', 'ok');
  expect(taskToken).toMatch(/^[A-Za-z0-9_-]{64}$/);
  await sfn.send(new SendTaskSuccessCommand({ taskToken, output: '{"status":"Succeeded"}' }));
  const execution = await local.waitFor(executionArn);
  expect(execution.status).toBe('SUCCEEDED');
  expect(JSON.parse(execution.output ?? '{}')).toEqual({ job: 'ok', result: { status: 'Succeeded' } });
  // A second event for the same command: the token is used.
  expect(await errorName(sfn.send(new SendTaskSuccessCommand({ taskToken, output: '{}' })))).toBe('TaskTimedOut');
  expect(await errorName(sfn.send(new SendTaskSuccessCommand({ taskToken: 'x'.repeat(64), output: '{}' })))).toBe(
    'TaskDoesNotExist',
  );
  expect(await errorName(sfn.send(new SendTaskSuccessCommand({ taskToken: 'not a token', output: '{}' })))).toBe(
    'InvalidToken',
  );
  // Checked against AWS's constraints before the service runs: taskToken is 1..2048 characters.
  expect(await errorName(sfn.send(new SendTaskFailureCommand({ taskToken: 'a'.repeat(2049) })))).toBe(
    'ValidationException',
  );
  const { events } = await sfn.send(new GetExecutionHistoryCommand({ executionArn }));
  expect(events?.map((e) => e.type)).toEqual(
    expect.arrayContaining(['TaskScheduled', 'TaskStarted', 'TaskSubmitted', 'TaskSucceeded']),
  );
  expect(JSON.stringify(events)).not.toContain('LambdaFunctionSucceeded');
});

test('the function may complete its own token before it returns (a command that had already ended)', async () => {
  const { executionArn } = await start('self', 'self');
  const execution = await local.waitFor(executionArn);
  expect(JSON.parse(execution.output ?? '{}')).toMatchObject({ result: { by: 'function' } });
});

test('SendTaskFailure fails the task with its error, which the Catch sees', async () => {
  const { executionArn, taskToken } = await start('failed', 'failed');
  await sfn.send(new SendTaskFailureCommand({ taskToken, error: 'AccessDeniedException', cause: 'denied' }));
  const execution = await local.waitFor(executionArn);
  expect(execution.status).toBe('FAILED');
  expect(execution.error).toBe('JobFailed');
});

test('no completion: the scaled TimeoutSeconds ends the wait with States.Timeout', async () => {
  const started = Date.now();
  const { executionArn, taskToken } = await start('late', 'late');
  const execution = await local.waitFor(executionArn);
  expect(Date.now() - started).toBeLessThan(2000); // 20 definition seconds at 10 ms each, not 20 s
  expect(JSON.parse(execution.output ?? '{}')).toMatchObject({ fellBack: true, timedOut: { Error: 'States.Timeout' } });
  expect(await errorName(sfn.send(new SendTaskSuccessCommand({ taskToken, output: '{}' })))).toBe('TaskTimedOut');
});

test('StopExecution while waiting aborts it; the token is closed for a late event', async () => {
  const { executionArn, taskToken } = await start('stopped', 'stopped');
  await sfn.send(new StopExecutionCommand({ executionArn }));
  await local.waitFor(executionArn);
  const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
  expect(described.status).toBe('ABORTED');
  expect(await errorName(sfn.send(new SendTaskSuccessCommand({ taskToken, output: '{}' })))).toBe('TaskTimedOut');
});
