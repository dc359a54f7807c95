/**
 * 1. Renewal lookup: which targets does a renewed certificate go to? Ours: the inventory's Query on the
 * partition key (lambda/shared/inventory.ts targetsOfCertificate). Baseline: a full-table Scan with a prefix
 * FilterExpression on the certificate ARN, following LastEvaluatedKey.
 */
import { randomUUID } from 'node:crypto';
import { BatchWriteCommand, ScanCommand, type ScanCommandOutput } from '@aws-sdk/lib-dynamodb';
import { INVENTORY, targetKey, type InventoryItem } from '../lambda/shared/contract';
import { storedOptions } from '../lambda/shared/fields';
import { targetsOfCertificate } from '../lambda/shared/inventory';
import { RENEWAL_START_CONCURRENCY, renew, type RenewDeps } from '../lambda/acm-renew/acm-renew';
import { startInventoryTable, type LocalTable, type ReadCost } from './dynamo';
import { row, type BenchRow } from './report';
import { median, timeRuns } from './stats';
import type { ACMClient } from '@aws-sdk/client-acm';
import type { SFNClient } from '@aws-sdk/client-sfn';

const SECTION = 'renewal';
const TARGETS_OF_RENEWED = 3;
/** Targets of the certificate in the fan-out rows, and the StartExecution round trip they stand in for. */
const FAN_OUT_TARGETS = 50;
const START_EXECUTION_MS = 25;

function certificateArn(): string {
  return `arn:aws:acm:us-east-1:111111111111:certificate/${randomUUID()}`;
}

/** A full inventory item, sized like a real one. */
export function inventoryItem(arn: string, index: number, tagValue: string): InventoryItem {
  const day = (index % 365) + 1;
  const expiry = new Date(Date.UTC(2027, 0, day)).toISOString();
  return {
    certificateArn: arn,
    target: targetKey('Role', tagValue),
    itemType: INVENTORY.itemTypeValue,
    ...storedOptions({
      CertName: `site-${index}`,
      TargetTagKey: 'Role',
      TargetTagValue: tagValue,
      Service: 'nginx',
      VerifyPort: 443,
    }),
    certExpiryDate: expiry,
    lastExportedDate: '2026-11-01T10:00:00.000Z',
    lastExportStartedAt: '2026-11-01T09:59:58.000Z',
    lastSerial: '0a:1b:2c:3d:4e:5f:60:71:82:93:a4:b5:c6:d7:e8:f9',
    lastSecretArn: `arn:aws:secretsmanager:us-east-1:111111111111:secret:acm-export/site-${index}-AbCdEf`,
    lastSecretVersionId: randomUUID(),
    lastExecutionArn: `arn:aws:states:us-east-1:111111111111:execution:AcmExportWorkflow:${randomUUID()}`,
    lastDeployStatus: 'Succeeded',
    lastDeployedDate: '2026-11-01T10:01:12.000Z',
  };
}

/** Items for other certificates (1 to 3 targets each), `count` in all. */
function fillerItems(count: number, offset: number): InventoryItem[] {
  const items: InventoryItem[] = [];
  let arn = certificateArn();
  for (let i = 0; items.length < count; i++) {
    const n = offset + i;
    if (n % 3 === 0 || (n * 7) % 5 === 0) arn = certificateArn();
    items.push(inventoryItem(arn, n, `fleet-${n % 500}`));
  }
  return items;
}

async function writeAll(table: LocalTable, items: InventoryItem[], inFlight = 4): Promise<void> {
  const batches: InventoryItem[][] = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let b = next++; b < batches.length; b = next++) {
      let requests = batches[b].map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt > 10) throw new Error('BatchWrite kept returning unprocessed items');
        const out = await table.ddb.send(new BatchWriteCommand({ RequestItems: { [table.tableName]: requests } }));
        requests = (out.UnprocessedItems?.[table.tableName] ?? []) as typeof requests;
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, () => worker()));
}

