/**
 * acm-renew logic: on "ACM Certificate Available" with Action RENEWAL, confirm the certificate is issued and
 * exportable, Query its targets in the inventory and start one export execution per target with that
 * target's stored options, several at once. Execution names are derived from certificate, target and event id, so a
 * redelivered event starts nothing new.
 */
import { ACMClient } from '@aws-sdk/client-acm';
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import * as z from '../shared/zod';
import { describeExportable } from '../shared/certificate';
import { AcmExportError, InvalidInput, rethrowThrottling } from '../shared/errors';
import { ExportOptIn, checkExportOptIn } from '../shared/export-opt-in';
import { requestFromStored } from '../shared/fields';
import { InventoryDeps, targetsOfCertificate } from '../shared/inventory';
import { sha256Hex } from '../shared/passphrase';
import { ExportRequest, exportRequestSchema, formatIssues, withDefaults } from '../shared/schemas';
import { ArnScope, parseCertificateArn } from '../shared/workflow';
import { DEFAULT_PLACEMENT, PlacementPolicy, placementProblems } from '../shared/placement';
import { mapLimited } from '../shared/map-limited';

export interface RenewDeps extends InventoryDeps {
  acm: ACMClient;
  sfn: SFNClient;
  /** `STATE_MACHINE_ARN` */
  stateMachineArn: string;
  /** `PLACEMENT_POLICY`: targets outside it (narrowed after their export) are skipped. @default DEFAULT_PLACEMENT */
  placement?: PlacementPolicy;
  /** Only certificates that still carry the export tag are re-exported. */
  exportOptIn: ExportOptIn;
  log?: (message: string, keys?: Record<string, string | number | boolean>) => void;
  /** StartExecution calls in flight at once. @default RENEWAL_START_CONCURRENCY */
  startConcurrency?: number;
}

/**
 * Renewal executions started at once. StartExecution is throttled per account by a token bucket (Step
 * Functions quotas); 10 in flight keeps a renewal of many targets fast without draining it for other callers.
 */
export const RENEWAL_START_CONCURRENCY = 10;

export const acmEventSchema = z.object({
  id: z.string({ error: 'is required' }).check(z.minLength(1), z.maxLength(128)),
  'detail-type': z.string({ error: 'is required' }).check(z.maxLength(128)),
  source: z.literal('aws.acm', { error: 'must be aws.acm' }),
  account: z.optional(z.string().check(z.regex(/^[0-9]{12}$/, { error: 'must be a 12-digit account id' }))),
  region: z.optional(z.string().check(z.maxLength(32))),
  resources: z.array(z.string().check(z.maxLength(2048))).check(
    z.minLength(1, { error: 'must name the certificate ARN' }),
    z.refine((r) => parseCertificateArn(r[0]) !== undefined, {
      error: 'the first resource must be an ACM certificate ARN',
    }),
  ),
  detail: z.optional(z.looseObject({ Action: z.optional(z.string().check(z.maxLength(64))) })),
});
export type AcmEvent = z.infer<typeof acmEventSchema>;

export interface RenewResult {
  /** Executions started by this invocation. */
  started: number;
  /** Executions that already existed (a redelivered event). */
  alreadyStarted: number;
  /** Inventory targets of the certificate. */
  targets: number;
  /**
   * Targets skipped (logged): their files are being removed, their stored options no longer validate, or
   * they lie outside the placement policy.
   */
  skipped: number;
  /** Targets skipped because their directories or key owner are outside the placement policy. */
  outsidePlacement?: string[];
  executionArns: string[];
  /** Why nothing was started, when the event is not a renewal of an exportable certificate with targets. */
  ignored?: string;
  /** Machine-readable form of `ignored`. */
  ignoredCode?: 'NotARenewal' | 'CertificateNotExportable' | 'CertificateNotOptedIn' | 'NoTargets';
}

/** `renew-` + 40 hex of sha256(certificate, target, event id): ≤80 characters, valid as an execution name. */
export function renewalExecutionName(certificateArn: string, target: string, eventId: string): string {
  return `renew-${sha256Hex(`${certificateArn}\n${target}\n${eventId}`).slice(0, 40)}`;
}

/**
 * What is stored for a target: an inventory item (options under their API names, or the camelCase names of
 * older items), or its view in `GET /certificates` (camelCase names).
 */
export type StoredTarget = { readonly certificateArn: string } & object;

/** The execution input for a stored target: the published API names, with its stored install options. */
export function inputFromItem(item: StoredTarget): ExportRequest {
  return requestFromStored(item.certificateArn, item as Readonly<Record<string, unknown>>) as ExportRequest;
}

export function parseAcmEvent(event: unknown): AcmEvent {
  const parsed = acmEventSchema.safeParse(event);
  if (!parsed.success) throw new InvalidInput(`event: ${formatIssues(parsed.error)}`);
  return parsed.data;
}

