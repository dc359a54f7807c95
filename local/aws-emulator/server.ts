/**
 * One HTTP server for the emulated AWS JSON 1.1 services: POST / with `X-Amz-Target: <Prefix>.<Operation>`.
 * Requests must be SigV4-signed with the local key pair and satisfy the service model's input constraints
 * (constraints/aws-constraints.json); errors are HTTP 4xx with `{"__type","message"}` and an
 * `x-amzn-errortype` header, as the services send them.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LocalCredentials } from '../credentials';
import { failureFor, type Throttles } from '../faults';
import { parseAuthorization, verifySigV4 } from '../sigv4';
import { serviceForTargetPrefix, validateRequest, validationError } from './constraints/validate';
import { serveS3Get, type LocalS3 } from './s3';
import { AwsServiceError } from './errors';
import type { JsonObject } from './input';

/** Who sent a call, as far as the emulator can tell (one key pair signs every local call). */
export interface CallContext {
  /**
   * The SDK application id of the calling client (`app/<id>` in its user agent; local nodes set their instance
   * id), undefined for clients that set none (the Lambda handlers, tests).
   */
  readonly caller?: string;
}

export type Operation = (input: JsonObject, context: CallContext) => Promise<JsonObject> | JsonObject;

export interface EmulatedService {
  /** X-Amz-Target prefix, e.g. `CertificateManager`. */
  readonly targetPrefix: string;
  /** SigV4 signing name, e.g. `acm`. */
  readonly signingName: string;
  /** Error namespace used in `__type`, e.g. `com.amazonaws.acm`. */
  readonly namespace: string;
  /** AWS JSON protocol version (default 1.1; Step Functions speaks 1.0). */
  readonly jsonVersion?: '1.0' | '1.1';
  readonly operations: Readonly<Record<string, Operation>>;
}

/** One API call as received and answered (request and response bodies, parsed). Kept for leak scans. */
export interface ApiRecord {
  seq: number;
  time: string;
  requestId: string;
  service: string;
  operation: string;
  statusCode: number;
  request: unknown;
  response?: unknown;
  error?: { type: string; message: string };
  /** See {@link CallContext.caller}. */
  caller?: string;
}

/**
 * The `app/<id>` entry of a user agent (`userAgentAppId` in SDK v3, `AWS_SDK_UA_APP_ID` / `sdk_ua_app_id` in
 * the AWS CLI).
 */
export function callerOf(headers: IncomingMessage['headers']): string | undefined {
  for (const name of ['x-amz-user-agent', 'user-agent']) {
    const value = headers[name];
    const match = typeof value === 'string' ? /(?:^|\s)app\/([^\s]+)/.exec(value) : null;
    if (match) return match[1];
  }
  return undefined;
}

export interface ServerOptions {
  services: EmulatedService[];
  credentials: LocalCredentials;
  throttles: Throttles;
  /** Armed call failures (fault switch `fail`), counted like throttles. */
  failures?: Throttles;
  /** Full signature check (default true); the access key id is always checked. */
  verifySignatures?: boolean;
  /** S3 objects served to `GET /<bucket>/<key>` (S3's GetObject, path style). */
  s3?: LocalS3;
}

const MAX_BODY = 6 * 1024 * 1024;

export class JsonProtocolServer {
  readonly records: ApiRecord[] = [];
  private readonly calls = new Map<string, number>();
  /** Per caller (see {@link CallContext.caller}; `unknown` when none): `service:Operation` → count. */
  private readonly callerCalls = new Map<string, Map<string, number>>();
  private readonly server: Server;
  private seq = 0;

