import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { RemovalPolicy } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { ENV, INVENTORY, WORKFLOW_TIMEOUT_SECONDS } from '../../lambda/shared/contract';
import { OUTPUTS } from '../../lib/acm-export-stack';
import { ACCOUNT, PolicyStatementJson, REGION, asArray, buildStack, identityStatements, logicalId } from './fixture';

const { stack, template } = buildStack();

describe('inventory', () => {
  test('table: keys, GSIs, on-demand, PITR, encrypted with the inventory CMK', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: INVENTORY.partitionKey, KeyType: 'HASH' },
        { AttributeName: INVENTORY.sortKey, KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: {
        SSEEnabled: true,
        SSEType: 'KMS',
        KMSMasterKeyId: { 'Fn::GetAtt': [logicalId(stack.inventory.key), 'Arn'] },
      },
      GlobalSecondaryIndexes: Match.arrayWith([
        Match.objectLike({
          IndexName: INVENTORY.byTargetIndex,
          KeySchema: [
            { AttributeName: INVENTORY.sortKey, KeyType: 'HASH' },
            { AttributeName: INVENTORY.partitionKey, KeyType: 'RANGE' },
          ],
        }),
        Match.objectLike({
          IndexName: INVENTORY.byExpiryIndex,
          KeySchema: [
            { AttributeName: INVENTORY.itemTypeAttribute, KeyType: 'HASH' },
            { AttributeName: INVENTORY.expiryAttribute, KeyType: 'RANGE' },
          ],
        }),
      ]),
    });
  });

  test('retained by default, destroyable on request', () => {
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    const destroyable = buildStack({ removalPolicy: RemovalPolicy.DESTROY });
    destroyable.template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
  });
});

