/**
 * `POST /exports`: parse and validate the body (zod, scoped to this stack's partition, region and account),
 * then StartExecution of the export workflow named after the API request id. Error messages name the field
 * and the rule and never repeat a value that was sent.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { ACMClient } from '@aws-sdk/client-acm';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { ErrorResponse, StartExportResponse } from './api-types';
import { Throttled, isThrottling } from '../shared/errors';
import { ExportOptIn, checkExportOptIn } from '../shared/export-opt-in';
import { EXPORT_ID_PATTERN, executionArnFor } from './export-status';
import { MAX_REQUEST_BYTES } from '../shared/patterns';
import { ExportRequest, exportRequestSchema, formatIssues, withDefaults } from '../shared/schemas';
import { ArnScope } from '../shared/workflow';
import { DEFAULT_PLACEMENT, PlacementPolicy, placementProblems } from '../shared/placement';
import { NameClaimDeps, claimCertName, nameTakenMessage } from './cert-name-claim';

export interface StartExportDeps {
  sfn: SFNClient;
  /** Reads the certificate's tags: only certificates opted in to export are started. */
  acm: ACMClient;
  exportOptIn: ExportOptIn;
  /** `STATE_MACHINE_ARN`; also gives the partition, region and account certificates must belong to. */
  stateMachineArn: string;
  /** `PLACEMENT_POLICY`: where files may go and who may own the key. @default DEFAULT_PLACEMENT */
  placement?: PlacementPolicy;
  /** The inventory table, where (target, CertName) is claimed before the execution starts. */
  names: Omit<NameClaimDeps, 'sfn'>;
  now?: () => Date;
  log?: (message: string, keys?: Record<string, string | number | boolean>) => void;
}

/** The request as the handler received it (an API Gateway proxy event, reduced). */
export interface StartExportRequest {
  body: string | null | undefined;
  isBase64Encoded?: boolean;
  /** API Gateway request id: the execution name (and exportId) when it is a valid execution name. */
  requestId?: string;
}

export interface StartExportOutcome {
  statusCode: number;
  body: StartExportResponse | ErrorResponse;
}

export const NOT_AN_OBJECT = 'request body must be a JSON object';
export const TOO_LARGE = `request body is too large: at most ${MAX_REQUEST_BYTES} bytes`;
export const THROTTLED = 'too many requests: Step Functions is throttling new exports; retry in a few seconds';
export const LIMIT_EXCEEDED =
  'too many exports are running: the state machine is at its limit of open executions; retry later';
export const INTERNAL = 'internal error: the export could not be started; retry later';
export const ACM_THROTTLED = 'too many requests: ACM is throttling reads of certificate tags; retry in a few seconds';

const STATE_MACHINE_ARN = /^arn:(aws(?:-[a-z]+)*):states:([a-z0-9-]+):([0-9]{12}):stateMachine:[A-Za-z0-9_-]{1,80}$/;

/** Partition, region and account of the stack, from its state machine ARN. */
export function scopeFromStateMachineArn(stateMachineArn: string): ArnScope {
  const m = STATE_MACHINE_ARN.exec(stateMachineArn);
  if (!m) throw new Error('STATE_MACHINE_ARN is not a state machine ARN');
  return { partition: m[1], region: m[2], account: m[3] };
}

/**
 * The execution name for a request: the API Gateway request id when it is a valid execution name (it is a
 * UUID in practice), else a UUID derived from it (the same id always gives the same name), else a random one.
 */
