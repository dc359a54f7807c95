/**
 * Embedded local mode: the whole product on one machine.
 *
 *   const local = await startLocalMode({ nodes: 3, tags: { Role: 'web' } });
 *   // local.apiEndpoint, local.credentials → sign requests for execute-api (the CLI's api client does)
 *   await local.close();
 *
 * Parts: the AWS emulator (ACM with a local CA, Secrets Manager, SSM, and Step Functions on the same
 * endpoint); dynalite with the inventory table exactly as the stack defines it (persisted under stateDir);
 * the real Lambda handlers in-process, configured by environment like the deployed functions, with SDK
 * clients pointed at the local endpoints; the real state machine definition from the stack, run by
 * aws-local-stepfunctions; the local API; and the local nodes.
 */
import './polyfills';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ACMClient } from '@aws-sdk/client-acm';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand, DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { ENV, INITIAL_POLL } from '../lambda/shared/contract';
import type { RenewResult } from '../lambda/acm-renew/acm-renew';
import { loadInstallDocument } from '../ssm-documents/load';
import { LocalApi, type ApiCallRecord } from './api';
import { LOCAL_INSTALL_DOCUMENT_NAME, startAwsEmulator, type AcmCertificateAvailableEvent, type AwsEmulator } from './aws-emulator';
import { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS, LOCAL_REGION, type LocalCredentials } from './credentials';
import { failureFor, faultsFromEnv, type FaultSpec, type NodeFaults } from './faults';
import { installScopedEnvironment, resolveFunctionEnvironment, withEnvironment, type LocalResources } from './environment';
import { captureHandlerLogs, type HandlerLogSink } from './handler-logs';
import { nginxAvailable, startLocalNode, type LocalNode, type NodeServerKind } from './nodes';
import { LocalStepFunctions, type LocalTask } from './stepfunctions';
import { buildStackModel, readTemplate, stackModel, taskFunction, type LocalFunctionSpec, type LocalStackModel, type TableShape } from './template';

export const LOCAL_STACK_NAME = 'AcmExport';
export const LOCAL_TABLE_NAME = 'AcmExport-Inventory';
export const DEFAULT_CERT_NAME = 'site';
/** Name of the canary secret the install document's preflight reads (`acm-export selftest`), as the stack names it. */
export const LOCAL_PREFLIGHT_SECRET_SUFFIX = 'preflight-canary';

export interface LocalModeOptions {
  /** Port of the local API (default: a free port). */
  port?: number;
  /** Number of local nodes (default 3). */
  nodes?: number;
  /** Tags of every node (default Role=web). */
  tags?: Record<string, string>;
  /** File stem the nodes' HTTPS servers serve (default `site`): export with this CertName to see it served. */
  certName?: string;
  /** Persist everything (CA, certificates, secrets, inventory, nodes) here; a temporary directory when omitted. */
  stateDir?: string;
  /** `auto`: nginx when installed, else the built-in HTTPS server; `never`: always the built-in one. */
  nginx?: 'auto' | 'never';
  /** Real milliseconds per second of the workflow's waits and retry intervals (default 50). */
  waitScale?: number;
  /** Real milliseconds per emulated second of SSM timeouts (default 50). */
  ssmMsPerSecond?: number;
  /**
   * Real milliseconds per emulated second of the associations' schedules (default: ssmMsPerSecond; at 50 an
   * install association's rate(12 hours) runs every 36 minutes and a report association's rate(1 hour) every 3
   * minutes; {@link LocalMode.runAssociations} runs them at once).
   */
  associationMsPerSecond?: number;
  /** The workflow's SendCommand delivery timeout (COMMAND_TIMEOUT_SECONDS, 30..2592000; default the stack's). */
  commandTimeoutSeconds?: number;
  /** DRIFT_GRACE_MINUTES of the drift check (default 0: targets are checked right after an export). */
  driftGraceMinutes?: number;
  /** Run the drift check every N real milliseconds (the stack runs it hourly); off when omitted. */
  driftCheckIntervalMs?: number;
  /** Fault switches (default: the ACM_EXPORT_LOCAL_* environment variables). */
  faults?: FaultSpec;
  /** Use this synthesized template instead of building the stack in-process. */
  templateFile?: string;
  /**
   * Also write the endpoint file here (besides `<root>/endpoint.json`), e.g. a per-user file that
   * `acm-export local renew` reads; removed on close while it still names this instance.
   */
  endpointFile?: string;
}

