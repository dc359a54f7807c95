/**
 * The stack as the app defines it, constructed in-process with bundling skipped, and what the benchmark
 * reads from it: the inventory table's CreateTable shape and the concrete state machine definition.
 */
import { App } from 'aws-cdk-lib';
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { AcmExportStack } from '../lib/acm-export-stack';
import { AslDefinition, renderStateMachineDefinition } from '../lib/render-definition';

export interface BuiltStack {
  stack: AcmExportStack;
  /** The synthesized CloudFormation template (JSON). */
  template: { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };
  asl: AslDefinition;
}

let cached: BuiltStack | undefined;

export function builtStack(): BuiltStack {
  if (cached) return cached;
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new AcmExportStack(app, 'AcmExport', { env: { account: '111111111111', region: 'us-east-1' } });
  const template = app.synth().getStackByName(stack.stackName).template as BuiltStack['template'];
  cached = { stack, template, asl: renderStateMachineDefinition(stack) };
  return cached;
}

/** CreateTable input for `tableName`, with the key schema, attributes and GSIs of the stack's table resource. */
export function inventoryTableInput(template: BuiltStack['template'], tableName: string): CreateTableCommandInput {
  const tables = Object.values(template.Resources).filter((r) => r.Type === 'AWS::DynamoDB::Table');
  if (tables.length !== 1) throw new Error(`expected one AWS::DynamoDB::Table in the template, found ${tables.length}`);
  const p = tables[0].Properties ?? {};
  const gsis = (p.GlobalSecondaryIndexes ?? []) as NonNullable<CreateTableCommandInput['GlobalSecondaryIndexes']>;
  return {
    TableName: tableName,
    KeySchema: p.KeySchema as CreateTableCommandInput['KeySchema'],
    AttributeDefinitions: p.AttributeDefinitions as CreateTableCommandInput['AttributeDefinitions'],
    BillingMode: (p.BillingMode as CreateTableCommandInput['BillingMode']) ?? 'PAY_PER_REQUEST',
    ...(gsis.length
      ? {
          GlobalSecondaryIndexes: gsis.map((g) => ({
            IndexName: g.IndexName,
            KeySchema: g.KeySchema,
            Projection: g.Projection,
          })),
        }
      : {}),
  };
}
