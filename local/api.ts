/**
 * The local export API: the routes, request validation and responses of the deployed API Gateway stage
 * (lib/constructs/export-api.ts), on 127.0.0.1 under `/<stage>/`.
 *
 *   POST /exports            SigV4 (execute-api) → body ≤ 64 KiB (413) → application/json only (415) → the
 *                            structural model of the deployed API (400 with the same fixed message) →
 *                            export-api handler (proxy event): zod validation (400 naming field and rule),
 *                            StartExecution (name = request id) → {exportId, executionArn, startDate}
 *   GET  /exports/{exportId} → export-api handler (proxy event)
 *   GET  /certificates       → export-api handler (proxy event)
 *   DELETE /certificates/{certificateArn}/targets/{target}
 *   GET  /certificates/{certificateArn}/targets/{target}/removal
 *                            → export-api handler (proxy event; path parameters URL-decoded, as API Gateway)
 *   POST /_local/renew       local control: {certificateArn} → re-issue + "ACM Certificate Available" event
 *   POST /_local/faults      local control: fault switches (see LocalFaultRequest)
 *   POST /_local/drift-check local control: run the drift-check handler now → its summary
 *   POST /_local/associations/run  local control: {kind?, certificateArn?, target?} → run the associations
 *                            (install, report or both; every target or one) now → the runs (LocalAssociationRunRequest)
 *   GET  /_local/whoami      local control: {instance, root, pid}, so a client can check it reached the instance
 *                            it meant (every answer also carries the instance in x-acm-export-local-instance)
 *
 * Every request must be signed with the local key pair, else 403 and nothing runs (400 when the request
 * target is not valid percent-encoding, so it cannot be checked).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { z } from 'zod';
import { exportRequestStructure, matchesStructure, structuralErrorMessage } from '../lambda/export-api/api-model';
import type { LocalCredentials } from './credentials';
import { LocalModeError } from './errors';
import { verifySigV4 } from './sigv4';

export const LOCAL_STAGE = 'v1';
/** Largest accepted request body (an accepted ExportRequest is a few kilobytes). */
export const MAX_API_BODY = 64 * 1024;

/** The deployed API's request model and its BAD_REQUEST_BODY message (lib/constructs/export-api.ts). */
const STRUCTURE = exportRequestStructure();
const BAD_BODY = structuralErrorMessage(STRUCTURE);

/** One API call as answered (for leak scans and tests). */
export interface ApiCallRecord {
  time: string;
  requestId: string;
  method: string;
  path: string;
  statusCode: number;
  responseBody: string;
}

/** Response header naming the instance that answered (the `instance` of its endpoint file). */
export const INSTANCE_HEADER = 'x-acm-export-local-instance';

/** Body of `POST /_local/associations/run`: which associations to run now (all when empty). */
export const LocalAssociationRunRequest = z
  .strictObject({
    /** Only the install associations, or only the report associations (report document). */
    kind: z.enum(['install', 'report']).optional(),
    /** Only the associations of this certificate's target (needs target). */
    certificateArn: z.string().min(1).max(2048).optional(),
    /** `<TagKey>=<TagValue>`, with certificateArn. */
    target: z.string().min(3).max(400).optional(),
  })
  .refine((r) => (r.certificateArn === undefined) === (r.target === undefined), {
    message: 'certificateArn and target go together',
  });
export type LocalAssociationRunRequest = z.infer<typeof LocalAssociationRunRequest>;

/** What `GET /_local/whoami` answers. */
export interface LocalWhoami {
  instance: string;
  root: string;
  pid: number;
}

export interface LocalApiControl {
  renew(certificateArn: string): Promise<unknown>;
  faults(request: unknown): Promise<unknown>;
  driftCheck?(): Promise<unknown>;
  runAssociations?(request: LocalAssociationRunRequest): Promise<unknown>;
  whoami?(): LocalWhoami;
}

export interface LocalApiOptions {
  port?: number;
  region: string;
  account: string;
  credentials: LocalCredentials;
  /** Unused: the export-api handler starts executions with its own client and environment. */
  stateMachineArn?: string;
  /** Unused (see stateMachineArn). */
  sfn?: SFNClient;
  /** The export-api handler: POST /exports, GET /exports/{exportId}, GET /certificates, DELETE .../targets/{target}. */
  readHandler: (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;
  control: LocalApiControl;
  /** Sent in {@link INSTANCE_HEADER} on every answer. */
  instance?: string;
}

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

export class LocalApi {
  readonly calls: ApiCallRecord[] = [];
  private readonly server: Server;
  private port = 0;

