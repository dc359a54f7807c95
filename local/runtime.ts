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
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { ENV, INITIAL_POLL, STATES } from '../lambda/shared/contract';
import type { RenewResult } from '../lambda/acm-renew/acm-renew';
import { loadInstallDocument } from '../ssm-documents/load';
import { LocalApi, type ApiCallRecord } from './api';
import { LOCAL_INSTALL_DOCUMENT_NAME, startAwsEmulator, type AcmCertificateAvailableEvent, type AwsEmulator } from './aws-emulator';
import { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS, LOCAL_REGION, type LocalCredentials } from './credentials';
import { failureFor, faultsFromEnv, type FaultSpec, type NodeFaults } from './faults';
import { captureHandlerLogs, type HandlerLogSink } from './handler-logs';
import { nginxAvailable, startLocalNode, type LocalNode, type NodeServerKind } from './nodes';
import { LocalStepFunctions, type LocalTask } from './stepfunctions';
import { buildStackModel, readTemplate, stackModel, type LocalStackModel, type TableShape } from './template';

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

export class LocalMode {
  private closing?: Promise<void>;

  private constructor(
    /** SNS publishes of the NotifyFailure state (also in logs/alerts.log). */
    readonly alerts: readonly LocalAlert[],
    readonly root: string,
    private readonly temporaryRoot: boolean,
    readonly aws: AwsEmulator,
    readonly stepFunctions: LocalStepFunctions,
    readonly api: LocalApi,
    readonly nodes: LocalNode[],
    readonly model: LocalStackModel,
    readonly stateMachineArn: string,
    readonly certName: string,
    readonly tags: Record<string, string>,
    readonly ddb: DynamoDBDocumentClient,
    private readonly dynalite: Server,
    private readonly clients: { destroy(): void }[],
    private readonly logs: HandlerLogSink,
    private readonly restoreEnv: () => void,
    private readonly acmRenewHandler: AnyHandler,
    private readonly endpointFiles: { path: string; instance: string }[],
    private readonly parts: {
      driftCheck: (event: unknown) => Promise<LocalDriftCheckResult>;
      serverKind: NodeServerKind | 'auto';
      nodeEnv: Record<string, string>;
      preflightSecretArn: string;
    },
  ) {}

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
    // Undo steps of what has started so far, run in reverse order when a later step fails.
    const undo: (() => unknown)[] = [];
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

