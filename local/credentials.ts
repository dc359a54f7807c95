/**
 * Identity of local mode: the account, the region and the key pair every local endpoint accepts.
 *
 * The key pair is random per state dir (a published constant would let any other user of the machine call a
 * running local mode and read its keys): created on the first start, kept in `credentials.json` (mode 600) in
 * the state dir (mode 700) and reused by every later start with that dir. The client commands read it from
 * there. These are not AWS credentials; they only work against the local emulator and the local API.
 */
import { randomBytes } from 'node:crypto';
import { lstatSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { LocalModeError } from './errors';

export interface LocalCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export const LOCAL_ACCOUNT_ID = '000000000000';
export const LOCAL_REGION = 'us-east-1';

/** Name of the key pair file in the state dir. */
export const LOCAL_CREDENTIALS_FILE = 'credentials.json';

const ACCESS_KEY_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

const CredentialsFileSchema = z.object({
  accessKeyId: z.string().regex(/^AKIA[A-Z0-9]{16}$/, 'accessKeyId must be AKIA and 16 upper-case letters or digits'),
  secretAccessKey: z
    .string()
    .regex(/^[A-Za-z0-9+/]{40}$/, 'secretAccessKey must be 40 characters of A-Z, a-z, 0-9, + and /'),
});

/** `n` characters of the access key id alphabet, without modulo bias (bytes of 252 and up are drawn again). */
function randomAlphanumeric(n: number): string {
  let out = '';
  while (out.length < n) {
    for (const byte of randomBytes(n)) {
      if (byte < 252 && out.length < n) out += ACCESS_KEY_ID_ALPHABET[byte % 36];
    }
  }
  return out;
}

/** A new random key pair shaped like AWS's: `AKIA` + 16 upper-case alphanumerics, a 40-character secret. */
export function generateLocalCredentials(): LocalCredentials {
  // 30 random bytes are exactly 40 base64 characters (no padding).
  return { accessKeyId: `AKIA${randomAlphanumeric(16)}`, secretAccessKey: randomBytes(30).toString('base64') };
}

/** The key pair file of a state dir. */
export function localCredentialsFile(stateDir: string): string {
  return path.join(stateDir, LOCAL_CREDENTIALS_FILE);
}

/**
 * The key pair of the state dir. Refuses a file that is a link, another user's, or readable by others (its
 * pair may be known to them): the message says how to fix it. Never puts the file's content in a message.
 */
export function readLocalCredentials(stateDir: string): LocalCredentials {
  const file = localCredentialsFile(stateDir);
  let st;
  try {
    st = lstatSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new LocalModeError(`${file} does not exist (local mode creates it on its first start with this state dir)`);
    throw error;
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (!st.isFile() || (uid !== undefined && st.uid !== uid))
    throw new LocalModeError(`${file} is not a regular file owned by this user; remove it to get a new key pair`);
  // POSIX only: Windows reports no group/other bits that mean anything here.
  if (uid !== undefined && (st.mode & 0o077) !== 0)
    throw new LocalModeError(
      `${file} is readable or writable by other users (mode ${(st.mode & 0o777).toString(8)}); remove it to get a new key pair`,
    );
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new LocalModeError(`${file} is not JSON; remove it to get a new key pair`);
  }
  const parsed = CredentialsFileSchema.safeParse(raw);
  if (!parsed.success)
    throw new LocalModeError(
      `${file} is not a local key pair (${parsed.error.issues.map((i) => i.message).join('; ')}); remove it to get a new key pair`,
    );
  return parsed.data;
}

/** The key pair of the state dir: the one kept there, or a new one written there (mode 600) on the first start. */
export function loadOrCreateLocalCredentials(stateDir: string): LocalCredentials {
  const credentials = generateLocalCredentials();
  try {
    // 'wx': never follow or overwrite what is there (a concurrent first start, a planted link).
    writeFileSync(localCredentialsFile(stateDir), `${JSON.stringify(credentials)}\n`, { mode: 0o600, flag: 'wx' });
    return credentials;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return readLocalCredentials(stateDir);
}
