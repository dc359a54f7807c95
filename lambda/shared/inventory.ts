/**
 * The certificate inventory (one item per certificate and target). Every read is a GetItem or a Query on
 * the table or one of its indexes; there is no Scan.
 */
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  QueryCommandOutput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { INVENTORY, InventoryItem } from './contract';
import { rethrowThrottling } from './errors';
import { heldOptions, legacyAttributeNames } from './fields';

export interface InventoryDeps {
  ddb: DynamoDBDocumentClient;
  tableName: string;
}

/** Attributes an export never sets, and the ones it clears (a new export is the new truth about the target). */
const CLEARED_BY_EXPORT = [
  'lastDeploySource',
  'lastDeployFailure',
  'removalStatus',
  'removalRequestedAt',
  'removalCommandId',
  'removalFailures',
] as const;

type ExportFields = Omit<
  InventoryItem,
  | 'certificateArn'
  | 'target'
  | 'itemType'
  | 'lastDeployedDate'
  | 'associationId'
  | 'reportAssociationId'
  | (typeof CLEARED_BY_EXPORT)[number]
>;

type TargetKey = { certificateArn: string; target: string };

const LEGACY_NAMES = new Set(legacyAttributeNames());

/**
 * An item as the table holds it, with its options under their API names: items written before the field
 * registry hold them under camelCase names (certName, certDir, ...), read too so a deployed table keeps
 * working. Options an older item lacks stay absent (profileFromItem applies the defaults).
 */
export function itemFromStored(raw: Record<string, unknown>): InventoryItem {
  const rest = Object.fromEntries(Object.entries(raw).filter(([name]) => !LEGACY_NAMES.has(name)));
  return { ...rest, ...heldOptions(raw) } as unknown as InventoryItem;
}

function itemOrUndefined(raw: Record<string, unknown> | undefined): InventoryItem | undefined {
  return raw ? itemFromStored(raw) : undefined;
}

function isConditionFailure(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

/**
 * Creates or updates the item for a new export, unless a newer export (later execution start) already owns
 * it, or its files were asked to be removed after this export started (a renewal already running must not
 * bring back a target being removed; an export started after the DELETE adds the target again and clears
 * the removal). Returns `{ applied: false, ... }` in those cases.
 */
export async function recordExport(
  deps: InventoryDeps,
  key: TargetKey,
  fields: ExportFields,
): Promise<
  { applied: true; item: InventoryItem } | { applied: false; newerExecutionArn: string; removalRequestedAt?: string }
> {
  const values: Record<string, unknown> = { ...fields, [INVENTORY.itemTypeAttribute]: INVENTORY.itemTypeValue };
  const names: Record<string, string> = {};
  const attrs: Record<string, unknown> = {};
  const sets: string[] = [];
  Object.entries(values).forEach(([name, value], i) => {
    if (value === undefined) return;
    names[`#a${i}`] = name;
    attrs[`:a${i}`] = value;
    sets.push(`#a${i} = :a${i}`);
  });
  names['#started'] = 'lastExportStartedAt';
  attrs[':startedAt'] = fields.lastExportStartedAt;
  names['#removalAt'] = 'removalRequestedAt';
  // The new export also drops the camelCase attributes an older item stored its options under.
  const removes = [...CLEARED_BY_EXPORT, ...LEGACY_NAMES].map((name, i) => {
    names[`#c${i}`] = name;
    return `#c${i}`;
  });
  try {
    const out = await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: { [INVENTORY.partitionKey]: key.certificateArn, [INVENTORY.sortKey]: key.target },
        UpdateExpression: `SET ${sets.join(', ')} REMOVE ${removes.join(', ')}`,
        ConditionExpression:
          '(attribute_not_exists(#started) OR #started <= :startedAt) AND ' +
          '(attribute_not_exists(#removalAt) OR #removalAt < :startedAt)',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: attrs,
        ReturnValues: 'ALL_NEW',
      }),
    );
    return { applied: true, item: itemFromStored(out.Attributes ?? { ...fields, ...key }) };
  } catch (error) {
    if (!isConditionFailure(error)) return rethrowThrottling(error, 'dynamodb:UpdateItem');
  }
  const stored = await getItem(deps, key);
  return {
    applied: false,
    newerExecutionArn: stored?.lastExecutionArn ?? 'unknown',
    ...(stored?.removalRequestedAt ? { removalRequestedAt: stored.removalRequestedAt } : {}),
  };
}

