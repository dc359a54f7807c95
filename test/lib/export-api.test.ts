import { exportRequestStructure, structuralErrorMessage } from '../../lambda/export-api/api-model';
import { exportRequestSchema } from '../../lambda/shared/schemas';
import { asArray, buildStack, identityStatements, logicalId } from './fixture';

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
    const post = Object.values(template.findResources('AWS::ApiGateway::Method', { Properties: { HttpMethod: 'POST' } }));
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
    expect(JSON.stringify(apigwRoles[0].Properties.ManagedPolicyArns)).toContain('AmazonAPIGatewayPushToCloudWatchLogs');
    const integrations = Object.values(template.findResources('AWS::ApiGateway::Method')).map((m) => m.Properties.Integration);
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

  test('its properties are exactly the zod schema\'s keys, with the JSON types zod accepts', () => {
    const { properties } = model();
    const zodKeys = Object.keys(exportRequestSchema().shape);
    expect(Object.keys(properties).sort()).toEqual([...zodKeys].sort());
    for (const name of zodKeys) expect([name, properties[name].type]).toEqual([name, zodJsonType(name)]);
  });

  test('no value rules in the model (patterns, lengths, enums are zod\'s, which names the field)', () => {
    for (const [name, property] of Object.entries(model().properties)) expect([name, Object.keys(property)]).toEqual([name, ['type']]);
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
  expect(body.message).toMatch(/^request body must be a JSON object with the required string fields CertificateArn, CertName, TargetTagKey, TargetTagValue/);
  expect(body.message).toMatch(/unknown fields and wrong types are rejected/);
  expect(body.message).not.toContain('$context');
});
