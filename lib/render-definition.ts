/**
 * Turns the synthesized state machine definition (a `Fn::Join` of JSON text, `Fn::GetAtt` and `Ref`) into
 * concrete ASL with fake ARNs, so the REAL definition can run locally (aws-local-stepfunctions) with its
 * task states overridden by name. Works on a synthesized template (cdk.out/*.template.json or
 * `Template.toJSON()`) or directly on a constructed Stack, without synthesizing it.
 */
import { CfnResource, Stack } from 'aws-cdk-lib';
import { CfnStateMachine } from 'aws-cdk-lib/aws-stepfunctions';

/** Pseudo-parameter values used in place of the real environment. */
export const FAKE_ENVIRONMENT = {
  partition: 'aws',
  region: 'us-east-1',
  account: '111111111111',
  urlSuffix: 'amazonaws.com',
} as const;

export interface CloudFormationTemplate {
  Resources?: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
}

/** The parts of an ASL document local tools rely on; states are left untyped JSON objects. */
export interface AslDefinition {
  StartAt: string;
  States: Record<string, Record<string, unknown>>;
  TimeoutSeconds?: number;
  Comment?: string;
  [key: string]: unknown;
}

export interface RenderOptions {
  /** Logical id of the state machine, when the template has more than one. */
  readonly stateMachineLogicalId?: string;
}

/** Fake ARN for `Fn::GetAtt [id, Arn]` / `Ref id`, by resource type. */
function fakeArn(logicalId: string, type: string | undefined): string {
  const { partition, region, account } = FAKE_ENVIRONMENT;
  switch (type) {
    case 'AWS::Lambda::Function':
      return `arn:${partition}:lambda:${region}:${account}:function:${logicalId}`;
    case 'AWS::SNS::Topic':
      return `arn:${partition}:sns:${region}:${account}:${logicalId}`;
    case 'AWS::SQS::Queue':
      return `arn:${partition}:sqs:${region}:${account}:${logicalId}`;
    case 'AWS::DynamoDB::Table':
      return `arn:${partition}:dynamodb:${region}:${account}:table/${logicalId}`;
    case 'AWS::StepFunctions::StateMachine':
      return `arn:${partition}:states:${region}:${account}:stateMachine:${logicalId}`;
    default:
      return `arn:${partition}:cloudformation:${region}:${account}:resource/${logicalId}`;
  }
}

/** Flattens CloudFormation intrinsics to a string, with fake ARNs for resources. */
export function renderIntrinsics(value: unknown, resourceTypes: Record<string, string> = {}): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object' && value !== null) {
    const fn = value as Record<string, unknown>;
    if (Array.isArray(fn['Fn::Join'])) {
      const [delimiter, parts] = fn['Fn::Join'] as [string, unknown[]];
      return parts.map((part) => renderIntrinsics(part, resourceTypes)).join(delimiter);
    }
    if (Array.isArray(fn['Fn::GetAtt'])) {
      const [logicalId, attribute] = fn['Fn::GetAtt'] as [string, string];
      if (attribute === 'Arn') return fakeArn(logicalId, resourceTypes[logicalId]);
      if (attribute === 'Name') return logicalId;
      return `${logicalId}.${attribute}`;
    }
    if (typeof fn.Ref === 'string') {
      switch (fn.Ref) {
        case 'AWS::Partition':
          return FAKE_ENVIRONMENT.partition;
        case 'AWS::Region':
          return FAKE_ENVIRONMENT.region;
        case 'AWS::AccountId':
          return FAKE_ENVIRONMENT.account;
        case 'AWS::URLSuffix':
          return FAKE_ENVIRONMENT.urlSuffix;
        default: {
          const type = resourceTypes[fn.Ref];
          // Ref of a topic, queue URL-less resources and state machines is their ARN; otherwise a name.
          return type === 'AWS::SNS::Topic' || type === 'AWS::StepFunctions::StateMachine'
            ? fakeArn(fn.Ref, type)
            : fn.Ref;
        }
      }
    }
  }
  throw new Error(`cannot render intrinsic ${JSON.stringify(value).slice(0, 200)}`);
}

function isStack(source: Stack | CloudFormationTemplate): source is Stack {
  return Stack.isStack(source);
}

/** Concrete ASL of the stack's (only, or named) state machine. */
export function renderStateMachineDefinition(
  source: Stack | CloudFormationTemplate,
  options: RenderOptions = {},
): AslDefinition {
  const resourceTypes: Record<string, string> = {};
  const definitions: Record<string, unknown> = {};
  if (isStack(source)) {
    for (const construct of source.node.findAll()) {
      if (!CfnResource.isCfnResource(construct) || Stack.of(construct) !== source) continue;
      const logicalId = source.resolve(construct.logicalId) as string;
      resourceTypes[logicalId] = construct.cfnResourceType;
      if (construct instanceof CfnStateMachine) definitions[logicalId] = source.resolve(construct.definitionString);
    }
  } else {
    for (const [logicalId, resource] of Object.entries(source.Resources ?? {})) {
      resourceTypes[logicalId] = resource.Type;
      if (resource.Type === 'AWS::StepFunctions::StateMachine')
        definitions[logicalId] = resource.Properties?.DefinitionString;
    }
  }
  const ids = Object.keys(definitions);
  const id = options.stateMachineLogicalId ?? (ids.length === 1 ? ids[0] : undefined);
  if (id === undefined || !(id in definitions)) {
    throw new Error(`expected one state machine (or stateMachineLogicalId); found: ${ids.join(', ') || 'none'}`);
  }
  if (definitions[id] === undefined) throw new Error(`state machine ${id} has no inline DefinitionString`);
  return JSON.parse(renderIntrinsics(definitions[id], resourceTypes)) as AslDefinition;
}
