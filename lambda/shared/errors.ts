/**
 * Typed errors. The Lambda runtime reports `error.name` as the error type, and the state machine's
 * Retry/Catch blocks match on these names, so each class is made by {@link typedError} with its name as a
 * literal: the bundles are minified without keeping class names (esbuild keepNames costs each cold start
 * about 4 ms), so a class's own `name` is not its source name there. Code that needs a name as a string reads
 * the class's `errorName` (`Throttled.errorName`), never a copy of the literal.
 * Messages carry identifiers only: never a key, passphrase or certificate body.
 */
export abstract class AcmExportError extends Error {
  abstract override readonly name: string;
}

/** The base of a typed error named `errorName` (its instances' `name`, and the class's `errorName`). */
function typedError<const N extends string>(errorName: N) {
  return class extends AcmExportError {
    static readonly errorName: N = errorName;
    override readonly name: N = errorName;
  };
}

/** An input (API body, event, task payload) failed its schema. */
export class InvalidInput extends typedError('InvalidInput') {}
/** The certificate does not exist in this account and region. */
export class CertificateNotFound extends typedError('CertificateNotFound') {}
/** The certificate exists but is not ISSUED (pending validation, expired, revoked, ...). */
export class CertificateNotIssued extends typedError('CertificateNotIssued') {}
/** The certificate was not created with `Options.Export = ENABLED`. */
export class CertificateNotExportable extends typedError('CertificateNotExportable') {}
/** The certificate does not carry the stack's export tag: ACM (the acm-export role's IAM condition) refused the export. */
export class CertificateNotOptedIn extends typedError('CertificateNotOptedIn') {}
/** The certificate ARN names another region, account or partition than this stack's. */
export class CertificateOutOfScope extends typedError('CertificateOutOfScope') {}
/** No managed node carries the target tag. */
export class NoMatchingNodes extends typedError('NoMatchingNodes') {}
/**
 * At least one node failed to install. No function throws it: the workflow's RecordInstallFailure state
 * raises it by name ({@link INSTALL_FAILED_ERROR}) when polling finds failed nodes.
 */
export class InstallFailed extends typedError('InstallFailed') {}
/** An AWS API kept throttling after the SDK's own retries; the state machine retries with backoff. */
export class Throttled extends typedError('Throttled') {}

/** Error names the state machine retries with backoff. */
export const RETRYABLE_ERRORS: readonly string[] = [Throttled.errorName];

/** Error of the workflow's Fail state when an install reports failed nodes (also shown by GET /exports). */
export const INSTALL_FAILED_ERROR: string = InstallFailed.errorName;

const THROTTLING_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'ThrottledException',
  'RequestLimitExceeded',
  'ProvisionedThroughputExceededException',
  'RequestThrottledException',
  'LimitExceededException',
]);

/** True when an AWS SDK error means "slow down". */
export function isThrottling(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const meta = (error as { $metadata?: { httpStatusCode?: number } }).$metadata;
  return THROTTLING_NAMES.has(error.name) || meta?.httpStatusCode === 429;
}

/** Re-throws throttling as {@link Throttled} so the workflow's backoff retry catches it by name. */
export function rethrowThrottling(error: unknown, operation: string): never {
  if (isThrottling(error)) throw new Throttled(`${operation} was throttled; the workflow will retry`, { cause: error });
  throw error;
}
