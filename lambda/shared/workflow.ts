/**
 * Parsing of the workflow's task payloads: the execution input (the API body, published PascalCase names)
 * is validated against the function's own partition/region/account, defaults are applied, and the results
 * of earlier tasks are checked for shape. Messages name the field and the rule, never the value.
 */
import * as z from './zod';
import type { ExportTaskResult, InstallTaskResult, PollState } from './contract';
import { CertificateOutOfScope, InvalidInput } from './errors';
import { ResolvedExportRequest, exportRequestSchema, field, formatIssues, withDefaults } from './schemas';

export interface ArnScope {
  partition: string;
  region: string;
  account: string;
}

const EXECUTION_ARN = /^arn:(aws(?:-[a-z]+)*):states:([a-z0-9-]+):([0-9]{12}):execution:[^:\s]{1,80}:[^:\s]{1,80}$/;

export const executionArnSchema = z
  .string({ error: 'must be a Step Functions execution ARN' })
  .check(
    z.maxLength(2048, { error: 'must be at most 2048 characters' }),
    z.regex(EXECUTION_ARN, { error: 'must be a Step Functions execution ARN' }),
  );

/** Partition and account from the execution ARN; region from AWS_REGION (falling back to the ARN's). */
export function scopeFromExecutionArn(executionArn: string, region?: string): ArnScope {
  const m = EXECUTION_ARN.exec(executionArn);
  if (!m) throw new InvalidInput('executionArn: must be a Step Functions execution ARN');
  return { partition: m[1], region: region || m[2], account: m[3] };
}

/** Parts of an ACM certificate ARN, or undefined when it is not one. */
export function parseCertificateArn(arn: string): (ArnScope & { certificateId: string }) | undefined {
  const m = /^arn:(aws(?:-[a-z]+)*):acm:([a-z0-9-]+):([0-9]{12}):certificate\/([0-9a-f-]{36})$/.exec(arn);
  return m ? { partition: m[1], region: m[2], account: m[3], certificateId: m[4] } : undefined;
}

/**
 * Validates the execution input with the scoped schema. A well-formed ARN of another partition, region
 * or account fails with {@link CertificateOutOfScope}; anything else malformed with {@link InvalidInput}.
 */
export function parseWorkflowInput(input: unknown, scope: ArnScope): ResolvedExportRequest {
  const scoped = exportRequestSchema(scope).safeParse(input);
  if (scoped.success) return withDefaults(scoped.data);
  const unscoped = exportRequestSchema().safeParse(input);
  if (unscoped.success) {
    throw new CertificateOutOfScope(
      `CertificateArn: the certificate is not in this stack's partition, region and account (${scope.partition}/${scope.region}/${scope.account})`,
    );
  }
  throw new InvalidInput(`input: ${formatIssues(unscoped.error)}`);
}

const isoDate = z
  .string({ error: 'must be an ISO-8601 date' })
  .check(z.refine((v) => !Number.isNaN(Date.parse(v)), { error: 'must be an ISO-8601 date' }));

/** A string of at most `max` characters (zod's own message). */
const maxString = (max: number) => z.string().check(z.maxLength(max));
/** A non-negative integer (zod's own messages). */
const count = () => z.number().check(z.int(), z.minimum(0));

export const exportTaskResultSchema = z.object({
  secretArn: field('SecretId'),
  secretVersionId: field('SecretVersionId').check(z.minLength(1, { error: 'is required' })),
  serial: maxString(256),
  notAfter: isoDate,
  keyAlgorithm: maxString(64),
  domainNames: z.array(maxString(253)).check(z.maxLength(100)),
}) satisfies z.ZodMiniType<ExportTaskResult>;

export const installTaskResultSchema = z.object({
  outcome: z.enum(['Sent', 'Superseded']),
  commandId: z.optional(z.string().check(z.regex(/^[A-Za-z0-9-]{36}$/, { error: 'must be a Run Command id' }))),
  targetCount: count(),
  supersededBy: z.optional(z.string()),
  associationId: z.optional(maxString(64)),
  associationError: z.optional(maxString(500)),
  reportAssociationId: z.optional(maxString(64)),
  reportAssociationError: z.optional(maxString(500)),
}) satisfies z.ZodMiniType<InstallTaskResult>;

const nodeFailureSchema = z.object({ instanceId: z.string(), status: z.string(), line: z.string() });

export const pollStateSchema = z.object({
  status: z.enum(['InProgress', 'Succeeded', 'Failed']),
  attempt: count(),
  waitSeconds: z.number().check(z.minimum(0)),
  targetCount: z.optional(count()),
  completedCount: z.optional(count()),
  errorCount: z.optional(count()),
  deliveryTimedOutCount: z.optional(count()),
  failures: z.optional(z.array(nodeFailureSchema)),
  reason: z.optional(z.string()),
  report: z.optional(z.string()),
}) satisfies z.ZodMiniType<PollState>;

export const exportTaskPayloadSchema = z.object({ input: z.unknown(), executionArn: executionArnSchema });

export const installTaskPayloadSchema = z.object({
  input: z.unknown(),
  export: exportTaskResultSchema,
  executionArn: executionArnSchema,
  executionStartTime: isoDate,
});

export const statusTaskPayloadSchema = z.object({
  input: z.unknown(),
  export: exportTaskResultSchema,
  install: installTaskResultSchema,
  poll: pollStateSchema,
  executionArn: executionArnSchema,
  executionStartTime: isoDate,
});

/** Parses a task payload, throwing {@link InvalidInput} with `field: rule` lines. */
export function parsePayload<T>(schema: z.ZodMiniType<T>, payload: unknown, what: string): T {
  const result = schema.safeParse(payload);
  if (!result.success) throw new InvalidInput(`${what}: ${formatIssues(result.error)}`);
  return result.data;
}

/** Tag value rules (letters, digits, spaces, `_.:/=+-@`, max 256): anything else becomes `_`. */
export function tagValue(value: string): string {
  return value.replace(/[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu, '_').slice(0, 256);
}
