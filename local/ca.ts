/**
 * A local certificate authority for local mode: a root and an intermediate, created at start (or loaded
 * from the state directory), that issue server certificates shaped like ACM's public ones (198 days,
 * SANs, serverAuth, random 16-byte serials) with RSA 2048, EC P-256 or EC P-384 keys.
 * Pure JavaScript (webcrypto + @peculiar/x509): no openssl is needed to issue.
 */
import { createPrivateKey, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
// @peculiar/x509 needs the Reflect metadata API (tsyringe); load it before the library.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

export type LocalKeyAlgorithm = 'RSA_2048' | 'EC_prime256v1' | 'EC_secp384r1';
export const KEY_ALGORITHMS: readonly LocalKeyAlgorithm[] = ['RSA_2048', 'EC_prime256v1', 'EC_secp384r1'];

/** ACM's validity for public certificates. */
export const LEAF_VALIDITY_DAYS = 198;
const DAY_MS = 86_400_000;

export interface IssuedCertificate {
  /** Leaf certificate, PEM. */
  certificatePem: string;
  /** Intermediate then root, PEM. */
  chainPem: string;
  /** Unencrypted PKCS#8 private key, PEM (kept inside the emulator; export encrypts it). */
  privateKeyPem: string;
  /** Lower-case hex, 32 digits. */
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  subject: string;
  issuer: string;
  signatureAlgorithm: string;
}

interface StoredCa {
  rootCertPem: string;
  rootKeyPem: string;
  intermediateCertPem: string;
  intermediateKeyPem: string;
}

function keyParams(alg: LocalKeyAlgorithm): webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams {
  switch (alg) {
    case 'RSA_2048':
      return {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: 2048,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      };
    case 'EC_prime256v1':
      return { name: 'ECDSA', namedCurve: 'P-256' };
    case 'EC_secp384r1':
      return { name: 'ECDSA', namedCurve: 'P-384' };
  }
}

const CA_ALG: webcrypto.EcdsaParams & webcrypto.EcKeyImportParams = {
  name: 'ECDSA',
  namedCurve: 'P-384',
  hash: 'SHA-384',
};

async function generate(alg: LocalKeyAlgorithm | 'CA'): Promise<CryptoKeyPair> {
  const params = alg === 'CA' ? CA_ALG : keyParams(alg);
  return (await webcrypto.subtle.generateKey(params, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function pkcs8Pem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();
}

async function importCaKey(pem: string): Promise<CryptoKey> {
  const der = createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' });
  return webcrypto.subtle.importKey('pkcs8', der, CA_ALG, false, ['sign']);
}

function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] &= 0x7f; // positive INTEGER
  bytes[0] |= 0x01; // never a leading zero byte, so the serial is always 16 bytes
  return bytes.toString('hex');
}

/** `0a:1b:...` as ACM shows serials. */
export function colonHex(hex: string): string {
  return (hex.length % 2 ? `0${hex}` : hex).toLowerCase().match(/../g)!.join(':');
}

export class LocalCa {
  private constructor(
    private readonly root: x509.X509Certificate,
    private readonly intermediate: x509.X509Certificate,
    private readonly intermediateKey: CryptoKey,
  ) {}

  /** Creates a CA, or loads the one persisted in `stateDir` (and persists a new one there). */
  static async create(options: { stateDir?: string; name?: string } = {}): Promise<LocalCa> {
    const file = options.stateDir ? path.join(options.stateDir, 'local-ca.json') : undefined;
    if (file && existsSync(file)) {
      const stored = JSON.parse(readFileSync(file, 'utf8')) as StoredCa;
      return new LocalCa(
        new x509.X509Certificate(stored.rootCertPem),
        new x509.X509Certificate(stored.intermediateCertPem),
        await importCaKey(stored.intermediateKeyPem),
      );
    }
    const name = options.name ?? 'acm-export local';
    const now = Date.now();
    const rootKeys = await generate('CA');
    const root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: `CN=${name} Root CA, O=acm-export local mode`,
      notBefore: new Date(now - DAY_MS),
      notAfter: new Date(now + 3650 * DAY_MS),
      keys: rootKeys,
      signingAlgorithm: CA_ALG,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey),
      ],
    });
    const interKeys = await generate('CA');
    const intermediate = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: `CN=${name} Intermediate CA, O=acm-export local mode`,
      issuer: root.subject,
      notBefore: new Date(now - DAY_MS),
      notAfter: new Date(now + 1825 * DAY_MS),
      publicKey: interKeys.publicKey,
      signingKey: rootKeys.privateKey,
      signingAlgorithm: CA_ALG,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(interKeys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(root),
      ],
    });
    const ca = new LocalCa(root, intermediate, interKeys.privateKey);
    if (file) {
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      const stored: StoredCa = {
        rootCertPem: root.toString('pem'),
        rootKeyPem: await pkcs8Pem(rootKeys.privateKey),
        intermediateCertPem: intermediate.toString('pem'),
        intermediateKeyPem: await pkcs8Pem(interKeys.privateKey),
      };
      writeFileSync(file, JSON.stringify(stored), { mode: 0o600 });
      chmodSync(file, 0o600);
    }
    return ca;
  }

  /** The root certificate (PEM) that clients and nodes must trust. */
  get rootPem(): string {
    return `${this.root.toString('pem')}\n`;
  }

  get intermediatePem(): string {
    return `${this.intermediate.toString('pem')}\n`;
  }

  /** Chain as ACM returns it: intermediate, then root. */
  get chainPem(): string {
    return `${this.intermediatePem}${this.rootPem}`;
  }

  async issue(request: {
    domainName: string;
    subjectAlternativeNames?: string[];
    keyAlgorithm: LocalKeyAlgorithm;
    now?: Date;
  }): Promise<IssuedCertificate> {
    const now = request.now ?? new Date();
    const names = [...new Set([request.domainName, ...(request.subjectAlternativeNames ?? [])])];
    const keys = await generate(request.keyAlgorithm);
    const serialHex = randomSerial();
    const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000);
    const notAfter = new Date(notBefore.getTime() + LEAF_VALIDITY_DAYS * DAY_MS - 1000);
    const isRsa = request.keyAlgorithm === 'RSA_2048';
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: serialHex,
      subject: `CN=${request.domainName}`,
      issuer: this.intermediate.subject,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: this.intermediateKey,
      signingAlgorithm: CA_ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(
          isRsa
            ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
            : x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: 'dns' as const, value }))),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(this.intermediate),
      ],
    });
    return {
      certificatePem: `${leaf.toString('pem')}\n`,
      chainPem: this.chainPem,
      privateKeyPem: await pkcs8Pem(keys.privateKey),
      serialHex,
      notBefore,
      notAfter,
      subject: leaf.subject,
      issuer: leaf.issuer,
      signatureAlgorithm: 'SHA384WITHECDSA',
    };
  }
}

/** Encrypts a PKCS#8 key the way ACM's ExportCertificate returns it (PBES2, AES-256-CBC). */
export function encryptPrivateKey(privateKeyPem: string | KeyObject, passphrase: Buffer): string {
  const key = typeof privateKeyPem === 'string' ? createPrivateKey(privateKeyPem) : privateKeyPem;
  return key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }).toString();
}

/** A self-signed placeholder certificate a node serves before its first install. */
export async function selfSignedPlaceholder(
  commonName: string,
): Promise<{ certificatePem: string; privateKeyPem: string }> {
  const keys = await generate('EC_prime256v1');
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${commonName}`,
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + 30 * DAY_MS),
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: commonName }])],
  });
  return { certificatePem: `${cert.toString('pem')}\n`, privateKeyPem: await pkcs8Pem(keys.privateKey) };
}