/** Content of `endpoint.json`: how `acm-export local renew` finds a running local mode. */
export interface LocalEndpointFile {
  endpoint: string;
  region: string;
  accessKeyId: string;
  pid: number;
  root: string;
  /** Unique per start: close() removes a shared endpoint file only while it still names this instance. */
  instance: string;
  /** What `acm-export selftest --local` needs besides the API: the emulated AWS endpoint and the stack's names. */
  awsEndpoint: string;
  documentName: string;
  preflightSecretArn: string;
}

/** Body of `POST /_local/faults` and argument of {@link LocalMode.setFaults}. */
export interface LocalFaultRequest {
  /** Next N calls of an operation (`Op` or `service:Op`) are throttled. */
  throttle?: Record<string, number>;
  /** Certificates of these domains (or these ARNs) become non-exportable. */
  notExportable?: string[];
  /** Certificates of these domains (or these ARNs) go to / leave PENDING_VALIDATION. */
  pending?: Record<string, boolean>;
  /** Per node (name or managed node id): replaces that node's fault switches. */
  nodes?: Record<string, NodeFaults>;
  /** Next N calls of an operation (`Op` or `service:Op`) fail with a non-retryable service error. */
  fail?: Record<string, number>;
}

/** Argument of {@link LocalMode.addNode}. */
export interface AddNodeOptions {
  /** Local name (default node-<N+1>). */
  name?: string;
  /** Tags (default: the local mode's tags). */
  tags?: Record<string, string>;
  faults?: NodeFaults;
}

/** What {@link LocalMode.runDriftCheck} returns: the drift-check handler's summary. */
export interface LocalDriftCheckResult {
  targetsChecked: number;
  targetsSkipped: number;
  nodesReporting: number;
  driftingNodes: number;
  driftingTargets: number;
  alertsSent: number;
}

/** An SNS publish (NotifyFailure state, drift check, ...), recorded instead of sent. */
export interface LocalAlert {
  time: string;
  topicArn: string;
  subject?: string;
  message: unknown;
}

export class LocalModeError extends Error {}

/** Fails with one clear line when a tool the nodes need is missing. */
export function checkPrerequisites(): void {
  for (const [tool, hint] of [
    ['bash', 'install bash (e.g. "apt-get install bash")'],
    ['openssl', 'install openssl (e.g. "apt-get install openssl" or "brew install openssl")'],
  ] as const) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) {
      throw new LocalModeError(`local mode needs ${tool} on PATH to run the install script on the local nodes: ${hint}`);
    }
  }
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

type AnyHandler = (payload: unknown) => Promise<unknown>;

/** Local names of the stack's resources: what the template's intrinsics resolve to (see local/environment.ts). */
function localResources(): LocalResources {
  const region = LOCAL_REGION;
  const account = LOCAL_ACCOUNT_ID;
  return {
    region,
    account,
    stackName: LOCAL_STACK_NAME,
    tableName: LOCAL_TABLE_NAME,
    documentName: LOCAL_INSTALL_DOCUMENT_NAME,
    stateMachineArn: `arn:aws:states:${region}:${account}:stateMachine:${LOCAL_STACK_NAME}-ExportWorkflow`,
    kmsKeyArn: `arn:aws:kms:${region}:${account}:key/00000000-0000-4000-8000-00000000c0de`,
  };
}

/** A function of the stack, in-process: its handler module, called inside the function's own environment. */
export class LocalFunction {
  private constructor(
    readonly spec: LocalFunctionSpec,
    /** The environment the handler sees: the template's variables, resolved to local values. */
    readonly environment: Readonly<Record<string, string>>,
    private readonly module: Record<string, unknown>,
  ) {}

  /** Loads the handler entry inside the function's environment (module-level reads see it, as in Lambda). */
  static load(spec: LocalFunctionSpec, environment: Record<string, string>): LocalFunction {
    const file = path.join(PROJECT_ROOT, spec.entry.replace(/\.ts$/, ''));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const module = withEnvironment(environment, () => require(file) as Record<string, unknown>);
    if (typeof module.handler !== 'function') throw new LocalModeError(`${spec.entry} (function ${spec.name}) exports no handler`);
    return new LocalFunction(spec, environment, module);
  }

  get name(): string {
    return this.spec.name;
  }

  /** Runs `body` (and all it starts) with this function's environment as `process.env`. */
  run<T>(body: () => T): T {
    return withEnvironment(this.environment as Record<string, string>, body);
  }

  /** Calls the handler as Lambda would (JSON in, JSON out). */
  async invoke(payload: unknown): Promise<unknown> {
    const handler = this.module.handler as AnyHandler;
    const result = await this.run(() => handler(JSON.parse(JSON.stringify(payload ?? null))));
    return JSON.parse(JSON.stringify(result ?? null)) as unknown;
  }

