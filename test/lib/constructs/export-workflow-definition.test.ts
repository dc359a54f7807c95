// aws-local-stepfunctions needs Promise.withResolvers (Node 22); the polyfill must load first.
import '../../../local/polyfills';
import { ExecutionError, StateMachine } from 'aws-local-stepfunctions';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { ExportTaskResult, InstallTaskResult, NodesTaskResult, PollState } from '../../../lambda/shared/contract';
import {
  COMMAND_WAIT_TIMEOUT_SECONDS,
  INITIAL_POLL,
  STATES,
  WORKFLOW_TIMEOUT_SECONDS,
} from '../../../lambda/shared/contract';
import * as errors from '../../../lambda/shared/errors';
import { INSTALL_FAILED_ERROR, InstallFailed, RETRYABLE_ERRORS, Throttled } from '../../../lambda/shared/errors';
import { AslDefinition, renderIntrinsics, renderStateMachineDefinition } from '../../../lib/render-definition';
import { buildStack } from '../fixture';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const aslValidator = require('asl-validator') as (definition: unknown) => {
  isValid: boolean;
  errorsText: (sep?: string) => string;
};

const { stack, template } = buildStack();
const fromStack = renderStateMachineDefinition(stack);
const fromTemplate = renderStateMachineDefinition(template.toJSON());

const REQUEST = {
  CertificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
  CertName: 'www',
  TargetTagKey: 'Role',
  TargetTagValue: 'web',
};
const EXPORTED: ExportTaskResult = {
  secretArn: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:acm-export/AcmExport/www-AbCdEf',
  secretVersionId: '00000000-0000-4000-8000-000000000001',
  serial: '0a:0b',
  notAfter: '2027-06-01T00:00:00.000Z',
  keyAlgorithm: 'RSA_2048',
  domainNames: ['www.example.com'],
};

type Handler = (input: Record<string, unknown>) => Promise<unknown>;

function taskError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** Runs the rendered definition with every task overridden; waits and retries take no time. */
function run(handlers: Partial<Record<string, Handler>>) {
  const calls: Record<string, Record<string, unknown>[]> = {};
  const record =
    (name: string): Handler =>
    async (input) => {
      (calls[name] ??= []).push(input);
      // find-nodes finds nodes unless a test says otherwise.
      const handler = handlers[name] ?? (name === STATES.findNodes ? async () => TO_EXPORT : undefined);
      if (!handler) throw new Error(`no handler for ${name}`);
      return handler(input);
    };
  const machine = new StateMachine(fromStack as never, { validationOptions: { checkArn: false } });
  const execution = machine.run(REQUEST, {
    overrides: {
      taskResourceLocalHandlers: {
        [STATES.findNodes]: record(STATES.findNodes),
        [STATES.exportCertificate]: record(STATES.exportCertificate),
        [STATES.installOnNodes]: record(STATES.installOnNodes),
        [STATES.checkInstall]: record(STATES.checkInstall),
        [STATES.awaitCommand]: record(STATES.awaitCommand),
        [STATES.notifyFailure]: record(STATES.notifyFailure),
      } as never,
      retryIntervalOverrides: {
        [STATES.findNodes]: 0,
        [STATES.exportCertificate]: 0,
        [STATES.installOnNodes]: 0,
        [STATES.checkInstall]: 0,
        [STATES.awaitCommand]: 0,
        [STATES.notifyFailure]: 0,
      },
    },
    context: {
      Execution: {
        Id: 'arn:aws:states:us-east-1:111111111111:execution:sm:req-1',
        StartTime: '2026-11-23T10:00:00.000Z',
      },
      // What $$.Task.Token reads in a `.waitForTaskToken` task (a new token per entry in the service).
      Task: { Token: 'token-1' },
    } as never,
  });
  return { execution, calls };
}

const TO_EXPORT: NodesTaskResult = { outcome: 'Export', targetCount: 2 };
const sent: InstallTaskResult = { outcome: 'Sent', commandId: 'cmd-1', targetCount: 2 };

