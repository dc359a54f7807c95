/**
 * The structural model of the `POST /exports` body, shared by the API Gateway request model (CDK), the local
 * API and its tests. It only says "a JSON object with these fields of these JSON types, these required, no
 * others": no patterns and no lengths. The value rules are checked by zod in the export-api function, which
 * names the field and the rule (API Gateway's own validation message cannot be used: it echoes the rejected
 * value). The property list is derived from the zod schema, so the two cannot drift apart.
 */
import type { z } from 'zod';
import { RETIRED_FIELDS } from '../shared/patterns';
import { exportRequestSchema } from '../shared/schemas';

export type StructuralType = 'string' | 'integer' | 'number' | 'boolean';

/** A JSON schema (draft 4 subset) with one level of typed properties. */
export interface StructuralSchema {
  readonly type: 'object';
  readonly additionalProperties: false;
  readonly required: readonly string[];
  readonly properties: Readonly<Record<string, { readonly type: StructuralType }>>;
}

interface ZodIntrospection {
  def: { type: string; innerType?: ZodIntrospection };
  format?: string | null;
}

/** JSON type of one zod field (optional wrappers removed). */
function jsonType(name: string, schema: ZodIntrospection): StructuralType {
  const inner = schema.def.type === 'optional' && schema.def.innerType ? schema.def.innerType : schema;
  switch (inner.def.type) {
    case 'string':
    case 'enum':
      return 'string';
    case 'boolean':
      return 'boolean';
    case 'number':
      return inner.format === 'safeint' || inner.format === 'int32' ? 'integer' : 'number';
    default:
      throw new Error(`${name}: no JSON type for zod type ${inner.def.type}`);
  }
}

/** The structural model of an export request, built from {@link exportRequestSchema}'s shape. */
export function exportRequestStructure(): StructuralSchema {
  const shape = exportRequestSchema().shape as Record<string, z.ZodType>;
  const properties: Record<string, { type: StructuralType }> = {};
  const required: string[] = [];
  for (const [name, schema] of Object.entries(shape)) {
    properties[name] = { type: jsonType(name, schema as unknown as ZodIntrospection) };
    if (!schema.safeParse(undefined).success) required.push(name);
  }
  // Let retired fields through to the function, which refuses them with what replaced them.
  for (const name of Object.keys(RETIRED_FIELDS)) properties[name] = { type: 'string' };
  return { type: 'object', additionalProperties: false, required, properties };
}

function listNames(names: string[]): string {
  return names.join(', ');
}

/**
 * The one message for any body that fails the structural model (API Gateway's BAD_REQUEST_BODY response
 * and the local API alike). It names every field and its JSON type and never repeats anything sent.
 * Plain ASCII without quotes or backslashes, so it can be embedded in a JSON string as is.
 */
export function structuralErrorMessage(structure: StructuralSchema = exportRequestStructure()): string {
  const optional = Object.keys(structure.properties).filter(
    (name) => !structure.required.includes(name) && !Object.hasOwn(RETIRED_FIELDS, name),
  );
  const byType = (type: StructuralType) => optional.filter((name) => structure.properties[name].type === type);
  const groups = (['string', 'integer', 'number', 'boolean'] as const)
    .map((type) => [type, byType(type)] as const)
    .filter(([, names]) => names.length > 0)
    .map(([type, names]) => `${type} ${listNames(names)}`);
  const requiredTypes = new Set(structure.required.map((name) => structure.properties[name].type));
  const requiredPart =
    requiredTypes.size === 1
      ? `${[...requiredTypes][0]} fields ${listNames([...structure.required])}`
      : `fields ${listNames(structure.required.map((name) => `${name} (${structure.properties[name].type})`))}`;
  return (
    `request body must be a JSON object with the required ${requiredPart}, ` +
    `optional fields (${groups.join('; ')}), and no other fields: unknown fields and wrong types are rejected`
  );
}

const hasOwn = (object: object, key: string): boolean => Object.prototype.hasOwnProperty.call(object, key);

function hasType(value: unknown, type: StructuralType): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'boolean':
      return typeof value === 'boolean';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
  }
}

/**
 * Whether a parsed JSON value satisfies the structural model, as API Gateway's model validation decides it:
 * an object (not an array or null), every required field present, only known fields, each of its type.
 */
export function matchesStructure(value: unknown, structure: StructuralSchema = exportRequestStructure()): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const record = value as Record<string, unknown>;
  for (const name of structure.required) if (!hasOwn(record, name)) return false;
  for (const key of Object.keys(record)) {
    if (!hasOwn(structure.properties, key)) return false;
    if (!hasType(record[key], structure.properties[key].type)) return false;
  }
  return true;
}
