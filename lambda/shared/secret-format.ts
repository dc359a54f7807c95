/**
 * The certificate secret: one SecretString per export holding, as PEM blocks, the passphrase, the leaf
 * certificate, the chain (in order) and the encrypted PKCS#8 key. Nodes have bash, coreutils and openssl
 * but not jq, and PEM blocks split cleanly with sed/awk; keeping all four parts in ONE version means a key
 * can never be paired with another export's passphrase.
 */
export const PASSPHRASE_LABEL = 'ACM EXPORT PASSPHRASE';
export const SECRET_FORMAT_VERSION = 'acm-export-secret-v1';

export interface CertificateBundle {
  certificate: string;
  chain: string;
  encryptedPrivateKey: string;
  passphrase: string;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)\r?\n-----END \1-----/g;

function pemBlocks(text: string): { label: string; pem: string; body: string }[] {
  return [...text.matchAll(BLOCK)].map((m) => ({ label: m[1], pem: m[0], body: m[2] }));
}

export function formatSecret(bundle: CertificateBundle): string {
  if (!/^[A-Za-z0-9_-]{4,128}$/.test(bundle.passphrase)) throw new Error('passphrase must be URL-safe base64');
  const certs = pemBlocks(bundle.certificate).filter((b) => b.label === 'CERTIFICATE');
  const chain = pemBlocks(bundle.chain).filter((b) => b.label === 'CERTIFICATE');
  const keys = pemBlocks(bundle.encryptedPrivateKey).filter((b) => b.label === 'ENCRYPTED PRIVATE KEY');
  if (certs.length !== 1) throw new Error('export returned no single leaf certificate');
  if (chain.length === 0) throw new Error('export returned no certificate chain');
  if (keys.length !== 1) throw new Error('export returned no encrypted PKCS#8 private key');
  return [
    `# ${SECRET_FORMAT_VERSION}`,
    `-----BEGIN ${PASSPHRASE_LABEL}-----`,
    bundle.passphrase,
    `-----END ${PASSPHRASE_LABEL}-----`,
    certs[0].pem,
    ...chain.map((b) => b.pem),
    keys[0].pem,
    '',
  ].join('\n');
}

export function parseSecret(secret: string): CertificateBundle {
  const blocks = pemBlocks(secret);
  const pass = blocks.filter((b) => b.label === PASSPHRASE_LABEL);
  const certs = blocks.filter((b) => b.label === 'CERTIFICATE');
  const keys = blocks.filter((b) => b.label === 'ENCRYPTED PRIVATE KEY');
  if (pass.length !== 1 || certs.length < 2 || keys.length !== 1) throw new Error('not an acm-export certificate secret');
  return {
    passphrase: pass[0].body.trim(),
    certificate: `${certs[0].pem}\n`,
    chain: `${certs.slice(1).map((b) => b.pem).join('\n')}\n`,
    encryptedPrivateKey: `${keys[0].pem}\n`,
  };
}
