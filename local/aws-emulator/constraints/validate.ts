/**
 * Checks a request against AWS's modeled input constraints (the generated table) the way AWS's JSON
 * services do before an operation runs, and renders the answer they give:
 * `1 validation error detected: Value '100' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50`.
 *
 * Strict where the model is: required members, length of strings (UTF-16 units), blobs (bytes), lists and
 * maps, value ranges, enums and patterns (Java regexes, matched whole as Java's `matches()` does).
 * Members the model does not know are ignored, as AWS ignores them.
 */
import { AwsServiceError } from '../errors';
import { AWS_CONSTRAINTS, type ConstraintTable, type ModelShape } from './table';

export interface ConstraintViolation {
  /** Wire path, lowerCamelCase, lists 1-based: `targets.1.member.values`. */
  path: string;
  /** `constraint` fails a modeled constraint (ValidationException); `type` is the wrong JSON type (SerializationException). */
  kind: 'constraint' | 'type';
  /** AWS's wording, e.g. `Member must have length less than or equal to 5`. */
  constraint: string;
  /** The value as AWS echoes it; `***` for sensitive members; undefined for null or values AWS would not print. */
  value?: string;
}

export interface ValidateOptions {
  /**
   * `wire` (default): the JSON body as sent (blobs base64, timestamps epoch seconds).
   * `sdk`: an SDK v3 command input (blobs Uint8Array, timestamps Date).
   */
  form?: 'wire' | 'sdk';
  /** DynamoDB document client input: AttributeValues are native values the client marshals, so they are not checked. */
  documentClient?: boolean;
}

interface Context {
  shapes: Record<string, ModelShape>;
  options: ValidateOptions;
  out: ConstraintViolation[];
}

const compiledPatterns = new Map<string, RegExp | undefined>();

/** Escapes JavaScript without the `u` flag reads as Java does; any other `\letter` means something else in one of them. */
const PORTABLE_LETTER_ESCAPES = new Set('dDwWsStnrfv'.split(''));

/**
 * The model's Java pattern as a whole-string JavaScript RegExp, or undefined when JavaScript cannot
 * express it faithfully (such a pattern is not checked; see {@link uncheckedPatterns}).
 */
export function compileJavaPattern(pattern: string): RegExp | undefined {
  if (compiledPatterns.has(pattern)) return compiledPatterns.get(pattern);
  let compiled: RegExp | undefined;
  // Java's \p{Alpha}, \p{Lower}... are ASCII POSIX classes; JavaScript knows some of those names as Unicode properties.
  const properties = [...pattern.matchAll(/\\[pP]\{(\w+)\}/g)].map((m) => m[1]);
  if (!properties.every((p) => /^([A-Z][a-z]?|ASCII)$/.test(p))) {
    compiledPatterns.set(pattern, undefined);
    return undefined;
  }
  try {
    compiled = new RegExp(`^(?:${pattern})$`, 'u');
  } catch {
    // Without `u`, unknown escapes silently become literals, so only fall back when every escape means the same in both.
    const letters = [...pattern.matchAll(/\\([a-zA-Z])/g)].map((m) => m[1]);
    if (letters.every((l) => PORTABLE_LETTER_ESCAPES.has(l)) && !pattern.includes('&&[')) {
      try {
        compiled = new RegExp(`^(?:${pattern})$`);
      } catch {
        compiled = undefined;
      }
    }
  }
  compiledPatterns.set(pattern, compiled);
  return compiled;
}

/** Every pattern in the table that is not checked because JavaScript cannot compile it faithfully. */
export function uncheckedPatterns(
  table: ConstraintTable = AWS_CONSTRAINTS,
): { service: string; shape: string; pattern: string }[] {
  const out: { service: string; shape: string; pattern: string }[] = [];
  for (const [service, constraints] of Object.entries(table.services)) {
    for (const [shape, s] of Object.entries(constraints.shapes))
      if (s.pattern !== undefined && !compileJavaPattern(s.pattern)) out.push({ service, shape, pattern: s.pattern });
  }
  return out;
}

