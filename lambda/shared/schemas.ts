/**
 * zod schemas for every external input: the export request is generated from the field registry (fields.ts),
 * other inputs use the shared {@link FIELD_RULES}.
 * Messages name the field and the rule, never the rejected value (it may be a secret pasted by mistake).
 */
import * as z from './zod';
import { ExportRequestFields, FIELDS, FieldEntry, Registry, ResolvedRequestFields, applyDefaults } from './fields';
import { FIELD_RULES, FieldName, FieldRule, RETIRED_FIELDS, certificateArnRule } from './patterns';

export function ruleString(rule: FieldRule): z.ZodMiniString<string> {
  return z
    .string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string') })
    .check(
      z.maxLength(rule.maxLength, { error: `must be at most ${rule.maxLength} characters` }),
      z.regex(new RegExp(rule.pattern), { error: rule.rule }),
    );
}

export function field(name: FieldName): z.ZodMiniString<string> {
  return ruleString(FIELD_RULES[name]);
}

/** The zod schema of one registry field's API value (its JSON type, rule, closed values and refusals). */
export function registryFieldSchema(entry: FieldEntry, rule: FieldRule = entry.rule): z.ZodMiniType {
  if (entry.json === 'boolean') return z.boolean({ error: 'must be true or false' });
  if (entry.json === 'integer') {
    const [min, max] = entry.range ?? [0, Number.MAX_SAFE_INTEGER];
    const message = `must be an integer from ${min} to ${max}`;
    return z
      .number({ error: message })
      .check(z.int({ error: message }), z.minimum(min, { error: message }), z.maximum(max, { error: message }));
  }
  if (entry.values) return z.enum(entry.values, { error: rule.rule });
  const refuse = entry.refuse;
  return refuse
    ? ruleString(rule).check(z.refine((v) => !refuse.pattern.test(v), { error: refuse.message }))
    : ruleString(rule);
}

/** The shape of the request object: every API field of the registry, required or optional. */
export function requestShape(
  registry: Registry = FIELDS,
  overrides: Readonly<Record<string, FieldRule>> = {},
): Record<string, z.ZodMiniType> {
  const shape: Record<string, z.ZodMiniType> = {};
  for (const [name, entry] of Object.entries(registry)) {
    if (entry.api === undefined) continue;
    const schema = registryFieldSchema(entry, overrides[name]);
    shape[name] = entry.api === 'required' ? schema : z.optional(schema);
  }
  return shape;
}

export type ExportRequest = ExportRequestFields;
/**
 * An export request with every default filled in: what the workflow actually runs with. ConvergenceSchedule
 * stays optional: its default is the stack's, known only to ssm-run.
 */
export type ResolvedExportRequest = ResolvedRequestFields;

/** The request schema as a zod object (its shape lists the fields). */
export type ExportRequestZod = z.ZodMiniType<ExportRequest> & { readonly shape: Record<string, z.ZodMiniType> };

/** Body of `POST /exports` (the API's published field names). Unknown fields are rejected. */
export function exportRequestSchema(
  scope: { partition?: string; region?: string; account?: string } = {},
  registry: Registry = FIELDS,
): ExportRequestZod {
  return z.strictObject(requestShape(registry, { CertificateArn: certificateArnRule(scope) }), {
    error: (issue) => (issue.code === 'invalid_type' ? 'request body must be a JSON object' : undefined),
  }) as unknown as ExportRequestZod;
}

export function withDefaults(request: ExportRequest): ResolvedExportRequest {
  return applyDefaults(request) as ResolvedExportRequest;
}

/** Characters safe to repeat back in an error message when naming an unknown field. */
function safeName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9_.-]/g, '?');
  return cleaned.length > 40 ? `${cleaned.slice(0, 40)}…` : cleaned;
}

/** One line per problem: `Field: rule`. Never includes the offending value. */
export function formatIssues(error: z.core.$ZodError): string {
  return error.issues
    .map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        return issue.keys
          .map(
            (key) =>
              `${safeName(key)}: ${Object.hasOwn(RETIRED_FIELDS, key) ? RETIRED_FIELDS[key] : 'is not a known field'}`,
          )
          .join('; ');
      }
      const path = issue.path.map((p) => safeName(String(p))).join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; message: string };

export function parseWith<T>(schema: z.ZodMiniType<T>, input: unknown): ParseResult<T> {
  const result = schema.safeParse(input);
  return result.success ? { ok: true, value: result.data } : { ok: false, message: formatIssues(result.error) };
}