describe('KMS', () => {
  test('three customer managed keys (inventory, secrets, alerts), all with rotation', () => {
    const keys = template.findResources('AWS::KMS::Key');
    expect(Object.keys(keys)).toHaveLength(3);
    for (const key of Object.values(keys)) expect(key.Properties.EnableKeyRotation).toBe(true);
  });

  test('the alert key lets EventBridge encrypt messages for the topic, only for rules of this account and region', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'events.amazonaws.com' },
            Action: Match.arrayWith(['kms:Decrypt', 'kms:GenerateDataKey*']),
            Condition: {
              StringEquals: { 'aws:SourceAccount': ACCOUNT },
              ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:events:${REGION}:${ACCOUNT}:rule/*`]] } },
            },
          }),
        ]),
      },
    });
  });

  test('confused deputy: every service principal in a key, topic or queue policy is conditioned on its source', () => {
    const policies: { id: string; statements: PolicyStatementJson[] }[] = [];
    for (const [id, key] of Object.entries(template.findResources('AWS::KMS::Key'))) policies.push({ id, statements: key.Properties.KeyPolicy.Statement });
    for (const type of ['AWS::SNS::TopicPolicy', 'AWS::SQS::QueuePolicy']) {
      for (const [id, policy] of Object.entries(template.findResources(type))) policies.push({ id, statements: policy.Properties.PolicyDocument.Statement });
    }
    const serviceStatements = policies.flatMap(({ id, statements }) =>
      statements.filter((st) => st.Effect === 'Allow' && JSON.stringify(st.Principal ?? {}).includes('"Service"')).map((st) => ({ id, st })),
    );
    expect(serviceStatements.length).toBeGreaterThanOrEqual(3); // alert key, alert topic, renewal DLQ
    for (const { id, st } of serviceStatements) {
      const conditions = JSON.stringify(st.Condition ?? {});
      expect([id, /aws:SourceArn|aws:SourceAccount/.test(conditions)]).toEqual([id, true]);
    }
  });

  test('alert topic: EventBridge may publish only for this account and exactly this stack\'s alert rules', () => {
    const policy = Object.values(template.findResources('AWS::SNS::TopicPolicy'))[0].Properties.PolicyDocument.Statement as PolicyStatementJson[];
    const events = policy.filter((st) => JSON.stringify(st.Principal ?? {}).includes('events.amazonaws.com'));
    expect(events).toHaveLength(1);
    expect(events[0].Action).toBe('sns:Publish');
    expect(events[0].Condition?.StringEquals).toEqual({ 'aws:SourceAccount': ACCOUNT });
    const topicArn = { Ref: logicalId(stack.notifications.topic) };
    const alertRules = Object.entries(template.findResources('AWS::Events::Rule'))
      .filter(([, rule]) => JSON.stringify(rule.Properties.Targets ?? []).includes(JSON.stringify(topicArn)))
      .map(([id]) => ({ 'Fn::GetAtt': [id, 'Arn'] }));
    expect(alertRules).toHaveLength(4); // two ACM alerts, FAILED, TIMED_OUT/ABORTED
    expect(asArray(events[0].Condition?.ArnEquals['aws:SourceArn'])).toEqual(expect.arrayContaining(alertRules));
    expect(asArray(events[0].Condition?.ArnEquals['aws:SourceArn'])).toHaveLength(4);
  });
});

describe('secrets', () => {
  const secretArns = {
    'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:secretsmanager:${REGION}:${ACCOUNT}:secret:acm-export/AcmExport/*`]],
  };

  test('acm-export may create and write only this stack\'s secrets, encrypted with the secrets key', () => {
    const role = logicalId(stack.workflow.acmExportFunction.executionRole);
    const statements = identityStatements(template).filter(({ policy }) =>
      JSON.stringify(template.toJSON().Resources[policy].Properties.Roles ?? []).includes(role),
    );
    const byAction = (action: string) => statements.filter(({ statement }) => asArray(statement.Action).includes(action));
    for (const action of ['secretsmanager:CreateSecret', 'secretsmanager:PutSecretValue', 'secretsmanager:TagResource']) {
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

  test('node policy: read this stack\'s secrets, decrypt only via Secrets Manager, write install output', () => {
    const policy = template.findResources('AWS::IAM::ManagedPolicy');
    expect(Object.keys(policy)).toHaveLength(1);
    const statements = Object.values(policy)[0].Properties.PolicyDocument.Statement;
    expect(statements).toEqual([
      { Sid: 'ReadCertificateSecrets', Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: secretArns },
      {
        Sid: 'DecryptCertificateSecrets',
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: { 'Fn::GetAtt': [logicalId(stack.secrets.key), 'Arn'] },
        Condition: {
          StringEquals: { 'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com` },
          StringLike: { 'kms:EncryptionContext:SecretARN': secretArns },
        },
      },
      {
        Sid: 'WriteInstallOutput',
        Effect: 'Allow',
        Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
        Resource: [
          {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                `:logs:${REGION}:${ACCOUNT}:log-group:`,
                { Ref: logicalId(stack.installDocument.commandLogGroup) },
              ],
            ],
          },
          { 'Fn::GetAtt': [logicalId(stack.installDocument.commandLogGroup), 'Arn'] },
        ],
      },
      { Sid: 'FindInstallOutputGroup', Effect: 'Allow', Action: 'logs:DescribeLogGroups', Resource: '*' },
    ]);
  });

  test('the preflight canary: under the node policy\'s secret pattern, with the certificate secrets\' key, no key material, in the outputs', () => {
    const canaries = template.findResources('AWS::SecretsManager::Secret');
    expect(Object.keys(canaries)).toEqual([logicalId(stack.secrets.canary)]);
    const props = Object.values(canaries)[0].Properties as { Name: string; KmsKeyId: unknown; SecretString: string };
    // Its ARN is <prefix>/preflight-canary-XXXXXX: matched by the policy's "acm-export/AcmExport/*".
    expect(props.Name).toBe('acm-export/AcmExport/preflight-canary');
    expect(props.KmsKeyId).toEqual({ 'Fn::GetAtt': [logicalId(stack.secrets.key), 'Arn'] });
    expect(props.SecretString).not.toMatch(/BEGIN|PRIVATE|passphrase/i);
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs[OUTPUTS.preflightSecretArn].Value).toEqual({ Ref: logicalId(stack.secrets.canary) });
    expect(outputs[OUTPUTS.commandLogGroupName].Value).toEqual({ Ref: logicalId(stack.installDocument.commandLogGroup) });
  });
});

describe('IAM', () => {
  test('"*" resources only for APIs without resource-level permissions (exact list)', () => {
    const wildcardActions = new Set<string>();
    for (const { statement } of identityStatements(template)) {
      if (asArray(statement.Resource).includes('*')) asArray(statement.Action).forEach((a) => wildcardActions.add(a));
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
        // ssm-run (dry run) and status-check
        'ssm:DescribeInstanceInformation',
        // ssm-run and export-api (find a target's association by name), export-api and drift-check (node reports)
        'ssm:ListAssociations',
        'ssm:GetInventory',
        'ssm:ListCommandInvocations',
        'ssm:ListCommands',
      ].sort(),
    );
  });

  test('no wildcard actions except the KMS ones the table grant adds', () => {
    const wildcardActions = new Set<string>();
    for (const { statement } of identityStatements(template)) {
      asArray(statement.Action).filter((a) => a.includes('*')).forEach((a) => wildcardActions.add(a));
    }
    expect([...wildcardActions].sort()).toEqual(['kms:GenerateDataKey*', 'kms:ReEncrypt*']);
  });

  /** Logical ids of every function's execution role, read from the template (not from a hand-kept list). */
  const functionRoles = (): string[] =>
    Object.values(template.findResources('AWS::Lambda::Function')).map((fn) => {
      const role = fn.Properties.Role as { 'Fn::GetAtt': [string, string] };
      return role['Fn::GetAtt'][0];
    });
  const actionsOfRole = (role: string): string[] =>
    identityStatements(template)
      .filter(({ policy }) => (template.toJSON().Resources[policy].Properties.Roles as { Ref: string }[] | undefined)?.some((r) => r.Ref === role))
      .flatMap(({ statement }) => asArray(statement.Action));
  const dynamoActionsOf = (fn: { executionRole: unknown }) =>
    [...new Set(actionsOfRole(logicalId(fn.executionRole as never)).filter((a) => a.startsWith('dynamodb:')))].sort();

  test('inventory: each function gets exactly the item actions its code calls; none may Scan or batch-write', () => {
    expect(functionRoles()).toHaveLength(6);
    for (const role of functionRoles()) {
      const actions = actionsOfRole(role);
      for (const forbidden of ['dynamodb:Scan', 'dynamodb:BatchWriteItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:GetRecords', 'dynamodb:*']) {
        expect([role, actions.includes(forbidden)]).toEqual([role, false]);
      }
    }
    expect(dynamoActionsOf(stack.workflow.acmExportFunction)).toEqual([]);
    expect(dynamoActionsOf(stack.workflow.ssmRunFunction)).toEqual(['dynamodb:GetItem', 'dynamodb:UpdateItem']);
    expect(dynamoActionsOf(stack.workflow.statusCheckFunction)).toEqual(['dynamodb:UpdateItem']);
    expect(dynamoActionsOf(stack.renewalTrigger.function)).toEqual(['dynamodb:Query']);
    expect(dynamoActionsOf(stack.exportApi.function)).toEqual(['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:Query']);
    expect(dynamoActionsOf(stack.driftCheck.function)).toEqual(['dynamodb:Query']);
  });

  test('inventory Query is scoped to the table or the one index each function uses', () => {
    const table = { 'Fn::GetAtt': [logicalId(stack.inventory.table), 'Arn'] };
    const byExpiry = { 'Fn::Join': ['', [table, `/index/${INVENTORY.byExpiryIndex}`]] };
    const queryResources = (fn: { executionRole: unknown }) => {
      const role = logicalId(fn.executionRole as never);
      return identityStatements(template)
        .filter(({ policy }) => (template.toJSON().Resources[policy].Properties.Roles as { Ref: string }[] | undefined)?.some((r) => r.Ref === role))
        .filter(({ statement }) => asArray(statement.Action).includes('dynamodb:Query'))
        .flatMap(({ statement }) => asArray(statement.Resource));
    };
    expect(queryResources(stack.renewalTrigger.function)).toEqual([table]);
    expect(queryResources(stack.exportApi.function)).toEqual([byExpiry]);
    expect(queryResources(stack.driftCheck.function)).toEqual([byExpiry]);
    // Readers may decrypt with the inventory key; only writers may also encrypt with it.
    const inventoryKey = JSON.stringify({ 'Fn::GetAtt': [logicalId(stack.inventory.key), 'Arn'] });
    const keyActions = (fn: { executionRole: unknown }) => {
      const role = logicalId(fn.executionRole as never);
      return identityStatements(template)
        .filter(({ policy }) => (template.toJSON().Resources[policy].Properties.Roles as { Ref: string }[] | undefined)?.some((r) => r.Ref === role))
        .filter(({ statement }) => JSON.stringify(statement.Resource) === inventoryKey)
        .flatMap(({ statement }) => asArray(statement.Action))
        .sort();
    };
    expect(keyActions(stack.renewalTrigger.function)).toEqual(['kms:Decrypt', 'kms:DescribeKey']);
    expect(keyActions(stack.driftCheck.function)).toEqual(['kms:Decrypt', 'kms:DescribeKey']);
    expect(keyActions(stack.workflow.statusCheckFunction)).toEqual(
      ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'].sort(),
    );
  });

  test('SendCommand: ssm-run (install push) and export-api (remove run) only; this stack\'s document and nodes of this account and region only', () => {
    const send = identityStatements(template).filter(({ statement }) => asArray(statement.Action).includes('ssm:SendCommand'));
    expect(send).toHaveLength(2);
    const holders = send.map(({ policy }) => (template.toJSON().Resources[policy].Properties.Roles as { Ref: string }[]).map((r) => r.Ref)).flat().sort();
    expect(holders).toEqual([logicalId(stack.workflow.ssmRunFunction.executionRole), logicalId(stack.exportApi.function.executionRole)].sort());
    for (const { statement } of send) {
      expect(asArray(statement.Action)).toEqual(['ssm:SendCommand']);
      expect(asArray(statement.Resource)).toHaveLength(3);
      const resources = JSON.stringify(statement.Resource);
      expect(resources).toContain(`:ec2:${REGION}:${ACCOUNT}:instance/*`);
      expect(resources).toContain(`:ssm:${REGION}:${ACCOUNT}:managed-instance/*`);
      expect(resources).toContain(`:ssm:${REGION}:${ACCOUNT}:document/`);
      expect(resources).toContain(logicalId(stack.installDocument.document));
    }
  });

  test('ACM permissions are limited to certificates of this account and region', () => {
    const acm = identityStatements(template).filter(({ statement }) => asArray(statement.Action).some((a) => a.startsWith('acm:')));
    expect(acm.length).toBe(2);
    for (const { statement } of acm) {
      expect(statement.Resource).toEqual({
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:acm:${REGION}:${ACCOUNT}:certificate/*`]],
      });
    }
  });

  test('no AWS managed policies on any function role (each writes only to its own log group)', () => {
    const roles = functionRoles();
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
          (template.toJSON().Resources[policy].Properties.Roles as { Ref: string }[] | undefined)?.some((r) => r.Ref === id) &&
          asArray(statement.Action).includes('logs:PutLogEvents'),
      );
      expect(logs).toHaveLength(1);
      expect(JSON.stringify(logs[0].statement.Resource)).not.toContain('*');
    }
  });
});

describe('Lambda functions', () => {
  test('six functions: Node.js 24, arm64, X-Ray, JSON logs into an explicit log group', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    expect(Object.keys(functions)).toHaveLength(6);
    for (const fn of Object.values(functions)) {
      expect(fn.Properties.Runtime).toBe('nodejs24.x');
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
      expect(fn.Properties.LoggingConfig).toMatchObject({ LogFormat: 'JSON', LogGroup: { Ref: expect.any(String) } });
      expect(fn.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME).toEqual(expect.any(String));
    }
  });

  test('log groups have a retention', () => {
    for (const group of Object.values(template.findResources('AWS::Logs::LogGroup'))) {
      expect(group.Properties.RetentionInDays).toBeGreaterThan(0);
    }
  });
});

describe('state machine', () => {
  test('STANDARD, timeout, tracing, logging ALL without execution data', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: false,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: Match.anyValue() } }],
      },
    });
    const definition = JSON.stringify(template.findResources('AWS::StepFunctions::StateMachine'));
    expect(definition).toContain(`\\"TimeoutSeconds\\":${WORKFLOW_TIMEOUT_SECONDS}`);
  });

  test('the workflow may publish alerts: sns:Publish on the topic and the topic key', () => {
    const statements = identityStatements(template).map(({ statement }) => statement);
    const publish = statements.filter((s) => asArray(s.Action).includes('sns:Publish'));
    expect(publish).toHaveLength(2); // the workflow's NotifyFailure and the drift check
    for (const s of publish) expect(s.Resource).toEqual({ Ref: logicalId(stack.notifications.topic) });
    const key = statements.filter((s) => JSON.stringify(s.Resource) === JSON.stringify({ 'Fn::GetAtt': [logicalId(stack.notifications.key), 'Arn'] }));
    expect(key.length).toBeGreaterThanOrEqual(2);
    for (const k of key) expect(asArray(k.Action).every((a) => ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:GenerateDataKey*'].includes(a))).toBe(true);
  });

  test('acm-renew and export-api may start executions; export-api may describe only executions of this machine', () => {
    const statements = identityStatements(template).map(({ statement }) => statement);
    const start = statements.filter((s) => asArray(s.Action).includes('states:StartExecution'));
    expect(start).toHaveLength(2); // acm-renew and export-api (POST /exports)
    for (const s of start) expect(s.Resource).toEqual({ Ref: logicalId(stack.workflow.stateMachine) });
    const describe = statements.filter((s) => asArray(s.Action).includes('states:DescribeExecution'));
    expect(describe).toHaveLength(1);
    expect(asArray(describe[0].Action).sort()).toEqual(['states:DescribeExecution', 'states:GetExecutionHistory']);
    expect(JSON.stringify(describe[0].Resource)).toContain(`:states:${REGION}:${ACCOUNT}:execution:`);
  });
});

describe('API', () => {
  test('every method requires AWS_IAM and a request validator', () => {
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method'));
    expect(methods).toHaveLength(4);
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
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId"') },
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
    const format = Object.values(template.findResources('AWS::ApiGateway::Stage'))[0].Properties.AccessLogSetting.Format;
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

describe('events', () => {
  test('renewal rule → acm-renew with retry policy and an encrypted, TLS-only DLQ', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.acm'], 'detail-type': ['ACM Certificate Available'], detail: { Action: ['RENEWAL'] } },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [logicalId(stack.renewalTrigger.function), 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalId(stack.renewalTrigger.deadLetterQueue), 'Arn'] } },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 21600 },
        }),
      ],
    });
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  test('acm-renew failures after delivery are not dropped: async retries, then the renewal DLQ', () => {
    const queueArn = { 'Fn::GetAtt': [logicalId(stack.renewalTrigger.deadLetterQueue), 'Arn'] };
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalId(stack.renewalTrigger.function) },
      Qualifier: '$LATEST',
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 21600,
      DestinationConfig: { OnFailure: { Destination: queueArn } },
    });
    const role = logicalId(stack.renewalTrigger.function.executionRole);
    const send = identityStatements(template).filter(
      ({ policy, statement }) =>
        asArray(statement.Action).includes('sqs:SendMessage') &&
        JSON.stringify(template.toJSON().Resources[policy].Properties.Roles ?? []).includes(role),
    );
    expect(send).toHaveLength(1);
    expect(send[0].statement.Resource).toEqual(queueArn);
  });

  test('ACM alerts go to the topic with a readable message', () => {
    for (const detailType of ['ACM Certificate Renewal Action Required', 'ACM Certificate Approaching Expiration']) {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: { source: ['aws.acm'], 'detail-type': [detailType] },
        Targets: [
          Match.objectLike({
            Arn: { Ref: logicalId(stack.notifications.topic) },
            InputTransformer: { InputPathsMap: Match.objectLike({ 'resources-0-': '$.resources[0]' }), InputTemplate: Match.anyValue() },
          }),
        ],
      });
    }
  });

  test('failed executions alert too (also those that never reached NotifyFailure), with their own message', () => {
    const rules = template.findResources('AWS::Events::Rule', {
      Properties: { EventPattern: { source: ['aws.states'], 'detail-type': ['Step Functions Execution Status Change'] } },
    });
    const byStatus = Object.values(rules).map((rule) => ({
      status: rule.Properties.EventPattern.detail.status as string[],
      machine: rule.Properties.EventPattern.detail.stateMachineArn,
      target: rule.Properties.Targets[0],
    }));
    expect(byStatus.map((r) => r.status).sort()).toEqual([['FAILED'], ['TIMED_OUT', 'ABORTED']]);
    for (const rule of byStatus) {
      expect(rule.machine).toEqual([{ Ref: logicalId(stack.workflow.stateMachine) }]);
      expect(rule.target.Arn).toEqual({ Ref: logicalId(stack.notifications.topic) });
      expect(rule.target.InputTransformer.InputPathsMap).toMatchObject({ 'detail-name': '$.detail.name', 'detail-executionArn': '$.detail.executionArn' });
    }
    const failed = byStatus.find((r) => r.status[0] === 'FAILED')!.target.InputTransformer.InputTemplate as string;
    expect(failed).toContain('execution <detail-name> failed');
    expect(failed).toMatch(/detailed alert with the failed nodes' lines may also have been sent by the workflow/);
  });

  test('alert topic: KMS, TLS only, e-mail subscription only when configured', () => {
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [logicalId(stack.notifications.key), 'Arn'] },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    const withEmail = buildStack({ alertEmail: 'ops@example.com' });
    withEmail.template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  });
});

describe('observability', () => {
  test('README says what ExportsFailed misses and which metrics count every unsuccessful execution', () => {
    const readme = readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    const notes = readme.slice(readme.indexOf('## Security'), readme.indexOf('## Costs'));
    expect(notes).toMatch(/`ExportsFailed` counts only the failures a function sees/);
    for (const metric of ['ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted']) expect(notes).toContain(`\`${metric}\``);
  });
});

describe('install document and outputs', () => {
  test('Command document, new versions on update, no fixed name', () => {
    template.resourceCountIs('AWS::SSM::Document', 1);
    const document = Object.values(template.findResources('AWS::SSM::Document'))[0];
    expect(document.Properties).toMatchObject({ DocumentType: 'Command', UpdateMethod: 'NewVersion' });
    expect(document.Properties.Name).toBeUndefined();
    expect(document.Properties.Content.schemaVersion).toBe('2.2');
  });

  test('ssm-run gets the document name, the output log group and a command timeout', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          [ENV.DOCUMENT_NAME]: { Ref: logicalId(stack.installDocument.document) },
          [ENV.COMMAND_LOG_GROUP]: { Ref: logicalId(stack.installDocument.commandLogGroup) },
          [ENV.COMMAND_TIMEOUT_SECONDS]: '600',
          [ENV.TABLE_NAME]: { Ref: logicalId(stack.inventory.table) },
        }),
      },
    });
  });

  test('outputs', () => {
    expect(Object.keys(template.toJSON().Outputs).sort()).toEqual(Object.values(OUTPUTS).sort());
  });
});

describe('fleet convergence', () => {
  const statementsOf = (fn: { executionRole: unknown }) => {
    const role = logicalId(fn.executionRole as never);
    return identityStatements(template)
      .filter(({ policy }) => {
        const roles = template.findResources('AWS::IAM::Policy')[policy]?.Properties.Roles as { Ref: string }[] | undefined;
        return roles?.some((r) => r.Ref === role);
      })
      .map(({ statement }) => statement);
  };
  const associationArn = `arn:aws:ssm:${REGION}:${ACCOUNT}:association/*`;
  /** A resource (string or Fn::Join) as one flat string, AWS::Partition read as "aws". */
  const flat = (value: unknown): string => {
    if (typeof value === 'string') return value;
    const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
    if (join) return join[1].map((part) => ((part as { Ref?: string }).Ref === 'AWS::Partition' ? 'aws' : typeof part === 'string' ? part : `<${JSON.stringify(part)}>`)).join(join[0]);
    return JSON.stringify(value);
  };

  test('ssm-run may create and update associations of this stack\'s document only; ListAssociations is the only "*"', () => {
    const statements = statementsOf(stack.workflow.ssmRunFunction);
    const assoc = statements.filter((s) => asArray(s.Action).some((a) => /Association$/.test(a) && a !== 'ssm:ListAssociations'));
    expect(assoc).toHaveLength(1);
    expect(asArray(assoc[0].Action).sort()).toEqual(['ssm:CreateAssociation', 'ssm:UpdateAssociation']);
    const resources = asArray(assoc[0].Resource).map(flat);
    expect(resources).toEqual(expect.arrayContaining([expect.stringContaining(`arn:aws:ssm:${REGION}:${ACCOUNT}:document/`), associationArn]));
    expect(resources).not.toContain('*');
    expect(statements.some((s) => asArray(s.Action).includes('ssm:DeleteAssociation'))).toBe(false);
    const list = statements.filter((s) => asArray(s.Action).includes('ssm:ListAssociations'));
    expect(list).toHaveLength(1);
    expect(list[0].Resource).toBe('*');
  });

  test('ssm-run gets the default convergence schedule; a bad schedule fails the synth', () => {
    const fn = template.findResources('AWS::Lambda::Function')[logicalId(stack.workflow.ssmRunFunction)];
    expect(fn.Properties.Environment.Variables[ENV.CONVERGENCE_SCHEDULE]).toBe('rate(12 hours)');
    const custom = buildStack({ convergenceSchedule: 'rate(1 day)' });
    const customFn = custom.template.findResources('AWS::Lambda::Function')[logicalId(custom.stack.workflow.ssmRunFunction)];
    expect(customFn.Properties.Environment.Variables[ENV.CONVERGENCE_SCHEDULE]).toBe('rate(1 day)');
    expect(() => buildStack({ convergenceSchedule: 'rate(5 minutes)' })).toThrow(/convergenceSchedule/);
  });

  test('ssm-run gets the drift-report schedule (default hourly, prop overrides); a bad one fails the synth naming the prop', () => {
    const fn = template.findResources('AWS::Lambda::Function')[logicalId(stack.workflow.ssmRunFunction)];
    expect(fn.Properties.Environment.Variables[ENV.DRIFT_REPORT_SCHEDULE]).toBe('rate(1 hour)');
    const custom = buildStack({ driftReportSchedule: 'rate(30 minutes)' });
    const customFn = custom.template.findResources('AWS::Lambda::Function')[logicalId(custom.stack.workflow.ssmRunFunction)];
    expect(customFn.Properties.Environment.Variables).toMatchObject({ [ENV.DRIFT_REPORT_SCHEDULE]: 'rate(30 minutes)', [ENV.CONVERGENCE_SCHEDULE]: 'rate(12 hours)' });
    for (const bad of ['rate(5 minutes)', 'cron(0 * * * ? *)', 'rate(1 hour) ']) {
      expect(() => buildStack({ driftReportSchedule: bad })).toThrow(/^driftReportSchedule .* must be/);
    }
  });

  test('the report association needs no other permission: same create/update statement (the stack\'s document, association ids), no second one', () => {
    const statements = statementsOf(stack.workflow.ssmRunFunction);
    const writes = statements.filter((s) => asArray(s.Action).some((a) => a === 'ssm:CreateAssociation' || a === 'ssm:UpdateAssociation'));
    expect(writes).toHaveLength(1);
    expect(asArray(writes[0].Resource).map(flat)).toEqual(expect.arrayContaining([associationArn]));
  });

  test('export-api may delete associations (not create) and delete inventory items', () => {
    const statements = statementsOf(stack.exportApi.function);
    const del = statements.filter((s) => asArray(s.Action).includes('ssm:DeleteAssociation'));
    expect(del).toHaveLength(1);
    expect(asArray(del[0].Action)).toEqual(['ssm:DeleteAssociation']);
    expect(asArray(del[0].Resource).map(flat)).not.toContain('*');
    expect(statements.some((s) => asArray(s.Action).some((a) => a === 'ssm:CreateAssociation' || a === 'ssm:UpdateAssociation'))).toBe(false);
    expect(statements.some((s) => asArray(s.Action).includes('dynamodb:DeleteItem'))).toBe(true);
    const star = statements.filter((s) => s.Resource === '*').flatMap((s) => asArray(s.Action));
    expect(star.filter((a) => a.startsWith('ssm:')).sort()).toEqual(['ssm:GetInventory', 'ssm:ListAssociations']);
  });

  test('export-api sends the remove run (removeFiles=true): SendCommand of this stack\'s document, the delivery settings in its environment, no logs permission', () => {
    const statements = statementsOf(stack.exportApi.function);
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
    for (const name of [ENV.DOCUMENT_NAME, ENV.COMMAND_LOG_GROUP, ENV.COMMAND_TIMEOUT_SECONDS]) {
      expect(fn.Properties.Environment.Variables[name]).toEqual(ssmRun.Properties.Environment.Variables[name]);
    }
    expect(fn.Properties.Environment.Variables[ENV.DOCUMENT_NAME]).toEqual({ Ref: logicalId(stack.installDocument.document) });
  });

  test('DELETE /certificates/{certificateArn}/targets/{target}: IAM auth, validator, both path parameters required, proxied', () => {
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method')).filter((m) => m.Properties.HttpMethod === 'DELETE');
    expect(methods).toHaveLength(1);
    expect(methods[0].Properties).toMatchObject({
      AuthorizationType: 'AWS_IAM',
      RequestValidatorId: { Ref: expect.any(String) },
      RequestParameters: { 'method.request.path.certificateArn': true, 'method.request.path.target': true, 'method.request.querystring.removeFiles': false },
      Integration: { Type: 'AWS_PROXY' },
    });
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: '{target}' });
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: '{certificateArn}' });
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'GET',
      RequestParameters: Match.objectLike({ 'method.request.querystring.nodes': false }),
    });
  });

  test('drift check: hourly schedule → function; reads the inventory, GetInventory, publishes to the alert topic', () => {
    const fnId = logicalId(stack.driftCheck.function);
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 hour)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [fnId, 'Arn'] }, RetryPolicy: Match.objectLike({ MaximumRetryAttempts: 2 }) })],
    });
    const fn = template.findResources('AWS::Lambda::Function')[fnId];
    expect(fn.Properties.Environment.Variables).toMatchObject({
      [ENV.TABLE_NAME]: { Ref: expect.any(String) },
      [ENV.ALERT_TOPIC_ARN]: { Ref: logicalId(stack.notifications.topic) },
      [ENV.DRIFT_GRACE_MINUTES]: '120',
    });
    const statements = statementsOf(stack.driftCheck.function);
    expect(statements.find((s) => asArray(s.Action).includes('sns:Publish'))?.Resource).toEqual({ Ref: logicalId(stack.notifications.topic) });
    expect(statements.find((s) => asArray(s.Action).includes('ssm:GetInventory'))?.Resource).toBe('*');
    // Read-only on the inventory.
    const ddb = statements.flatMap((s) => asArray(s.Action)).filter((a) => a.startsWith('dynamodb:'));
    expect(ddb.some((a) => /Put|Update|Delete|Write/.test(a))).toBe(false);
  });

  test('inventory collection association only on request, with custom inventory enabled', () => {
    template.resourceCountIs('AWS::SSM::Association', 0);
    const withInventory = buildStack({ gatherInventory: true }).template;
    withInventory.hasResourceProperties('AWS::SSM::Association', {
      Name: 'AWS-GatherSoftwareInventory',
      Targets: [{ Key: 'InstanceIds', Values: ['*'] }],
      Parameters: { customInventory: ['Enabled'] },
      ScheduleExpression: 'rate(30 minutes)',
    });
  });
});