/** The table's service for an X-Amz-Target prefix (`AmazonSSM` → `ssm`). */
export function serviceForTargetPrefix(
  targetPrefix: string,
  table: ConstraintTable = AWS_CONSTRAINTS,
): string | undefined {
  return Object.entries(table.source.services).find(([, s]) => s.targetPrefix === targetPrefix)?.[0];
}

/** The table's service for an SDK v3 client class name (`SSMClient` → `ssm`); v3 names clients after the model's serviceId. */
export function serviceForClientName(clientName: string, table: ConstraintTable = AWS_CONSTRAINTS): string | undefined {
  return Object.entries(table.source.services).find(
    ([, s]) => `${s.serviceId.replace(/\s+/g, '')}Client` === clientName,
  )?.[0];
}

export function validateRequest(
  service: string,
  operation: string,
  input: unknown,
  options: ValidateOptions = {},
  table: ConstraintTable = AWS_CONSTRAINTS,
): ConstraintViolation[] {
  const constraints = table.services[service];
  const inputShape = constraints?.operations[operation];
  if (!constraints || !inputShape)
    throw new Error(`no constraints for ${service}.${operation}: regenerate aws-constraints.json`);
  const ctx: Context = { shapes: constraints.shapes, options, out: [] };
  checkValue(ctx, inputShape, input ?? {}, '', false);
  return ctx.out;
}

function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function join(path: string, segment: string): string {
  return path ? `${path}.${segment}` : segment;
}

/** How AWS echoes a value (Java's toString of the deserialized value), or undefined when it would not be helpful. */
function render(value: unknown, sensitive: boolean): string | undefined {
  if (sensitive) return '***';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (
    Array.isArray(value) &&
    value.every((v) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
  )
    return `[${value.join(', ')}]`;
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array) &&
    !(value instanceof Date)
  );
}

function violate(
  ctx: Context,
  path: string,
  constraint: string,
  value: unknown,
  sensitive: boolean,
  kind: ConstraintViolation['kind'] = 'constraint',
): void {
  const rendered = render(value, sensitive);
  ctx.out.push({ path, kind, constraint, ...(rendered !== undefined ? { value: rendered } : {}) });
}

function checkLength(
  ctx: Context,
  shape: ModelShape,
  length: number,
  path: string,
  value: unknown,
  sensitive: boolean,
): void {
  if (shape.min !== undefined && length < shape.min)
    violate(ctx, path, `Member must have length greater than or equal to ${shape.min}`, value, sensitive);
  if (shape.max !== undefined && length > shape.max)
    violate(ctx, path, `Member must have length less than or equal to ${shape.max}`, value, sensitive);
}

function blobLength(ctx: Context, value: unknown): number | undefined {
  if (value instanceof Uint8Array) return value.byteLength;
  if (typeof value !== 'string') return undefined;
  // On the wire a blob is base64; an SDK input string is sent as its UTF-8 bytes.
  return ctx.options.form === 'sdk' ? Buffer.byteLength(value, 'utf8') : Buffer.from(value, 'base64').length;
}

