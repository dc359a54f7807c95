/**
 * Export is opt-in per certificate: only a certificate that carries the stack's export tag (by default
 * `acm-export:exportable=true`) is exported, unless the stack was deployed to export any exportable certificate.
 * The export-api and acm-renew functions check the tag before starting an execution; the acm-export role's
 * IAM condition on the same tag is the backstop.
 */
import { ACMClient, ListTagsForCertificateCommand } from '@aws-sdk/client-acm';
import { ENV } from './contract';
import { rethrowThrottling } from './errors';

/** The tag a certificate must carry to be exported, unless configured otherwise. */
export const DEFAULT_EXPORT_TAG = { key: 'acm-export:exportable', value: 'true' } as const;

/**
 * Tag keys and values the stack accepts for the export tag: a subset of ACM's TagKey/TagValue (no spaces, so the
 * printed add-tags command can be pasted into a shell as is). Keys starting with `aws:` are AWS's own.
 */
export const EXPORT_TAG_KEY_PATTERN = /^(?!aws:)[A-Za-z0-9_.:/=+@-]{1,128}$/;
export const EXPORT_TAG_VALUE_PATTERN = /^[A-Za-z0-9_.:/=+@-]{1,256}$/;

/** Which certificates may be exported: those with the tag, or (widened) any exportable certificate. */
export type ExportOptIn = { anyCertificate: true } | { anyCertificate: false; tagKey: string; tagValue: string };

/** The command that opts a certificate in. */
export function addTagCommand(certificateArn: string, tagKey: string, tagValue: string): string {
  return `aws acm add-tags-to-certificate --certificate-arn ${certificateArn} --tags Key=${tagKey},Value=${tagValue}`;
}

/** What to tell a caller whose certificate lacks the tag: the tag to add and the command that adds it. */
export function notEnabledMessage(certificateArn: string, tagKey: string, tagValue: string): string {
  return `CertificateArn: ${certificateArn} is not enabled for export: add the tag ${tagKey}=${tagValue} (${addTagCommand(certificateArn, tagKey, tagValue)})`;
}

/**
 * The opt-in setting the stack gave the function. Fails closed: a function without the tag settings (and not
 * widened) refuses to start rather than export every certificate.
 */
export function exportOptInFromEnv(env: NodeJS.ProcessEnv = process.env): ExportOptIn {
  const any = env[ENV.EXPORT_ANY_CERTIFICATE];
  if (any === 'true') return { anyCertificate: true };
  if (any !== 'false') throw new Error(`environment variable ${ENV.EXPORT_ANY_CERTIFICATE} must be "true" or "false"`);
  const tagKey = env[ENV.EXPORT_TAG_KEY] ?? '';
  const tagValue = env[ENV.EXPORT_TAG_VALUE] ?? '';
  if (!EXPORT_TAG_KEY_PATTERN.test(tagKey) || !EXPORT_TAG_VALUE_PATTERN.test(tagValue))
    throw new Error(`environment variables ${ENV.EXPORT_TAG_KEY} and ${ENV.EXPORT_TAG_VALUE} must name the export tag`);
  return { anyCertificate: false, tagKey, tagValue };
}

/** The setting when the stack gave one, else undefined (for messages only: never to decide). */
export function exportOptInFromEnvIfSet(env: NodeJS.ProcessEnv = process.env): ExportOptIn | undefined {
  try {
    return exportOptInFromEnv(env);
  } catch {
    return undefined;
  }
}

/**
 * - `enabled`: the certificate carries the tag (or any certificate may be exported)
 * - `not-enabled`: it exists without the tag (`message` says what to add)
 * - `not-found`: ACM does not know it; the caller keeps its usual not-found handling
 */
export type OptInCheck = { result: 'enabled' } | { result: 'not-enabled'; message: string } | { result: 'not-found' };

/** ListTagsForCertificate and the tag comparison. Throttling becomes `Throttled`; other errors propagate. */
export async function checkExportOptIn(
  acm: ACMClient,
  certificateArn: string,
  optIn: ExportOptIn,
): Promise<OptInCheck> {
  if (optIn.anyCertificate) return { result: 'enabled' };
  let tags: { Key?: string; Value?: string }[];
  try {
    tags = (await acm.send(new ListTagsForCertificateCommand({ CertificateArn: certificateArn }))).Tags ?? [];
  } catch (error) {
    const name = error instanceof Error ? error.name : '';
    if (name === 'ResourceNotFoundException' || name === 'InvalidArnException') return { result: 'not-found' };
    return rethrowThrottling(error, 'acm:ListTagsForCertificate');
  }
  // ACM tag values are optional; a key without the exact value does not opt in.
  if (tags.some((t) => t.Key === optIn.tagKey && (t.Value ?? '') === optIn.tagValue)) return { result: 'enabled' };
  return { result: 'not-enabled', message: notEnabledMessage(certificateArn, optIn.tagKey, optIn.tagValue) };
}

/** The environment the stack gives a function that checks (or names) the export tag. */
export function exportOptInEnvironment(optIn: ExportOptIn): Record<string, string> {
  return optIn.anyCertificate
    ? { [ENV.EXPORT_ANY_CERTIFICATE]: 'true' }
    : {
        [ENV.EXPORT_ANY_CERTIFICATE]: 'false',
        [ENV.EXPORT_TAG_KEY]: optIn.tagKey,
        [ENV.EXPORT_TAG_VALUE]: optIn.tagValue,
      };
}

/** The stack's setting from its props, checked at synth time (defaults: {@link DEFAULT_EXPORT_TAG}, not widened). */
export function exportOptInSetting(props: {
  tagKey?: string;
  tagValue?: string;
  anyCertificate?: boolean;
}): ExportOptIn {
  const tagKey = props.tagKey ?? DEFAULT_EXPORT_TAG.key;
  const tagValue = props.tagValue ?? DEFAULT_EXPORT_TAG.value;
  if (!EXPORT_TAG_KEY_PATTERN.test(tagKey))
    throw new Error('exportTagKey must be 1-128 letters, digits or _.:/=+@- and must not start with "aws:"');
  if (!EXPORT_TAG_VALUE_PATTERN.test(tagValue))
    throw new Error('exportTagValue must be 1-256 letters, digits or _.:/=+@-');
  return props.anyCertificate ? { anyCertificate: true } : { anyCertificate: false, tagKey, tagValue };
}
