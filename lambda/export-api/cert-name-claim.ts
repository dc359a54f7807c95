/**
 * One certificate per (target, CertName): two certificates exported to the same tag under the same CertName
 * would overwrite each other's files on every node. `POST /exports` claims the name with a conditional write
 * of a claim item in the inventory table (key `NAME#<target>#<certName>` / `NAME`) before it starts the
 * execution, so two concurrent requests cannot both win. The claim is not deleted with the target: it is
 * stale, and taken over by the next certificate, once its holder no longer holds the name, i.e. no inventory
 * item (holder, target) with that CertName exists and the execution that claimed it is not running (an
 * export that failed before it recorded the target, or a target deleted since). Claim items carry no
 * `itemType`, so the ByExpiry index (listings, renewals, drift) never sees them; their sort key `NAME` is not
 * a target (targets contain "="), so no ByTarget query returns them either.
 */
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { INVENTORY } from '../shared/contract';
import { rethrowThrottling } from '../shared/errors';
import { InventoryDeps, getItem } from '../shared/inventory';

export const NAME_CLAIM = {
  partitionPrefix: 'NAME#',
  sortKey: 'NAME',
  /**
   * A claim whose execution does not exist yet is kept this long: the API writes the claim just before
   * StartExecution. Afterwards (the start failed) the name is free again.
   */
  startGraceSeconds: 120,
} as const;

export interface NameClaim {
  holderArn: string;
  claimTarget: string;
  certName: string;
  /** The execution the claim was written for (it records the target's inventory item when it gets that far). */
  executionArn: string;
  claimedAt: string;
}

export interface NameClaimDeps extends InventoryDeps {
  sfn: SFNClient;
}

export interface NameClaimRequest {
  certificateArn: string;
  target: string;
  certName: string;
  executionArn: string;
  at: Date;
}

export type NameClaimOutcome = { claimed: true } | { claimed: false; holderArn: string };

/** Partition key of the claim on (target, certName); targets contain no "#", so the key is unambiguous. */
export function nameClaimKey(target: string, certName: string): Record<string, string> {
  return {
    [INVENTORY.partitionKey]: `${NAME_CLAIM.partitionPrefix}${target}#${certName}`,
    [INVENTORY.sortKey]: NAME_CLAIM.sortKey,
  };
}

/** The 409 message: who holds the name and the two ways out (identifiers only, all validated). */
export function nameTakenMessage(certName: string, target: string, holderArn: string): string {
  return (
    `CertName ${certName} on ${target} is held by ${holderArn}; remove that target first ` +
    `(DELETE /certificates/{certificateArn}/targets/{target}) or choose another name`
  );
}

function isConditionFailure(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

async function readClaim(deps: NameClaimDeps, target: string, certName: string): Promise<NameClaim | undefined> {
  try {
    const out = await deps.ddb.send(
      new GetCommand({ TableName: deps.tableName, Key: nameClaimKey(target, certName), ConsistentRead: true }),
    );
    return out.Item as NameClaim | undefined;
  } catch (error) {
    return rethrowThrottling(error, 'dynamodb:GetItem');
  }
}

/** Writes the claim for `request` when `condition` holds; false when it does not. */
async function writeClaim(
  deps: NameClaimDeps,
  request: NameClaimRequest,
  condition: { expression: string; values: Record<string, unknown> },
): Promise<boolean> {
  try {
    await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.tableName,
        Key: nameClaimKey(request.target, request.certName),
        UpdateExpression: 'SET #holder = :me, #target = :target, #name = :name, #execution = :execution, #at = :at',
        ConditionExpression: condition.expression,
        ExpressionAttributeNames: {
          // DynamoDB rejects names an expression does not use.
          ...(condition.expression.includes('#pk') ? { '#pk': INVENTORY.partitionKey } : {}),
          '#holder': 'holderArn',
          '#target': 'claimTarget',
          '#name': 'certName',
          '#execution': 'executionArn',
          '#at': 'claimedAt',
        },
        ExpressionAttributeValues: {
          ':me': request.certificateArn,
          ':target': request.target,
          ':name': request.certName,
          ':execution': request.executionArn,
          ':at': request.at.toISOString(),
          ...condition.values,
        },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    return rethrowThrottling(error, 'dynamodb:UpdateItem');
  }
}

/** Whether the claim's holder still holds the name (its files may be on the nodes, or are on their way). */
async function stillHeld(deps: NameClaimDeps, claim: NameClaim, now: Date): Promise<boolean> {
  const item = await getItem(deps, { certificateArn: claim.holderArn, target: claim.claimTarget });
  if (item && item.CertName === claim.certName) return true;
  try {
    const execution = await deps.sfn.send(new DescribeExecutionCommand({ executionArn: claim.executionArn }));
    return execution.status === 'RUNNING' || execution.status === 'PENDING_REDRIVE';
  } catch (error) {
    if (!(error instanceof Error && error.name === 'ExecutionDoesNotExist'))
      return rethrowThrottling(error, 'states:DescribeExecution');
    const ageSeconds = (now.getTime() - (Date.parse(claim.claimedAt) || 0)) / 1000;
    return ageSeconds < NAME_CLAIM.startGraceSeconds;
  }
}

/**
 * Claims (target, certName) for the certificate, or names the certificate that holds it. The same
 * certificate always gets its own name back (re-exports, retries). With `dryRun`, only checks: a dry run
 * installs nothing, so it holds nothing.
 */
export async function claimCertName(
  request: NameClaimRequest,
  deps: NameClaimDeps,
  options: { dryRun: boolean } = { dryRun: false },
): Promise<NameClaimOutcome> {
  // Two rounds: a stale claim may be taken over by someone else between our read and our write.
  let holderArn = '';
  for (let round = 0; round < 2; round++) {
    if (
      !options.dryRun &&
      (await writeClaim(deps, request, {
        expression: 'attribute_not_exists(#pk) OR #holder = :me',
        values: {},
      }))
    )
      return { claimed: true };
    const claim = await readClaim(deps, request.target, request.certName);
    if (!claim || claim.holderArn === request.certificateArn) {
      if (options.dryRun) return { claimed: true };
      continue;
    }
    holderArn = claim.holderArn;
    if (await stillHeld(deps, claim, request.at)) return { claimed: false, holderArn };
    if (options.dryRun) return { claimed: true };
    const takenOver = await writeClaim(deps, request, {
      expression: '#holder = :old AND #at = :oldAt',
      values: { ':old': claim.holderArn, ':oldAt': claim.claimedAt },
    });
    if (takenOver) return { claimed: true };
  }
  // Lost two races in a row: answer with whoever holds it now (the caller may simply retry).
  const latest = await readClaim(deps, request.target, request.certName);
  return { claimed: false, holderArn: latest?.holderArn ?? holderArn };
}
