#!/usr/bin/env node
import { App, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AcmExportStack } from '../lib/acm-export-stack';

export const CONTEXT = {
  stackName: 'acm-export:stackName',
  alertEmail: 'acm-export:alertEmail',
  removalPolicy: 'acm-export:removalPolicy',
} as const;

function contextString(app: App, key: string): string | undefined {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new Error(`context ${key} must be a string`);
  return value;
}

function removalPolicyFrom(value: string | undefined): RemovalPolicy {
  switch (value ?? 'retain') {
    case 'retain':
      return RemovalPolicy.RETAIN;
    case 'destroy':
      return RemovalPolicy.DESTROY;
    default:
      throw new Error(`context ${CONTEXT.removalPolicy} must be "retain" or "destroy"`);
  }
}

const app = new App();
new AcmExportStack(app, contextString(app, CONTEXT.stackName) ?? 'AcmExport', {
  description: 'acm-export: export ACM certificates and install them on tagged EC2 and hybrid nodes',
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  alertEmail: contextString(app, CONTEXT.alertEmail),
  removalPolicy: removalPolicyFrom(contextString(app, CONTEXT.removalPolicy)),
});
// AwsSolutions findings fail the synth unless acknowledged (with a reason) in the owning construct.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