export async function getItem(
  deps: InventoryDeps,
  key: { certificateArn: string; target: string },
): Promise<InventoryItem | undefined> {
  try {
    const out = await deps.ddb.send(
      new GetCommand({
        TableName: deps.tableName,
        Key: { [INVENTORY.partitionKey]: key.certificateArn, [INVENTORY.sortKey]: key.target },
        ConsistentRead: true,
      }),
    );
    return itemOrUndefined(out.Item);
  } catch (error) {
    return rethrowThrottling(error, 'dynamodb:GetItem');
  }
}

/**
 * Sets attributes of a target's item, but only while `executionArn` still owns it (a superseded run must not
 * overwrite the newer one's state). Returns false when it no longer owns it.
 */
async function updateOwnedItem(
  deps: InventoryDeps,
  key: { certificateArn: string; target: string },
  executionArn: string,
  attributes: Record<string, string>,
): Promise<boolean> {
  const fields = Object.keys(attributes);
  if (fields.length === 0) return true;
  try {
    await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: { [INVENTORY.partitionKey]: key.certificateArn, [INVENTORY.sortKey]: key.target },
        UpdateExpression: `SET ${fields.map((f) => `#${f} = :${f}`).join(', ')}`,
        ConditionExpression: '#owner = :arn',
        ExpressionAttributeNames: {
          '#owner': 'lastExecutionArn',
          ...Object.fromEntries(fields.map((f) => [`#${f}`, f])),
        },
        ExpressionAttributeValues: {
          ':arn': executionArn,
          ...Object.fromEntries(fields.map((f) => [`:${f}`, attributes[f]])),
        },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    return rethrowThrottling(error, 'dynamodb:UpdateItem');
  }
}

/**
 * Records the outcome of an install (and, on success, its date), only while `executionArn` still owns the
 * item. Returns false when it no longer owns it.
 */
export function recordDeployOutcome(
  deps: InventoryDeps,
  key: { certificateArn: string; target: string },
  executionArn: string,
  outcome: { status: 'Succeeded' | 'Failed'; at: string },
): Promise<boolean> {
  return updateOwnedItem(deps, key, executionArn, {
    lastDeployStatus: outcome.status,
    ...(outcome.status === 'Succeeded' ? { lastDeployedDate: outcome.at } : {}),
  });
}

/**
 * The execution that owns the item ended (failed, timed out, aborted) before it recorded the install
 * outcome: `Failed` with `reason`. Only while that execution still owns the item and its status is still
 * InProgress, so an outcome status-check recorded, or a newer export's state, is never overwritten.
 * Returns whether it was applied.
 */
export function recordAbnormalEnd(
  deps: InventoryDeps,
  key: TargetKey,
  executionArn: string,
  reason: string,
): Promise<boolean> {
  return conditionalUpdate(deps, key, {
    expression: 'SET #status = :failed, #failure = :reason',
    condition: '#owner = :arn AND #status = :inProgress',
    names: { '#status': 'lastDeployStatus', '#failure': 'lastDeployFailure', '#owner': 'lastExecutionArn' },
    values: { ':failed': 'Failed', ':inProgress': 'InProgress', ':reason': reason, ':arn': executionArn },
  });
}

/**
 * Stores the ids of the target's associations (install: `associationId`, report: `reportAssociationId`;
 * only those given), only while `executionArn` still owns the item.
 */
