import { Match } from 'aws-cdk-lib/assertions';
import { exportRequestStructure, structuralErrorMessage } from '../../../lambda/export-api/api-model';
import { ENV } from '../../../lambda/shared/contract';
import { RETIRED_FIELDS } from '../../../lambda/shared/patterns';
import { exportRequestSchema } from '../../../lambda/shared/schemas';
import { ACCOUNT, REGION, asArray, buildStack, flat, identityStatements, logicalId, statementsOf } from '../fixture';

const { stack, template } = buildStack();

/** JSON type zod accepts for a field, found by probing the schema (independent of api-model's introspection). */
function zodJsonType(name: string): string {
  const field = exportRequestSchema().shape[name as keyof ReturnType<typeof exportRequestSchema>['shape']];
  const accepts = (value: unknown) => {
    const issues = field.safeParse(value).error?.issues ?? [];
    return !issues.some((issue) => issue.code === 'invalid_type' || issue.code === 'invalid_value');
  };
  if (accepts(true)) return 'boolean';
  if (accepts(1)) return field.safeParse(1.5).error?.issues.length ? 'integer' : 'number';
  return 'string';
}

function model() {
  const models = Object.values(template.findResources('AWS::ApiGateway::Model'));
  expect(models).toHaveLength(1);
  return stack.resolve(models[0].Properties.Schema) as {
    type: string;
    additionalProperties: boolean;
    required: string[];
    properties: Record<string, Record<string, unknown>>;
  };
}

describe('POST /exports', () => {
  test('is a Lambda proxy integration to the export-api function, with IAM auth, the validator and the model', () => {
    const post = Object.values(
      template.findResources('AWS::ApiGateway::Method', { Properties: { HttpMethod: 'POST' } }),
    );
    expect(post).toHaveLength(1);
    const method = post[0].Properties;
    expect(method.AuthorizationType).toBe('AWS_IAM');
    expect(method.RequestValidatorId).toEqual({ Ref: expect.any(String) });
    expect(method.RequestModels).toEqual({ 'application/json': { Ref: expect.any(String) } });
    expect(method.Integration.Type).toBe('AWS_PROXY');
    expect(method.Integration.Credentials).toBeUndefined();
    expect(JSON.stringify(method.Integration.Uri)).toContain(logicalId(stack.exportApi.function));
  });

  test('no StartExecution integration role: the only role API Gateway assumes is the CloudWatch logging one', () => {
    const apigwRoles = Object.values(template.findResources('AWS::IAM::Role')).filter((role) =>
      JSON.stringify(role.Properties.AssumeRolePolicyDocument).includes('apigateway.amazonaws.com'),
    );
    expect(apigwRoles).toHaveLength(1);
    expect(JSON.stringify(apigwRoles[0].Properties.ManagedPolicyArns)).toContain(
      'AmazonAPIGatewayPushToCloudWatchLogs',
    );
    const integrations = Object.values(template.findResources('AWS::ApiGateway::Method')).map(
      (m) => m.Properties.Integration,
    );
    for (const integration of integrations) expect(JSON.stringify(integration.Uri)).not.toContain(':states:action/');
  });

  test('the export-api function may start executions of this state machine (and nothing else may, besides acm-renew)', () => {
    const statements = identityStatements(template);
    const start = statements.filter(({ statement }) => asArray(statement.Action).includes('states:StartExecution'));
    expect(start.map(({ statement }) => statement.Resource)).toEqual([
      { Ref: logicalId(stack.workflow.stateMachine) },
      { Ref: logicalId(stack.workflow.stateMachine) },
    ]);
    const roles = start.map(({ policy }) => JSON.stringify(template.toJSON().Resources[policy].Properties.Roles));
    const roleOf = (fn: typeof stack.exportApi.function) => logicalId(fn.role!);
    expect(roles.some((r) => r.includes(roleOf(stack.exportApi.function)))).toBe(true);
    expect(roles.some((r) => r.includes(roleOf(stack.renewalTrigger.function)))).toBe(true);
  });
});

describe('request model', () => {
  test('structural: object, the four required fields, no other fields', () => {
    const schema = model();
    expect(schema.type).toBe('object');
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(['CertificateArn', 'CertName', 'TargetTagKey', 'TargetTagValue']);
  });

  test("its properties are exactly the zod schema's keys, with the JSON types zod accepts", () => {
    const { properties } = model();
    const zodKeys = Object.keys(exportRequestSchema().shape);
    // Retired fields pass the model so that the function can answer with what replaced them.
    expect(Object.keys(properties).sort()).toEqual([...zodKeys, ...Object.keys(RETIRED_FIELDS)].sort());
    for (const name of zodKeys) expect([name, properties[name].type]).toEqual([name, zodJsonType(name)]);
  });

  test("no value rules in the model (patterns, lengths, enums are zod's, which names the field)", () => {
    for (const [name, property] of Object.entries(model().properties))
      expect([name, Object.keys(property)]).toEqual([name, ['type']]);
  });

  test('built from the shared structure that local mode checks with', () => {
    const structure = exportRequestStructure();
    const schema = model();
    expect(schema.required).toEqual(structure.required);
    expect(schema.properties).toEqual(structure.properties);
  });
});

