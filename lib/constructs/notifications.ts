import { Lazy, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

const EVENTS_PRINCIPAL = 'events.amazonaws.com';

export interface NotificationsProps {
  /** Address subscribed to the alert topic (it must confirm the subscription). @default no subscription */
  readonly alertEmail?: string;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/** ACM events that need a human: forwarded to the alert topic with a readable message. */
export const ACM_ALERT_DETAIL_TYPES = [
  'ACM Certificate Renewal Action Required',
  'ACM Certificate Approaching Expiration',
] as const;

/**
 * Execution end states alerted by EventBridge. FAILED is included although the workflow publishes its own
 * alert (NotifyFailure, with the failed nodes' lines) before failing: an execution can also fail without
 * passing through NotifyFailure (a States.Runtime error in a Pass, Choice or Wait state, or NotifyFailure
 * itself failing), and such a failure must not go unnoticed. A failure that did pass through NotifyFailure
 * therefore produces two alerts; the FAILED message says so.
 */
export const ALERTED_EXECUTION_STATUSES = ['FAILED', 'TIMED_OUT', 'ABORTED'] as const;

/**
 * The alert topic (KMS-encrypted, TLS only) and the EventBridge rules that feed it. The topic key is
 * separate from the data keys because its key policy must let EventBridge use it.
 */
export class Notifications extends Construct {
  public readonly topic: sns.Topic;
  public readonly key: kms.Key;
  /** ARNs of the rules that may publish to the topic (see {@link alertTarget}). */
  private readonly alertRuleArns: string[] = [];

  constructor(scope: Construct, id: string, props: NotificationsProps = {}) {
    super(scope, id);
    this.key = new kms.Key(this, 'Key', {
      description: 'Encrypts the acm-export alert topic',
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'acm-export alerts',
      masterKey: this.key,
      enforceSSL: true,
    });
    // EventBridge publishes to an encrypted topic only if the key policy lets it use the key, and only if
    // the topic policy lets it publish. Both statements are conditioned on this account (confused deputy:
    // no other account's rule may use them). The topic policy names this stack's alert rules exactly; the
    // key policy cannot (the rules depend on the topic, which depends on the key), so it admits rules of
    // this account and region only.
    const stack = Stack.of(this);
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AlertRulesUseTheTopicKey',
        principals: [new iam.ServicePrincipal(EVENTS_PRINCIPAL)],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'events', resource: 'rule', resourceName: '*' }) },
        },
      }),
    );
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AlertRulesPublish',
        principals: [new iam.ServicePrincipal(EVENTS_PRINCIPAL)],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnEquals: { 'aws:SourceArn': Lazy.list({ produce: () => this.alertRuleArns }) },
        },
      }),
    );
    if (props.alertEmail) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(props.alertEmail));
    }

    const certificate = events.EventField.fromPath('$.resources[0]');
    const region = events.EventField.fromPath('$.region');
    new events.Rule(this, 'RenewalActionRequired', {
      description: 'ACM cannot renew a certificate by itself: alert',
      eventPattern: { source: ['aws.acm'], detailType: [ACM_ALERT_DETAIL_TYPES[0]] },
      targets: [
        this.alertTarget(
          events.RuleTargetInput.fromText(
            `ACM cannot renew certificate ${certificate} (${events.EventField.fromPath('$.detail.CommonName')}) ` +
              `in ${region} by itself: ${events.EventField.fromPath('$.detail.RenewalStatusReason')}; ` +
              `${events.EventField.fromPath('$.detail.DaysToExpiry')} days to expiry.`,
          ),
        ),
      ],
    });
    new events.Rule(this, 'ApproachingExpiration', {
      description: 'A certificate approaches expiry: alert',
      eventPattern: { source: ['aws.acm'], detailType: [ACM_ALERT_DETAIL_TYPES[1]] },
      targets: [
        this.alertTarget(
          events.RuleTargetInput.fromText(
            `Certificate ${certificate} (${events.EventField.fromPath('$.detail.CommonName')}) in ${region} ` +
              `expires in ${events.EventField.fromPath('$.detail.DaysToExpiry')} days.`,
          ),
        ),
      ],
    });
  }

  /**
   * Alerts when an execution of the workflow fails, times out or is aborted (see
   * {@link ALERTED_EXECUTION_STATUSES} for why FAILED is forwarded too). Returns the two rules: FAILED, and
   * TIMED_OUT/ABORTED, each with its own message.
   */
  alertOnExecutionEnd(stateMachine: sfn.IStateMachine): { failed: events.Rule; ended: events.Rule } {
    const executionArn = events.EventField.fromPath('$.detail.executionArn');
    const executionName = events.EventField.fromPath('$.detail.name');
    const pattern = (status: readonly string[]): events.EventPattern => ({
      source: ['aws.states'],
      detailType: ['Step Functions Execution Status Change'],
      detail: { status: [...status], stateMachineArn: [stateMachine.stateMachineArn] },
    });
    const failed = new events.Rule(this, 'ExecutionFailed', {
      description: 'An export workflow execution failed (also when it failed before or in NotifyFailure): alert',
      eventPattern: pattern(['FAILED']),
      targets: [
        this.alertTarget(
          events.RuleTargetInput.fromText(
            `acm-export execution ${executionName} failed (${executionArn}); nodes may hold the previous ` +
              "certificate. A detailed alert with the failed nodes' lines may also have been sent by the workflow; " +
              'if not, the execution failed before it could send one: see its history.',
          ),
        ),
      ],
    });
    const ended = new events.Rule(this, 'ExecutionEnded', {
      description: 'An export workflow execution timed out or was aborted: alert',
      eventPattern: pattern(['TIMED_OUT', 'ABORTED']),
      targets: [
        this.alertTarget(
          events.RuleTargetInput.fromText(
            `acm-export execution ${executionName} (${executionArn}) ended with status ` +
              `${events.EventField.fromPath('$.detail.status')}; nodes may hold the previous certificate.`,
          ),
        ),
      ],
    });
    return { failed, ended };
  }

  /**
   * A rule target that publishes `message` to the alert topic. Unlike targets.SnsTopic, which allows
   * events.amazonaws.com to publish without conditions, it adds the rule's ARN to the topic policy's
   * aws:SourceArn list.
   */
  private alertTarget(message: events.RuleTargetInput): events.IRuleTarget {
    return {
      bind: (rule: events.IRuleRef): events.RuleTargetConfig => {
        this.alertRuleArns.push(rule.ruleRef.ruleArn);
        return { arn: this.topic.topicArn, input: message, targetResource: this.topic };
      },
    };
  }
}
