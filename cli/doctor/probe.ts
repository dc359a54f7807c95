/**
 * Network side of the doctor: a TLS handshake like a browser's (but never refusing, so every problem can be
 * reported), a second handshake with an empty trust store to see exactly what the server sends, and plain
 * HTTP(S) GETs for the redirect and mixed-content checks. Every connection goes to the --resolve'd address
 * when given, with the URL's host name as SNI and Host header.
 */
import { X509Certificate } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP } from 'node:net';
import * as tls from 'node:tls';
import type { HttpAnswer, WeakOffer, WeakProbe } from './checks';

export interface Target {
  /** Host name (or IP) from the URL: SNI, Host header and name check. */
  host: string;
  port: number;
  /** Where to connect: the --resolve'd address, or the host itself (DNS). */
  address: string;
  path: string;
}

export interface TlsProbe {
  protocol: string | null;
  authorized: boolean;
  authorizationError?: string;
  chain: X509Certificate[];
  /** The OCSP response the server stapled to the handshake, if any. */
  stapledOcsp?: Buffer;
}

const MAX_BODY_BYTES = 2 * 1024 * 1024;

function walkChain(peer: tls.DetailedPeerCertificate): X509Certificate[] {
  const chain: X509Certificate[] = [];
  const seen = new Set<string>();
  let current: tls.DetailedPeerCertificate | undefined = peer;
  while (current && current.raw && !seen.has(current.fingerprint256)) {
    seen.add(current.fingerprint256);
    chain.push(new X509Certificate(current.raw));
    current = current.issuerCertificate;
  }
  return chain;
}

