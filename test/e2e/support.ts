/** Shared helpers of the end-to-end tests: local mode, a signed API client, raw signed requests, leak scans. */
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import { ACMClient, RequestCertificateCommand } from '@aws-sdk/client-acm';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { ExportStatusResponse, StartExportResponse } from '../../lambda/export-api/api-types';
import { ApiClient } from '../../cli/api-client';
import { DEFAULT_EXPORT_TAG } from '../../lambda/shared/export-opt-in';
import { releaseCertName } from '../../local/demo';
import type { LocalNode } from '../../local/nodes';
import type { LocalMode } from '../../local/runtime';

export type KeyAlgorithm = 'RSA_2048' | 'EC_prime256v1' | 'EC_secp384r1';

export function apiClient(local: LocalMode): ApiClient {
  return new ApiClient({
    endpoint: new URL(local.apiEndpoint),
    region: local.region,
    credentials: { ...local.credentials },
    fetch: (u, i) => fetch(u, i),
  });
}

/**
 * An exportable certificate from local ACM, opted in to export with the default export tag unless
 * `optedIn` is false.
 */
export async function requestCertificate(
  local: LocalMode,
  domainName: string,
  keyAlgorithm: KeyAlgorithm = 'RSA_2048',
  { optedIn = true }: { optedIn?: boolean } = {},
): Promise<string> {
  const acm = new ACMClient(local.aws.clientConfig());
  try {
    const out = await acm.send(
      new RequestCertificateCommand({
        DomainName: domainName,
        KeyAlgorithm: keyAlgorithm,
        Options: { Export: 'ENABLED' },
        ...(optedIn ? { Tags: [{ Key: DEFAULT_EXPORT_TAG.key, Value: DEFAULT_EXPORT_TAG.value }] } : {}),
      }),
    );
    return out.CertificateArn!;
  } finally {
    acm.destroy();
  }
}

export function exportBody(
  local: LocalMode,
  certificateArn: string,
  over: Record<string, unknown> = {},
): Record<string, unknown> {
  const [[key, value]] = Object.entries(local.tags);
  return {
    CertificateArn: certificateArn,
    CertName: local.certName,
    TargetTagKey: key,
    TargetTagValue: value,
    Service: 'nginx',
    VerifyPort: 443,
    MaxConcurrency: '100%',
    ...over,
  };
}

/**
 * POST /exports, after deleting the targets of other certificates that hold the body's CertName on its tag
 * (one certificate per (target, CertName): the tests export many certificates under the nodes' one name).
 */
export async function startExport(api: ApiClient, body: Record<string, unknown>): Promise<StartExportResponse> {
  await releaseCertName(api, {
    target: `${String(body.TargetTagKey)}=${String(body.TargetTagValue)}`,
    certName: String(body.CertName),
    keep: String(body.CertificateArn),
  });
  return api.request<StartExportResponse>('POST', '/exports', { body });
}

/** Waits for the execution to end, then returns its status as the API reports it. */
export async function finished(local: LocalMode, api: ApiClient, executionArn: string): Promise<ExportStatusResponse> {
  await local.stepFunctions.waitFor(executionArn);
  // The export also creates or updates the target's convergence association, whose runs install on the
  // same (online) nodes; wait for them so callers inspect the nodes at rest, not mid-install.
  await local.waitForAssociations();
  const id = executionArn.slice(executionArn.lastIndexOf(':') + 1);
  return api.request<ExportStatusResponse>('GET', `/exports/${encodeURIComponent(id)}`);
}

/** Upper-case hex serial of what the node serves (SNI = the certificate's domain). */
export async function servedSerial(
  local: LocalMode,
  node: LocalNode,
  servername: string,
): Promise<{ serial: string; authorized: boolean }> {
  // What nginx serves once a reload has finished: an old worker still running may answer with the previous
  // certificate for a moment after the install verified the new one.
  await node.reloadSettled();
  const cert = await node.servedCertificate(servername, local.aws.ca.rootPem);
  return { serial: cert.serialNumber.toUpperCase(), authorized: cert.authorized };
}

export function currentSerial(local: LocalMode, certificateArn: string): string {
  return local.aws.acm.current(certificateArn)!.serial.replace(/:/g, '').toUpperCase();
}

/** The node's installed files are intact: certificate parses, key parses, key matches the certificate. */
export function installedPairMatches(local: LocalMode, node: LocalNode): { serial: string; matches: boolean } {
  const certPem = readFileSync(path.join(node.certDir, `${local.certName}.crt`), 'utf8');
  const fullchain = readFileSync(path.join(node.certDir, `${local.certName}.fullchain.pem`), 'utf8');
  const keyPem = readFileSync(path.join(node.keyDir, `${local.certName}.key`), 'utf8');
  const cert = new X509Certificate(certPem);
  const leafOfFullchain = new X509Certificate(fullchain);
  const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
  const fromCert = cert.publicKey.export({ type: 'spki', format: 'der' });
  return {
    serial: cert.serialNumber.toUpperCase(),
    matches: fromKey.equals(fromCert) && leafOfFullchain.serialNumber === cert.serialNumber,
  };
}