function checkValue(ctx: Context, shapeName: string, value: unknown, path: string, sensitiveAbove: boolean): void {
  const shape = ctx.shapes[shapeName];
  if (!shape) throw new Error(`shape ${shapeName} is missing from the constraint table`);
  if (ctx.options.documentClient && shapeName === 'AttributeValue') return;
  const sensitive = sensitiveAbove || shape.sensitive === true;
  const wrongType = (expected: string): void =>
    violate(ctx, path, `Member must be ${expected}`, undefined, sensitive, 'type');
  switch (shape.type) {
    case 'structure': {
      if (!isObject(value)) return wrongType('a structure');
      for (const name of shape.required ?? []) {
        if (value[name] === undefined || value[name] === null)
          ctx.out.push({
            path: join(path, lowerFirst(name)),
            kind: 'constraint',
            constraint: 'Member must not be null',
          });
      }
      for (const [name, member] of Object.entries(shape.members ?? {})) {
        const v = value[name];
        if (v !== undefined && v !== null)
          checkValue(ctx, member.shape, v, join(path, lowerFirst(name)), sensitive || member.sensitive === true);
      }
      return;
    }
    case 'list': {
      if (!Array.isArray(value)) return wrongType('a list');
      checkLength(ctx, shape, value.length, path, value, sensitive);
      value.forEach((item, i) => {
        if (item !== null && item !== undefined)
          checkValue(ctx, shape.member!, item, `${path}.${i + 1}.member`, sensitive);
      });
      return;
    }
    case 'map': {
      if (!isObject(value)) return wrongType('a map');
      const entries = Object.entries(value).filter(([, v]) => v !== undefined);
      checkLength(ctx, shape, entries.length, path, undefined, sensitive);
      for (const [key, v] of entries) {
        checkValue(ctx, shape.key!, key, `${path}.${key}.key`, sensitive);
        if (v !== null) checkValue(ctx, shape.value!, v, `${path}.${key}.value`, sensitive);
      }
      return;
    }
    case 'string': {
      if (typeof value !== 'string') return wrongType('a string');
      checkLength(ctx, shape, value.length, path, value, sensitive);
      if (shape.enum && !shape.enum.includes(value))
        violate(ctx, path, `Member must satisfy enum value set: [${shape.enum.join(', ')}]`, value, sensitive);
      if (shape.pattern !== undefined) {
        const re = compileJavaPattern(shape.pattern);
        if (re && !re.test(value))
          violate(ctx, path, `Member must satisfy regular expression pattern: ${shape.pattern}`, value, sensitive);
      }
      return;
    }
    case 'blob': {
      const length = blobLength(ctx, value);
      if (length === undefined) return wrongType('a blob');
      checkLength(ctx, shape, length, path, undefined, true);
      return;
    }
    case 'integer':
    case 'long':
    case 'float':
    case 'double': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return wrongType('a number');
      if ((shape.type === 'integer' || shape.type === 'long') && !Number.isInteger(value))
        return wrongType('an integer');
      if (shape.min !== undefined && value < shape.min)
        violate(ctx, path, `Member must have value greater than or equal to ${shape.min}`, value, sensitive);
      if (shape.max !== undefined && value > shape.max)
        violate(ctx, path, `Member must have value less than or equal to ${shape.max}`, value, sensitive);
      return;
    }
    case 'boolean':
      if (typeof value !== 'boolean') wrongType('a boolean');
      return;
    case 'timestamp':
      if (typeof value !== 'number' && typeof value !== 'string' && !(value instanceof Date)) wrongType('a timestamp');
      return;
    default:
      // Documents and anything newer: no modeled constraints to check.
      return;
  }
}

/** AWS's message for the violations: `N validation error(s) detected: ...; ...`. */
export function validationMessage(violations: readonly ConstraintViolation[]): string {
  const parts = violations.map(
    (v) =>
      `Value ${v.value === undefined ? (v.constraint === 'Member must not be null' ? 'null ' : '') : `'${v.value}' `}at '${v.path}' failed to satisfy constraint: ${v.constraint}`,
  );
  return `${violations.length} validation error${violations.length === 1 ? '' : 's'} detected: ${parts.join('; ')}`;
}

/** The error AWS answers with: SerializationException for a wrong JSON type, otherwise ValidationException. */
export function validationError(violations: readonly ConstraintViolation[]): AwsServiceError {
  const typeError = violations.find((v) => v.kind === 'type');
  if (typeError)
    return new AwsServiceError(
      'SerializationException',
      `Value at '${typeError.path}' could not be read: ${typeError.constraint}`,
    );
  return new AwsServiceError('ValidationException', validationMessage(violations));
}
