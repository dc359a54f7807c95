/**
 * The stack's resources as local mode names them (what the template's intrinsics resolve to) and the one it
 * creates as the stack does: the preflight canary secret.
 */
import { CreateSecretCommand, DescribeSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { LOCAL_DOCUMENT_NAMES } from './aws-emulator';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './credentials';
import type { LocalResources } from './environment';

export const LOCAL_STACK_NAME = 'AcmExport';
export const LOCAL_TABLE_NAME = 'AcmExport-Inventory';
/** Name of the canary secret the preflight document reads (`acm-export selftest`), as the stack names it. */
export const LOCAL_PREFLIGHT_SECRET_SUFFIX = 'preflight-canary';

/** Local names of the stack's resources: what the template's intrinsics resolve to (see local/environment.ts). */
export function localResources(): LocalResources {
  const region = LOCAL_REGION;
  const account = LOCAL_ACCOUNT_ID;
  return {
    region,
    account,
    stackName: LOCAL_STACK_NAME,
    tableName: LOCAL_TABLE_NAME,
    documentNames: LOCAL_DOCUMENT_NAMES,
    stateMachineArn: `arn:aws:states:${region}:${account}:stateMachine:${LOCAL_STACK_NAME}-ExportWorkflow`,
    kmsKeyArn: `arn:aws:kms:${region}:${account}:key/00000000-0000-4000-8000-00000000c0de`,
  };
}

/** Creates the preflight canary as the stack does (same prefix and key, no key material), unless a kept state has it. */
export async function ensurePreflightSecret(
  secrets: SecretsManagerClient,
  prefix: string,
  kmsKeyId: string,
): Promise<string> {
  const name = `${prefix}/${LOCAL_PREFLIGHT_SECRET_SUFFIX}`;
  try {
    return (await secrets.send(new DescribeSecretCommand({ SecretId: name }))).ARN ?? name;
  } catch (error) {
    if (!(error instanceof Error) || error.name !== 'ResourceNotFoundException') throw error;
  }
  const created = await secrets.send(
    new CreateSecretCommand({
      Name: name,
      KmsKeyId: kmsKeyId,
      SecretString: 'acm-export preflight canary: holds no key material',
    }),
  );
  return created.ARN ?? name;
}
