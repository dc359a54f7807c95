/**
 * A real OCSP responder (`openssl ocsp` in server mode) for certificates issued by a test CA, and single OCSP
 * responses for stapling. Statuses come from an OpenSSL CA index file written here.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Issued } from './pki';

export type OcspStatus = 'good' | 'revoked';

export interface OcspResponder {
  url: string;
  close(): Promise<void>;
}

/** A certificate's status: its serial (hex, as issued) and good, or revoked on 2024-01-01 for key compromise. */
export interface OcspEntry {
  serial: string;
  status: OcspStatus;
}

/** The OpenSSL CA database (index.txt) that `openssl ocsp` and `openssl ca -gencrl` read statuses from. */
export function writeIndex(dir: string, entries: OcspEntry[]): void {
  const lines = entries.map(({ serial, status }) => {
    const hex = serial.toUpperCase();
    return status === 'good'
      ? `V\t350101000000Z\t\t${hex}\tunknown\t/CN=test`
      : `R\t350101000000Z\t240101000000Z,keyCompromise\t${hex}\tunknown\t/CN=test`;
  });
  // One line per entry; an empty database is an empty file (openssl rejects a blank line).
  writeFileSync(join(dir, 'index.txt'), lines.map((line) => `${line}\n`).join(''));
  writeFileSync(join(dir, 'index.txt.attr'), 'unique_subject = no\n');
}

/** A serial whose hex form has no leading zero (so the index spells it as OpenSSL does). */
export function testSerial(): string {
  return `${(16 + Math.floor(Math.random() * 100)).toString(16)}${randomBytes(7).toString('hex')}`;
}

/** A temp directory holding `issuer`'s certificate (ca.pem) and key (ca.key); the caller removes it. */
export function caFiles(issuer: Issued): string {
  const dir = mkdtempSync(join(tmpdir(), 'acm-export-ocsp-'));
  writeFileSync(join(dir, 'ca.pem'), issuer.certPem);
  writeFileSync(join(dir, 'ca.key'), issuer.keyPem, { mode: 0o600 });
  return dir;
}

/**
 * Starts a responder on a free port (port 0; it prints the port it took) answering for `issuer`'s certificates
 * with these serials; issue them with `url` afterwards.
 */
export async function startOcspResponder(issuer: Issued, entries: OcspEntry[]): Promise<OcspResponder> {
  const dir = caFiles(issuer);
  writeIndex(dir, entries);
  const child = spawn(
    'openssl',
    [
      'ocsp',
      '-index',
      'index.txt',
      '-port',
      '0',
      '-rsigner',
      'ca.pem',
      '-rkey',
      'ca.key',
      '-CA',
      'ca.pem',
      '-ndays',
      '1',
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`openssl ocsp did not start: ${output}`)), 10_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const match = output.match(/ACCEPT \S*:(\d+)/);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.once('exit', (code) => reject(new Error(`openssl ocsp exited (${code}): ${output}`)));
  });
  return {
    url: `http://127.0.0.1:${port}/`,
    close: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill();
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A signed DER OCSP response about `cert` (without a nonce, as stapled responses are). */
export function ocspResponse(issuer: Issued, cert: Issued, status: OcspStatus): Buffer {
  const dir = caFiles(issuer);
  try {
    writeIndex(dir, [{ serial: new X509Certificate(cert.certPem).serialNumber, status }]);
    writeFileSync(join(dir, 'leaf.pem'), cert.certPem);
    const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    run(['ocsp', '-issuer', 'ca.pem', '-cert', 'leaf.pem', '-no_nonce', '-reqout', 'request.der']);
    run(
      ['ocsp', '-index', 'index.txt', '-rsigner', 'ca.pem', '-rkey', 'ca.key', '-CA', 'ca.pem', '-ndays', '1'].concat([
        '-reqin',
        'request.der',
        '-respout',
        'response.der',
      ]),
    );
    return readFileSync(join(dir, 'response.der'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