  /** A handler made by the module's `createHandler(overrides)` (e.g. with a local SNS client), run in this function's environment. */
  createHandler(overrides: Record<string, unknown>): AnyHandler {
    const create = this.module.createHandler;
    if (typeof create !== 'function') throw new LocalModeError(`${this.spec.entry} (function ${this.spec.name}) exports no createHandler`);
    const handler = this.run(() => (create as (o: Record<string, unknown>) => AnyHandler)(overrides));
    return (payload) => this.run(() => handler(payload));
  }
}

/** The stack's functions by name (the handler folder). */
export class LocalFunctions {
  readonly byName: ReadonlyMap<string, LocalFunction>;

  constructor(functions: LocalFunction[]) {
    this.byName = new Map(functions.map((f) => [f.name, f]));
  }

  get(name: string): LocalFunction {
    const fn = this.byName.get(name);
    if (!fn) throw new LocalModeError(`the stack has no function ${name} (functions: ${[...this.byName.keys()].join(', ')})`);
    return fn;
  }

  /** The value that the functions setting `variable` give it (they agree; the stack sets each from one place). */
  variable(variable: string): string {
    const values = new Set([...this.byName.values()].flatMap((f) => (variable in f.environment ? [f.environment[variable]] : [])));
    if (values.size !== 1) throw new LocalModeError(`expected one value of ${variable} among the stack's functions, found ${values.size}`);
    return [...values][0];
  }
}

/** Repository root: function entries in the template's metadata are relative to it. */
const PROJECT_ROOT = path.join(__dirname, '..');

/** Where SNS publishes go locally: recorded in memory and in logs/alerts.log. */
class AlertRecorder {
  readonly alerts: LocalAlert[] = [];

  constructor(private readonly file: string) {}

  record(p: { TopicArn?: unknown; Subject?: unknown; Message?: unknown }): { MessageId: string } {
    const alert: LocalAlert = { time: new Date().toISOString(), topicArn: String(p.TopicArn ?? ''), subject: typeof p.Subject === 'string' ? p.Subject : undefined, message: p.Message };
    this.alerts.push(alert);
    appendFileSync(this.file, `${JSON.stringify(alert)}\n`, { mode: 0o600 });
    return { MessageId: randomUUID() };
  }

  /** An SNS client whose publishes are recorded (the drift check publishes with one). */
  snsClient(): SNSClient {
    return { send: async (command: { input?: Record<string, unknown> }) => this.record(command.input ?? {}), destroy: () => undefined } as unknown as SNSClient;
  }
}

/** What a running local mode is made of (the start steps' results). */
interface LocalModeParts {
  alerts: readonly LocalAlert[];
  root: string;
  temporaryRoot: boolean;
  aws: AwsEmulator;
  stepFunctions: LocalStepFunctions;
  api: LocalApi;
  nodes: LocalNode[];
  model: LocalStackModel;
  functions: LocalFunctions;
  stateMachineArn: string;
  ddb: DynamoDBDocumentClient;
  dynalite: Server;
  clients: { destroy(): void }[];
  logs: HandlerLogSink;
  restoreEnv: () => void;
  driftCheck: (event: unknown) => Promise<LocalDriftCheckResult>;
  endpointFiles: { path: string; instance: string }[];
  nodeSettings: NodeSettings;
  preflightSecretArn: string;
}

/** How every local node starts (the first ones and those of addNode). */
interface NodeSettings {
  tags: Record<string, string>;
  certName: string;
  serverKind: NodeServerKind | 'auto';
  env: Record<string, string>;
}

/** Undo steps of what has started so far, run in reverse order when a later step fails. */
type Undo = (() => unknown)[];

export class LocalMode {
  private closing?: Promise<void>;
  /** SNS publishes (NotifyFailure state, drift check; also in logs/alerts.log). */
  readonly alerts: readonly LocalAlert[];
  readonly root: string;
  readonly aws: AwsEmulator;
  readonly stepFunctions: LocalStepFunctions;
  readonly api: LocalApi;
  readonly nodes: LocalNode[];
  readonly model: LocalStackModel;
  /** The stack's functions, in-process, each with its environment from the template. */
  readonly functions: LocalFunctions;
  readonly stateMachineArn: string;
  readonly certName: string;
  readonly tags: Record<string, string>;
  readonly ddb: DynamoDBDocumentClient;

  private constructor(private readonly parts: LocalModeParts) {
    ({ alerts: this.alerts, root: this.root, aws: this.aws, stepFunctions: this.stepFunctions, api: this.api, nodes: this.nodes, model: this.model } = parts);
    ({ functions: this.functions, stateMachineArn: this.stateMachineArn, ddb: this.ddb } = parts);
    this.certName = parts.nodeSettings.certName;
    this.tags = parts.nodeSettings.tags;
  }