describe('rendered definition', () => {
  test('stack and template renderings are the same concrete ASL', () => {
    expect(fromTemplate).toEqual(fromStack);
    expect(JSON.stringify(fromStack)).not.toMatch(/Fn::|"Ref"/);
    expect(fromStack.States[STATES.exportCertificate].Resource).toMatch(
      /^arn:aws:lambda:us-east-1:111111111111:function:/,
    );
  });

  test('is valid ASL (asl-validator)', () => {
    const result = aslValidator(fromStack);
    expect(result.errorsText('\n')).toBe('');
    expect(result.isValid).toBe(true);
  });

  test('is valid ASL straight from a synthesized template file', () => {
    const file = path.join(__dirname, '..', '..', '..', 'cdk.out', 'AcmExport.template.json');
    let definition: AslDefinition;
    try {
      definition = renderStateMachineDefinition(JSON.parse(readFileSync(file, 'utf8')));
    } catch {
      return; // no cdk.out yet: covered by the in-memory rendering above
    }
    expect(aslValidator(definition).isValid).toBe(true);
  });

  test('has exactly the contract state names, a timeout, and starts by finding the nodes', () => {
    // WaitForNodes is the poll path's Wait: only in the bench's poll-path rendering and older executions.
    const expected = Object.values(STATES)
      .filter((name) => name !== STATES.waitForNodes)
      .sort();
    expect(Object.keys(fromStack.States).sort()).toEqual(expected);
    expect(fromStack.StartAt).toBe(STATES.findNodes);
    expect(fromStack.TimeoutSeconds).toBe(WORKFLOW_TIMEOUT_SECONDS);
  });

  test('every Lambda task retries throttling with backoff and catches everything into NotifyFailure', () => {
    for (const name of [STATES.findNodes, STATES.exportCertificate, STATES.installOnNodes, STATES.checkInstall]) {
      const state = fromStack.States[name] as {
        Retry: { ErrorEquals: string[]; BackoffRate?: number; MaxAttempts?: number }[];
        Catch: unknown[];
      };
      const throttling = state.Retry.find((r) => r.ErrorEquals.includes(RETRYABLE_ERRORS[0]));
      expect(throttling).toMatchObject({ BackoffRate: 2, MaxAttempts: 6, IntervalSeconds: 2, JitterStrategy: 'FULL' });
      expect(state.Retry.some((r) => r.ErrorEquals.includes('Lambda.ServiceException'))).toBe(true);
      expect(state.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: STATES.notifyFailure }]);
    }
  });

  test('task payloads carry identifiers from the context object', () => {
    expect(fromStack.States[STATES.installOnNodes].Parameters).toEqual({
      'input.$': '$$.Execution.Input',
      'export.$': '$.export',
      'executionArn.$': '$$.Execution.Id',
      'executionStartTime.$': '$$.Execution.StartTime',
    });
    expect(fromStack.States[STATES.initPoll]).toMatchObject({
      Type: 'Pass',
      Result: INITIAL_POLL,
      ResultPath: '$.poll',
    });
    expect(fromStack.States[STATES.initPoll].Next).toBe(STATES.awaitCommand);
  });

  test('await-command waits on a task token, with a timeout that falls back to one status-check', () => {
    const wait = fromStack.States[STATES.awaitCommand] as Record<string, unknown> & {
      Parameters: { FunctionName: string; Payload: Record<string, unknown> };
      Catch: { ErrorEquals: string[]; Next: string; ResultPath?: unknown }[];
      Retry: { ErrorEquals: string[] }[];
    };
    expect(wait.Resource).toBe('arn:aws:states:::lambda:invoke.waitForTaskToken');
    expect(wait.Parameters.FunctionName).toMatch(/^arn:aws:lambda:us-east-1:111111111111:function:/);
    expect(wait.Parameters.Payload).toEqual({
      'input.$': '$$.Execution.Input',
      'install.$': '$.install',
      'poll.$': '$.poll',
      'executionArn.$': '$$.Execution.Id',
      'taskToken.$': '$$.Task.Token',
    });
    expect(wait.TimeoutSeconds).toBe(COMMAND_WAIT_TIMEOUT_SECONDS);
    expect(wait.ResultPath).toBe('$.poll');
    expect(wait.Next).toBe(STATES.pollResult);
    expect(wait.Catch).toEqual([
      { ErrorEquals: ['States.Timeout', 'States.HeartbeatTimeout'], ResultPath: null, Next: STATES.checkInstall },
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: STATES.notifyFailure },
    ]);
    expect(wait.Retry.some((r) => r.ErrorEquals.includes(RETRYABLE_ERRORS[0]))).toBe(true);
    expect(fromStack.States[STATES.checkInstall].Next).toBe(STATES.pollResult);
  });

  test('renderIntrinsics rejects what it cannot render', () => {
    expect(() => renderIntrinsics({ 'Fn::ImportValue': 'x' })).toThrow(/cannot render/);
  });
});

