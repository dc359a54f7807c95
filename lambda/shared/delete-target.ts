/**
 * `DELETE /certificates/{certificateArn}/targets/{target}`: stop converging a target. Deletes its State
 * Manager association (by the stored id, else by its name) and its inventory item. The files already
 * installed on the nodes stay where they are (removeFiles is not implemented: remove them with your own
 * tooling, or re-point the servers first).
 */
import { SSMClient } from '@aws-sdk/client-ssm';
import type { DeleteTargetResponse } from './api-types';
import { associationName, removeAssociation } from './associations';
import { parseTargetKey } from './contract';
import { InvalidInput } from './errors';
import { InventoryDeps, deleteItem, getItem } from './inventory';
import { FIELD_RULES, RESERVED_TAG_PREFIX } from './patterns';

export interface DeleteTargetRequest {
  certificateArn: string;
  target: string;
}

/** Path parameters arrive URL-encoded or already decoded: neither an ARN nor a target may contain "%". */
function decoded(value: string | undefined, name: string): string {
  if (value === undefined || value === '') throw new InvalidInput(`${name}: is required`);
  if (value.length > 3000) throw new InvalidInput(`${name}: is too long`);
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    throw new InvalidInput(`${name}: is not validly URL-encoded`);
  }
}

/** Validates the path parameters and the query string (only removeFiles=false or nothing). */
export function parseDeleteTarget(
  pathParameters: Record<string, string | undefined> | null | undefined,
  query: Record<string, string | undefined> | null | undefined,
): DeleteTargetRequest {
  const certificateArn = decoded(pathParameters?.certificateArn, 'certificateArn');
  const target = decoded(pathParameters?.target, 'target');
  const arnRule = FIELD_RULES.CertificateArn;
  if (certificateArn.length > arnRule.maxLength || !new RegExp(arnRule.pattern).test(certificateArn)) {
    throw new InvalidInput(`certificateArn: ${arnRule.rule}`);
  }
  const targetRule = FIELD_RULES.Target;
  if (target.length > targetRule.maxLength || !new RegExp(targetRule.pattern).test(target) || target === '') {
    throw new InvalidInput('target: must be <TagKey>=<TagValue> (URL-encoded), as listed by GET /certificates');
  }
  if (RESERVED_TAG_PREFIX.test(parseTargetKey(target).tagKey)) throw new InvalidInput('target: the tag key must not start with "aws:"');
  const params = query ?? {};
  const unknown = Object.keys(params).filter((k) => k !== 'removeFiles');
  if (unknown.length > 0) throw new InvalidInput(`${unknown[0].replace(/[^A-Za-z0-9_.-]/g, '?').slice(0, 40)}: is not a known query parameter`);
  if (params.removeFiles !== undefined && params.removeFiles !== 'false') {
    throw new InvalidInput('removeFiles: only false is supported; installed files are left on the nodes');
  }
  return { certificateArn, target };
}

export async function deleteTarget(
  request: DeleteTargetRequest,
  deps: InventoryDeps & { ssm: SSMClient },
): Promise<{ found: false } | { found: true; body: DeleteTargetResponse }> {
  const key = { certificateArn: request.certificateArn, target: request.target };
  const item = await getItem(deps, key);
  // The association first: if that fails, the item (and the id in it) stays for a retry.
  const associationDeleted = await removeAssociation(deps.ssm, associationName(key.certificateArn, key.target), item?.associationId);
  const deleted = item ? await deleteItem(deps, key) : undefined;
  if (!item && !associationDeleted) return { found: false };
  return {
    found: true,
    body: {
      certificateArn: key.certificateArn,
      target: key.target,
      inventoryItemDeleted: deleted !== undefined,
      associationDeleted,
      filesRemoved: false,
    },
  };
}
