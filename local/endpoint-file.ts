/** The endpoint file: how `acm-export local ...` and `acm-export selftest --local` find a running local mode. */
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { LocalApi } from './api';
import { LOCAL_INSTALL_DOCUMENT_NAME, type AwsEmulator } from './aws-emulator';
import { LOCAL_CREDENTIALS } from './credentials';
import type { Undo } from './undo';

/** Name of the endpoint file in the local-mode root. */
export const ENDPOINT_FILE = 'endpoint.json';

/** Content of `endpoint.json`: how `acm-export local renew` finds a running local mode. */
export interface LocalEndpointFile {
  endpoint: string;
  region: string;
  accessKeyId: string;
  pid: number;
  root: string;
  /** Unique per start: close() removes a shared endpoint file only while it still names this instance. */
  instance: string;
  /** What `acm-export selftest --local` needs besides the API: the emulated AWS endpoint and the stack's names. */
  awsEndpoint: string;
  documentName: string;
  preflightSecretArn: string;
}

/** Writes `<root>/endpoint.json` (and the extra endpoint file): how `acm-export local ...` finds this instance. */
export function writeEndpointFiles(
  root: string,
  extra: string | undefined,
  api: LocalApi,
  aws: AwsEmulator,
  preflightSecretArn: string,
  undo: Undo,
): { path: string; instance: string }[] {
  const info: LocalEndpointFile = {
    endpoint: api.endpoint,
    region: aws.region,
    accessKeyId: LOCAL_CREDENTIALS.accessKeyId,
    pid: process.pid,
    root,
    instance: randomUUID(),
    awsEndpoint: aws.endpoint,
    documentName: LOCAL_INSTALL_DOCUMENT_NAME,
    preflightSecretArn,
  };
  const files = [path.join(root, ENDPOINT_FILE), ...(extra ? [path.resolve(extra)] : [])].map((p) => ({
    path: p,
    instance: info.instance,
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
