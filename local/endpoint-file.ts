/** The endpoint file: how `acm-export local ...` and `acm-export selftest --local` find a running local mode. */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { LocalApi } from './api';
import { LOCAL_DOCUMENT_NAMES, type AwsEmulator } from './aws-emulator';
import type { Undo } from './undo';

/** Name of the endpoint file in the local-mode root. */
export const ENDPOINT_FILE = 'endpoint.json';

/** The local CA's root certificate (public, PEM) in the local-mode root: what clients trust. */
export const ROOT_CA_FILE = 'root-ca.pem';

/** Content of `endpoint.json`: how `acm-export local renew` finds a running local mode. */
export interface LocalEndpointFile {
  endpoint: string;
  region: string;
  /** The access key id only: clients read the secret from the state dir's credentials.json (mode 600). */
  accessKeyId: string;
  pid: number;
  root: string;
  /**
   * Unique per start: the local API answers it (`GET /_local/whoami`, and a header on every answer), so a
   * client can tell this instance from another one that got the port later; close() removes a shared
   * endpoint file only while it still names this instance.
   */
  instance: string;
  /** The root CA certificate file (public). */
  rootCaFile: string;
  /** What `acm-export selftest --local` needs besides the API: the emulated AWS endpoint and the stack's names. */
  awsEndpoint: string;
  /** The preflight document selftest sends. */
  preflightDocumentName: string;
  preflightSecretArn: string;
}

/** Writes `<root>/endpoint.json` (and the extra endpoint file): how `acm-export local ...` finds this instance. */
export function writeEndpointFiles(
  root: string,
  extra: string | undefined,
  instance: string,
  api: LocalApi,
  aws: AwsEmulator,
  preflightSecretArn: string,
  undo: Undo,
): { path: string; instance: string }[] {
  const info: LocalEndpointFile = {
    endpoint: api.endpoint,
    region: aws.region,
    accessKeyId: aws.credentials.accessKeyId,
    pid: process.pid,
    root,
    instance,
    rootCaFile: path.join(root, ROOT_CA_FILE),
    awsEndpoint: aws.endpoint,
    preflightDocumentName: LOCAL_DOCUMENT_NAMES.preflight,
    preflightSecretArn,
  };
  const files = [path.join(root, ENDPOINT_FILE), ...(extra ? [path.resolve(extra)] : [])].map((p) => ({
    path: p,
    instance,
  }));
  for (const f of files) {
    undo.push(() => removeEndpointFile(f.path, f.instance));
    writeFileSync(f.path, `${JSON.stringify(info)}\n`, { mode: 0o600 });
  }
  return files;
}

/** Removes an endpoint file if it still names this instance (another local mode may have replaced it). */
export function removeEndpointFile(file: string, instance: string): void {
  try {
    if ((JSON.parse(readFileSync(file, 'utf8')) as Partial<LocalEndpointFile>).instance === instance)
      rmSync(file, { force: true });
  } catch {
    // gone or unreadable: nothing of ours to remove
  }
}
