import { asArray, buildStack, functionRoles, identityStatements, logicalId } from '../fixture';

const { stack, template } = buildStack();

describe('IAM', () => {
  test('no AWS managed policies on any function role (each writes only to its own log group)', () => {
    const roles = functionRoles(template);
    // Every function of the stack, found in the template, so a new function cannot be missed.
    expect(roles).toHaveLength(Object.keys(template.findResources('AWS::Lambda::Function')).length);
    expect(new Set(roles).size).toBe(roles.length); // one role per function
    for (const fn of [stack.renewalTrigger.function, stack.workflow.statusCheckFunction, stack.driftCheck.function]) {
      expect(roles).toContain(logicalId(fn.executionRole));
    }
    for (const id of roles) {
      const role = template.toJSON().Resources[id];
      expect([id, role.Type, role.Properties.ManagedPolicyArns]).toEqual([id, 'AWS::IAM::Role', undefined]);
      const logs = identityStatements(template).filter(
        ({ policy, statement }) =>
          (template.toJSON().Resources[policy].Properties.Roles as { Ref: string }[] | undefined)?.some(
            (r) => r.Ref === id,
          ) && asArray(statement.Action).includes('logs:PutLogEvents'),
      );
      expect(logs).toHaveLength(1);
      expect(JSON.stringify(logs[0].statement.Resource)).not.toContain('*');
    }
  });
});

describe('Lambda functions', () => {
  test('ten functions: Node.js 24, arm64, X-Ray, JSON logs into an explicit log group', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    expect(Object.keys(functions)).toHaveLength(10);
    for (const fn of Object.values(functions)) {
      expect(fn.Properties.Runtime).toBe('nodejs24.x');
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
      expect(fn.Properties.LoggingConfig).toMatchObject({ LogFormat: 'JSON', LogGroup: { Ref: expect.any(String) } });
      expect(fn.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME).toEqual(expect.any(String));
    }
  });
});
