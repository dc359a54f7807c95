/**
 * Test PKI generated at test time (nothing is committed): a root CA, an intermediate, and leaf certificates
 * with whatever names, dates, serials and extensions a test needs. ECDSA P-256 keys keep it fast.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
export const SCT_LIST_OID = '1.3.6.1.4.1.11129.2.4.2';
const DAY = 86_400_000;

export interface Issued {
  cert: x509.X509Certificate;
  certPem: string;
  keyPem: string;
  keys: CryptoKeyPair;
  name: string;
}

export interface LeafOptions {
  commonName?: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  notBefore?: Date;
  notAfter?: Date;
  /** Hex serial number. */
  serial?: string;
  /** Embed a (fake, unsigned) SCT list with this many entries. */
  scts?: number;
  /** An RSA 2048 key instead of EC P-256 (RSA key exchange needs one). */
  rsa?: boolean;
  /** Authority Information Access: the OCSP responder URL. */
  ocspUrl?: string;
  /** CRL distribution point URL. */
  crlUrl?: string;
}

const RSA_ALG = {
  name: 'RSASSA-PKCS1-v1_5',
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: 'SHA-256',
} as const;

async function keyPair(rsa = false): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(rsa ? RSA_ALG : ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function keyPem(keys: CryptoKeyPair): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return `-----BEGIN PRIVATE KEY-----\n${der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n?$/, '\n')}-----END PRIVATE KEY-----\n`;
}

function randomSerial(): string {
  // Positive, 16 bytes, first byte below 0x80.
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] & 0x7f) | 0x01;
  return Buffer.from(bytes).toString('hex');
}

async function finish(cert: x509.X509Certificate, keys: CryptoKeyPair, name: string): Promise<Issued> {
  return { cert, certPem: cert.toString('pem') + '\n', keyPem: await keyPem(keys), keys, name };
}

/** A self-signed certificate authority (or, with `ca: false`, a self-signed server certificate). */
export async function selfSigned(
  name: string,
  options: { ca?: boolean; dnsNames?: string[]; notAfter?: Date } = {},
): Promise<Issued> {
  const keys = await keyPair();
  const ca = options.ca ?? true;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(ca, ca ? 1 : undefined, true),
    new x509.KeyUsagesExtension(
      ca ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign : x509.KeyUsageFlags.digitalSignature,
      true,
    ),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (options.dnsNames)
    extensions.push(
      new x509.SubjectAlternativeNameExtension(options.dnsNames.map((value) => ({ type: 'dns' as const, value }))),
    );
  if (!ca) extensions.push(new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]));
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${name}`,
    notBefore: new Date(Date.now() - DAY),
    notAfter: options.notAfter ?? new Date(Date.now() + 3650 * DAY),
    keys,
    signingAlgorithm: ALG,
    extensions,
  });
  return finish(cert, keys, name);
}

/** An intermediate CA signed by `issuer`. */
export async function intermediate(issuer: Issued, name: string): Promise<Issued> {
  const keys = await keyPair();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${name}`,
    issuer: issuer.cert.subject,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 1825 * DAY),
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.cert),
    ],
  });
  return finish(cert, keys, name);
}

/** A TLS server certificate signed by `issuer`. */
export async function leaf(issuer: Issued, options: LeafOptions = {}): Promise<Issued> {
  const keys = await keyPair(options.rsa);
  const names = [
    ...(options.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(options.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(issuer.cert),
  ];
  if (names.length) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  if (options.ocspUrl) extensions.push(new x509.AuthorityInfoAccessExtension({ ocsp: options.ocspUrl }));
  if (options.crlUrl) extensions.push(new x509.CRLDistributionPointsExtension([options.crlUrl]));
  if (options.scts) extensions.push(new x509.Extension(SCT_LIST_OID, false, fakeSctList(options.scts)));
  const name = options.commonName ?? options.dnsNames?.[0] ?? 'server';
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: options.serial ?? randomSerial(),
    subject: `CN=${name}`,
    issuer: issuer.cert.subject,
    notBefore: options.notBefore ?? new Date(Date.now() - DAY),
    notAfter: options.notAfter ?? new Date(Date.now() + 90 * DAY),
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    signingAlgorithm: ALG,
    extensions,
  });
  return finish(cert, keys, name);
}

/** The extnValue of an SCT list extension: OCTET STRING wrapping a TLS-encoded list of `count` fake SCTs. */
export function fakeSctList(count: number): Uint8Array {
  const scts: Buffer[] = [];
  for (let i = 0; i < count; i += 1) {
    const body = Buffer.concat([
      Buffer.from([0]), // v1
      Buffer.alloc(32, i + 1), // log id
      Buffer.from([0, 0, 1, 0x90, 0, 0, 0, i]), // timestamp
      Buffer.from([0, 0]), // no extensions
      Buffer.from([4, 3]), // sha256 / ecdsa
      Buffer.from([0, 4, 1, 2, 3, 4]), // signature (fake)
    ]);
    scts.push(Buffer.concat([u16(body.length), body]));
  }
  const list = Buffer.concat(scts);
  const tls = Buffer.concat([u16(list.length), list]);
  return new Uint8Array(Buffer.concat([Buffer.from([0x04]), derLength(tls.length), tls]));
}

function u16(n: number): Buffer {
  return Buffer.from([(n >> 8) & 0xff, n & 0xff]);
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  return Buffer.from([0x82, (n >> 8) & 0xff, n & 0xff]);
}

/** Date helper: now plus `days` (negative for the past). */
export function daysFromNow(days: number): Date {
  return new Date(Date.now() + days * DAY);
}
