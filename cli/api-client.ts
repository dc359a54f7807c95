/**
 * A small client for the export API: resolves the endpoint (--endpoint or the `ApiUrl` output of --stack), the
 * region and the credentials, signs every request with SigV4 for `execute-api`, and maps failures to one-line errors.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type {
  DeleteTargetResponse,
  TargetRemovalResponse,
  ListCertificatesResponse,
  CertificateTargetView,
} from '../lambda/export-api/api-types';
import type { CliIo, Credentials, CredentialsProvider, GlobalOptions } from './context';
import { ApiError, CliError, errorMessage, oneLine } from './errors';

/** Output key of the stack that holds the API's base URL. */
export const API_URL_OUTPUT = 'ApiUrl';
const REQUEST_TIMEOUT_MS = 30_000;

export interface ApiClientConfig {
  endpoint: URL;
  region: string;
  credentials: Credentials | CredentialsProvider;
  fetch: CliIo['fetch'];
  debug?: (line: string) => void;
}

export class ApiClient {
  private readonly signer: SignatureV4;

  constructor(private readonly config: ApiClientConfig) {
    this.signer = new SignatureV4({
      credentials: config.credentials,
      region: config.region,
      service: 'execute-api',
      sha256: Sha256,
    });
  }

  get endpoint(): string {
    return this.config.endpoint.toString();
  }

  /** Region the requests are signed for (the stack's region). */
  get region(): string {
    return this.config.region;
  }

  async request<T>(
    method: 'GET' | 'POST' | 'DELETE',
    route: string,
    options: { query?: Record<string, string | undefined>; body?: unknown } = {},
  ): Promise<T> {
    const base = this.config.endpoint;
    const path = `${base.pathname.replace(/\/+$/, '')}${route}`;
    const query: Record<string, string> = {};
    for (const [key, value] of Object.entries(options.query ?? {})) if (value !== undefined) query[key] = value;
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers: Record<string, string> = { host: base.host, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';

    const unsigned = new HttpRequest({
      method,
      protocol: base.protocol,
      hostname: base.hostname,
      port: base.port ? Number(base.port) : undefined,
      path,
      query,
      headers,
      body,
    });
    let signed: HttpRequest;
    try {
      signed = (await this.signer.sign(unsigned)) as HttpRequest;
    } catch (error) {
      throw new CliError(
        `${method} ${route}`,
        `could not sign the request: no usable AWS credentials (${errorMessage(error)})`,
        'Set --profile or AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or log in with "aws sso login".',
        { cause: error },
      );
    }

    const search = new URLSearchParams(query).toString();
    const url = `${base.protocol}//${base.host}${path}${search ? `?${search}` : ''}`;
    const sendHeaders: Record<string, string> = {};
    for (const [key, value] of Object.entries(signed.headers))
      if (key.toLowerCase() !== 'host') sendHeaders[key] = value;

    let response: Response;
    try {
      response = await this.config.fetch(url, {
        method,
        headers: sendHeaders,
        body,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      throw new CliError(
        `${method} ${route}`,
        `cannot reach ${base.origin} (${errorMessage(error)})`,
        'Check --endpoint or --stack, and the network.',
        { cause: error },
      );
    }
    const text = await response.text();
    this.config.debug?.(`${method} ${url} -> ${response.status}`);
    if (!response.ok) throw new ApiError(method, route, response.status, apiMessage(text, response.statusText));
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(
        `${method} ${route}`,
        `the answer is not JSON (${oneLine(text, 80) || 'empty body'})`,
        'Check that --endpoint points at the export API.',
      );
    }
  }

  /** Every inventory row, following `nextToken`. */
  async allCertificates(
    query: { expiringWithinDays?: number; nodes?: boolean } = {},
  ): Promise<CertificateTargetView[]> {
    const items: CertificateTargetView[] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < 1000; page += 1) {
      const result = await this.listCertificates({ ...query, nextToken });
      items.push(...result.items);
      nextToken = result.nextToken;
      if (!nextToken) break;
    }
    return items;
  }

  listCertificates(query: {
    expiringWithinDays?: number;
    nextToken?: string;
    limit?: number;
    nodes?: boolean;
  }): Promise<ListCertificatesResponse> {
    return this.request<ListCertificatesResponse>('GET', '/certificates', {
      query: {
        expiringWithinDays: query.expiringWithinDays === undefined ? undefined : String(query.expiringWithinDays),
        limit: query.limit === undefined ? undefined : String(query.limit),
        nextToken: query.nextToken,
        nodes: query.nodes ? 'true' : undefined,
      },
    });
  }

  /**
   * `DELETE /certificates/{certificateArn}/targets/{target}` (both URL-encoded as one path segment each);
   * `removeFiles` adds `?removeFiles=true` (the nodes remove the installed files, asynchronously).
   */
  deleteTarget(
    certificateArn: string,
    target: string,
    options: { removeFiles?: boolean } = {},
  ): Promise<DeleteTargetResponse> {
    return this.request<DeleteTargetResponse>(
      'DELETE',
      `/certificates/${encodeURIComponent(certificateArn)}/targets/${encodeURIComponent(target)}`,
      {
        query: { removeFiles: options.removeFiles ? 'true' : undefined },
      },
    );
  }

  /**
   * `GET /certificates/{certificateArn}/targets/{target}/removal`: one check of a removeFiles=true removal
   * (the API deletes the inventory item once every node removed the files).
   */
  targetRemoval(certificateArn: string, target: string): Promise<TargetRemovalResponse> {
    return this.request<TargetRemovalResponse>(
      'GET',
      `/certificates/${encodeURIComponent(certificateArn)}/targets/${encodeURIComponent(target)}/removal`,
    );
  }
}

function apiMessage(text: string, fallback: string): string {
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === 'object') {
      const record = parsed as Record<string, unknown>;
      const message = record.message ?? record.Message;
      if (typeof message === 'string') return message;
    }
  } catch {
    // not JSON: use the text itself
  }
  return text.trim() || fallback || 'no message';
}

