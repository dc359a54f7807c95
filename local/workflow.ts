/** The stack's state machine on local Step Functions. */
import { RECORDED_END_STATUSES } from '../lambda/execution-end/execution-end';
import {
  COMMAND_STATUS_DETAIL_TYPE,
  COMMAND_STATUS_SOURCE,
  TERMINAL_COMMAND_STATUSES,
} from '../lambda/command-events/command-events';
import { ENV, INITIAL_POLL } from '../lambda/shared/contract';
import type { AlertRecorder } from './alerts';
import type { AwsEmulator } from './aws-emulator';
import type { LocalResources } from './environment';
import { LocalModeError } from './errors';
import { FUNCTION_NAMES, type LocalFunctions } from './functions';
import type { LocalModeOptions } from './options';
import { LocalStepFunctions, type LocalTask } from './stepfunctions';
import { taskFunction, type LocalStackModel } from './template';
import type { Undo } from './undo';

/**
 * The stack's state machine on local Step Functions: each Task state that invokes a function of the stack
 * runs that function's handler (a `.waitForTaskToken` one then waits for its token, which the command-events
 * function completes from the emulator's command status-change events); SNS publishes are recorded as alerts. An execution that ends FAILED,
 * TIMED_OUT or ABORTED is handed to the execution-end function, as the stack's rule on the execution's
 * status-change event does (when the template has that function).
 */
export function startWorkflow(
  model: LocalStackModel,
  functions: LocalFunctions,
  alerts: AlertRecorder,
  local: LocalResources,
  options: LocalModeOptions,
  aws: AwsEmulator,
  undo: Undo,
): LocalStepFunctions {
  const tasks: Record<string, LocalTask> = {};
  for (const [name, state] of Object.entries(model.definition.States)) {
    if (state.Type !== 'Task') continue;
    const spec = taskFunction(model, state);
    if (spec && state.Resource === WAIT_FOR_TOKEN_LAMBDA) {
      // lambda:invoke's parameters are { FunctionName, Payload }: the function gets the Payload.
      const fn = functions.get(spec.name);
      tasks[name] = {
        kind: 'lambda',
        resource: state.Resource,
        waitForTaskToken: true,
        run: (parameters) => fn.invoke((parameters as { Payload?: unknown }).Payload),
      };
    } else if (spec) {
      const fn = functions.get(spec.name);
      tasks[name] = { kind: 'lambda', resource: String(state.Resource), run: (payload) => fn.invoke(payload) };
    } else if (state.Resource === 'arn:aws:states:::sns:publish') {
      tasks[name] = {
        kind: 'service',
        resource: state.Resource,
        run: async (payload) => alerts.record((payload ?? {}) as { TopicArn?: unknown }),
      };
    } else {
      throw new LocalModeError(`task state ${name} calls ${String(state.Resource)}, which local mode does not run`);
    }
  }
  const executionEnd = functions.byName.get(FUNCTION_NAMES.executionEnd);
  const recorded = new Set<string>(RECORDED_END_STATUSES);
  const stepFunctions = new LocalStepFunctions({
    definition: model.definition,
    stateMachineArn: local.stateMachineArn,
    roleArn: `arn:aws:iam::${local.account}:role/${local.stackName}-Workflow`,
    msPerSecond: options.waitScale ?? 50,
    // The first WaitForNodes follows InitPoll's waitSeconds.
    defaultWaitSeconds: INITIAL_POLL.waitSeconds,
    tasks,
    // A `SecondsPath` wait follows the `waitSeconds` of the task output before it (the status check's).
    waitSecondsFrom: (_state, output) =>
      output && typeof output === 'object' && typeof (output as { waitSeconds?: unknown }).waitSeconds === 'number'
        ? (output as { waitSeconds: number }).waitSeconds
        : undefined,
    // The handler logs its own failures (logs/handlers.log), as it would in CloudWatch.
    onExecutionEnd: async (event) => {
      if (executionEnd && recorded.has(event.detail.status)) await executionEnd.invoke(event);
    },
  });
  undo.push(() => stepFunctions.close());
  aws.addService(stepFunctions.service());
  subscribeCommandEvents(functions, aws, undo);
  return stepFunctions;
}

const WAIT_FOR_TOKEN_LAMBDA = 'arn:aws:states:::lambda:invoke.waitForTaskToken';

/**
 * The stack's rule on Run Command's status changes: the install document's commands in a terminal status go to
 * the command-events function (when the template has it), which completes the workflow's wait.
 */
function subscribeCommandEvents(functions: LocalFunctions, aws: AwsEmulator, undo: Undo): void {
  const commandEvents = functions.byName.get(FUNCTION_NAMES.commandEvents);
  if (!commandEvents) return;
  const documentName = commandEvents.environment[ENV.DOCUMENT_NAME];
  const terminal = new Set<string>(TERMINAL_COMMAND_STATUSES);
  const unsubscribe = aws.events.subscribe({
    matches: (event) =>
      event.source === COMMAND_STATUS_SOURCE &&
      event['detail-type'] === COMMAND_STATUS_DETAIL_TYPE &&
      event.detail['document-name'] === documentName &&
      terminal.has(String(event.detail.status)),
    // The handler logs its own failures (logs/handlers.log); a lost event is what the wait's timeout is for.
    deliver: (event) => commandEvents.invoke(event),
  });
  undo.push(unsubscribe);
}
