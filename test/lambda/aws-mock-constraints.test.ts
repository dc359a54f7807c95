/** The Lambda tests' SDK mocks fail a test whose code sent a request AWS would reject (see mockAwsClient). */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetInventoryCommand, SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { requestsAwsWouldReject } from './support';

const ssm = mockClient(SSMClient);
const sm = mockClient(SecretsManagerClient);
const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const ddbMock = mockClient(ddb);

beforeEach(() => {
  ssm.reset();
  sm.reset();
  ddbMock.reset();
});

test('a GetInventory MaxResults above 50 is reported; 50 is not', async () => {
  const client = new SSMClient({ region: 'us-east-1' });
  await client.send(new GetInventoryCommand({ MaxResults: 50 }));
  expect(requestsAwsWouldReject('SSMClient', ssm.calls())).toEqual([]);
  await client.send(new GetInventoryCommand({ MaxResults: 100 }));
  expect(requestsAwsWouldReject('SSMClient', ssm.calls())).toEqual([
    "GetInventory: 1 validation error detected: Value '100' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50",
  ]);
});

test('a missing required member is reported', async () => {
  await new SecretsManagerClient({ region: 'us-east-1' }).send(
    new GetSecretValueCommand({ VersionStage: 'AWSCURRENT' } as never),
  );
  expect(requestsAwsWouldReject('SecretsManagerClient', sm.calls())).toEqual([
    "GetSecretValue: 1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null",
  ]);
});

test('document client inputs are checked, their native attribute values are not', async () => {
  await ddb.send(
    new QueryCommand({
      TableName: 'Inventory',
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': 'x' },
      Limit: 10,
    }),
  );
  expect(requestsAwsWouldReject('DynamoDBDocumentClient', ddbMock.calls())).toEqual([]);
  await ddb.send(
    new QueryCommand({
      TableName: 'Inventory',
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': 'x' },
      Limit: 0,
    }),
  );
  expect(requestsAwsWouldReject('DynamoDBDocumentClient', ddbMock.calls().slice(1))).toEqual([
    "Query: 1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
  ]);
});

test('a client without constraints in the table is refused rather than silently unchecked', () => {
  expect(() => requestsAwsWouldReject('S3Client', [])).toThrow(/no AWS constraints for S3Client/);
});
