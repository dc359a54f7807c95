import { Match } from 'aws-cdk-lib/assertions';
import { ENV, WORKFLOW_TIMEOUT_SECONDS } from '../../../lambda/shared/contract';
import { ACCOUNT, REGION, asArray, buildStack, flat, identityStatements, logicalId, statementsOf } from '../fixture';

const { stack, template } = buildStack();

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
    const key = statements.filter(
      (s) =>
        JSON.stringify(s.Resource) === JSON.stringify({ 'Fn::GetAtt': [logicalId(stack.notifications.key), 'Arn'] }),
    );
    expect(key.length).toBeGreaterThanOrEqual(2);
    for (const k of key)
      expect(
        asArray(k.Action).every((a) => ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:GenerateDataKey*'].includes(a)),
      ).toBe(true);
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

describe('completion events', () => {
  test('a rule on the install document’s terminal command statuses targets command-events', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.ssm'],
        'detail-type': ['EC2 Command Status-change Notification'],
        detail: {
          'document-name': [{ Ref: logicalId(stack.installDocument.document) }],
          status: ['Success', 'Failed', 'TimedOut', 'Cancelled'],
        },
      },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [logicalId(stack.workflow.commandEventsFunction), 'Arn'] } })],
    });
  });

  test('only await-command and command-events may complete task tokens', () => {
    const responders = identityStatements(template)
      .filter(({ statement }) => asArray(statement.Action).some((a) => String(a).startsWith('states:SendTask')))
      .map(({ statement }) => statement);
    expect(responders).toHaveLength(2);
    for (const s of responders) {
      expect(asArray(s.Action).sort()).toEqual(['states:SendTaskFailure', 'states:SendTaskSuccess']);
      expect(s.Resource).toBe('*'); // no resource types for these actions (Service Authorization Reference)
    }
    for (const fn of [stack.workflow.awaitCommandFunction, stack.workflow.commandEventsFunction]) {
      expect(statementsOf(template, fn).flatMap((s) => asArray(s.Action))).toEqual(
        expect.arrayContaining(['states:SendTaskSuccess', 'ssm:ListCommands']),
      );
    }
  });
});

describe('fleet convergence', () => {
  const associationArn = `arn:aws:ssm:${REGION}:${ACCOUNT}:association/*`;

  test('ssm-run may create, describe and update associations of this stack\'s document only; ListAssociations is the only "*"', () => {
    const statements = statementsOf(template, stack.workflow.ssmRunFunction);
    const assoc = statements.filter((s) =>
      asArray(s.Action).some((a) => /Association$/.test(a) && a !== 'ssm:ListAssociations'),
    );
    expect(assoc).toHaveLength(1);
    expect(asArray(assoc[0].Action).sort()).toEqual([
      'ssm:CreateAssociation',
      'ssm:DescribeAssociation',
      'ssm:UpdateAssociation',
    ]);
    const resources = asArray(assoc[0].Resource).map(flat);
    expect(resources).toEqual(
      expect.arrayContaining([expect.stringContaining(`arn:aws:ssm:${REGION}:${ACCOUNT}:document/`), associationArn]),
    );
    expect(resources).not.toContain('*');
    // Exactly the install and report documents (the two association kinds).
    const text = JSON.stringify(assoc[0].Resource);
    expect(
      (['install', 'report', 'remove', 'preflight'] as const).filter((kind) =>
        text.includes(`"${logicalId(stack.installDocument.documents[kind].document)}"`),
      ),
    ).toEqual(['install', 'report']);
    expect(statements.some((s) => asArray(s.Action).includes('ssm:DeleteAssociation'))).toBe(false);
    const list = statements.filter((s) => asArray(s.Action).includes('ssm:ListAssociations'));
    expect(list).toHaveLength(1);
    expect(list[0].Resource).toBe('*');
  });

  test('ssm-run gets the default convergence schedule; a bad schedule fails the synth', () => {
    const fn = template.findResources('AWS::Lambda::Function')[logicalId(stack.workflow.ssmRunFunction)];
    expect(fn.Properties.Environment.Variables[ENV.CONVERGENCE_SCHEDULE]).toBe('rate(12 hours)');
    const custom = buildStack({ convergenceSchedule: 'rate(1 day)' });
    const customFn =
      custom.template.findResources('AWS::Lambda::Function')[logicalId(custom.stack.workflow.ssmRunFunction)];
    expect(customFn.Properties.Environment.Variables[ENV.CONVERGENCE_SCHEDULE]).toBe('rate(1 day)');
    expect(() => buildStack({ convergenceSchedule: 'rate(5 minutes)' })).toThrow(/convergenceSchedule/);
  });

  test('ssm-run gets the drift-report schedule (default hourly, prop overrides); a bad one fails the synth naming the prop', () => {
    const fn = template.findResources('AWS::Lambda::Function')[logicalId(stack.workflow.ssmRunFunction)];
    expect(fn.Properties.Environment.Variables[ENV.DRIFT_REPORT_SCHEDULE]).toBe('rate(1 hour)');
    const custom = buildStack({ driftReportSchedule: 'rate(30 minutes)' });
    const customFn =
      custom.template.findResources('AWS::Lambda::Function')[logicalId(custom.stack.workflow.ssmRunFunction)];
    expect(customFn.Properties.Environment.Variables).toMatchObject({
      [ENV.DRIFT_REPORT_SCHEDULE]: 'rate(30 minutes)',
      [ENV.CONVERGENCE_SCHEDULE]: 'rate(12 hours)',
    });
    for (const bad of ['rate(5 minutes)', 'cron(0 * * * ? *)', 'rate(1 hour) ']) {
      expect(() => buildStack({ driftReportSchedule: bad })).toThrow(/^driftReportSchedule .* must be/);
    }
  });

  test("the report association needs no other permission: same create/update statement (the stack's document, association ids), no second one", () => {
    const statements = statementsOf(template, stack.workflow.ssmRunFunction);
    const writes = statements.filter((s) =>
      asArray(s.Action).some((a) => a === 'ssm:CreateAssociation' || a === 'ssm:UpdateAssociation'),
    );
    expect(writes).toHaveLength(1);
    expect(asArray(writes[0].Resource).map(flat)).toEqual(expect.arrayContaining([associationArn]));
  });
});
