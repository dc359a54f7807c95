import * as path from 'node:path';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, NodejsFunctionProps, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { BuildOptions } from 'esbuild';
import { REASONS, acknowledgeWildcardResource } from '../nag';

/** Repository root: handlers live under `lambda/<name>/handler.ts`. */
const PROJECT_ROOT = path.join(__dirname, '..', '..');

/**
 * Newest non-deprecated Node.js runtime this aws-cdk-lib knows. Looked up by name so an older
 * aws-cdk-lib without NODEJS_24_X still compiles and falls back to 22.
 */
export const NODE_RUNTIME: lambda.Runtime =
  (lambda.Runtime as unknown as Record<string, lambda.Runtime | undefined>).NODEJS_24_X ?? lambda.Runtime.NODEJS_22_X;

/**
 * CloudFormation Metadata keys on every function: its handler entry (repository-relative) and its name (the
 * handler folder). Local mode finds the functions of a template by these.
 */
export const FUNCTION_METADATA = { entry: 'acm-export:handler', name: 'acm-export:function' } as const;

/** Powertools metrics namespace shared by every function of the stack. */
export const METRICS_NAMESPACE = 'AcmExport';

/**
 * Import paths the deployed bundles resolve to a module of ours instead (esbuild `alias`; the replacement is
 * resolved from the project root). In Lambda the runtime always sets the role's credentials in the
 * environment, so the SDK's default credential chain gives way to an environment-only provider: the chain's
 * SSO, INI, process, web-identity and instance-metadata providers (about 140 KiB of bundle) never run there.
 * Tests and local mode run the handlers from source and keep the default chain.
 */
export const HANDLER_ALIASES: Readonly<Record<string, string>> = {
  '@aws-sdk/credential-provider-node': './lambda/shared/lambda-credentials.ts',
};

/**
 * esbuild settings of every handler bundle (also what the bundle tests build with). Local esbuild only:
 * bundling must work offline and without Docker.
 */
export const HANDLER_BUNDLING = {
  forceDockerBundling: false,
  format: OutputFormat.CJS,
  minify: true,
  // Typed errors carry their names as literals (lambda/shared/errors.ts), so class names may be minified:
  // keeping every name of the bundled SDK costs each cold start about 4 ms.
  keepNames: false,
  // The SDK is bundled (not the runtime's copy): only the clients and commands a handler imports, from
  // their ES module builds (`module` first) so esbuild can drop the rest. Loading one tree-shaken file is
  // faster than resolving and reading the SDK's packages at cold start, and pins the SDK version we test.
  bundleAwsSDK: true,
  mainFields: ['module', 'main'],
  // The map ships beside the bundle and is read only when a stack trace is formatted
  // (lambda/shared/stack-trace.ts), not at load as NODE_OPTIONS=--enable-source-maps would: file and line
  // only, no source text.
  sourceMap: true,
  sourcesContent: false,
  esbuildArgs: { '--alias': Object.entries(HANDLER_ALIASES).map(([from, to]) => `${from}=${to}`) },
  // esbuild's default (info) prints a size summary per function on every synth; warnings and errors stay.
  logLevel: LogLevel.WARNING,
} as const satisfies NonNullable<NodejsFunctionProps['bundling']>;

/**
 * esbuild options equal to what NodejsFunction passes for HANDLER_BUNDLING (target from the runtime): for the
 * bundle tests and the bench, which build handlers as the stack does.
 */
export function handlerBuildOptions(): BuildOptions {
  const version = /nodejs(\d+)/.exec(NODE_RUNTIME.name)?.[1];
  if (!version) throw new Error(`no Node.js version in runtime ${NODE_RUNTIME.name}`);
  return {
    absWorkingDir: PROJECT_ROOT,
    bundle: true,
    platform: 'node',
    target: `node${version}`,
    format: HANDLER_BUNDLING.format,
    minify: HANDLER_BUNDLING.minify,
    keepNames: HANDLER_BUNDLING.keepNames,
    mainFields: [...HANDLER_BUNDLING.mainFields],
    sourcemap: HANDLER_BUNDLING.sourceMap,
    sourcesContent: HANDLER_BUNDLING.sourcesContent,
    alias: { ...HANDLER_ALIASES },
    // bundleAwsSDK: nothing is external.
    external: [],
    logLevel: 'error',
  };
}

export interface NodeFunctionProps extends Omit<
  NodejsFunctionProps,
  'entry' | 'runtime' | 'architecture' | 'tracing' | 'logGroup' | 'role'
> {
  /** Folder under `lambda/` holding `handler.ts`, e.g. `acm-export`. Also the Powertools service name. */
  readonly handlerDir: string;
  /** @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** @default RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Every Lambda of the stack goes through this: Node.js (newest), arm64, X-Ray, JSON logs into an explicit
 * log group, local esbuild bundling (no Docker), and its own role that may write only to that log group
 * (instead of the AWSLambdaBasicExecutionRole managed policy, which allows every log group).
 */
export class NodeFunction extends NodejsFunction {
  /** The function's log group (also reachable as `logGroup`, typed as ILogGroup there). */
  public readonly functionLogGroup: logs.LogGroup;
  /** The function's own role (same as `role`, without the optional type). */
  public readonly executionRole: iam.Role;

  constructor(scope: Construct, id: string, props: NodeFunctionProps) {
    const { handlerDir, logRemovalPolicy, logRetention, environment, bundling, ...rest } = props;
    const logGroup = new logs.LogGroup(scope, `${id}-logs`, {
      retention: logRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    const role = new iam.Role(scope, `${id}-role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of the ${handlerDir} function (${Stack.of(scope).stackName})`,
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    super(scope, id, {
      entry: path.join(PROJECT_ROOT, 'lambda', handlerDir, 'handler.ts'),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      runtime: NODE_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      tracing: lambda.Tracing.ACTIVE,
      memorySize: 512,
      timeout: Duration.seconds(30),
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      logGroup,
      role,
      bundling: { ...HANDLER_BUNDLING, ...bundling },
      ...rest,
      environment: {
        POWERTOOLS_SERVICE_NAME: handlerDir,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        ...environment,
      },
    });
    const cfn = this.node.defaultChild as lambda.CfnFunction;
    cfn.addMetadata(FUNCTION_METADATA.entry, `lambda/${handlerDir}/handler.ts`);
    cfn.addMetadata(FUNCTION_METADATA.name, handlerDir);
    this.functionLogGroup = logGroup;
    this.executionRole = role;
    acknowledgeWildcardResource(role, '*', REASONS.xray);
  }
}
