import { runSimulation, Simulation } from '@cloud-copilot/iam-simulate';
import { ASSOCIATION_STACK_TAG, ENV } from '../../../lambda/shared/contract';
import { ACCOUNT, PolicyStatementJson, REGION, asArray, buildStack, flat, logicalId, statementsOf } from '../fixture';

/**
 * Who may delete and tag State Manager associations, decided by an IAM policy simulator on the synthesized
 * policies of the export-api and ssm-run roles: the export-api deletes only associations tagged with its stack's
 * name, and only the workflow puts that tag on (that tag alone, that value alone).
 */

const { stack, template } = buildStack();
const STACK_NAME = stack.stackName;
const ASSOCIATION_ARN = `arn:aws:ssm:${REGION}:${ACCOUNT}:association/2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f`;
const RESOURCE_TAG = `aws:ResourceTag/${ASSOCIATION_STACK_TAG}`;

/** A role's statements with resources flattened (unresolved references become placeholders that match no ARN). */
function policyOf(fn: { executionRole: unknown }) {
  const statements = statementsOf(template, fn).map((s: PolicyStatementJson) => ({
    ...s,
    Resource: asArray(s.Resource).map(flat),
  }));
  return { Version: '2012-10-17', Statement: statements };
}
const EXPORT_API = policyOf(stack.exportApi.function);
const SSM_RUN = policyOf(stack.workflow.ssmRunFunction);

type Decision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

async function decide(
  policy: ReturnType<typeof policyOf>,
  action: string,
  resource: string,
  context: Record<string, string | string[]> = {},
): Promise<Decision> {
  const simulation: Simulation = {
    request: {
      principal: `arn:aws:sts::${ACCOUNT}:assumed-role/FunctionRole/session`,
      action,
      resource: { resource, accountId: ACCOUNT },
      contextVariables: context,
    },
    identityPolicies: [{ name: 'FunctionPolicy', policy }],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
  };
  const response = await runSimulation(simulation, {});
  if (response.resultType !== 'single') throw new Error(`${action} on ${resource}: ${JSON.stringify(response)}`);
  const ignored = response.result.ignoredContextKeys ?? [];
  if (ignored.length > 0) throw new Error(`${action}: the simulator ignored context keys ${ignored.join(', ')}`);
  return response.overallResult;
}

describe('the export-api role deletes only associations tagged for its stack', () => {
  const deleteAssociation = (context: Record<string, string> = {}, resource = ASSOCIATION_ARN) =>
    decide(EXPORT_API, 'ssm:DeleteAssociation', resource, context);

  test('an association tagged with this stack name may be deleted', async () => {
    expect(await deleteAssociation({ [RESOURCE_TAG]: STACK_NAME })).toBe('Allowed');
  });

  test('an untagged association (anyone else in the account) is denied', async () => {
    expect(await deleteAssociation()).toBe('ImplicitlyDenied');
    expect(await deleteAssociation({ 'aws:ResourceTag/Name': STACK_NAME })).toBe('ImplicitlyDenied');
  });

  test.each([
    ['another stack', `${STACK_NAME}Staging`],
    ['a prefix of this stack name', STACK_NAME.slice(0, -1)],
    ['a wildcard-looking value', '*'],
  ])('an association tagged for %s is denied', async (_what, value) => {
    expect(await deleteAssociation({ [RESOURCE_TAG]: value })).toBe('ImplicitlyDenied');
  });

  test("an association of this stack's name in another region is denied", async () => {
    const elsewhere = ASSOCIATION_ARN.replace(`:${REGION}:`, ':us-east-1:');
    expect(await deleteAssociation({ [RESOURCE_TAG]: STACK_NAME }, elsewhere)).toBe('ImplicitlyDenied');
  });

  test('the export-api role cannot tag associations (it could otherwise claim any association)', async () => {
    const context = { [`aws:RequestTag/${ASSOCIATION_STACK_TAG}`]: STACK_NAME, 'aws:TagKeys': [ASSOCIATION_STACK_TAG] };
    expect(await decide(EXPORT_API, 'ssm:AddTagsToResource', ASSOCIATION_ARN, context)).toBe('ImplicitlyDenied');
  });
});

describe('the ssm-run role puts the stack tag on associations, and nothing else', () => {
  const tag = (value: string, keys: string[] = [ASSOCIATION_STACK_TAG]) =>
    decide(SSM_RUN, 'ssm:AddTagsToResource', ASSOCIATION_ARN, {
      [`aws:RequestTag/${ASSOCIATION_STACK_TAG}`]: value,
      'aws:TagKeys': keys,
    });

  test("the stack tag with this stack's name is allowed (create with Tags, and on update)", async () => {
    expect(await tag(STACK_NAME)).toBe('Allowed');
    const create = await decide(SSM_RUN, 'ssm:CreateAssociation', ASSOCIATION_ARN, {
      [`aws:RequestTag/${ASSOCIATION_STACK_TAG}`]: STACK_NAME,
      'aws:TagKeys': [ASSOCIATION_STACK_TAG],
    });
    expect(create).toBe('Allowed');
  });

  test("another stack's name, or any other tag key alongside, is denied", async () => {
    expect(await tag(`${STACK_NAME}Staging`)).toBe('ImplicitlyDenied');
    expect(await tag(STACK_NAME, [ASSOCIATION_STACK_TAG, 'Owner'])).toBe('ImplicitlyDenied');
  });

  test('tagging any other SSM resource is denied', async () => {
    const document = `arn:aws:ssm:${REGION}:${ACCOUNT}:document/SomeoneElsesDocument`;
    expect(
      await decide(SSM_RUN, 'ssm:AddTagsToResource', document, {
        [`aws:RequestTag/${ASSOCIATION_STACK_TAG}`]: STACK_NAME,
        'aws:TagKeys': [ASSOCIATION_STACK_TAG],
      }),
    ).toBe('ImplicitlyDenied');
  });

  test('ssm-run still may not delete associations', async () => {
    expect(await decide(SSM_RUN, 'ssm:DeleteAssociation', ASSOCIATION_ARN, { [RESOURCE_TAG]: STACK_NAME })).toBe(
      'ImplicitlyDenied',
    );
  });
});

test('the ssm-run function is told its stack name (the tag value the policies compare)', () => {
  const fn = template.findResources('AWS::Lambda::Function')[logicalId(stack.workflow.ssmRunFunction)];
  expect(fn.Properties.Environment.Variables[ENV.STACK_NAME]).toBe(STACK_NAME);
});
