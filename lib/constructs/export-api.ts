import { Aws, RemovalPolicy } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { acknowledge } from '../nag';
import { FIELD_RULES, FieldRule, certificateArnRule } from '../../lambda/shared/patterns';

export interface ExportApiProps {
  readonly stateMachine: sfn.IStateMachine;
  /** Serves GET /exports/{exportId} and GET /certificates. */
  readonly readHandler: lambda.IFunction;
  /** @default RemovalPolicy.RETAIN (access log group) */
  readonly removalPolicy?: RemovalPolicy;
  /** Steady-state requests per second of the stage. @default 10 */
  readonly throttlingRateLimit?: number;
  /** @default 20 */
  readonly throttlingBurstLimit?: number;
}

export const STAGE_NAME = 'v1';

function stringField(rule: FieldRule): apigw.JsonSchema {
  return { type: apigw.JsonSchemaType.STRING, pattern: rule.pattern, maxLength: rule.maxLength };
}

/**
 * JSON schema of the POST /exports body, generated from the shared field rules (the same rules the zod
 * schemas and the SSM document use). The certificate must belong to this stack's partition, region and
 * account. API Gateway caps payloads itself (10 MB); here `additionalProperties: false` plus a maxLength
 * on every field bound an accepted body to a few kilobytes.
 */
export function exportRequestJsonSchema(): apigw.JsonSchema {
  return {
    schema: apigw.JsonSchemaVersion.DRAFT4,
    title: 'ExportRequest',
    type: apigw.JsonSchemaType.OBJECT,
    additionalProperties: false,
    required: ['CertificateArn', 'CertName', 'TargetTagKey', 'TargetTagValue'],
    properties: {
      CertificateArn: stringField(certificateArnRule({ partition: Aws.PARTITION, region: Aws.REGION, account: Aws.ACCOUNT_ID })),
      CertName: stringField(FIELD_RULES.CertName),
      // Tag keys starting with "aws:" (any case) are reserved by AWS.
      TargetTagKey: { ...stringField(FIELD_RULES.TargetTagKey), not: { pattern: '^[aA][wW][sS]:' } },
      TargetTagValue: stringField(FIELD_RULES.TargetTagValue),
      CertDir: stringField(FIELD_RULES.CertDir),
      KeyDir: stringField(FIELD_RULES.KeyDir),
      Service: { type: apigw.JsonSchemaType.STRING, enum: ['none', 'nginx', 'apache2', 'httpd'] },
      VerifyPort: { type: apigw.JsonSchemaType.INTEGER, minimum: 0, maximum: 65535 },
      MaxConcurrency: stringField(FIELD_RULES.MaxConcurrency),
      MaxErrors: stringField(FIELD_RULES.MaxErrors),
      DryRun: { type: apigw.JsonSchemaType.BOOLEAN },
      KeyOwner: stringField(FIELD_RULES.KeyOwner),
      KeyGroup: stringField(FIELD_RULES.KeyGroup),
      KeyMode: stringField(FIELD_RULES.KeyMode),
      CertOwner: stringField(FIELD_RULES.CertOwner),
      CertGroup: stringField(FIELD_RULES.CertGroup),
      CertMode: stringField(FIELD_RULES.CertMode),
      Pkcs12: { type: apigw.JsonSchemaType.BOOLEAN },
      CombinedPem: { type: apigw.JsonSchemaType.BOOLEAN },
      ConvergenceSchedule: stringField(FIELD_RULES.ConvergenceSchedule),
    },
  };
}

/**
 * Mapping template of POST /exports → states:StartExecution. The execution name is the API request id,
 * which is also the exportId returned to the caller.
 */
export function startExecutionRequestTemplate(stateMachineArn: string): string {
  return `{"stateMachineArn": "${stateMachineArn}", "name": "$context.requestId", "input": "$util.escapeJavaScript($input.json('$'))"}`;
}

/**
 * 200 body of POST /exports. StartExecution returns `startDate` as epoch seconds (a JSON number that VTL
 * would print in scientific notation), so startDate is the time API Gateway accepted the request instead,
 * as epoch milliseconds in a decimal string; the execution starts within that request.
 */
export const START_EXECUTION_RESPONSE_TEMPLATE = [
  '#set($body = $input.path(\'$\'))',
  '{"exportId": "$context.requestId", "executionArn": "$body.executionArn", "startDate": "$context.requestTimeEpoch"}',
].join('\n');

