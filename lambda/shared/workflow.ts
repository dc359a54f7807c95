/**
 * Parsing of the workflow's task payloads: the execution input (the API body, published PascalCase names)
 * is validated against the function's own partition/region/account, defaults are applied, and the results
 * of earlier tasks are checked for shape. Messages name the field and the rule, never the value.
 */
import { z } from 'zod';
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
  .max(2048, { error: 'must be at most 2048 characters' })
  .regex(EXECUTION_ARN, { error: 'must be a Step Functions execution ARN' });

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

const isoDate = z.string({ error: 'must be an ISO-8601 date' }).refine((v) => !Number.isNaN(Date.parse(v)), {
  error: 'must be an ISO-8601 date',
});

export const exportTaskResultSchema = z.object({
  secretArn: field('SecretId'),
  secretVersionId: field('SecretVersionId').min(1, { error: 'is required' }),
  serial: z.string().max(256),
  notAfter: isoDate,
  keyAlgorithm: z.string().max(64),
  domainNames: z.array(z.string().max(253)).max(100),
}) satisfies z.ZodType<ExportTaskResult>;

export const installTaskResultSchema = z.object({
  outcome: z.enum(['Sent', 'Superseded']),
  commandId: z
    .string()
    .regex(/^[A-Za-z0-9-]{36}$/, { error: 'must be a Run Command id' })
    .optional(),
  targetCount: z.number().int().min(0),
  supersededBy: z.string().optional(),
  associationId: z.string().max(64).optional(),
  associationError: z.string().max(500).optional(),
  reportAssociationId: z.string().max(64).optional(),
  reportAssociationError: z.string().max(500).optional(),
}) satisfies z.ZodType<InstallTaskResult>;

const nodeFailureSchema = z.object({ instanceId: z.string(), status: z.string(), line: z.string() });

export const pollStateSchema = z.object({
  status: z.enum(['InProgress', 'Succeeded', 'Failed']),
  attempt: z.number().int().min(0),
  waitSeconds: z.number().min(0),
  targetCount: z.number().int().min(0).optional(),
  completedCount: z.number().int().min(0).optional(),
  errorCount: z.number().int().min(0).optional(),
  deliveryTimedOutCount: z.number().int().min(0).optional(),
  failures: z.array(nodeFailureSchema).optional(),
  reason: z.string().optional(),
  report: z.string().optional(),
}) satisfies z.ZodType<PollState>;

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
export function parsePayload<T>(schema: z.ZodType<T>, payload: unknown, what: string): T {
  const result = schema.safeParse(payload);
  if (!result.success) throw new InvalidInput(`${what}: ${formatIssues(result.error)}`);
  return result.data;
}

/** Tag value rules (letters, digits, spaces, `_.:/=+-@`, max 256): anything else becomes `_`. */
export function tagValue(value: string): string {
  return value.replace(/[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu, '_').slice(0, 256);
}
