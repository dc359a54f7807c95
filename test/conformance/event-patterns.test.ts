import { eventPatternFindings, rulePatternFindings } from './event-pattern-checks';
import { synthesizeTemplate } from './template';

const template = synthesizeTemplate();

/** A rule's pattern from the template, by the start of its logical id, as a fresh copy a test may break. */
function patternOf(idPrefix: string): { id: string; pattern: Record<string, unknown> } {
  const id = Object.keys(template.Resources).find((candidate) => candidate.startsWith(idPrefix));
  if (id === undefined) throw new Error(`no rule ${idPrefix}`);
  return { id, pattern: structuredClone(template.Resources[id].Properties?.EventPattern as Record<string, unknown>) };
}

describe('EventBridge rule patterns', () => {
  test('every pattern is valid syntax and names detail-types and detail fields the AWS event schemas publish', () => {
    const rulesWithPatterns = Object.values(template.Resources).filter(
      (resource) => resource.Type === 'AWS::Events::Rule' && resource.Properties?.EventPattern,
    );
    expect(rulesWithPatterns).toHaveLength(7);
    expect(rulePatternFindings(template)).toEqual([]);
  });

  test('a misspelled detail-type is a finding', () => {
    const { id, pattern } = patternOf('RenewalTriggerRule');
    pattern['detail-type'] = ['ACM Certificate Renewed'];
    expect(eventPatternFindings(id, pattern)).toEqual([
      `${id}.detail-type: aws.acm publishes no "ACM Certificate Renewed" event`,
    ]);
  });

  test('a detail field the event does not have is a finding', () => {
    const { id, pattern } = patternOf('RenewalTriggerRule');
    pattern.detail = { action: ['RENEWAL'] };
    expect(eventPatternFindings(id, pattern)).toEqual([`${id}.detail.action: not a field of the event's detail`]);
  });

  test('a Step Functions detail field the status-change event does not have is a finding', () => {
    const { id, pattern } = patternOf('NotificationsExecutionFailed');
    (pattern.detail as Record<string, unknown>).stateMachine = (
      pattern.detail as Record<string, unknown>
    ).stateMachineArn;
    delete (pattern.detail as Record<string, unknown>).stateMachineArn;
    expect(eventPatternFindings(id, pattern)).toEqual([`${id}.detail.stateMachine: not a field of the event's detail`]);
  });

  test('invalid syntax is a finding: unknown filter, bare value, empty list, unknown envelope field', () => {
    const { id, pattern } = patternOf('RenewalTriggerRule');
    pattern.detail = { Action: [{ 'starts-with': 'RENEW' }] };
    pattern.region = 'eu-west-1';
    pattern.resources = [];
    pattern['detail_type'] = ['ACM Certificate Available'];
    expect(eventPatternFindings(id, pattern)).toEqual([
      `${id}.detail.Action: unknown content filter starts-with`,
      `${id}.region: a field's values must be a list`,
      `${id}.resources: an empty list matches nothing`,
      `${id}.detail_type: not a field of the event envelope`,
    ]);
  });

  test('content filters EventBridge documents are accepted', () => {
    const { id, pattern } = patternOf('RenewalTriggerRule');
    pattern.detail = {
      $or: [
        { Action: [{ prefix: 'RENEW' }, { 'anything-but': ['IMPORT'] }] },
        { DaysToExpiry: [{ numeric: ['>', 0, '<=', 45] }], InUse: [{ exists: true }] },
      ],
    };
    expect(eventPatternFindings(id, pattern)).toEqual([]);
  });
});
