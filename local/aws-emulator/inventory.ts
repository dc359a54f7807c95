/**
 * Emulated SSM Inventory for custom types: what each node's custom inventory files hold (the install
 * script writes `AcmExportCertificate.json` = `{SchemaVersion, TypeName: 'Custom:AcmExportCertificate',
 * Content: [...]}`), collected after every run on the node and when it registers (the real SSM Agent
 * uploads them at its inventory collection interval; local mode collects right away), and served by
 * GetInventory with the service's filter, result-attribute and pagination rules.
 */
import { AwsServiceError } from './errors';
import { Input, paginate, type JsonObject } from './input';
import type { CustomInventoryItem, NodeExecutor } from './managed-nodes';

interface StoredItem {
  typeName: string;
  schemaVersion: string;
  captureTime: string;
  content: Record<string, string>[];
}

const FILTER_TYPES = new Set(['Equal', 'NotEqual', 'BeginWith', 'LessThan', 'GreaterThan', 'Exists']);

function validItem(item: unknown): item is CustomInventoryItem {
  if (!item || typeof item !== 'object') return false;
  const i = item as Record<string, unknown>;
  return (
    typeof i.TypeName === 'string' &&
    /^Custom:[A-Za-z0-9_.-]{1,100}$/.test(i.TypeName) &&
    typeof i.SchemaVersion === 'string' &&
    Array.isArray(i.Content) &&
    i.Content.length <= 10_000 &&
    i.Content.every(
      (c) =>
        c &&
        typeof c === 'object' &&
        !Array.isArray(c) &&
        Object.values(c as object).every((v) => typeof v === 'string'),
    )
  );
}

export class InventoryStore {
  /** instanceId → TypeName → item */
  private readonly items = new Map<string, Map<string, StoredItem>>();
  /** Items refused at collection (wrong shape), for tests and diagnostics. */
  readonly rejected: { instanceId: string; reason: string }[] = [];

  /** Reads the node's custom inventory files and replaces what was stored for each type. */
  collect(instanceId: string, executor: NodeExecutor): void {
    let found: CustomInventoryItem[] | undefined;
    try {
      found = executor.collectInventory?.();
    } catch (error) {
      this.rejected.push({ instanceId, reason: error instanceof Error ? error.message : String(error) });
      return;
    }
    if (!found) return;
    const byType = this.items.get(instanceId) ?? new Map<string, StoredItem>();
    const captureTime = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    for (const item of found) {
      if (!validItem(item)) {
        this.rejected.push({
          instanceId,
          reason: 'not a custom inventory item ({SchemaVersion, TypeName: Custom:..., Content: [string maps]})',
        });
        continue;
      }
      byType.set(item.TypeName, {
        typeName: item.TypeName,
        schemaVersion: item.SchemaVersion,
        captureTime,
        content: item.Content.map((c) => ({ ...c })),
      });
    }
    this.items.set(instanceId, byType);
  }

  forget(instanceId: string): void {
    this.items.delete(instanceId);
  }

  /** What is stored for one node and type (tests). */
  item(instanceId: string, typeName: string): { captureTime: string; content: Record<string, string>[] } | undefined {
    const item = this.items.get(instanceId)?.get(typeName);
    return item ? { captureTime: item.captureTime, content: item.content.map((c) => ({ ...c })) } : undefined;
  }

  getInventory(input: Input): JsonObject {
    if (input.has('Aggregators'))
      throw new AwsServiceError('InvalidAggregatorException', 'Aggregators are not supported by the local emulator.');
    const filters = (input.optList('Filters') ?? []).map((f) => {
      const key = String(f.Key ?? '');
      const values = Array.isArray(f.Values) ? (f.Values as unknown[]).map(String) : [];
      const type = f.Type === undefined ? 'Equal' : String(f.Type);
      if (!/^[A-Za-z0-9_:.-]{1,200}$/.test(key) || !key.includes('.'))
        throw new AwsServiceError('InvalidFilter', `The filter key ${key.slice(0, 80)} is not valid.`);
      if (!FILTER_TYPES.has(type))
        throw new AwsServiceError('InvalidFilter', `The filter type ${type.slice(0, 20)} is not valid.`);
      if (type !== 'Exists' && (values.length < 1 || values.length > 40))
        throw new AwsServiceError('InvalidFilterValue', 'Filter values: Member must have length between 1 and 40');
      const dot = key.lastIndexOf('.');
      return { typeName: key.slice(0, dot), attribute: key.slice(dot + 1), values, type };
    });
    if (filters.length > 5)
      throw new AwsServiceError('ValidationException', 'Filters: Member must have length less than or equal to 5');
    const resultTypes = (input.optList('ResultAttributes') ?? []).map((r) => String(r.TypeName ?? ''));
    for (const t of resultTypes)
      if (!/^(AWS|Custom):[A-Za-z0-9_.-]{1,100}$/.test(t))
        throw new AwsServiceError(
          'InvalidResultAttributeException',
          `The result attribute ${t.slice(0, 80)} is not valid.`,
        );
    const maxResults = input.optNumber('MaxResults');

    const matches = (byType: Map<string, StoredItem>, f: (typeof filters)[number]): boolean => {
      const item = byType.get(f.typeName);
      const values = (item?.content ?? []).map((c) => c[f.attribute]).filter((v): v is string => v !== undefined);
      switch (f.type) {
        case 'Exists':
          return values.length > 0;
        case 'Equal':
          return values.some((v) => f.values.includes(v));
        case 'NotEqual':
          return values.length > 0 && values.every((v) => !f.values.includes(v));
        case 'BeginWith':
          return values.some((v) => f.values.some((p) => v.startsWith(p)));
        case 'LessThan':
          return values.some((v) => f.values.some((x) => Number(v) < Number(x)));
        default:
          return values.some((v) => f.values.some((x) => Number(v) > Number(x)));
      }
    };
    const entities = [...this.items.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .filter(([, byType]) => filters.every((f) => matches(byType, f)))
      .map(([id, byType]) => {
        const types = resultTypes.length ? resultTypes : [...byType.keys()];
        const data: JsonObject = {};
        for (const t of types) {
          const item = byType.get(t);
          if (item)
            data[t] = {
              TypeName: item.typeName,
              SchemaVersion: item.schemaVersion,
              CaptureTime: item.captureTime,
              Content: item.content.map((c) => ({ ...c })),
            };
        }
        return { Id: id, Data: data };
      })
      // With result attributes, a node without any of those types is not an entity of the result.
      .filter((e) => !resultTypes.length || Object.keys(e.Data).length > 0);
    const { page, nextToken } = paginate(entities, maxResults, input.optString('NextToken'), 50);
    return { Entities: page, ...(nextToken ? { NextToken: nextToken } : {}) };
  }
}
