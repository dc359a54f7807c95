import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { startAwsEmulator, type AwsEmulator } from '../../local/aws-emulator';
import { LocalStepFunctions, type ExecutionStatusChangeEvent } from '../../local/stepfunctions';
import type { AslDefinition } from '../../lib/render-definition';

const ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:Test';
const DEFINITION: AslDefinition = {
  StartAt: 'Work',
  States: {
    Work: {
      Type: 'Task',
      Resource: 'arn:aws:lambda:us-east-1:000000000000:function:work',
      ResultPath: '$.work',
      Retry: [{ ErrorEquals: ['Throttled'], IntervalSeconds: 2, MaxAttempts: 2 }],
      Next: 'Pause',
    },
    Pause: { Type: 'Wait', SecondsPath: '$.work.wait', Next: 'Done?' },
    'Done?': {
      Type: 'Choice',
      Choices: [{ Variable: '$.work.fail', BooleanEquals: true, Next: 'Boom' }],
      Default: 'Ok',
    },
    Boom: { Type: 'Fail', Error: 'Boom', Cause: 'asked to fail' },
    Ok: { Type: 'Succeed' },
  },
};

let aws: AwsEmulator;
let sfn: SFNClient;
let local: LocalStepFunctions;
let throttles = 0;
let release: () => void = () => undefined;
const ended: ExecutionStatusChangeEvent[] = [];

