/**
 * `GET /certificates`: inventory targets ordered by expiry (a Query on the ByExpiry index, never a Scan),
 * paginated with an opaque `nextToken` (base64url of the index key).
 */
import * as z from '../shared/zod';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { CertificateTargetView, ListCertificatesResponse, NodeView } from './api-types';
import { findDrift } from '../shared/drift';
import { nodeReportsForSecret, observationOf } from '../shared/node-reports';
import { INVENTORY, InventoryItem } from '../shared/contract';
import { InvalidInput } from '../shared/errors';
import { optionsView } from '../shared/fields';
import { profileFromItem } from '../shared/install-command';
import { InventoryDeps, targetsByExpiry } from '../shared/inventory';
import { certificateArnRule } from '../shared/patterns';
import { mapLimited } from '../shared/map-limited';

/** With nodes=true every row costs one paginated GetInventory, hence the smaller default page. */
export const LIST_LIMITS = {
  defaultLimit: 50,
  maxLimit: 100,
  maxExpiringWithinDays: 3650,
  defaultNodesLimit: 20,
  nodesConcurrency: 5,
} as const;
const DAY_MS = 86_400_000;

export interface ListCertificatesQuery {
  limit: number;
  expiringWithinDays?: number;
  startKey?: Record<string, string>;
  /** Add each target's per-node reports (custom SSM Inventory). */
  nodes?: boolean;
}

const integerParam = (name: string, min: number, max: number) =>
  z
    .pipe(
      z.string().check(z.regex(/^[0-9]{1,6}$/, { error: `${name}: must be an integer from ${min} to ${max}` })),
      z.transform(Number),
    )
    .check(z.refine((n) => n >= min && n <= max, { error: `${name}: must be an integer from ${min} to ${max}` }));

