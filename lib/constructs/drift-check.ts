import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { ENV, INVENTORY } from '../../lambda/shared/contract';
import { DEFAULT_DRIFT_GRACE_MINUTES } from '../../lambda/drift-check/drift-check';
import { acknowledgeWildcardAction, acknowledgeWildcardResource } from '../nag';
import { CertificateSecrets } from './certificate-secrets';
import { Inventory } from './inventory';
import { NodeFunction } from './node-function';

export interface DriftCheckProps {
  readonly inventory: Inventory;
  /** The certificate secrets: the check lists those no inventory item uses (orphaned secrets). */
  readonly secrets: CertificateSecrets;
  readonly alertTopic: sns.ITopic;
  /** Key of the alert topic (publishing to an SSE-KMS topic needs it). */
  readonly alertTopicKey: kms.IKey;
  /** How often the check runs. @default Duration.hours(1) */
  readonly interval?: Duration;
  /** Targets exported less than this long ago are not checked (rollout in progress). @default 120 minutes */
  readonly graceMinutes?: number;
  /**
   * Create an AWS-GatherSoftwareInventory association (every managed node, every 30 minutes, custom
   * inventory enabled) so the nodes' Custom:AcmExportCertificate entries are collected. Leave it off when
   * the account already collects inventory (Quick Setup, Default Host Management or your own association):
   * a node should have only one inventory association. @default false
   */
  readonly gatherInventory?: boolean;
  /** @default RemovalPolicy.RETAIN (log group) */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The scheduled drift check: compares what every target's nodes report (custom SSM Inventory) with the
 * inventory's current serial, publishes one alert per drifting target to the alert topic and the
 * DriftingNodes metric.
 */
export class DriftCheck extends Construct {
  public readonly function: NodeFunction;
  public readonly rule: events.Rule;
  /** Present when `gatherInventory` is set. */
  public readonly inventoryAssociation?: ssm.CfnAssociation;

  constructor(scope: Construct, id: string, props: DriftCheckProps) {
    super(scope, id);
    this.function = new NodeFunction(this, 'drift-check', {
      handlerDir: 'drift-check',
      description: 'Compares the serials nodes report (custom SSM Inventory) with the inventory and alerts on drift',
      timeout: Duration.minutes(5),
      logRemovalPolicy: props.removalPolicy,
      environment: {
        [ENV.TABLE_NAME]: props.inventory.table.tableName,
        [ENV.ALERT_TOPIC_ARN]: props.alertTopic.topicArn,
        [ENV.DRIFT_GRACE_MINUTES]: String(props.graceMinutes ?? DEFAULT_DRIFT_GRACE_MINUTES),
        [ENV.SECRET_NAME_PREFIX]: props.secrets.namePrefix,
      },
    });
    // targetsByExpiry (Query on the ByExpiry index), and the conditional UpdateItem that marks a failed
    // deploy caught up.
    props.inventory.grantQuery(this.function, [INVENTORY.byExpiryIndex]);
    props.inventory.grantUpdate(this.function);
    props.alertTopic.grantPublish(this.function);
    props.alertTopicKey.grant(this.function, 'kms:Decrypt', 'kms:GenerateDataKey');
    acknowledgeWildcardAction(
      this.function.executionRole,
      'kms:GenerateDataKey*',
      'Added by Topic.grantPublish on the SSE-KMS alert topic: data keys of the alert topic key only (a single key ARN).',
    );
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        // GetInventory (the nodes' reports) and DescribeInstanceInformation (the nodes with a target's tag,
        // before a failed deploy is called caught up) have no resource-level permissions.
        actions: ['ssm:GetInventory', 'ssm:DescribeInstanceInformation'],
        resources: ['*'],
      }),
    );
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        // The orphaned-secret sweep. ListSecrets returns names, ARNs and dates, never a value, and has no
        // resource-level permission: the function filters on this stack's name prefix itself.
        actions: ['secretsmanager:ListSecrets'],
        resources: ['*'],
      }),
    );
    acknowledgeWildcardResource(
      this.function.executionRole,
      '*',
      'ssm:GetInventory, ssm:DescribeInstanceInformation and secretsmanager:ListSecrets (metadata only, never a secret value) have no resource-level permissions (AWS requires "*"); xray:Put* likewise.',
    );

    this.rule = new events.Rule(this, 'Schedule', {
      description: 'Hourly: do the nodes serve the certificate the inventory says they should?',
      schedule: events.Schedule.rate(props.interval ?? Duration.hours(1)),
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 2, maxEventAge: Duration.minutes(30) })],
    });

    if (props.gatherInventory) {
      this.inventoryAssociation = new ssm.CfnAssociation(this, 'GatherInventory', {
        name: 'AWS-GatherSoftwareInventory',
        associationName: `${this.node.path.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 100)}-inventory`,
        targets: [{ key: 'InstanceIds', values: ['*'] }],
        scheduleExpression: 'rate(30 minutes)',
        parameters: { customInventory: ['Enabled'] },
      });
    }
  }
}