  private driftTimer?: NodeJS.Timeout;
  private driftRun?: Promise<LocalDriftCheckResult>;

  /**
   * Starts every part. When a part fails to start, everything already started is stopped again (servers,
   * nodes' nginx, dynalite), process.env and the handlers' clients are restored and a temporary root is
   * removed before the error propagates.
   */
  static async start(options: LocalModeOptions = {}): Promise<LocalMode> {
    checkPrerequisites();
    const temporaryRoot = !options.stateDir;
    const root = options.stateDir ? path.resolve(options.stateDir) : mkdtempSync(path.join(tmpdir(), 'acm-export-local-'));
    const undo: Undo = [];
    if (temporaryRoot) undo.push(() => rmSync(root, { recursive: true, force: true }));
    try {
      return await LocalMode.startParts(root, temporaryRoot, options, undo);
    } catch (error) {
      for (const step of undo.reverse()) {
        try {
          await step();
        } catch {
          // keep undoing the rest
        }
      }
      throw error;
    }
  }

  private static async startParts(root: string, temporaryRoot: boolean, options: LocalModeOptions, undo: Undo): Promise<LocalMode> {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    mkdirSync(path.join(root, 'logs'), { recursive: true, mode: 0o700 });
    const local = localResources();
    const model = options.templateFile ? stackModel(readTemplate(options.templateFile)) : buildStackModel(local.stackName, local.account, local.region);
    const aws = await startEmulator(root, options, undo);
    const { dynalite, ddb } = await startDynamoDb(root, options, model.table, aws, undo);
    const { clients, secrets } = connectHandlerClients(aws, ddb, undo);
    const restoreEnv = installScopedEnvironment();
    undo.push(restoreEnv);
    const functions = loadFunctions(model, local, options);
    const preflightSecretArn = await ensurePreflightSecret(secrets, functions.variable(ENV.SECRET_NAME_PREFIX), local.kmsKeyArn);
    const logs = captureHandlerLogs(path.join(root, 'logs', 'handlers.log'));
    undo.push(() => logs.restore());
    const alerts = new AlertRecorder(path.join(root, 'logs', 'alerts.log'));
    const driftCheck = functions.get(FUNCTION_NAMES.driftCheck).createHandler({ sns: alerts.snsClient() }) as (event: unknown) => Promise<LocalDriftCheckResult>;
    const stepFunctions = startWorkflow(model, functions, alerts, local, options, aws, undo);
    const nodeSettings = nodeSettingsOf(options);
    const nodes = await startNodes(aws, root, options.nodes ?? 3, nodeSettings, undo);
    const ref: { mode?: LocalMode } = {};
    const api = await startApi(options.port, local, aws, functions, clients.sfn, () => ref.mode!, undo);
    const endpointFiles = writeEndpointFiles(root, options.endpointFile, api, aws, preflightSecretArn, undo);
    const mode = new LocalMode({
      alerts: alerts.alerts,
      root,
      temporaryRoot,
      aws,
      stepFunctions,
      api,
      nodes,
      model,
      functions,
      stateMachineArn: local.stateMachineArn,
      ddb,
      dynalite,
      clients: [...Object.values(clients), ddb],
      logs,
      restoreEnv,
      driftCheck,
      endpointFiles,
      nodeSettings,
      preflightSecretArn,
    });
    ref.mode = mode;
    if (options.driftCheckIntervalMs !== undefined) mode.startDriftSchedule(options.driftCheckIntervalMs);
    return mode;
  }

  get region(): string {
    return this.aws.region;
  }

  get accountId(): string {
    return this.aws.accountId;
  }

  get credentials(): LocalCredentials {
    return this.aws.credentials;
  }

  /** Base URL of the local API stage (sign for execute-api with {@link credentials}). */
  get apiEndpoint(): string {
    return this.api.endpoint;
  }

  /** Endpoint of the emulated AWS services (ACM, Secrets Manager, SSM, Step Functions). */
  get awsEndpoint(): string {
    return this.aws.endpoint;
  }

  /** ARN of the canary secret (no key material) the install document's preflight reads. */
  get preflightSecretArn(): string {
    return this.parts.preflightSecretArn;
  }

  get serverKind(): NodeServerKind {
    return this.nodes[0]?.serverKind ?? (nginxAvailable() ? 'nginx' : 'builtin');
  }

  /** Every line the handlers logged (Powertools JSON and metrics). */
  get handlerLogs(): readonly string[] {
    return this.parts.logs.lines;
  }