/** Error bodies of a failed StartExecution: `{"message": ...}` (the AWS error message is a JSON string). */
const START_EXECUTION_ERROR_TEMPLATE = '{"message": $input.json(\'$.message\')}';

/**
 * The export REST API: IAM (SigV4) on every method, request validation, stage throttling, JSON access
 * logs, execution logging without data tracing, and X-Ray.
 *
 * - POST /exports            → Step Functions StartExecution (direct integration, STANDARD machine)
 * - GET  /exports/{exportId} → export-api function (proxy)
 * - GET  /certificates       → export-api function (proxy; `?nodes=true` adds per-node serials)
 * - DELETE /certificates/{certificateArn}/targets/{target} → export-api function (proxy): removes the
 *   target's convergence association and inventory item (URL-encoded ARN and `<TagKey>=<TagValue>`)
 */
export class ExportApi extends Construct {
  public readonly api: apigw.RestApi;
  public readonly accessLogGroup: logs.LogGroup;
  public readonly startExecutionRole: iam.Role;

  constructor(scope: Construct, id: string, props: ExportApiProps) {
    super(scope, id);
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
    // the rejected value; the CLI validates with the same rules first and names the field.
    const jsonError = (statusCode: string, message: string) => ({
      statusCode,
      templates: { 'application/json': `{"message": ${message}}` },
    });
    this.api.addGatewayResponse('BadRequestBody', {
      type: apigw.ResponseType.BAD_REQUEST_BODY,
      ...jsonError('400', '"request body does not match the ExportRequest schema (see the API reference for the field rules)"'),
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

    this.startExecutionRole = new iam.Role(this, 'StartExecutionRole', {
      assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com'),
      description: 'Lets the export API start executions of the export workflow, nothing else',
    });
    props.stateMachine.grantStartExecution(this.startExecutionRole);

    const startExecution = new apigw.AwsIntegration({
      service: 'states',
      action: 'StartExecution',
      integrationHttpMethod: 'POST',
      options: {
        credentialsRole: this.startExecutionRole,
        // Only application/json (validated against the model) reaches Step Functions; others get 415.
        passthroughBehavior: apigw.PassthroughBehavior.NEVER,
        requestTemplates: { 'application/json': startExecutionRequestTemplate(props.stateMachine.stateMachineArn) },
        integrationResponses: [
          { statusCode: '200', responseTemplates: { 'application/json': START_EXECUTION_RESPONSE_TEMPLATE } },
          {
            // 4xx from StartExecution after validation means a limit or a conflict, not a caller mistake
            // the caller could fix by editing the body; still report it as a 400 with the AWS message.
            selectionPattern: '4\\d{2}',
            statusCode: '400',
            responseTemplates: { 'application/json': START_EXECUTION_ERROR_TEMPLATE },
          },
          {
            selectionPattern: '5\\d{2}',
            statusCode: '500',
            responseTemplates: { 'application/json': START_EXECUTION_ERROR_TEMPLATE },
          },
        ],
      },
    });

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
    exportsResource.addMethod('POST', startExecution, {
      authorizationType: apigw.AuthorizationType.IAM,
      requestValidator: validator,
      requestModels: { 'application/json': requestModel },
      methodResponses: [{ statusCode: '200' }, { statusCode: '400' }, { statusCode: '500' }],
    });

    const readIntegration = new apigw.LambdaIntegration(props.readHandler, { proxy: true });
    exportsResource.addResource('{exportId}').addMethod('GET', readIntegration, {
      authorizationType: apigw.AuthorizationType.IAM,
      requestValidator: validator,
      requestParameters: { 'method.request.path.exportId': true },
    });
    const certificates = this.api.root.addResource('certificates');
    certificates.addMethod('GET', readIntegration, {
      authorizationType: apigw.AuthorizationType.IAM,
      requestValidator: validator,
      requestParameters: {
        'method.request.querystring.expiringWithinDays': false,
        'method.request.querystring.limit': false,
        'method.request.querystring.nextToken': false,
        'method.request.querystring.nodes': false,
      },
    });
    certificates
      .addResource('{certificateArn}')
      .addResource('targets')
      .addResource('{target}')
      .addMethod('DELETE', readIntegration, {
        authorizationType: apigw.AuthorizationType.IAM,
        requestValidator: validator,
        requestParameters: {
          'method.request.path.certificateArn': true,
          'method.request.path.target': true,
          'method.request.querystring.removeFiles': false,
        },
      });
  }
}
