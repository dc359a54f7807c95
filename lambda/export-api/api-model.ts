/**
 * The structural model of the `POST /exports` body, shared by the API Gateway request model (CDK), the local
 * API and its tests. It only says "a JSON object with these fields of these JSON types, these required, no
 * others": no patterns and no lengths. The value rules are checked by zod in the export-api function, which
 * names the field and the rule (API Gateway's own validation message cannot be used: it echoes the rejected
 * value). The property list comes from the field registry (lambda/shared/fields.ts), as the zod schema's does.
 */
import { FIELDS, Registry, apiStructure } from '../shared/fields';
import { RETIRED_FIELDS } from '../shared/patterns';

export type StructuralType = 'string' | 'integer' | 'number' | 'boolean';

/** A JSON schema (draft 4 subset) with one level of typed properties. */
export interface StructuralSchema {
  readonly type: 'object';
  readonly additionalProperties: false;
  readonly required: readonly string[];
  readonly properties: Readonly<Record<string, { readonly type: StructuralType }>>;
}

/** The structural model of an export request, built from the field registry's API fields. */
export function exportRequestStructure(registry: Registry = FIELDS): StructuralSchema {
  const { properties, required } = apiStructure(registry);
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
