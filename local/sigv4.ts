/**
 * Server-side SigV4 check: recompute the signature of an incoming request with @smithy/signature-v4 and
 * the local key pair, and compare. Used by the local AWS emulator (services acm, secretsmanager, ssm)
 * and the local API (service execute-api), which answers 403 when this fails.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { LocalCredentials } from './credentials';

/** The client side (node:crypto only, used by the local node's `aws`): see sigv4-sign.cjs. */
export { signRequest, type SignableRequest } from './sigv4-sign.cjs';

export interface IncomingSignedRequest {
  method: string;
  /** Raw request target as received: path plus optional `?query`, still percent-encoded. */
  url: string;
  /** Header names in any case; repeated headers joined with `,`. */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer | string;
}

export interface VerifyOptions {
  credentials: LocalCredentials;
  /** Required service in the credential scope, e.g. `execute-api`; any service when omitted. */
  service?: string | readonly string[];
  /** Required region in the credential scope; any region when omitted. */
  region?: string;
  /** Largest allowed difference between X-Amz-Date and now. Default 15 minutes (as AWS). */
  maxSkewMs?: number;
  now?: Date;
}

export type VerifyFailure =
  | 'MissingAuthenticationToken'
  | 'IncompleteSignature'
  | 'UnrecognizedClient'
  | 'InvalidSignature'
  | 'SignatureExpired'
  | 'WrongScope'
  /** x-amz-content-sha256 is UNSIGNED-PAYLOAD or STREAMING-*: the body is not covered by the signature. */
  | 'UnsignedPayload'
  /** The request target cannot be canonicalized (invalid percent-encoding): a client error, answer 400. */
  | 'MalformedRequest';

export type VerifyResult =
  | { ok: true; accessKeyId: string; service: string; region: string }
  | { ok: false; reason: VerifyFailure; message: string; accessKeyId?: string; service?: string };

const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/\s,]+)\/(\d{8})\/([^/\s,]+)\/([^/\s,]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;_.-]+),\s*Signature=([0-9a-f]{64})$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

function header(headers: IncomingSignedRequest['headers'], name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === name) return Array.isArray(v) ? v.join(',') : v;
  }
  return undefined;
}

/** Parses the credential scope without checking the signature (for routing by service). */
export function parseAuthorization(
  value: string | undefined,
):
  | { accessKeyId: string; date: string; region: string; service: string; signedHeaders: string[]; signature: string }
  | undefined {
  const m = value ? AUTH.exec(value.trim()) : null;
  if (!m) return undefined;
  return {
    accessKeyId: m[1],
    date: m[2],
    region: m[3],
    service: m[4],
    signedHeaders: m[5].split(';'),
    signature: m[6],
  };
}

