/**
 * acm-export logic: check the certificate, export it with a fresh passphrase and store certificate, chain,
 * encrypted key and passphrase as ONE new version of the (certificate, target) secret. Returns identifiers
 * only. The ExportCertificate response and the secret value never leave this module.
 */
import { ACMClient, CertificateDetail, ExportCertificateCommand } from '@aws-sdk/client-acm';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  DescribeSecretCommandOutput,
  PutSecretValueCommand,
  RestoreSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { describeExportable } from '../shared/certificate';
import { ExportTaskResult, SECRET_TAGS, targetKey } from '../shared/contract';
import {
  CertificateNotExportable,
  CertificateNotFound,
  CertificateNotIssued,
  CertificateNotOptedIn,
  rethrowThrottling,
} from '../shared/errors';
import { ExportOptIn, notEnabledMessage } from '../shared/export-opt-in';
import { RandomBytes, deterministicUuid, generatePassphrase } from '../shared/passphrase';
import type { ResolvedExportRequest } from '../shared/schemas';
import { formatSecret } from './secret-format';
import { secretName, targetHash } from '../shared/target-secret';
import { ArnScope, tagValue } from '../shared/workflow';

export interface ExportDeps {
  acm: ACMClient;
  secrets: SecretsManagerClient;
  /** `SECRET_NAME_PREFIX` */
  secretNamePrefix: string;
  /** `SECRET_KMS_KEY_ID` */
  kmsKeyId: string;
  scope: ArnScope;
  /** The stack's export tag, to name it when IAM refuses the export. */
  exportOptIn?: ExportOptIn;
  random?: RandomBytes;
  log?: (message: string, keys?: Record<string, string | number | boolean>) => void;
}

export { secretName, targetHash };

/** ClientRequestToken (= VersionId) of the secret version written by an execution. */
export function secretVersionToken(executionArn: string): string {
  return deterministicUuid(executionArn);
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : '';
}

function resultFrom(detail: CertificateDetail, secretArn: string, secretVersionId: string): ExportTaskResult {
  const domainNames = [
    ...new Set([detail.DomainName, ...(detail.SubjectAlternativeNames ?? [])].filter((d): d is string => !!d)),
  ];
  return {
    secretArn,
    secretVersionId,
    serial: detail.Serial ?? '',
    notAfter: detail.NotAfter ? detail.NotAfter.toISOString() : '',
    keyAlgorithm: detail.KeyAlgorithm ?? '',
    domainNames,
  };
}

async function describeSecret(
  secrets: SecretsManagerClient,
  name: string,
): Promise<DescribeSecretCommandOutput | undefined> {
  try {
    return await secrets.send(new DescribeSecretCommand({ SecretId: name }));
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') return undefined;
    return rethrowThrottling(error, 'secretsmanager:DescribeSecret');
  }
}

