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
import type { HttpAnswer } from './checks';

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
    const socket = tls.connect({
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