  constructor(private readonly options: LocalApiOptions) {
    this.server = createServer((req, res) => {
      void this.handle(req, res);
    });
    this.server.keepAliveTimeout = 1000;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Base URL of the stage, e.g. `http://127.0.0.1:4510/v1/`. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}/${LOCAL_STAGE}/`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private send(res: ServerResponse, record: ApiCallRecord, statusCode: number, body: unknown): void {
    const payload = typeof body === 'string' ? body : JSON.stringify(body);
    record.statusCode = statusCode;
    record.responseBody = payload;
    this.calls.push(record);
    res.writeHead(statusCode, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(payload),
      'x-amzn-requestid': record.requestId,
      ...(this.options.instance ? { [INSTANCE_HEADER]: this.options.instance } : {}),
    });
    res.end(payload);
  }

  private async readBody(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_API_BODY) throw new HttpError(413, 'Request Too Long');
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const started = Date.now();
    const url = req.url ?? '/';
    const method = (req.method ?? 'GET').toUpperCase();
    const record: ApiCallRecord = {
      time: new Date(started).toISOString(),
      requestId,
      method,
      path: url.split('?')[0].slice(0, 300),
      statusCode: 0,
      responseBody: '',
    };
    try {
      let body: Buffer;
      try {
        body = await this.readBody(req);
      } catch (error) {
        if (error instanceof HttpError) {
          req.resume();
          return this.send(res, record, error.statusCode, { message: error.message });
        }
        throw error;
      }
      const verdict = await verifySigV4(
        { method, url, headers: req.headers, body },
        { credentials: this.options.credentials, service: 'execute-api', region: this.options.region },
      );
      // A target that cannot be decoded is the client's error (400), any other failed check is 403.
      if (!verdict.ok)
        return this.send(res, record, verdict.reason === 'MalformedRequest' ? 400 : 403, { message: verdict.message });

      const [rawPath, rawQuery = ''] = url.split('?', 2);
      const prefix = `/${LOCAL_STAGE}`;
      if (!rawPath.startsWith(`${prefix}/`))
        return this.send(res, record, 403, { message: 'Missing Authentication Token' });
      const route = rawPath.slice(prefix.length).replace(/\/+$/, '') || '/';

      if (route === '/exports' && method === 'POST')
        return this.send(res, record, ...(await this.startExport(req, body, requestId)));
      const statusMatch = /^\/exports\/([^/]+)$/.exec(route);
      if ((statusMatch || route === '/certificates') && method === 'GET') {
        const query = new URLSearchParams(rawQuery);
        const queryStringParameters: Record<string, string> = {};
        for (const [k, v] of query) queryStringParameters[k] = v;
        const event = {
          resource: statusMatch ? '/exports/{exportId}' : '/certificates',
          path: route,
          httpMethod: 'GET',
          headers: {},
          multiValueHeaders: {},
          queryStringParameters: Object.keys(queryStringParameters).length ? queryStringParameters : null,
          multiValueQueryStringParameters: null,
          pathParameters: statusMatch ? { exportId: safeDecode(statusMatch[1]) } : null,
          stageVariables: null,
          body: null,
          isBase64Encoded: false,
          requestContext: {
            requestId,
            stage: LOCAL_STAGE,
            httpMethod: 'GET',
            resourcePath: statusMatch ? '/exports/{exportId}' : '/certificates',
          },
        } as unknown as APIGatewayProxyEvent;
        const result = await this.options.readHandler(event);
        return this.send(res, record, result.statusCode, result.body);
      }
      const targetMatch = /^\/certificates\/([^/]+)\/targets\/([^/]+)$/.exec(route);
      const removalMatch = /^\/certificates\/([^/]+)\/targets\/([^/]+)\/removal$/.exec(route);
      if ((targetMatch && method === 'DELETE') || (removalMatch && method === 'GET')) {
        const [, certificateArn, target] = (targetMatch ?? removalMatch)!;
        const query = new URLSearchParams(rawQuery);
        const queryStringParameters: Record<string, string> = {};
        for (const [k, v] of query) queryStringParameters[k] = v;
        const resource = `/certificates/{certificateArn}/targets/{target}${removalMatch ? '/removal' : ''}`;
        const event = {
          resource,
          path: route,
          httpMethod: method,
          headers: {},
          multiValueHeaders: {},
          queryStringParameters: Object.keys(queryStringParameters).length ? queryStringParameters : null,
          multiValueQueryStringParameters: null,
          pathParameters: { certificateArn: safeDecode(certificateArn), target: safeDecode(target) },
          stageVariables: null,
          body: null,
          isBase64Encoded: false,
          requestContext: { requestId, stage: LOCAL_STAGE, httpMethod: method, resourcePath: resource },
        } as unknown as APIGatewayProxyEvent;
        const result = await this.options.readHandler(event);
        return this.send(res, record, result.statusCode, result.body);
      }
      if (route === '/_local/whoami' && method === 'GET' && this.options.control.whoami)
        return this.send(res, record, 200, this.options.control.whoami());
      if (route.startsWith('/_local/') && method === 'POST') {
        const input = parseJson(body);
        if (route === '/_local/renew') {
          const arn =
            input && typeof input === 'object' ? (input as { certificateArn?: unknown }).certificateArn : undefined;
          if (typeof arn !== 'string') return this.send(res, record, 400, { message: 'certificateArn: is required' });
          return this.send(res, record, 200, await this.options.control.renew(arn));
        }
        if (route === '/_local/faults') return this.send(res, record, 200, await this.options.control.faults(input));
        if (route === '/_local/drift-check' && this.options.control.driftCheck)
          return this.send(res, record, 200, await this.options.control.driftCheck());
        if (route === '/_local/associations/run' && this.options.control.runAssociations) {
          const request = LocalAssociationRunRequest.safeParse(input ?? {});
          if (!request.success) {
            const issue = request.error.issues[0];
            const at = issue?.path.length ? `${issue.path.join('.')}: ` : '';
            return this.send(res, record, 400, { message: `${at}${issue?.message ?? 'invalid request'}` });
          }
          return this.send(res, record, 200, await this.options.control.runAssociations(request.data));
        }
      }
      // API Gateway answers unknown resources and methods of an IAM API like this.
      return this.send(res, record, 403, { message: 'Missing Authentication Token' });
    } catch (error) {
      if (error instanceof HttpError) return this.send(res, record, error.statusCode, { message: error.message });
      // Local control calls report the emulator's own errors (unknown certificate, bad fault switch).
      if (record.path.includes('/_local/') && error instanceof Error)
        return this.send(res, record, 400, {
          message: (error instanceof LocalModeError ? error.message : `${error.name}: ${error.message}`).slice(0, 300),
        });
      const name = error instanceof Error ? error.name : 'Error';
      return this.send(res, record, 500, { message: `internal error (${name.replace(/[^A-Za-z0-9]/g, '')})` });
    }
  }

  /** What API Gateway does before the integration (content type, model), then the proxy integration. */
  private async startExport(req: IncomingMessage, body: Buffer, requestId: string): Promise<[number, unknown]> {
    const contentType = String(req.headers['content-type'] ?? 'application/json')
      .split(';')[0]
      .trim()
      .toLowerCase();
    if (contentType !== 'application/json') return [415, { message: 'Unsupported Media Type' }];
    if (!matchesStructure(parseJson(body), STRUCTURE)) return [400, { message: BAD_BODY }];
    const text = body.toString('utf8');
    const event = {
      resource: '/exports',
      path: '/exports',
      httpMethod: 'POST',
      headers: { 'content-type': String(req.headers['content-type'] ?? 'application/json') },
      multiValueHeaders: {},
      queryStringParameters: null,
      multiValueQueryStringParameters: null,
      pathParameters: null,
      stageVariables: null,
      body: text,
      isBase64Encoded: false,
      requestContext: { requestId, stage: LOCAL_STAGE, httpMethod: 'POST', resourcePath: '/exports' },
    } as unknown as APIGatewayProxyEvent;
    const result = await this.options.readHandler(event);
    return [result.statusCode, result.body];
  }
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
