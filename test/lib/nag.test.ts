import { App, CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Validations } from 'aws-cdk-lib';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ENV } from '../../lambda/shared/contract';
import { CONTEXT, configureApp } from '../../lib/app';

interface ValidationReport {
  pluginReports: {
    pluginName: string;
    violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[];
  }[];
}

function findings(outdir: string): string[] {
  const file = path.join(outdir, 'validation-report.json');
  if (!existsSync(file)) return [];
  const report = JSON.parse(readFileSync(file, 'utf8')) as ValidationReport;
  return report.pluginReports.flatMap((plugin) =>
    plugin.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} @ ${c.constructPath}`)),
  );
}

const outdirs: string[] = [];
function tempOutdir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'acm-export-synth-'));
  outdirs.push(dir);
  return dir;
}
afterAll(() => outdirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

test('the app synthesizes with real (local esbuild) bundling and zero unacknowledged AwsSolutions findings', () => {
  const outdir = tempOutdir();
  const app = new App({ outdir, context: { [CONTEXT.alertEmail]: 'ops@example.com' } });
  const stack = configureApp(app);
  let error: unknown;
  try {
    app.synth();
  } catch (e) {
    error = e;
  }
  expect(findings(outdir)).toEqual([]);
  expect(error).toBeUndefined();
  // Every function was bundled to a single index.js by the local esbuild.
  const assets = readdirSync(outdir).filter((name) => name.startsWith('asset.'));
  const bundles = assets.filter((name) => existsSync(path.join(outdir, name, 'index.js')));
  expect(bundles).toHaveLength(10); // find-nodes, acm-export, ssm-run, status-check, await-command, command-events, export-api, acm-renew, drift-check, execution-end
  expect(stack.stackName).toBe('AcmExport');
});

test('an unacknowledged wildcard fails the synth (the checks are really on)', () => {
  const outdir = tempOutdir();
  const app = new App({ outdir });
  const stack = new Stack(app, 'Probe');
  const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['*'] }));
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  expect(() => app.synth()).toThrow();
  expect(findings(outdir)).toContain('AwsSolutions-IAM5[Resource::*] @ Probe/Role/DefaultPolicy/Resource');
});

test('context: schedules of the install and report associations reach ssm-run; a bad report schedule fails', () => {
  const app = new App({
    context: {
      'aws:cdk:bundling-stacks': [],
      [CONTEXT.convergenceSchedule]: 'rate(6 hours)',
      [CONTEXT.driftReportSchedule]: 'rate(45 minutes)',
    },
  });
  const stack = configureApp(app);
  const fn = stack.workflow.ssmRunFunction.node.defaultChild as CfnElement;
  const env = Template.fromStack(stack).findResources('AWS::Lambda::Function')[stack.getLogicalId(fn)].Properties
    .Environment.Variables as Record<string, unknown>;
  expect(env).toMatchObject({
    [ENV.CONVERGENCE_SCHEDULE]: 'rate(6 hours)',
    [ENV.DRIFT_REPORT_SCHEDULE]: 'rate(45 minutes)',
  });
  const bad = new App({
    context: { 'aws:cdk:bundling-stacks': [], [CONTEXT.driftReportSchedule]: 'rate(10 minutes)' },
  });
  expect(() => configureApp(bad)).toThrow(/driftReportSchedule/);
});

test('context: stack name and removal policy', () => {
  const app = new App({
    context: { 'aws:cdk:bundling-stacks': [], [CONTEXT.stackName]: 'CertsProd', [CONTEXT.removalPolicy]: 'destroy' },
  });
  const stack = configureApp(app);
  expect(stack.stackName).toBe('CertsProd');
  expect(stack.secrets.namePrefix).toBe('acm-export/CertsProd');
  const bad = new App({ context: { 'aws:cdk:bundling-stacks': [], [CONTEXT.removalPolicy]: 'keep' } });
  expect(() => configureApp(bad)).toThrow(/retain|destroy/);
});

test('zero findings with a concrete account and region too (acknowledgement ids follow the environment)', () => {
  const saved = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };
  process.env.CDK_DEFAULT_ACCOUNT = '123456789012';
  process.env.CDK_DEFAULT_REGION = 'ap-southeast-2';
  try {
    const outdir = tempOutdir();
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = configureApp(app);
    expect(stack.region).toBe('ap-southeast-2');
    expect(() => app.synth()).not.toThrow();
    expect(findings(outdir)).toEqual([]);
  } finally {
    if (saved.account === undefined) delete process.env.CDK_DEFAULT_ACCOUNT;
    else process.env.CDK_DEFAULT_ACCOUNT = saved.account;
    if (saved.region === undefined) delete process.env.CDK_DEFAULT_REGION;
    else process.env.CDK_DEFAULT_REGION = saved.region;
  }
});