  private static async startParts(root: string, temporaryRoot: boolean, options: LocalModeOptions, undo: (() => unknown)[]): Promise<LocalMode> {
    const region = LOCAL_REGION;
    const account = LOCAL_ACCOUNT_ID;
    const credentials: LocalCredentials = LOCAL_CREDENTIALS;
    mkdirSync(root, { recursive: true, mode: 0o700 });
    mkdirSync(path.join(root, 'logs'), { recursive: true, mode: 0o700 });

    const model = options.templateFile ? stackModel(readTemplate(options.templateFile)) : buildStackModel(LOCAL_STACK_NAME, account, region);
    const faults = options.faults ?? faultsFromEnv();
    const aws = await startAwsEmulator({
      stateDir: options.stateDir ? root : undefined,
      faults,
      ssmMsPerSecond: options.ssmMsPerSecond ?? 50,
      associationMsPerSecond: options.associationMsPerSecond ?? options.ssmMsPerSecond ?? 50,
      documents: { [LOCAL_INSTALL_DOCUMENT_NAME]: loadInstallDocument() },
    });
    undo.push(() => aws.close());

    // dynalite: leveldb under the state dir, or in memory.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const dynaliteFactory = require('dynalite') as (opts: { createTableMs: number; deleteTableMs: number; updateTableMs: number; path?: string }) => Server;
    const dynalite = dynaliteFactory({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(options.stateDir ? { path: path.join(root, 'dynamodb') } : {}) });
    undo.push(() => closeDynalite(dynalite));
    const ddbPort = await listen(dynalite);
    const sdkBase = { region, credentials: { ...credentials } };
    const rawDdb = new DynamoDBClient({ ...sdkBase, endpoint: `http://127.0.0.1:${ddbPort}` });
    undo.push(() => rawDdb.destroy());
    armDynamoDbFaults(rawDdb, aws);
    await ensureTable(rawDdb, LOCAL_TABLE_NAME, model.table);
    const ddb = DynamoDBDocumentClient.from(rawDdb, { marshallOptions: { removeUndefinedValues: true } });

    // The handlers' environment, as the stack sets it on the functions (local values for the resources).
    const stateMachineArn = `arn:aws:states:${region}:${account}:stateMachine:${LOCAL_STACK_NAME}-ExportWorkflow`;
    const env: Record<string, string> = {
      AWS_REGION: region,
      [ENV.TABLE_NAME]: LOCAL_TABLE_NAME,
      [ENV.DOCUMENT_NAME]: LOCAL_INSTALL_DOCUMENT_NAME,
      [ENV.SECRET_NAME_PREFIX]: model.literalEnvironment[ENV.SECRET_NAME_PREFIX] ?? `acm-export/${LOCAL_STACK_NAME}`,
      [ENV.SECRET_KMS_KEY_ID]: `arn:aws:kms:${region}:${account}:key/00000000-0000-4000-8000-00000000c0de`,
      [ENV.COMMAND_LOG_GROUP]: `/aws/ssm/${LOCAL_STACK_NAME}-install`,
      [ENV.COMMAND_TIMEOUT_SECONDS]: model.literalEnvironment[ENV.COMMAND_TIMEOUT_SECONDS] ?? '600',
      [ENV.STATE_MACHINE_ARN]: stateMachineArn,
      [ENV.ALERT_TOPIC_ARN]: `arn:aws:sns:${region}:${account}:${LOCAL_STACK_NAME}-Alerts`,
      [ENV.DRIFT_GRACE_MINUTES]: String(options.driftGraceMinutes ?? 0),
    };
    if (options.commandTimeoutSeconds !== undefined) env[ENV.COMMAND_TIMEOUT_SECONDS] = String(options.commandTimeoutSeconds);
    // The association schedules of the stack (its defaults unless a template sets others).
    for (const name of [ENV.CONVERGENCE_SCHEDULE, ENV.DRIFT_REPORT_SCHEDULE]) {
      if (model.literalEnvironment[name]) env[name] = model.literalEnvironment[name];
    }
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    const restoreEnv = (): void => {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    };
    undo.push(restoreEnv);
    Object.assign(process.env, env);

    const awsConfig = aws.clientConfig();
    const acm = new ACMClient(awsConfig);
    const secrets = new SecretsManagerClient(awsConfig);
    const ssm = new SSMClient(awsConfig);
    const sfn = new SFNClient(awsConfig);
    undo.push(() => {
      for (const c of [acm, secrets, ssm, sfn]) c.destroy();
    });
    undo.push(resetHandlerClients);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { setClients } = require('../lambda/shared/clients') as typeof import('../lambda/shared/clients');
    setClients({ acm, secrets, ssm, sfn, ddb });
    const preflightSecretArn = await ensurePreflightSecret(secrets, env[ENV.SECRET_NAME_PREFIX], env[ENV.SECRET_KMS_KEY_ID]);
    const logs = captureHandlerLogs(path.join(root, 'logs', 'handlers.log'));
    undo.push(() => logs.restore());

    /* eslint-disable @typescript-eslint/no-require-imports */
    const acmExport = (require('../lambda/acm-export/handler') as { handler: AnyHandler }).handler;
    const ssmRun = (require('../lambda/ssm-run/handler') as { handler: AnyHandler }).handler;
    const statusCheck = (require('../lambda/status-check/handler') as { handler: AnyHandler }).handler;
    const exportApi = (require('../lambda/export-api/handler') as { handler: (e: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult> }).handler;
    const acmRenew = (require('../lambda/acm-renew/handler') as { handler: AnyHandler }).handler;
    const driftCheckModule = require('../lambda/drift-check/handler') as typeof import('../lambda/drift-check/handler');
    /* eslint-enable @typescript-eslint/no-require-imports */

    const alerts: LocalAlert[] = [];
    const alertLog = path.join(root, 'logs', 'alerts.log');
    const recordAlert = (p: { TopicArn?: unknown; Subject?: unknown; Message?: unknown }): { MessageId: string } => {
      const alert: LocalAlert = { time: new Date().toISOString(), topicArn: String(p.TopicArn ?? ''), subject: typeof p.Subject === 'string' ? p.Subject : undefined, message: p.Message };
      alerts.push(alert);
      appendFileSync(alertLog, `${JSON.stringify(alert)}\n`, { mode: 0o600 });
      return { MessageId: randomUUID() };
    };
    // The drift check publishes with an SNS client: local mode records its publishes as alerts.
    const localSns = { send: async (command: { input?: Record<string, unknown> }) => recordAlert(command.input ?? {}), destroy: () => undefined } as unknown as SNSClient;
    const driftCheck = driftCheckModule.createHandler({ sns: localSns }) as (event: unknown) => Promise<LocalDriftCheckResult>;
    // Lambda receives and returns JSON: round-trip both ways.
    const lambda = (fn: AnyHandler, state: string): LocalTask => ({
      kind: 'lambda',
      resource: String(model.definition.States[state]?.Resource ?? `arn:aws:lambda:${region}:${account}:function:${state}`),
      run: async (payload) => JSON.parse(JSON.stringify((await fn(JSON.parse(JSON.stringify(payload)))) ?? null)) as unknown,
    });
    const stepFunctions = new LocalStepFunctions({
      definition: model.definition,
      stateMachineArn,
      roleArn: `arn:aws:iam::${account}:role/${LOCAL_STACK_NAME}-Workflow`,
      msPerSecond: options.waitScale ?? 50,
      // The first WaitForNodes follows InitPoll's waitSeconds.
      defaultWaitSeconds: INITIAL_POLL.waitSeconds,
      tasks: {
        [STATES.exportCertificate]: lambda(acmExport, STATES.exportCertificate),
        [STATES.installOnNodes]: lambda(ssmRun, STATES.installOnNodes),
        [STATES.checkInstall]: lambda(statusCheck, STATES.checkInstall),
        [STATES.notifyFailure]: {
          kind: 'service',
          resource: 'arn:aws:states:::sns:publish',
          run: async (payload) => recordAlert((payload ?? {}) as { TopicArn?: unknown; Subject?: unknown; Message?: unknown }),
        },
      },
      waitSecondsFrom: (state, output) =>
        state === STATES.checkInstall && output && typeof output === 'object' && typeof (output as { waitSeconds?: unknown }).waitSeconds === 'number'
          ? (output as { waitSeconds: number }).waitSeconds
          : undefined,
    });
    undo.push(() => stepFunctions.close());
    aws.addService(stepFunctions.service());

    const serverKind: NodeServerKind | 'auto' = options.nginx === 'never' ? 'builtin' : 'auto';
    const tags = options.tags ?? { Role: 'web' };
    const certName = options.certName ?? DEFAULT_CERT_NAME;
    const nodeEnv = { ACM_EXPORT_VERIFY_SECONDS: '5' };
    // One by one rather than startLocalNodes (Promise.all): when one node fails, the others are still
    // starting; wait for all of them so that every node that did start is stopped again.
    const starts = await Promise.allSettled(
      Array.from({ length: options.nodes ?? 3 }, (_, i) =>
        startLocalNode(aws, { root, name: `node-${i + 1}`, tags, certName, server: serverKind, env: nodeEnv }),
      ),
    );
    const nodes = starts.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    undo.push(() => Promise.allSettled(nodes.map((n) => n.stop())));
    const failedNode = starts.findIndex((r) => r.status === 'rejected');
    if (failedNode >= 0) {
      const reason = (starts[failedNode] as PromiseRejectedResult).reason as unknown;
      throw new LocalModeError(`local node node-${failedNode + 1} failed to start (${reason instanceof Error ? reason.message : String(reason)})`);
    }

    const ref: { mode?: LocalMode } = {};
    const api = new LocalApi({
      port: options.port,
      region,
      account,
      credentials,
      stateMachineArn,
      sfn,
      readHandler: exportApi,
      control: {
        renew: async (arn) => ref.mode!.renew(arn),
        faults: async (request) => {
          ref.mode!.setFaults(request as LocalFaultRequest);
          return { ok: true };
        },
        driftCheck: async () => ref.mode!.runDriftCheck(),
        runAssociations: async () => {
          await ref.mode!.runAssociations();
          return { ok: true, associations: aws.ssm.associations.ids().length };
        },
      },
    });
    try {
      await api.listen();
    } catch (error) {
      throw new LocalModeError(`cannot listen on 127.0.0.1:${options.port ?? 0} (${error instanceof Error ? error.message : String(error)})`);
    }
    undo.push(() => api.close());
    const endpointInfo: LocalEndpointFile = {
      endpoint: api.endpoint,
      region,
      accessKeyId: credentials.accessKeyId,
      pid: process.pid,
      root,
      instance: randomUUID(),
      awsEndpoint: aws.endpoint,
      documentName: LOCAL_INSTALL_DOCUMENT_NAME,
      preflightSecretArn,
    };
    const endpointFiles = [path.join(root, ENDPOINT_FILE), ...(options.endpointFile ? [path.resolve(options.endpointFile)] : [])].map((p) => ({ path: p, instance: endpointInfo.instance }));
    for (const f of endpointFiles) {
      undo.push(() => removeEndpointFile(f.path, f.instance));
      writeFileSync(f.path, `${JSON.stringify(endpointInfo)}\n`, { mode: 0o600 });
    }
    const mode = new LocalMode(alerts, root, temporaryRoot, aws, stepFunctions, api, nodes, model, stateMachineArn, certName, tags, ddb, dynalite, [acm, secrets, ssm, sfn, ddb], logs, restoreEnv, acmRenew, endpointFiles, {
      driftCheck,
      serverKind,
      nodeEnv,
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
    return this.logs.lines;
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
    return (await this.acmRenewHandler(JSON.parse(JSON.stringify(event)))) as RenewResult;
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
      server: this.parts.serverKind,
      env: this.parts.nodeEnv,
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
    for (const f of this.endpointFiles) removeEndpointFile(f.path, f.instance);
    if (this.driftTimer) clearInterval(this.driftTimer);
    this.stepFunctions.close();
    this.aws.ssm.close();
    await this.api.close();
    await this.driftRun?.catch(() => undefined);
    // Association runs in progress finish first (they write into the node directories), for at most 15 s.
    await Promise.race([this.aws.ssm.associations.idle(), new Promise((r) => setTimeout(r, 15_000).unref())]);
    await Promise.allSettled(this.nodes.map((n) => n.stop()));
    await this.aws.close();
    for (const c of this.clients) c.destroy();
    await closeDynalite(this.dynalite);
    resetHandlerClients();
    this.logs.restore();
    this.restoreEnv();
    if (this.temporaryRoot && existsSync(this.root)) rmSync(this.root, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }
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
