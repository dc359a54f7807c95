import { Arn, ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ASSOCIATION_STACK_TAG, ENV, INVENTORY } from '../../lambda/shared/contract';
import { REASONS, acknowledge, acknowledgeWildcardResource } from '../nag';
import { StructuralSchema, exportRequestStructure, structuralErrorMessage } from '../../lambda/export-api/api-model';
import { ExportOptIn, exportOptInEnvironment, exportOptInSetting } from '../../lambda/shared/export-opt-in';
import {
  associationArns as associationArnsOf,
  certificateArns as certificateArnsOf,
  nodeArns as nodeArnsOf,
} from './arns';
import { DEFAULT_COMMAND_TIMEOUT_SECONDS } from './export-workflow';
import { SECRET_RECOVERY_WINDOW_DAYS } from '../../lambda/shared/target-secret';
import { CertificateSecrets } from './certificate-secrets';
import { InstallDocument } from './install-document';
import { Inventory } from './inventory';
import { NodeFunction } from './node-function';
import { DEFAULT_PLACEMENT, PlacementPolicy } from '../../lambda/shared/placement';

/** A state machine whose name is known: the status endpoint's permissions name its executions. */
export interface INamedStateMachine extends sfn.IStateMachine {
  readonly stateMachineName: string;
}

export interface ExportApiProps {
  /**
   * The export workflow: POST /exports starts its executions; GET /exports/{exportId} describes them and
   * reads their history (executions of this machine only).
   */
  readonly stateMachine: INamedStateMachine;
  /**
   * The certificate inventory: GET /certificates queries the ByExpiry index; DELETE
   * /certificates/{certificateArn}/targets/{target} reads the target's item, then deletes it.
   */
  readonly inventory: Inventory;
  /**
   * The install document: DELETE .../targets/{target} deletes the target's associations of it and, with
   * `removeFiles=true`, sends its remove run to the target's tag (output to its command log group).
   */
  readonly installDocument: InstallDocument;
  /** The certificate secrets: DELETE .../targets/{target} schedules the target's secret for deletion. */
  readonly secrets: CertificateSecrets;
  /** SendCommand delivery timeout of the remove run, seconds (pass the workflow's). @default DEFAULT_COMMAND_TIMEOUT_SECONDS (600) */
  readonly commandTimeoutSeconds?: number;
  /** @default RemovalPolicy.RETAIN (access log group and the function's log group) */
  readonly removalPolicy?: RemovalPolicy;
  /** Steady-state requests per second of the stage. @default 10 */
  readonly throttlingRateLimit?: number;
  /** @default 20 */
  readonly throttlingBurstLimit?: number;
  /** Placement policy POST /exports enforces (pass the install document's). @default DEFAULT_PLACEMENT */
  readonly placement?: PlacementPolicy;
  /** Which certificates POST /exports accepts. @default tagged acm-export:exportable=true */
  readonly exportOptIn?: ExportOptIn;
}

export const STAGE_NAME = 'v1';

/**
 * JSON schema of the POST /exports body: the STRUCTURAL model (an object, the four required fields, every
 * known field with its JSON type, no other fields) generated from the zod schema. Value rules (patterns,
 * lengths, the certificate's account and region) are checked by the export-api function, whose 400 names
 * the field and the rule; API Gateway's own validation message cannot, as it echoes the rejected value.
 */
export function exportRequestJsonSchema(structure: StructuralSchema = exportRequestStructure()): apigw.JsonSchema {
  const properties: Record<string, apigw.JsonSchema> = {};
  for (const [name, { type }] of Object.entries(structure.properties))
    properties[name] = { type: type as apigw.JsonSchemaType };
  return {
    schema: apigw.JsonSchemaVersion.DRAFT4,
    title: 'ExportRequest',
    type: apigw.JsonSchemaType.OBJECT,
    additionalProperties: false,
    required: [...structure.required],
    properties,
  };
}

/**
 * The export REST API: IAM (SigV4) on every method, request validation, stage throttling, JSON access
 * logs, execution logging without data tracing, and X-Ray.
 *
 * - POST /exports            → export-api function (proxy): body checked against the structural model
 *   here, then validated with zod (400 naming field and rule) and started with StartExecution
 * - GET  /exports/{exportId} → export-api function (proxy)
 * - GET  /certificates       → export-api function (proxy; `?nodes=true` adds per-node serials)
 * - DELETE /certificates/{certificateArn}/targets/{target} → export-api function (proxy): removes the
 *   target's install and report associations and inventory item (URL-encoded ARN and `<TagKey>=<TagValue>`);
 *   `?removeFiles=true` also sends the nodes the install document's remove run
 */
