/**
 * Typed errors. The Lambda runtime reports `error.name` as the error type, and the state machine's
 * Retry/Catch blocks match on these names, so each class sets `name` to its own class name (the bundles
 * are built with esbuild's keepNames, so minification does not rename them). Code that needs a name as a
 * string takes it from the class (`Throttled.name`), never from a copy of the literal.
 * Messages carry identifiers only: never a key, passphrase or certificate body.
 */
export class AcmExportError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An input (API body, event, task payload) failed its schema. */
export class InvalidInput extends AcmExportError {}
/** The certificate does not exist in this account and region. */
export class CertificateNotFound extends AcmExportError {}
/** The certificate exists but is not ISSUED (pending validation, expired, revoked, ...). */
export class CertificateNotIssued extends AcmExportError {}
/** The certificate was not created with `Options.Export = ENABLED`. */
export class CertificateNotExportable extends AcmExportError {}
/** The certificate does not carry the stack's export tag: ACM (the acm-export role's IAM condition) refused the export. */
export class CertificateNotOptedIn extends AcmExportError {}
/** The certificate ARN names another region, account or partition than this stack's. */
export class CertificateOutOfScope extends AcmExportError {}
/** No managed node carries the target tag. */
export class NoMatchingNodes extends AcmExportError {}
/**
 * At least one node failed to install. No function throws it: the workflow's RecordInstallFailure state
 * raises it by name ({@link INSTALL_FAILED_ERROR}) when polling finds failed nodes.
 */
export class InstallFailed extends AcmExportError {}
/** An AWS API kept throttling after the SDK's own retries; the state machine retries with backoff. */
export class Throttled extends AcmExportError {}

/** Error names the state machine retries with backoff. */
export const RETRYABLE_ERRORS: readonly string[] = [Throttled.name];

/** Error of the workflow's Fail state when an install reports failed nodes (also shown by GET /exports). */
export const INSTALL_FAILED_ERROR: string = InstallFailed.name;

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
