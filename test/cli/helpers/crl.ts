/**
 * Certificate revocation lists made by a real `openssl ca -gencrl` for a test CA, and a plain-HTTP server that
 * serves one (as a CA's CRL distribution point does).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { caFiles, writeIndex } from './ocsp';
import type { Issued } from './pki';

export interface CrlOptions {
  /** @default one day ago */
  lastUpdate?: Date;
  /** @default one day from now */
  nextUpdate?: Date;
  /** @default 'der' (what CAs publish); 'pem' for servers that publish the text form */
  format?: 'der' | 'pem';
}

const DAY = 86_400_000;

/** OpenSSL's YYYYMMDDHHMMSSZ time form. */
function opensslTime(date: Date): string {
  return `${date.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

/** A CRL signed by `issuer` listing these serials (hex) as revoked on 2024-01-01 for key compromise. */
export function makeCrl(issuer: Issued, revokedSerials: string[], options: CrlOptions = {}): Buffer {
  const dir = caFiles(issuer);
  try {
    writeIndex(
      dir,
      revokedSerials.map((serial) => ({ serial, status: 'revoked' as const })),
    );
    writeFileSync(join(dir, 'crlnumber'), '01\n');
    writeFileSync(
      join(dir, 'ca.cnf'),
      [
        '[ca]',
        'default_ca = test_ca',
        '[test_ca]',
        'database = index.txt',
        'crlnumber = crlnumber',
        'default_md = sha256',
        '',
      ].join('\n'),
    );
    execFileSync(
      'openssl',
      [
        'ca',
        '-gencrl',
        '-config',
        'ca.cnf',
        '-cert',
        'ca.pem',
        '-keyfile',
        'ca.key',
        '-crl_lastupdate',
        opensslTime(options.lastUpdate ?? new Date(Date.now() - DAY)),
        '-crl_nextupdate',
        opensslTime(options.nextUpdate ?? new Date(Date.now() + DAY)),
        '-out',
        'crl.pem',
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    if (options.format === 'pem') return readFileSync(join(dir, 'crl.pem'));
    return execFileSync('openssl', ['crl', '-in', 'crl.pem', '-outform', 'DER'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface CrlServer {
  url: string;
  /** How many times the CRL was downloaded. */
  readonly requests: number;
  close(): Promise<void>;
}

/** Serves `body` at /ca.crl on 127.0.0.1 (any other path: 404). */
export async function startCrlServer(body: Buffer): Promise<CrlServer> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    if (req.url !== '/ca.crl') {
      res.writeHead(404);
      res.end();
      return;
    }
    requests += 1;
    res.writeHead(200, { 'content-type': 'application/pkix-crl' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ca.crl`,
    get requests() {
      return requests;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
