import { App, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AcmExportStack } from './acm-export-stack';
import { DEFAULT_PLACEMENT, PlacementPolicy, parsePlacementPolicy } from '../lambda/shared/placement';

/** Context keys the app reads (cdk.json or `-c key=value`). */
export const CONTEXT = {
  stackName: 'acm-export:stackName',
  alertEmail: 'acm-export:alertEmail',
  removalPolicy: 'acm-export:removalPolicy',
  /** Default schedule of the convergence associations, e.g. "rate(6 hours)". */
  convergenceSchedule: 'acm-export:convergenceSchedule',
  /** Schedule of the report associations (drift between install runs), e.g. "rate(30 minutes)". */
  driftReportSchedule: 'acm-export:driftReportSchedule',
  /** "true" to create an AWS-GatherSoftwareInventory association with custom inventory enabled. */
  gatherInventory: 'acm-export:gatherInventory',
  /** Directories CertDir and KeyDir may be in or below: a list, or a comma-separated string. */
  allowedDirs: 'acm-export:allowedDirs',
  /** Accounts that may own the key (KeyOwner, KeyGroup): a list, or a comma-separated string. */
  keyAccounts: 'acm-export:keyAccounts',
  /** Tag key and value a certificate must carry to be exported (default acm-export:exportable=true). */
  exportTagKey: 'acm-export:exportTagKey',
  exportTagValue: 'acm-export:exportTagValue',
  /** "true" to export any exportable certificate, tagged or not. */
  exportAnyCertificate: 'acm-export:exportAnyCertificate',
} as const;

export const DEFAULT_STACK_NAME = 'AcmExport';

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

function booleanFrom(app: App, key: string): boolean {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined || value === null || value === '' || value === false || value === 'false') return false;
  if (value === true || value === 'true') return true;
  throw new Error(`context ${key} must be "true" or "false"`);
}

function contextList(app: App, key: string): readonly string[] | undefined {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'string') return value.split(',').map((entry) => entry.trim());
  if (Array.isArray(value) && value.every((entry) => typeof entry === 'string')) return value as string[];
  throw new Error(`context ${key} must be a list of strings or a comma-separated string`);
}

/** The placement policy from context; each setting left out keeps its default. */
function placementFrom(app: App): PlacementPolicy {
  return parsePlacementPolicy(
    {
      allowedDirs: contextList(app, CONTEXT.allowedDirs) ?? DEFAULT_PLACEMENT.allowedDirs,
      keyAccounts: contextList(app, CONTEXT.keyAccounts) ?? DEFAULT_PLACEMENT.keyAccounts,
    },
    `context ${CONTEXT.allowedDirs} / ${CONTEXT.keyAccounts}`,
  );
}

/**
 * Adds the one stack to the app, configured from context, with cdk-nag AwsSolutions checks: any
 * finding not acknowledged (with a reason) in the construct that owns it fails the synth.
 */
export function configureApp(app: App): AcmExportStack {
  const stack = new AcmExportStack(app, contextString(app, CONTEXT.stackName) ?? DEFAULT_STACK_NAME, {
    description: 'acm-export: export ACM certificates and install them on tagged EC2 and hybrid nodes',
    // Account and region come from the CDK environment (credentials/profile), or stay deploy-time values.
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
    alertEmail: contextString(app, CONTEXT.alertEmail),
    removalPolicy: removalPolicyFrom(contextString(app, CONTEXT.removalPolicy)),
    convergenceSchedule: contextString(app, CONTEXT.convergenceSchedule),
    driftReportSchedule: contextString(app, CONTEXT.driftReportSchedule),
    gatherInventory: booleanFrom(app, CONTEXT.gatherInventory),
    placement: placementFrom(app),
    exportTagKey: contextString(app, CONTEXT.exportTagKey),
    exportTagValue: contextString(app, CONTEXT.exportTagValue),
    exportAnyCertificate: booleanFrom(app, CONTEXT.exportAnyCertificate),
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}
