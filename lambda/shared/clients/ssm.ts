/** The shared SSM client (see ../clients.ts: a handler imports only the client modules it calls). */
import { SSMClient } from '@aws-sdk/client-ssm';
import { sharedClient, traced } from '../clients';

export const ssmClient = (): SSMClient => sharedClient('ssm', () => traced(new SSMClient({})));