  get apiCalls(): readonly ApiCallRecord[] {
    return this.api.calls;
  }

  /** Re-issues the certificate (new key, new serial) and delivers ACM's renewal event to the acm-renew handler. */
  async renew(certificateArn: string): Promise<{ event: AcmCertificateAvailableEvent; result: RenewResult }> {
    const event = await this.aws.acm.renew(certificateArn);
    const result = await this.deliverEvent(event);
    return { event, result };
  }

  /** Delivers an EventBridge event to the acm-renew handler (as the renewal rule's target would). */
  async deliverEvent(event: unknown): Promise<RenewResult> {
    return (await this.functions.get(FUNCTION_NAMES.acmRenew).invoke(event)) as RenewResult;
  }

  setFaults(request: LocalFaultRequest): void {
    for (const [op, n] of Object.entries(request.throttle ?? {})) this.aws.throttle(op, n);
    for (const [op, n] of Object.entries(request.fail ?? {})) this.aws.fail(op, n);
    for (const d of request.notExportable ?? []) this.aws.acm.makeNotExportable(d);
    for (const [d, pending] of Object.entries(request.pending ?? {})) void this.aws.acm.setPending(d, pending);
    for (const [name, faults] of Object.entries(request.nodes ?? {})) {
      const node = this.nodes.find((n) => n.name === name || n.instanceId === name);
      if (!node) throw new LocalModeError(`no local node named ${name}`);
      node.setFaults(faults);
    }
  }

  /**
   * Starts another node (a new managed node registers with SSM): associations whose targets match its tags
   * are applied to it at once. Resolves when the node serves (not when the association runs are done: see
   * {@link waitForAssociations}).
   */
  async addNode(options: AddNodeOptions = {}): Promise<LocalNode> {
    if (this.closing) throw new LocalModeError('local mode is closing');
    const name = options.name ?? `node-${this.nodes.length + 1}`;
    if (this.nodes.some((n) => n.name === name)) throw new LocalModeError(`a local node named ${name} exists`);
    const node = await startLocalNode(this.aws, {
      root: this.root,
      name,
      tags: options.tags ?? this.tags,
      certName: this.certName,
      server: this.parts.nodeSettings.serverKind,
      env: this.parts.nodeSettings.env,
      ...(options.faults ? { faults: options.faults } : {}),
    });
    this.nodes.push(node);
    return node;
  }

  /** Brings a node offline (commands and association runs wait) or online (waiting association runs start). */
  setNodeOnline(name: string, online: boolean): void {
    const node = this.node(name);
    node.setFaults({ ...node.faults, offline: !online });
  }

  /**
   * Runs every association (each target's install and report associations), or the one with this id, on its
   * targets now, as its schedule would; resolves when done.
   */
  runAssociations(associationId?: string): Promise<void> {
    return this.aws.ssm.associations.runNow(associationId);
  }

  /** Resolves when no association run is in progress. */
  waitForAssociations(): Promise<void> {
    return this.aws.ssm.associations.idle();
  }

  /**
   * Runs the real drift-check handler once (the stack schedules it hourly): it reads the nodes' custom
   * inventory, records one alert per drifting target in {@link alerts} and logs the DriftingNodes metric.
   * Concurrent calls share one run.
   */
  runDriftCheck(): Promise<LocalDriftCheckResult> {
    this.driftRun ??= this.parts.driftCheck({ id: randomUUID(), source: 'aws.events', 'detail-type': 'Scheduled Event' }).finally(() => {
      this.driftRun = undefined;
    });
    return this.driftRun;
  }

  /** Runs the drift check every `intervalMs` (errors are logged by the handler and otherwise ignored). */
  startDriftSchedule(intervalMs: number): void {
    if (!Number.isInteger(intervalMs) || intervalMs < 100) throw new LocalModeError('the drift check interval must be at least 100 ms');
    if (this.driftTimer) clearInterval(this.driftTimer);
    this.driftTimer = setInterval(() => void this.runDriftCheck().catch(() => undefined), intervalMs);
    this.driftTimer.unref();
  }

  node(name: string): LocalNode {
    const node = this.nodes.find((n) => n.name === name || n.instanceId === name);
    if (!node) throw new LocalModeError(`no local node named ${name}`);
    return node;
  }