export class ExportApi extends Construct {
  public readonly api: apigw.RestApi;
  public readonly accessLogGroup: logs.LogGroup;
  /** The export-api function: serves every route (proxy integration). */
  public readonly function: NodeFunction;
  /**
   * `arn:<partition>:execute-api:<region>:<account>:<api id>/<stage>`: a caller's `execute-api:Invoke`
   * resources are this followed by `/<METHOD>/<path>`.
   */
  public readonly executeApiArn: string;

  constructor(scope: Construct, id: string, props: ExportApiProps) {
    super(scope, id);
    this.function = this.exportApiFunction(props);
    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: logs.RetentionDays.ONE_YEAR,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.api = new apigw.RestApi(this, 'Api', {
      description: 'acm-export: export ACM certificates to tagged nodes',
      endpointConfiguration: { types: [apigw.EndpointType.REGIONAL] },
      // The account-level role API Gateway needs to write execution logs.
      cloudWatchRole: true,
      defaultMethodOptions: { authorizationType: apigw.AuthorizationType.IAM },
      deployOptions: {
        stageName: STAGE_NAME,
        throttlingRateLimit: props.throttlingRateLimit ?? 10,
        throttlingBurstLimit: props.throttlingBurstLimit ?? 20,
        loggingLevel: apigw.MethodLoggingLevel.INFO,
        // Never log request/response bodies.
        dataTraceEnabled: false,
        metricsEnabled: true,
        tracingEnabled: true,
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogGroup),
        accessLogFormat: apigw.AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            extendedRequestId: '$context.extendedRequestId',
            requestTime: '$context.requestTime',
            httpMethod: '$context.httpMethod',
            resourcePath: '$context.resourcePath',
            status: '$context.status',
            responseLength: '$context.responseLength',
            responseLatency: '$context.responseLatency',
            integrationStatus: '$context.integrationStatus',
            integrationLatency: '$context.integrationLatency',
            caller: '$context.identity.caller',
            userArn: '$context.identity.userArn',
            sourceIp: '$context.identity.sourceIp',
            userAgent: '$context.identity.userAgent',
            errorType: '$context.error.responseType',
          }),
        ),
      },
    });

    this.executeApiArn = Stack.of(this).formatArn({
      service: 'execute-api',
      resource: this.api.restApiId,
      resourceName: STAGE_NAME,
    });

    // The stack exports the URL once, as ApiUrl; drop RestApi's own auto-named output.
    this.api.node.tryRemoveChild('Endpoint');

    const validator = this.api.addRequestValidator('Validator', {
      requestValidatorName: 'body-and-parameters',
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    const requestModel = this.api.addModel('ExportRequest', {
      contentType: 'application/json',
      description: 'POST /exports body',
      schema: exportRequestJsonSchema(),
    });

    // Gateway responses are plain substitutions (no VTL): $context.error.messageString is already a
    // quoted JSON string. validationErrorString is not used: it is unescaped (breaks the JSON) and echoes
    // the rejected value. A structural failure gets one fixed message listing the fields and their types;
    // value rules are the function's, which names the field.
    const jsonError = (statusCode: string, message: string) => ({
      statusCode,
      templates: { 'application/json': `{"message": ${message}}` },
    });
    this.api.addGatewayResponse('BadRequestBody', {
      type: apigw.ResponseType.BAD_REQUEST_BODY,
      ...jsonError('400', JSON.stringify(structuralErrorMessage())),
    });
    this.api.addGatewayResponse('BadRequestParameters', {
      type: apigw.ResponseType.BAD_REQUEST_PARAMETERS,
      ...jsonError('400', '$context.error.messageString'),
    });
    this.api.addGatewayResponse('AccessDenied', {
      type: apigw.ResponseType.ACCESS_DENIED,
      ...jsonError('403', '$context.error.messageString'),
    });
    this.api.addGatewayResponse('MissingAuthenticationToken', {
      type: apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN,
      ...jsonError('403', '$context.error.messageString'),
    });
    this.api.addGatewayResponse('Default4xx', {
      type: apigw.ResponseType.DEFAULT_4XX,
      templates: { 'application/json': '{"message": $context.error.messageString}' },
    });
    this.api.addGatewayResponse('Default5xx', {
      type: apigw.ResponseType.DEFAULT_5XX,
      templates: { 'application/json': '{"message": $context.error.messageString}' },
    });

    // The function validates the body and starts the execution named after the request id.
    props.stateMachine.grantStartExecution(this.function);
    const integration = new apigw.LambdaIntegration(this.function, { proxy: true });

    acknowledge(
      this.api,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      'The account-level role API Gateway uses for execution logs; this AWS managed policy is the documented way to grant it.',
    );
    acknowledge(
      this.api,
      'AwsSolutions-COG4',
      'Every method uses AWS_IAM (SigV4) authorization: callers are IAM principals (the CLI, automation), not Cognito users.',
    );
    acknowledge(
      this.api,
      'AwsSolutions-APIG3',
      'IAM-authorized, throttled admin API with a handful of callers; a WAF web ACL adds cost without blocking anything IAM does not.',
    );

    const exportsResource = this.api.root.addResource('exports');
    exportsResource.addMethod('POST', integration, {
      authorizationType: apigw.AuthorizationType.IAM,
      requestValidator: validator,
      requestModels: { 'application/json': requestModel },
    });

    exportsResource.addResource('{exportId}').addMethod('GET', integration, {
      authorizationType: apigw.AuthorizationType.IAM,
      requestValidator: validator,
      requestParameters: { 'method.request.path.exportId': true },
    });
    const certificates = this.api.root.addResource('certificates');
    certificates.addMethod('GET', integration, {
      authorizationType: apigw.AuthorizationType.IAM,
      requestValidator: validator,
      requestParameters: {
        'method.request.querystring.expiringWithinDays': false,
        'method.request.querystring.limit': false,
        'method.request.querystring.nextToken': false,
        'method.request.querystring.nodes': false,
      },
    });
    const target = certificates.addResource('{certificateArn}').addResource('targets').addResource('{target}');
    target.addMethod('DELETE', integration, {
      authorizationType: apigw.AuthorizationType.IAM,
      requestValidator: validator,
      requestParameters: {
        'method.request.path.certificateArn': true,
        'method.request.path.target': true,
        'method.request.querystring.removeFiles': false,
      },
    });
    // How a removeFiles=true removal stands; deletes the item once every node removed the files.
    target.addResource('removal').addMethod('GET', integration, {
      authorizationType: apigw.AuthorizationType.IAM,
      requestValidator: validator,
      requestParameters: {
        'method.request.path.certificateArn': true,
        'method.request.path.target': true,
      },
    });
  }

  /**
   * The export-api function with only the calls its routes make: Query ByExpiry, GetItem, UpdateItem and
   * DeleteItem on the inventory; ListCommands and ListCommandInvocations of the remove run; DeleteAssociation of
   * associations tagged with this stack's name; the remove run's SendCommand on this stack's document and the
   * tagged nodes; DescribeExecution and GetExecutionHistory on this machine's executions (StartExecution
   * is granted next to the POST route).
   */
  private exportApiFunction(props: ExportApiProps): NodeFunction {
    const stack = Stack.of(this);
    const associationArns = associationArnsOf(stack);
    const nodeArns = nodeArnsOf(stack);
    const fn = new NodeFunction(this, 'export-api', {
      handlerDir: 'export-api',
      description:
        'Serves GET /exports/{exportId}, GET /certificates, DELETE /certificates/{certificateArn}/targets/{target} and GET .../removal',
      // GET /certificates?nodes=true reads SSM Inventory for every row of the page.
      timeout: Duration.seconds(29),
      logRemovalPolicy: props.removalPolicy,
      environment: {
        [ENV.TABLE_NAME]: props.inventory.table.tableName,
        [ENV.STATE_MACHINE_ARN]: props.stateMachine.stateMachineArn,
        // DELETE .../targets/{target}?removeFiles=true sends the remove document.
        [ENV.REMOVE_DOCUMENT_NAME]: props.installDocument.documents.remove.name,
        [ENV.COMMAND_LOG_GROUP]: props.installDocument.commandLogGroup.logGroupName,
        [ENV.COMMAND_TIMEOUT_SECONDS]: String(props.commandTimeoutSeconds ?? DEFAULT_COMMAND_TIMEOUT_SECONDS),
        [ENV.PLACEMENT_POLICY]: JSON.stringify(props.placement ?? DEFAULT_PLACEMENT),
        ...exportOptInEnvironment(props.exportOptIn ?? exportOptInSetting({})),
        // DELETE .../targets/{target} finds the target's secret by name when no item names it.
        [ENV.SECRET_NAME_PREFIX]: props.secrets.namePrefix,
      },
    });
    // POST /exports reads the certificate's tags: only opted-in certificates are exported.
    const certificateArns = certificateArnsOf(stack);
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['acm:ListTagsForCertificate'], resources: [certificateArns] }),
    );
    acknowledgeWildcardResource(fn.executionRole, certificateArns, REASONS.certificateWildcard);
    // GET /certificates queries ByExpiry; DELETE .../targets/{target} reads the item, then deletes it (or,
    // removing the files, marks it Removing); GET .../removal marks it RemovalFailed or deletes it.
    props.inventory.grantQuery(fn, [INVENTORY.byExpiryIndex]);
    props.inventory.grantGetItem(fn);
    props.inventory.grantUpdate(fn);
    props.inventory.grantDelete(fn);
    // Association ids are random, so an association is matched by the tag the workflow puts on it: only this
    // stack's. Deleting by AssociationId (all this function does) is authorized on the association alone, as
    // AWS's own AmazonGuardDutyServiceRolePolicy shows (DeleteAssociation on tagged association/* only).
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'DeleteTargetAssociation',
        actions: ['ssm:DeleteAssociation'],
        resources: [associationArns],
        conditions: { StringEquals: { [`aws:ResourceTag/${ASSOCIATION_STACK_TAG}`]: stack.stackName } },
      }),
    );
    // removeFiles=true: the remove run is this stack's remove document, sent to the target's tag (the nodes'
    // instance roles write its output to the command log group; the sender needs no logs permission).
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'RemoveTargetFiles',
        actions: ['ssm:SendCommand'],
        resources: [props.installDocument.documents.remove.arn, ...nodeArns],
      }),
    );
    // DELETE .../targets/{target}: the target's secret is scheduled for deletion (DeleteSecret; DescribeSecret
    // when an earlier DELETE already did). Per-target secrets only: never the preflight canary.
    // The condition makes it a scheduled deletion only: a ForceDeleteWithoutRecovery request carries no
    // RecoveryWindowInDays, so it is denied.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ScheduleTargetSecretDeletion',
        actions: ['secretsmanager:DeleteSecret'],
        resources: [props.secrets.targetSecretArnPattern],
        conditions: {
          NumericGreaterThanEquals: { 'secretsmanager:RecoveryWindowInDays': SECRET_RECOVERY_WINDOW_DAYS },
        },
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadTargetSecretDeletion',
        actions: ['secretsmanager:DescribeSecret'],
        resources: [props.secrets.targetSecretArnPattern],
      }),
    );
    acknowledgeWildcardResource(
      fn.executionRole,
      props.secrets.targetSecretArnPattern,
      "Only the per-target secrets under this stack's name prefix (not the canary); their names are chosen per target at run time.",
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        // GetInventory (per-node reports), ListAssociations (find an association by name), ListCommands
        // and ListCommandInvocations (GET .../removal: the remove run's outcome) have no resource-level
        // permissions.
        actions: ['ssm:GetInventory', 'ssm:ListAssociations', 'ssm:ListCommands', 'ssm:ListCommandInvocations'],
        resources: ['*'],
      }),
    );
    acknowledgeWildcardResource(
      fn.executionRole,
      '*',
      'ssm:GetInventory, ssm:ListAssociations, ssm:ListCommands and ssm:ListCommandInvocations have no resource-level permissions (AWS requires "*"); xray:Put* likewise.',
    );
    acknowledgeWildcardResource(
      fn.executionRole,
      associationArns,
      "State Manager association ids are generated by SSM at run time; DeleteAssociation is allowed only on associations tagged with this stack's name.",
    );
    for (const arn of nodeArns) {
      acknowledgeWildcardResource(
        fn.executionRole,
        arn,
        "The remove run (SendCommand of this stack's document only) targets nodes by tag at run time (EC2 and hybrid nodes of this account and region).",
      );
    }
    // Only the two read calls the status endpoint makes, on this machine's executions (grantRead would add
    // List*/Describe* on "*").
    const executions = Arn.format(
      {
        service: 'states',
        resource: 'execution',
        resourceName: `${props.stateMachine.stateMachineName}:*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      },
      stack,
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['states:DescribeExecution', 'states:GetExecutionHistory'],
        resources: [executions],
      }),
    );
    acknowledgeWildcardResource(
      fn.executionRole,
      executions,
      "Executions of this stack's state machine only; the execution name is the export id chosen per request.",
    );
    return fn;
  }
}
