import { createHash, randomBytes } from 'node:crypto';

export type RandomBytes = (size: number) => Uint8Array;

/**
 * A strong passphrase for ExportCertificate: 32 random bytes as base64url (43 characters of
 * A-Z a-z 0-9 - _), inside ACM's 4..128 limit and free of the forbidden #, $ and %.
 */
export function generatePassphrase(random: RandomBytes = randomBytes): string {
  const bytes = random(32);
  if (bytes.length !== 32) throw new Error('random source returned the wrong number of bytes');
  return Buffer.from(bytes).toString('base64url');
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * A deterministic, UUID-formatted token (RFC 9562 version 8 layout) derived from `seed`: the same
 * execution always yields the same Secrets Manager ClientRequestToken, so a retried task cannot
 * create a second secret version.
 */
export function deterministicUuid(seed: string): string {
  const hex = sha256Hex(seed).slice(0, 32).split('');
  hex[12] = '8';
  hex[16] = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