/** The baseline lookup: Scan the whole table, keep items whose certificate ARN starts with `arn`. */
export async function scanForCertificate(table: LocalTable, arn: string): Promise<InventoryItem[]> {
  const items: InventoryItem[] = [];
  let startKey: Record<string, unknown> | undefined;
  let pages = 0;
  do {
    if (++pages > 100_000) throw new Error('Scan did not end');
    const page: ScanCommandOutput = await table.ddb.send(
      new ScanCommand({
        TableName: table.tableName,
        FilterExpression: 'begins_with(#arn, :arn)',
        ExpressionAttributeNames: { '#arn': INVENTORY.partitionKey },
        ExpressionAttributeValues: { ':arn': arn },
        ExclusiveStartKey: startKey,
      }),
    );
    items.push(...((page.Items ?? []) as InventoryItem[]));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

async function measure(
  table: LocalTable,
  runs: number,
  lookup: () => Promise<InventoryItem[]>,
): Promise<{ ms: number; cost: ReadCost; found: number }> {
  table.resetCost();
  const found = (await lookup()).length;
  const cost = { ...table.cost };
  const times = await timeRuns(runs, lookup, 0);
  return { ms: median(times), cost, found };
}

export interface RenewalOptions {
  sizes: number[];
  runs: number;
}

export async function benchRenewal(options: RenewalOptions, notes: string[]): Promise<BenchRow[]> {
  const table = await startInventoryTable();
  const rows: BenchRow[] = [];
  const growth: { size: number; ours: number; baseline: number }[] = [];
  try {
    const target = certificateArn();
    let stored = 0;
    for (const size of [...options.sizes].sort((a, b) => a - b)) {
      const fresh = size - stored - (stored === 0 ? TARGETS_OF_RENEWED : 0);
      const items = fillerItems(fresh, stored);
      if (stored === 0) {
        // The renewed certificate's targets sit in the middle of the first batch.
        const mid = Math.floor(items.length / 2);
        items.splice(
          mid,
          0,
          ...Array.from({ length: TARGETS_OF_RENEWED }, (_, i) => inventoryItem(target, 1_000_000 + i, `web-${i}`)),
        );
      }
      const startWrite = Date.now();
      await writeAll(table, items);
      stored = size;
      const writeSeconds = (Date.now() - startWrite) / 1000;
      const deps = { ddb: table.ddb, tableName: table.tableName };
      const ours = await measure(table, options.runs, () => targetsOfCertificate(deps, target));
      const base = await measure(table, options.runs, () => scanForCertificate(table, target));
      if (ours.found !== TARGETS_OF_RENEWED || base.found !== TARGETS_OF_RENEWED) {
        throw new Error(
          `lookup found ${ours.found} (Query) and ${base.found} (Scan) targets, expected ${TARGETS_OF_RENEWED}`,
        );
      }
      const label = `${size.toLocaleString('en-US')} items`;
      rows.push(row(SECTION, `renewal lookup time, ${label}`, 'ms', ours.ms, base.ms, `median of ${options.runs}`));
      rows.push(
        row(
          SECTION,
          `renewal lookup items read, ${label}`,
          'items',
          ours.cost.scanned,
          base.cost.scanned,
          `${ours.cost.calls} vs ${base.cost.calls} requests`,
        ),
      );
      if (ours.cost.capacityUnits !== undefined && base.cost.capacityUnits !== undefined) {
        rows.push(
          row(
            SECTION,
            `renewal lookup read capacity, ${label}`,
            'RCU',
            ours.cost.capacityUnits,
            base.cost.capacityUnits,
          ),
        );
      }
      growth.push({ size, ours: ours.ms, baseline: base.ms });
      notes.push(
        `${label}: loaded in ${writeSeconds.toFixed(1)} s (BatchWrite); both lookups returned the ${TARGETS_OF_RENEWED} targets.`,
      );
    }
    if (growth.length > 1) {
      const a = growth[0];
      const b = growth[growth.length - 1];
      notes.push(
        `Growth ${a.size.toLocaleString('en-US')} → ${b.size.toLocaleString('en-US')} items (${(b.size / a.size).toFixed(0)}x): ` +
          `Query time x${(b.ours / a.ours).toFixed(2)}, Scan time x${(b.baseline / a.baseline).toFixed(1)}. ` +
          "Query reads only the certificate's items whatever the table size; Scan reads every item.",
      );
    }
    notes.push(
      'Baseline: Scan + FilterExpression begins_with(certificateArn, :arn), all pages. The blog sample scans with a begins_with filter too, but reads only the first page (up to 1 MB), so past ~1 MB of inventory it can miss targets.',
    );
    notes.push(
      'dynalite reports ConsumedCapacity from item sizes like DynamoDB (eventually consistent reads, 4 KB units); its times are for an in-process emulator, not DynamoDB latency.',
    );
  } finally {
    await table.stop();
  }
  return rows;
}

/**
 * The renewal function's fan-out: the real `renew` over a certificate with FAN_OUT_TARGETS targets in the
 * local inventory, against a Step Functions client that answers StartExecution after START_EXECUTION_MS
 * (a stand-in for the service's round trip; ACM answers at once). Ours starts RENEWAL_START_CONCURRENCY at
 * a time; the baseline starts them one after another, as this function did before.
 */
export async function benchRenewalFanOut(runs: number, notes: string[]): Promise<BenchRow[]> {
  const table = await startInventoryTable('FanOutInventory');
  try {
    const arn = certificateArn();
    await writeAll(
      table,
      Array.from({ length: FAN_OUT_TARGETS }, (_, i) => inventoryItem(arn, i, `web-${i}`)),
    );
    const sfn = {
      send: async (command: { input: { name?: string } }) => {
        await new Promise((resolve) => setTimeout(resolve, START_EXECUTION_MS));
        return {
          executionArn: `arn:aws:states:us-east-1:111111111111:execution:AcmExportWorkflow:${command.input.name}`,
        };
      },
    } as unknown as SFNClient;
    const acm = {
      send: async (command: { constructor: { name: string } }) =>
        command.constructor.name === 'ListTagsForCertificateCommand'
          ? { Tags: [{ Key: 'acm-export:exportable', Value: 'true' }] }
          : {
              Certificate: {
                CertificateArn: arn,
                DomainName: 'www.example.com',
                Status: 'ISSUED',
                Type: 'AMAZON_ISSUED',
                Options: { Export: 'ENABLED' },
                NotAfter: new Date('2027-06-01T00:00:00Z'),
              },
            },
    } as unknown as ACMClient;
    const deps = (startConcurrency: number): RenewDeps => ({
      ddb: table.ddb,
      tableName: table.tableName,
      acm,
      sfn,
      stateMachineArn: 'arn:aws:states:us-east-1:111111111111:stateMachine:AcmExportWorkflow',
      exportOptIn: { anyCertificate: false, tagKey: 'acm-export:exportable', tagValue: 'true' },
      startConcurrency,
    });
    let eventNumber = 0;
    const renewOnce = (startConcurrency: number) => async (): Promise<void> => {
      const event = {
        id: `fan-out-${eventNumber++}`,
        'detail-type': 'ACM Certificate Available',
        source: 'aws.acm' as const,
        resources: [arn],
        detail: { Action: 'RENEWAL' },
      };
      const result = await renew(
        event,
        { partition: 'aws', region: 'us-east-1', account: '111111111111' },
        deps(startConcurrency),
      );
      if (result.started !== FAN_OUT_TARGETS)
        throw new Error(`renewal started ${result.started} executions, expected ${FAN_OUT_TARGETS}`);
    };
    const ours = median(await timeRuns(runs, renewOnce(RENEWAL_START_CONCURRENCY), 1));
    const baseline = median(await timeRuns(runs, renewOnce(1), 1));
    notes.push(
      `Renewal fan-out: the real renew() over ${FAN_OUT_TARGETS} targets in dynalite; StartExecution answers after ${START_EXECUTION_MS} ms (a stand-in for the service round trip). Ours keeps ${RENEWAL_START_CONCURRENCY} starts in flight; the baseline starts them one after another, as this function did before.`,
    );
    return [
      row(
        SECTION,
        `renewal fan-out, ${FAN_OUT_TARGETS} targets, StartExecution ${START_EXECUTION_MS} ms each`,
        'ms',
        ours,
        baseline,
        `median of ${runs}`,
      ),
    ];
  } finally {
    await table.stop();
  }
}
