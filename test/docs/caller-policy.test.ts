/**
 * The caller policy of docs/api.md ("Caller policy") and the stack output it is built from: the output
 * `ApiExecuteArn` exists and is the stage's execute-api ARN; the page's resources have that ARN's shape; and,
 * evaluated by an IAM policy simulator, the policy allows every method the API defines and nothing next to them.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { OUTPUTS } from '../../lib/acm-export-stack';
import { STAGE_NAME } from '../../lib/constructs/export-api';
import { ACCOUNT, REGION, buildStack } from '../lib/fixture';

const { stack, template } = buildStack();
const PAGE = readFileSync(path.join(__dirname, '..', '..', 'docs', 'api.md'), 'utf8');
const start = PAGE.indexOf('\n### Caller policy\n');
const section = PAGE.slice(start, PAGE.indexOf('\n#', start + 1));

interface PolicyDocument {
  Version: string;
  Statement: { Effect: string; Action: string; Resource: string[] }[];
}

/** The page's policy: the one JSON block of the section that names execute-api:Invoke. */
function pagePolicy(): PolicyDocument {
  const blocks = [...section.matchAll(/^```json\n([\s\S]*?)^```/gm)].map((m) => m[1]);
  expect(blocks).toHaveLength(1);
  return JSON.parse(blocks[0]) as PolicyDocument;
}

/** `arn:aws:execute-api:<region>:<account>:<api id>/<stage>`, the shape the output resolves to. */
const EXECUTE_API_ARN = new RegExp(`^arn:aws:execute-api:${REGION}:${ACCOUNT}:[a-z0-9]{10}/${STAGE_NAME}$`);

test('the stack outputs ApiExecuteArn: the execute-api ARN of the API and its stage', () => {
  const output = template.toJSON().Outputs[OUTPUTS.apiExecuteArn];
  expect(output).toBeDefined();
  expect(stack.resolve(stack.exportApi.executeApiArn)).toEqual(output.Value);
  // Resolved the way CloudFormation would, with a real-looking API id.
  const restApiId = 'a1b2c3d4e5';
  const resolved = (output.Value['Fn::Join'][1] as unknown[])
    .map((part) => {
      if (typeof part === 'string') return part;
      const ref = (part as { Ref?: string }).Ref;
      if (ref === 'AWS::Partition') return 'aws';
      if (ref === stack.resolve(stack.exportApi.api.restApiId).Ref) return restApiId;
      throw new Error(`unexpected part ${JSON.stringify(part)}`);
    })
    .join('');
  expect(resolved).toMatch(EXECUTE_API_ARN);
  expect(resolved).toBe(`arn:aws:execute-api:${REGION}:${ACCOUNT}:${restApiId}/${STAGE_NAME}`);
});

test("the page's policy uses the output's ARN shape, followed by /<METHOD>/<path>", () => {
  const resources = pagePolicy().Statement.flatMap((s) => s.Resource);
  expect(resources.length).toBeGreaterThan(0);
  for (const resource of resources) {
    const prefix = resource.split('/').slice(0, 2).join('/');
    expect([resource, EXECUTE_API_ARN.test(prefix)]).toEqual([resource, true]);
    expect(resource.slice(prefix.length)).toMatch(/^\/(GET|POST|PUT|DELETE|PATCH)\/[A-Za-z0-9*/_-]+$/);
  }
  expect(section).toContain(`\`${OUTPUTS.apiExecuteArn}\``);
});

/** The prefix the page's example uses (its policy is checked as written). */
function pagePrefix(): string {
  return pagePolicy().Statement[0].Resource[0].split('/').slice(0, 2).join('/');
}

/** Every method of the API as a request path, path parameters filled like a real (URL-encoded) call. */
function routes(): string[] {
  const sample: Record<string, string> = {
    exportId: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
    certificateArn: encodeURIComponent('arn:aws:acm:eu-west-1:123456789012:certificate/8f3c7b1e-2d4a-4c5b'),
    target: encodeURIComponent('CertTarget=web'),
  };
  return stack.exportApi.api.methods.map(
    (m) => `${m.httpMethod}${m.resource.path.replace(/\{(\w+)\}/g, (_, name: string) => sample[name])}`,
  );
}

async function decide(resource: string): Promise<string> {
  const response = await runSimulation(
    {
      request: {
        principal: `arn:aws:iam::${ACCOUNT}:role/operator`,
        action: 'execute-api:Invoke',
        resource: { resource, accountId: ACCOUNT },
        contextVariables: {},
      },
      identityPolicies: [{ name: 'caller', policy: pagePolicy() }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  if (response.resultType !== 'single') throw new Error(`${resource}: ${JSON.stringify(response)}`);
  return response.overallResult;
}

test('the policy allows every method the API defines', async () => {
  const all = routes();
  expect(all.sort()).toEqual([
    'DELETE/certificates/arn%3Aaws%3Aacm%3Aeu-west-1%3A123456789012%3Acertificate%2F8f3c7b1e-2d4a-4c5b/targets/CertTarget%3Dweb',
    'GET/certificates',
    'GET/certificates/arn%3Aaws%3Aacm%3Aeu-west-1%3A123456789012%3Acertificate%2F8f3c7b1e-2d4a-4c5b/targets/CertTarget%3Dweb/removal',
    'GET/exports/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
    'POST/exports',
  ]);
  for (const route of all) expect([route, await decide(`${pagePrefix()}/${route}`)]).toEqual([route, 'Allowed']);
});

test.each([
  ['another method on a route', (p: string) => `${p}/PUT/exports`],
  ['a path the API does not have', (p: string) => `${p}/POST/certificates`],
  ['another stage', (p: string) => `${p.replace(`/${STAGE_NAME}`, '/v2')}/POST/exports`],
  ['another API', (p: string) => `${p.replace(/:[a-z0-9]{10}\//, ':z9y8x7w6v5/')}/POST/exports`],
])('the policy does not allow %s', async (_, resourceOf) => {
  expect(await decide(resourceOf(pagePrefix()))).toBe('ImplicitlyDenied');
});