  /** Stops everything; a temporary root is removed. Idempotent: every call resolves when the first one is done. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    // First, so that `acm-export local renew` says "not running" from now on.
    for (const f of this.parts.endpointFiles) removeEndpointFile(f.path, f.instance);
    if (this.driftTimer) clearInterval(this.driftTimer);
    this.stepFunctions.close();
    this.aws.ssm.close();
    await this.api.close();
    await this.driftRun?.catch(() => undefined);
    // Association runs in progress finish first (they write into the node directories), for at most 15 s.
    await Promise.race([this.aws.ssm.associations.idle(), new Promise((r) => setTimeout(r, 15_000).unref())]);
    await Promise.allSettled(this.nodes.map((n) => n.stop()));
    await this.aws.close();
    for (const c of this.parts.clients) c.destroy();
    await closeDynalite(this.parts.dynalite);
    resetHandlerClients();
    this.parts.logs.restore();
    this.parts.restoreEnv();
    if (this.parts.temporaryRoot && existsSync(this.root)) rmSync(this.root, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }
}

/** Functions local mode calls by name (the handler folders, as the stack's metadata names them). */
const FUNCTION_NAMES = { exportApi: 'export-api', acmRenew: 'acm-renew', driftCheck: 'drift-check' } as const;

/** The emulated AWS services, with the stack's install document registered. */
async function startEmulator(root: string, options: LocalModeOptions, undo: Undo): Promise<AwsEmulator> {
  const aws = await startAwsEmulator({
    stateDir: options.stateDir ? root : undefined,
    faults: options.faults ?? faultsFromEnv(),
    ssmMsPerSecond: options.ssmMsPerSecond ?? 50,
    associationMsPerSecond: options.associationMsPerSecond ?? options.ssmMsPerSecond ?? 50,
    documents: { [LOCAL_INSTALL_DOCUMENT_NAME]: loadInstallDocument() },
  });
  undo.push(() => aws.close());
  return aws;
}

/** dynalite (leveldb under the state dir, or in memory) with the inventory table as the stack defines it. */
async function startDynamoDb(root: string, options: LocalModeOptions, table: TableShape, aws: AwsEmulator, undo: Undo): Promise<{ dynalite: Server; ddb: DynamoDBDocumentClient }> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const dynaliteFactory = require('dynalite') as (opts: { createTableMs: number; deleteTableMs: number; updateTableMs: number; path?: string }) => Server;
  const dynalite = dynaliteFactory({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(options.stateDir ? { path: path.join(root, 'dynamodb') } : {}) });
  undo.push(() => closeDynalite(dynalite));
  const ddbPort = await listen(dynalite);
  const rawDdb = new DynamoDBClient({ region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS }, endpoint: `http://127.0.0.1:${ddbPort}` });
  undo.push(() => rawDdb.destroy());
  armDynamoDbFaults(rawDdb, aws);
  await ensureTable(rawDdb, LOCAL_TABLE_NAME, table);
  return { dynalite, ddb: DynamoDBDocumentClient.from(rawDdb, { marshallOptions: { removeUndefinedValues: true } }) };
}

/** SDK clients pointed at the local endpoints, handed to the handlers (lambda/shared/clients). */
function connectHandlerClients(aws: AwsEmulator, ddb: DynamoDBDocumentClient, undo: Undo): { clients: { acm: ACMClient; secrets: SecretsManagerClient; ssm: SSMClient; sfn: SFNClient }; secrets: SecretsManagerClient } {
  const awsConfig = aws.clientConfig();
  const clients = { acm: new ACMClient(awsConfig), secrets: new SecretsManagerClient(awsConfig), ssm: new SSMClient(awsConfig), sfn: new SFNClient(awsConfig) };
  undo.push(() => {
    for (const c of Object.values(clients)) c.destroy();
  });
  undo.push(resetHandlerClients);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { setClients } = require('../lambda/shared/clients') as typeof import('../lambda/shared/clients');
  setClients({ ...clients, ddb });
  return { clients, secrets: clients.secrets };
}

/**
 * Every function of the template, its environment resolved to local values (the options' local knobs
 * replace the variables they name) and its handler loaded in that environment.
 */
function loadFunctions(model: LocalStackModel, local: LocalResources, options: LocalModeOptions): LocalFunctions {
  const overrides: Record<string, string | undefined> = {
    [ENV.DRIFT_GRACE_MINUTES]: String(options.driftGraceMinutes ?? 0),
    [ENV.COMMAND_TIMEOUT_SECONDS]: options.commandTimeoutSeconds === undefined ? undefined : String(options.commandTimeoutSeconds),
  };
  const environments = model.functions.map((spec) => [spec, resolveFunctionEnvironment(spec, model.resources, local, overrides)] as const);
  return new LocalFunctions(environments.map(([spec, env]) => LocalFunction.load(spec, env)));
}

/**
 * The stack's state machine on local Step Functions: each Task state that invokes a function of the stack
 * runs that function's handler; SNS publishes are recorded as alerts.
 */
