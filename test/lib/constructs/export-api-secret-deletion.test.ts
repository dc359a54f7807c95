import { runSimulation, Simulation } from '@cloud-copilot/iam-simulate';
import { secretName } from '../../../lambda/shared/target-secret';
import { ACCOUNT, PolicyStatementJson, REGION, buildStack, statementsOf } from '../fixture';

/**
 * DELETE .../targets/{target} schedules the target's secret for deletion: the export-api role, as AWS evaluates
 * it (its synthesized statements, pseudo parameters rendered), may do exactly that to this stack's per-target
 * secrets, with a recovery window, and to nothing else.
 */
const { stack, template } = buildStack();
const STACK_NAME = stack.stackName;
const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': REGION,
  'AWS::AccountId': ACCOUNT,
  'AWS::StackName': STACK_NAME,
  'AWS::URLSuffix': 'amazonaws.com',
};

/** Pseudo-parameter Refs and Fn::Join as strings; other intrinsics (this role's own resources) stay opaque. */
function render(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(render);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  if (entries.length === 1) {
    const [key, arg] = entries[0];
    if (key === 'Ref' && PSEUDO[String(arg)]) return PSEUDO[String(arg)];
    if (key === 'Fn::Join') {
      const [separator, parts] = arg as [string, unknown[]];
      return parts.map((part) => String(render(part))).join(separator);
    }
    if (key === 'Ref' || key.startsWith('Fn::')) return `arn:aws:unresolved:::${JSON.stringify(value)}`;
  }
  return Object.fromEntries(entries.map(([k, inner]) => [k, render(inner)]));
}

const POLICY = {
  Version: '2012-10-17',
  Statement: statementsOf(template, stack.exportApi.function).map((s) => render(s) as PolicyStatementJson),
};

const CERTIFICATE_ARN = `arn:aws:acm:${REGION}:${ACCOUNT}:certificate/0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d`;
const secretArn = (name: string) => `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-Ab12Cd`;
const TARGET_SECRET = secretArn(secretName(`acm-export/${STACK_NAME}`, CERTIFICATE_ARN, 'CertTarget=web'));
const CANARY = secretArn(`acm-export/${STACK_NAME}/preflight-canary`);
const OTHER_STACK_SECRET = secretArn(secretName('acm-export/OtherStack', CERTIFICATE_ARN, 'CertTarget=web'));

async function decide(action: string, resource: string, context: Record<string, string> = {}): Promise<string> {
  const simulation: Simulation = {
    request: {
      principal: `arn:aws:sts::${ACCOUNT}:assumed-role/ExportApiRole/export-api`,
      action,
      resource: { resource, accountId: ACCOUNT },
      contextVariables: context,
    },
    identityPolicies: [{ name: 'ExportApiPolicy', policy: POLICY }],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
  };
  const response = await runSimulation(simulation, {});
  if (response.resultType === 'error') throw new Error(`${action}: ${JSON.stringify(response.errors)}`);
  return response.overallResult;
}

const WINDOW = { 'secretsmanager:RecoveryWindowInDays': '7' };

test("the export-api role schedules a target's secret for deletion, with the recovery window", async () => {
  expect(await decide('secretsmanager:DeleteSecret', TARGET_SECRET, WINDOW)).toBe('Allowed');
  expect(await decide('secretsmanager:DescribeSecret', TARGET_SECRET)).toBe('Allowed');
});

test("it cannot delete without recovery, nor the canary, nor another stack's secrets, nor read a value", async () => {
  expect(
    await decide('secretsmanager:DeleteSecret', TARGET_SECRET, { 'secretsmanager:ForceDeleteWithoutRecovery': 'true' }),
  ).toBe('ImplicitlyDenied');
  expect(await decide('secretsmanager:DeleteSecret', CANARY, WINDOW)).toBe('ImplicitlyDenied');
  expect(await decide('secretsmanager:DeleteSecret', OTHER_STACK_SECRET, WINDOW)).toBe('ImplicitlyDenied');
  expect(await decide('secretsmanager:GetSecretValue', TARGET_SECRET)).toBe('ImplicitlyDenied');
  expect(await decide('secretsmanager:RestoreSecret', TARGET_SECRET)).toBe('ImplicitlyDenied');
});
