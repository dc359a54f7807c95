import { Arn, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import {
  ASSOCIATION_STACK_TAG,
  COMMAND_WAIT_TIMEOUT_SECONDS,
  ENV,
  INITIAL_POLL,
  STATES,
  WORKFLOW_TIMEOUT_SECONDS,
} from '../../lambda/shared/contract';
import {
  COMMAND_STATUS_DETAIL_TYPE,
  COMMAND_STATUS_SOURCE,
  TERMINAL_COMMAND_STATUSES,
} from '../../lambda/command-events/command-events';
import { DEFAULT_CONVERGENCE_SCHEDULE, DEFAULT_DRIFT_REPORT_SCHEDULE, FIELD_RULES } from '../../lambda/shared/patterns';
import { INSTALL_FAILED_ERROR, RETRYABLE_ERRORS } from '../../lambda/shared/errors';
import { ExportOptIn, exportOptInEnvironment, exportOptInSetting } from '../../lambda/shared/export-opt-in';
import { CertificateSecrets } from './certificate-secrets';
import { InstallDocument } from './install-document';
import { Inventory } from './inventory';
import { NodeFunction } from './node-function';
import { REASONS, acknowledgeWildcardResource } from '../nag';
import {
  associationArns as associationArnsOf,
  certificateArns as certificateArnsOf,
  nodeArns as nodeArnsOf,
} from './arns';

export interface ExportWorkflowProps {
  readonly inventory: Inventory;
  readonly secrets: CertificateSecrets;
  readonly installDocument: InstallDocument;
  /** Topic the NotifyFailure state publishes to. */
  readonly alertTopic: sns.ITopic;
  /** Key of the alert topic: publishing to an SSE-KMS topic needs the publisher to use the key. */
  readonly alertTopicKey: kms.IKey;
  /** @default RemovalPolicy.RETAIN (log groups) */
  readonly removalPolicy?: RemovalPolicy;
  /** SendCommand delivery timeout, seconds. @default DEFAULT_COMMAND_TIMEOUT_SECONDS (600) */
  readonly commandTimeoutSeconds?: number;
  /**
   * Default schedule of the per-target convergence associations (a State Manager rate expression of at
   * least 30 minutes; a request's ConvergenceSchedule overrides it). @default 'rate(12 hours)'
   */
  readonly convergenceSchedule?: string;
  /**
   * Schedule of the per-target report associations (report document: nodes re-read what
   * they hold and serve and refresh their custom inventory, changing nothing), so the drift check sees files
   * changed between install runs. Same rule as convergenceSchedule. @default 'rate(1 hour)'
   */
  readonly driftReportSchedule?: string;
  /** Which certificates acm:ExportCertificate is allowed on. @default tagged acm-export:exportable=true */
  readonly exportOptIn?: ExportOptIn;
}

/** SendCommand delivery timeout (seconds) of the install runs and of the export API's remove run. */
export const DEFAULT_COMMAND_TIMEOUT_SECONDS = 600;

/**
 * Validates an association schedule at synth time with the same rule the API and the Lambdas use for
 * ConvergenceSchedule; `prop` names the property in the error.
 */
export function checkConvergenceSchedule(schedule: string, prop = 'convergenceSchedule'): string {
  const rule = FIELD_RULES.ConvergenceSchedule;
  if (schedule.length > rule.maxLength || !new RegExp(rule.pattern).test(schedule)) {
    throw new Error(`${prop} ${JSON.stringify(schedule.slice(0, 40))} ${rule.rule}`);
  }
  return schedule;
}

/** Task retry on throttling: the handlers turn SDK throttling into `Throttled` after the SDK's own retries. */
export const TASK_RETRY: sfn.RetryProps = {
  errors: [...RETRYABLE_ERRORS, 'Lambda.TooManyRequestsException'],
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxAttempts: 6,
  jitterStrategy: sfn.JitterType.FULL,
};

/** Error name of the Fail state when an install reports failed nodes: the InstallFailed class's name. */
export { INSTALL_FAILED_ERROR };
/** Fixed error name when ssm-run returns an outcome the workflow does not know. */
export const UNEXPECTED_OUTCOME_ERROR = 'UnexpectedInstallOutcome';

/** Event pattern: a command of the install document reached a terminal status. */
export function commandEndPattern(documentName: string): events.EventPattern {
  return {
    source: [COMMAND_STATUS_SOURCE],
    detailType: [COMMAND_STATUS_DETAIL_TYPE],
    detail: { 'document-name': [documentName], status: [...TERMINAL_COMMAND_STATUSES] },
  };
}

/**
 * The workflow functions (find-nodes, acm-export, ssm-run, await-command, status-check, and command-events
 * with its rule) and the STANDARD export workflow: find-nodes → (DryRun | acm-export → ssm-run → (Superseded |
 * Sent → await-command: a wait on a task token that the command's status-change event completes, with one
 * status-check after each timeout)) → success, or NotifyFailure (SNS) → ExportFailed. State carries
 * identifiers only (ARNs, version ids, counts).
 */
export class ExportWorkflow extends Construct {
  public readonly findNodesFunction: NodeFunction;
  public readonly acmExportFunction: NodeFunction;
  public readonly ssmRunFunction: NodeFunction;
  public readonly statusCheckFunction: NodeFunction;
  public readonly awaitCommandFunction: NodeFunction;
  public readonly commandEventsFunction: NodeFunction;
  /** The rule on the install document's command status changes (targets command-events). */
  public readonly commandEventsRule: events.Rule;
  public readonly stateMachine: sfn.StateMachine;
  public readonly logGroup: logs.LogGroup;
  /** SendCommand delivery timeout of the install runs, seconds (the export API's remove run uses the same). */
  public readonly commandTimeoutSeconds: number;

  constructor(scope: Construct, id: string, props: ExportWorkflowProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { inventory } = props;
    const { table } = inventory;
    const logRemovalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const certificateArns = certificateArnsOf(stack);
    const exportOptIn = props.exportOptIn ?? exportOptInSetting({});

    this.findNodesFunction = new NodeFunction(this, 'find-nodes', {
      handlerDir: 'find-nodes',
      description: 'Checks the certificate and finds the nodes with the target tag before anything is exported',
      logRemovalPolicy,
    });
    this.findNodesFunction.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['acm:DescribeCertificate'], resources: [certificateArns] }),
    );
    acknowledgeWildcardResource(this.findNodesFunction.executionRole, certificateArns, REASONS.certificateWildcard);
    this.findNodesFunction.addToRolePolicy(
      new iam.PolicyStatement({
        // DescribeInstanceInformation has no resource-level permissions.
        actions: ['ssm:DescribeInstanceInformation'],
        resources: ['*'],
      }),
    );
    acknowledgeWildcardResource(
      this.findNodesFunction.executionRole,
      '*',
      'ssm:DescribeInstanceInformation has no resource-level permissions (AWS requires "*"); xray:Put* likewise.',
    );

    this.acmExportFunction = new NodeFunction(this, 'acm-export', {
      handlerDir: 'acm-export',
      description: 'Exports an ACM certificate into a new version of its Secrets Manager secret',
      timeout: Duration.seconds(60),
      logRemovalPolicy,
      environment: {
        [ENV.SECRET_NAME_PREFIX]: props.secrets.namePrefix,
        [ENV.SECRET_KMS_KEY_ID]: props.secrets.key.keyArn,
        // Names the tag when the IAM condition refuses an export.
        ...exportOptInEnvironment(exportOptIn),
      },
    });
    this.acmExportFunction.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['acm:DescribeCertificate'], resources: [certificateArns] }),
    );
    // Export is opt-in per certificate: the API and acm-renew check the tag first; this condition is the backstop.
    this.acmExportFunction.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ExportOptedInCertificates',
        actions: ['acm:ExportCertificate'],
        resources: [certificateArns],
        ...(exportOptIn.anyCertificate
          ? {}
          : { conditions: { StringEquals: { [`aws:ResourceTag/${exportOptIn.tagKey}`]: exportOptIn.tagValue } } }),
      }),
    );
    this.acmExportFunction.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [
          'secretsmanager:CreateSecret',
          'secretsmanager:PutSecretValue',
          'secretsmanager:DescribeSecret',
          'secretsmanager:TagResource',
          // A target deleted and exported again within the recovery window: its secret is restored.
          'secretsmanager:RestoreSecret',
        ],
        resources: [props.secrets.secretArnPattern],
      }),
    );
    // Secrets Manager encrypts a new version under the CMK with a data key generated for the caller (and
    // decrypts the current one to compare on a retried ClientRequestToken): GenerateDataKey and Decrypt.
    // The function never reads a secret value back and never calls kms:Encrypt itself.
    props.secrets.key.grant(this.acmExportFunction, 'kms:GenerateDataKey', 'kms:Decrypt');
    acknowledgeWildcardResource(this.acmExportFunction.executionRole, certificateArns, REASONS.certificateWildcard);
    acknowledgeWildcardResource(
      this.acmExportFunction.executionRole,
      props.secrets.secretArnPattern,
      "Only the secrets under this stack's name prefix; the function creates one secret per target at run time, so names are not known at deploy time.",
    );

    this.commandTimeoutSeconds = props.commandTimeoutSeconds ?? DEFAULT_COMMAND_TIMEOUT_SECONDS;
    const convergenceSchedule = checkConvergenceSchedule(props.convergenceSchedule ?? DEFAULT_CONVERGENCE_SCHEDULE);
    const driftReportSchedule = checkConvergenceSchedule(
      props.driftReportSchedule ?? DEFAULT_DRIFT_REPORT_SCHEDULE,
      'driftReportSchedule',
    );
    const associationArns = associationArnsOf(stack);
    const nodeArns = nodeArnsOf(stack);
    this.ssmRunFunction = new NodeFunction(this, 'ssm-run', {
      handlerDir: 'ssm-run',
      description: 'Records the target in the inventory and sends Install-ACMCertificate to the tagged nodes',
      timeout: Duration.seconds(60),
      logRemovalPolicy,
      environment: {
        [ENV.TABLE_NAME]: table.tableName,
        [ENV.DOCUMENT_NAME]: props.installDocument.documentName,
        [ENV.REPORT_DOCUMENT_NAME]: props.installDocument.documents.report.name,
        [ENV.COMMAND_LOG_GROUP]: props.installDocument.commandLogGroup.logGroupName,
        [ENV.COMMAND_TIMEOUT_SECONDS]: String(this.commandTimeoutSeconds),
        [ENV.CONVERGENCE_SCHEDULE]: convergenceSchedule,
        [ENV.DRIFT_REPORT_SCHEDULE]: driftReportSchedule,
        [ENV.STACK_NAME]: stack.stackName,
      },
    });
    // recordExport/recordAssociation/recordDeployOutcome (UpdateItem; GetItem when a newer export owns the item).
    inventory.grantUpdate(this.ssmRunFunction);
    inventory.grantGetItem(this.ssmRunFunction);
    this.ssmRunFunction.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ConvergenceAssociations',
        // Two associations per target: install (this stack's install document) and report (its report
        // document); targets are chosen by tag. DescribeAssociation: an association that already matches is
        // not updated (an update re-runs it on every node).
        actions: ['ssm:CreateAssociation', 'ssm:DescribeAssociation', 'ssm:UpdateAssociation'],
        resources: [
          props.installDocument.documents.install.arn,
          props.installDocument.documents.report.arn,
          associationArns,
          ...nodeArns,
        ],
      }),
    );
    this.ssmRunFunction.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'TagAssociationsWithStack',
        // The stack tag, and only it, with this stack's value: on CreateAssociation's Tags (tag-on-create is
        // authorized as AddTagsToResource too) and on the update of an association created before the tag existed.
        actions: ['ssm:AddTagsToResource'],
        resources: [associationArns],
        conditions: {
          StringEquals: { [`aws:RequestTag/${ASSOCIATION_STACK_TAG}`]: stack.stackName },
          'ForAllValues:StringEquals': { 'aws:TagKeys': [ASSOCIATION_STACK_TAG] },
        },
      }),
    );
    this.ssmRunFunction.addToRolePolicy(
      new iam.PolicyStatement({
        // The push: the install document only.
        actions: ['ssm:SendCommand'],
        resources: [
          props.installDocument.documents.install.arn,
          // Targets are chosen by tag at run time, so the node part is a wildcard (EC2 and hybrid nodes).
          Arn.format({ service: 'ec2', resource: 'instance', resourceName: '*' }, stack),
          Arn.format({ service: 'ssm', resource: 'managed-instance', resourceName: '*' }, stack),
        ],
      }),
    );
    this.ssmRunFunction.addToRolePolicy(
      new iam.PolicyStatement({
        // DescribeInstanceInformation (which nodes match the tag) and ListAssociations (find a target's
        // association by name) have no resource-level permissions.
        actions: ['ssm:DescribeInstanceInformation', 'ssm:ListAssociations'],
        resources: ['*'],
      }),
    );
    for (const nodes of ['instance', 'managed-instance']) {
      acknowledgeWildcardResource(
        this.ssmRunFunction.executionRole,
        Arn.format({ service: nodes === 'instance' ? 'ec2' : 'ssm', resource: nodes, resourceName: '*' }, stack),
        "SendCommand targets nodes by tag at run time (EC2 instances and hybrid mi-* nodes of this account and region); the document itself is pinned to this stack's document ARN.",
      );
    }
    acknowledgeWildcardResource(
      this.ssmRunFunction.executionRole,
      '*',
      'ssm:DescribeInstanceInformation and ssm:ListAssociations have no resource-level permissions (AWS requires "*"); xray:Put* likewise.',
    );
    acknowledgeWildcardResource(
      this.ssmRunFunction.executionRole,
      associationArns,
      "State Manager association ids are generated by SSM when the workflow creates a target's association; the document is pinned to this stack's document ARN.",
    );

    this.statusCheckFunction = new NodeFunction(this, 'status-check', {
      handlerDir: 'status-check',
      description: 'Counts the install results of a command and records the deploy status',
      logRemovalPolicy,
      environment: { [ENV.TABLE_NAME]: table.tableName },
    });
    // recordDeployOutcome only (a conditional UpdateItem).
    inventory.grantUpdate(this.statusCheckFunction);
    this.statusCheckFunction.addToRolePolicy(
      new iam.PolicyStatement({
        // ListCommands and ListCommandInvocations have no resource-level permissions.
        actions: ['ssm:ListCommands', 'ssm:ListCommandInvocations'],
        resources: ['*'],
      }),
    );
    acknowledgeWildcardResource(
      this.statusCheckFunction.executionRole,
      '*',
      'ssm:ListCommands and ssm:ListCommandInvocations have no resource-level permissions (AWS requires "*"); xray:Put* likewise.',
    );

    // The event path: await-command stores the task token and checks once; command-events completes it.
    const statusCheckAccess = (fn: NodeFunction) =>
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          // Same calls as status-check (its logic decides); no resource-level permissions.
          actions: ['ssm:ListCommands', 'ssm:ListCommandInvocations'],
          resources: ['*'],
        }),
      );
    const taskResponse = (fn: NodeFunction) =>
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          // The token names the task; these actions take no resource (the Service Authorization Reference
          // lists none for them), so a narrower Resource than "*" would deny every call.
          actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'],
          resources: ['*'],
        }),
      );
    this.awaitCommandFunction = new NodeFunction(this, 'await-command', {
      handlerDir: 'await-command',
      description: "Stores the workflow's task token for the install command and checks the command once",
      logRemovalPolicy,
      environment: { [ENV.TABLE_NAME]: table.tableName },
    });
    // storeCommandWait, recordDeployOutcome (UpdateItem); deleteCommandWait after completing the token itself.
    inventory.grantUpdate(this.awaitCommandFunction);
    inventory.grantDelete(this.awaitCommandFunction);
    statusCheckAccess(this.awaitCommandFunction);
    taskResponse(this.awaitCommandFunction);

    this.commandEventsFunction = new NodeFunction(this, 'command-events', {
      handlerDir: 'command-events',
      description: "Completes the workflow's wait when the install command reaches a terminal status",
      logRemovalPolicy,
      environment: {
        [ENV.TABLE_NAME]: table.tableName,
        [ENV.DOCUMENT_NAME]: props.installDocument.documentName,
      },
    });
    // readCommandWait (GetItem), recordDeployOutcome (UpdateItem), deleteCommandWait (DeleteItem).
    inventory.grantGetItem(this.commandEventsFunction);
    inventory.grantUpdate(this.commandEventsFunction);
    inventory.grantDelete(this.commandEventsFunction);
    statusCheckAccess(this.commandEventsFunction);
    taskResponse(this.commandEventsFunction);
    for (const fn of [this.awaitCommandFunction, this.commandEventsFunction]) {
      acknowledgeWildcardResource(
        fn.executionRole,
        '*',
        'ssm:ListCommands/ListCommandInvocations and states:SendTaskSuccess/SendTaskFailure have no resource-level permissions (AWS requires "*"; a task token is only valid for the task it names); xray:Put* likewise.',
      );
    }
    // Events are best effort: a lost one is made up for by the wait's timeout and one status check.
    this.commandEventsRule = new events.Rule(this, 'CommandEventsRule', {
      description: 'An install command reached a terminal status: complete the export workflow waiting on it',
      eventPattern: commandEndPattern(props.installDocument.documentName),
      targets: [
        new targets.LambdaFunction(this.commandEventsFunction, {
          retryAttempts: 4,
          maxEventAge: Duration.minutes(15),
        }),
      ],
    });

    const alertTopic = props.alertTopic;
    this.logGroup = new logs.LogGroup(this, 'StateMachineLogs', {
      retention: logs.RetentionDays.ONE_YEAR,
      removalPolicy: logRemovalPolicy,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      comment: 'Export an ACM certificate and install it on the nodes of a tag target',
      definitionBody: sfn.DefinitionBody.fromChainable(
        // Task states are named after their functions: a scope of their own keeps the two sets of ids apart.
        buildDefinition(new Construct(this, 'Definition'), {
          findNodes: this.findNodesFunction,
          acmExport: this.acmExportFunction,
          ssmRun: this.ssmRunFunction,
          statusCheck: this.statusCheckFunction,
          awaitCommand: this.awaitCommandFunction,
          alertTopic,
        }),
      ),
      timeout: Duration.seconds(WORKFLOW_TIMEOUT_SECONDS),
      tracingEnabled: true,
      // ALL events make the log an audit trail; execution data stays out of it (defence in depth).
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    acknowledgeWildcardResource(
      this.stateMachine.role,
      '*',
      'Added by logging and tracing: logs:*LogDelivery*/PutResourcePolicy/Describe* and xray:* have no resource-level permissions.',
    );
    // Topic.grantPublish (used by SnsPublish) does not cover the topic's key; SNS needs both to publish.
    props.alertTopicKey.grant(this.stateMachine, 'kms:Decrypt', 'kms:GenerateDataKey');
    for (const fn of [
      this.findNodesFunction,
      this.acmExportFunction,
      this.ssmRunFunction,
      this.statusCheckFunction,
      this.awaitCommandFunction,
    ]) {
      acknowledgeWildcardResource(
        this.stateMachine.role,
        `${fn.functionArn}:*`,
        "Added by LambdaInvoke: versions and aliases of this stack's own function only.",
      );
    }
  }
}

