/**
 * Helpers to acknowledge cdk-nag (v3) findings narrowly. A finding id names the exact wildcard, e.g.
 * `AwsSolutions-IAM5[Resource::<TableXXXX.Arn>/index/*]`, so ids are computed from the same values the
 * policies use instead of being copied from a synth report (logical ids and regions change).
 */
import { Stack, Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** Renders a (possibly token-bearing) value the way cdk-nag prints it in finding ids. */
export function nagFlatten(scope: IConstruct, value: unknown): string {
  const visit = (node: unknown): string => {
    if (node === undefined) return '';
    if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/}/g, '>');
    if (typeof node === 'object' && node !== null) {
      const fn = node as Record<string, unknown>;
      if (Array.isArray(fn['Fn::Join'])) {
        const [delimiter, items] = fn['Fn::Join'] as [string, unknown[]];
        return items.map(visit).join(delimiter);
      }
      if (fn['Fn::Sub'] !== undefined) return visit(fn['Fn::Sub']);
      if (Array.isArray(fn['Fn::GetAtt'])) {
        const [resource, attribute] = fn['Fn::GetAtt'] as [unknown, unknown];
        return `<${visit(resource)}.${visit(attribute)}>`;
      }
      if (fn['Fn::ImportValue'] !== undefined) return visit(fn['Fn::ImportValue']);
      if (fn.Ref !== undefined) return `<${visit(fn.Ref)}>`;
    }
    return JSON.stringify(node);
  };
  return visit(Stack.of(scope).resolve(value));
}

/** Acknowledges one finding on a construct (and its children) with the reason it is acceptable. */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/** Acknowledges `AwsSolutions-IAM5[Resource::<resource>]` for exactly that resource value. */
export function acknowledgeWildcardResource(scope: IConstruct, resource: string, reason: string): void {
  acknowledge(scope, `AwsSolutions-IAM5[Resource::${nagFlatten(scope, resource)}]`, reason);
}

/** Acknowledges `AwsSolutions-IAM5[Action::<action>]`. */
export function acknowledgeWildcardAction(scope: IConstruct, action: string, reason: string): void {
  acknowledge(scope, `AwsSolutions-IAM5[Action::${action}]`, reason);
}

export const REASONS = {
  certificateWildcard:
    'Certificates of this account and region only: which certificate is exported is chosen per request (validated by the API against this partition, region and account); ACM has no finer resource scope.',
  xray: 'xray:PutTraceSegments/PutTelemetryRecords (added by active tracing) have no resource-level permissions; AWS requires "*".',
  kmsGrantActions:
    'Added by the inventory write grants (the key actions DynamoDB item writes need, as the table\'s own grants add them): kms:GenerateDataKey*/ReEncrypt* on the inventory key only (a single key ARN, not "*").',
} as const;
