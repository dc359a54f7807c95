/**
 * Drift: which nodes serve or hold another certificate than the inventory's current serial, or hold files
 * that are not a consistent set. Pure logic, shared by the scheduled drift-check function, GET /certificates
 * and the CLI's `doctor --arn` (a URL: what it serves only, no files).
 */

/** `0a:1b:2c` (ACM), `0A1B2C` (OpenSSL), `0x0a1b2c` → `A1B2C`: hex, upper case, no separators or leading zeros. */
export function normalizeSerial(serial: string): string {
  const hex = serial
    .trim()
    .replace(/^0x/i, '')
    .replace(/[\s:.-]/g, '')
    .toUpperCase();
  return hex.replace(/^0+(?=.)/, '');
}

export function sameSerial(a: string, b: string): boolean {
  return a.trim() !== '' && b.trim() !== '' && normalizeSerial(a) === normalizeSerial(b);
}

/** What one node (or one URL) was seen to serve, and for a node what its files hold. */
export interface Observation {
  nodeId: string;
  /** Serial it serves (or, when nothing was checked over TLS, the serial of its installed files). */
  serial: string;
  /** Serial of its installed certificate file (nodes only; absent for a URL, whose files are not seen). */
  holds?: string;
  /** What its last run found wrong with the files (missing file, key not matching the certificate); nodes only. */
  problem?: string;
  /** Since when it has that certificate (ISO-8601), when known. */
  since?: string;
  /** When the node last looked (ISO-8601), when known. */
  checkedAt?: string;
}

export interface DriftFinding {
  nodeId: string;
  /** What it serves, normalized (empty: nothing readable). */
  serves: string;
  /** What its files hold, normalized, when that differs from what it serves (empty: no readable file). */
  holds?: string;
  /** Why its files are not a consistent set, when they are not. */
  problem?: string;
  since?: string;
  checkedAt?: string;
}

export interface DriftResult {
  /** The expected serials, normalized. */
  expected: string[];
  inSync: string[];
  drifting: DriftFinding[];
}

const normalized = (serial: string): string => (serial.trim() === '' ? '' : normalizeSerial(serial));

/**
 * Compares observations with the expected serial(s), in any format, any case, with or without colons. A
 * node is in sync only when what it serves AND what its files hold are expected serials and its files have
 * no problem; a URL (no `holds`, no `problem`) only by what it serves.
 */
export function findDrift(expected: string | string[], observations: Observation[]): DriftResult {
  const wanted = [
    ...new Set((Array.isArray(expected) ? expected : [expected]).filter((s) => s.trim() !== '').map(normalizeSerial)),
  ];
  const result: DriftResult = { expected: wanted, inSync: [], drifting: [] };
  const ok = (serial: string): boolean => serial !== '' && wanted.includes(serial);
  for (const o of observations) {
    const serves = normalized(o.serial);
    const holds = o.holds === undefined ? undefined : normalized(o.holds);
    const problem = o.problem?.trim() ?? '';
    if (ok(serves) && (holds === undefined || ok(holds)) && problem === '') {
      result.inSync.push(o.nodeId);
      continue;
    }
    result.drifting.push({
      nodeId: o.nodeId,
      serves,
      ...(holds !== undefined && holds !== serves ? { holds } : {}),
      ...(problem ? { problem } : {}),
      ...(o.since ? { since: o.since } : {}),
      ...(o.checkedAt ? { checkedAt: o.checkedAt } : {}),
    });
  }
  return result;
}
