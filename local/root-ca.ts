/**
 * The local root CA as users see it: where its certificate is, its fingerprint, and how to trust it. Only the
 * public certificate is shown; the CA's keys stay in the state dir.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CliError } from '../cli/errors';
import { ROOT_CA_FILE } from './endpoint-file';

/** The root CA certificate of a state dir. */
export interface RootCa {
  file: string;
  pem: string;
  /** SHA-256 fingerprint, colon hex. */
  sha256: string;
}

/** Lines that say where the root CA is and how to trust it (printed once when local mode starts). */
export function rootCaLines(file: string, sha256: string, port: number | undefined, domain = '<domain>'): string[] {
  const url = `https://${domain}:${port ?? 443}/`;
  const resolve = port ? ` --resolve ${domain}:${port}:127.0.0.1` : '';
  return [
    `Local root CA (public certificate; trust it to verify what the nodes serve):`,
    `  file     ${file}`,
    `  SHA-256  ${sha256}`,
    `  curl --cacert ${file} ${url}${resolve}`,
    `  NODE_EXTRA_CA_CERTS=${file} node <your client>`,
    `  acm-export doctor --ca ${file} ${url}${resolve}`,
  ];
}

/** Reads and checks the root CA certificate of the local mode whose state dir is `root`. */
export function readRootCa(root: string, file = path.join(root, ROOT_CA_FILE)): RootCa {
  if (!existsSync(file))
    throw new CliError(
      'reading the local root CA',
      `${file} does not exist`,
      `Start local mode with this state dir ("acm-export local up --state-dir ${root}"): it writes the file.`,
    );
  const pem = readFileSync(file, 'utf8');
  let sha256: string;
  try {
    sha256 = new X509Certificate(pem).fingerprint256;
  } catch {
    throw new CliError('reading the local root CA', `${file} is not a PEM certificate`, 'Restart local mode.');
  }
  return { file, pem, sha256 };
}
