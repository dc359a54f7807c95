/**
 * Small typed readers for JSON request bodies. The model's constraints (required, lengths, ranges, patterns)
 * are enforced before an operation runs, from constraints/aws-constraints.json; limits given here are
 * checks of their own or older copies of the model's, never looser than it.
 */
import { AwsServiceError } from './errors';

export type JsonObject = Record<string, unknown>;

export class Input {
  constructor(
    readonly body: JsonObject,
    private readonly errorType = 'ValidationException',
  ) {}

  private fail(message: string): never {
    throw new AwsServiceError(this.errorType, message);
  }

  has(name: string): boolean {
    return this.body[name] !== undefined && this.body[name] !== null;
  }

  optString(name: string, limits: { min?: number; max?: number; pattern?: RegExp } = {}): string | undefined {
    const v = this.body[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string')
      this.fail(
        `1 validation error detected: Value at '${lowerFirst(name)}' failed to satisfy constraint: Member must be a string`,
      );
    if (limits.min !== undefined && v.length < limits.min)
      this.fail(
        `1 validation error detected: Value at '${lowerFirst(name)}' failed to satisfy constraint: Member must have length greater than or equal to ${limits.min}`,
      );
    if (limits.max !== undefined && v.length > limits.max)
      this.fail(
        `1 validation error detected: Value at '${lowerFirst(name)}' failed to satisfy constraint: Member must have length less than or equal to ${limits.max}`,
      );
    if (limits.pattern && !limits.pattern.test(v))
      this.fail(
        `1 validation error detected: Value at '${lowerFirst(name)}' failed to satisfy constraint: Member must satisfy regular expression pattern: ${limits.pattern.source}`,
      );
    return v;
  }

  string(name: string, limits: { min?: number; max?: number; pattern?: RegExp } = {}): string {
    const v = this.optString(name, limits);
    if (v === undefined)
      this.fail(
        `1 validation error detected: Value null at '${lowerFirst(name)}' failed to satisfy constraint: Member must not be null`,
      );
    return v;
  }

  optNumber(name: string, limits: { min?: number; max?: number } = {}): number | undefined {
    const v = this.body[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(`Value at '${lowerFirst(name)}' must be a number`);
    if ((limits.min !== undefined && v < limits.min) || (limits.max !== undefined && v > limits.max))
      this.fail(
        `1 validation error detected: Value '${v}' at '${lowerFirst(name)}' failed to satisfy constraint: Member must have value between ${limits.min ?? '-inf'} and ${limits.max ?? 'inf'}`,
      );
    return v;
  }

  optBoolean(name: string): boolean | undefined {
    const v = this.body[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') this.fail(`Value at '${lowerFirst(name)}' must be a boolean`);
    return v;
  }

  optStringList(name: string): string[] | undefined {
    const v = this.body[name];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
      this.fail(`Value at '${lowerFirst(name)}' must be a list of strings`);
    return v as string[];
  }

  optObject(name: string): JsonObject | undefined {
    const v = this.body[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(`Value at '${lowerFirst(name)}' must be a structure`);
    return v as JsonObject;
  }

  optList(name: string): JsonObject[] | undefined {
    const v = this.body[name];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'object' || x === null || Array.isArray(x)))
      this.fail(`Value at '${lowerFirst(name)}' must be a list of structures`);
    return v as JsonObject[];
  }
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

/** Timestamps in the AWS JSON 1.1 protocol are epoch seconds (fractions allowed). */
export function epochSeconds(d: Date): number {
  return d.getTime() / 1000;
}

/** Opaque pagination tokens: base64 of the next index. */
export function paginate<T>(
  items: T[],
  maxResults: number | undefined,
  nextToken: string | undefined,
  fallbackMax: number,
): { page: T[]; nextToken?: string } {
  let start = 0;
  if (nextToken !== undefined) {
    const decoded = Number.parseInt(Buffer.from(nextToken, 'base64').toString('utf8'), 10);
    if (!Number.isInteger(decoded) || decoded < 0 || decoded > items.length)
      throw new AwsServiceError('InvalidNextToken', 'The specified token is not valid.');
    start = decoded;
  }
  const size = maxResults ?? fallbackMax;
  const page = items.slice(start, start + size);
  const next = start + size < items.length ? Buffer.from(String(start + size)).toString('base64') : undefined;
  return next === undefined ? { page } : { page, nextToken: next };
}
