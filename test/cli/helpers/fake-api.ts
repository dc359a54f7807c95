/**
 * A stand-in for the export API on 127.0.0.1 that checks every request's SigV4 signature the way API Gateway
 * does (recomputes it with the signer package from the received request and the known secret) and answers
 * from a route table with canned api-types bodies.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

export const TEST_CREDENTIALS = { accessKeyId: 'AKIDCLITEST', secretAccessKey: 'cli-test-secret' } as const;
export const TEST_REGION = 'eu-west-1';

export interface ReceivedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
}

export interface Reply {
  status: number;
  body: unknown;
}

export type Route = (request: ReceivedRequest) => Reply | undefined;

export interface FakeApi {
  url: string;
  requests: ReceivedRequest[];
  /** Requests refused because of their signature. */
  rejected: number;
  close(): Promise<void>;
}

function parseAuthorization(
  header: string,
): { accessKeyId: string; date: string; region: string; service: string; signedHeaders: string[] } | undefined {
  const match = header.match(
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/,
  );
  if (!match) return undefined;
  return {
    accessKeyId: match[1],
    date: match[2],
    region: match[3],
    service: match[4],
    signedHeaders: match[5].split(';'),
  };
}

function amzDate(value: string): Date {
  const m = value.match(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/);
  if (!m) return new Date(NaN);
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

/** Recomputes the signature of a received request; undefined when it matches, else why not. */
async function verify(req: http.IncomingMessage, body: string, region: string): Promise<string | undefined> {
  const authorization = req.headers.authorization;
  if (!authorization) return 'Missing Authentication Token';
  const auth = parseAuthorization(authorization);
  if (!auth) return 'Authorization header is malformed';
  if (auth.accessKeyId !== TEST_CREDENTIALS.accessKeyId)
    return 'The security token included in the request is invalid.';
  if (auth.service !== 'execute-api') return `Credential should be scoped to correct service: 'execute-api'.`;
  if (auth.region !== region) return `Credential should be scoped to a valid region.`;
  const dateHeader = req.headers['x-amz-date'];
  if (typeof dateHeader !== 'string') return 'Missing X-Amz-Date';
  const url = new URL(req.url ?? '/', 'http://placeholder');
  const headers: Record<string, string> = {};
  for (const name of auth.signedHeaders) {
    const value = req.headers[name];
    if (value === undefined) return `Signed header ${name} is missing`;
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const [hostname, port] = (req.headers.host ?? '').split(':');
  const request = new HttpRequest({
    method: req.method ?? 'GET',
    protocol: 'http:',
    hostname,
    port: port ? Number(port) : undefined,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams.entries()),
    headers,
    body: body === '' ? undefined : body,
  });
  const signer = new SignatureV4({ credentials: TEST_CREDENTIALS, region, service: 'execute-api', sha256: Sha256 });
  const expected = (await signer.sign(request, { signingDate: amzDate(dateHeader) })) as HttpRequest;
  if (expected.headers.authorization !== authorization) {
    return 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.';
  }
  return undefined;
}

export async function startFakeApi(
  routes: Route[],
  options: { region?: string; basePath?: string } = {},
): Promise<FakeApi> {
  const region = options.region ?? TEST_REGION;
  const basePath = options.basePath ?? '/prod';
  const state = { requests: [] as ReceivedRequest[], rejected: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const send = (status: number, payload: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(payload));
        };
        const problem = await verify(req, body, region);
        if (problem) {
          state.rejected += 1;
          send(403, { message: problem });
          return;
        }
        const url = new URL(req.url ?? '/', 'http://placeholder');
        if (!url.pathname.startsWith(`${basePath}/`)) {
          send(404, { message: 'Not Found' });
          return;
        }
        const received: ReceivedRequest = {
          method: req.method ?? 'GET',
          path: url.pathname.slice(basePath.length),
          query: Object.fromEntries(url.searchParams.entries()),
          body: body ? (JSON.parse(body) as unknown) : undefined,
        };
        state.requests.push(received);
        for (const route of routes) {
          const reply = route(received);
          if (reply) {
            send(reply.status, reply.body);
            return;
          }
        }
        send(404, { message: `no route for ${received.method} ${received.path}` });
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${basePath}/`,
    get requests() {
      return state.requests;
    },
    get rejected() {
      return state.rejected;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
