/**
 * The S3 of local mode: GetObject only (path style, `GET /<bucket>/<key>`), SigV4-checked like the JSON services,
 * errors as the XML S3 sends (404 NoSuchKey, 403 AccessDenied / SignatureDoesNotMatch). It serves the node
 * library asset the install document names, so a local node fetches and checks it as a real one does.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { nodeLibrary, type LibraryLocation } from '../../ssm-documents/load';
import { LOCAL_REGION, type LocalCredentials } from '../credentials';
import { verifySigV4 } from '../sigv4';

/** The bucket that stands in for the CDK asset bucket in local mode. */
export const LOCAL_ASSET_BUCKET = 'acm-export-local-assets';

/** Where local mode's documents say the node library lies (the emulator serves it there from its start). */
export function localLibraryLocation(region: string = LOCAL_REGION): LibraryLocation {
  return { bucket: LOCAL_ASSET_BUCKET, key: `${nodeLibrary().sha256}.sh`, region };
}

/** Objects by bucket and key; the node library is there from the start, where localLibraryLocation says. */
export class LocalS3 {
  private readonly objects = new Map<string, Buffer>();

  constructor() {
    const { bucket, key } = localLibraryLocation();
    this.putObject(bucket, key, nodeLibrary().text);
  }

  putObject(bucket: string, key: string, body: string | Buffer): void {
    this.objects.set(`${bucket}/${key}`, Buffer.from(body));
  }

  deleteObject(bucket: string, key: string): void {
    this.objects.delete(`${bucket}/${key}`);
  }

  getObject(bucket: string, key: string): Buffer | undefined {
    return this.objects.get(`${bucket}/${key}`);
  }
}

const xmlEscape = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

function sendXmlError(res: ServerResponse, status: number, code: string, message: string, resource: string): void {
  const requestId = randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase();
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message><Resource>${xmlEscape(resource)}</Resource><RequestId>${requestId}</RequestId></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'x-amz-request-id': requestId });
  res.end(body);
}

/** Answers one GET request; the caller has counted it. */
export async function serveS3Get(
  req: IncomingMessage,
  res: ServerResponse,
  s3: LocalS3,
  credentials: LocalCredentials,
  verify: boolean,
): Promise<void> {
  const url = req.url ?? '/';
  const match = /^\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/([^?]+)$/.exec(url);
  if (verify) {
    const verdict = await verifySigV4(
      { method: 'GET', url, headers: req.headers, body: Buffer.alloc(0) },
      { credentials, service: 's3' },
    );
    if (!verdict.ok) {
      const code = verdict.reason === 'SignatureExpired' ? 'RequestTimeTooSkewed' : 'SignatureDoesNotMatch';
      return sendXmlError(
        res,
        403,
        verdict.reason === 'UnrecognizedClient' ? 'InvalidAccessKeyId' : code,
        verdict.message,
        url,
      );
    }
  }
  if (!match) return sendXmlError(res, 403, 'AccessDenied', 'Access Denied', url);
  const key = decodeURIComponent(match[2]);
  const body = s3.getObject(match[1], key);
  if (body === undefined) return sendXmlError(res, 404, 'NoSuchKey', 'The specified key does not exist.', key);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
  res.end(body);
}
