/**
 * The local AWS emulator: ACM, Secrets Manager and SSM over the AWS JSON 1.1 protocol on one
 * 127.0.0.1 port, for the unmodified SDK v3 clients (and the AWS CLI with --endpoint-url).
 *
 *   const aws = await startAwsEmulator({ stateDir });
 *   const acm = new ACMClient(aws.clientConfig());
 *   ...
 *   await aws.close();
 */
import type { DocumentKind } from '../../ssm-documents/load';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { SsmCommandDocument } from '../../ssm-documents/load';
import { LocalCa } from '../ca';
import { generateLocalCredentials, LOCAL_ACCOUNT_ID, LOCAL_REGION, type LocalCredentials } from '../credentials';
import { faultsFromEnv, Throttles, type FaultSpec } from '../faults';
import { AcmService } from './acm';
import { SecretsManagerService } from './secrets';
import { LocalS3 } from './s3';
import { JsonProtocolServer, type ApiRecord, type EmulatedService } from './server';
import { LocalEventBus } from './event-bus';
import { SsmService } from './ssm';

export { AcmService, type AcmCertificateAvailableEvent } from './acm';
export { SecretsManagerService } from './secrets';
export { SsmService } from './ssm';
export { LocalEventBus, type BusEvent } from './event-bus';
export type { CustomInventoryItem, ManagedNode, NodeExecutor, StepRequest, StepResult } from './managed-nodes';
export { StateManager, type AssociationRun, type AssociationRunReason } from './associations';
export { InventoryStore } from './inventory';
export type { ApiRecord, CallContext, EmulatedService, Operation } from './server';
export { AwsServiceError } from './errors';

/** Names the node documents are registered under in local mode, by action. */
export const LOCAL_DOCUMENT_NAMES = {
  install: 'AcmExport-InstallACMCertificate',
  report: 'AcmExport-ReportACMCertificate',
  remove: 'AcmExport-RemoveACMCertificate',
  preflight: 'AcmExport-PreflightACMNode',
} as const satisfies Record<DocumentKind, string>;
/** Name the install document is registered under in local mode. */
export const LOCAL_INSTALL_DOCUMENT_NAME = LOCAL_DOCUMENT_NAMES.install;

export interface AwsEmulatorOptions {
  port?: number;
  region?: string;
  accountId?: string;
  /** The key pair it accepts (default: a new random one, see `credentials`). */
  credentials?: LocalCredentials;
  /** Persist the CA, certificates and secrets here (restart keeps them). In memory when omitted. */
  stateDir?: string;
  /** Fault switches; defaults to the ACM_EXPORT_LOCAL_* environment variables. */
  faults?: FaultSpec;
  /** Real milliseconds per emulated second for SSM delivery/execution timeouts (default 1000). */
  ssmMsPerSecond?: number;
  /** Real milliseconds per emulated second of State Manager association schedules (default: ssmMsPerSecond). */
  associationMsPerSecond?: number;
  /** Check full SigV4 signatures (default true). The access key id is always checked. */
  verifySignatures?: boolean;
  /** Documents to register at start, by name. */
  documents?: Record<string, SsmCommandDocument>;
}

export interface SdkClientConfig {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export class AwsEmulator {
  readonly throttles = new Throttles();
  /** Armed call failures (fault switch `fail`). */
  readonly failures = new Throttles();
  /** S3 GetObject of the node library (and any object a test puts). */
  readonly s3 = new LocalS3();
  private server!: JsonProtocolServer;
  private port = 0;
  private saveTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly region: string,
    readonly accountId: string,
    readonly credentials: LocalCredentials,
    readonly ca: LocalCa,
    readonly acm: AcmService,
    readonly secrets: SecretsManagerService,
    readonly ssm: SsmService,
    /** EventBridge's default bus, locally: Run Command publishes its command status changes here. */
    readonly events: LocalEventBus,
    readonly faults: FaultSpec,
    private readonly stateFile: string | undefined,
  ) {}

