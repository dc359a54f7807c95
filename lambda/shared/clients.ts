/**
 * AWS SDK v3 clients, built once and lazily. The SDK itself honours the standard environment (AWS_REGION,
 * AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>), which is how local mode points them at local endpoints.
 * X-Ray capture is applied only when tracing is enabled (i.e. inside Lambda).
 */
import { ACMClient } from '@aws-sdk/client-acm';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { tracer } from './powertools';

export interface AwsClients {
  acm: ACMClient;
  secrets: SecretsManagerClient;
  ssm: SSMClient;
  ddb: DynamoDBDocumentClient;
  sfn: SFNClient;
  sns: SNSClient;
}

const cache: Partial<AwsClients> = {};

function traced<T>(client: T): T {
  return tracer.isTracingEnabled() ? tracer.captureAWSv3Client(client) : client;
}

const factories: { [K in keyof AwsClients]: () => AwsClients[K] } = {
  acm: () => traced(new ACMClient({})),
  secrets: () => traced(new SecretsManagerClient({})),
  ssm: () => traced(new SSMClient({})),
  ddb: () =>
    DynamoDBDocumentClient.from(traced(new DynamoDBClient({})), {
      marshallOptions: { removeUndefinedValues: true },
    }),
  sfn: () => traced(new SFNClient({})),
  sns: () => traced(new SNSClient({})),
};

/** The shared client for `name`, created on first use. */
export function client<K extends keyof AwsClients>(name: K): AwsClients[K] {
  const existing = cache[name];
  if (existing) return existing;
  const created = factories[name]();
  cache[name] = created;
  return created;
}

/** Replaces (or, with `undefined`, forgets) shared clients; for tests and local mode. */
export function setClients(clients: Partial<AwsClients>): void {
  for (const key of Object.keys(factories) as (keyof AwsClients)[]) {
    if (key in clients) {
      if (clients[key] === undefined) delete cache[key];
      else (cache as Record<string, unknown>)[key] = clients[key];
    }
  }
}
