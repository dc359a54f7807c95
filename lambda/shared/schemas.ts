/**
 * zod schemas for every external input, built from the shared {@link FIELD_RULES}.
 * Messages name the field and the rule, never the rejected value (it may be a secret pasted by mistake).
 */
import { z } from 'zod';
import {
  FIELD_RULES,
  FieldName,
  FieldRule,
  INSTALL_DEFAULTS,
  RESERVED_TAG_PREFIX,
  RETIRED_FIELDS,
  certificateArnRule,
} from './patterns';

export function ruleString(rule: FieldRule): z.ZodString {
  return z
    .string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string') })
    .max(rule.maxLength, { error: `must be at most ${rule.maxLength} characters` })
    .regex(new RegExp(rule.pattern), { error: rule.rule });
}

export function field(name: FieldName): z.ZodString {
  return ruleString(FIELD_RULES[name]);
}

const tagKey = field('TargetTagKey').refine((key) => !RESERVED_TAG_PREFIX.test(key), {
  error: 'must not start with "aws:" (reserved by AWS)',
});

const verifyPort = z
  .number({ error: 'must be an integer from 0 to 65535' })
  .int({ error: 'must be an integer from 0 to 65535' })
  .min(0, { error: 'must be an integer from 0 to 65535' })
  .max(65535, { error: 'must be an integer from 0 to 65535' });

/** Install options a caller may set; each has a default. */
export const installOptionsShape = {
  CertDir: field('CertDir').optional(),
  KeyDir: field('KeyDir').optional(),
  Service: z.enum(['auto', 'none', 'nginx', 'apache2', 'httpd'], { error: FIELD_RULES.Service.rule }).optional(),
  VerifyPort: verifyPort.optional(),
  MaxConcurrency: field('MaxConcurrency').optional(),
  MaxErrors: field('MaxErrors').optional(),
  DryRun: z.boolean({ error: 'must be true or false' }).optional(),
  // Output profile of the target: who owns the files, their modes, and extra formats.
  KeyOwner: field('KeyOwner').optional(),
  KeyGroup: field('KeyGroup').optional(),
  KeyMode: field('KeyMode').optional(),
  CertOwner: field('CertOwner').optional(),
  CertGroup: field('CertGroup').optional(),
  CertMode: field('CertMode').optional(),
  Pkcs12: z.boolean({ error: 'must be true or false' }).optional(),
  CombinedPem: z.boolean({ error: 'must be true or false' }).optional(),
  /** Schedule of the target's convergence association; default: the stack's (rate(12 hours) unless configured). */
  ConvergenceSchedule: field('ConvergenceSchedule').optional(),
};

/** Names of the output-profile options (stored per target, passed to the document). */
export const OUTPUT_PROFILE_FIELDS = [
  'KeyOwner',
  'KeyGroup',
  'KeyMode',
  'CertOwner',
  'CertGroup',
  'CertMode',
  'Pkcs12',
  'CombinedPem',
] as const;

/** Body of `POST /exports` (the API's published field names). Unknown fields are rejected. */
export function exportRequestSchema(scope: { partition?: string; region?: string; account?: string } = {}) {
  return z.strictObject(
    {
      CertificateArn: ruleString(certificateArnRule(scope)),
      CertName: field('CertName'),
      TargetTagKey: tagKey,
      TargetTagValue: field('TargetTagValue'),
      ...installOptionsShape,
    },
    { error: (issue) => (issue.code === 'invalid_type' ? 'request body must be a JSON object' : undefined) },
  );
}

export const ExportRequestSchema = exportRequestSchema();
export type ExportRequest = z.infer<typeof ExportRequestSchema>;

/**
 * An export request with every default filled in: what the workflow actually runs with. ConvergenceSchedule
 * stays optional: its default is the stack's, known only to ssm-run.
 */
export type ResolvedExportRequest = Required<Omit<ExportRequest, 'ConvergenceSchedule'>> &
  Pick<ExportRequest, 'ConvergenceSchedule'>;

export function withDefaults(request: ExportRequest): ResolvedExportRequest {
  return {
    KeyOwner: INSTALL_DEFAULTS.KeyOwner,
    KeyGroup: INSTALL_DEFAULTS.KeyGroup,
    KeyMode: INSTALL_DEFAULTS.KeyMode,
    CertOwner: INSTALL_DEFAULTS.CertOwner,
    CertGroup: INSTALL_DEFAULTS.CertGroup,
    CertMode: INSTALL_DEFAULTS.CertMode,
    Pkcs12: INSTALL_DEFAULTS.Pkcs12,
    CombinedPem: INSTALL_DEFAULTS.CombinedPem,
    CertDir: INSTALL_DEFAULTS.CertDir,
    KeyDir: INSTALL_DEFAULTS.KeyDir,
    Service: INSTALL_DEFAULTS.Service,
    VerifyPort: INSTALL_DEFAULTS.VerifyPort,
    MaxConcurrency: INSTALL_DEFAULTS.MaxConcurrency,
    MaxErrors: INSTALL_DEFAULTS.MaxErrors,
    DryRun: INSTALL_DEFAULTS.DryRun,
    ...stripUndefined(request),
  };
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** Characters safe to repeat back in an error message when naming an unknown field. */
function safeName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9_.-]/g, '?');
  return cleaned.length > 40 ? `${cleaned.slice(0, 40)}…` : cleaned;
}

/** One line per problem: `Field: rule`. Never includes the offending value. */
export function formatIssues(error: z.ZodError): string {
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

export function parseWith<T>(schema: z.ZodType<T>, input: unknown): ParseResult<T> {
  const result = schema.safeParse(input);
  return result.success ? { ok: true, value: result.data } : { ok: false, message: formatIssues(result.error) };
}
