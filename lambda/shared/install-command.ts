/**
 * One SendCommand of a node document (install or remove) to a tag target, with the delivery settings every
 * run uses: the stack's document, its delivery timeout and Run Command output to the command log group.
 * Parameters are identifiers and options only (see documentParameters).
 */
import { SSMClient, SendCommandCommand } from '@aws-sdk/client-ssm';
import { InventoryItem, targetKey } from './contract';
import { rethrowThrottling } from './errors';
import { INSTALL_DEFAULTS } from './patterns';

/**
 * Where and how a document is sent (`DOCUMENT_NAME` or `REMOVE_DOCUMENT_NAME`, `COMMAND_LOG_GROUP`,
 * `COMMAND_TIMEOUT_SECONDS`).
 */
export interface InstallCommandSettings {
  documentName: string;
  logGroupName: string;
  /** Delivery timeout, 30..2592000 seconds. */
  timeoutSeconds: number;
}

export interface InstallCommandRun {
  tagKey: string;
  tagValue: string;
  parameters: Record<string, string[]>;
  maxConcurrency: string;
  maxErrors: string;
  /** Shown in the Run Command console (cut to SSM's 100 characters). */
  comment: string;
}

/** The SendCommand input (the node list is the tag, resolved by SSM when the command is sent). */
export function installCommandInput(settings: InstallCommandSettings, run: InstallCommandRun) {
  return {
    DocumentName: settings.documentName,
    Targets: [{ Key: `tag:${run.tagKey}`, Values: [run.tagValue] }],
    Parameters: run.parameters,
    MaxConcurrency: run.maxConcurrency,
    MaxErrors: run.maxErrors,
    TimeoutSeconds: settings.timeoutSeconds,
    CloudWatchOutputConfig: { CloudWatchLogGroupName: settings.logGroupName, CloudWatchOutputEnabled: true },
    Comment: run.comment.slice(0, 100),
  };
}

/** Sends the command; returns its id and SSM's target count. Throttling becomes Throttled. */
export async function sendInstallCommand(
  ssm: SSMClient,
  settings: InstallCommandSettings,
  run: InstallCommandRun,
): Promise<{ commandId: string; targetCount: number }> {
  let commandId: string | undefined;
  let targetCount = 0;
  try {
    const out = await ssm.send(new SendCommandCommand(installCommandInput(settings, run)));
    commandId = out.Command?.CommandId;
    targetCount = out.Command?.TargetCount ?? 0;
  } catch (error) {
    return rethrowThrottling(error, 'ssm:SendCommand');
  }
  if (!commandId) throw new Error('ssm:SendCommand returned no command id');
  return { commandId, targetCount };
}

/** How a target's files are installed: paths, service, verification and the output profile. */
export type TargetProfile = Required<
  Pick<
    InventoryItem,
    | 'certName'
    | 'targetTagKey'
    | 'targetTagValue'
    | 'certDir'
    | 'keyDir'
    | 'service'
    | 'verifyPort'
    | 'keyOwner'
    | 'keyGroup'
    | 'keyMode'
    | 'certOwner'
    | 'certGroup'
    | 'certMode'
    | 'pkcs12'
    | 'combinedPem'
  >
>;

/** The stored profile of an inventory item (defaults for items written before profiles existed). */
export function profileFromItem(item: InventoryItem): TargetProfile {
  return {
    certName: item.certName,
    targetTagKey: item.targetTagKey,
    targetTagValue: item.targetTagValue,
    certDir: item.certDir,
    keyDir: item.keyDir,
    service: item.service,
    verifyPort: item.verifyPort,
    keyOwner: item.keyOwner ?? INSTALL_DEFAULTS.KeyOwner,
    keyGroup: item.keyGroup ?? INSTALL_DEFAULTS.KeyGroup,
    keyMode: item.keyMode ?? INSTALL_DEFAULTS.KeyMode,
    certOwner: item.certOwner ?? INSTALL_DEFAULTS.CertOwner,
    certGroup: item.certGroup ?? INSTALL_DEFAULTS.CertGroup,
    certMode: item.certMode ?? INSTALL_DEFAULTS.CertMode,
    pkcs12: item.pkcs12 ?? INSTALL_DEFAULTS.Pkcs12,
    combinedPem: item.combinedPem ?? INSTALL_DEFAULTS.CombinedPem,
  };
}

/**
 * Which document a run uses and what it installs: the install document with the exact version (a push) or
 * the stage (an association), or the report or remove document (which take no version).
 */
export type DocumentSecret =
  | { secretArn: string; versionId: string }
  | { secretArn: string; stage: 'AWSCURRENT' }
  | { secretArn: string; document: 'report' | 'remove' };

/**
 * The parameters the report and remove documents declare (ssm-documents/report-acm-certificate.yaml,
 * remove-acm-certificate.yaml; a test compares them): SSM refuses a command or association naming any other.
 */
export const DOCUMENT_PARAMETER_NAMES = {
  report: ['CertName', 'SecretId', 'CertDir', 'KeyDir', 'Pkcs12', 'CombinedPem', 'Target', 'Service', 'VerifyPort'],
  remove: ['CertName', 'SecretId', 'CertDir', 'KeyDir', 'Service'],
} as const satisfies Record<'report' | 'remove', readonly string[]>;

/**
 * A document's parameters: each a one-element list of strings; identifiers and options only. A push names
 * the exact version; an association names the stage (AWSCURRENT) and leaves SecretVersionId at its default;
 * the report and remove documents get only the parameters they declare.
 */
export function documentParameters(
  profile: TargetProfile,
  secret: DocumentSecret,
  region: string,
): Record<string, string[]> {
  const install = installParameters(profile, secret, region);
  if (!('document' in secret)) return install;
  const names: readonly string[] = DOCUMENT_PARAMETER_NAMES[secret.document];
  return Object.fromEntries(Object.entries(install).filter(([name]) => names.includes(name)));
}

function installParameters(profile: TargetProfile, secret: DocumentSecret, region: string): Record<string, string[]> {
  return {
    CertName: [profile.certName],
    SecretId: [secret.secretArn],
    ...('versionId' in secret
      ? { SecretVersionId: [secret.versionId] }
      : 'stage' in secret
        ? { SecretVersionStage: [secret.stage] }
        : {}),
    Region: [region],
    CertDir: [profile.certDir],
    KeyDir: [profile.keyDir],
    Service: [profile.service],
    VerifyPort: [String(profile.verifyPort)],
    KeyOwner: [profile.keyOwner],
    KeyGroup: [profile.keyGroup],
    KeyMode: [profile.keyMode],
    CertOwner: [profile.certOwner],
    CertGroup: [profile.certGroup],
    CertMode: [profile.certMode],
    Pkcs12: [String(profile.pkcs12)],
    CombinedPem: [String(profile.combinedPem)],
    Target: [targetKey(profile.targetTagKey, profile.targetTagValue)],
  };
}
