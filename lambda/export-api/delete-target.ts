/**
 * `DELETE /certificates/{certificateArn}/targets/{target}[?removeFiles=true|false]`: stop converging a
 * target. Deletes its two State Manager associations (install and report; each by the stored id, else by
 * its name) and, without removeFiles=true, its inventory item.
 *
 * With removeFiles=true the inventory item is required (it is the only record of the certificate name,
 * directories and secret the nodes hold; without it: not found, nothing changed) and it stays until the
 * nodes confirmed the removal: first the item is marked `Removing` (so renewals and the drift check leave it
 * alone from then on), then both associations are deleted (so that no scheduled run installs or reports
 * again), then ONE SendCommand of the remove document goes to the target's tag (each
 * node independent: MaxErrors 100%) and its command id is stored on the item. The nodes run it
 * asynchronously: `GET .../targets/{target}/removal` (target-removal.ts) checks the run and deletes the item
 * once every node removed the files, or marks it `RemovalFailed` with a line per node that kept them (a
 * node whose web server still references the files fails at the configuration test). When a step here
 * fails, the item says `RemovalFailed` (run not sent); repeating the request converges from any state.
 *
 * The target's secret (it holds the private key) is scheduled for deletion with a recovery window
 * (target-secret.ts): without removeFiles=true before the item is deleted, with it once the removal is
 * confirmed (target-removal.ts). Its name follows from the certificate and the target, so a repeated DELETE
 * finds it even when the item is already gone.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
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
import {
  InventoryDeps,
  deleteItem,
  getItem,
  markRemovalRequested,
  recordRemovalFailed,
  recordRemovalSent,
} from '../shared/inventory';
import { FIELD_RULES, RESERVED_TAG_PREFIX } from '../shared/patterns';
import { NO_SECRET, SecretDeletion, scheduleSecretDeletion, secretName } from '../shared/target-secret';

/** Each node removes its files on its own: one node that refuses must not cancel the others. */
export const REMOVE_MAX_ERRORS = '100%';

/** The remove run's delivery settings and the region the nodes' parameters name. */
export type RemoveCommandSettings = InstallCommandSettings & { region: string };