/** A request signed (or not) with any key pair, body and content type, sent with fetch. */
export async function rawRequest(
  local: LocalMode,
  method: 'GET' | 'POST',
  route: string,
  options: {
    body?: string;
    contentType?: string;
    credentials?: { accessKeyId: string; secretAccessKey: string } | null;
    tamper?: boolean;
  } = {},
): Promise<{ status: number; body: string }> {
  const url = new URL(route.replace(/^\//, ''), local.apiEndpoint);
  const headers: Record<string, string> = { host: url.host };
  if (options.contentType) headers['content-type'] = options.contentType;
  let sendHeaders = { ...headers };
  if (options.credentials !== null) {
    const signer = new SignatureV4({
      credentials: options.credentials ?? local.credentials,
      region: local.region,
      service: 'execute-api',
      sha256: Sha256,
    });
    const signed = await signer.sign(
      new HttpRequest({
        method,
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: url.pathname,
        headers,
        body: options.body,
      }),
    );
    sendHeaders = { ...(signed.headers as Record<string, string>) };
  }
  delete sendHeaders.host;
  const body = options.tamper && options.body ? `${options.body} ` : options.body;
  const res = await fetch(url, { method, headers: sendHeaders, body });
  return { status: res.status, body: await res.text() };
}

/** Every key, passphrase and certificate body this run produced (from the emulator's records). */
export function producedSecrets(local: LocalMode): string[] {
  const needles = new Set<string>();
  const pemLines = (pem: unknown): void => {
    if (typeof pem !== 'string') return;
    for (const line of pem.split(/\r?\n/)) if (/^[A-Za-z0-9+/=]{40,}$/.test(line.trim())) needles.add(line.trim());
  };
  for (const r of local.aws.records) {
    const req = (r.request ?? {}) as Record<string, unknown>;
    const res = (r.response ?? {}) as Record<string, unknown>;
    if (r.operation === 'ExportCertificate') {
      if (typeof req.Passphrase === 'string') {
        needles.add(req.Passphrase);
        needles.add(Buffer.from(req.Passphrase, 'base64').toString('latin1'));
      }
      pemLines(res.PrivateKey);
      pemLines(res.Certificate);
    }
    if (r.operation === 'CreateSecret' || r.operation === 'PutSecretValue') pemLines(req.SecretString);
  }
  for (const cert of local.aws.acm.certificates.values()) {
    if (cert.issued) {
      pemLines(cert.issued.privateKeyPem);
      pemLines(cert.issued.certificatePem);
    }
  }
  // The local key pair's secret is key material too (only the state dir's credentials.json holds it).
  needles.add(local.credentials.secretAccessKey);
  return [...needles].filter((n) => n.length >= 16);
}

/** What the security rules say must never hold key material: histories, handler logs, SSM parameters, API responses, alerts. */
export function scannedTexts(local: LocalMode): { where: string; text: string }[] {
  const out: { where: string; text: string }[] = [];
  for (const e of local.stepFunctions.executions.values()) {
    out.push({
      where: `execution ${e.name}`,
      text: JSON.stringify({ input: e.input, output: e.output, error: e.error, cause: e.cause, history: e.history }),
    });
  }
  local.handlerLogs.forEach((line, i) => out.push({ where: `handler log line ${i + 1}`, text: line }));
  for (const r of local.aws.records) {
    if (r.service === 'ssm')
      out.push({
        where: `ssm:${r.operation} #${r.seq}`,
        text: JSON.stringify({ request: r.request, response: r.response }),
      });
    if (r.service === 'states')
      out.push({
        where: `states:${r.operation} #${r.seq}`,
        text: JSON.stringify({ request: r.request, response: r.response }),
      });
  }
  for (const c of local.apiCalls) out.push({ where: `API ${c.method} ${c.path}`, text: c.responseBody });
  local.alerts.forEach((a, i) => out.push({ where: `alert ${i + 1}`, text: JSON.stringify(a) }));
  return out;
}

export function leaks(local: LocalMode): string[] {
  const needles = producedSecrets(local);
  if (needles.length === 0) throw new Error('no key material recorded: the scan would prove nothing');
  const found: string[] = [];
  for (const { where, text } of scannedTexts(local)) {
    for (const n of needles) if (text.includes(n)) found.push(`${where} contains ${n.slice(0, 8)}…`);
  }
  return found;
}