  static async start(options: AwsEmulatorOptions = {}): Promise<AwsEmulator> {
    const region = options.region ?? LOCAL_REGION;
    const accountId = options.accountId ?? LOCAL_ACCOUNT_ID;
    const credentials = options.credentials ?? generateLocalCredentials();
    const faults = options.faults ?? faultsFromEnv();
    const dir = options.stateDir ? path.join(options.stateDir, 'aws') : undefined;
    if (dir) mkdirSync(dir, { recursive: true, mode: 0o700 });
    const ca = await LocalCa.create(dir ? { stateDir: dir } : {});
    const ref: { emulator?: AwsEmulator } = {};
    const onChange = (): void => ref.emulator?.scheduleSave();
    const acm = new AcmService({
      ca,
      region,
      accountId,
      notExportable: faults.notExportable,
      pending: faults.pending,
      onChange,
    });
    const secrets = new SecretsManagerService({
      region,
      accountId,
      onChange,
      onDecrypt: (caller) => ref.emulator?.server.countCallerCall(caller, 'kms:Decrypt'),
    });
    const events = new LocalEventBus();
    const ssm = new SsmService({
      region,
      accountId,
      eventBus: events,
      ...(options.ssmMsPerSecond !== undefined ? { msPerSecond: options.ssmMsPerSecond } : {}),
      ...(options.associationMsPerSecond !== undefined
        ? { associationMsPerSecond: options.associationMsPerSecond }
        : {}),
    });
    const stateFile = dir ? path.join(dir, 'state.json') : undefined;
    const emulator = new AwsEmulator(region, accountId, credentials, ca, acm, secrets, ssm, events, faults, stateFile);
    ref.emulator = emulator;
    if (stateFile && existsSync(stateFile)) {
      const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { acm?: unknown; secrets?: unknown };
      acm.restore(state.acm);
      secrets.restore(state.secrets);
    }
    for (const [op, n] of Object.entries(faults.throttle)) emulator.throttles.throttle(op, n);
    for (const [op, n] of Object.entries(faults.fail ?? {})) emulator.failures.throttle(op, n);
    for (const [name, doc] of Object.entries(options.documents ?? {})) ssm.registerDocument(name, doc);
    emulator.server = new JsonProtocolServer({
      services: [acm.service(), secrets.service(), ssm.service()],
      credentials,
      throttles: emulator.throttles,
      failures: emulator.failures,
      s3: emulator.s3,
      ...(options.verifySignatures !== undefined ? { verifySignatures: options.verifySignatures } : {}),
    });
    emulator.port = await emulator.server.listen(options.port ?? 0);
    return emulator;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Configuration for any SDK v3 client: `new ACMClient(aws.clientConfig())`. */
  clientConfig(): SdkClientConfig {
    return { endpoint: this.endpoint, region: this.region, credentials: { ...this.credentials } };
  }

  /** Every API call received, with request and response bodies (for leak scans). */
  get records(): readonly ApiRecord[] {
    return this.server.records;
  }

  clearRecords(): void {
    this.server.records.length = 0;
  }

  /** The next `count` calls of `operation` (`Op` or `service:Op`) fail with ThrottlingException. */
  throttle(operation: string, count: number): void {
    this.throttles.throttle(operation, count);
  }

  /** The next `count` calls of `operation` (`Op` or `service:Op`) fail with a non-retryable service error. */
  fail(operation: string, count: number): void {
    this.failures.throttle(operation, count);
  }

  /** Serves another emulated service on this endpoint (local Step Functions uses it). */
  addService(service: EmulatedService): void {
    this.server.addService(service);
  }

  callCount(operation: string): number {
    return this.server.callCount(operation);
  }

  callCounts(): Record<string, number> {
    return this.server.callCounts();
  }

  resetCallCounts(): void {
    this.server.resetCallCounts();
  }

  /**
   * Per caller (a local node's instance id, or `unknown`), calls per `service:Operation`, including the
   * `kms:Decrypt` Secrets Manager makes with the caller's permissions for each secret value it returns.
   */
  callCountsByCaller(): Record<string, Record<string, number>> {
    return this.server.callCountsByCaller();
  }

  private scheduleSave(): void {
    if (!this.stateFile || this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.saveNow();
    }, 20);
  }

  /** Writes the persisted state now (called on close too). */
  saveNow(): void {
    if (!this.stateFile) return;
    const tmp = `${this.stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify({ acm: this.acm.snapshot(), secrets: this.secrets.snapshot() }), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.stateFile);
  }

  async close(): Promise<void> {
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
    }
    this.ssm.close();
    this.saveNow();
    await this.server.close();
  }
}

export function startAwsEmulator(options: AwsEmulatorOptions = {}): Promise<AwsEmulator> {
  return AwsEmulator.start(options);
}
