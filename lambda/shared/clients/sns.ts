/** The shared SNS client (see ../clients.ts: a handler imports only the client modules it calls). */
import { SNSClient } from '@aws-sdk/client-sns';
import { sharedClient, traced } from '../clients';

export const snsClient = (): SNSClient => sharedClient('sns', () => traced(new SNSClient({})));
