/** The inventory table locally: dynalite with the table as the stack defines it, and its fault switches. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AwsEmulator } from './aws-emulator';
import { LOCAL_REGION } from './credentials';
import { failureFor } from './faults';
import type { LocalModeOptions } from './options';
import { LOCAL_TABLE_NAME } from './stack-resources';
import type { TableShape } from './template';
import type { Undo } from './undo';

/** dynalite (leveldb under the state dir, or in memory) with the inventory table as the stack defines it. */
export async function startDynamoDb(
  root: string,
  options: LocalModeOptions,
  table: TableShape,
  aws: AwsEmulator,
  undo: Undo,
): Promise<{ dynalite: Server; ddb: DynamoDBDocumentClient }> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const dynaliteFactory = require('dynalite') as (opts: {
    createTableMs: number;
    deleteTableMs: number;
    updateTableMs: number;
    path?: string;
  }) => Server;
  const dynalite = dynaliteFactory({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(options.stateDir ? { path: path.join(root, 'dynamodb') } : {}),
  });
  undo.push(() => closeDynalite(dynalite));
  const ddbPort = await listen(dynalite);
  const rawDdb = new DynamoDBClient({
    region: LOCAL_REGION,
    credentials: { ...aws.credentials },
    endpoint: `http://127.0.0.1:${ddbPort}`,
  });
  undo.push(() => rawDdb.destroy());
  armDynamoDbFaults(rawDdb, aws);
  await ensureTable(rawDdb, LOCAL_TABLE_NAME, table);
  return { dynalite, ddb: DynamoDBDocumentClient.from(rawDdb, { marshallOptions: { removeUndefinedValues: true } }) };
}

export function closeDynalite(dynalite: Server): Promise<void> {
  return new Promise<void>((resolve) => dynalite.close(() => resolve()));
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/**
 * The throttle and fail switches for the inventory's DynamoDB calls (`dynamodb:UpdateItem`, ...): dynalite
 * has none, so they act in the client, after its retry step (the SDK retries a throttle as it would
 * ProvisionedThroughputExceededException from DynamoDB).
 */
function armDynamoDbFaults(ddb: DynamoDBClient, aws: AwsEmulator): void {
  ddb.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = String(context.commandName ?? '').replace(/Command$/, '');
      if (aws.throttles.take('dynamodb', operation)) {
        throw Object.assign(
          new Error('The level of configured provisioned throughput for the table was exceeded (local fault switch).'),
          {
            name: 'ProvisionedThroughputExceededException',
            $fault: 'client',
            $metadata: { httpStatusCode: 400 },
          },
        );
      }
      if (aws.failures.take('dynamodb', operation)) {
        const f = failureFor('dynamodb');
        throw Object.assign(new Error(f.message), {
          name: f.type,
          $fault: 'client',
          $metadata: { httpStatusCode: f.statusCode },
        });
      }
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'localFaultSwitches' },
  );
}

async function ensureTable(ddb: DynamoDBClient, tableName: string, shape: TableShape): Promise<void> {
  try {
    await ddb.send(new DescribeTableCommand({ TableName: tableName }));
    return;
  } catch (error) {
    if (!(error instanceof Error) || error.name !== 'ResourceNotFoundException') throw error;
  }
  await ddb.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: shape.KeySchema,
      AttributeDefinitions: shape.AttributeDefinitions,
      ...(shape.GlobalSecondaryIndexes.length ? { GlobalSecondaryIndexes: shape.GlobalSecondaryIndexes } : {}),
    }),
  );
}
