/** Redaction of command output: one short line, with anything that looks like key or certificate material withheld. */

/** PEM armour (a BEGIN/END line, or the tail of one). */
const PEM_ARMOUR = /-----(BEGIN|END) |PRIVATE KEY-----/;
/** Runs of base64/base64url characters long enough to hold a secret (a passphrase is 43, PEM lines 64). */
const LONG_RUN = /[A-Za-z0-9+/=_-]{40,}/g;

/** True when `run` decodes to the start of a DER SEQUENCE (0x30, then a length): a certificate or key body. */
function decodesAsDer(run: string): boolean {
  const bytes = Buffer.from(run.replace(/[^A-Za-z0-9+/]/g, '').slice(0, 8), 'base64');
  return bytes.length >= 2 && bytes[0] === 0x30 && (bytes[1] < 0x80 || (bytes[1] >= 0x81 && bytes[1] <= 0x83));
}

/** Average length of the lower-case runs: under 2 in random base64, 4 or more in words (`ReloadWebServers`). */
function shortLowerRuns(text: string): boolean {
  const lower = text.match(/[a-z]+/g) ?? [];
  return lower.length > 0 && lower.join('').length / lower.length < 3;
}

/**
 * Random text rather than words, host names or hex ids: both cases, and digits or short lower-case runs.
 * (Lower-case names and hex ids lack a case; CamelCase words have long lower-case runs.)
 */
function random(text: string): boolean {
  return /[A-Z]/.test(text) && /[a-z]/.test(text) && (/[0-9]/.test(text) || shortLowerRuns(text));
}

/**
 * Whether a long run of base64-alphabet characters is (probably) key material rather than a path. Paths
 * are `/`-separated words (`/var/lib/acm-export/certs/site`); base64 has at most a few `/`, and the pieces
 * between them are random text.
 */
function looksLikeKeyMaterial(run: string): boolean {
  if (!random(run)) return false;
  if (decodesAsDer(run)) return true;
  if ((run.match(/\//g) ?? []).length <= 2) return true; // 40+ random characters, at most a couple of '/'
  // A PEM body line: 64 base64 characters, however many of them happen to be '/'.
  if (run.length === 64 && /^[A-Za-z0-9+/]+={0,2}$/.test(run)) return true;
  // Otherwise base64 only if most of its characters sit in random (not word-like) pieces.
  const segments = run.split('/').filter((segment) => segment.length > 0);
  const randomChars = segments
    .filter((segment) => segment.length >= 4 && random(segment) && shortLowerRuns(segment))
    .reduce((sum, segment) => sum + segment.length, 0);
  return run.length >= 60 && randomChars * 2 > segments.reduce((sum, segment) => sum + segment.length, 0);
}

/** PEM armour, or a run of base64 without path structure (a passphrase, a PEM body line, a DER blob). */
export function looksLikeSecret(line: string): boolean {
  if (PEM_ARMOUR.test(line)) return true;
  return (line.match(LONG_RUN) ?? []).some(looksLikeKeyMaterial);
}

/** One safe, short line: control characters removed, anything key-like withheld, at most 200 characters. */
export function safeLine(text: string | undefined): string {
  const lines = (text ?? '')
    .split(/\r?\n/)
    .map((l) => l.replace(/\p{Cc}/gu, ' ').trim())
    .filter((l) => l.length > 0);
  const last = lines[lines.length - 1] ?? '';
  if (looksLikeSecret(last)) return '(output withheld: it looks like key or certificate material)';
  return last.length > 200 ? `${last.slice(0, 197)}...` : last;
}
