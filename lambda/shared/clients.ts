/**
 * The shared AWS SDK v3 clients of a function, built once and lazily. This module imports no SDK package:
 * each client has its own module under `clients/` (e.g. `clients/acm.ts`), and a handler imports only the
 * ones it calls, so its bundle carries no other service's client. The SDK honours the standard environment
 * (AWS_REGION, AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>), which is how local mode points them at local
 * endpoints. X-Ray capture is applied only when tracing is enabled (i.e. inside Lambda).
 */
import type { ACMClient } from '@aws-sdk/client-acm';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { activeTracer } from './powertools';

export interface AwsClients {
  acm: ACMClient;
  secrets: SecretsManagerClient;
  ssm: SSMClient;
  ddb: DynamoDBDocumentClient;
  sfn: SFNClient;
  sns: SNSClient;
}

/** The SDK packages behind each client (`clients/<name>.ts` imports these and no others). */
export const CLIENT_PACKAGES: { readonly [K in keyof AwsClients]: readonly string[] } = {
  acm: ['@aws-sdk/client-acm'],
  secrets: ['@aws-sdk/client-secrets-manager'],
  ssm: ['@aws-sdk/client-ssm'],
  ddb: ['@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb'],
  sfn: ['@aws-sdk/client-sfn'],
  sns: ['@aws-sdk/client-sns'],
};

const cache: Partial<AwsClients> = {};

/** `client` with X-Ray capture when tracing is on. */
export function traced<T>(client: T): T {
  const tracer = activeTracer();
  return tracer ? tracer.captureAWSv3Client(client) : client;
}

/** The shared client `name`, created by `create` on first use (or the one `setClients` put there). */
export function sharedClient<K extends keyof AwsClients>(name: K, create: () => AwsClients[K]): AwsClients[K] {
  const existing = cache[name];
  if (existing) return existing;
  const created = create();
  cache[name] = created;
  return created;
}

/** Replaces (or, with `undefined`, forgets) shared clients; for tests and local mode. */
export function setClients(clients: Partial<AwsClients>): void {
  for (const key of Object.keys(CLIENT_PACKAGES) as (keyof AwsClients)[]) {
    if (key in clients) {
      if (clients[key] === undefined) delete cache[key];
      else (cache as Record<string, unknown>)[key] = clients[key];
    }
  }
}
