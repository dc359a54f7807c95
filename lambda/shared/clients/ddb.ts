/** The shared DynamoDB document client (see ../clients.ts: a handler imports only the client modules it calls). */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { sharedClient, traced } from '../clients';

export const ddbClient = (): DynamoDBDocumentClient =>
  sharedClient('ddb', () =>
    DynamoDBDocumentClient.from(traced(new DynamoDBClient({})), { marshallOptions: { removeUndefinedValues: true } }),
  );
