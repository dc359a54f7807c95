import { Match } from 'aws-cdk-lib/assertions';
import { asArray, buildStack, identityStatements, logicalId } from '../fixture';

const { stack, template } = buildStack();

describe('events', () => {
  test('renewal rule → acm-renew with retry policy and an encrypted, TLS-only DLQ', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.acm'],
        'detail-type': ['ACM Certificate Available'],
        detail: { Action: ['RENEWAL'] },
      },
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
});