export interface DeleteTargetDeps extends InventoryDeps {
  ssm: SSMClient;
  secrets: SecretsManagerClient;
  /** `SECRET_NAME_PREFIX`, read only when no item names the target's secret. */
  secretNamePrefix: () => string;
  /** Read only when files are to be removed (the API's other routes do not need the install document). */
  removeCommand: () => RemoveCommandSettings;
  now?: () => Date;
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

/** Validates the target's path parameters (DELETE and GET .../removal). */
export function parseTargetPath(pathParameters: Record<string, string | undefined> | null | undefined): {
  certificateArn: string;
  target: string;
} {
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
  return { certificateArn, target };
}

/** Validates the path parameters and the query string (only `removeFiles`, `true` or `false`). */
export function parseDeleteTarget(
  pathParameters: Record<string, string | undefined> | null | undefined,
  query: Record<string, string | undefined> | null | undefined,
): DeleteTargetRequest {
  const { certificateArn, target } = parseTargetPath(pathParameters);
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

/** Sends the remove document to the item's tag; the nodes run it asynchronously. */
async function sendRemoval(
  item: InventoryItem,
  ssm: SSMClient,
  settings: RemoveCommandSettings,
): Promise<FilesRemoval> {
  const profile = profileFromItem(item);
  const { commandId } = await sendInstallCommand(ssm, settings, {
    tagKey: profile.TargetTagKey,
    tagValue: profile.TargetTagValue,
    // Identifiers only: the secret's ARN (so a node refuses when its CertName belongs to another secret),
    // never a version, stage or any secret material.
    parameters: documentParameters(profile, { secretArn: item.lastSecretArn, document: 'remove' }, settings.region),
    maxConcurrency: item.MaxConcurrency,
    maxErrors: REMOVE_MAX_ERRORS,
    comment: `acm-export remove ${profile.CertName}`,
  });
  return {
    requested: true,
    status: 'Sent',
    commandId,
    logGroupName: settings.logGroupName,
    statusPath: removalStatusPath(item),
  };
}

/** The route that follows a target's removal (both path segments URL-encoded). */
export function removalStatusPath(key: { certificateArn: string; target: string }): string {
  return `/certificates/${encodeURIComponent(key.certificateArn)}/targets/${encodeURIComponent(key.target)}/removal`;
}

/**
 * removeFiles=true on an existing item: mark it Removing, delete both associations, send the remove run,
 * store its command id. A failing step leaves the item RemovalFailed (nothing was sent) and rethrows.
 */
async function removeWithFiles(
  item: InventoryItem,
  deps: DeleteTargetDeps,
  settings: RemoveCommandSettings,
): Promise<DeleteTargetResult> {
  const key = { certificateArn: item.certificateArn, target: item.target };
  const requestedAt = (deps.now ?? (() => new Date()))().toISOString();
  if (!(await markRemovalRequested(deps, key, requestedAt))) return { found: false, noRecord: true };
  let associations: Awaited<ReturnType<typeof removeAssociations>>;
  let filesRemoval: FilesRemoval;
  try {
    associations = await removeAssociations(deps.ssm, key, item);
    filesRemoval = await sendRemoval(item, deps.ssm, settings);
  } catch (error) {
    // Best effort: the status route also finds a removal whose run never went out.
    await recordRemovalFailed(deps, key, { requestedAt }, [NOT_SENT_LINE]).catch(() => false);
    throw error;
  }
  if (filesRemoval.requested) await recordRemovalSent(deps, key, requestedAt, filesRemoval.commandId);
  return {
    found: true,
    body: {
      ...key,
      inventoryItemDeleted: false,
      removalStatus: 'Removing',
      ...associations,
      filesRemoval,
      secretDeletion: { scheduled: false, reason: SECRET_AFTER_REMOVAL },
    },
  };
}

/**
 * The line a removal gets when its DELETE failed before the run was recorded as sent (in the rare case the
 * run went out but its id could not be stored, the nodes may have run it; repeating is harmless either way).
 */
export const NOT_SENT_LINE = 'the DELETE request failed before the remove run was recorded as sent; repeat the DELETE';

/** removeFiles=true: the nodes still need the secret's ARN on record until they confirmed the removal. */
export const SECRET_AFTER_REMOVAL =
  'the secret is scheduled for deletion once every node confirmed the removal (see filesRemoval.statusPath)';

/** The target's secret: the one the item names, else the name it was created under. */
export function targetSecretId(
  key: { certificateArn: string; target: string },
  item: InventoryItem | undefined,
  prefix: () => string,
): string {
  return item?.lastSecretArn || secretName(prefix(), key.certificateArn, key.target);
}

export async function deleteTarget(request: DeleteTargetRequest, deps: DeleteTargetDeps): Promise<DeleteTargetResult> {
  const key = { certificateArn: request.certificateArn, target: request.target };
  const item = await getItem(deps, key);
  if (request.removeFiles) {
    if (!item) return { found: false, noRecord: true };
    // Settings before any change: a misconfigured function fails the request with nothing changed.
    return removeWithFiles(item, deps, deps.removeCommand());
  }
  // The associations first: if that fails, the item (and the ids in it) stays for a retry.
  const associations = await removeAssociations(deps.ssm, key, item);
  // The secret before the item; a failure is reported, and a repeated DELETE finds the secret by its name.
  const secretDeletion: SecretDeletion = await scheduleSecretDeletion(
    deps.secrets,
    targetSecretId(key, item, deps.secretNamePrefix),
    (deps.now ?? (() => new Date()))(),
  );
  const deleted = item ? await deleteItem(deps, key) : undefined;
  // Only a secret this request scheduled (or failed to) makes it more than "nothing to delete" (404).
  const secretFound = secretDeletion.scheduled ? !secretDeletion.alreadyScheduled : secretDeletion.reason !== NO_SECRET;
  if (!item && !associations.associationDeleted && !associations.reportAssociationDeleted && !secretFound)
    return { found: false, noRecord: false };
  return {
    found: true,
    body: {
      certificateArn: key.certificateArn,
      target: key.target,
      inventoryItemDeleted: deleted !== undefined,
      ...associations,
      filesRemoval: { requested: false },
      secretDeletion,
    },
  };
}
