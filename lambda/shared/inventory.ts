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

export interface InventoryDeps {
  ddb: DynamoDBDocumentClient;
  tableName: string;
}

type ExportFields = Omit<
  InventoryItem,
  'certificateArn' | 'target' | 'itemType' | 'lastDeployedDate' | 'associationId' | 'reportAssociationId'
>;

function isConditionFailure(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

/**
 * Creates or updates the item for a new export, unless a newer export (later execution start) already owns
 * it. Returns `{ applied: false, newerExecutionArn }` in that case.
 */
export async function recordExport(
  deps: InventoryDeps,
  key: { certificateArn: string; target: string },
  fields: ExportFields,
): Promise<{ applied: true; item: InventoryItem } | { applied: false; newerExecutionArn: string }> {
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
  try {
    const out = await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: { [INVENTORY.partitionKey]: key.certificateArn, [INVENTORY.sortKey]: key.target },
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: 'attribute_not_exists(#started) OR #started <= :startedAt',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: attrs,
        ReturnValues: 'ALL_NEW',
      }),
    );
    return { applied: true, item: (out.Attributes ?? { ...fields, ...key }) as InventoryItem };
  } catch (error) {
    if (!isConditionFailure(error)) return rethrowThrottling(error, 'dynamodb:UpdateItem');
  }
  const stored = await getItem(deps, key);
  return { applied: false, newerExecutionArn: stored?.lastExecutionArn ?? 'unknown' };
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
    return out.Item as InventoryItem | undefined;
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
    return out.Attributes as InventoryItem | undefined;
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
    items.push(...((page.Items ?? []) as InventoryItem[]));
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
    return { items: (page.Items ?? []) as InventoryItem[], lastKey: page.LastEvaluatedKey };
  } catch (error) {
    return rethrowThrottling(error, 'dynamodb:Query');
  }
}