beforeAll(async () => {
  aws = await startAwsEmulator({ faults: { throttle: {}, notExportable: [], pending: [], nodes: {} } });
  local = new LocalStepFunctions({
    definition: DEFINITION,
    stateMachineArn: ARN,
    msPerSecond: 10,
    onExecutionEnd: async (event) => {
      ended.push(event);
    },
    tasks: {
      Work: {
        kind: 'lambda',
        resource: 'arn:aws:lambda:us-east-1:000000000000:function:work',
        run: async (payload) => {
          const p = payload as { hold?: boolean; fail?: boolean };
          if (throttles > 0) {
            throttles--;
            throw Object.assign(new Error('slow down'), { name: 'Throttled' });
          }
          if (p.hold) await new Promise<void>((r) => (release = r));
          return { wait: 3, fail: p.fail === true };
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

test('StartExecution runs the definition; DescribeExecution and GetExecutionHistory answer like the service', async () => {
  throttles = 1;
  const started = await sfn.send(
    new StartExecutionCommand({ stateMachineArn: ARN, name: 'one', input: '{"fail":false}' }),
  );
  expect(started.executionArn).toBe('arn:aws:states:us-east-1:000000000000:execution:Test:one');
  await local.waitFor(started.executionArn!);
  const described = await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
  expect(described).toMatchObject({ status: 'SUCCEEDED', name: 'one', input: '{"fail":false}' });
  expect(JSON.parse(described.output!)).toEqual({ fail: false, work: { wait: 3, fail: false } });
  const { events } = await sfn.send(new GetExecutionHistoryCommand({ executionArn: started.executionArn }));
  expect(events!.map((e) => e.type)).toEqual([
    'ExecutionStarted',
    'TaskStateEntered',
    'LambdaFunctionScheduled',
    'LambdaFunctionStarted',
    'LambdaFunctionFailed',
    'LambdaFunctionScheduled',
    'LambdaFunctionStarted',
    'LambdaFunctionSucceeded',
    'TaskStateExited',
    'WaitStateEntered',
    'WaitStateExited',
    'ChoiceStateEntered',
    'ChoiceStateExited',
    'SucceedStateEntered',
    'SucceedStateExited',
    'ExecutionSucceeded',
  ]);
  expect(JSON.parse(events![4].lambdaFunctionFailedEventDetails!.cause!)).toEqual({
    errorType: 'Throttled',
    errorMessage: 'slow down',
  });
  expect(events!.map((e) => e.id)).toEqual(events!.map((_, i) => i + 1));
});

test('a Fail state fails the execution with its error and cause', async () => {
  const started = await sfn.send(
    new StartExecutionCommand({ stateMachineArn: ARN, name: 'two', input: '{"fail":true}' }),
  );
  await local.waitFor(started.executionArn!);
  const described = await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
  expect(described).toMatchObject({ status: 'FAILED', error: 'Boom', cause: 'asked to fail' });
});

test('names are unique: same name and input while running returns the execution; otherwise ExecutionAlreadyExists', async () => {
  const first = await sfn.send(
    new StartExecutionCommand({ stateMachineArn: ARN, name: 'three', input: '{"hold":true}' }),
  );
  const again = await sfn.send(
    new StartExecutionCommand({ stateMachineArn: ARN, name: 'three', input: '{"hold":true}' }),
  );
  expect(again.executionArn).toBe(first.executionArn);
  await expect(
    sfn.send(new StartExecutionCommand({ stateMachineArn: ARN, name: 'three', input: '{"hold":false}' })),
  ).rejects.toMatchObject({ name: 'ExecutionAlreadyExists' });
  release();
  await local.waitFor(first.executionArn!);
  await expect(
    sfn.send(new StartExecutionCommand({ stateMachineArn: ARN, name: 'three', input: '{"hold":true}' })),
  ).rejects.toMatchObject({ name: 'ExecutionAlreadyExists' });
});

test('validation: unknown state machine, bad name, bad input, unknown execution', async () => {
  await expect(sfn.send(new StartExecutionCommand({ stateMachineArn: `${ARN}X`, input: '{}' }))).rejects.toMatchObject({
    name: 'StateMachineDoesNotExist',
  });
  await expect(
    sfn.send(new StartExecutionCommand({ stateMachineArn: ARN, name: 'a b', input: '{}' })),
  ).rejects.toMatchObject({ name: 'InvalidName' });
  await expect(sfn.send(new StartExecutionCommand({ stateMachineArn: ARN, input: '{' }))).rejects.toMatchObject({
    name: 'InvalidExecutionInput',
  });
  await expect(
    sfn.send(new DescribeExecutionCommand({ executionArn: `${ARN.replace(':stateMachine:', ':execution:')}:nope` })),
  ).rejects.toMatchObject({ name: 'ExecutionDoesNotExist' });
});

test('each ended execution is handed on as the status-change event; StopExecution keeps its error and cause', async () => {
  const failed = await sfn.send(
    new StartExecutionCommand({ stateMachineArn: ARN, name: 'four', input: '{"fail":true}' }),
  );
  await local.waitFor(failed.executionArn!);
  const held = await sfn.send(
    new StartExecutionCommand({ stateMachineArn: ARN, name: 'five', input: '{"hold":true}' }),
  );
  await sfn.send(
    new StopExecutionCommand({ executionArn: held.executionArn, error: 'Operator', cause: 'stuck rollout' }),
  );
  await local.waitFor(held.executionArn!);
  release();
  const eventOf = (arn: string) => ended.find((e) => e.detail.executionArn === arn);
  expect(eventOf(failed.executionArn!)).toMatchObject({
    source: 'aws.states',
    'detail-type': 'Step Functions Execution Status Change',
    account: '000000000000',
    region: 'us-east-1',
    resources: [failed.executionArn],
    detail: {
      stateMachineArn: ARN,
      name: 'four',
      status: 'FAILED',
      input: '{"fail":true}',
      inputDetails: { included: true },
      output: null,
      error: 'Boom',
      cause: 'asked to fail',
      stopDate: expect.any(Number),
    },
  });
  expect(eventOf(held.executionArn!)?.detail).toMatchObject({
    status: 'ABORTED',
    error: 'Operator',
    cause: 'stuck rollout',
  });
  const described = await sfn.send(new DescribeExecutionCommand({ executionArn: held.executionArn }));
  expect(described).toMatchObject({ status: 'ABORTED', error: 'Operator', cause: 'stuck rollout' });
  const history = await sfn.send(new GetExecutionHistoryCommand({ executionArn: held.executionArn }));
  expect(history.events?.find((e) => e.type === 'ExecutionAborted')).toMatchObject({
    type: 'ExecutionAborted',
    executionAbortedEventDetails: { error: 'Operator', cause: 'stuck rollout' },
  });
  expect(ended.filter((e) => e.detail.executionArn === held.executionArn)).toHaveLength(1);
});
