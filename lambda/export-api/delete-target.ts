/**
 * `DELETE /certificates/{certificateArn}/targets/{target}[?removeFiles=true|false]`: stop converging a
 * target. Deletes its two State Manager associations (install and report; each by the stored id, else by
 * its name) and its inventory item.
 *
 * The installed files stay on the nodes unless removeFiles=true. Then the inventory item is required (it is
 * the only record of the certificate name, directories and secret the nodes hold; without it: not found,
 * nothing changed), and the order is: both associations (so that no scheduled run installs or reports
 * again), then ONE SendCommand of the install document with Action=remove to the target's tag (each node
 * independent: MaxErrors 100%), then the item. When the command cannot be sent, the item stays and the
 * request can simply be repeated. The removal itself runs asynchronously on the nodes: a node whose web
 * server still references the files keeps them and fails its invocation at the configuration test.
 */
import { SSMClient } from '@aws-sdk/client-ssm';
import type { DeleteTargetResponse, FilesRemoval } from './api-types';
import { associationName, removeAssociation, reportAssociationName } from '../shared/associations';
import { InventoryItem, parseTargetKey } from '../shared/contract';
import { InvalidInput } from '../shared/errors';
import {
  InstallCommandSettings,
  documentParameters,
  profileFromItem,
  sendInstallCommand,
} from '../shared/install-command';
import { InventoryDeps, deleteItem, getItem } from '../shared/inventory';
import { FIELD_RULES, RESERVED_TAG_PREFIX } from '../shared/patterns';

/** Each node removes its files on its own: one node that refuses must not cancel the others. */
export const REMOVE_MAX_ERRORS = '100%';

/** The remove run's delivery settings and the region the nodes' parameters name. */
export type RemoveCommandSettings = InstallCommandSettings & { region: string };

export interface DeleteTargetDeps extends InventoryDeps {
  ssm: SSMClient;
  /** Read only when files are to be removed (the API's other routes do not need the install document). */
  removeCommand: () => RemoveCommandSettings;
}

export interface DeleteTargetRequest {
  certificateArn: string;
  target: string;
  /** `removeFiles=true`: also remove the installed files from the nodes. */
  removeFiles: boolean;
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

/** Validates the path parameters and the query string (only `removeFiles`, `true` or `false`). */
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
  if (RESERVED_TAG_PREFIX.test(parseTargetKey(target).tagKey))
    throw new InvalidInput('target: the tag key must not start with "aws:"');
  const params = query ?? {};
  const unknown = Object.keys(params).filter((k) => k !== 'removeFiles');
  if (unknown.length > 0)
    throw new InvalidInput(
      `${unknown[0].replace(/[^A-Za-z0-9_.-]/g, '?').slice(0, 40)}: is not a known query parameter`,
    );
  if (params.removeFiles !== undefined && params.removeFiles !== 'true' && params.removeFiles !== 'false') {
    throw new InvalidInput('removeFiles: must be true or false');
  }
  return { certificateArn, target, removeFiles: params.removeFiles === 'true' };
}

export type DeleteTargetResult =
  | { found: true; body: DeleteTargetResponse }
  /** `noRecord`: removeFiles=true without an inventory item (nothing was changed). */
  | { found: false; noRecord: boolean };

/** Deletes the target's install and report associations (install first), by stored id, else by name. */
async function removeAssociations(
  ssm: SSMClient,
  key: { certificateArn: string; target: string },
  item: InventoryItem | undefined,
) {
  const associationDeleted = await removeAssociation(
    ssm,
    associationName(key.certificateArn, key.target),
    item?.associationId,
  );
  const reportAssociationDeleted = await removeAssociation(
    ssm,
    reportAssociationName(key.certificateArn, key.target),
    item?.reportAssociationId,
  );
  return { associationDeleted, reportAssociationDeleted };
}

/** Sends the install document with Action=remove to the item's tag; the nodes run it asynchronously. */
async function sendRemoval(
  item: InventoryItem,
  ssm: SSMClient,
  settings: RemoveCommandSettings,
): Promise<FilesRemoval> {
  const profile = profileFromItem(item);
  const { commandId } = await sendInstallCommand(ssm, settings, {
    tagKey: profile.targetTagKey,
    tagValue: profile.targetTagValue,
    // Identifiers only: the secret's ARN (so a node refuses when its CertName belongs to another secret),
    // never a version, stage or any secret material.
    parameters: documentParameters(profile, { secretArn: item.lastSecretArn, action: 'remove' }, settings.region),
    maxConcurrency: item.maxConcurrency,
    maxErrors: REMOVE_MAX_ERRORS,
    comment: `acm-export remove ${profile.certName}`,
  });
  return { requested: true, status: 'Sent', commandId, logGroupName: settings.logGroupName };
}

export async function deleteTarget(request: DeleteTargetRequest, deps: DeleteTargetDeps): Promise<DeleteTargetResult> {
  const key = { certificateArn: request.certificateArn, target: request.target };
  const item = await getItem(deps, key);
  if (request.removeFiles && !item) return { found: false, noRecord: true };
  // Settings before any change: a misconfigured function fails the request with nothing deleted.
  const removal = request.removeFiles && item ? { item, settings: deps.removeCommand() } : undefined;
  // The associations first: if that fails, the item (and the ids in it) stays for a retry; and once they
  // are gone no scheduled run can install the files again after the remove run.
  const associations = await removeAssociations(deps.ssm, key, item);
  // Then the remove run: if it cannot be sent, the item stays, so repeating the request sends it.
  const filesRemoval: FilesRemoval = removal
    ? await sendRemoval(removal.item, deps.ssm, removal.settings)
    : { requested: false };
  const deleted = item ? await deleteItem(deps, key) : undefined;
  if (!item && !associations.associationDeleted && !associations.reportAssociationDeleted)
    return { found: false, noRecord: false };
  return {
    found: true,
    body: {
      certificateArn: key.certificateArn,
      target: key.target,
      inventoryItemDeleted: deleted !== undefined,
      ...associations,
      filesRemoval,
    },
  };
}