/** Builds a client from the global options: endpoint, region and credentials. */
export async function createApiClient(options: GlobalOptions, io: CliIo): Promise<ApiClient> {
  const debug = options.debug ? (line: string) => io.stderr.write(`debug: ${line}\n`) : undefined;
  const profile = options.profile ?? io.env.AWS_PROFILE;
  const endpoint = await resolveEndpoint(options, io, profile);
  const region = resolveRegion(options, io.env, profile, endpoint);
  if (!region) {
    throw new CliError(
      'signing the request',
      'no AWS region is set',
      'Pass --region, or set AWS_REGION, or set a region in the profile.',
    );
  }
  debug?.(`endpoint ${endpoint.toString()}, region ${region}${profile ? `, profile ${profile}` : ''}`);
  return new ApiClient({
    endpoint,
    region,
    credentials: resolveCredentials(io, options.profile),
    fetch: io.fetch,
    debug,
  });
}

/** --endpoint as given, or the `ApiUrl` output of --stack. */
export async function resolveEndpoint(options: GlobalOptions, io: CliIo, profile: string | undefined): Promise<URL> {
  if (options.endpoint && options.stack) {
    throw new CliError(
      'reading the options',
      '--endpoint and --stack cannot be used together',
      'Pass only one of them.',
    );
  }
  let raw = options.endpoint ?? io.env.ACM_EXPORT_ENDPOINT;
  if (!raw && options.stack) {
    const region = resolveRegion(options, io.env, profile, undefined);
    const lookup = io.stackOutputs ?? describeStackOutputs;
    let outputs: Record<string, string>;
    try {
      outputs = await lookup(options.stack, region, profile);
    } catch (error) {
      throw new CliError(
        `looking up stack ${options.stack}`,
        `DescribeStacks failed (${errorMessage(error)})`,
        'Check the stack name, --region and the credentials, or pass --endpoint.',
        { cause: error },
      );
    }
    raw = outputs[API_URL_OUTPUT];
    if (!raw) {
      throw new CliError(
        `looking up stack ${options.stack}`,
        `the stack has no output named ${API_URL_OUTPUT}`,
        'Check that this is the acm-export stack and that it deployed completely, or pass --endpoint.',
      );
    }
  }
  if (!raw) {
    throw new CliError(
      'finding the API',
      'no endpoint given',
      'Pass --endpoint URL or --stack NAME (or set ACM_EXPORT_ENDPOINT).',
    );
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(
      'reading --endpoint',
      'it is not a URL',
      'Pass the API URL, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com/prod/.',
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new CliError(
      'reading --endpoint',
      `unsupported scheme ${url.protocol}`,
      'Use an https:// URL (http:// only for local mode).',
    );
  }
  return url;
}

/** --region, then the region in an execute-api host name, then AWS_REGION / AWS_DEFAULT_REGION, then the profile's region. */
export function resolveRegion(
  options: GlobalOptions,
  env: Record<string, string | undefined>,
  profile: string | undefined,
  endpoint: URL | undefined,
): string | undefined {
  if (options.region) return options.region;
  const fromHost = endpoint?.hostname.match(/\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/)?.[1];
  return fromHost ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? profileRegion(env, profile);
}

/** The `region` of a profile in the shared config file, if any. */
export function profileRegion(
  env: Record<string, string | undefined>,
  profile: string | undefined,
): string | undefined {
  const file = env.AWS_CONFIG_FILE ?? join(env.HOME ?? homedir(), '.aws', 'config');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const wanted = profile ?? 'default';
  let current: string | undefined;
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.replace(/[#;].*$/, '').trim();
    const section = line.match(/^\[\s*(?:profile\s+)?([^\]]+?)\s*\]$/);
    if (section) {
      current = section[1];
      continue;
    }
    const setting = line.match(/^region\s*=\s*(\S+)$/);
    if (setting && current === wanted) return setting[1];
  }
  return undefined;
}

/** The credentials of the CLI's requests: injected ones, environment keys, or the provider chain. */
export function resolveCredentials(io: CliIo, profile: string | undefined): Credentials | CredentialsProvider {
  if (io.credentials) return io.credentials;
  const {
    AWS_ACCESS_KEY_ID: accessKeyId,
    AWS_SECRET_ACCESS_KEY: secretAccessKey,
    AWS_SESSION_TOKEN: sessionToken,
  } = io.env;
  // Same precedence as the provider chain: environment keys first, unless a profile is asked for explicitly.
  if (!profile && accessKeyId && secretAccessKey) return { accessKeyId, secretAccessKey, sessionToken };
  return fromNodeProviderChain(profile ? { profile } : {});
}

/** The outputs of a CloudFormation stack, by output key (DescribeStacks). */
export async function describeStackOutputs(
  stackName: string,
  region: string | undefined,
  profile: string | undefined,
): Promise<Record<string, string>> {
  const client = new CloudFormationClient({
    region,
    ...(profile ? { credentials: fromNodeProviderChain({ profile }) } : {}),
  });
  try {
    const result = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    const outputs: Record<string, string> = {};
    for (const output of result.Stacks?.[0]?.Outputs ?? []) {
      if (output.OutputKey && output.OutputValue) outputs[output.OutputKey] = output.OutputValue;
    }
    return outputs;
  } finally {
    client.destroy();
  }
}
