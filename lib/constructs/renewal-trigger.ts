import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledge } from '../nag';

export interface RenewalTriggerProps {
  /** The acm-renew function: re-exports a renewed certificate to every inventory target. */
  readonly handler: lambda.IFunction;
}

/** Event pattern of a renewal: ACM publishes "Certificate Available" with Action RENEWAL. */
export const RENEWAL_EVENT_PATTERN: events.EventPattern = {
  source: ['aws.acm'],
  detailType: ['ACM Certificate Available'],
  // The event carries no exportability field; the handler checks Options.Export with DescribeCertificate.
  detail: { Action: ['RENEWAL'] },
};

/**
 * Starts the re-export of a certificate when ACM renews it. Failed deliveries are retried by EventBridge
 * and then kept in a dead-letter queue, so a renewal is never silently lost.
 */
export class RenewalTrigger extends Construct {
  public readonly rule: events.Rule;
  public readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: RenewalTriggerProps) {
    super(scope, id);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      // SSE-SQS: EventBridge can write to it without a key policy (it cannot use the aws/sqs key).
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(
      this.deadLetterQueue,
      'AwsSolutions-SQS3',
      'This queue is itself the dead-letter queue of the renewal rule target; a DLQ of a DLQ would only move the problem.',
    );
    this.rule = new events.Rule(this, 'Rule', {
      description: 'ACM renewed a certificate: re-export it to its inventory targets',
      eventPattern: RENEWAL_EVENT_PATTERN,
      targets: [
        new targets.LambdaFunction(props.handler, {
          deadLetterQueue: this.deadLetterQueue,
          retryAttempts: 8,
          maxEventAge: Duration.hours(6),
        }),
      ],
    });
  }
}
