import { OUTPUTS } from '../../lib/acm-export-stack';
import { ACCOUNT, PolicyStatementJson, REGION, asArray, buildStack, identityStatements, logicalId } from './fixture';

const { stack, template } = buildStack();

describe('KMS', () => {
  test('three customer managed keys (inventory, secrets, alerts), all with rotation', () => {
    const keys = template.findResources('AWS::KMS::Key');
    expect(Object.keys(keys)).toHaveLength(3);
    for (const key of Object.values(keys)) expect(key.Properties.EnableKeyRotation).toBe(true);
  });

  test('confused deputy: every service principal in a key, topic or queue policy is conditioned on its source', () => {
    const policies: { id: string; statements: PolicyStatementJson[] }[] = [];
    for (const [id, key] of Object.entries(template.findResources('AWS::KMS::Key')))
      policies.push({ id, statements: key.Properties.KeyPolicy.Statement });
    for (const type of ['AWS::SNS::TopicPolicy', 'AWS::SQS::QueuePolicy']) {
      for (const [id, policy] of Object.entries(template.findResources(type)))
        policies.push({ id, statements: policy.Properties.PolicyDocument.Statement });
    }
    const serviceStatements = policies.flatMap(({ id, statements }) =>
      statements
        .filter((st) => st.Effect === 'Allow' && JSON.stringify(st.Principal ?? {}).includes('"Service"'))
        .map((st) => ({ id, st })),
    );
    expect(serviceStatements.length).toBeGreaterThanOrEqual(3); // alert key, alert topic, renewal DLQ
    for (const { id, st } of serviceStatements) {
      const conditions = JSON.stringify(st.Condition ?? {});
      expect([id, /aws:SourceArn|aws:SourceAccount/.test(conditions)]).toEqual([id, true]);
    }
  });
});

describe('IAM', () => {
  test('"*" resources only for APIs without resource-level permissions (exact list)', () => {
    const wildcardActions = new Set<string>();
    for (const { statement } of identityStatements(template)) {
      // A Deny on "*" (the node policy's tag guard) narrows, it grants nothing.
      if (statement.Effect === 'Allow' && asArray(statement.Resource).includes('*'))
        asArray(statement.Action).forEach((a) => wildcardActions.add(a));
    }
    expect([...wildcardActions].sort()).toEqual(
      [
        // X-Ray (active tracing on the functions and the state machine)
        'xray:GetSamplingRules',
        'xray:GetSamplingTargets',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
        // Step Functions log delivery to CloudWatch Logs
        'logs:CreateLogDelivery',
        'logs:DeleteLogDelivery',
        'logs:DescribeLogGroups',
        'logs:DescribeResourcePolicies',
        'logs:GetLogDelivery',
        'logs:ListLogDeliveries',
        'logs:PutResourcePolicy',
        'logs:UpdateLogDelivery',
        // drift-check's orphaned-secret sweep (ListSecrets has no resource-level permissions)
        'secretsmanager:ListSecrets',
        // find-nodes, ssm-run and drift-check (the tagged nodes)
        'ssm:DescribeInstanceInformation',
        // ssm-run and export-api (find a target's association by name), export-api and drift-check (node reports)
        'ssm:ListAssociations',
        'ssm:GetInventory',
        'ssm:ListCommandInvocations',
        'ssm:ListCommands',
        // await-command and command-events complete the workflow's task token (no resource types: the token names the task)
        'states:SendTaskFailure',
        'states:SendTaskSuccess',
      ].sort(),
    );
  });

  test('no wildcard actions except the KMS ones the table grant adds', () => {
    const wildcardActions = new Set<string>();
    for (const { statement } of identityStatements(template)) {
      asArray(statement.Action)
        .filter((a) => a.includes('*'))
        .forEach((a) => wildcardActions.add(a));
    }
    expect([...wildcardActions].sort()).toEqual(['kms:GenerateDataKey*', 'kms:ReEncrypt*']);
  });

  test("SendCommand: ssm-run (install push) and export-api (remove run) only; this stack's document and nodes of this account and region only", () => {
    const send = identityStatements(template).filter(({ statement }) =>
      asArray(statement.Action).includes('ssm:SendCommand'),
    );
    expect(send).toHaveLength(2);
    const holders = send
      .map(({ policy }) =>
        (template.toJSON().Resources[policy].Properties.Roles as { Ref: string }[]).map((r) => r.Ref),
      )
      .flat()
      .sort();
    expect(holders).toEqual(
      [
        logicalId(stack.workflow.ssmRunFunction.executionRole),
        logicalId(stack.exportApi.function.executionRole),
      ].sort(),
    );
    for (const { statement } of send) {
      expect(asArray(statement.Action)).toEqual(['ssm:SendCommand']);
      expect(asArray(statement.Resource)).toHaveLength(3);
      const resources = JSON.stringify(statement.Resource);
      expect(resources).toContain(`:ec2:${REGION}:${ACCOUNT}:instance/*`);
      expect(resources).toContain(`:ssm:${REGION}:${ACCOUNT}:managed-instance/*`);
      expect(resources).toContain(`:ssm:${REGION}:${ACCOUNT}:document/`);
    }
    // Each function may send exactly the document it uses: ssm-run the install document, export-api the remove one.
    const documentsOf = (role: string) => {
      const found = send.find(({ policy }) =>
        (template.toJSON().Resources[policy].Properties.Roles as { Ref: string }[]).some((r) => r.Ref === role),
      );
      const text = JSON.stringify(found?.statement.Resource);
      return (['install', 'report', 'remove', 'preflight'] as const).filter((kind) =>
        text.includes(`"${logicalId(stack.installDocument.documents[kind].document)}"`),
      );
    };
    expect(documentsOf(logicalId(stack.workflow.ssmRunFunction.executionRole))).toEqual(['install']);
    expect(documentsOf(logicalId(stack.exportApi.function.executionRole))).toEqual(['remove']);
  });

  test('ACM permissions are limited to certificates of this account and region', () => {
    const acm = identityStatements(template).filter(({ statement }) =>
      asArray(statement.Action).some((a) => a.startsWith('acm:')),
    );
    // acm-export: DescribeCertificate, ExportCertificate (tag-conditioned); find-nodes: DescribeCertificate;
    // export-api and acm-renew: tags.
    expect(acm.length).toBe(5);
    const exporting = acm.filter(({ statement }) => asArray(statement.Action).includes('acm:ExportCertificate'));
    expect(exporting.map(({ statement }) => statement.Condition)).toEqual([
      { StringEquals: { 'aws:ResourceTag/acm-export:exportable': 'true' } },
    ]);
    for (const { statement } of acm) {
      expect(statement.Resource).toEqual({
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:acm:${REGION}:${ACCOUNT}:certificate/*`]],
      });
    }
  });
});

describe('Lambda functions', () => {
  test('log groups have a retention', () => {
    for (const group of Object.values(template.findResources('AWS::Logs::LogGroup'))) {
      expect(group.Properties.RetentionInDays).toBeGreaterThan(0);
    }
  });
});

describe('install document and outputs', () => {
  test('outputs', () => {
    expect(Object.keys(template.toJSON().Outputs).sort()).toEqual(Object.values(OUTPUTS).sort());
  });
});
