/**
 * What local mode takes from the synthesized stack: the state machine definition (rendered to concrete
 * ASL), the inventory table's key schema and indexes, and the functions: each found by the Metadata that
 * NodeFunction records (handler entry and name), with its environment as the template has it (intrinsics
 * unresolved: local/environment.ts resolves them). The stack is built in-process with bundling skipped
 * (a few seconds), or read from a template file.
 */
import { readFileSync } from 'node:fs';
import { FUNCTION_METADATA } from '../lib/constructs/node-function';
import {
  renderStateMachineDefinition,
  type AslDefinition,
  type CloudFormationTemplate,
} from '../lib/render-definition';

export interface TableShape {
  KeySchema: { AttributeName: string; KeyType: 'HASH' | 'RANGE' }[];
  AttributeDefinitions: { AttributeName: string; AttributeType: 'S' | 'N' | 'B' }[];
  GlobalSecondaryIndexes: {
    IndexName: string;
    KeySchema: { AttributeName: string; KeyType: 'HASH' | 'RANGE' }[];
    Projection: { ProjectionType: 'ALL' | 'KEYS_ONLY' | 'INCLUDE'; NonKeyAttributes?: string[] };
  }[];
}

/** One resource of the template, as far as local mode reads it. */
export interface TemplateResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
}

/** A function of the stack (one that NodeFunction made). */
export interface LocalFunctionSpec {
  /** Function name: the handler folder (`acm-export:function` metadata). */
  name: string;
  /** Repository-relative handler entry, e.g. `lambda/acm-export/handler.ts` (`acm-export:handler` metadata). */
  entry: string;
  /** Environment variables as the template sets them (literals and intrinsics). */
  environment: Record<string, unknown>;
  /** Logical id in this template: only to match the definition's task resources, never looked up by value. */
  logicalId: string;
}

export interface LocalStackModel {
  definition: AslDefinition;
  table: TableShape;
  functions: LocalFunctionSpec[];
  /** Every resource by logical id (what the environment's intrinsics refer to). */
  resources: Record<string, TemplateResource>;
}

/**
 * Builds the stack in-process (bundling skipped, no synth: about a second) and reads the model from its
 * constructs, resolved exactly as they would be synthesized.
 */
export function buildStackModel(
  stackName = 'AcmExport',
  account = '000000000000',
  region = 'us-east-1',
): LocalStackModel {
  // Loaded lazily: only this function needs aws-cdk-lib.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { App, CfnResource } = require('aws-cdk-lib') as typeof import('aws-cdk-lib');
  const { CfnTable } = require('aws-cdk-lib/aws-dynamodb') as typeof import('aws-cdk-lib/aws-dynamodb');
  const { CfnFunction } = require('aws-cdk-lib/aws-lambda') as typeof import('aws-cdk-lib/aws-lambda');
  const { AcmExportStack } = require('../lib/acm-export-stack') as typeof import('../lib/acm-export-stack');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new AcmExportStack(app, stackName, { env: { account, region } });
  const resources: Record<string, TemplateResource> = {};
  for (const construct of stack.node.findAll()) {
    if (!CfnResource.isCfnResource(construct)) continue;
    const id = stack.resolve(construct.logicalId) as string;
    const resource: TemplateResource = { Type: construct.cfnResourceType };
    const metadata = stack.resolve(construct.cfnOptions.metadata) as Record<string, unknown> | undefined;
    if (metadata && Object.keys(metadata).length) resource.Metadata = metadata;
    if (construct instanceof CfnTable) {
      resource.Properties = {
        KeySchema: stack.resolve(construct.keySchema),
        AttributeDefinitions: stack.resolve(construct.attributeDefinitions),
        GlobalSecondaryIndexes: stack.resolve(construct.globalSecondaryIndexes),
      };
    } else if (construct instanceof CfnFunction) {
      const environment = stack.resolve(construct.environment) as { variables?: Record<string, unknown> } | undefined;
      resource.Properties = { Environment: { Variables: environment?.variables ?? {} } };
    } else {
      // Name properties (TopicName, LogGroupName, ...) that local values may follow.
      const props = stack.resolve(
        (construct as unknown as { cfnProperties?: Record<string, unknown> }).cfnProperties ?? {},
      ) as Record<string, unknown>;
      resource.Properties = Object.fromEntries(
        Object.entries(props)
          .filter(([k, v]) => /Name$/.test(k) && typeof v === 'string')
          .map(([k, v]) => [k.charAt(0).toUpperCase() + k.slice(1), v]),
      );
    }
    resources[id] = resource;
  }
  return modelFromResources(resources, renderStateMachineDefinition(stack));
}