export async function exportCertificate(
  request: ResolvedExportRequest,
  executionArn: string,
  deps: ExportDeps,
): Promise<ExportTaskResult> {
  const log = deps.log ?? (() => undefined);
  const certificateArn = request.CertificateArn;
  const detail = await describeExportable(deps.acm, certificateArn, deps.scope);

  const target = targetKey(request.TargetTagKey, request.TargetTagValue);
  const name = secretName(deps.secretNamePrefix, certificateArn, target);
  const token = secretVersionToken(executionArn);

  // A retried task finds its own version already written: return it without exporting (and paying) again.
  const existing = await describeSecret(deps.secrets, name);
  if (existing?.ARN && existing.VersionIdsToStages?.[token]) {
    log('secret version already written by this execution; not exporting again', {
      secretArn: existing.ARN,
      secretVersionId: token,
    });
    return resultFrom(detail, existing.ARN, token);
  }

  if (existing?.DeletedDate) {
    // The target was deleted (its secret scheduled for deletion) and is exported again: take the secret back
    // before writing to it (Secrets Manager refuses writes to a secret scheduled for deletion).
    try {
      await deps.secrets.send(new RestoreSecretCommand({ SecretId: name }));
    } catch (error) {
      rethrowThrottling(error, 'secretsmanager:RestoreSecret');
    }
    log('secret was scheduled for deletion; restored it for this export', { secretArn: existing.ARN ?? name });
  }

  const passphrase = generatePassphrase(deps.random);
  // The PKCS#12 bundle gets a passphrase of its own (never the key's), stored in the same version.
  const pfxPassphrase = request.Pkcs12 ? generatePassphrase(deps.random) : undefined;
  let secretString: string;
  try {
    const exported = await deps.acm.send(
      new ExportCertificateCommand({
        CertificateArn: certificateArn,
        Passphrase: new TextEncoder().encode(passphrase),
      }),
    );
    secretString = formatSecret({
      certificate: exported.Certificate ?? '',
      chain: exported.CertificateChain ?? '',
      encryptedPrivateKey: exported.PrivateKey ?? '',
      passphrase,
      ...(pfxPassphrase === undefined ? {} : { pfxPassphrase }),
    });
  } catch (error) {
    const errName = errorName(error);
    // Never pass on the SDK error object or its message: keep only the name.
    if (errName === 'ResourceNotFoundException' || errName === 'InvalidArnException') {
      throw new CertificateNotFound(`certificate ${certificateArn} was not found when exporting`);
    }
    if (errName === 'RequestInProgressException') {
      throw new CertificateNotIssued(`certificate ${certificateArn} is still being issued`);
    }
    if (errName === 'AccessDeniedException') {
      // The role may export only certificates that carry the export tag (its IAM condition).
      throw new CertificateNotOptedIn(
        deps.exportOptIn && !deps.exportOptIn.anyCertificate
          ? `ACM denied ExportCertificate (AccessDenied): ${notEnabledMessage(certificateArn, deps.exportOptIn.tagKey, deps.exportOptIn.tagValue)}`
          : `ACM denied ExportCertificate of ${certificateArn} (AccessDenied): the acm-export role may not export it`,
      );
    }
    if (errName === 'ValidationException') {
      throw new CertificateNotExportable(`ACM refused to export certificate ${certificateArn} (ValidationException)`);
    }
    rethrowThrottling(error, 'acm:ExportCertificate');
    throw error; // unreachable: rethrowThrottling always throws
  }
  log('certificate exported', { certificateArn });

  const written = await writeVersion(deps, {
    name,
    token,
    secretString,
    request,
    target,
    exists: existing !== undefined,
  });
  return resultFrom(detail, written.arn, written.versionId);
}

async function writeVersion(
  deps: ExportDeps,
  v: {
    name: string;
    token: string;
    secretString: string;
    request: ResolvedExportRequest;
    target: string;
    exists: boolean;
  },
): Promise<{ arn: string; versionId: string }> {
  const put = async (): Promise<{ arn: string; versionId: string } | undefined> => {
    try {
      const out = await deps.secrets.send(
        new PutSecretValueCommand({ SecretId: v.name, SecretString: v.secretString, ClientRequestToken: v.token }),
      );
      return { arn: out.ARN ?? '', versionId: out.VersionId ?? v.token };
    } catch (error) {
      const name = errorName(error);
      if (name === 'ResourceNotFoundException') return undefined;
      if (name === 'ResourceExistsException') {
        // This token's version was written by a concurrent attempt of the same task: use it.
        const again = await describeSecret(deps.secrets, v.name);
        if (again?.ARN && again.VersionIdsToStages?.[v.token]) return { arn: again.ARN, versionId: v.token };
      }
      return rethrowThrottling(error, 'secretsmanager:PutSecretValue');
    }
  };
  const create = async (): Promise<{ arn: string; versionId: string } | undefined> => {
    try {
      const out = await deps.secrets.send(
        new CreateSecretCommand({
          Name: v.name,
          Description: `ACM certificate export for ${v.request.CertName} (${v.target.slice(0, 200)})`.slice(0, 2048),
          KmsKeyId: deps.kmsKeyId,
          SecretString: v.secretString,
          ClientRequestToken: v.token,
          Tags: [
            { Key: SECRET_TAGS.certificateArn, Value: tagValue(v.request.CertificateArn) },
            { Key: SECRET_TAGS.targetTagKey, Value: tagValue(v.request.TargetTagKey) },
            { Key: SECRET_TAGS.targetTagValue, Value: tagValue(v.request.TargetTagValue) },
          ],
        }),
      );
      return { arn: out.ARN ?? '', versionId: out.VersionId ?? v.token };
    } catch (error) {
      if (errorName(error) === 'ResourceExistsException') return undefined; // created meanwhile: put instead
      return rethrowThrottling(error, 'secretsmanager:CreateSecret');
    }
  };

  const first = v.exists ? await put() : await create();
  if (first) return first;
  const second = v.exists ? await create() : await put();
  if (second) return second;
  throw new Error(`could not write secret ${v.name}: it was deleted and re-created concurrently`);
}