export async function renew(event: AcmEvent, scope: ArnScope, deps: RenewDeps): Promise<RenewResult> {
  const log = deps.log ?? (() => undefined);
  const certificateArn = event.resources[0];
  const none = (ignoredCode: RenewResult['ignoredCode'], ignored: string): RenewResult => ({
    started: 0,
    alreadyStarted: 0,
    targets: 0,
    skipped: 0,
    executionArns: [],
    ignored,
    ignoredCode,
  });

  if (event['detail-type'] !== 'ACM Certificate Available') {
    return none(
      'NotARenewal',
      `detail-type is ${event['detail-type'].replace(/[^A-Za-z0-9 ._-]/g, '?')}, not ACM Certificate Available`,
    );
  }
  if (event.detail?.Action !== 'RENEWAL') {
    return none(
      'NotARenewal',
      `Action is ${(event.detail?.Action ?? 'missing').replace(/[^A-Za-z0-9_-]/g, '?')}, not RENEWAL`,
    );
  }

  try {
    await describeExportable(deps.acm, certificateArn, scope);
  } catch (error) {
    if (error instanceof AcmExportError && error.name !== 'Throttled')
      return none('CertificateNotExportable', `${error.name}: ${error.message}`);
    throw error;
  }

  // The export tag was removed since the last export: the owner opted out, so nothing is re-exported.
  const optIn = await checkExportOptIn(deps.acm, certificateArn, deps.exportOptIn);
  if (optIn.result === 'not-enabled') return none('CertificateNotOptedIn', `renewal not exported: ${optIn.message}`);
  if (optIn.result === 'not-found')
    return none('CertificateNotExportable', `CertificateNotFound: certificate ${certificateArn} was not found`);

  const items = await targetsOfCertificate(deps, certificateArn);
  const result: RenewResult = { started: 0, alreadyStarted: 0, targets: items.length, skipped: 0, executionArns: [] };
  if (items.length === 0) {
    result.ignored = 'the certificate has no targets in the inventory';
    result.ignoredCode = 'NoTargets';
    return result;
  }

  const schema = exportRequestSchema(scope);
  const toStart: { target: string; input: ExportRequest }[] = [];
  for (const item of items) {
    if (item.removalStatus) {
      // The user asked for the files to go: a renewal must not install them again (nor bring back the
      // associations the removal deleted).
      result.skipped++;
      log('target is being removed; not renewed', { target: item.target, removalStatus: item.removalStatus });
      continue;
    }
    const parsed = schema.safeParse(inputFromItem(item));
    if (!parsed.success) {
      result.skipped++;
      log('stored target options no longer validate; skipped', {
        target: item.target,
        problem: formatIssues(parsed.error),
      });
      continue;
    }
    const misplaced = placementProblems(withDefaults(parsed.data), deps.placement ?? DEFAULT_PLACEMENT);
    if (misplaced.length > 0) {
      // The stack's placement policy was narrowed after this target was exported: the node would refuse
      // the install anyway; remove the target or export it again to an allowed directory.
      result.skipped++;
      result.outsidePlacement = [...(result.outsidePlacement ?? []), item.target];
      log('target is outside the placement policy; not renewed', {
        target: item.target,
        problem: misplaced.join('; '),
      });
      continue;
    }
    toStart.push({ target: item.target, input: parsed.data });
  }

  // Targets start side by side (a certificate on many targets is renewed in the time of a few calls, not
  // one call per target in turn), bounded so one renewal stays well inside StartExecution's rate quota.
  let firstError: unknown;
  const started = await mapLimited(toStart, deps.startConcurrency ?? RENEWAL_START_CONCURRENCY, async (t) => {
    const name = renewalExecutionName(certificateArn, t.target, event.id);
    try {
      const out = await deps.sfn.send(
        new StartExecutionCommand({ stateMachineArn: deps.stateMachineArn, name, input: JSON.stringify(t.input) }),
      );
      return { started: true, executionArn: out.executionArn };
    } catch (error) {
      if (
        error instanceof ExecutionAlreadyExists ||
        (error instanceof Error && error.name === 'ExecutionAlreadyExists')
      )
        return { started: false, alreadyStarted: true };
      // Keep going for the other targets; the event is retried afterwards (names make that safe).
      firstError ??= error;
      log('could not start the renewal export for a target', {
        target: t.target,
        errorName: (error as Error).name ?? 'Error',
      });
      return { started: false };
    }
  });
  for (const s of started) {
    if (s.started) {
      result.started++;
      if (s.executionArn) result.executionArns.push(s.executionArn);
    } else if (s.alreadyStarted) result.alreadyStarted++;
  }
  if (firstError !== undefined) rethrowThrottling(firstError, 'states:StartExecution');
  return result;
}