function startWorkflow(model: LocalStackModel, functions: LocalFunctions, alerts: AlertRecorder, local: LocalResources, options: LocalModeOptions, aws: AwsEmulator, undo: Undo): LocalStepFunctions {
  const tasks: Record<string, LocalTask> = {};
  for (const [name, state] of Object.entries(model.definition.States)) {
    if (state.Type !== 'Task') continue;
    const spec = taskFunction(model, state);
    if (spec) {
      const fn = functions.get(spec.name);
      tasks[name] = { kind: 'lambda', resource: String(state.Resource), run: (payload) => fn.invoke(payload) };
    } else if (state.Resource === 'arn:aws:states:::sns:publish') {
      tasks[name] = { kind: 'service', resource: state.Resource, run: async (payload) => alerts.record((payload ?? {}) as { TopicArn?: unknown }) };
    } else {
      throw new LocalModeError(`task state ${name} calls ${String(state.Resource)}, which local mode does not run`);
    }
  }
  const stepFunctions = new LocalStepFunctions({
    definition: model.definition,
    stateMachineArn: local.stateMachineArn,
    roleArn: `arn:aws:iam::${local.account}:role/${local.stackName}-Workflow`,
    msPerSecond: options.waitScale ?? 50,
    // The first WaitForNodes follows InitPoll's waitSeconds.
    defaultWaitSeconds: INITIAL_POLL.waitSeconds,
    tasks,
    // A `SecondsPath` wait follows the `waitSeconds` of the task output before it (the status check's).
    waitSecondsFrom: (_state, output) =>
      output && typeof output === 'object' && typeof (output as { waitSeconds?: unknown }).waitSeconds === 'number' ? (output as { waitSeconds: number }).waitSeconds : undefined,
  });
  undo.push(() => stepFunctions.close());
  aws.addService(stepFunctions.service());
  return stepFunctions;
}

function nodeSettingsOf(options: LocalModeOptions): NodeSettings {
  return {
    tags: options.tags ?? { Role: 'web' },
    certName: options.certName ?? DEFAULT_CERT_NAME,
    serverKind: options.nginx === 'never' ? 'builtin' : 'auto',
    env: { ACM_EXPORT_VERIFY_SECONDS: '5' },
  };
}

/**
 * Starts the nodes side by side rather than with startLocalNodes (Promise.all): when one node fails, the
 * others are still starting; wait for all of them so that every node that did start is stopped again.
 */
async function startNodes(aws: AwsEmulator, root: string, count: number, settings: NodeSettings, undo: Undo): Promise<LocalNode[]> {
  const starts = await Promise.allSettled(
    Array.from({ length: count }, (_, i) =>
      startLocalNode(aws, { root, name: `node-${i + 1}`, tags: settings.tags, certName: settings.certName, server: settings.serverKind, env: settings.env }),
    ),
  );
  const nodes = starts.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  undo.push(() => Promise.allSettled(nodes.map((n) => n.stop())));
  const failedNode = starts.findIndex((r) => r.status === 'rejected');
  if (failedNode >= 0) {
    const reason = (starts[failedNode] as PromiseRejectedResult).reason as unknown;
    throw new LocalModeError(`local node node-${failedNode + 1} failed to start (${reason instanceof Error ? reason.message : String(reason)})`);
  }
  return nodes;
}

/** The local API: the export-api handler behind API Gateway's checks, and the `/_local` controls of `mode()`. */
async function startApi(port: number | undefined, local: LocalResources, aws: AwsEmulator, functions: LocalFunctions, sfn: SFNClient, mode: () => LocalMode, undo: Undo): Promise<LocalApi> {
  const exportApi = functions.get(FUNCTION_NAMES.exportApi);
  const api = new LocalApi({
    port,
    region: local.region,
    account: local.account,
    credentials: LOCAL_CREDENTIALS,
    stateMachineArn: local.stateMachineArn,
    sfn,
    readHandler: async (event) => (await exportApi.invoke(event)) as APIGatewayProxyResult,
    control: {
      renew: async (arn) => mode().renew(arn),
      faults: async (request) => {
        mode().setFaults(request as LocalFaultRequest);
        return { ok: true };
      },
      driftCheck: async () => mode().runDriftCheck(),
      runAssociations: async () => {
        await mode().runAssociations();
        return { ok: true, associations: aws.ssm.associations.ids().length };
      },
    },
  });
  try {
    await api.listen();
  } catch (error) {
    throw new LocalModeError(`cannot listen on 127.0.0.1:${port ?? 0} (${error instanceof Error ? error.message : String(error)})`);
  }
  undo.push(() => api.close());
  return api;
}

