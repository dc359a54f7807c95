/**
 * The orphaned-secret sweep of the drift check: secrets under this stack's prefix that hold a target's key
 * (`<prefix>/<certificate id>/<target hash>`) while no inventory item names them, and not scheduled for
 * deletion (ListSecrets leaves those out unless asked). It reports and never deletes: the secret of an
 * export in flight exists a moment before ssm-run records its item, so secrets created or changed within
 * the grace period are skipped.
 *
 * Secrets Manager API used: one paginated ListSecrets { Filters: [{ Key: 'name', Values: ['<prefix>/'] }] } (name is a
 * case-sensitive prefix match); ListSecrets has no resource-level permission.
 */
import { ListSecretsCommand, ListSecretsCommandOutput, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { InventoryItem } from '../shared/contract';
import { rethrowThrottling } from '../shared/errors';
import { escapeRegExp } from '../shared/regexp';
import { secretName } from '../shared/target-secret';

export interface OrphanedSecret {
  name: string;
  arn: string;
  /** When the secret was created, or last changed if later (ISO-8601). */
  lastChanged: string;
}

/** At most this many names travel in the alert. */
export const MAX_ORPHANS_IN_ALERT = 100;

/** The secrets the inventory accounts for: by ARN, and by the name the export gives each target's secret. */
export function ownedSecrets(items: InventoryItem[], prefix: string): { arns: Set<string>; names: Set<string> } {
  const arns = new Set<string>();
  const names = new Set<string>();
  for (const item of items) {
    if (item.lastSecretArn) arns.add(item.lastSecretArn);
    try {
      names.add(secretName(prefix, item.certificateArn, item.target));
    } catch {
      // An item with a malformed ARN names no secret.
    }
  }
  return { arns, names };
}

export async function findOrphanedSecrets(
  secrets: SecretsManagerClient,
  prefix: string,
  owned: { arns: Set<string>; names: Set<string> },
  now: Date,
  graceMinutes: number,
): Promise<OrphanedSecret[]> {
  const base = `${prefix.replace(/\/+$/, '')}/`;
  // Only the per-target secrets (the canary has one segment after the prefix).
  const perTarget = new RegExp(`^${escapeRegExp(base)}[0-9a-f-]{36}/[0-9a-f]{16}$`);
  const orphans: OrphanedSecret[] = [];
  let token: string | undefined;
  do {
    let page: ListSecretsCommandOutput;
    try {
      page = await secrets.send(
        new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [base] }], MaxResults: 100, NextToken: token }),
      );
    } catch (error) {
      return rethrowThrottling(error, 'secretsmanager:ListSecrets');
    }
    for (const entry of page.SecretList ?? []) {
      const name = entry.Name ?? '';
      if (!perTarget.test(name) || entry.DeletedDate) continue;
      if (owned.names.has(name) || (entry.ARN && owned.arns.has(entry.ARN))) continue;
      const changed = Math.max(entry.CreatedDate?.getTime() ?? 0, entry.LastChangedDate?.getTime() ?? 0);
      if (now.getTime() - changed < graceMinutes * 60_000) continue;
      orphans.push({ name, arn: entry.ARN ?? '', lastChanged: new Date(changed).toISOString() });
    }
    token = page.NextToken;
  } while (token);
  return orphans;
}

/** One alert per check that found orphans: their names, and what to do (identifiers only). */
export function orphanedSecretsAlert(
  orphans: OrphanedSecret[],
  checkedAt: string,
): { subject: string; message: string } {
  const message = {
    alert: `${orphans.length} secret(s) of this stack hold a target's private key but no target in the inventory uses them`,
    checkedAt,
    secrets: orphans.slice(0, MAX_ORPHANS_IN_ALERT),
    ...(orphans.length > MAX_ORPHANS_IN_ALERT ? { moreSecrets: orphans.length - MAX_ORPHANS_IN_ALERT } : {}),
    fix: 'Nothing was deleted. If no export is meant to use one, schedule it for deletion: "aws secretsmanager delete-secret --secret-id <arn> --recovery-window-in-days 7". To keep a target instead, export to it again.',
  };
  return {
    subject: `acm-export: ${orphans.length} secret(s) without a target`.slice(0, 100),
    message: JSON.stringify(message, null, 2),
  };
}
