/**
 * Test PKI made with the openssl CLI at test time (nothing is committed): a root CA, an intermediate,
 * and leaf certificates whose private keys are encrypted PKCS#8 (AES-256-CBC, PBES2) exactly as ACM's
 * ExportCertificate returns them.
 *
 *   const ca = createTestCa(dir);
 *   const leaf = issueCertificate(ca, { names: ['www.example.test'], keyAlgorithm: 'EC_prime256v1' });
 *   formatSecret(leaf);   // CertificateBundle fields: certificate, chain, encryptedPrivateKey, passphrase
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

export type KeyAlgorithm = 'RSA_2048' | 'EC_prime256v1' | 'EC_secp384r1';

export interface TestCa {
  /** Working directory holding the CA keys (never leaves the temp dir). */
  readonly dir: string;
  readonly rootCertificate: string;
  readonly intermediateCertificate: string;
  /** Chain as ACM returns it: intermediate first, then the root. */
  readonly chain: string;
}

export interface IssuedCertificate {
  /** Leaf certificate PEM. */
  readonly certificate: string;
  /** Chain PEM (intermediate, root). */
  readonly chain: string;
  /** Encrypted PKCS#8 PEM (`BEGIN ENCRYPTED PRIVATE KEY`). */
  readonly encryptedPrivateKey: string;
  /** URL-safe base64 passphrase that opens encryptedPrivateKey. */
  readonly passphrase: string;
  /** Unencrypted PKCS#8 PEM, for assertions only. */
  readonly privateKey: string;
  /** Serial as `openssl x509 -serial` prints it: upper-case hex, no colons. */
  readonly serial: string;
  readonly names: readonly string[];
}

const CONFIG = `[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ root ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ intermediate ]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ ca ]
default_ca = ca_default
[ ca_default ]
database = index.txt
new_certs_dir = issued
serial = serial.txt
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
[ policy_any ]
commonName = supplied
`;

function openssl(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  return execFileSync('openssl', args, {
    cwd,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
}

function generateKey(cwd: string, out: string, algorithm: KeyAlgorithm): void {
  const opts =
    algorithm === 'RSA_2048'
      ? ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']
      : ['-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${algorithm === 'EC_prime256v1' ? 'P-256' : 'P-384'}`];
  openssl(cwd, ['genpkey', ...opts, '-out', out]);
}

/** A URL-safe base64 passphrase like the export Lambda makes. */
export function randomPassphrase(): string {
  return randomBytes(24).toString('base64url');
}

/** Creates a root and an intermediate CA (EC P-256) under `dir`. */
export function createTestCa(dir: string, name = 'acm-export Test'): TestCa {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'openssl.cnf'), CONFIG);
  writeFileSync(path.join(dir, 'index.txt'), '');
  writeFileSync(path.join(dir, 'serial.txt'), '01\n');
  mkdirSync(path.join(dir, 'issued'), { recursive: true });
  generateKey(dir, 'root.key', 'EC_prime256v1');
  generateKey(dir, 'intermediate.key', 'EC_prime256v1');
  openssl(dir, [
    'req',
    '-config',
    'openssl.cnf',
    '-x509',
    '-new',
    '-key',
    'root.key',
    '-subj',
    `/CN=${name} Root`,
    '-days',
    '3650',
    '-extensions',
    'root',
    '-out',
    'root.pem',
  ]);
  openssl(dir, [
    'req',
    '-config',
    'openssl.cnf',
    '-new',
    '-key',
    'intermediate.key',
    '-subj',
    `/CN=${name} Intermediate`,
    '-out',
    'intermediate.csr',
  ]);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    'intermediate.csr',
    '-CA',
    'root.pem',
    '-CAkey',
    'root.key',
    '-set_serial',
    `0x${randomBytes(8).toString('hex').replace(/^./, '1')}`,
    '-days',
    '3650',
    '-extfile',
    'openssl.cnf',
    '-extensions',
    'intermediate',
    '-out',
    'intermediate.pem',
  ]);
  const rootCertificate = readFileSync(path.join(dir, 'root.pem'), 'utf8');
  const intermediateCertificate = readFileSync(path.join(dir, 'intermediate.pem'), 'utf8');
  return { dir, rootCertificate, intermediateCertificate, chain: intermediateCertificate + rootCertificate };
}

export interface IssueOptions {
  /** DNS names; the first is also the subject CN. */
  names: string[];
  /** @default 'EC_prime256v1' */
  keyAlgorithm?: KeyAlgorithm;
  /** Validity in days from now. @default 30 */
  days?: number;
  /** Issue a certificate that expired in 2020. */
  expired?: boolean;
}

/** Issues a server certificate from the intermediate, with its key encrypted like ACM's export. */
export function issueCertificate(ca: TestCa, options: IssueOptions): IssuedCertificate {
  const work = mkdtempSync(path.join(ca.dir, 'leaf-'));
  const rel = path.relative(ca.dir, work);
  const passphrase = randomPassphrase();
  generateKey(ca.dir, path.join(rel, 'key.pem'), options.keyAlgorithm ?? 'EC_prime256v1');
  openssl(
    ca.dir,
    [
      'pkcs8',
      '-topk8',
      '-v2',
      'aes-256-cbc',
      '-in',
      path.join(rel, 'key.pem'),
      '-passout',
      'env:TEST_PKI_PASSPHRASE',
      '-out',
      path.join(rel, 'key.enc.pem'),
    ],
    { TEST_PKI_PASSPHRASE: passphrase },
  );
  writeFileSync(
    path.join(work, 'ext.cnf'),
    [
      '[ leaf ]',
      'basicConstraints = critical,CA:FALSE',
      'keyUsage = critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage = serverAuth',
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid',
      `subjectAltName = ${options.names.map((n) => `DNS:${n}`).join(',')}`,
      '',
    ].join('\n'),
  );
  openssl(ca.dir, [
    'req',
    '-config',
    'openssl.cnf',
    '-new',
    '-key',
    path.join(rel, 'key.pem'),
    '-subj',
    `/CN=${options.names[0]}`,
    '-out',
    path.join(rel, 'leaf.csr'),
  ]);
  const validity = options.expired
    ? ['-startdate', '20200101000000Z', '-enddate', '20200201000000Z']
    : ['-days', String(options.days ?? 30)];
  openssl(ca.dir, [
    'ca',
    '-batch',
    '-config',
    'openssl.cnf',
    '-cert',
    'intermediate.pem',
    '-keyfile',
    'intermediate.key',
    '-rand_serial',
    '-notext',
    ...validity,
    '-extfile',
    path.join(rel, 'ext.cnf'),
    '-extensions',
    'leaf',
    '-in',
    path.join(rel, 'leaf.csr'),
    '-out',
    path.join(rel, 'leaf.pem'),
  ]);
  const certificate = readFileSync(path.join(work, 'leaf.pem'), 'utf8');
  const serial = openssl(work, ['x509', '-in', 'leaf.pem', '-noout', '-serial'])
    .trim()
    .replace(/^serial=/, '');
  return {
    certificate,
    chain: ca.chain,
    encryptedPrivateKey: readFileSync(path.join(work, 'key.enc.pem'), 'utf8'),
    passphrase,
    privateKey: readFileSync(path.join(work, 'key.pem'), 'utf8'),
    serial,
    names: [...options.names],
  };
}

/** Serial of a PEM certificate, as `openssl x509 -serial` prints it. */
export function certificateSerial(pem: string): string {
  return execFileSync('openssl', ['x509', '-noout', '-serial'], { input: pem, encoding: 'utf8' })
    .trim()
    .replace(/^serial=/, '');
}
