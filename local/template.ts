/**
 * What local mode takes from the synthesized stack: the state machine definition (rendered to concrete
 * ASL), the inventory table's key schema and indexes, and the functions' literal environment values.
 * The stack is built in-process with bundling skipped (a few seconds), or read from a template file.
 */
import { readFileSync } from 'node:fs';
import { ENV } from '../lambda/shared/contract';
import { renderStateMachineDefinition, type AslDefinition, type CloudFormationTemplate } from '../lib/render-definition';

export interface TableShape {
  KeySchema: { AttributeName: string; KeyType: 'HASH' | 'RANGE' }[];
  AttributeDefinitions: { AttributeName: string; AttributeType: 'S' | 'N' | 'B' }[];
  GlobalSecondaryIndexes: { IndexName: string; KeySchema: { AttributeName: string; KeyType: 'HASH' | 'RANGE' }[]; Projection: { ProjectionType: 'ALL' | 'KEYS_ONLY' | 'INCLUDE'; NonKeyAttributes?: string[] } }[];
}

export interface LocalStackModel {
  definition: AslDefinition;
  table: TableShape;
  /** Literal (non-intrinsic) environment values the stack gives its functions, e.g. SECRET_NAME_PREFIX. */
  literalEnvironment: Record<string, string>;
}

interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
}

/**
 * Builds the stack in-process (bundling skipped, no synth: about a second) and reads the model from its
 * constructs, resolved exactly as they would be synthesized.
 */
export function buildStackModel(stackName = 'AcmExport', account = '000000000000', region = 'us-east-1'): LocalStackModel {
  // Loaded lazily: only this function needs aws-cdk-lib.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { App, CfnResource } = require('aws-cdk-lib') as typeof import('aws-cdk-lib');
  const { CfnTable } = require('aws-cdk-lib/aws-dynamodb') as typeof import('aws-cdk-lib/aws-dynamodb');
  const { CfnFunction } = require('aws-cdk-lib/aws-lambda') as typeof import('aws-cdk-lib/aws-lambda');
  const { AcmExportStack } = require('../lib/acm-export-stack') as typeof import('../lib/acm-export-stack');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new AcmExportStack(app, stackName, { env: { account, region } });
  const resources: Record<string, Resource> = {};
  for (const construct of stack.node.findAll()) {
    if (!CfnResource.isCfnResource(construct)) continue;
    const id = stack.resolve(construct.logicalId) as string;
    if (construct instanceof CfnTable) {
      resources[id] = {
        Type: construct.cfnResourceType,
        Properties: {
          KeySchema: stack.resolve(construct.keySchema),
          AttributeDefinitions: stack.resolve(construct.attributeDefinitions),
          GlobalSecondaryIndexes: stack.resolve(construct.globalSecondaryIndexes),
        },
      };
    } else if (construct instanceof CfnFunction) {
      const environment = stack.resolve(construct.environment) as { variables?: Record<string, unknown> } | undefined;
      resources[id] = { Type: construct.cfnResourceType, Properties: { Environment: { Variables: environment?.variables ?? {} } } };
    }
  }
  return { ...modelFromResources(resources), definition: renderStateMachineDefinition(stack) };
}

export function readTemplate(file: string): CloudFormationTemplate {
  return JSON.parse(readFileSync(file, 'utf8')) as CloudFormationTemplate;
}

/** The model from a synthesized template (e.g. cdk.out/AcmExport.template.json). */
export function stackModel(template: CloudFormationTemplate): LocalStackModel {
  return { ...modelFromResources((template.Resources ?? {}) as Record<string, Resource>), definition: renderStateMachineDefinition(template) };
}

function modelFromResources(all: Record<string, Resource>): Omit<LocalStackModel, 'definition'> {
  const resources = Object.entries(all);
  const tables = resources.filter(([, r]) => r.Type === 'AWS::DynamoDB::Table');
  if (tables.length !== 1) throw new Error(`expected one DynamoDB table in the template, found ${tables.length}`);
  const props = tables[0][1].Properties ?? {};
  const table: TableShape = {
    KeySchema: upperKeys(props.KeySchema) as TableShape['KeySchema'],
    AttributeDefinitions: upperKeys(props.AttributeDefinitions) as TableShape['AttributeDefinitions'],
    GlobalSecondaryIndexes: ((upperKeys(props.GlobalSecondaryIndexes) ?? []) as TableShape['GlobalSecondaryIndexes']).map((g) => ({
      IndexName: g.IndexName,
      KeySchema: g.KeySchema,
      Projection: g.Projection,
    })),
  };
  if (!Array.isArray(table.KeySchema) || !Array.isArray(table.AttributeDefinitions)) throw new Error('the table in the template has no key schema');

  const literalEnvironment: Record<string, string> = {};
  for (const [, r] of resources) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const vars = ((r.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {}) as Record<string, unknown>;
    for (const [k, v] of Object.entries(vars)) if (typeof v === 'string' && (Object.values(ENV) as string[]).includes(k)) literalEnvironment[k] = v;
  }
  return { table, literalEnvironment };
}

/** Construct properties resolve with camelCase keys (keySchema/attributeName); templates use PascalCase. */
function upperKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(upperKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k.charAt(0).toUpperCase() + k.slice(1), upperKeys(v)]));
  }
  return value;
}