export function executionNameFor(requestId: string | undefined): string {
  if (requestId && EXPORT_ID_PATTERN.test(requestId)) return requestId;
  if (!requestId) return randomUUID();
  const h = createHash('sha256').update(`acm-export request id\n${requestId}`).digest('hex');
  // RFC 9562 layout: version 8 (custom), variant 10.
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export type ParsedBody = { ok: true; value: ExportRequest } | { ok: false; message: string };

/** Size, JSON and zod checks of a POST /exports body. */
export function parseStartExportBody(request: StartExportRequest, scope: ArnScope): ParsedBody {
  const raw = request.body ?? '';
  const bytes = request.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  if (bytes.length > MAX_REQUEST_BYTES) return { ok: false, message: TOO_LARGE };
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { ok: false, message: NOT_AN_OBJECT };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    return { ok: false, message: NOT_AN_OBJECT };
  const result = exportRequestSchema(scope).safeParse(parsed);
  return result.success ? { ok: true, value: result.data } : { ok: false, message: formatIssues(result.error) };
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'Error';
}

function fail(statusCode: number, message: string): StartExportOutcome {
  return { statusCode, body: { message } };
}

function sameJson(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  try {
    return JSON.stringify(JSON.parse(a)) === JSON.stringify(JSON.parse(b));
  } catch {
    return false;
  }
}

/** Maps a failed Step Functions call to the caller's answer (never the AWS message: it may carry input). */
function failure(error: unknown, operation: string, deps: StartExportDeps): StartExportOutcome {
  if (isThrottling(error)) {
    deps.log?.('throttled', { operation, errorName: errorName(error) });
    return fail(429, THROTTLED);
  }
  if (errorName(error) === 'ExecutionLimitExceeded') {
    deps.log?.('execution limit exceeded', { operation });
    return fail(429, LIMIT_EXCEEDED);
  }
  deps.log?.('could not start the export', { operation, errorName: errorName(error) });
  return fail(500, INTERNAL);
}

/**
 * 403 naming the tag to add when the certificate is not opted in to export; undefined to go on. A certificate
 * ACM does not know goes on too: the workflow fails it with CertificateNotFound, as before the tag check.
 */
async function refuseUnlessOptedIn(
  certificateArn: string,
  deps: StartExportDeps,
): Promise<StartExportOutcome | undefined> {
  try {
    const check = await checkExportOptIn(deps.acm, certificateArn, deps.exportOptIn);
    if (check.result !== 'not-enabled') return undefined;
    deps.log?.('certificate not enabled for export', { certificateArn });
    return fail(403, check.message);
  } catch (error) {
    if (errorName(error) === Throttled.errorName) {
      deps.log?.('throttled', { operation: 'acm:ListTagsForCertificate' });
      return fail(429, ACM_THROTTLED);
    }
    deps.log?.('could not read the certificate tags', {
      operation: 'acm:ListTagsForCertificate',
      errorName: errorName(error),
    });
    return fail(500, INTERNAL);
  }
}

/**
 * Validates and starts one export. A retry of the same request (same name and input) answers with the
 * execution already started; the same name with another input is a 409.
 */
export async function startExport(request: StartExportRequest, deps: StartExportDeps): Promise<StartExportOutcome> {
  const body = parseStartExportBody(request, scopeFromStateMachineArn(deps.stateMachineArn));
  if (!body.ok) return fail(400, body.message);
  const resolved = withDefaults(body.value);
  const misplaced = placementProblems(resolved, deps.placement ?? DEFAULT_PLACEMENT);
  if (misplaced.length > 0) return fail(400, misplaced.join('; '));
  const refused = await refuseUnlessOptedIn(body.value.CertificateArn, deps);
  if (refused) return refused;

  const name = executionNameFor(request.requestId);
  // The body as sent (published PascalCase names, no defaults filled in): renewals store and replay it.
  const input = JSON.stringify(body.value);
  const target = `${body.value.TargetTagKey}=${body.value.TargetTagValue}`;
  const now = deps.now ?? (() => new Date());
  let claim: Awaited<ReturnType<typeof claimCertName>>;
  try {
    claim = await claimCertName(
      {
        certificateArn: resolved.CertificateArn,
        target,
        certName: resolved.CertName,
        executionArn: executionArnFor(deps.stateMachineArn, name),
        at: now(),
      },
      { ...deps.names, sfn: deps.sfn },
      { dryRun: resolved.DryRun },
    );
  } catch (error) {
    return failure(error, 'claim CertName', deps);
  }
  if (!claim.claimed) {
    deps.log?.('CertName held by another certificate', { target, holderArn: claim.holderArn });
    return fail(409, nameTakenMessage(resolved.CertName, target, claim.holderArn));
  }
  try {
    const out = await deps.sfn.send(new StartExecutionCommand({ stateMachineArn: deps.stateMachineArn, name, input }));
    const executionArn = out.executionArn ?? executionArnFor(deps.stateMachineArn, name);
    deps.log?.('export started', { exportId: name, executionArn, certificateArn: body.value.CertificateArn, target });
    return {
      statusCode: 200,
      body: { exportId: name, executionArn, startDate: (out.startDate ?? now()).toISOString() },
    };
  } catch (error) {
    if (errorName(error) !== 'ExecutionAlreadyExists') return failure(error, 'states:StartExecution', deps);
  }

  // ExecutionAlreadyExists: Step Functions returns it for a closed execution (or another input) of that name.
  const executionArn = executionArnFor(deps.stateMachineArn, name);
  try {
    const existing = await deps.sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (!sameJson(existing.input, input)) {
      deps.log?.('execution name already used with another input', { exportId: name });
      return fail(
        409,
        'exportId: an export with this id already exists for a different request; send the request again',
      );
    }
    deps.log?.('export already started (retry)', { exportId: name, executionArn });
    return {
      statusCode: 200,
      body: { exportId: name, executionArn, startDate: (existing.startDate ?? now()).toISOString() },
    };
  } catch (error) {
    return failure(error, 'states:DescribeExecution', deps);
  }
}
