/**
 * Local mode reads the functions from the synthesized template: every environment variable of every
 * function reaches that function's in-process handler, resolved to a local value (no intrinsic left, not
 * empty where the template's value is not), and a variable whose intrinsic has no local value fails the
 * start with a message naming it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ENV } from '../../lambda/shared/contract';
import { AcmExportStack } from '../../lib/acm-export-stack';
import { FUNCTION_METADATA } from '../../lib/constructs/node-function';
import { LOCAL_DOCUMENT_NAMES, LOCAL_INSTALL_DOCUMENT_NAME } from '../../local/aws-emulator';
import { UnresolvableEnvironmentError } from '../../local/environment';
import { startLocalMode, type LocalMode } from '../../local/runtime';
import { LOCAL_STACK_NAME, LOCAL_TABLE_NAME } from '../../local/stack-resources';
import { stackModel, type TemplateResource } from '../../local/template';

const ROOT = path.join(__dirname, '..', '..');

interface SynthTemplate {
  Resources: Record<string, TemplateResource>;
}

function synthesize(): SynthTemplate {
  // The built-in CloudFormation validation runs in nag.test.ts's real synth; here it would only cost seconds.
  const app = new App({ builtinCloudFormationValidation: false, context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new AcmExportStack(app, LOCAL_STACK_NAME, { env: { account: '000000000000', region: 'us-east-1' } });
  return Template.fromStack(stack).toJSON() as SynthTemplate;
}

/** The functions of the template that carry the handler metadata, with their environment as synthesized. */
function templateFunctions(
  template: SynthTemplate,
): { name: string; entry: string; variables: Record<string, unknown> }[] {
  return Object.values(template.Resources)
    .filter((r) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.[FUNCTION_METADATA.entry])
    .map((r) => ({
      name: r.Metadata![FUNCTION_METADATA.name] as string,
      entry: r.Metadata![FUNCTION_METADATA.entry] as string,
      variables: ((r.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ??
        {}) as Record<string, unknown>,
    }));
}

const template = synthesize();
let scratch: string;

beforeAll(() => {
  scratch = mkdtempSync(path.join(tmpdir(), 'acm-export-function-env-'));
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

test('every function of the template carries its handler entry and name, and the entry exists', () => {
  const functions = templateFunctions(template);
  expect(functions.map((f) => f.name).sort()).toEqual([
    'acm-export',
    'acm-renew',
    'await-command',
    'command-events',
    'drift-check',
    'execution-end',
    'export-api',
    'find-nodes',
    'ssm-run',
    'status-check',
  ]);
  for (const f of functions) {
    expect(f.entry).toBe(`lambda/${f.name}/handler.ts`);
    expect(() => require.resolve(path.join(ROOT, f.entry))).not.toThrow();
  }
});

test('the model finds the functions by their metadata, not by logical id', () => {
  const renamed: SynthTemplate = { Resources: {} };
  const ids = new Map(Object.keys(template.Resources).map((id, i) => [id, `Renamed${i}`]));
  const rename = (value: unknown): unknown => {
    if (typeof value === 'string') return ids.get(value) ?? value;
    if (Array.isArray(value)) return value.map(rename);
    if (value && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rename(v)]));
    return value;
  };
  for (const [id, r] of Object.entries(template.Resources))
    renamed.Resources[ids.get(id)!] = rename(r) as TemplateResource;
  const model = stackModel(renamed as never);
  expect(model.functions.map((f) => f.name).sort()).toEqual(
    templateFunctions(template)
      .map((f) => f.name)
      .sort(),
  );
});

describe('in local mode', () => {
  let local: LocalMode;
  const before = { ...process.env };
  beforeAll(async () => {
    const file = path.join(scratch, 'template.json');
    writeFileSync(file, JSON.stringify(template));
    local = await startLocalMode({ nodes: 0, templateFile: file, driftGraceMinutes: 7 });
  }, 120_000);
  afterAll(async () => {
    await local?.close();
  });

  test.each(templateFunctions(template).map((f) => [f.name, f] as const))(
    'every variable of %s reaches its handler, resolved',
    async (_name, f) => {
      // The handler the function calls, as local mode loaded it (same module registry): report the environment it sees.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const module = require(path.join(ROOT, f.entry.replace(/\.ts$/, ''))) as {
        handler: (e: unknown) => Promise<unknown>;
      };
      const spy = jest.spyOn(module, 'handler').mockImplementation(async () => ({ ...process.env }));
      let seen: Record<string, string | undefined>;
      try {
        seen = (await local.functions.get(f.name).invoke({})) as Record<string, string | undefined>;
      } finally {
        spy.mockRestore();
      }
      expect(Object.keys(f.variables).length).toBeGreaterThan(0);
      for (const [name, value] of Object.entries(f.variables)) {
        const got = seen[name];
        expect({ name, type: typeof got }).toEqual({ name, type: 'string' });
        expect(got).not.toMatch(/Ref|Fn::|\$\{Token\[|\[object /);
        if (value !== '') expect({ name, empty: got === '' }).toEqual({ name, empty: false });
        if (typeof value === 'string' && name !== ENV.DRIFT_GRACE_MINUTES && name !== ENV.COMMAND_TIMEOUT_SECONDS)
          expect({ name, got }).toEqual({ name, got: value });
      }
      // The local resources the intrinsics name.
      if (ENV.TABLE_NAME in f.variables) expect(seen[ENV.TABLE_NAME]).toBe(LOCAL_TABLE_NAME);
      if (ENV.DOCUMENT_NAME in f.variables) expect(seen[ENV.DOCUMENT_NAME]).toBe(LOCAL_INSTALL_DOCUMENT_NAME);
      // Each document's Ref resolves to that document's local name.
      if (ENV.REPORT_DOCUMENT_NAME in f.variables)
        expect(seen[ENV.REPORT_DOCUMENT_NAME]).toBe(LOCAL_DOCUMENT_NAMES.report);
      if (ENV.REMOVE_DOCUMENT_NAME in f.variables)
        expect(seen[ENV.REMOVE_DOCUMENT_NAME]).toBe(LOCAL_DOCUMENT_NAMES.remove);
      if (ENV.STATE_MACHINE_ARN in f.variables) expect(seen[ENV.STATE_MACHINE_ARN]).toBe(local.stateMachineArn);
      if (ENV.DRIFT_GRACE_MINUTES in f.variables) expect(seen[ENV.DRIFT_GRACE_MINUTES]).toBe('7');
      // Its own environment only: another function's service name does not leak in.
      expect(seen.POWERTOOLS_SERVICE_NAME).toBe(f.name);
    },
  );

  test('outside a handler the process environment is untouched', () => {
    expect({ ...process.env }).toEqual(before);
  });
});

test.each([
  ['a resource type without a local value', (queue: string) => ({ Ref: queue })],
  ['an intrinsic local mode does not evaluate', () => ({ 'Fn::ImportValue': 'SharedTopicArn' })],
  [
    'an attribute without a local value',
    () => ({
      'Fn::GetAtt': [
        Object.keys(template.Resources).find((id) => template.Resources[id].Type === 'AWS::DynamoDB::Table'),
        'StreamArn',
      ],
    }),
  ],
])(
  'a new variable with %s fails the start naming the variable',
  async (_what, value) => {
    const copy = JSON.parse(JSON.stringify(template)) as SynthTemplate;
    const queue = Object.keys(copy.Resources).find((id) => copy.Resources[id].Type === 'AWS::SQS::Queue')!;
    const fn = Object.values(copy.Resources).find((r) => r.Metadata?.[FUNCTION_METADATA.name] === 'status-check')!;
    (fn.Properties!.Environment as { Variables: Record<string, unknown> }).Variables.BRAND_NEW_SETTING = value(queue);
    const file = path.join(scratch, 'unresolvable.json');
    writeFileSync(file, JSON.stringify(copy));
    const start = startLocalMode({ nodes: 0, templateFile: file });
    await expect(start).rejects.toThrow(UnresolvableEnvironmentError);
    await expect(start).rejects.toThrow(/BRAND_NEW_SETTING of function status-check/);
    expect(process.env.BRAND_NEW_SETTING).toBeUndefined();
  },
  60_000,
);
