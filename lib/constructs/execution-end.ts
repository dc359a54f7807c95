import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../../lambda/shared/contract';
import {
  EXECUTION_STATUS_DETAIL_TYPE,
  EXECUTION_STATUS_SOURCE,
  RECORDED_END_STATUSES,
} from '../../lambda/execution-end/execution-end';
import { acknowledge } from '../nag';
import { Inventory } from './inventory';
import { NodeFunction } from './node-function';

export interface ExecutionEndRecorderProps {
  /** The export workflow whose abnormal ends are recorded. */
  readonly stateMachine: sfn.IStateMachine;
  /** The inventory whose items the executions own. */
  readonly inventory: Inventory;
  /** @default RemovalPolicy.RETAIN (the function's log group) */
  readonly removalPolicy?: RemovalPolicy;
}

/** Event pattern: an execution of `stateMachine` ended FAILED, TIMED_OUT or ABORTED. */
export function executionEndPattern(stateMachine: sfn.IStateMachine): events.EventPattern {
  return {
    source: [EXECUTION_STATUS_SOURCE],
    detailType: [EXECUTION_STATUS_DETAIL_TYPE],
    detail: { status: [...RECORDED_END_STATUSES], stateMachineArn: [stateMachine.stateMachineArn] },
  };
}

/**
 * Records abnormal execution ends on the inventory: an execution that failed, timed out or was aborted
 * while its install was in progress never reaches status-check again, so the execution-end function marks
 * the target it owns `Failed` with the reason. Events that cannot be delivered, or that the function keeps
 * failing on, go to a dead-letter queue (14 days); re-sending one is safe (the update is conditional).
 */
export class ExecutionEndRecorder extends Construct {
  public readonly function: NodeFunction;
  public readonly rule: events.Rule;
  public readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: ExecutionEndRecorderProps) {
    super(scope, id);
    this.function = new NodeFunction(this, 'execution-end', {
      handlerDir: 'execution-end',
      description: 'Marks the target of a failed, timed-out or aborted export execution Failed, with the reason',
      logRemovalPolicy: props.removalPolicy,
      environment: { [ENV.TABLE_NAME]: props.inventory.table.tableName },
    });
    // recordAbnormalEnd only (a conditional UpdateItem).
    props.inventory.grantUpdate(this.function);

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(
      this.deadLetterQueue,
      'AwsSolutions-SQS3',
      "This queue is itself the dead-letter queue of the execution-end rule target and of the function's failed async invocations.",
    );
    this.rule = new events.Rule(this, 'Rule', {
      description: 'An export execution failed, timed out or was aborted: record it on its target',
      eventPattern: executionEndPattern(props.stateMachine),
      targets: [
        new targets.LambdaFunction(this.function, {
          deadLetterQueue: this.deadLetterQueue,
          retryAttempts: 8,
          maxEventAge: Duration.hours(6),
        }),
      ],
    });
    this.function.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new destinations.SqsDestination(this.deadLetterQueue),
    });
  }
}
