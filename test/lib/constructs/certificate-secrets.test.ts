import { Match } from 'aws-cdk-lib/assertions';
import { ENV } from '../../../lambda/shared/contract';
import { OUTPUTS } from '../../../lib/acm-export-stack';
import { ACCOUNT, REGION, asArray, buildStack, identityStatements, logicalId } from '../fixture';

const { stack, template } = buildStack();

describe('secrets', () => {
  const secretArns = {
    'Fn::Join': [
      '',
      ['arn:', { Ref: 'AWS::Partition' }, `:secretsmanager:${REGION}:${ACCOUNT}:secret:acm-export/AcmExport/*`],
    ],
  };

  test("acm-export may create and write only this stack's secrets, encrypted with the secrets key", () => {
    const role = logicalId(stack.workflow.acmExportFunction.executionRole);
    const statements = identityStatements(template).filter(({ policy }) =>
      JSON.stringify(template.toJSON().Resources[policy].Properties.Roles ?? []).includes(role),
    );
    const byAction = (action: string) =>
      statements.filter(({ statement }) => asArray(statement.Action).includes(action));
    for (const action of [
      'secretsmanager:CreateSecret',
      'secretsmanager:PutSecretValue',
      'secretsmanager:TagResource',
    ]) {
      const found = byAction(action);
      expect(found).toHaveLength(1);
      expect(found[0].statement.Resource).toEqual(secretArns);
    }
    const kms = byAction('kms:GenerateDataKey');
    expect(kms).toHaveLength(1);
    expect(kms[0].statement.Resource).toEqual({ 'Fn::GetAtt': [logicalId(stack.secrets.key), 'Arn'] });
    expect(asArray(kms[0].statement.Action).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    // It writes secrets but never reads one back, and Secrets Manager (not the function) encrypts.
    const actions = statements.flatMap(({ statement }) => asArray(statement.Action));
    expect(actions).not.toContain('secretsmanager:GetSecretValue');
    expect(actions).not.toContain('kms:Encrypt');
  });

  test('functions get the prefix and the key through the environment', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          [ENV.SECRET_NAME_PREFIX]: 'acm-export/AcmExport',
          [ENV.SECRET_KMS_KEY_ID]: { 'Fn::GetAtt': [logicalId(stack.secrets.key), 'Arn'] },
        }),
      },
    });
  });

  test("the preflight canary: under the node policy's secret pattern, with the certificate secrets' key, no key material, in the outputs", () => {
    const canaries = template.findResources('AWS::SecretsManager::Secret');
    expect(Object.keys(canaries)).toEqual([logicalId(stack.secrets.canary)]);
    const props = Object.values(canaries)[0].Properties as { Name: string; KmsKeyId: unknown; SecretString: string };
    // Its ARN is <prefix>/preflight-canary-XXXXXX: matched by the policy's "acm-export/AcmExport/*".
    expect(props.Name).toBe('acm-export/AcmExport/preflight-canary');
    expect(props.KmsKeyId).toEqual({ 'Fn::GetAtt': [logicalId(stack.secrets.key), 'Arn'] });
    expect(props.SecretString).not.toMatch(/BEGIN|PRIVATE|passphrase/i);
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs[OUTPUTS.preflightSecretArn].Value).toEqual({ Ref: logicalId(stack.secrets.canary) });
    expect(outputs[OUTPUTS.commandLogGroupName].Value).toEqual({
      Ref: logicalId(stack.installDocument.commandLogGroup),
    });
  });
});