test('BAD_REQUEST_BODY: one fixed JSON message naming the required fields, the optional ones and the no-other-fields rule', () => {
  const responses = Object.values(
    template.findResources('AWS::ApiGateway::GatewayResponse', { Properties: { ResponseType: 'BAD_REQUEST_BODY' } }),
  );
  expect(responses).toHaveLength(1);
  expect(responses[0].Properties.StatusCode).toBe('400');
  const body = JSON.parse(responses[0].Properties.ResponseTemplates['application/json']) as { message: string };
  expect(body).toEqual({ message: structuralErrorMessage() });
  expect(body.message).toMatch(
    /^request body must be a JSON object with the required string fields CertificateArn, CertName, TargetTagKey, TargetTagValue/,
  );
  expect(body.message).toMatch(/unknown fields and wrong types are rejected/);
  expect(body.message).not.toContain('$context');
});

describe('API', () => {
  test('every method requires AWS_IAM and a request validator', () => {
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method'));
    expect(methods).toHaveLength(5);
    for (const method of methods) {
      expect(method.Properties.AuthorizationType).toBe('AWS_IAM');
      expect(method.Properties.RequestValidatorId).toEqual({ Ref: expect.any(String) });
    }
  });

  test('the validator checks body and parameters', () => {
    template.resourceCountIs('AWS::ApiGateway::RequestValidator', 1);
    template.hasResourceProperties('AWS::ApiGateway::RequestValidator', {
      ValidateRequestBody: true,
      ValidateRequestParameters: true,
    });
  });

  test('stage: throttling, JSON access logs, execution logs without data trace, X-Ray', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'v1',
      TracingEnabled: true,
      AccessLogSetting: {
        DestinationArn: Match.anyValue(),
        Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId"'),
      },
      MethodSettings: [
        Match.objectLike({
          HttpMethod: '*',
          ResourcePath: '/*',
          ThrottlingRateLimit: 10,
          ThrottlingBurstLimit: 20,
          LoggingLevel: 'INFO',
          DataTraceEnabled: false,
        }),
      ],
    });
    const format = Object.values(template.findResources('AWS::ApiGateway::Stage'))[0].Properties.AccessLogSetting
      .Format;
    expect(() => JSON.parse(format)).not.toThrow();
  });

  test('GET routes: required path parameter, optional query strings, Lambda proxy', () => {
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'GET',
      RequestParameters: { 'method.request.path.exportId': true },
      Integration: { Type: 'AWS_PROXY' },
    });
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'GET',
      RequestParameters: {
        'method.request.querystring.expiringWithinDays': false,
        'method.request.querystring.limit': false,
        'method.request.querystring.nextToken': false,
      },
      Integration: { Type: 'AWS_PROXY' },
    });
  });

  test('gateway responses are JSON {"message": ...}', () => {
    const expected: Record<string, string> = {
      BAD_REQUEST_BODY: '400',
      BAD_REQUEST_PARAMETERS: '400',
      ACCESS_DENIED: '403',
      MISSING_AUTHENTICATION_TOKEN: '403',
    };
    for (const [type, status] of Object.entries(expected)) {
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        StatusCode: status,
        ResponseTemplates: { 'application/json': Match.stringLikeRegexp('^\\{"message": ') },
      });
    }
    const bodyError = Object.values(
      template.findResources('AWS::ApiGateway::GatewayResponse', { Properties: { ResponseType: 'BAD_REQUEST_BODY' } }),
    )[0].Properties.ResponseTemplates['application/json'];
    expect(() => JSON.parse(bodyError)).not.toThrow();
  });
});

