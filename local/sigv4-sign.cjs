/**
 * Client-side SigV4 (AWS4-HMAC-SHA256) for one request, with node:crypto only: the local node's `aws` loads
 * this instead of the AWS SDK, so a call costs a Node start-up and no more. Plain CommonJS so that the `aws`
 * executable can require it without a TypeScript loader; local/sigv4.ts re-exports it (tested there against
 * the verifier the emulator uses).
 *
 * Scope: what a JSON-protocol call needs (path `/` or any already-encoded path, no query string) and no more.
 */
'use strict';
const { createHash, createHmac } = require('node:crypto');

const sha256Hex = (data) => createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => createHmac('sha256', key).update(data).digest();

/** `20260102T030405Z` for a Date. */
function amzDate(date) {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/**
 * Signs a request and returns its headers with `x-amz-date` and `authorization` added (names lower case).
 * Every header given is signed; `host` must be among them.
 * @param {{ method: string, path: string, headers: Record<string, string>, body: string,
 *   region: string, service: string, accessKeyId: string, secretAccessKey: string, date?: Date }} request
 */
function signRequest(request) {
  const stamp = amzDate(request.date || new Date());
  const day = stamp.slice(0, 8);
  const headers = {};
  for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = String(value).trim();
  if (!headers.host) throw new Error('signRequest: the host header is required');
  headers['x-amz-date'] = stamp;
  const names = Object.keys(headers).sort();
  const canonical = [
    request.method.toUpperCase(),
    // Every service but S3 escapes the (already encoded) path once more: only `%` changes for the paths used here.
    request.path.replace(/%/g, '%25') || '/',
    '',
    ...names.map((n) => `${n}:${headers[n].replace(/\s+/g, ' ')}`),
    '',
    names.join(';'),
    sha256Hex(request.body),
  ].join('\n');
  const scope = `${day}/${request.region}/${request.service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', stamp, scope, sha256Hex(canonical)].join('\n');
  let key = hmac(`AWS4${request.secretAccessKey}`, day);
  for (const part of [request.region, request.service, 'aws4_request']) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${request.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return headers;
}

module.exports = { signRequest };
