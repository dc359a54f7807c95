/**
 * What every command gets: the injectable I/O (so tests drive the CLI in-process) and the global options.
 */

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export type CredentialsProvider = () => Promise<Credentials>;

export interface OutputStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export type FetchFn = (input: string, init?: RequestInit) => Promise<Response>;

/** Looks up the outputs of a CloudFormation stack (injectable for tests). */
export type StackOutputsFn = (
  stackName: string,
  region: string | undefined,
  profile: string | undefined,
) => Promise<Record<string, string>>;

export interface CliIo {
  stdout: OutputStream;
  stderr: OutputStream;
  env: Record<string, string | undefined>;
  fetch: FetchFn;
  /** Waits between polls; tests pass one that returns at once. */
  sleep: (ms: number) => Promise<void>;
  /** Milliseconds since the epoch. */
  now: () => number;
  /** Credentials for signing; by default the AWS provider chain (env first, then --profile/AWS_PROFILE, SSO, ...). */
  credentials?: Credentials | CredentialsProvider;
  /** CloudFormation output lookup for --stack; by default DescribeStacks. */
  stackOutputs?: StackOutputsFn;
}

export interface GlobalOptions {
  endpoint?: string;
  stack?: string;
  region?: string;
  profile?: string;
  json?: boolean;
  debug?: boolean;
}

export function defaultIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    fetch: (input, init) => fetch(input, init),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    now: () => Date.now(),
  };
}
