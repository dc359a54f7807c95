/**
 * Checks template resources against the CloudFormation registry schemas packaged in @aws-cdk/aws-service-spec:
 * the type exists, every property set is one the type has (nested ones too, where the value is literal),
 * required properties are present, and every `Fn::GetAtt` names an attribute the type returns.
 */
import type { PropertyType, Resource, ResourceProperties } from '@aws-cdk/service-spec-types';
import { specDatabase } from './service-spec';
import { CloudFormationTemplate, Finding } from './template';

function registryResource(type: string): Resource | undefined {
  return specDatabase().lookup('resource', 'cloudFormationType', 'equals', type)[0];
}

/** Keys a template's resource entry may have besides Type and Properties. */
const RESOURCE_ATTRIBUTES = new Set([
  'Type',
  'Properties',
  'DependsOn',
  'Metadata',
  'Condition',
  'DeletionPolicy',
  'UpdateReplacePolicy',
  'UpdatePolicy',
  'CreationPolicy',
]);

/** A `Ref`, `Fn::*` or `Condition` object: its value is only known at deploy time, so its shape is not checked. */
function isIntrinsic(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::') || keys[0] === 'Condition');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !isIntrinsic(value);
}

function propertiesFindings(where: string, value: Record<string, unknown>, schema: ResourceProperties): Finding[] {
  const findings: Finding[] = [];
  for (const [name, property] of Object.entries(schema)) {
    if (property.required && !(name in value)) findings.push(`${where}: missing required property ${name}`);
  }
  for (const [name, propertyValue] of Object.entries(value)) {
    const property = schema[name];
    if (property === undefined) findings.push(`${where}: unknown property ${name}`);
    else findings.push(...valueFindings(`${where}.${name}`, propertyValue, property.type));
  }
  return findings;
}

/** Findings for a value against a property type; values that are intrinsics or JSON are accepted as they are. */
function valueFindings(where: string, value: unknown, type: PropertyType): Finding[] {
  if (isIntrinsic(value)) return [];
  switch (type.type) {
    case 'ref': {
      if (!isPlainObject(value)) return [`${where}: expected an object`];
      const definition = specDatabase().get('typeDefinition', type.reference);
      return propertiesFindings(where, value, definition.properties);
    }
    case 'tag':
      return isPlainObject(value)
        ? propertiesFindings(where, value, {
            Key: { type: { type: 'string' }, required: true },
            Value: { type: { type: 'string' }, required: true },
          })
        : [`${where}: expected a tag`];
    case 'array':
      if (!Array.isArray(value)) return [`${where}: expected a list`];
      return value.flatMap((element, index) => valueFindings(`${where}[${index}]`, element, type.element));
    case 'map':
      if (!isPlainObject(value)) return [`${where}: expected a map`];
      return Object.entries(value).flatMap(([key, element]) => valueFindings(`${where}.${key}`, element, type.element));
    case 'union': {
      // Accepted if any alternative accepts it; otherwise report the closest alternative's findings.
      const alternatives = type.types.map((alternative) => valueFindings(where, value, alternative));
      return (
        alternatives.find((findings) => findings.length === 0) ??
        alternatives.reduce((best, next) => (next.length < best.length ? next : best))
      );
    }
    case 'string':
      if (typeof value !== 'string') return [`${where}: expected a string`];
      return type.allowedValues && !type.allowedValues.includes(value)
        ? [`${where}: ${value} is not one of ${type.allowedValues.join(', ')}`]
        : [];
    case 'boolean':
      return typeof value === 'boolean' || value === 'true' || value === 'false'
        ? []
        : [`${where}: expected a boolean`];
    case 'number':
    case 'integer':
      return typeof value === 'number' ||
        (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value)))
        ? []
        : [`${where}: expected a number`];
    default:
      return [];
  }
}

function getAttReferences(value: unknown, found: [string, string][] = []): [string, string][] {
  if (Array.isArray(value)) value.forEach((element) => getAttReferences(element, found));
  else if (typeof value === 'object' && value !== null) {
    const getAtt = (value as Record<string, unknown>)['Fn::GetAtt'];
    if (Array.isArray(getAtt) && typeof getAtt[0] === 'string' && typeof getAtt[1] === 'string')
      found.push([getAtt[0], getAtt[1]]);
    Object.values(value).forEach((child) => getAttReferences(child, found));
  }
  return found;
}

/** Findings for every resource of the template. */
export function resourceSchemaFindings(template: CloudFormationTemplate): Finding[] {
  const findings: Finding[] = [];
  for (const [id, entry] of Object.entries(template.Resources)) {
    for (const key of Object.keys(entry))
      if (!RESOURCE_ATTRIBUTES.has(key)) findings.push(`${id}: unknown resource attribute ${key}`);
    const resource = registryResource(entry.Type);
    if (resource === undefined) {
      findings.push(`${id}: unknown resource type ${entry.Type}`);
      continue;
    }
    findings.push(...propertiesFindings(`${id} (${entry.Type})`, entry.Properties ?? {}, resource.properties));
  }
  for (const [id, attribute] of getAttReferences(template)) {
    const resource = template.Resources[id] && registryResource(template.Resources[id].Type);
    if (resource === undefined) findings.push(`Fn::GetAtt ${id}.${attribute}: no such resource`);
    else if (!(attribute in resource.attributes))
      findings.push(`Fn::GetAtt ${id}.${attribute}: ${resource.cloudFormationType} has no attribute ${attribute}`);
  }
  return findings;
}