export function recordAssociation(
  deps: InventoryDeps,
  key: { certificateArn: string; target: string },
  executionArn: string,
  ids: Partial<Pick<InventoryItem, 'associationId' | 'reportAssociationId'>>,
): Promise<boolean> {
  return updateOwnedItem(
    deps,
    key,
    executionArn,
    Object.fromEntries(Object.entries(ids).filter((entry): entry is [string, string] => typeof entry[1] === 'string')),
  );
}

/**
 * One UpdateItem under a condition; false when the condition does not hold (someone else changed the item
 * first, or it is gone).
 */
async function conditionalUpdate(
  deps: InventoryDeps,
  key: TargetKey,
  update: {
    expression: string;
    condition: string;
    names: Record<string, string>;
    values: Record<string, unknown>;
  },
): Promise<boolean> {
  try {
    await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: { [INVENTORY.partitionKey]: key.certificateArn, [INVENTORY.sortKey]: key.target },
        UpdateExpression: update.expression,
        ConditionExpression: update.condition,
        ExpressionAttributeNames: update.names,
        ExpressionAttributeValues: update.values,
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    return rethrowThrottling(error, 'dynamodb:UpdateItem');
  }
}

/**
 * The drift check saw every node with the tag serve and hold the current serial: a Failed deploy caught up
 * through the install association. Only while `executionArn` still owns the item, its status is still Failed
 * and no removal is pending (a newer export's status is never overwritten). Returns whether it was applied.
 */
export function recordCatchUp(deps: InventoryDeps, key: TargetKey, executionArn: string, at: string): Promise<boolean> {
  return conditionalUpdate(deps, key, {
    expression: 'SET #status = :succeeded, #date = :at, #source = :association REMOVE #failure',
    condition: '#owner = :arn AND #status = :failed AND attribute_not_exists(#removal)',
    names: {
      '#failure': 'lastDeployFailure',
      '#status': 'lastDeployStatus',
      '#date': 'lastDeployedDate',
      '#source': 'lastDeploySource',
      '#owner': 'lastExecutionArn',
      '#removal': 'removalStatus',
    },
    values: {
      ':succeeded': 'Succeeded',
      ':failed': 'Failed',
      ':at': at,
      ':association': 'association',
      ':arn': executionArn,
    },
  });
}

/**
 * First step of a removal: the item says `Removing` (requested at `at`, no command yet), so renewals and the
 * drift check leave it alone before anything else changes. False when the item is gone.
 */
export function markRemovalRequested(deps: InventoryDeps, key: TargetKey, at: string): Promise<boolean> {
  return conditionalUpdate(deps, key, {
    expression: 'SET #status = :removing, #at = :at REMOVE #command, #failures',
    condition: 'attribute_exists(#pk)',
    names: {
      '#pk': INVENTORY.partitionKey,
      '#status': 'removalStatus',
      '#at': 'removalRequestedAt',
      '#command': 'removalCommandId',
      '#failures': 'removalFailures',
    },
    values: { ':removing': 'Removing', ':at': at },
  });
}

/** The remove run went out: its command id, on the removal requested at `requestedAt` only. */
export function recordRemovalSent(
  deps: InventoryDeps,
  key: TargetKey,
  requestedAt: string,
  commandId: string,
): Promise<boolean> {
  return conditionalUpdate(deps, key, {
    expression: 'SET #command = :command',
    condition: '#at = :at AND #status = :removing',
    names: { '#command': 'removalCommandId', '#at': 'removalRequestedAt', '#status': 'removalStatus' },
    values: { ':command': commandId, ':at': requestedAt, ':removing': 'Removing' },
  });
}

/**
 * The removal requested at `requestedAt` (with `commandId`, or with none sent) did not remove the files
 * everywhere: `RemovalFailed` with one line per node. Not applied when a newer DELETE or export took over.
 */
