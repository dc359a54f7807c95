import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../../lambda/shared/contract';
import { REASONS, acknowledge, acknowledgeWildcardResource } from '../nag';
import { ExportOptIn, exportOptInEnvironment, exportOptInSetting } from '../../lambda/shared/export-opt-in';
import { certificateArns as certificateArnsOf } from './arns';
import { Inventory } from './inventory';
import { NodeFunction } from './node-function';
import { DEFAULT_PLACEMENT, PlacementPolicy } from '../../lambda/shared/placement';

export interface RenewalTriggerProps {
  /** The export workflow: acm-renew starts one execution of it per inventory target of the certificate. */
  readonly stateMachine: sfn.IStateMachine;
  /** The certificate inventory: acm-renew queries the targets of a certificate (partition key, never a Scan). */
  readonly inventory: Inventory;
  /** @default RemovalPolicy.RETAIN (the function's log group) */
  readonly removalPolicy?: RemovalPolicy;
  /** Renewals of targets outside this placement policy are skipped (logged). @default DEFAULT_PLACEMENT */
  readonly placement?: PlacementPolicy;
  /** Which renewed certificates are re-exported. @default tagged acm-export:exportable=true */
  readonly exportOptIn?: ExportOptIn;
}

/** Event pattern of a renewal: ACM publishes "Certificate Available" with Action RENEWAL. */
export const RENEWAL_EVENT_PATTERN: events.EventPattern = {
  source: ['aws.acm'],
  detailType: ['ACM Certificate Available'],
  // The event carries no exportability field; the handler checks Options.Export with DescribeCertificate.
  detail: { Action: ['RENEWAL'] },
};

/** Async invocation of acm-renew: Lambda's own retries of a run that throws (2 is the maximum). */
export const RENEW_ASYNC_RETRY_ATTEMPTS = 2;
/** Async invocation of acm-renew: how long Lambda keeps an event it could not process yet. */
export const RENEW_MAX_EVENT_AGE = Duration.hours(6);

/**
 * Starts the re-export of a certificate when ACM renews it. A renewal event is never dropped, whichever
 * side fails:
 * - EventBridge cannot deliver it (Lambda throttled or unavailable): EventBridge retries, then puts the
 *   event into the dead-letter queue (target DLQ);
 * - acm-renew receives it but throws (e.g. StartExecution keeps failing after the SDK's retries): the
 *   invoke is asynchronous, so Lambda retries it {@link RENEW_ASYNC_RETRY_ATTEMPTS} times and then sends
 *   the event, with the error, to the same queue (on-failure destination).
 * Either way the event stays in the queue for 14 days; re-sending it is safe, because execution names are
 * derived from the event id.
 */
export class RenewalTrigger extends Construct {
  /** The acm-renew function: re-exports a renewed certificate to every inventory target. */
  public readonly function: NodeFunction;
  public readonly rule: events.Rule;
  public readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: RenewalTriggerProps) {
    super(scope, id);
    const certificateArns = certificateArnsOf(Stack.of(this));
    this.function = new NodeFunction(this, 'acm-renew', {
      handlerDir: 'acm-renew',
      description: 'On an ACM renewal, starts one export per inventory target of the certificate',
      timeout: Duration.seconds(60),
      logRemovalPolicy: props.removalPolicy,
      environment: {
        [ENV.TABLE_NAME]: props.inventory.table.tableName,
        [ENV.STATE_MACHINE_ARN]: props.stateMachine.stateMachineArn,
        [ENV.PLACEMENT_POLICY]: JSON.stringify(props.placement ?? DEFAULT_PLACEMENT),
        ...exportOptInEnvironment(props.exportOptIn ?? exportOptInSetting({})),
      },
    });
    // ListTagsForCertificate: a renewed certificate whose export tag was removed is skipped, not re-exported.
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['acm:DescribeCertificate', 'acm:ListTagsForCertificate'],
        resources: [certificateArns],
      }),
    );
    acknowledgeWildcardResource(this.function.executionRole, certificateArns, REASONS.certificateWildcard);
    // targetsOfCertificate: Query on the partition key (never a Scan).
    props.inventory.grantQuery(this.function, ['table']);
    props.stateMachine.grantStartExecution(this.function);

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      // SSE-SQS: EventBridge can write to it without a key policy (it cannot use the aws/sqs key).
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(
      this.deadLetterQueue,
      'AwsSolutions-SQS3',
      "This queue is itself the dead-letter queue of the renewal rule target and of acm-renew's failed async invocations; a DLQ of a DLQ would only move the problem.",
    );
    this.rule = new events.Rule(this, 'Rule', {
      description: 'ACM renewed a certificate: re-export it to its inventory targets',
      eventPattern: RENEWAL_EVENT_PATTERN,
      targets: [
        new targets.LambdaFunction(this.function, {
          deadLetterQueue: this.deadLetterQueue,
          retryAttempts: 8,
          maxEventAge: Duration.hours(6),
        }),
      ],
    });
    // The rule target's DLQ only covers delivery; failures of the function itself go here too.
    this.function.configureAsyncInvoke({
      retryAttempts: RENEW_ASYNC_RETRY_ATTEMPTS,
      maxEventAge: RENEW_MAX_EVENT_AGE,
      onFailure: new destinations.SqsDestination(this.deadLetterQueue),
    });
  }
}