interface DefinitionParts {
  findNodes: NodeFunction;
  acmExport: NodeFunction;
  ssmRun: NodeFunction;
  statusCheck: NodeFunction;
  awaitCommand: NodeFunction;
  alertTopic: sns.ITopic;
}

const executionInput = sfn.JsonPath.objectAt('$$.Execution.Input');
const executionArn = sfn.JsonPath.stringAt('$$.Execution.Id');
const executionStartTime = sfn.JsonPath.stringAt('$$.Execution.StartTime');

function buildDefinition(scope: Construct, parts: DefinitionParts): sfn.IChainable {
  const failed = new sfn.Fail(scope, STATES.failed, {
    comment: 'Error and cause come from $.error (a Catch result, or set by a Record* state)',
    errorPath: '$.error.Error',
    causePath: '$.error.Cause',
  });
  const notifyFailure = new tasks.SnsPublish(scope, STATES.notifyFailure, {
    topic: parts.alertTopic,
    subject: 'acm-export: certificate export failed',
    // Identifiers only: the execution, its input (ARN, target, install options) and the error.
    message: sfn.TaskInput.fromObject({
      alert: 'acm-export: certificate export failed; nodes may still hold the previous certificate',
      executionArn,
      startTime: executionStartTime,
      input: executionInput,
      error: sfn.JsonPath.objectAt('$.error'),
    }),
    resultPath: sfn.JsonPath.DISCARD,
  });
  notifyFailure.addRetry({
    errors: ['States.TaskFailed'],
    interval: Duration.seconds(2),
    backoffRate: 2,
    maxAttempts: 3,
  });
  // If even the alert cannot be sent, still fail with the original error.
  notifyFailure.addCatch(failed, { errors: ['States.ALL'], resultPath: '$.notifyError' });
  notifyFailure.next(failed);

  const lambdaTask = (id: string, fn: NodeFunction, payload: Record<string, unknown>, resultPath: string) => {
    const task = new tasks.LambdaInvoke(scope, id, {
      lambdaFunction: fn,
      payload: sfn.TaskInput.fromObject(payload),
      payloadResponseOnly: true,
      resultPath,
      taskTimeout: sfn.Timeout.duration(Duration.minutes(2)),
    });
    task.addRetry(TASK_RETRY);
    task.addCatch(notifyFailure, { errors: ['States.ALL'], resultPath: '$.error' });
    return task;
  };

  // Nodes first: a DryRun, or a tag no node carries, ends here with no secret written.
  const findNodes = lambdaTask(STATES.findNodes, parts.findNodes, { input: executionInput, executionArn }, '$.nodes');
  const exportCertificate = lambdaTask(
    STATES.exportCertificate,
    parts.acmExport,
    { input: executionInput, executionArn },
    '$.export',
  );
  const installOnNodes = lambdaTask(
    STATES.installOnNodes,
    parts.ssmRun,
    { input: executionInput, export: sfn.JsonPath.objectAt('$.export'), executionArn, executionStartTime },
    '$.install',
  );
  const checkInstall = lambdaTask(
    STATES.checkInstall,
    parts.statusCheck,
    {
      input: executionInput,
      export: sfn.JsonPath.objectAt('$.export'),
      install: sfn.JsonPath.objectAt('$.install'),
      poll: sfn.JsonPath.objectAt('$.poll'),
      executionArn,
      executionStartTime,
    },
    '$.poll',
  );

  const initPoll = new sfn.Pass(scope, STATES.initPoll, {
    result: sfn.Result.fromObject({ ...INITIAL_POLL }),
    resultPath: '$.poll',
  });
  // The event path: a wait on a task token, completed with status-check's result by await-command (the
  // command already ended) or command-events (its status-change event). No event before the timeout (late or
  // lost): one status-check, then a new wait with a fresh token while the command runs. The loop is bounded by
  // the workflow timeout.
  const awaitCommand = new tasks.LambdaInvoke(scope, STATES.awaitCommand, {
    lambdaFunction: parts.awaitCommand,
    integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
    payload: sfn.TaskInput.fromObject({
      input: executionInput,
      install: sfn.JsonPath.objectAt('$.install'),
      poll: sfn.JsonPath.objectAt('$.poll'),
      executionArn,
      taskToken: sfn.JsonPath.taskToken,
    }),
    resultPath: '$.poll',
    taskTimeout: sfn.Timeout.duration(Duration.seconds(COMMAND_WAIT_TIMEOUT_SECONDS)),
  });
  awaitCommand.addRetry(TASK_RETRY);
  awaitCommand.addCatch(checkInstall, {
    errors: ['States.Timeout', 'States.HeartbeatTimeout'],
    resultPath: sfn.JsonPath.DISCARD,
  });
  awaitCommand.addCatch(notifyFailure, { errors: ['States.ALL'], resultPath: '$.error' });
  // A Choice cannot Catch, so failures found by polling get their $.error here before the alert. The cause
  // is status-check's plain-text report (the summary, then one line per failed node), read as is in the alert.
  const recordInstallFailure = new sfn.Pass(scope, STATES.recordInstallFailure, {
    parameters: { Error: INSTALL_FAILED_ERROR, 'Cause.$': '$.poll.report' },
    resultPath: '$.error',
  }).next(notifyFailure);
  // A poll result without a status or a report (not status-check's output) is alerted with what it was.
  const recordUnexpectedPoll = new sfn.Pass(scope, STATES.recordUnexpectedPoll, {
    parameters: { Error: INSTALL_FAILED_ERROR, 'Cause.$': 'States.JsonToString($.poll)' },
    resultPath: '$.error',
  }).next(notifyFailure);
  const recordUnexpectedOutcome = new sfn.Pass(scope, STATES.recordUnexpectedOutcome, {
    parameters: { Error: UNEXPECTED_OUTCOME_ERROR, 'Cause.$': 'States.JsonToString($.install)' },
    resultPath: '$.error',
  }).next(notifyFailure);

  // Guards first: a comparison on a missing path would be a States.Runtime error no Catch sees. Written as
  // Not(IsPresent true), which means the same as IsPresent false but also runs on aws-local-stepfunctions
  // 3.0.0 (its IsPresent false never matches).
  const absent = (path: string) => sfn.Condition.not(sfn.Condition.isPresent(path));
  const pollResult = new sfn.Choice(scope, STATES.pollResult)
    .when(absent('$.poll.status'), recordUnexpectedPoll)
    .when(sfn.Condition.stringEquals('$.poll.status', 'InProgress'), awaitCommand)
    .when(sfn.Condition.stringEquals('$.poll.status', 'Succeeded'), new sfn.Succeed(scope, STATES.succeeded))
    .when(sfn.Condition.isPresent('$.poll.report'), recordInstallFailure)
    .otherwise(recordUnexpectedPoll);

  const afterInstall = new sfn.Choice(scope, STATES.afterInstall)
    .when(absent('$.install.outcome'), recordUnexpectedOutcome)
    .when(sfn.Condition.stringEquals('$.install.outcome', 'Superseded'), new sfn.Succeed(scope, STATES.superseded))
    .when(sfn.Condition.stringEquals('$.install.outcome', 'Sent'), initPoll.next(awaitCommand).next(pollResult))
    .otherwise(recordUnexpectedOutcome);

  const recordUnexpectedNodes = new sfn.Pass(scope, STATES.recordUnexpectedNodes, {
    parameters: { Error: UNEXPECTED_OUTCOME_ERROR, 'Cause.$': 'States.JsonToString($.nodes)' },
    resultPath: '$.error',
  }).next(notifyFailure);
  const afterFindNodes = new sfn.Choice(scope, STATES.afterFindNodes)
    .when(absent('$.nodes.outcome'), recordUnexpectedNodes)
    .when(sfn.Condition.stringEquals('$.nodes.outcome', 'DryRun'), new sfn.Succeed(scope, STATES.dryRunDone))
    .when(
      sfn.Condition.stringEquals('$.nodes.outcome', 'Export'),
      exportCertificate.next(installOnNodes).next(afterInstall),
    )
    .otherwise(recordUnexpectedNodes);

  checkInstall.next(pollResult);
  return findNodes.next(afterFindNodes);
}
