import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { METRIC } from '../../../lambda/shared/powertools';
import { METRICS_NAMESPACE } from '../../../lib/constructs/node-function';
import { ALERTED_EXECUTION_STATUSES } from '../../../lib/constructs/notifications';
import { ACCOUNT, PolicyStatementJson, REGION, asArray, buildStack, logicalId } from '../fixture';

const { stack, template } = buildStack();

describe('KMS', () => {
  test('the alert key lets EventBridge encrypt messages for the topic, only for rules of this account and region', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'events.amazonaws.com' },
            Action: Match.arrayWith(['kms:Decrypt', 'kms:GenerateDataKey*']),
            Condition: {
              StringEquals: { 'aws:SourceAccount': ACCOUNT },
              ArnLike: {
                'aws:SourceArn': {
                  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:events:${REGION}:${ACCOUNT}:rule/*`]],
                },
              },
            },
          }),
        ]),
      },
    });
  });

  test("alert topic: EventBridge may publish only for this account and exactly this stack's alert rules", () => {
    const policy = Object.values(template.findResources('AWS::SNS::TopicPolicy'))[0].Properties.PolicyDocument
      .Statement as PolicyStatementJson[];
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

describe('events', () => {
  test('ACM alerts go to the topic with a readable message', () => {
    for (const detailType of ['ACM Certificate Renewal Action Required', 'ACM Certificate Approaching Expiration']) {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: { source: ['aws.acm'], 'detail-type': [detailType] },
        Targets: [
          Match.objectLike({
            Arn: { Ref: logicalId(stack.notifications.topic) },
            InputTransformer: {
              InputPathsMap: Match.objectLike({ 'resources-0-': '$.resources[0]' }),
              InputTemplate: Match.anyValue(),
            },
          }),
        ],
      });
    }
  });

  test('failed executions alert too (also those that never reached NotifyFailure), with their own message', () => {
    const rules = template.findResources('AWS::Events::Rule', {
      Properties: {
        EventPattern: { source: ['aws.states'], 'detail-type': ['Step Functions Execution Status Change'] },
      },
    });
    const topic = { Ref: logicalId(stack.notifications.topic) };
    // The alert rules: the execution-end rule on the same event targets a function, not the topic.
    const byStatus = Object.values(rules)
      .map((rule) => ({
        status: rule.Properties.EventPattern.detail.status as string[],
        machine: rule.Properties.EventPattern.detail.stateMachineArn,
        target: rule.Properties.Targets[0],
      }))
      .filter((rule) => JSON.stringify(rule.target.Arn) === JSON.stringify(topic));
    expect(byStatus.map((r) => r.status).sort()).toEqual([['FAILED'], ['TIMED_OUT', 'ABORTED']]);
    for (const rule of byStatus) {
      expect(rule.machine).toEqual([{ Ref: logicalId(stack.workflow.stateMachine) }]);
      expect(rule.target.Arn).toEqual({ Ref: logicalId(stack.notifications.topic) });
      expect(rule.target.InputTransformer.InputPathsMap).toMatchObject({
        'detail-name': '$.detail.name',
        'detail-executionArn': '$.detail.executionArn',
      });
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
    withEmail.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
  });
});

describe('observability', () => {
  test("docs/operations.md: the metrics it names are the functions' own (in their namespace) and the AWS/States ones of every alerted execution status", () => {
    // Statuses alerted by the synthesized rules; AWS/States names its metric for each `Executions<Status>`.
    const topic = JSON.stringify({ Ref: logicalId(stack.notifications.topic) });
    const alerted = Object.values(
      template.findResources('AWS::Events::Rule', { Properties: { EventPattern: { source: ['aws.states'] } } }),
    )
      .filter((rule) => JSON.stringify(rule.Properties.Targets[0].Arn) === topic)
      .flatMap((rule) => rule.Properties.EventPattern.detail.status as string[]);
    expect([...alerted].sort()).toEqual([...ALERTED_EXECUTION_STATUSES].sort());
    const statesMetrics = alerted.map(
      (status) =>
        `Executions${status
          .split('_')
          .map((w) => w[0] + w.slice(1).toLowerCase())
          .join('')}`,
    );
    const page = readFileSync(path.join(__dirname, '..', '..', '..', 'docs', 'operations.md'), 'utf8');
    const start = page.indexOf('\n## Observability\n');
    const observability = page.slice(start, page.indexOf('\n## ', start + 1));
    const bullets = observability.split(/\n(?=- )/).filter((bullet) => bullet.includes(`\`${METRIC.exportsFailed}\``));
    expect(bullets).toHaveLength(1);
    const named = [...bullets[0].matchAll(/`([A-Za-z/]+)`/g)].map((m) => m[1]);
    const functionMetrics: string[] = Object.values(METRIC);
    expect(named).toEqual(
      expect.arrayContaining([METRICS_NAMESPACE, METRIC.exportsFailed, 'AWS/States', ...statesMetrics]),
    );
    for (const name of named) {
      expect([
        name,
        [METRICS_NAMESPACE, 'AWS/States', 'StateMachineArn', ...functionMetrics, ...statesMetrics].includes(name),
      ]).toEqual([name, true]);
    }
  });
});
