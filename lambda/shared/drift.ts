/**
 * Drift: which nodes serve (or hold) another certificate than the inventory's current serial. Pure logic,
 * shared by the scheduled drift-check function and the CLI's `doctor --arn`.
 */

/** `0a:1b:2c` (ACM), `0A1B2C` (OpenSSL), `0x0a1b2c` → `A1B2C`: hex, upper case, no separators or leading zeros. */
export function normalizeSerial(serial: string): string {
  const hex = serial.trim().replace(/^0x/i, '').replace(/[\s:.-]/g, '').toUpperCase();
  return hex.replace(/^0+(?=.)/, '');
}

export function sameSerial(a: string, b: string): boolean {
  return a.trim() !== '' && b.trim() !== '' && normalizeSerial(a) === normalizeSerial(b);
}

/** What one node (or one URL) was seen to serve. */
export interface Observation {
  nodeId: string;
  /** Serial it serves (or, when nothing was checked over TLS, the serial of its installed files). */
  serial: string;
  /** Since when it has that certificate (ISO-8601), when known. */
  since?: string;
}

export interface DriftFinding {
  nodeId: string;
  /** What it serves, normalized (empty: nothing readable). */
  serves: string;
  since?: string;
}

export interface DriftResult {
  /** The expected serials, normalized. */
  expected: string[];
  inSync: string[];
  drifting: DriftFinding[];
}

/** Compares observations with the expected serial(s): in any format, any case, with or without colons. */
export function findDrift(expected: string | string[], observations: Observation[]): DriftResult {
  const wanted = [...new Set((Array.isArray(expected) ? expected : [expected]).filter((s) => s.trim() !== '').map(normalizeSerial))];
  const result: DriftResult = { expected: wanted, inSync: [], drifting: [] };
  for (const o of observations) {
    const serves = o.serial.trim() === '' ? '' : normalizeSerial(o.serial);
    if (serves !== '' && wanted.includes(serves)) result.inSync.push(o.nodeId);
    else result.drifting.push({ nodeId: o.nodeId, serves, ...(o.since ? { since: o.since } : {}) });
  }
  return result;
}
