/**
 * Checks EventBridge rule patterns: the pattern syntax EventBridge accepts (content filters and `$or`), the
 * event envelope's field names, and, for AWS sources, the detail-type values and `detail` field names
 * against the EventBridge schema registry's AWS event schemas as packaged in @aws-cdk/aws-service-spec.
 */
import type { EventProperties, GenericPropertyType, EventTypeDefinition } from '@aws-cdk/service-spec-types';
import { specDatabase } from './service-spec';
import { CloudFormationTemplate, Finding } from './template';

/** Top-level fields of every event (the envelope). */
const ENVELOPE_FIELDS = new Set([
  'version',
  'id',
  'detail-type',
  'source',
  'account',
  'time',
  'region',
  'resources',
  'detail',
]);

const NUMERIC_OPERATORS = new Set(['<', '<=', '=', '>=', '>']);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A deploy-time value (`Ref`, `Fn::*`): it stands in for a literal string. */
function isIntrinsic(value: unknown): boolean {
  return (
    isObject(value) &&
    Object.keys(value).length === 1 &&
    (Object.keys(value)[0] === 'Ref' || Object.keys(value)[0].startsWith('Fn::'))
  );
}

function isStringLike(value: unknown): boolean {
  return typeof value === 'string' || isIntrinsic(value);
}

/** Findings for one element of a leaf's list of values: a literal or one content-filter operator. */
function matcherFindings(where: string, matcher: unknown): Finding[] {
  if (matcher === null || typeof matcher === 'number' || typeof matcher === 'boolean' || isStringLike(matcher))
    return [];
  if (!isObject(matcher) || Object.keys(matcher).length !== 1)
    return [`${where}: ${JSON.stringify(matcher)} is neither a value nor one content filter`];
  const [[operator, operand]] = Object.entries(matcher);
  const ignoringCase = (value: unknown): boolean =>
    isObject(value) && Object.keys(value).length === 1 && isStringLike(value['equals-ignore-case']);
  switch (operator) {
    case 'prefix':
    case 'suffix':
      return isStringLike(operand) || ignoringCase(operand) ? [] : [`${where}: ${operator} takes a string`];
    case 'equals-ignore-case':
    case 'wildcard':
    case 'cidr':
      return isStringLike(operand) ? [] : [`${where}: ${operator} takes a string`];
    case 'exists':
      return typeof operand === 'boolean' ? [] : [`${where}: exists takes true or false`];
    case 'numeric': {
      const valid =
        Array.isArray(operand) &&
        operand.length > 0 &&
        operand.length % 2 === 0 &&
        operand.every((item, index) =>
          index % 2 === 0 ? NUMERIC_OPERATORS.has(item as string) : typeof item === 'number',
        );
      return valid ? [] : [`${where}: numeric takes [operator, number, ...]`];
    }
    case 'anything-but': {
      if (Array.isArray(operand))
        return operand.every((item) => typeof item === 'number' || isStringLike(item))
          ? []
          : [`${where}: anything-but list takes strings or numbers`];
      if (typeof operand === 'number' || isStringLike(operand)) return [];
      if (
        isObject(operand) &&
        Object.keys(operand).length === 1 &&
        ['prefix', 'suffix', 'equals-ignore-case', 'wildcard'].includes(Object.keys(operand)[0])
      ) {
        return matcherFindings(where, operand);
      }
      return [`${where}: anything-but takes a value, a list, or one of prefix, suffix, equals-ignore-case, wildcard`];
    }
    default:
      return [`${where}: unknown content filter ${operator}`];
  }
}

/** Findings for the syntax of a pattern (or a `$or` branch): objects nest, leaves are non-empty lists. */
function syntaxFindings(where: string, pattern: unknown): Finding[] {
  if (!isObject(pattern)) return [`${where}: expected an object`];
  return Object.entries(pattern).flatMap(([key, value]): Finding[] => {
    const path = `${where}.${key}`;
    if (key === '$or') {
      return Array.isArray(value) && value.length >= 2
        ? value.flatMap((branch, index) => syntaxFindings(`${path}[${index}]`, branch))
        : [`${path}: $or takes a list of at least two patterns`];
    }
    if (Array.isArray(value))
      return value.length === 0
        ? [`${path}: an empty list matches nothing`]
        : value.flatMap((matcher) => matcherFindings(path, matcher));
    if (isObject(value) && !isIntrinsic(value)) return syntaxFindings(path, value);
    return [`${path}: a field's values must be a list`];
  });
}

