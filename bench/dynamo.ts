/** An in-process dynalite with the stack's inventory table, and read-cost capture for DynamoDB calls. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { builtStack, inventoryTableInput } from './stack';

export interface ReadCost {
  calls: number;
  /** Items DynamoDB examined (ScannedCount). */
  scanned: number;
  /** Items returned (Count). */
  returned: number;
  /** Read capacity units, when the server reports ConsumedCapacity. */
  capacityUnits?: number;
}

export interface LocalTable {
  ddb: DynamoDBDocumentClient;
  tableName: string;
  /** Read costs of every Query/Scan since the last reset. */
  cost: ReadCost;
  resetCost(): void;
  stop(): Promise<void>;
}

interface ReadOutput {
  Count?: number;
  ScannedCount?: number;
  ConsumedCapacity?: { CapacityUnits?: number };
}

export async function startInventoryTable(tableName = 'AcmExportInventory'): Promise<LocalTable> {
  // dynalite ships no type declarations.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const dynalite = require('dynalite') as (opts: { createTableMs: number }) => Server;
  const server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const raw = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    maxAttempts: 1,
  });
  await raw.send(new CreateTableCommand(inventoryTableInput(builtStack().template, tableName)));
  const table: LocalTable = {
    ddb: DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } }),
    tableName,
    cost: { calls: 0, scanned: 0, returned: 0 },
    resetCost() {
      table.cost = { calls: 0, scanned: 0, returned: 0 };
    },
    async stop() {
      raw.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  // Ask every Query/Scan for its consumed capacity and add up what each one read.
  raw.middlewareStack.add(
    (next, context) => async (args) => {
      const op = context.commandName ?? '';
      const reads = op === 'QueryCommand' || op === 'ScanCommand';
      if (reads) (args.input as Record<string, unknown>).ReturnConsumedCapacity = 'TOTAL';
      const result = await next(args);
      if (reads) {
        const out = result.output as ReadOutput;
        const c = table.cost;
        c.calls++;
        c.scanned += out.ScannedCount ?? 0;
        c.returned += out.Count ?? 0;
        const units = out.ConsumedCapacity?.CapacityUnits;
        if (units !== undefined) c.capacityUnits = (c.capacityUnits ?? 0) + units;
      }
      return result;
    },
    { step: 'initialize', name: 'benchReadCost' },
  );
  return table;
}
