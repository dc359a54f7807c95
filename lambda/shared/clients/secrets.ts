/** The shared Secrets Manager client (see ../clients.ts: a handler imports only the client modules it calls). */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { sharedClient, traced } from '../clients';

export const secretsClient = (): SecretsManagerClient =>
  sharedClient('secrets', () => traced(new SecretsManagerClient({})));
