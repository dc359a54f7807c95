/**
 * A target's secret: its name, and scheduling it for deletion when the target is deleted (DELETE .../targets/{target}): the
 * secret holds the target's private key, so it must not outlive the target. A recovery window (not an
 * immediate delete) lets an operator undo a mistaken DELETE with RestoreSecret; a new export to the same
 * target restores it too (acm-export). Secrets Manager answers a repeated DeleteSecret with
 * InvalidRequestException, so a repeat reads the secret's DeletedDate instead.
 */
import { DeleteSecretCommand, DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CertificateNotFound, isThrottling } from './errors';
import { sha256Hex } from './passphrase';
import { parseCertificateArn } from './workflow';

/**
 * Last segment of a target's secret names, and the value of a node role's `acm-export:target-hash` tag:
 * the first 16 hex digits of sha256(`<TagKey>=<TagValue>`).
 */
export function targetHash(target: string): string {
  return sha256Hex(target).slice(0, 16);
}

/** Secret name of a (certificate, target): `<prefix>/<certificate id>/<targetHash(target)>`. */
export function secretName(prefix: string, certificateArn: string, target: string): string {
  const parts = parseCertificateArn(certificateArn);
  if (!parts) throw new CertificateNotFound('CertificateArn: not an ACM certificate ARN');
  return `${prefix.replace(/\/+$/, '')}/${parts.certificateId}/${targetHash(target)}`;
}

/** Days Secrets Manager keeps a deleted target's secret restorable (AWS allows 7 to 30). */
export const SECRET_RECOVERY_WINDOW_DAYS = 7;

const DAY_MS = 24 * 60 * 60 * 1000;

/** What became of the target's secret; `reason` says why nothing was scheduled (no secret, not yet, failed). */
export type SecretDeletion =
  | {
      scheduled: true;
      recoveryWindowDays: number;
      deletionDate: string;
      /** An earlier request had scheduled it already. */
      alreadyScheduled?: true;
    }
  | { scheduled: false; reason: string };

export const NO_SECRET = 'the target has no secret';
export const FAILED_SUFFIX = 'the secret could not be scheduled for deletion; repeat the DELETE';

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'Error';
}

/** DeleteSecret with the recovery window; never throws (the caller reports the outcome). */
export async function scheduleSecretDeletion(
  secrets: SecretsManagerClient,
  secretId: string,
  now: Date = new Date(),
): Promise<SecretDeletion> {
  try {
    const out = await secrets.send(
      new DeleteSecretCommand({ SecretId: secretId, RecoveryWindowInDays: SECRET_RECOVERY_WINDOW_DAYS }),
    );
    const deletionDate = out.DeletionDate ?? new Date(now.getTime() + SECRET_RECOVERY_WINDOW_DAYS * DAY_MS);
    return {
      scheduled: true,
      recoveryWindowDays: SECRET_RECOVERY_WINDOW_DAYS,
      deletionDate: deletionDate.toISOString(),
    };
  } catch (error) {
    const name = errorName(error);
    if (name === 'ResourceNotFoundException') return { scheduled: false, reason: NO_SECRET };
    if (name === 'InvalidRequestException') {
      // Already scheduled (an earlier DELETE): its DeletedDate is when that deletion was requested.
      const deletedDate = await secrets
        .send(new DescribeSecretCommand({ SecretId: secretId }))
        .then((d) => d.DeletedDate)
        .catch(() => undefined);
      if (deletedDate)
        return {
          scheduled: true,
          recoveryWindowDays: SECRET_RECOVERY_WINDOW_DAYS,
          deletionDate: new Date(deletedDate.getTime() + SECRET_RECOVERY_WINDOW_DAYS * DAY_MS).toISOString(),
          alreadyScheduled: true,
        };
    }
    // The AWS message is never passed on (it may name the secret): only the error's name.
    return { scheduled: false, reason: `${isThrottling(error) ? 'Throttled' : name}: ${FAILED_SUFFIX}` };
  }
}
