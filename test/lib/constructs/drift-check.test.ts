import { Match } from 'aws-cdk-lib/assertions';
import { ENV } from '../../../lambda/shared/contract';
import { asArray, buildStack, logicalId, statementsOf } from '../fixture';

const { stack, template } = buildStack();

describe('fleet convergence', () => {
  test('drift check: hourly schedule → function; reads the inventory (updates only a caught-up deploy), GetInventory, DescribeInstanceInformation, publishes to the alert topic', () => {
    const fnId = logicalId(stack.driftCheck.function);
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 hour)',
      State: 'ENABLED',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [fnId, 'Arn'] },
          RetryPolicy: Match.objectLike({ MaximumRetryAttempts: 2 }),
        }),
      ],
    });
    const fn = template.findResources('AWS::Lambda::Function')[fnId];
    expect(fn.Properties.Environment.Variables).toMatchObject({
      [ENV.TABLE_NAME]: { Ref: expect.any(String) },
      [ENV.ALERT_TOPIC_ARN]: { Ref: logicalId(stack.notifications.topic) },
      [ENV.DRIFT_GRACE_MINUTES]: '120',
    });
    const statements = statementsOf(template, stack.driftCheck.function);
    expect(statements.find((s) => asArray(s.Action).includes('sns:Publish'))?.Resource).toEqual({
      Ref: logicalId(stack.notifications.topic),
    });
    expect(statements.find((s) => asArray(s.Action).includes('ssm:GetInventory'))?.Resource).toBe('*');
    expect(statements.find((s) => asArray(s.Action).includes('ssm:DescribeInstanceInformation'))?.Resource).toBe('*');
    // On the inventory: Query, and UpdateItem (a failed deploy caught up); never Put or Delete.
    const ddb = statements.flatMap((s) => asArray(s.Action)).filter((a) => a.startsWith('dynamodb:'));
    expect(ddb).toContain('dynamodb:UpdateItem');
    expect(ddb.some((a) => /Put|Delete|BatchWrite/.test(a))).toBe(false);
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
