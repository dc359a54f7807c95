/**
 * Network side of the revocation check. OCSP goes through the `openssl ocsp` command (it builds the request and
 * verifies the signed answer against the trust store); a stapled OCSP response is verified the same way. Without
 * an OCSP URL the leaf's CRL is downloaded and verified here. Certificates go to a private temp directory only
 * as openssl's input; nothing of them is printed.
 */
import { execFile } from 'node:child_process';
import { webcrypto, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
// @peculiar/x509 needs the Reflect metadata API; load it before the library.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { z } from 'zod';
import type { RevocationAnswer } from './checks';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const MAX_CRL_BYTES = 20 * 1024 * 1024;

/** The URL comes from the server's certificate, i.e. from the site being diagnosed: only http(s) URLs are used. */
const RevocationUrl = z
  .string()
  .url('is not a URL')
  .refine((value) => /^https?:\/\//i.test(value), 'is not an http:// or https:// URL');

/** OCSP responder URLs in the certificate's Authority Information Access extension. */
export function ocspUrls(cert: X509Certificate): string[] {
  return (cert.infoAccess ?? '')
    .split('\n')
    .map((line) => line.match(/^OCSP - URI:(.+)$/)?.[1]?.trim())
    .filter((url): url is string => url !== undefined && RevocationUrl.safeParse(url).success);
}

/** CRL URLs in the certificate's CRL Distribution Points extension. */
export function crlUrls(cert: X509Certificate): string[] {
  const extension = new x509.X509Certificate(cert.raw).getExtension(x509.CRLDistributionPointsExtension);
  const urls = (extension?.distributionPoints ?? []).flatMap((point) =>
    (point.distributionPoint?.fullName ?? []).map((name) => name.uniformResourceIdentifier),
  );
  return urls.filter((url): url is string => url !== undefined && RevocationUrl.safeParse(url).success);
}

function pem(cert: X509Certificate): string {
  return cert.toString();
}

interface OpensslRun {
  code: number | 'missing' | 'timeout';
  stdout: string;
  stderr: string;
}

function runOpenssl(args: string[], timeoutMs: number): Promise<OpensslRun> {
  return new Promise((resolve) => {
    execFile('openssl', args, { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = (error as NodeJS.ErrnoException | null)?.code;
      if (code === 'ENOENT') resolve({ code: 'missing', stdout: '', stderr: '' });
      else if (error?.killed) resolve({ code: 'timeout', stdout, stderr });
      else resolve({ code: error ? (typeof code === 'number' ? code : 1) : 0, stdout, stderr });
    });
  });
}

/** A short cause from openssl's error lines (which carry source paths and hex codes nobody needs). */
function opensslCause(stderr: string): string {
  if (/connection refused/i.test(stderr)) return 'connection refused';
  if (/timeout|timed out/i.test(stderr)) return 'timed out';
  if (/Name or service not known|nodename nor servname|getaddrinfo/i.test(stderr)) return 'host name not found';
  const line = stderr
    .split('\n')
    .map((text) => text.trim())
    .find((text) => text.length > 0);
  return (line ?? 'no output').replace(/^[0-9A-F]{8,}:error:[0-9A-F]+:/, '').slice(0, 160);
}

/**
 * Asks (or, with `stapled`, reads) OCSP for the leaf. `trust` are the trust anchors (PEM) the response signer must
 * chain to; the other chain certificates are offered as intermediates.
 */
async function queryOcsp(
  chain: X509Certificate[],
  trust: string[],
  source: { url: string } | { stapled: Buffer },
  timeoutMs: number,
): Promise<RevocationAnswer> {
  const [leaf, issuer] = chain;
  const label = 'url' in source ? `OCSP responder ${source.url}` : 'stapled OCSP response';
  const dir = mkdtempSync(path.join(tmpdir(), 'acm-export-doctor-'));
  try {
    const file = (name: string, content: string | Buffer) => {
      writeFileSync(path.join(dir, name), content, { mode: 0o600 });
      return path.join(dir, name);
    };
    const args = [
      'ocsp',
      '-issuer',
      file('issuer.pem', pem(issuer)),
      '-cert',
      file('leaf.pem', pem(leaf)),
      '-CAfile',
      file('trust.pem', trust.join('\n')),
      '-verify_other',
      file('chain.pem', chain.slice(1).map(pem).join('\n')),
    ];
    // No -timeout: with it openssl keeps retrying a refused connection until the time is up; the kill bounds it.
    if ('url' in source) args.push('-url', source.url);
    else args.push('-respin', file('stapled.der', source.stapled));
    const run = await runOpenssl(args, timeoutMs);
    if (run.code === 'missing')
      return { kind: 'not-checked', why: 'the openssl command is not installed here (it asks the OCSP responder)' };
    if (run.code === 'timeout')
      return { kind: 'unreachable', source: label, error: `no answer within ${timeoutMs} ms` };
    const status = run.stdout.match(/leaf\.pem: (good|revoked|unknown)/)?.[1] as
      'good' | 'revoked' | 'unknown' | undefined;
    if (!status) {
      return 'url' in source && /Error querying OCSP responder|connect|timeout/i.test(run.stderr)
        ? { kind: 'unreachable', source: label, error: opensslCause(run.stderr) }
        : { kind: 'unverified', source: label, error: opensslCause(run.stderr || run.stdout) };
    }
    if (!/Response verify OK/i.test(run.stderr))
      return { kind: 'unverified', source: label, error: 'the signature does not verify against the trust store' };
    if (/Status times invalid/i.test(run.stdout + run.stderr))
      return { kind: 'unverified', source: label, error: 'the response is outside its validity period' };
    if (status !== 'revoked') return { kind: 'status', source: label, status };
    return {
      kind: 'status',
      source: label,
      status,
      revokedAt: run.stdout.match(/Revocation Time: (.+)/)?.[1]?.trim(),
      reason: run.stdout.match(/Reason: (.+)/)?.[1]?.trim(),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function download(url: string, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const request = (url.startsWith('https:') ? https : http).get(url, { timeout: timeoutMs }, (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        reject(new Error(`HTTP ${response.statusCode ?? 0}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_CRL_BYTES) response.destroy(new Error(`larger than ${MAX_CRL_BYTES} bytes`));
        else chunks.push(chunk);
      });
      response.on('end', () => resolve(Buffer.concat(chunks)));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', reject);
  });
}

async function queryCrl(chain: X509Certificate[], url: string, timeoutMs: number): Promise<RevocationAnswer> {
  const [leaf, issuer] = chain;
  const label = `CRL ${url}`;
  let body: Buffer;
  try {
    body = await download(url, timeoutMs);
  } catch (error) {
    return { kind: 'unreachable', source: label, error: (error as Error).message };
  }
  let crl: x509.X509Crl;
  try {
    const text = body.toString('latin1');
    crl = new x509.X509Crl(text.includes('-----BEGIN X509 CRL-----') ? text : body);
  } catch {
    return { kind: 'unverified', source: label, error: 'it is not a CRL' };
  }
  const issuerKey = new x509.X509Certificate(issuer.raw).publicKey;
  if (!(await crl.verify({ publicKey: issuerKey }).catch(() => false)))
    return { kind: 'unverified', source: label, error: "the CRL is not signed by the certificate's issuer" };
  if (crl.nextUpdate && crl.nextUpdate.getTime() < Date.now())
    return {
      kind: 'unverified',
      source: label,
      error: `the CRL is stale (next update was ${crl.nextUpdate.toISOString()})`,
    };
  const entry = crl.findRevoked(leaf.serialNumber.toLowerCase());
  if (!entry) return { kind: 'status', source: label, status: 'good' };
  return {
    kind: 'status',
    source: label,
    status: 'revoked',
    revokedAt: entry.revocationDate.toISOString(),
    reason: entry.reason === undefined ? undefined : x509.X509CrlReason[entry.reason],
  };
}

/** Revocation status of the leaf: the stapled response first, then the OCSP responder, then the CRL. */
export async function probeRevocation(
  chain: X509Certificate[],
  trust: string[],
  stapled: Buffer | undefined,
  timeoutMs: number,
): Promise<RevocationAnswer> {
  const [leaf, issuer] = chain;
  const ocsp = ocspUrls(leaf);
  const crl = crlUrls(leaf);
  if (!stapled && ocsp.length === 0 && crl.length === 0) return { kind: 'no-source' };
  if (!issuer || !leaf.checkIssued(issuer))
    return { kind: 'not-checked', why: "the issuer's certificate is unknown (see the chain check)" };
  if (stapled) return queryOcsp(chain, trust, { stapled }, timeoutMs);
  if (ocsp.length > 0) return queryOcsp(chain, trust, { url: ocsp[0] }, timeoutMs);
  return queryCrl(chain, crl[0], timeoutMs);
}