  constructor(private readonly options: ServerOptions) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent)
          this.sendError(
            res,
            new AwsServiceError('InternalFailure', err instanceof Error ? err.message : 'internal error', 500),
          );
      });
    });
    this.server.keepAliveTimeout = 1000;
  }

  async listen(port = 0): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Calls received per `service:Operation` (throttled and failed calls included). */
  callCount(key: string): number {
    if (key.includes(':')) return this.calls.get(key) ?? 0;
    let n = 0;
    for (const [k, v] of this.calls) if (k.endsWith(`:${key}`)) n += v;
    return n;
  }

  callCounts(): Record<string, number> {
    return Object.fromEntries(this.calls);
  }

  resetCallCounts(): void {
    this.calls.clear();
    this.callerCalls.clear();
  }

  /**
   * Per caller, calls received per `service:Operation` (throttled and failed ones included), plus the calls a
   * service made on the caller's behalf ({@link countCallerCall}, e.g. Secrets Manager's `kms:Decrypt`).
   */
  callCountsByCaller(): Record<string, Record<string, number>> {
    return Object.fromEntries([...this.callerCalls].map(([caller, calls]) => [caller, Object.fromEntries(calls)]));
  }

  /** Counts one call for a caller (a service calling another with the caller's permissions). */
  countCallerCall(caller: string | undefined, key: string): void {
    const name = caller ?? 'unknown';
    let calls = this.callerCalls.get(name);
    if (!calls) this.callerCalls.set(name, (calls = new Map()));
    calls.set(key, (calls.get(key) ?? 0) + 1);
  }

  /** Serves one more service on the same port (e.g. local Step Functions). */
  addService(service: EmulatedService): void {
    if (this.options.services.some((s) => s.targetPrefix === service.targetPrefix))
      throw new Error(`service ${service.targetPrefix} is already served`);
    this.options.services.push(service);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY)
        return this.sendError(res, new AwsServiceError('SerializationException', 'Request body too large', 413));
      chunks.push(chunk as Buffer);
    }
    const body = Buffer.concat(chunks);
    if (req.method === 'GET' && this.options.s3) {
      this.calls.set('s3:GetObject', (this.calls.get('s3:GetObject') ?? 0) + 1);
      this.countCallerCall(callerOf(req.headers), 's3:GetObject');
      return serveS3Get(req, res, this.options.s3, this.options.credentials, this.options.verifySignatures !== false);
    }
    const target = String(req.headers['x-amz-target'] ?? '');
    const dot = target.lastIndexOf('.');
    const prefix = target.slice(0, dot);
    const opName = target.slice(dot + 1);
    const service = this.options.services.find((s) => s.targetPrefix === prefix);
    if (req.method !== 'POST' || !service || dot < 0) {
      return this.sendError(
        res,
        new AwsServiceError('UnknownOperationException', `Unknown target: ${target.slice(0, 120)}`),
      );
    }

    const scope = parseAuthorization(
      typeof req.headers.authorization === 'string' ? req.headers.authorization : undefined,
    );
    if (!scope)
      return this.sendError(
        res,
        new AwsServiceError('MissingAuthenticationTokenException', 'Missing Authentication Token'),
      );
    if (scope.accessKeyId !== this.options.credentials.accessKeyId)
      return this.sendError(
        res,
        new AwsServiceError('UnrecognizedClientException', 'The security token included in the request is invalid.'),
      );
    if (this.options.verifySignatures !== false) {
      const verdict = await verifySigV4(
        { method: req.method, url: req.url ?? '/', headers: req.headers, body },
        { credentials: this.options.credentials, service: service.signingName },
      );
      if (!verdict.ok) {
        const type =
          verdict.reason === 'SignatureExpired'
            ? 'InvalidSignatureException'
            : verdict.reason === 'IncompleteSignature'
              ? 'IncompleteSignatureException'
              : 'InvalidSignatureException';
        return this.sendError(res, new AwsServiceError(type, verdict.message));
      }
    }

    const key = `${service.signingName}:${opName}`;
    this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
    const caller = callerOf(req.headers);
    this.countCallerCall(caller, key);
    const requestId = randomUUID();
    const record: ApiRecord = {
      seq: ++this.seq,
      time: new Date().toISOString(),
      requestId,
      service: service.signingName,
      operation: opName,
      statusCode: 200,
      request: undefined,
      ...(caller !== undefined ? { caller } : {}),
    };
    this.records.push(record);

    let input: JsonObject;
    try {
      const text = body.length ? body.toString('utf8') : '{}';
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      input = parsed as JsonObject;
      record.request = input;
    } catch {
      record.request = body.toString('utf8');
      return this.sendError(
        res,
        new AwsServiceError('SerializationException', 'Start of structure or map found where not expected.'),
        record,
        service,
      );
    }

    const operation = Object.prototype.hasOwnProperty.call(service.operations, opName)
      ? service.operations[opName]
      : undefined;
    if (!operation)
      return this.sendError(
        res,
        new AwsServiceError('UnknownOperationException', `Operation ${opName} is not supported by the local emulator.`),
        record,
        service,
      );
    if (this.options.throttles.take(service.signingName, opName)) {
      return this.sendError(res, new AwsServiceError('ThrottlingException', 'Rate exceeded'), record, service);
    }
    if (this.options.failures?.take(service.signingName, opName)) {
      const f = failureFor(service.signingName);
      return this.sendError(res, new AwsServiceError(f.type, f.message, f.statusCode), record, service);
    }
    // AWS rejects input that breaks the service model's constraints before the operation runs.
    const modeledService = serviceForTargetPrefix(service.targetPrefix);
    if (modeledService) {
      const violations = validateRequest(modeledService, opName, input);
      if (violations.length > 0) return this.sendError(res, validationError(violations), record, service);
    }
    try {
      const output = await operation(input, { ...(caller !== undefined ? { caller } : {}) });
      record.response = output;
      const payload = JSON.stringify(output);
      res.writeHead(200, {
        'content-type': `application/x-amz-json-${service.jsonVersion ?? '1.1'}`,
        'content-length': Buffer.byteLength(payload),
        'x-amzn-requestid': requestId,
      });
      res.end(payload);
    } catch (err) {
      const e =
        err instanceof AwsServiceError
          ? err
          : new AwsServiceError('InternalFailure', err instanceof Error ? err.message : 'internal error', 500);
      this.sendError(res, e, record, service);
    }
  }

  private sendError(res: ServerResponse, err: AwsServiceError, record?: ApiRecord, service?: EmulatedService): void {
    const requestId = record?.requestId ?? randomUUID();
    const type = service ? `${service.namespace}#${err.type}` : err.type;
    const payload = JSON.stringify({ __type: type, message: err.message, ...err.extra });
    if (record) {
      record.statusCode = err.statusCode;
      record.error = { type: err.type, message: err.message };
    }
    res.writeHead(err.statusCode, {
      'content-type': `application/x-amz-json-${service?.jsonVersion ?? '1.1'}`,
      'content-length': Buffer.byteLength(payload),
      'x-amzn-requestid': requestId,
      'x-amzn-errortype': `${err.type}:`,
    });
    res.end(payload);
  }
}