/** Writes `<root>/endpoint.json` (and the extra endpoint file): how `acm-export local ...` finds this instance. */
function writeEndpointFiles(root: string, extra: string | undefined, api: LocalApi, aws: AwsEmulator, preflightSecretArn: string, undo: Undo): { path: string; instance: string }[] {
  const info: LocalEndpointFile = {
    endpoint: api.endpoint,
    region: aws.region,
    accessKeyId: LOCAL_CREDENTIALS.accessKeyId,
    pid: process.pid,
    root,
    instance: randomUUID(),
    awsEndpoint: aws.endpoint,
    documentName: LOCAL_INSTALL_DOCUMENT_NAME,
    preflightSecretArn,
  };
  const files = [path.join(root, ENDPOINT_FILE), ...(extra ? [path.resolve(extra)] : [])].map((p) => ({ path: p, instance: info.instance }));
  for (const f of files) {
    undo.push(() => removeEndpointFile(f.path, f.instance));
    writeFileSync(f.path, `${JSON.stringify(info)}\n`, { mode: 0o600 });
  }
  return files;
}

/** Name of the endpoint file in the local-mode root. */
export const ENDPOINT_FILE = 'endpoint.json';

/** Removes an endpoint file if it still names this instance (another local mode may have replaced it). */
function removeEndpointFile(file: string, instance: string): void {
  try {
    if ((JSON.parse(readFileSync(file, 'utf8')) as Partial<LocalEndpointFile>).instance === instance) rmSync(file, { force: true });
  } catch {
    // gone or unreadable: nothing of ours to remove
  }
}

/** Creates the preflight canary as the stack does (same prefix and key, no key material), unless a kept state has it. */
async function ensurePreflightSecret(secrets: SecretsManagerClient, prefix: string, kmsKeyId: string): Promise<string> {
  const name = `${prefix}/${LOCAL_PREFLIGHT_SECRET_SUFFIX}`;
  try {
    return (await secrets.send(new DescribeSecretCommand({ SecretId: name }))).ARN ?? name;
  } catch (error) {
    if (!(error instanceof Error) || error.name !== 'ResourceNotFoundException') throw error;
  }
  const created = await secrets.send(new CreateSecretCommand({ Name: name, KmsKeyId: kmsKeyId, SecretString: 'acm-export preflight canary: holds no key material' }));
  return created.ARN ?? name;
}

function closeDynalite(dynalite: Server): Promise<void> {
  return new Promise<void>((resolve) => dynalite.close(() => resolve()));
}

function resetHandlerClients(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { setClients } = require('../lambda/shared/clients') as typeof import('../lambda/shared/clients');
  setClients({ acm: undefined, secrets: undefined, ssm: undefined, sfn: undefined, ddb: undefined });
}

/**
 * The throttle and fail switches for the inventory's DynamoDB calls (`dynamodb:UpdateItem`, ...): dynalite
 * has none, so they act in the client, after its retry step (the SDK retries a throttle as it would
 * ProvisionedThroughputExceededException from DynamoDB).
 */
function armDynamoDbFaults(ddb: DynamoDBClient, aws: AwsEmulator): void {
  ddb.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = String(context.commandName ?? '').replace(/Command$/, '');
      if (aws.throttles.take('dynamodb', operation)) {
        throw Object.assign(new Error('The level of configured provisioned throughput for the table was exceeded (local fault switch).'), {
          name: 'ProvisionedThroughputExceededException',
          $fault: 'client',
          $metadata: { httpStatusCode: 400 },
        });
      }
      if (aws.failures.take('dynamodb', operation)) {
        const f = failureFor('dynamodb');
        throw Object.assign(new Error(f.message), { name: f.type, $fault: 'client', $metadata: { httpStatusCode: f.statusCode } });
      }
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'localFaultSwitches' },
  );
}

async function ensureTable(ddb: DynamoDBClient, tableName: string, shape: TableShape): Promise<void> {
  try {
    await ddb.send(new DescribeTableCommand({ TableName: tableName }));
    return;
  } catch (error) {
    if (!(error instanceof Error) || error.name !== 'ResourceNotFoundException') throw error;
  }
  await ddb.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: shape.KeySchema,
      AttributeDefinitions: shape.AttributeDefinitions,
      ...(shape.GlobalSecondaryIndexes.length ? { GlobalSecondaryIndexes: shape.GlobalSecondaryIndexes } : {}),
    }),
  );
}

export function startLocalMode(options: LocalModeOptions = {}): Promise<LocalMode> {
  return LocalMode.start(options);
}
