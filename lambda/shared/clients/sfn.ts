/** The shared Step Functions client (see ../clients.ts: a handler imports only the client modules it calls). */
import { SFNClient } from '@aws-sdk/client-sfn';
import { sharedClient, traced } from '../clients';

export const sfnClient = (): SFNClient => sharedClient('sfn', () => traced(new SFNClient({})));
