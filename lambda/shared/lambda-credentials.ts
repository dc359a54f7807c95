/**
 * The credential provider of the deployed handler bundles: an esbuild alias (lib/constructs/node-function.ts)
 * puts this module in place of `@aws-sdk/credential-provider-node`, the SDK's default chain. In Lambda the
 * runtime always sets the execution role's credentials in the environment, so the chain's other links (SSO,
 * INI files, credential processes, web identity, container and instance metadata) are code a function loads
 * and never runs. Tests and local mode run the handlers from source and keep the default chain.
 */
import { fromEnv } from '@aws-sdk/credential-providers';

type CredentialProvider = ReturnType<typeof fromEnv>;
type ProviderInit = NonNullable<Parameters<typeof fromEnv>[0]>;

/** What the Lambda runtime always sets (with AWS_SESSION_TOKEN, which fromEnv reads when present). */
const REQUIRED_VARIABLES = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const;

/** Same name and call shape as the default chain's `defaultProvider`, which the SDK clients' runtime config call. */
export function defaultProvider(init: ProviderInit = {}): CredentialProvider {
  const fromEnvironment = fromEnv({ logger: init.logger });
  return async () => {
    const missing = REQUIRED_VARIABLES.filter((name) => !process.env[name]);
    if (missing.length > 0)
      throw new Error(
        `No AWS credentials: ${missing.join(' and ')} not set. This bundle reads credentials from the environment only, as the Lambda runtime provides them.`,
      );
    return fromEnvironment();
  };
}
