import { App, CfnResource, Stack } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { Template } from 'aws-cdk-lib/assertions';
import { AcmExportStack, AcmExportStackProps } from '../../lib/acm-export-stack';

export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';

/**
 * A stack with a fixed environment. Bundling and the CDK's built-in CloudFormation validation are skipped (the
 * validation's WASM engine costs seconds of CPU per test file); the first test in nag.test.ts synthesizes the
 * app for real, with both, and requires an empty validation report.
 */
export function buildStack(props: AcmExportStackProps = {}): { stack: AcmExportStack; template: Template } {
  const app = new App({ builtinCloudFormationValidation: false, context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new AcmExportStack(app, 'AcmExport', { env: { account: ACCOUNT, region: REGION }, ...props });
  return { stack, template: Template.fromStack(stack) };
}

export interface PolicyStatementJson {
  Effect: string;
  Action: string | string[];
  Resource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
  Principal?: unknown;
}

export function asArray<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** Every identity-policy statement (inline and managed) with the logical id of its policy. */
export function identityStatements(template: Template): { policy: string; statement: PolicyStatementJson }[] {
  const out: { policy: string; statement: PolicyStatementJson }[] = [];
  for (const type of ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy']) {
    for (const [policy, resource] of Object.entries(template.findResources(type))) {
      const statements = (resource.Properties.PolicyDocument as { Statement: PolicyStatementJson[] }).Statement;
      for (const statement of statements) out.push({ policy, statement });
    }
  }
  return out;
}

/** Logical id of a construct's CloudFormation resource (its default child, or itself). */
export function logicalId(construct: IConstruct): string {
  const resource = CfnResource.isCfnResource(construct) ? construct : construct.node.defaultChild;
  if (!resource || !CfnResource.isCfnResource(resource)) throw new Error(`${construct.node.path} has no CfnResource`);
  return Stack.of(resource).resolve(resource.logicalId) as string;
}

/** Logical ids of every function's execution role, read from the template (not from a hand-kept list). */
export function functionRoles(template: Template): string[] {
  return Object.values(template.findResources('AWS::Lambda::Function')).map((fn) => {
    const role = fn.Properties.Role as { 'Fn::GetAtt': [string, string] };
    return role['Fn::GetAtt'][0];
  });
}

/** Every action of the identity policies attached to a role (by its logical id). */
export function actionsOfRole(template: Template, role: string): string[] {
  return identityStatements(template)
    .filter(({ policy }) =>
      (template.toJSON().Resources[policy].Properties.Roles as { Ref: string }[] | undefined)?.some(
        (r) => r.Ref === role,
      ),
    )
    .flatMap(({ statement }) => asArray(statement.Action));
}

/** The inline-policy statements of a function's execution role. */
export function statementsOf(template: Template, fn: { executionRole: unknown }): PolicyStatementJson[] {
  const role = logicalId(fn.executionRole as never);
  return identityStatements(template)
    .filter(({ policy }) => {
      const roles = template.findResources('AWS::IAM::Policy')[policy]?.Properties.Roles as
        { Ref: string }[] | undefined;
      return roles?.some((r) => r.Ref === role);
    })
    .map(({ statement }) => statement);
}

/** A resource (string or Fn::Join) as one flat string, AWS::Partition read as "aws". */
export function flat(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join)
    return join[1]
      .map((part) =>
        (part as { Ref?: string }).Ref === 'AWS::Partition'
          ? 'aws'
          : typeof part === 'string'
            ? part
            : `<${JSON.stringify(part)}>`,
      )
      .join(join[0]);
  return JSON.stringify(value);
}
