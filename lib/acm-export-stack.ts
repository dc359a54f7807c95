import { CfnOutput, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { CertificateSecrets } from './constructs/certificate-secrets';
import { DriftCheck } from './constructs/drift-check';
import { ExportApi } from './constructs/export-api';
import { ExecutionEndRecorder } from './constructs/execution-end';
import { ExportWorkflow } from './constructs/export-workflow';
import { InstallDocument } from './constructs/install-document';
import { Inventory } from './constructs/inventory';
import { NodeAccess } from './constructs/node-access';
import { Notifications } from './constructs/notifications';
import { RenewalTrigger } from './constructs/renewal-trigger';
import { DEFAULT_PLACEMENT, PlacementPolicy, parsePlacementPolicy } from '../lambda/shared/placement';
import { exportOptInSetting } from '../lambda/shared/export-opt-in';

export interface AcmExportStackProps extends StackProps {
  /** Subscribed to the alert topic when set. @default no subscription */
  readonly alertEmail?: string;
  /** Applies to the table, keys and log groups. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** Default schedule of the per-target convergence associations. @default 'rate(12 hours)' */
  readonly convergenceSchedule?: string;
  /**
   * Schedule of the per-target report associations (report document): how often nodes refresh their custom
   * inventory between install runs, so the drift check sees files changed by hand. @default 'rate(1 hour)'
   */
  readonly driftReportSchedule?: string;
  /**
   * Create an AWS-GatherSoftwareInventory association (all managed nodes, custom inventory enabled) so
   * per-node state reaches SSM Inventory. Off by default: most accounts already collect inventory, and a
   * node should have only one inventory association. @default false
   */
  readonly gatherInventory?: boolean;
  /**
   * Directories certificates and keys may be installed in, and accounts that may own the key; enforced by
   * the API, renewals and the install document. @default DEFAULT_PLACEMENT
   */
  readonly placement?: PlacementPolicy;
  /** Tag key a certificate must carry to be exported. @default 'acm-export:exportable' */
  readonly exportTagKey?: string;
  /** Value of that tag. @default 'true' */
  readonly exportTagValue?: string;
  /**
   * Export any exportable certificate of the account and region, tagged or not (drops the tag check and the
   * IAM condition on acm:ExportCertificate). @default false
   */
  readonly exportAnyCertificate?: boolean;
}

/** Stack output ids (the CLI discovers the endpoint from ApiUrl; selftest the document, log group and canary). */
export const OUTPUTS = {
  apiUrl: 'ApiUrl',
  apiExecuteArn: 'ApiExecuteArn',
  stateMachineArn: 'StateMachineArn',
  tableName: 'TableName',
  documentName: 'DocumentName',
  reportDocumentName: 'ReportDocumentName',
  removeDocumentName: 'RemoveDocumentName',
  preflightDocumentName: 'PreflightDocumentName',
  nodePolicyArn: 'NodePolicyArn',
  alertTopicArn: 'AlertTopicArn',
  commandLogGroupName: 'CommandLogGroupName',
  preflightSecretArn: 'PreflightSecretArn',
} as const;

export class AcmExportStack extends Stack {
  public readonly inventory: Inventory;
  public readonly secrets: CertificateSecrets;
  public readonly installDocument: InstallDocument;
  public readonly notifications: Notifications;
  public readonly workflow: ExportWorkflow;
  public readonly exportApi: ExportApi;
  public readonly renewalTrigger: RenewalTrigger;
  public readonly nodeAccess: NodeAccess;
  public readonly driftCheck: DriftCheck;
  public readonly executionEnd: ExecutionEndRecorder;

  constructor(scope: Construct, id: string, props: AcmExportStackProps = {}) {
    super(scope, id, props);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const placement = parsePlacementPolicy(props.placement ?? DEFAULT_PLACEMENT, 'placement');
    const exportOptIn = exportOptInSetting({
      tagKey: props.exportTagKey,
      tagValue: props.exportTagValue,
      anyCertificate: props.exportAnyCertificate,
    });

    this.inventory = new Inventory(this, 'Inventory', { removalPolicy });
    this.secrets = new CertificateSecrets(this, 'CertificateSecrets', { removalPolicy });
    this.installDocument = new InstallDocument(this, 'InstallDocument', { removalPolicy, placement });
    this.notifications = new Notifications(this, 'Notifications', { alertEmail: props.alertEmail, removalPolicy });
    this.workflow = new ExportWorkflow(this, 'ExportWorkflow', {
      inventory: this.inventory,
      secrets: this.secrets,
      installDocument: this.installDocument,
      alertTopic: this.notifications.topic,
      alertTopicKey: this.notifications.key,
      removalPolicy,
      convergenceSchedule: props.convergenceSchedule,
      driftReportSchedule: props.driftReportSchedule,
      exportOptIn,
    });
    this.notifications.alertOnExecutionEnd(this.workflow.stateMachine);
    this.executionEnd = new ExecutionEndRecorder(this, 'ExecutionEnd', {
      stateMachine: this.workflow.stateMachine,
      inventory: this.inventory,
      removalPolicy,
    });
    this.exportApi = new ExportApi(this, 'ExportApi', {
      stateMachine: this.workflow.stateMachine,
      inventory: this.inventory,
      installDocument: this.installDocument,
      secrets: this.secrets,
      commandTimeoutSeconds: this.workflow.commandTimeoutSeconds,
      removalPolicy,
      placement,
      exportOptIn,
    });
    this.driftCheck = new DriftCheck(this, 'DriftCheck', {
      inventory: this.inventory,
      secrets: this.secrets,
      alertTopic: this.notifications.topic,
      alertTopicKey: this.notifications.key,
      gatherInventory: props.gatherInventory,
      removalPolicy,
    });
    this.renewalTrigger = new RenewalTrigger(this, 'RenewalTrigger', {
      stateMachine: this.workflow.stateMachine,
      inventory: this.inventory,
      removalPolicy,
      placement,
      exportOptIn,
    });
    this.nodeAccess = new NodeAccess(this, 'NodeAccess', {
      secretArnPattern: this.secrets.secretArnPattern,
      secretsOfTarget: this.secrets.secretsOfTarget,
      canarySecretArn: this.secrets.canary.secretArn,
      secretsKey: this.secrets.key,
      commandLogGroup: this.installDocument.commandLogGroup,
      nodeLibraryArn: this.installDocument.nodeLibraryArn,
    });

    new CfnOutput(this, OUTPUTS.apiUrl, { value: this.exportApi.api.url, description: 'Export API base URL (SigV4)' });
    new CfnOutput(this, OUTPUTS.apiExecuteArn, {
      value: this.exportApi.executeApiArn,
      description: 'Prefix of the execute-api:Invoke resources of callers: <this>/<METHOD>/<path>',
    });
    new CfnOutput(this, OUTPUTS.stateMachineArn, { value: this.workflow.stateMachine.stateMachineArn });
    new CfnOutput(this, OUTPUTS.tableName, { value: this.inventory.table.tableName });
    new CfnOutput(this, OUTPUTS.documentName, {
      value: this.installDocument.documentName,
      description: 'The install document (pushes and install associations)',
    });
    new CfnOutput(this, OUTPUTS.reportDocumentName, {
      value: this.installDocument.documents.report.name,
      description: 'The report document (report associations)',
    });
    new CfnOutput(this, OUTPUTS.removeDocumentName, {
      value: this.installDocument.documents.remove.name,
      description: 'The remove document (DELETE .../targets/...?removeFiles=true)',
    });
    new CfnOutput(this, OUTPUTS.preflightDocumentName, {
      value: this.installDocument.documents.preflight.name,
      description: 'The preflight document (acm-export selftest)',
    });
    new CfnOutput(this, OUTPUTS.nodePolicyArn, {
      value: this.nodeAccess.policy.managedPolicyArn,
      description: 'Attach to the instance role of every node that receives certificates',
    });
    new CfnOutput(this, OUTPUTS.alertTopicArn, { value: this.notifications.topic.topicArn });
    new CfnOutput(this, OUTPUTS.commandLogGroupName, {
      value: this.installDocument.commandLogGroup.logGroupName,
      description: 'Run Command output of the node documents',
    });
    new CfnOutput(this, OUTPUTS.preflightSecretArn, {
      value: this.secrets.canary.secretArn,
      description: 'Canary secret (no key material) the preflight reads',
    });
  }
}