const tokenKeySchema = z.strictObject({
  [INVENTORY.partitionKey]: z.string().check(z.regex(new RegExp(certificateArnRule().pattern))),
  [INVENTORY.sortKey]: z.string().check(z.minLength(3), z.maxLength(400)),
  [INVENTORY.itemTypeAttribute]: z.literal(INVENTORY.itemTypeValue),
  [INVENTORY.expiryAttribute]: z.string().check(z.maxLength(40)),
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
  const unknown = Object.keys(p).filter((k) => !['limit', 'expiringWithinDays', 'nextToken', 'nodes'].includes(k));
  if (unknown.length > 0)
    throw new InvalidInput(
      `${unknown[0].replace(/[^A-Za-z0-9_.-]/g, '?').slice(0, 40)}: is not a known query parameter`,
    );
  const query: ListCertificatesQuery = { limit: LIST_LIMITS.defaultLimit };
  if (p.nodes !== undefined) {
    if (p.nodes !== 'true' && p.nodes !== 'false') throw new InvalidInput('nodes: must be true or false');
    query.nodes = p.nodes === 'true';
    if (query.nodes) query.limit = LIST_LIMITS.defaultNodesLimit;
  }
  if (p.limit !== undefined) {
    const r = integerParam('limit', 1, LIST_LIMITS.maxLimit).safeParse(p.limit);
    if (!r.success) throw new InvalidInput(`limit: must be an integer from 1 to ${LIST_LIMITS.maxLimit}`);
    query.limit = r.data;
  }
  if (p.expiringWithinDays !== undefined) {
    const r = integerParam('expiringWithinDays', 0, LIST_LIMITS.maxExpiringWithinDays).safeParse(p.expiringWithinDays);
    if (!r.success)
      throw new InvalidInput(`expiringWithinDays: must be an integer from 0 to ${LIST_LIMITS.maxExpiringWithinDays}`);
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
  // The options (with the defaults for those an older item lacks) under their camelCase view names.
  const options = optionsView(profileFromItem(item)) as Pick<
    CertificateTargetView,
    | 'certName'
    | 'targetTagKey'
    | 'targetTagValue'
    | 'certDir'
    | 'keyDir'
    | 'service'
    | 'verifyPort'
    | 'maxConcurrency'
    | 'maxErrors'
  > &
    Partial<CertificateTargetView>;
  return {
    certificateArn: item.certificateArn,
    target: item.target,
    lastSerial: item.lastSerial,
    certExpiryDate: item.certExpiryDate,
    daysToExpiry: daysToExpiry(item.certExpiryDate, now),
    lastExportedDate: item.lastExportedDate,
    ...(item.lastDeployStatus ? { lastDeployStatus: item.lastDeployStatus } : {}),
    ...(item.lastDeployedDate ? { lastDeployedDate: item.lastDeployedDate } : {}),
    ...(item.lastDeploySource ? { lastDeploySource: item.lastDeploySource } : {}),
    ...(item.lastDeployFailure ? { lastDeployFailure: item.lastDeployFailure } : {}),
    ...(item.removalStatus ? { removalStatus: item.removalStatus } : {}),
    ...(item.removalRequestedAt ? { removalRequestedAt: item.removalRequestedAt } : {}),
    ...(item.removalCommandId ? { removalCommandId: item.removalCommandId } : {}),
    ...(item.removalFailures ? { removalFailures: item.removalFailures } : {}),
    lastExecutionArn: item.lastExecutionArn,
    ...options,
    ...(item.associationId ? { associationId: item.associationId } : {}),
    ...(item.reportAssociationId ? { reportAssociationId: item.reportAssociationId } : {}),
  };
}

/**
 * The target's nodes as they reported themselves, compared with its lastSerial (the shared drift rule:
 * served and installed serial expected, no problem with the files).
 */
export async function nodesOf(
  ssm: SSMClient,
  item: InventoryItem,
): Promise<Pick<CertificateTargetView, 'nodes' | 'nodesInSync' | 'nodesDrifting'>> {
  if (!item.lastSecretArn) return { nodes: [], nodesInSync: 0, nodesDrifting: 0 };
  const reports = await nodeReportsForSecret(ssm, item.lastSecretArn);
  const drift = findDrift(item.lastSerial, reports.map(observationOf));
  const inSync = new Set(drift.inSync);
  const nodes: NodeView[] = reports.map((r) => ({
    nodeId: r.nodeId,
    serial: r.serial,
    servedSerial: r.servedSerial,
    notAfter: r.notAfter,
    verified: r.verified,
    installedAt: r.installedAt,
    lastRun: r.lastRun,
    ...(r.failedStep ? { failedStep: r.failedStep } : {}),
    lastRunAt: r.lastRunAt,
    ...(r.checkedAt ? { checkedAt: r.checkedAt } : {}),
    ...(r.problem ? { problem: r.problem } : {}),
    secretVersionId: r.secretVersionId,
    capturedAt: r.capturedAt,
    inSync: inSync.has(r.nodeId),
  }));
  return { nodes, nodesInSync: drift.inSync.length, nodesDrifting: drift.drifting.length };
}

export async function listCertificates(
  query: ListCertificatesQuery,
  deps: InventoryDeps & { now?: () => Date; ssm?: SSMClient },
): Promise<ListCertificatesResponse> {
  const now = (deps.now ?? (() => new Date()))();
  const until =
    query.expiringWithinDays === undefined
      ? undefined
      : new Date(now.getTime() + query.expiringWithinDays * DAY_MS).toISOString();
  const page = await targetsByExpiry(deps, { until, limit: query.limit, startKey: query.startKey });
  const ssm = deps.ssm;
  const items =
    query.nodes && ssm
      ? await mapLimited(page.items, LIST_LIMITS.nodesConcurrency, async (item) => ({
          ...toView(item, now),
          ...(await nodesOf(ssm, item)),
        }))
      : page.items.map((item) => toView(item, now));
  return {
    items,
    ...(page.lastKey ? { nextToken: encodeNextToken(page.lastKey) } : {}),
  };
}
