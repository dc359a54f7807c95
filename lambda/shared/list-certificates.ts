/**
 * `GET /certificates`: inventory targets ordered by expiry (a Query on the ByExpiry index, never a Scan),
 * paginated with an opaque `nextToken` (base64url of the index key).
 */
import { z } from 'zod';
import type { CertificateTargetView, ListCertificatesResponse } from './api-types';
import { INVENTORY, InventoryItem } from './contract';
import { InvalidInput } from './errors';
import { InventoryDeps, targetsByExpiry } from './inventory';
import { certificateArnRule } from './patterns';

export const LIST_LIMITS = { defaultLimit: 50, maxLimit: 100, maxExpiringWithinDays: 3650 } as const;
const DAY_MS = 86_400_000;

export interface ListCertificatesQuery {
  limit: number;
  expiringWithinDays?: number;
  startKey?: Record<string, string>;
}

const integerParam = (name: string, min: number, max: number) =>
  z
    .string()
    .regex(/^[0-9]{1,6}$/, { error: `${name}: must be an integer from ${min} to ${max}` })
    .transform(Number)
    .refine((n) => n >= min && n <= max, { error: `${name}: must be an integer from ${min} to ${max}` });

const tokenKeySchema = z.strictObject({
  [INVENTORY.partitionKey]: z.string().regex(new RegExp(certificateArnRule().pattern)),
  [INVENTORY.sortKey]: z.string().min(3).max(400),
  [INVENTORY.itemTypeAttribute]: z.literal(INVENTORY.itemTypeValue),
  [INVENTORY.expiryAttribute]: z.string().max(40),
});

export function encodeNextToken(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

export function decodeNextToken(token: string): Record<string, string> {
  const bad = new InvalidInput('nextToken: must be a token returned by a previous page of this listing');
  if (!/^[A-Za-z0-9_-]{1,2048}$/.test(token)) throw bad;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw bad;
  }
  const parsed = tokenKeySchema.safeParse(value);
  if (!parsed.success) throw bad;
  return parsed.data as Record<string, string>;
}

/** Validates the query string; unknown parameters are rejected. */
export function parseListQuery(params: Record<string, string | undefined> | null | undefined): ListCertificatesQuery {
  const p = params ?? {};
  const unknown = Object.keys(p).filter((k) => !['limit', 'expiringWithinDays', 'nextToken'].includes(k));
  if (unknown.length > 0) throw new InvalidInput(`${unknown[0].replace(/[^A-Za-z0-9_.-]/g, '?').slice(0, 40)}: is not a known query parameter`);
  const query: ListCertificatesQuery = { limit: LIST_LIMITS.defaultLimit };
  if (p.limit !== undefined) {
    const r = integerParam('limit', 1, LIST_LIMITS.maxLimit).safeParse(p.limit);
    if (!r.success) throw new InvalidInput(`limit: must be an integer from 1 to ${LIST_LIMITS.maxLimit}`);
    query.limit = r.data;
  }
  if (p.expiringWithinDays !== undefined) {
    const r = integerParam('expiringWithinDays', 0, LIST_LIMITS.maxExpiringWithinDays).safeParse(p.expiringWithinDays);
    if (!r.success) throw new InvalidInput(`expiringWithinDays: must be an integer from 0 to ${LIST_LIMITS.maxExpiringWithinDays}`);
    query.expiringWithinDays = r.data;
  }
  if (p.nextToken !== undefined) query.startKey = decodeNextToken(p.nextToken);
  return query;
}

export function daysToExpiry(expiry: string, now: Date): number {
  const t = Date.parse(expiry);
  return Number.isNaN(t) ? 0 : Math.floor((t - now.getTime()) / DAY_MS);
}

export function toView(item: InventoryItem, now: Date): CertificateTargetView {
  return {
    certificateArn: item.certificateArn,
    certName: item.certName,
    target: item.target,
    targetTagKey: item.targetTagKey,
    targetTagValue: item.targetTagValue,
    lastSerial: item.lastSerial,
    certExpiryDate: item.certExpiryDate,
    daysToExpiry: daysToExpiry(item.certExpiryDate, now),
    lastExportedDate: item.lastExportedDate,
    ...(item.lastDeployStatus ? { lastDeployStatus: item.lastDeployStatus } : {}),
    ...(item.lastDeployedDate ? { lastDeployedDate: item.lastDeployedDate } : {}),
    lastExecutionArn: item.lastExecutionArn,
    certDir: item.certDir,
    keyDir: item.keyDir,
    service: item.service,
    verifyPort: item.verifyPort,
    maxConcurrency: item.maxConcurrency,
    maxErrors: item.maxErrors,
  };
}

export async function listCertificates(
  query: ListCertificatesQuery,
  deps: InventoryDeps & { now?: () => Date },
): Promise<ListCertificatesResponse> {
  const now = (deps.now ?? (() => new Date()))();
  const until =
    query.expiringWithinDays === undefined ? undefined : new Date(now.getTime() + query.expiringWithinDays * DAY_MS).toISOString();
  const page = await targetsByExpiry(deps, { until, limit: query.limit, startKey: query.startKey });
  return {
    items: page.items.map((item) => toView(item, now)),
    ...(page.lastKey ? { nextToken: encodeNextToken(page.lastKey) } : {}),
  };
}
