/** Local HTTPS sites (and their plain-HTTP side) on 127.0.0.1 with random ports, for the doctor tests. */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';

export interface SiteOptions {
  key: string;
  /** PEM of what the server sends: the leaf, optionally followed by intermediates. */
  cert: string;
  html?: string;
  headers?: Record<string, string>;
  /** Plain-HTTP side: redirect to https (default), serve the page unencrypted, or nothing listening. */
  http?: 'redirect' | 'serve' | 'none';
  /** HTTPS side answers "/" with a 302 to this path (same origin). */
  rootRedirect?: string;
  /** Strict-Transport-Security of the HTTPS side; false sends none. @default 'max-age=63072000' */
  hsts?: string | false;
  /** A DER OCSP response the HTTPS side staples to every handshake that asks for one. */
  ocspResponse?: Buffer;
  /** TLS settings of the HTTPS side; by default TLS 1.2+ with forward-secret AEAD suites only. */
  tls?: Pick<https.ServerOptions, 'ciphers' | 'minVersion' | 'maxVersion'>;
}

/** A well-configured server's suites (TLS 1.3 suites are always on). */
export const MODERN_CIPHERS = 'ECDHE+AESGCM:ECDHE+CHACHA20';

export interface Site {
  httpsPort: number;
  httpPort: number;
  close(): Promise<void>;
}

const PAGE =
  '<!doctype html><html><head><link rel="stylesheet" href="/site.css"><script src="https://cdn.example.test/app.js"></script></head><body><a href="http://elsewhere.example.test/">a link is fine</a><img src="/logo.png"></body></html>';

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** A port with nothing listening on it. */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startSite(options: SiteOptions): Promise<Site> {
  const html = options.html ?? PAGE;
  const tlsOptions = options.tls ?? { ciphers: MODERN_CIPHERS, minVersion: 'TLSv1.2' };
  const secure = https.createServer({ key: options.key, cert: options.cert, ...tlsOptions }, (req, res) => {
    if (options.rootRedirect && req.url === '/') {
      res.writeHead(302, { location: options.rootRedirect });
      res.end();
      return;
    }
    const hsts = options.hsts ?? 'max-age=63072000';
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      ...(hsts === false ? {} : { 'strict-transport-security': hsts }),
      ...options.headers,
    });
    res.end(html);
  });
  const stapled = options.ocspResponse;
  if (stapled)
    secure.on('OCSPRequest', (_cert: Buffer, _issuer: Buffer, done: (error: Error | null, response?: Buffer) => void) =>
      done(null, stapled),
    );
  const httpsPort = await listen(secure);
  const mode = options.http ?? 'redirect';
  let plain: http.Server | undefined;
  let httpPort: number;
  if (mode === 'none') {
    httpPort = await closedPort();
  } else {
    plain = http.createServer((req, res) => {
      if (mode === 'redirect') {
        const host = (req.headers.host ?? 'localhost').replace(/:\d+$/, '');
        res.writeHead(301, { location: `https://${host}:${httpsPort}${req.url ?? '/'}` });
        res.end();
      } else {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(html);
      }
    });
    httpPort = await listen(plain);
  }
  return {
    httpsPort,
    httpPort,
    close: async () => {
      secure.closeAllConnections();
      await new Promise<void>((resolve) => secure.close(() => resolve()));
      if (plain) {
        plain.closeAllConnections();
        await new Promise<void>((resolve) => plain.close(() => resolve()));
      }
    },
  };
}
