/**
 * The one source of truth for every externally supplied value: the API's JSON schema, the zod schemas the
 * Lambdas and the CLI validate with, and the install document's `allowedPattern`s are all built from here.
 *
 * Patterns use only the regex subset shared by JavaScript, API Gateway's JSON-schema validator and SSM's
 * `allowedPattern` (no look-around, no flags), and are anchored with ^ and $.
 */

export interface FieldRule {
  /** Anchored regular expression the whole value must match. */
  readonly pattern: string;
  /** Upper bound on the length in characters (enforced separately from the pattern). */
  readonly maxLength: number;
  /** Human-readable rule, used in error messages (never the rejected value). */
  readonly rule: string;
}

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const PARTITION = 'aws(-[a-z]+)*';
const REGION = '[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}';
/**
 * One path component: starts with a letter, digit or underscore, so `.`, `..` and `-rf` can never appear.
 * Unbounded on purpose: the SSM Agent compiles `allowedPattern` with Go's regexp (RE2), which rejects nested
 * counted repetition whose product exceeds 1000 (`({0,63}){1,16}` is 1008); the field's maxLength bounds it.
 */
const PATH_COMPONENT = '[A-Za-z0-9_][A-Za-z0-9._-]*';
/** An absolute directory path of such components. */
const ABSOLUTE_PATH = `^(/${PATH_COMPONENT})+$`;
/** Bodies of the tag key and tag value rules (shared by TargetTagKey/TargetTagValue and Target). */
const TAG_KEY_BODY = '[A-Za-z0-9_.:/@-]{1,128}';
const TAG_VALUE_BODY = '[A-Za-z0-9_.:/=+@-]([A-Za-z0-9_.:/=+@ -]{0,254}[A-Za-z0-9_.:/=+@-])?';
/** POSIX user or group name (the portable subset useradd/groupadd accept by default). */
const POSIX_NAME = '[a-z_][a-z0-9_-]{0,31}';
/**
 * State Manager rate expressions: at least every 30 minutes is the service minimum; SSM wants the singular
 * unit for 1 (`rate(1 hour)`, `rate(1 day)`). Cron expressions are not accepted here (a stricter, smaller
 * surface; ApplyOnlyAtCronInterval stays false either way).
 */
const RATE_EXPRESSION =
  'rate\\(((3[0-9]|[4-9][0-9]|[1-9][0-9]{2,3}) minutes|1 hour|([2-9]|[1-9][0-9]{1,2}) hours|1 day|([2-9]|[1-9][0-9]) days)\\)';

/** ARN of an ACM certificate. Narrow it to one partition/region/account with {@link certificateArnRule}. */
export function certificateArnRule(scope: { partition?: string; region?: string; account?: string } = {}): FieldRule {
  const partition = scope.partition ?? PARTITION;
  const region = scope.region ?? REGION;
  const account = scope.account ?? '[0-9]{12}';
  return {
    pattern: `^arn:${partition}:acm:${region}:${account}:certificate/${UUID}$`,
    maxLength: 2048,
    rule:
      scope.region || scope.account
        ? `must be the ARN of an ACM certificate in ${scope.region ?? 'this region'} and ${scope.account ? `account ${scope.account}` : 'this account'}`
        : 'must be the ARN of an ACM certificate (arn:aws:acm:<region>:<account>:certificate/<id>)',
  };
}

