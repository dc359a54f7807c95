import { eventPatternFindings } from '../../conformance/event-pattern-checks';
import { asArray, buildStack, identityStatements, logicalId, statementsOf } from '../fixture';

const { stack, template } = buildStack();
const ruleId = logicalId(stack.executionEnd.rule);
const rule = template.toJSON().Resources[ruleId] as {
  Properties: { EventPattern: Record<string, unknown>; Targets: Record<string, unknown>[] };
};

describe('execution-end rule', () => {
  test("only this state machine's FAILED, TIMED_OUT and ABORTED executions, a pattern AWS's event schema accepts", () => {
    expect(rule.Properties.EventPattern).toEqual({
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: {
        status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
        stateMachineArn: [{ Ref: logicalId(stack.workflow.stateMachine) }],
      },
    });
    expect(eventPatternFindings(ruleId, rule.Properties.EventPattern)).toEqual([]);
  });

  test('→ the execution-end function, with retries and a dead-letter queue for events it could not deliver', () => {
    expect(rule.Properties.Targets).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': [logicalId(stack.executionEnd.function), 'Arn'] },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalId(stack.executionEnd.deadLetterQueue), 'Arn'] } },
        RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 21600 },
      }),
    ]);
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalId(stack.executionEnd.function) },
      MaximumRetryAttempts: 2,
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [logicalId(stack.executionEnd.deadLetterQueue), 'Arn'] } },
      },
    });
  });
});

describe('execution-end IAM', () => {
  test('the function may update inventory items (and use their key) and nothing else of the stack', () => {
    const table = { 'Fn::GetAtt': [logicalId(stack.inventory.table), 'Arn'] };
    const statements = statementsOf(template, stack.executionEnd.function);
    const dynamo = statements.filter((s) => asArray(s.Action).some((a) => a.startsWith('dynamodb:')));
    expect(dynamo).toEqual([expect.objectContaining({ Action: 'dynamodb:UpdateItem', Resource: table })]);
    const services = new Set(statements.flatMap((s) => asArray(s.Action)).map((a) => a.split(':')[0]));
    expect([...services].sort()).toEqual(['dynamodb', 'kms', 'logs', 'sqs', 'xray']);
    const queue = { 'Fn::GetAtt': [logicalId(stack.executionEnd.deadLetterQueue), 'Arn'] };
    const sqs = identityStatements(template).filter(({ statement }) =>
      asArray(statement.Action).includes('sqs:SendMessage'),
    );
    expect(sqs.filter(({ statement }) => JSON.stringify(statement.Resource) === JSON.stringify(queue))).toHaveLength(1);
  });
});
