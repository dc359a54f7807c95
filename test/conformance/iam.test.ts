import { iamFindings, IamCheckOptions, PolicyStatement, unusedWildcardAllowances } from './iam-checks';
import { CloudFormationTemplate, copyOf, synthesizeTemplate } from './template';

const template = synthesizeTemplate();

/**
 * `"*"` resources on actions that DO support resource-level permissions, each with the reason it cannot be
 * narrowed. Actions that AWS documents as wildcard-only (no resource types) need no entry. Empty today:
 * every `"*"` in the template is on a wildcard-only action (X-Ray, log delivery, DescribeLogGroups,
 * the SSM List, Describe and GetInventory calls).
 */
const WILDCARD_RESOURCE_ALLOWANCES: IamCheckOptions['wildcardAllowances'] = [];
const options: IamCheckOptions = { wildcardAllowances: WILDCARD_RESOURCE_ALLOWANCES };

/** The node policy's statement that reads certificate secrets, in a copy of the template that a test may break. */
function nodeSecretStatement(copy: CloudFormationTemplate): PolicyStatement {
  const [policy] = Object.values(copy.Resources).filter((resource) => resource.Type === 'AWS::IAM::ManagedPolicy');
  const document = policy.Properties?.PolicyDocument as { Statement: PolicyStatement[] };
  const statement = document.Statement.find((candidate) => candidate.Sid === 'ReadCertificateSecrets');
  if (statement === undefined) throw new Error('the node policy has no ReadCertificateSecrets statement');
  return statement;
}

const nodePolicyId = Object.keys(template.Resources).find(
  (id) => template.Resources[id].Type === 'AWS::IAM::ManagedPolicy',
);
const canaryId = Object.keys(template.Resources).find((id) => id.startsWith('CertificateSecretsPreflightCanary'));
const secretsKeyArn = `arn:aws:kms:eu-west-1:123456789012:key/${Object.keys(template.Resources).find((id) => id.startsWith('CertificateSecretsKey'))}`;

describe('IAM policies against the Service Authorization Reference', () => {
  test('every action exists, every resource fits its actions, every condition key exists and applies, no unjustified "*"', async () => {
    expect(await iamFindings(template, options)).toEqual([]);
  });

  test('every "*" allowance is still needed', async () => {
    expect(await unusedWildcardAllowances(template, options)).toEqual([]);
  });

  test('a misspelled action is a finding', async () => {
    const broken = copyOf(template);
    nodeSecretStatement(broken).Action = 'secretsmanager:GetSecretValues';
    expect(await iamFindings(broken, options)).toEqual([
      `${nodePolicyId} ReadCertificateSecrets: unknown action secretsmanager:GetSecretValues`,
    ]);
  });

  test('a wildcard action that matches nothing is a finding; one that matches is expanded', async () => {
    const broken = copyOf(template);
    nodeSecretStatement(broken).Action = ['secretsmanager:GetSecretValu*', 'secretsmanager:FetchSecret*'];
    expect(await iamFindings(broken, options)).toEqual([
      `${nodePolicyId} ReadCertificateSecrets: action pattern secretsmanager:FetchSecret* matches no action`,
    ]);
  });

  test('a resource of another service than its action is a finding', async () => {
    const broken = copyOf(template);
    nodeSecretStatement(broken).Resource = { 'Fn::GetAtt': [secretsKeyArn.split('/')[1], 'Arn'] };
    expect(await iamFindings(broken, options)).toEqual([
      `${nodePolicyId} ReadCertificateSecrets: resource ${secretsKeyArn} is not a resource type of secretsmanager:GetSecretValue`,
      `${nodePolicyId} ReadCertificateSecrets: secretsmanager:GetSecretValue acts on none of its resources (it acts on arn:\${Partition}:secretsmanager:\${Region}:\${Account}:secret:\${SecretId})`,
    ]);
  });

  test('an unknown condition key, and a key of another service, are findings', async () => {
    const broken = copyOf(template);
    nodeSecretStatement(broken).Condition = {
      StringEquals: { 'secretsmanager:SecretTag': 'x', 'kms:ViaService': 'y', 'aws:PrincipalTag/target': 'z' },
    };
    expect(await iamFindings(broken, options)).toEqual([
      `${nodePolicyId} ReadCertificateSecrets: unknown condition key secretsmanager:SecretTag`,
      `${nodePolicyId} ReadCertificateSecrets: condition key kms:ViaService does not apply to secretsmanager:GetSecretValue`,
    ]);
  });

  test('an unknown condition operator is a finding', async () => {
    const broken = copyOf(template);
    nodeSecretStatement(broken).Condition = { StringEqual: { 'aws:PrincipalTag/target': 'x' } };
    expect(await iamFindings(broken, options)).toEqual([
      `${nodePolicyId} ReadCertificateSecrets: unknown condition operator StringEqual`,
    ]);
  });

  test('"*" on an action with resource-level permissions is a finding unless allowed with a reason', async () => {
    const broken = copyOf(template);
    nodeSecretStatement(broken).Resource = '*';
    expect(await iamFindings(broken, options)).toEqual([
      `${nodePolicyId} ReadCertificateSecrets: "*" resource on secretsmanager:GetSecretValue, which supports resource-level permissions`,
    ]);
    const allowing = {
      wildcardAllowances: [{ action: 'secretsmanager:GetSecretValue', reason: 'a broken copy for this test' }],
    };
    expect(await iamFindings(broken, allowing)).toEqual([]);
    expect(await unusedWildcardAllowances(template, allowing)).toEqual(['secretsmanager:GetSecretValue']);
  });

  test('a specific resource on a wildcard-only action is a finding', async () => {
    const broken = copyOf(template);
    nodeSecretStatement(broken).Action = 'ssm:ListCommands';
    expect(await iamFindings(broken, options)).toEqual([
      `${nodePolicyId} ReadCertificateSecrets: resource arn:aws:secretsmanager:eu-west-1:123456789012:secret:acm-export/AcmExport/*/\${aws:PrincipalTag/acm-export:target-hash}-?????? is not a resource type of ssm:ListCommands`,
      `${nodePolicyId} ReadCertificateSecrets: resource arn:aws:secretsmanager:eu-west-1:123456789012:secret:${canaryId}-AbCdEf is not a resource type of ssm:ListCommands`,
      `${nodePolicyId} ReadCertificateSecrets: ssm:ListCommands acts on none of its resources (it acts on "*" only)`,
    ]);
  });
});