export function recordRemovalFailed(
  deps: InventoryDeps,
  key: TargetKey,
  removal: { requestedAt: string; commandId?: string },
  failures: string[],
): Promise<boolean> {
  const names: Record<string, string> = {
    '#status': 'removalStatus',
    '#failures': 'removalFailures',
    '#at': 'removalRequestedAt',
    '#command': 'removalCommandId',
  };
  const values: Record<string, unknown> = {
    ':failed': 'RemovalFailed',
    ':failures': failures,
    ':at': removal.requestedAt,
    ':removing': 'Removing',
  };
  if (removal.commandId) values[':command'] = removal.commandId;
  return conditionalUpdate(deps, key, {
    expression: 'SET #status = :failed, #failures = :failures',
    condition: `#at = :at AND #status = :removing AND ${removal.commandId ? '#command = :command' : 'attribute_not_exists(#command)'}`,
    names,
    values,
  });
}

/**
 * Deletes the item once the remove run `commandId` succeeded on every node, only while that removal is still
 * the item's current one. Returns whether it was deleted.
 */
export async function deleteRemovedItem(deps: InventoryDeps, key: TargetKey, commandId: string): Promise<boolean> {
  try {
    await deps.ddb.send(
      new DeleteCommand({
        TableName: deps.tableName,
        Key: { [INVENTORY.partitionKey]: key.certificateArn, [INVENTORY.sortKey]: key.target },
        ConditionExpression: '#status = :removing AND #command = :command',
        ExpressionAttributeNames: { '#status': 'removalStatus', '#command': 'removalCommandId' },
        ExpressionAttributeValues: { ':removing': 'Removing', ':command': commandId },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    return rethrowThrottling(error, 'dynamodb:DeleteItem');
  }
}

/** Removes a target's item. Returns the deleted item, if there was one. */
export async function deleteItem(
  deps: InventoryDeps,
  key: { certificateArn: string; target: string },
): Promise<InventoryItem | undefined> {
  try {
    const out = await deps.ddb.send(
      new DeleteCommand({
        TableName: deps.tableName,
        Key: { [INVENTORY.partitionKey]: key.certificateArn, [INVENTORY.sortKey]: key.target },
        ReturnValues: 'ALL_OLD',
      }),
    );
    return itemOrUndefined(out.Attributes);
  } catch (error) {
    return rethrowThrottling(error, 'dynamodb:DeleteItem');
  }
}

/** Every target of a certificate (Query on the table's partition key, all pages). */
export async function targetsOfCertificate(deps: InventoryDeps, certificateArn: string): Promise<InventoryItem[]> {
  const items: InventoryItem[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    let page: QueryCommandOutput;
    try {
      page = await deps.ddb.send(
        new QueryCommand({
          TableName: deps.tableName,
          KeyConditionExpression: '#pk = :arn',
          ExpressionAttributeNames: { '#pk': INVENTORY.partitionKey },
          ExpressionAttributeValues: { ':arn': certificateArn },
          ExclusiveStartKey: startKey,
        }),
      );
    } catch (error) {
      return rethrowThrottling(error, 'dynamodb:Query');
    }
    items.push(...(page.Items ?? []).map(itemFromStored));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

/** One page of the ByExpiry index (all targets ordered by expiry), optionally only those expiring by `until`. */
export async function targetsByExpiry(
  deps: InventoryDeps,
  options: { until?: string; limit: number; startKey?: Record<string, unknown> },
): Promise<{ items: InventoryItem[]; lastKey?: Record<string, unknown> }> {
  const names: Record<string, string> = { '#type': INVENTORY.itemTypeAttribute };
  const values: Record<string, unknown> = { ':type': INVENTORY.itemTypeValue };
  let condition = '#type = :type';
  if (options.until !== undefined) {
    names['#expiry'] = INVENTORY.expiryAttribute;
    values[':until'] = options.until;
    condition += ' AND #expiry <= :until';
  }
  try {
    const page = await deps.ddb.send(
      new QueryCommand({
        TableName: deps.tableName,
        IndexName: INVENTORY.byExpiryIndex,
        KeyConditionExpression: condition,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        Limit: options.limit,
        ExclusiveStartKey: options.startKey,
      }),
    );
    return { items: (page.Items ?? []).map(itemFromStored), lastKey: page.LastEvaluatedKey };
  } catch (error) {
    return rethrowThrottling(error, 'dynamodb:Query');
  }
}