export const FIELD_RULES = {
  CertificateArn: certificateArnRule(),
  CertName: {
    pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
    maxLength: 64,
    rule: 'must be a plain file name stem: 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit',
  },
  TargetTagKey: {
    pattern: `^${TAG_KEY_BODY}$`,
    maxLength: 128,
    rule: 'must be a tag key of 1-128 letters, digits or "_.:/@-" that does not start with "aws:"',
  },
  TargetTagValue: {
    pattern: `^${TAG_VALUE_BODY}$`,
    maxLength: 256,
    rule: 'must be a tag value of 1-256 letters, digits, spaces or "_.:/=+@-", not starting or ending with a space',
  },
  CertDir: {
    pattern: ABSOLUTE_PATH,
    maxLength: 255,
    rule: 'must be an absolute directory path without "..", whose components start with a letter, digit or "_"',
  },
  KeyDir: {
    pattern: ABSOLUTE_PATH,
    maxLength: 255,
    rule: 'must be an absolute directory path without "..", whose components start with a letter, digit or "_"',
  },
  Service: {
    pattern: '^(auto|none|nginx|apache2|httpd)$',
    maxLength: 7,
    rule: 'must be one of auto, none, nginx, apache2, httpd',
  },
  VerifyPort: {
    pattern: '^(0|[1-9][0-9]{0,4})$',
    maxLength: 5,
    rule: 'must be a TCP port from 1 to 65535, or 0 to skip verification',
  },
  MaxConcurrency: {
    pattern: '^([1-9][0-9]{0,3}|[1-9][0-9]?%|100%)$',
    maxLength: 5,
    rule: 'must be a number of nodes (1-9999) or a percentage (1%-100%)',
  },
  MaxErrors: {
    pattern: '^(0|[1-9][0-9]{0,3}|[0-9]%|[1-9][0-9]%|100%)$',
    maxLength: 5,
    rule: 'must be a number of nodes (0-9999) or a percentage (0%-100%)',
  },
  KeyGroup: {
    pattern: `^(${POSIX_NAME})?$`,
    maxLength: 32,
    rule: 'must be empty (key readable by root only) or a POSIX group name',
  },
  KeyOwner: {
    pattern: `^(${POSIX_NAME})?$`,
    maxLength: 32,
    rule: 'must be empty (root) or a POSIX user name',
  },
  /** Empty: 0600, or 0640 when KeyGroup is set. Also the mode of the combined PEM and the PKCS#12 bundle. */
  KeyMode: {
    pattern: '^(0600|0640|0400|0440)?$',
    maxLength: 4,
    rule: 'must be empty (0600, or 0640 with KeyGroup) or one of 0600, 0640, 0400, 0440',
  },
  CertOwner: {
    pattern: `^(${POSIX_NAME})?$`,
    maxLength: 32,
    rule: 'must be empty (root) or a POSIX user name',
  },
  CertGroup: {
    pattern: `^(${POSIX_NAME})?$`,
    maxLength: 32,
    rule: 'must be empty (root) or a POSIX group name',
  },
  CertMode: {
    pattern: '^(0644|0640|0444|0440|0600|0400)$',
    maxLength: 4,
    rule: 'must be one of 0644, 0640, 0444, 0440, 0600, 0400',
  },
  /** Also write <CertName>.p12 (PKCS#12: key, leaf and chain) protected by the secret's PFX passphrase. */
  Pkcs12: {
    pattern: '^(true|false)$',
    maxLength: 5,
    rule: 'must be true or false',
  },
  /** Also write KeyDir/<CertName>.combined.pem (key + full chain, e.g. for HAProxy). */
  CombinedPem: {
    pattern: '^(true|false)$',
    maxLength: 5,
    rule: 'must be true or false',
  },
  /** `<TagKey>=<TagValue>` of the target; reported in the node's custom inventory. Empty: not reported. */
  Target: {
    pattern: `^(${TAG_KEY_BODY}=${TAG_VALUE_BODY})?$`,
    maxLength: 385,
    rule: 'must be empty or <TagKey>=<TagValue>',
  },
  ConvergenceSchedule: {
    pattern: `^${RATE_EXPRESSION}$`,
    maxLength: 20,
    rule: 'must be a State Manager rate expression of at least 30 minutes, e.g. rate(12 hours), rate(1 day)',
  },
  SecretId: {
    pattern: `^arn:${PARTITION}:secretsmanager:${REGION}:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$`,
    // A secret's ARN is at most about 600 characters (a 512-character name, its 7-character suffix, the longest
    // partition and region). SSM counts run-time parameter values in a document's 64 KB quota, so the bound
    // is kept near that rather than at the API's 2048.
    maxLength: 1024,
    rule: 'must be the ARN of a Secrets Manager secret',
  },
  /**
   * Empty only in association mode (SecretVersionStage=AWSCURRENT); the install document needs exactly one
   * of the two. Workflow results require a non-empty id (see workflow.ts).
   */
  SecretVersionId: {
    pattern: `^(${UUID})?$`,
    maxLength: 36,
    rule: 'must be a Secrets Manager version id (a lower-case UUID)',
  },
  SecretVersionStage: {
    pattern: '^(AWSCURRENT)?$',
    maxLength: 10,
    rule: 'must be empty or AWSCURRENT',
  },
  Region: {
    pattern: `^${REGION}$`,
    maxLength: 32,
    rule: 'must be an AWS region name such as eu-west-1',
  },
} as const satisfies Record<string, FieldRule>;

export type FieldName = keyof typeof FIELD_RULES;

/** Tag keys with this prefix (any case) are reserved by AWS and cannot be set by users. */
export const RESERVED_TAG_PREFIX = /^aws:/i;

/** The one directory the install document runs deploy hooks from (not a parameter: see docs/security.md). */
export const HOOKS_DIR = '/etc/acm-export/hooks.d';

/**
 * Fields that were once install options and are refused with their own message rather than "not a known
 * field", so a caller with an old request learns what replaced them.
 */
export const RETIRED_FIELDS: Readonly<Record<string, string>> = {
  HooksDir: `no longer a parameter; hooks run from ${HOOKS_DIR}`,
};

/** Defaults of the optional install options (the document's defaults are the same values). */
export const INSTALL_DEFAULTS = {
  CertDir: '/etc/ssl/certs',
  KeyDir: '/etc/ssl/private',
  /** auto: the node reloads the one web server it finds running (none found: no reload; several: it fails). */
  Service: 'auto',
  VerifyPort: 0,
  KeyGroup: '',
  KeyOwner: '',
  KeyMode: '',
  CertOwner: '',
  CertGroup: '',
  CertMode: '0644',
  Pkcs12: false,
  CombinedPem: false,
  MaxConcurrency: '10%',
  MaxErrors: '0',
  DryRun: false,
} as const;

/** Schedule of the convergence association when neither the request nor the stack sets one. */
export const DEFAULT_CONVERGENCE_SCHEDULE = 'rate(12 hours)';

/**
 * Schedule of the per-target report associations (report document): how often nodes re-read what they hold
 * and serve, so the drift check sees files changed between install runs.
 */
export const DEFAULT_DRIFT_REPORT_SCHEDULE = 'rate(1 hour)';

/** Largest request body the API accepts, in bytes. */
export const MAX_REQUEST_BYTES = 8192;
