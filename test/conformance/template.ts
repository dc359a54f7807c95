/**
 * The synthesized template the conformance checks read, and the renderer that turns its CloudFormation
 * intrinsics into concrete strings: `Ref`/`Fn::GetAtt` become placeholder names and ARNs of the right shape
 * for the referenced resource's type, so they can be compared with the ARN formats AWS publishes.
 */
import { buildStack, ACCOUNT, REGION } from '../lib/fixture';

export interface TemplateResource {
  Type: string;
  Properties?: Record<string, unknown>;
  [attribute: string]: unknown;
}

export interface CloudFormationTemplate {
  Resources: Record<string, TemplateResource>;
  [section: string]: unknown;
}

/** A problem a check found, worded for a reader of the test output: `<where>: <what>`. */
export type Finding = string;

/** The stack's template, synthesized in-process with bundling skipped. */
export function synthesizeTemplate(): CloudFormationTemplate {
  return buildStack().template.toJSON() as CloudFormationTemplate;
}

/** A deep copy, so a test can break one thing without touching the template other tests read. */
export function copyOf<T>(value: T): T {
  return structuredClone(value);
}

const PARTITION = 'aws';
const URL_SUFFIX = 'amazonaws.com';

/** Placeholder values of `Ref` and `Fn::GetAtt` per resource type (the logical id stands in for names and ids). */
const REFERENCE_SHAPES: Record<
  string,
  { ref: (id: string) => string; attributes: Record<string, (id: string) => string> }
> = {
  'AWS::KMS::Key': {
    ref: (id) => id,
    attributes: { Arn: (id) => `arn:${PARTITION}:kms:${REGION}:${ACCOUNT}:key/${id}` },
  },
  'AWS::DynamoDB::Table': {
    ref: (id) => id,
    attributes: { Arn: (id) => `arn:${PARTITION}:dynamodb:${REGION}:${ACCOUNT}:table/${id}` },
  },
  // A log group's Arn attribute ends in `:*` (it covers the group's streams).
  'AWS::Logs::LogGroup': {
    ref: (id) => id,
    attributes: { Arn: (id) => `arn:${PARTITION}:logs:${REGION}:${ACCOUNT}:log-group:${id}:*` },
  },
  'AWS::Lambda::Function': {
    ref: (id) => id,
    attributes: { Arn: (id) => `arn:${PARTITION}:lambda:${REGION}:${ACCOUNT}:function:${id}` },
  },
  'AWS::SNS::Topic': {
    ref: (id) => `arn:${PARTITION}:sns:${REGION}:${ACCOUNT}:${id}`,
    attributes: { TopicArn: (id) => `arn:${PARTITION}:sns:${REGION}:${ACCOUNT}:${id}`, TopicName: (id) => id },
  },
  'AWS::SQS::Queue': {
    ref: (id) => `https://sqs.${REGION}.${URL_SUFFIX}/${ACCOUNT}/${id}`,
    attributes: { Arn: (id) => `arn:${PARTITION}:sqs:${REGION}:${ACCOUNT}:${id}`, QueueName: (id) => id },
  },
  'AWS::StepFunctions::StateMachine': {
    ref: (id) => `arn:${PARTITION}:states:${REGION}:${ACCOUNT}:stateMachine:${id}`,
    attributes: { Arn: (id) => `arn:${PARTITION}:states:${REGION}:${ACCOUNT}:stateMachine:${id}`, Name: (id) => id },
  },
  'AWS::SSM::Document': { ref: (id) => id, attributes: {} },
  // A secret's Ref is its ARN (name plus AWS's 6-character suffix).
  'AWS::SecretsManager::Secret': {
    ref: (id) => `arn:${PARTITION}:secretsmanager:${REGION}:${ACCOUNT}:secret:${id}-AbCdEf`,
    attributes: {},
  },
  'AWS::Events::Rule': {
    ref: (id) => id,
    attributes: { Arn: (id) => `arn:${PARTITION}:events:${REGION}:${ACCOUNT}:rule/${id}` },
  },
  'AWS::IAM::Role': { ref: (id) => id, attributes: { Arn: (id) => `arn:${PARTITION}:iam::${ACCOUNT}:role/${id}` } },
  'AWS::IAM::ManagedPolicy': { ref: (id) => `arn:${PARTITION}:iam::${ACCOUNT}:policy/${id}`, attributes: {} },
  'AWS::ApiGateway::RestApi': { ref: (id) => id, attributes: { RootResourceId: (id) => id } },
  'AWS::ApiGateway::Stage': { ref: (id) => id, attributes: {} },
};

const PSEUDO_PARAMETERS: Record<string, string> = {
  'AWS::Partition': PARTITION,
  'AWS::Region': REGION,
  'AWS::AccountId': ACCOUNT,
  'AWS::URLSuffix': URL_SUFFIX,
};

/**
 * Renders a template value (a string, `Ref`, `Fn::GetAtt` or `Fn::Join` of those) to a string.
 * Throws on anything it cannot render, so a new kind of reference fails loudly instead of being skipped.
 */
export function renderValue(value: unknown, template: CloudFormationTemplate): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const intrinsic = value as Record<string, unknown>;
    if (Array.isArray(intrinsic['Fn::Join'])) {
      const [delimiter, parts] = intrinsic['Fn::Join'] as [string, unknown[]];
      return parts.map((part) => renderValue(part, template)).join(delimiter);
    }
    if (typeof intrinsic.Ref === 'string') {
      const name = intrinsic.Ref;
      if (name in PSEUDO_PARAMETERS) return PSEUDO_PARAMETERS[name];
      const shape = REFERENCE_SHAPES[template.Resources[name]?.Type];
      if (shape) return shape.ref(name);
      throw new Error(`no placeholder for Ref ${name} (${template.Resources[name]?.Type ?? 'not a resource'})`);
    }
    if (Array.isArray(intrinsic['Fn::GetAtt'])) {
      const [id, attribute] = intrinsic['Fn::GetAtt'] as [string, string];
      const render = REFERENCE_SHAPES[template.Resources[id]?.Type]?.attributes[attribute];
      if (render) return render(id);
      throw new Error(
        `no placeholder for Fn::GetAtt ${id}.${attribute} (${template.Resources[id]?.Type ?? 'not a resource'})`,
      );
    }
  }
  throw new Error(`cannot render ${JSON.stringify(value).slice(0, 200)}`);
}