describe('fleet convergence', () => {
  test('export-api may delete associations (not create) and delete inventory items', () => {
    const statements = statementsOf(template, stack.exportApi.function);
    const del = statements.filter((s) => asArray(s.Action).includes('ssm:DeleteAssociation'));
    expect(del).toHaveLength(1);
    expect(asArray(del[0].Action)).toEqual(['ssm:DeleteAssociation']);
    expect(asArray(del[0].Resource).map(flat)).not.toContain('*');
    expect(
      statements.some((s) =>
        asArray(s.Action).some((a) => a === 'ssm:CreateAssociation' || a === 'ssm:UpdateAssociation'),
      ),
    ).toBe(false);
    expect(statements.some((s) => asArray(s.Action).includes('dynamodb:DeleteItem'))).toBe(true);
    const star = statements.filter((s) => s.Resource === '*').flatMap((s) => asArray(s.Action));
    expect(star.filter((a) => a.startsWith('ssm:')).sort()).toEqual([
      'ssm:GetInventory',
      'ssm:ListAssociations',
      'ssm:ListCommandInvocations',
      'ssm:ListCommands',
    ]);
    // GET .../removal marks a failed removal on the item (UpdateItem) and deletes it once the files are gone.
    expect(statements.some((s) => asArray(s.Action).includes('dynamodb:UpdateItem'))).toBe(true);
  });

  test("export-api sends the remove run (removeFiles=true): SendCommand of this stack's document, the delivery settings in its environment, no logs permission", () => {
    const statements = statementsOf(template, stack.exportApi.function);
    const send = statements.filter((s) => asArray(s.Action).includes('ssm:SendCommand'));
    expect(send).toHaveLength(1);
    expect(asArray(send[0].Action)).toEqual(['ssm:SendCommand']);
    const resources = asArray(send[0].Resource).map(flat);
    expect(resources).toEqual(
      expect.arrayContaining([
        expect.stringContaining(`arn:aws:ssm:${REGION}:${ACCOUNT}:document/`),
        `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/*`,
        `arn:aws:ssm:${REGION}:${ACCOUNT}:managed-instance/*`,
      ]),
    );
    expect(resources).toHaveLength(3);
    // The nodes write the run's output to the log group; the sender needs nothing from CloudWatch Logs
    // (its own log group is written by the Lambda service through the function's log configuration).
    const logs = statements.flatMap((s) => asArray(s.Action)).filter((a) => a.startsWith('logs:'));
    expect(logs.every((a) => a === 'logs:CreateLogStream' || a === 'logs:PutLogEvents')).toBe(true);
    const fn = template.findResources('AWS::Lambda::Function')[logicalId(stack.exportApi.function)];
    const ssmRun = template.findResources('AWS::Lambda::Function')[logicalId(stack.workflow.ssmRunFunction)];
    for (const name of [ENV.COMMAND_LOG_GROUP, ENV.COMMAND_TIMEOUT_SECONDS]) {
      expect(fn.Properties.Environment.Variables[name]).toEqual(ssmRun.Properties.Environment.Variables[name]);
    }
    // The remove document, and no other: the export-api sends nothing else.
    expect(fn.Properties.Environment.Variables[ENV.REMOVE_DOCUMENT_NAME]).toEqual({
      Ref: logicalId(stack.installDocument.documents.remove.document),
    });
    expect(fn.Properties.Environment.Variables).not.toHaveProperty(ENV.DOCUMENT_NAME);
    expect(JSON.stringify(send[0].Resource)).toContain(logicalId(stack.installDocument.documents.remove.document));
    expect(JSON.stringify(send[0].Resource)).not.toContain(`"${logicalId(stack.installDocument.document)}"`);
  });

  test('DELETE /certificates/{certificateArn}/targets/{target}: IAM auth, validator, both path parameters required, proxied', () => {
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method')).filter(
      (m) => m.Properties.HttpMethod === 'DELETE',
    );
    expect(methods).toHaveLength(1);
    expect(methods[0].Properties).toMatchObject({
      AuthorizationType: 'AWS_IAM',
      RequestValidatorId: { Ref: expect.any(String) },
      RequestParameters: {
        'method.request.path.certificateArn': true,
        'method.request.path.target': true,
        'method.request.querystring.removeFiles': false,
      },
      Integration: { Type: 'AWS_PROXY' },
    });
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: '{target}' });
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: '{certificateArn}' });
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'GET',
      RequestParameters: Match.objectLike({ 'method.request.querystring.nodes': false }),
    });
  });

  test('GET /certificates/{certificateArn}/targets/{target}/removal: under the target resource, IAM auth, validator, both path parameters, proxied', () => {
    const resources = template.findResources('AWS::ApiGateway::Resource');
    const removal = Object.entries(resources).find(([, r]) => r.Properties.PathPart === 'removal');
    expect(removal).toBeDefined();
    const parent = resources[(removal![1].Properties.ParentId as { Ref: string }).Ref];
    expect(parent.Properties.PathPart).toBe('{target}');
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method')).filter(
      (m) => (m.Properties.ResourceId as { Ref?: string }).Ref === removal![0],
    );
    expect(methods).toHaveLength(1);
    expect(methods[0].Properties).toMatchObject({
      HttpMethod: 'GET',
      AuthorizationType: 'AWS_IAM',
      RequestValidatorId: { Ref: expect.any(String) },
      RequestParameters: { 'method.request.path.certificateArn': true, 'method.request.path.target': true },
      Integration: { Type: 'AWS_PROXY' },
    });
  });
});