export function readTemplate(file: string): CloudFormationTemplate {
  return JSON.parse(readFileSync(file, 'utf8')) as CloudFormationTemplate;
}

/** The model from a synthesized template (e.g. cdk.out/AcmExport.template.json). */
export function stackModel(template: CloudFormationTemplate): LocalStackModel {
  return modelFromResources(
    (template.Resources ?? {}) as Record<string, TemplateResource>,
    renderStateMachineDefinition(template),
  );
}

function modelFromResources(resources: Record<string, TemplateResource>, definition: AslDefinition): LocalStackModel {
  const tables = Object.values(resources).filter((r) => r.Type === 'AWS::DynamoDB::Table');
  if (tables.length !== 1) throw new Error(`expected one DynamoDB table in the template, found ${tables.length}`);
  const props = tables[0].Properties ?? {};
  const table: TableShape = {
    KeySchema: upperKeys(props.KeySchema) as TableShape['KeySchema'],
    AttributeDefinitions: upperKeys(props.AttributeDefinitions) as TableShape['AttributeDefinitions'],
    GlobalSecondaryIndexes: (
      (upperKeys(props.GlobalSecondaryIndexes) ?? []) as TableShape['GlobalSecondaryIndexes']
    ).map((g) => ({
      IndexName: g.IndexName,
      KeySchema: g.KeySchema,
      Projection: g.Projection,
    })),
  };
  if (!Array.isArray(table.KeySchema) || !Array.isArray(table.AttributeDefinitions))
    throw new Error('the table in the template has no key schema');
  return { definition, table, functions: functionsOf(resources), resources };
}

/** The functions that carry NodeFunction's metadata (others, e.g. CDK's own providers, are not run locally). */
function functionsOf(resources: Record<string, TemplateResource>): LocalFunctionSpec[] {
  const functions: LocalFunctionSpec[] = [];
  for (const [logicalId, r] of Object.entries(resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const entry = r.Metadata?.[FUNCTION_METADATA.entry];
    const name = r.Metadata?.[FUNCTION_METADATA.name];
    if (typeof entry !== 'string' || typeof name !== 'string') continue;
    const environment = ((r.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
      ?.Variables ?? {}) as Record<string, unknown>;
    functions.push({ name, entry, environment, logicalId });
  }
  const names = functions.map((f) => f.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new Error(`two functions of the template are named ${twice}`);
  return functions;
}

/**
 * The function a Task state of the rendered definition invokes: its `Resource` (or `Parameters.FunctionName`)
 * ends in `function:<logical id>` (see renderIntrinsics); undefined for tasks of other services.
 */
export function taskFunction(model: LocalStackModel, state: Record<string, unknown>): LocalFunctionSpec | undefined {
  const params = state.Parameters as Record<string, unknown> | undefined;
  const target = [state.Resource, params?.FunctionName].find(
    (v): v is string => typeof v === 'string' && /:function:/.test(v),
  );
  if (!target) return undefined;
  const id = target.split(':function:')[1].split(':')[0];
  return model.functions.find((f) => f.logicalId === id);
}

/** Construct properties resolve with camelCase keys (keySchema/attributeName); templates use PascalCase. */
function upperKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(upperKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [
        k.charAt(0).toUpperCase() + k.slice(1),
        upperKeys(v),
      ]),
    );
  }
  return value;
}
