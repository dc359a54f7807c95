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
 *
 * This file composes them; each start step lives with its part: functions.ts (the handlers), workflow.ts
 * (the state machine), dynamodb.ts, alerts.ts, nodes/fleet.ts, endpoint-file.ts, stack-resources.ts.
 */
import './polyfills';
import { randomUUID, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { ENV } from '../lambda/shared/contract';
import type { RenewResult } from '../lambda/acm-renew/acm-renew';
import { DOCUMENT_KINDS, loadDocument } from '../ssm-documents/load';
import { localLibraryLocation } from './aws-emulator/s3';
import { AlertRecorder, type LocalAlert } from './alerts';
import { LocalApi, type ApiCallRecord, type LocalAssociationRunRequest } from './api';
import { runAssociationsNow, type LocalAssociationRunResult } from './association-runs';
import {
  LOCAL_DOCUMENT_NAMES,
  startAwsEmulator,
  type AcmCertificateAvailableEvent,
  type AwsEmulator,
} from './aws-emulator';
import { loadOrCreateLocalCredentials, type LocalCredentials } from './credentials';
import { closeDynalite, startDynamoDb } from './dynamodb';
import { removeEndpointFile, ROOT_CA_FILE, writeEndpointFiles } from './endpoint-file';
import { installScopedEnvironment, type LocalResources } from './environment';
import { LocalModeError } from './errors';
import { faultsFromEnv, type NodeFaults } from './faults';
import {
  connectHandlerClients,
  FUNCTION_NAMES,
  loadFunctions,
  resetHandlerClients,
  type LocalFunctions,
} from './functions';
import { captureHandlerLogs, type HandlerLogSink } from './handler-logs';
import { localPlacement, nginxAvailable, startLocalNode, type LocalNode, type NodeServerKind } from './nodes';
import { checkPrerequisites, nodeSettingsOf, startNodes, type NodeSettings } from './nodes/fleet';
import type { LocalModeOptions } from './options';
import { ensurePreflightSecret, localResources } from './stack-resources';
import type { LocalStepFunctions } from './stepfunctions';
import { buildStackModel, readTemplate, stackModel, type LocalStackModel } from './template';
import { runUndo, type Undo } from './undo';
import { startWorkflow } from './workflow';

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
  /** Tagged nodes that reported nothing for their target. */
  silentNodes: number;
  driftingTargets: number;
  alertsSent: number;
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
  instance: string;
  rootCaFile: string;
  nodeSettings: NodeSettings;
  preflightSecretArn: string;
}

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
    ({
      alerts: this.alerts,
      root: this.root,
      aws: this.aws,
      stepFunctions: this.stepFunctions,
      api: this.api,
      nodes: this.nodes,
      model: this.model,
    } = parts);
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
    checkPrerequisites(options);
    const temporaryRoot = !options.stateDir;
    const root = options.stateDir
      ? path.resolve(options.stateDir)
      : mkdtempSync(path.join(tmpdir(), 'acm-export-local-'));
    const undo: Undo = [];
    if (temporaryRoot) undo.push(() => rmSync(root, { recursive: true, force: true }));
    try {
      return await LocalMode.startParts(root, temporaryRoot, options, undo);
    } catch (error) {
      await runUndo(undo);
      throw error;
    }
  }

  private static async startParts(
    root: string,
    temporaryRoot: boolean,
    options: LocalModeOptions,
    undo: Undo,
  ): Promise<LocalMode> {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    // Also an existing dir: it holds the CA's keys, the secrets and the API key pair.
    chmodSync(root, 0o700);
    mkdirSync(path.join(root, 'logs'), { recursive: true, mode: 0o700 });
    const credentials = loadOrCreateLocalCredentials(root);
    const local = localResources();
    const model = options.templateFile
      ? stackModel(readTemplate(options.templateFile))
      : buildStackModel(local.stackName, local.account, local.region);
    const aws = await startEmulator(root, credentials, options, undo);
    // The root CA's certificate (public) next to the state, so users can trust it: curl --cacert, NODE_EXTRA_CA_CERTS.
    const rootCaFile = path.join(root, ROOT_CA_FILE);
    writeFileSync(rootCaFile, aws.ca.rootPem, { mode: 0o644 });
    const instance = randomUUID();
    const { dynalite, ddb } = await startDynamoDb(root, options, model.table, aws, undo);
    const { clients, secrets } = connectHandlerClients(aws, ddb, undo);
    const restoreEnv = installScopedEnvironment();
    undo.push(restoreEnv);
    const functions = loadFunctions(model, local, options);
    const preflightSecretArn = await ensurePreflightSecret(
      secrets,
      functions.variable(ENV.SECRET_NAME_PREFIX),
      local.kmsKeyArn,
    );
    const logs = captureHandlerLogs(path.join(root, 'logs', 'handlers.log'));
    undo.push(() => logs.restore());
    const alerts = new AlertRecorder(path.join(root, 'logs', 'alerts.log'));
    const driftCheck = functions.get(FUNCTION_NAMES.driftCheck).createHandler({ sns: alerts.snsClient() }) as (
      event: unknown,
    ) => Promise<LocalDriftCheckResult>;
    const stepFunctions = startWorkflow(model, functions, alerts, local, options, aws, undo);
    const nodeSettings = nodeSettingsOf(options);
    const nodes = await startNodes(aws, root, options.nodes ?? 3, nodeSettings, undo);
    const ref: { mode?: LocalMode } = {};
    const api = await startApi(
      options.port,
      local,
      aws.credentials,
      instance,
      functions,
      clients.sfn,
      () => ref.mode!,
      undo,
    );
    const endpointFiles = writeEndpointFiles(root, options.endpointFile, instance, api, aws, preflightSecretArn, undo);
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
      instance,
      rootCaFile,
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

  /** Id of this start: the local API answers it (GET /_local/whoami, x-acm-export-local-instance). */
  get instance(): string {
    return this.parts.instance;
  }

  /** The local root CA certificate (PEM, public): trust it to verify what the nodes serve. */
  get rootCaFile(): string {
    return this.parts.rootCaFile;
  }

  /** SHA-256 fingerprint of the root CA certificate, colon hex (as openssl x509 -fingerprint -sha256 shows it). */
  get rootCaFingerprint(): string {
    return new X509Certificate(this.aws.ca.rootPem).fingerprint256;
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

  /**
   * Runs the selected associations now (all, or only install / only report, of every target or of one
   * certificate's target) and returns each association's runs.
   */
  runAssociationsNow(request: LocalAssociationRunRequest = {}): Promise<LocalAssociationRunResult> {
    return runAssociationsNow(
      this.aws.ssm.associations,
      new Map(this.nodes.map((n) => [n.instanceId, n.name])),
      request,
    );
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
    this.driftRun ??= this.parts
      .driftCheck({ id: randomUUID(), source: 'aws.events', 'detail-type': 'Scheduled Event' })
      .finally(() => {
        this.driftRun = undefined;
      });
    return this.driftRun;
  }

  /** Runs the drift check every `intervalMs` (errors are logged by the handler and otherwise ignored). */
  startDriftSchedule(intervalMs: number): void {
    if (!Number.isInteger(intervalMs) || intervalMs < 100)
      throw new LocalModeError('the drift check interval must be at least 100 ms');
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
    if (this.parts.temporaryRoot && existsSync(this.root))
      rmSync(this.root, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }
}

/** The emulated AWS services, with the stack's install document registered. */
async function startEmulator(
  root: string,
  credentials: LocalCredentials,
  options: LocalModeOptions,
  undo: Undo,
): Promise<AwsEmulator> {
  const aws = await startAwsEmulator({
    credentials,
    stateDir: options.stateDir ? root : undefined,
    faults: options.faults ?? faultsFromEnv(),
    ssmMsPerSecond: options.ssmMsPerSecond ?? 50,
    associationMsPerSecond: options.associationMsPerSecond ?? options.ssmMsPerSecond ?? 50,
    documents: Object.fromEntries(
      DOCUMENT_KINDS.map((kind) => [
        LOCAL_DOCUMENT_NAMES[kind],
        loadDocument(kind, localPlacement(root), undefined, localLibraryLocation()),
      ]),
    ),
  });
  undo.push(() => aws.close());
  return aws;
}

/** The local API: the export-api handler behind API Gateway's checks, and the `/_local` controls of `mode()`. */
async function startApi(
  port: number | undefined,
  local: LocalResources,
  credentials: LocalCredentials,
  instance: string,
  functions: LocalFunctions,
  sfn: SFNClient,
  mode: () => LocalMode,
  undo: Undo,
): Promise<LocalApi> {
  const exportApi = functions.get(FUNCTION_NAMES.exportApi);
  const api = new LocalApi({
    port,
    region: local.region,
    account: local.account,
    credentials,
    instance,
    stateMachineArn: local.stateMachineArn,
    sfn,
    readHandler: async (event) => (await exportApi.invoke(event)) as APIGatewayProxyResult,
    control: {
      renew: async (arn) => mode().renew(arn),
      faults: async (request) => {
        mode().setFaults(request as LocalFaultRequest);
        return { ok: true };
      },
      driftCheck: async () => {
        const before = mode().alerts.length;
        const summary = await mode().runDriftCheck();
        // The alerts' subjects only: enough to see what was raised (the messages are in logs/alerts.log).
        const alerts = mode()
          .alerts.slice(before)
          .map((a) => ({ time: a.time, subject: a.subject ?? '' }));
        return { ...summary, alerts };
      },
      runAssociations: async (request) => mode().runAssociationsNow(request),
      whoami: () => ({ instance, root: mode().root, pid: process.pid }),
    },
  });
  try {
    await api.listen();
  } catch (error) {
    throw new LocalModeError(
      `cannot listen on 127.0.0.1:${port ?? 0} (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  undo.push(() => api.close());
  return api;
}

export function startLocalMode(options: LocalModeOptions = {}): Promise<LocalMode> {
  return LocalMode.start(options);
}
