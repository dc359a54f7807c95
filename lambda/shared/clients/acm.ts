/** The shared ACM client (see ../clients.ts: a handler imports only the client modules it calls). */
import { ACMClient } from '@aws-sdk/client-acm';
import { sharedClient, traced } from '../clients';

export const acmClient = (): ACMClient => sharedClient('acm', () => traced(new ACMClient({})));