/** Field names used under `detail` (at every depth), looking through `$or`. */
function detailFieldFindings(where: string, pattern: Record<string, unknown>, properties: EventProperties): Finding[] {
  return Object.entries(pattern).flatMap(([key, value]): Finding[] => {
    if (key === '$or' && Array.isArray(value))
      return value.filter(isObject).flatMap((branch) => detailFieldFindings(where, branch, properties));
    const property = properties[key];
    if (property === undefined) return [`${where}.${key}: not a field of the event's detail`];
    if (!isObject(value) || isIntrinsic(value)) return [];
    const nested = nestedProperties(property.type);
    return nested === undefined
      ? [`${where}.${key}: the event's ${key} has no fields`]
      : detailFieldFindings(`${where}.${key}`, value, nested);
  });
}

function nestedProperties(type: GenericPropertyType<EventTypeDefinition>): EventProperties | undefined {
  if (type.type === 'ref') return specDatabase().get('eventTypeDefinition', type.reference).properties;
  if (type.type === 'array') return nestedProperties(type.element);
  return undefined;
}

/**
 * Events AWS documents but the packaged schema registry lacks (its aws.ssm has only "Calendar State Change"),
 * each with its documented detail fields and where they are documented. Checked like a schema's top level.
 */
export const DOCUMENTED_EVENTS: readonly {
  source: string;
  detailType: string;
  detail: string[];
  documentedIn: string;
}[] = [
  {
    source: 'aws.ssm',
    detailType: 'EC2 Command Status-change Notification',
    detail: ['command-id', 'document-name', 'expire-after', 'parameters', 'requested-date-time', 'status'],
    documentedIn:
      'AWS Systems Manager User Guide, "Amazon EventBridge event examples for Systems Manager", Run Command events',
  },
];

/** Findings for one pattern: syntax, envelope fields, and detail-type/detail against the source's schemas. */
export function eventPatternFindings(where: string, pattern: Record<string, unknown>): Finding[] {
  const findings = syntaxFindings(where, pattern);
  for (const key of Object.keys(pattern))
    if (key !== '$or' && !ENVELOPE_FIELDS.has(key)) findings.push(`${where}.${key}: not a field of the event envelope`);

  const sources = Array.isArray(pattern.source)
    ? pattern.source.filter((source): source is string => typeof source === 'string')
    : [];
  const awsSources = sources.filter((source) => source.startsWith('aws.'));
  if (awsSources.length === 0) return findings;
  const events = specDatabase()
    .all('event')
    .filter((event) => awsSources.includes(event.source));
  for (const source of awsSources) {
    if (!events.some((event) => event.source === source))
      findings.push(`${where}.source: no published event schema for ${source}`);
  }
  const detailTypes = Array.isArray(pattern['detail-type'])
    ? pattern['detail-type'].filter((value): value is string => typeof value === 'string')
    : [];
  const matched = detailTypes.length > 0 ? events.filter((event) => detailTypes.includes(event.detailType)) : events;
  for (const detailType of detailTypes) {
    const documented = DOCUMENTED_EVENTS.find((d) => awsSources.includes(d.source) && d.detailType === detailType);
    if (documented) {
      const detail = isObject(pattern.detail) ? Object.keys(pattern.detail) : [];
      for (const name of detail.filter((field) => !documented.detail.includes(field)))
        findings.push(`${where}.detail.${name}: not a documented field of "${detailType}"`);
      continue;
    }
    if (!events.some((event) => event.detailType === detailType))
      findings.push(`${where}.detail-type: ${sources.join(', ')} publishes no "${detailType}" event`);
  }
  if (isObject(pattern.detail) && matched.length > 0) {
    // A field is fine if any of the matched events has it; report the first event's findings otherwise.
    const perEvent = matched.map((event) =>
      detailFieldFindings(
        `${where}.detail`,
        pattern.detail as Record<string, unknown>,
        specDatabase().get('eventTypeDefinition', event.rootProperty).properties,
      ),
    );
    if (perEvent.every((eventFindings) => eventFindings.length > 0)) findings.push(...perEvent[0]);
  }
  return findings;
}

/** Findings for every `AWS::Events::Rule` with an event pattern. */
export function rulePatternFindings(template: CloudFormationTemplate): Finding[] {
  return Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::Events::Rule' && isObject(resource.Properties?.EventPattern))
    .flatMap(([id, resource]) =>
      eventPatternFindings(id, resource.Properties?.EventPattern as Record<string, unknown>),
    );
}