export async function verifySigV4(req: IncomingSignedRequest, options: VerifyOptions): Promise<VerifyResult> {
  const authorization = header(req.headers, 'authorization');
  if (!authorization)
    return { ok: false, reason: 'MissingAuthenticationToken', message: 'Missing Authentication Token' };
  const auth = parseAuthorization(authorization);
  if (!auth)
    return {
      ok: false,
      reason: 'IncompleteSignature',
      message: 'Authorization header is not a valid AWS4-HMAC-SHA256 signature.',
    };
  if (auth.accessKeyId !== options.credentials.accessKeyId)
    return {
      ok: false,
      reason: 'UnrecognizedClient',
      message: 'The security token included in the request is invalid.',
      accessKeyId: auth.accessKeyId,
      service: auth.service,
    };
  const services =
    options.service === undefined
      ? undefined
      : typeof options.service === 'string'
        ? [options.service]
        : options.service;
  if ((services && !services.includes(auth.service)) || (options.region && auth.region !== options.region))
    return {
      ok: false,
      reason: 'WrongScope',
      message: `Credential should be scoped to a valid region and service.`,
      accessKeyId: auth.accessKeyId,
      service: auth.service,
    };
  if (!auth.signedHeaders.includes('host'))
    return {
      ok: false,
      reason: 'IncompleteSignature',
      message: "'Host' must be a 'SignedHeader' in the AWS Authorization.",
    };

  const amzDate = header(req.headers, 'x-amz-date');
  const dm = amzDate ? AMZ_DATE.exec(amzDate) : null;
  if (!dm || !auth.signedHeaders.includes('x-amz-date') || amzDate!.slice(0, 8) !== auth.date)
    return {
      ok: false,
      reason: 'IncompleteSignature',
      message: 'Authorization header requires a signed X-Amz-Date matching the credential scope date.',
    };
  const signingDate = new Date(Date.UTC(+dm[1], +dm[2] - 1, +dm[3], +dm[4], +dm[5], +dm[6]));
  const now = options.now ?? new Date();
  const maxSkew = options.maxSkewMs ?? 15 * 60_000;
  if (Math.abs(now.getTime() - signingDate.getTime()) > maxSkew)
    return {
      ok: false,
      reason: 'SignatureExpired',
      message: `Signature expired: ${amzDate} is now earlier or later than the allowed skew.`,
      accessKeyId: auth.accessKeyId,
      service: auth.service,
    };

  const headers: Record<string, string> = {};
  for (const name of auth.signedHeaders) {
    const value = header(req.headers, name);
    if (value === undefined)
      return {
        ok: false,
        reason: 'IncompleteSignature',
        message: `Signed header '${name}' is missing from the request.`,
        accessKeyId: auth.accessKeyId,
        service: auth.service,
      };
    headers[name] = value;
  }
  const [rawPath, rawQuery = ''] = req.url.split('?', 2);
  const query: Record<string, string | string[]> = {};
  // decodeURIComponent throws URIError on `%zz` or a lone `%`: a malformed request, not a server error.
  try {
    for (const part of rawQuery.split('&').filter(Boolean)) {
      const eq = part.indexOf('=');
      const k = decodeURIComponent((eq < 0 ? part : part.slice(0, eq)).replace(/\+/g, '%20'));
      const v = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1).replace(/\+/g, '%20'));
      const prev = query[k];
      query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
  } catch {
    return {
      ok: false,
      reason: 'MalformedRequest',
      message: 'The query string is not valid percent-encoding.',
      accessKeyId: auth.accessKeyId,
      service: auth.service,
    };
  }
  // The canonical path is built from the path as sent (still percent-encoded): the signer escapes it once
  // more, which is the double encoding AWS uses for every service but S3 (an encoded "/" in a segment
  // stays part of that segment). It must be valid percent-encoding all the same.
  const path = rawPath || '/';
  try {
    decodeURIComponent(path);
  } catch {
    return {
      ok: false,
      reason: 'MalformedRequest',
      message: 'The request path is not valid percent-encoding.',
      accessKeyId: auth.accessKeyId,
      service: auth.service,
    };
  }
  const request = new HttpRequest({
    method: req.method.toUpperCase(),
    protocol: 'http:',
    hostname: (headers.host ?? '').replace(/:\d+$/, ''),
    path,
    query,
    headers,
    body: typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : req.body,
  });
  // The signature must cover the body that arrived: an unsigned or streamed payload could be swapped after
  // signing. Without the header (signed or not) the signer below hashes the body itself, as SigV4 defines.
  const declaredHash = header(req.headers, 'x-amz-content-sha256');
  if (declaredHash !== undefined) {
    const refused =
      declaredHash === 'UNSIGNED-PAYLOAD'
        ? 'UNSIGNED-PAYLOAD'
        : declaredHash.startsWith('STREAMING-')
          ? 'A streaming payload'
          : undefined;
    if (refused !== undefined)
      return {
        ok: false,
        reason: 'UnsignedPayload',
        message: `${refused} is not accepted here: sign the body (x-amz-content-sha256 must be the hex SHA-256 of the body).`,
        accessKeyId: auth.accessKeyId,
        service: auth.service,
      };
    if (
      declaredHash !==
      createHash('sha256')
        .update(request.body as Buffer)
        .digest('hex')
    )
      return {
        ok: false,
        reason: 'InvalidSignature',
        message: 'The provided x-amz-content-sha256 header does not match what was computed.',
        accessKeyId: auth.accessKeyId,
        service: auth.service,
      };
  }
  const signer = new SignatureV4({
    credentials: { accessKeyId: options.credentials.accessKeyId, secretAccessKey: options.credentials.secretAccessKey },
    region: auth.region,
    service: auth.service,
    sha256: Sha256,
    uriEscapePath: auth.service !== 's3',
    // sign exactly the headers the client signed: never add x-amz-content-sha256 on our side
    applyChecksum: false,
  });
  const signed = await signer.sign(request, { signingDate, signingRegion: auth.region, signingService: auth.service });
  const expected = parseAuthorization(String(signed.headers.authorization ?? signed.headers.Authorization ?? ''));
  const a = Buffer.from(expected?.signature ?? '', 'utf8');
  const b = Buffer.from(auth.signature, 'utf8');
  if (!expected || a.length !== b.length || !timingSafeEqual(a, b))
    return {
      ok: false,
      reason: 'InvalidSignature',
      message:
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
      accessKeyId: auth.accessKeyId,
      service: auth.service,
    };
  return { ok: true, accessKeyId: auth.accessKeyId, service: auth.service, region: auth.region };
}