/** One TLS handshake. `ca` replaces the trust store ([] = trust nothing, to see the chain the server sent). */
export function tlsHandshake(target: Target, ca: string[], timeoutMs: number): Promise<TlsProbe> {
  return new Promise((resolve, reject) => {
    // requestOCSP is a TLSSocket option that tls.connect passes on; @types/node lists it only for TLSSocket.
    const options: tls.ConnectionOptions & { requestOCSP: boolean } = {
      host: target.address,
      port: target.port,
      servername: isIP(target.host) ? undefined : target.host,
      ca,
      rejectUnauthorized: false,
      // The name is checked separately, so the chain verdict is about trust only.
      checkServerIdentity: () => undefined,
      // Accept old protocols and weak parameters so that they can be reported instead of failing the handshake.
      minVersion: 'TLSv1',
      ciphers: 'DEFAULT@SECLEVEL=0',
      ALPNProtocols: ['http/1.1'],
      requestOCSP: true,
    };
    const socket = tls.connect(options);
    let stapledOcsp: Buffer | undefined;
    socket.once('OCSPResponse', (response: Buffer) => {
      stapledOcsp = response;
    });
    const timer = setTimeout(() => socket.destroy(new Error(`no TLS handshake within ${timeoutMs} ms`)), timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const error = socket.authorizationError as unknown;
      const probe: TlsProbe = {
        protocol: socket.getProtocol(),
        authorized: socket.authorized,
        authorizationError:
          error === null || error === undefined ? undefined : String((error as { code?: string }).code ?? error),
        chain: walkChain(socket.getPeerCertificate(true)),
        stapledOcsp,
      };
      socket.end();
      socket.destroy();
      resolve(probe);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** A GET over HTTP or HTTPS (never following redirects); HTTPS does not verify (the TLS checks do that). */
export function httpGet(
  target: Target,
  scheme: 'http' | 'https',
  port: number,
  timeoutMs: number,
): Promise<HttpAnswer> {
  return new Promise((resolve) => {
    const defaultPort = scheme === 'https' ? 443 : 80;
    const hostHeader = `${target.host.includes(':') ? `[${target.host}]` : target.host}${port === defaultPort ? '' : `:${port}`}`;
    const options: https.RequestOptions = {
      host: target.address,
      port,
      path: target.path,
      method: 'GET',
      headers: { host: hostHeader, 'user-agent': 'acm-export-doctor', accept: 'text/html,*/*' },
      agent: false,
      timeout: timeoutMs,
    };
    if (scheme === 'https') {
      Object.assign(options, {
        servername: isIP(target.host) ? undefined : target.host,
        rejectUnauthorized: false,
        minVersion: 'TLSv1',
      });
    }
    const request = (scheme === 'https' ? https : http).request(options, (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_BODY_BYTES) chunks.push(chunk);
        else response.destroy();
      });
      const done = () =>
        resolve({
          ok: true,
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
      response.on('end', done);
      response.on('close', done);
      response.on('error', done);
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', (error: NodeJS.ErrnoException) =>
      resolve({
        ok: false,
        error: error.code && !error.message.includes(error.code) ? `${error.code}: ${error.message}` : error.message,
      }),
    );
    request.end();
  });
}

/** Each weak offer: the only protocol versions and suites the client proposes (OpenSSL cipher strings). */
const WEAK_OFFERS: Record<WeakOffer, Pick<tls.ConnectionOptions, 'minVersion' | 'maxVersion' | 'ciphers'>> = {
  'tls1.0': { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' },
  'tls1.1': { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' },
  'rsa-kex': { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'kRSA:!3DES:!RC4@SECLEVEL=0' },
  'cbc-sha1': { minVersion: 'TLSv1', maxVersion: 'TLSv1.2', ciphers: 'SHA1:!3DES:!RC4:!kRSA@SECLEVEL=0' },
  '3des': { minVersion: 'TLSv1', maxVersion: 'TLSv1.2', ciphers: '3DES@SECLEVEL=0' },
  rc4: { minVersion: 'TLSv1', maxVersion: 'TLSv1.2', ciphers: 'RC4@SECLEVEL=0' },
};

/** Whether this process's OpenSSL can propose the offer at all (Node's OpenSSL 3 has no RC4 and may lack 3DES). */
function canOffer(options: tls.ConnectionOptions): boolean {
  try {
    tls.createSecureContext({ ...options });
    return true;
  } catch {
    return false;
  }
}

/** Error codes by which this side's OpenSSL says it had nothing to propose (so the server was not asked). */
const LOCAL_REFUSAL = /NO_CIPHERS_AVAILABLE|NO_PROTOCOLS_AVAILABLE|NO_CIPHER_MATCH|UNSUPPORTED_PROTOCOL/;

function weakHandshake(target: Target, offer: WeakOffer, timeoutMs: number): Promise<WeakProbe> {
  const options = WEAK_OFFERS[offer];
  if (!canOffer(options))
    return Promise.resolve({ offer, outcome: 'not-checked', detail: "this machine's OpenSSL cannot offer them" });
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: target.address,
      port: target.port,
      servername: isIP(target.host) ? undefined : target.host,
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
      ...options,
    });
    const timer = setTimeout(() => socket.destroy(new Error('timeout')), timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      resolve({ offer, outcome: 'accepted', detail: `${socket.getProtocol() ?? '?'} ${socket.getCipher().name}` });
      socket.destroy();
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const code = error.code ?? '';
      if (LOCAL_REFUSAL.test(code) && !/ALERT/.test(code))
        resolve({ offer, outcome: 'not-checked', detail: "this machine's OpenSSL cannot offer them" });
      else if (error.message === 'timeout') resolve({ offer, outcome: 'not-checked', detail: 'no answer in time' });
      else resolve({ offer, outcome: 'refused' });
    });
  });
}

/** One handshake per weak offer, one after another (servers may rate-limit handshakes). */
export async function probeWeakTls(target: Target, timeoutMs: number): Promise<WeakProbe[]> {
  const probes: WeakProbe[] = [];
  for (const offer of Object.keys(WEAK_OFFERS) as WeakOffer[])
    probes.push(await weakHandshake(target, offer, timeoutMs));
  return probes;
}
