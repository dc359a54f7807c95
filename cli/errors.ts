/**
 * CLI errors: every failure the user sees is one line, "acm-export: <what failed>: <why>. <what to do>".
 */
export class CliError extends Error {
  constructor(
    /** What failed, e.g. "POST /exports". */
    readonly what: string,
    /** Why it failed (no trailing period). */
    readonly why: string,
    /** What to do about it (a sentence). */
    readonly todo?: string,
    options?: { cause?: unknown },
  ) {
    super(`${what}: ${why}`, options);
    this.name = 'CliError';
  }

  /** The one line printed to stderr. */
  line(): string {
    const why = this.why.replace(/[.\s]+$/, '');
    return `acm-export: ${this.what}: ${why}.${this.todo ? ` ${this.todo}` : ''}`;
  }
}

/** A non-2xx answer from the export API, with the API's own message. */
export class ApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly apiMessage: string,
  ) {
    super(`${method} ${path} returned ${status}: ${apiMessage}`);
    this.name = 'ApiError';
  }
}

/** Turns an API error into the user-facing line, with hints that fit the status code. */
export function apiErrorToCli(error: ApiError, what = `${error.method} ${error.path}`): CliError {
  const message = oneLine(error.apiMessage) || 'no message';
  switch (error.status) {
    case 400:
      return new CliError(what, `the API rejected the request: ${message}`, 'Fix the request and try again.');
    case 401:
    case 403:
      return new CliError(
        what,
        `the API refused the request (${error.status}: ${message})`,
        'Check the credentials (--profile or AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), that --region is the region of the API (the signature covers it), that the clock is correct, and that the identity may call execute-api:Invoke on this API.',
      );
    case 404:
      return new CliError(
        what,
        `not found (404: ${message})`,
        'Check the id or ARN, and that --endpoint or --stack points at the right deployment.',
      );
    case 409:
      // The API's message names the certificate holding the name (one certificate per tag and CertName).
      if (/^CertName \S+ on \S+ is held by /.test(message))
        return new CliError(
          what,
          `conflict (409: ${message})`,
          'Delete that certificate\'s target first ("acm-export targets delete <its ARN> --tag <key=value>"; the files stay on the nodes until this export replaces them), or choose another --name.',
        );
      return new CliError(what, `conflict (409: ${message})`, 'Wait for the running export to finish, then try again.');
    case 429:
      return new CliError(what, `the API is throttling requests (429: ${message})`, 'Wait a little and try again.');
    default:
      if (error.status >= 500) {
        return new CliError(
          what,
          `the API failed (${error.status}: ${message})`,
          'Try again later; if it persists, check the API and Lambda logs.',
        );
      }
      return new CliError(what, `unexpected answer (${error.status}: ${message})`, 'Check --endpoint or --stack.');
  }
}

/** Collapses whitespace and bounds the length, so a message fits on one line. */
export function oneLine(text: string, max = 300): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    const code = (error as { code?: unknown }).code;
    const base = oneLine(error.message);
    if (cause instanceof Error && !base.includes(cause.message)) return `${base} (${oneLine(cause.message)})`;
    if (typeof code === 'string' && !base.includes(code)) return `${base} (${code})`;
    return base;
  }
  return oneLine(String(error));
}