describe('running the real definition locally', () => {
  test('success: export, install, the command event completes the wait; no polling', async () => {
    const { execution, calls } = run({
      [STATES.exportCertificate]: async () => EXPORTED,
      [STATES.installOnNodes]: async () => sent,
      [STATES.awaitCommand]: async () => ({ status: 'Succeeded', attempt: 1, waitSeconds: 0 }),
    });
    const output = (await execution.result) as Record<string, unknown>;
    expect(output).toMatchObject({ install: sent, poll: { status: 'Succeeded', attempt: 1 } });
    expect(calls[STATES.awaitCommand]).toEqual([
      {
        FunctionName: expect.stringMatching(/:function:/),
        Payload: {
          input: REQUEST,
          install: sent,
          poll: INITIAL_POLL,
          executionArn: 'arn:aws:states:us-east-1:111111111111:execution:sm:req-1',
          taskToken: 'token-1',
        },
      },
    ]);
    expect(calls[STATES.checkInstall]).toBeUndefined();
  });

  test('no event before the timeout: one status-check, then a fresh wait while the command runs', async () => {
    let polls = 0;
    let waits = 0;
    const { execution, calls } = run({
      [STATES.exportCertificate]: async () => EXPORTED,
      [STATES.installOnNodes]: async () => sent,
      [STATES.awaitCommand]: async () => {
        waits += 1;
        throw taskError('States.Timeout', 'no event');
      },
      [STATES.checkInstall]: async (input) => {
        polls += 1;
        const poll = input.poll as PollState;
        return {
          ...poll,
          attempt: poll.attempt + 1,
          waitSeconds: poll.waitSeconds * 2,
          status: polls < 3 ? 'InProgress' : 'Succeeded',
        };
      },
    });
    const output = (await execution.result) as Record<string, unknown>;
    expect(output).toMatchObject({ export: EXPORTED, install: sent, poll: { status: 'Succeeded', attempt: 3 } });
    expect(waits).toBe(3); // one wait before each fallback check
    expect(calls[STATES.exportCertificate]).toEqual([
      { input: REQUEST, executionArn: 'arn:aws:states:us-east-1:111111111111:execution:sm:req-1' },
    ]);
    expect(calls[STATES.installOnNodes][0]).toEqual({
      input: REQUEST,
      export: EXPORTED,
      executionArn: 'arn:aws:states:us-east-1:111111111111:execution:sm:req-1',
      // aws-local-stepfunctions sets $$.Execution.StartTime itself (the context override does not replace it).
      executionStartTime: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
    });
    expect(calls[STATES.checkInstall][0]).toMatchObject({ install: sent, poll: INITIAL_POLL, export: EXPORTED });
    expect(calls[STATES.checkInstall]).toHaveLength(3);
    expect(calls[STATES.awaitCommand]).toHaveLength(3);
    expect(calls[STATES.notifyFailure]).toBeUndefined();
  });

  test('DryRun ends after find-nodes: nothing is exported, no secret is written', async () => {
    const dryRun: NodesTaskResult = { outcome: 'DryRun', targetCount: 1, nodeIds: ['i-0123456789abcdef0'] };
    const { execution, calls } = run({
      [STATES.findNodes]: async () => dryRun,
      [STATES.exportCertificate]: async () => EXPORTED,
    });
    await expect(execution.result).resolves.toMatchObject({ nodes: dryRun });
    expect(calls[STATES.findNodes]).toEqual([
      { input: REQUEST, executionArn: 'arn:aws:states:us-east-1:111111111111:execution:sm:req-1' },
    ]);
    expect(calls[STATES.exportCertificate]).toBeUndefined();
    expect(calls[STATES.installOnNodes]).toBeUndefined();
  });

  test('no node with the tag fails at find-nodes, alerted, before anything is exported', async () => {
    const { execution, calls } = run({
      [STATES.findNodes]: async () => {
        throw taskError('NoMatchingNodes', 'no managed node carries Role=web: nothing was exported');
      },
      [STATES.exportCertificate]: async () => EXPORTED,
      [STATES.notifyFailure]: async () => ({ MessageId: 'm-5' }),
    });
    const error = (await execution.result.then(
      () => undefined,
      (e: unknown) => e,
    )) as ExecutionError & { cause: Error };
    expect(error.cause.name).toBe('NoMatchingNodes');
    expect(calls[STATES.exportCertificate]).toBeUndefined();
    expect(calls[STATES.notifyFailure]).toHaveLength(1);
  });

  test('an unknown find-nodes result is alerted, and nothing is exported', async () => {
    const { execution, calls } = run({
      [STATES.findNodes]: async () => ({ targetCount: 1 }),
      [STATES.exportCertificate]: async () => EXPORTED,
      [STATES.notifyFailure]: async () => ({ MessageId: 'm-6' }),
    });
    const error = (await execution.result.then(
      () => undefined,
      (e: unknown) => e,
    )) as ExecutionError & { cause: Error };
    expect(error.cause.name).toBe('UnexpectedInstallOutcome');
    expect(calls[STATES.exportCertificate]).toBeUndefined();
  });

  test('a failed task token (the check failed for good) is alerted with its error', async () => {
    const { execution, calls } = run({
      [STATES.exportCertificate]: async () => EXPORTED,
      [STATES.installOnNodes]: async () => sent,
      [STATES.awaitCommand]: async () => {
        throw taskError('AccessDeniedException', 'not allowed to list commands');
      },
      [STATES.notifyFailure]: async () => ({ MessageId: 'm-7' }),
    });
    const error = (await execution.result.then(
      () => undefined,
      (e: unknown) => e,
    )) as ExecutionError & { cause: Error };
    expect(error.cause.name).toBe('AccessDeniedException');
    expect(calls[STATES.checkInstall]).toBeUndefined();
    expect(calls[STATES.notifyFailure]).toHaveLength(1);
  });

  test('Superseded ends without polling', async () => {
    const { execution, calls } = run({
      [STATES.exportCertificate]: async () => EXPORTED,
      [STATES.installOnNodes]: async () => ({ outcome: 'Superseded', targetCount: 0, supersededBy: 'arn:x' }),
    });
    await expect(execution.result).resolves.toMatchObject({ install: { outcome: 'Superseded' } });
    expect(calls[STATES.checkInstall]).toBeUndefined();
    expect(calls[STATES.awaitCommand]).toBeUndefined();
  });

  test('throttling is retried, then the export succeeds', async () => {
    let attempts = 0;
    const { execution, calls } = run({
      [STATES.exportCertificate]: async () => {
        attempts += 1;
        if (attempts < 3) throw taskError('Throttled', 'ExportCertificate was throttled');
        return EXPORTED;
      },
      [STATES.installOnNodes]: async () => ({ outcome: 'Superseded', targetCount: 0 }),
    });
    await expect(execution.result).resolves.toMatchObject({ export: EXPORTED });
    expect(calls[STATES.exportCertificate]).toHaveLength(3);
  });

  test('a terminal task error alerts once and fails with that error', async () => {
    const { execution, calls } = run({
      [STATES.exportCertificate]: async () => {
        throw taskError('CertificateNotExportable', 'certificate was not requested with Export=ENABLED');
      },
      [STATES.notifyFailure]: async () => ({ MessageId: 'm-1' }),
    });
    const error = await execution.result.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ExecutionError);
    expect((error as ExecutionError & { cause: Error }).cause.name).toBe('CertificateNotExportable');
    expect(calls[STATES.exportCertificate]).toHaveLength(1); // terminal: no retry
    expect(calls[STATES.notifyFailure]).toHaveLength(1);
    const alert = calls[STATES.notifyFailure][0] as { Message: Record<string, unknown>; Subject: string };
    expect(alert.Subject).toBe('acm-export: certificate export failed');
    expect(alert.Message).toMatchObject({
      executionArn: 'arn:aws:states:us-east-1:111111111111:execution:sm:req-1',
      input: REQUEST,
      error: { Error: 'CertificateNotExportable' },
    });
  });

  test('failed nodes: RecordInstallFailure sets $.error, alert, fail with InstallFailed', async () => {
    const { execution, calls } = run({
      [STATES.exportCertificate]: async () => EXPORTED,
      [STATES.installOnNodes]: async () => sent,
      [STATES.awaitCommand]: async () => ({
        status: 'Failed',
        attempt: 1,
        waitSeconds: 4,
        reason: '1 of 2 nodes failed',
        failures: [
          { instanceId: 'i-0123456789abcdef0', status: 'Undeliverable', line: 'the node is not reachable by SSM' },
        ],
        report: '1 of 2 nodes failed\ni-0123456789abcdef0: Undeliverable (the node is not reachable by SSM)',
      }),
      [STATES.notifyFailure]: async () => ({ MessageId: 'm-2' }),
    });
    const error = (await execution.result.then(
      () => undefined,
      (e: unknown) => e,
    )) as ExecutionError & { cause: Error };
    expect(error.cause.name).toBe('InstallFailed');
    expect(error.cause.message).toContain('1 of 2 nodes failed');
    const alert = calls[STATES.notifyFailure][0] as { Message: { error: { Error: string; Cause: string } } };
    expect(alert.Message.error.Error).toBe('InstallFailed');
    // The alert carries the report as text: the summary, then the node's own line.
    expect(alert.Message.error.Cause).toBe(
      '1 of 2 nodes failed\ni-0123456789abcdef0: Undeliverable (the node is not reachable by SSM)',
    );
  });

  test('a failed poll result without a report is still alerted, with the poll result as the cause', async () => {
    const { execution, calls } = run({
      [STATES.exportCertificate]: async () => EXPORTED,
      [STATES.installOnNodes]: async () => sent,
      [STATES.awaitCommand]: async () => ({ status: 'Failed', attempt: 1, waitSeconds: 4, reason: 'odd' }),
      [STATES.notifyFailure]: async () => ({ MessageId: 'm-4' }),
    });
    const error = (await execution.result.then(
      () => undefined,
      (e: unknown) => e,
    )) as ExecutionError & { cause: Error };
    expect(error.cause.name).toBe('InstallFailed');
    const alert = calls[STATES.notifyFailure][0] as { Message: { error: { Error: string; Cause: string } } };
    expect(JSON.parse(alert.Message.error.Cause)).toMatchObject({ status: 'Failed', reason: 'odd' });
  });

  test('error names are single-sourced from the error classes; no unused name lists', () => {
    expect(INSTALL_FAILED_ERROR).toBe(new InstallFailed('x').name);
    expect(INSTALL_FAILED_ERROR).toBe(InstallFailed.name);
    expect(RETRYABLE_ERRORS).toEqual([new Throttled('x').name]);
    const record = fromStack.States[STATES.recordInstallFailure] as { Parameters: { Error: string } };
    expect(record.Parameters.Error).toBe(InstallFailed.name);
    expect(Object.keys(errors)).not.toContain('TERMINAL_ERRORS');
  });

  test('an unknown install outcome is alerted, not silently ignored', async () => {
    const { execution, calls } = run({
      [STATES.exportCertificate]: async () => EXPORTED,
      [STATES.installOnNodes]: async () => ({ targetCount: 0 }),
      [STATES.notifyFailure]: async () => ({ MessageId: 'm-3' }),
    });
    const error = (await execution.result.then(
      () => undefined,
      (e: unknown) => e,
    )) as ExecutionError & { cause: Error };
    expect(error.cause.name).toBe('UnexpectedInstallOutcome');
    expect(calls[STATES.notifyFailure]).toHaveLength(1);
  });

  test('if the alert itself fails, the execution still fails with the original error', async () => {
    const { execution } = run({
      [STATES.exportCertificate]: async () => {
        throw taskError('CertificateNotFound', 'no such certificate');
      },
      [STATES.notifyFailure]: async () => {
        throw taskError('SNS.AuthorizationErrorException', 'denied');
      },
    });
    const error = (await execution.result.then(
      () => undefined,
      (e: unknown) => e,
    )) as ExecutionError & { cause: Error };
    expect(error.cause.name).toBe('CertificateNotFound');
  });
});
