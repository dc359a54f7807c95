/**
 * REST API (proxy integration): `POST /exports` (validate, then StartExecution), `GET /exports/{exportId}`,
 * `GET /certificates` (with `?nodes=true` the per-node reports from SSM Inventory) and
 * `DELETE /certificates/{certificateArn}/targets/{target}` (with `?removeFiles=true` it also sends the install
 * document's remove run to the target's nodes and keeps the item, marked Removing) and
 * `GET /certificates/{certificateArn}/targets/{target}/removal` (checks that run; deletes the item once every
 * node removed the files).
 * Every response is JSON; 4xx messages name the field and the rule, never echo a value.
 */
import type { ACMClient } from '@aws-sdk/client-acm';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { ErrorResponse } from './api-types';
import { acmClient } from '../shared/clients/acm';
import { ddbClient } from '../shared/clients/ddb';
import { secretsClient } from '../shared/clients/secrets';
import { sfnClient } from '../shared/clients/sfn';
import { ssmClient } from '../shared/clients/ssm';
import { ENV } from '../shared/contract';
import { commandTimeoutSeconds, requireEnv } from '../shared/env';
import { RemoveCommandSettings, deleteTarget, parseDeleteTarget, parseTargetPath } from './delete-target';
import { AcmExportError, InvalidInput } from '../shared/errors';
import { EXPORT_ID_PATTERN, ExportStatusDeps, exportStatus } from './export-status';
import { ExportOptIn, exportOptInFromEnv } from '../shared/export-opt-in';
import { resolveDeps } from '../shared/handler-support';
import { InventoryDeps } from '../shared/inventory';
import { listCertificates, parseListQuery } from './list-certificates';
import { info } from '../shared/handler-support';
import { logger, observe } from '../shared/powertools';
import { startExport } from './start-export';
import { PlacementPolicy, placementFromEnv } from '../shared/placement';
import { targetRemoval } from './target-removal';

export type ExportApiDeps = ExportStatusDeps &
  InventoryDeps & {
    now?: () => Date;
    ssm: SSMClient;
    acm: ACMClient;
    secrets: SecretsManagerClient;
    secretNamePrefix: () => string;
    removeCommand: () => RemoveCommandSettings;
    placement: PlacementPolicy;
    /** The export tag setting, read when a POST needs it (the other routes do not). */
    exportOptIn: () => ExportOptIn;
  };

/** The remove run's settings, read when a DELETE asks for the files to be removed (the other routes need none). */
function removeCommandFromEnv(): RemoveCommandSettings {
  return {
    documentName: requireEnv(ENV.REMOVE_DOCUMENT_NAME),
    logGroupName: requireEnv(ENV.COMMAND_LOG_GROUP),
    timeoutSeconds: commandTimeoutSeconds(),
    region: requireEnv('AWS_REGION'),
  };
}

const factories = {
  sfn: sfnClient,
  ssm: ssmClient,
  acm: acmClient,
  secrets: secretsClient,
  ddb: ddbClient,
  secretNamePrefix: () => () => requireEnv(ENV.SECRET_NAME_PREFIX),
  stateMachineArn: () => requireEnv(ENV.STATE_MACHINE_ARN),
  placement: () => placementFromEnv(process.env[ENV.PLACEMENT_POLICY]),
  tableName: () => requireEnv(ENV.TABLE_NAME),
  removeCommand: () => removeCommandFromEnv,
  exportOptIn: () => () => exportOptInFromEnv(),
  now: () => undefined,
};

const HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' };

function respond(statusCode: number, body: unknown): APIGatewayProxyResult {
  return { statusCode, headers: HEADERS, body: JSON.stringify(body) };
}

function fail(statusCode: number, message: string): APIGatewayProxyResult {
  const body: ErrorResponse = { message };
  return respond(statusCode, body);
}

type Route =
  | { name: 'start' }
  | { name: 'status'; exportId: string | undefined }
  | { name: 'certificates' }
  | { name: 'target'; pathParameters: Record<string, string | undefined> }
  | { name: 'removal'; pathParameters: Record<string, string | undefined> }
  | undefined;

const TARGET_RESOURCE = '/certificates/{certificateArn}/targets/{target}';
const REMOVAL_RESOURCE = `${TARGET_RESOURCE}/removal`;

function route(event: Pick<APIGatewayProxyEvent, 'resource' | 'path' | 'pathParameters'>): Route {
  const resource = event.resource ?? '';
  const path = (event.path ?? '').replace(/\/+$/, '');
  if (resource === '/exports' || (!resource && path === '/exports')) return { name: 'start' };
  if (resource === '/exports/{exportId}')
    return { name: 'status', exportId: event.pathParameters?.exportId ?? undefined };
  if (resource === '/certificates') return { name: 'certificates' };
  if (resource === TARGET_RESOURCE) return { name: 'target', pathParameters: event.pathParameters ?? {} };
  if (resource === REMOVAL_RESOURCE) return { name: 'removal', pathParameters: event.pathParameters ?? {} };
  const m = /^\/exports\/([^/]*)$/.exec(path);
  if (m) return { name: 'status', exportId: safeDecode(m[1]) };
  if (path === '/certificates') return { name: 'certificates' };
  // Raw path (local mode, or a proxy that does not fill `resource`): both segments stay URL-encoded.
  const t = /^\/certificates\/([^/]+)\/targets\/([^/]+)$/.exec(path);
  if (t) return { name: 'target', pathParameters: { certificateArn: t[1], target: t[2] } };
  const rm = /^\/certificates\/([^/]+)\/targets\/([^/]+)\/removal$/.exec(path);
  if (rm) return { name: 'removal', pathParameters: { certificateArn: rm[1], target: rm[2] } };
  return undefined;
}

const METHODS: Record<NonNullable<Route>['name'], string> = {
  start: 'POST',
  status: 'GET',
  certificates: 'GET',
  target: 'DELETE',
  removal: 'GET',
};

/** Media type of the request body; a request without Content-Type is taken as JSON. */
function contentType(headers: APIGatewayProxyEvent['headers'] | null | undefined): string {
  const entry = Object.entries(headers ?? {}).find(([name]) => name.toLowerCase() === 'content-type');
  return String(entry?.[1] ?? 'application/json')
    .split(';')[0]
    .trim()
    .toLowerCase();
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

export function createHandler(overrides: Partial<ExportApiDeps> = {}) {
  return async (event: APIGatewayProxyEvent, context?: Context): Promise<APIGatewayProxyResult> => {
    const requestId = event?.requestContext?.requestId;
    return observe('export-api', context, requestId, {}, async () => {
      const r = route(event ?? ({} as APIGatewayProxyEvent));
      if (!r) return fail(404, 'no such resource');
      if (event.httpMethod !== METHODS[r.name]) return fail(405, `method not allowed: use ${METHODS[r.name]}`);
      try {
        const deps = resolveDeps<ExportApiDeps>(overrides, factories);
        if (r.name === 'start') {
          if (contentType(event.headers) !== 'application/json')
            return fail(415, 'Unsupported Media Type: send application/json');
          const started = await startExport(
            { body: event.body, isBase64Encoded: event.isBase64Encoded, requestId },
            {
              sfn: deps.sfn,
              acm: deps.acm,
              exportOptIn: deps.exportOptIn(),
              stateMachineArn: deps.stateMachineArn,
              placement: deps.placement,
              names: { ddb: deps.ddb, tableName: deps.tableName },
              now: deps.now,
              log: info,
            },
          );
          return respond(started.statusCode, started.body);
        }
        if (r.name === 'status') {
          const exportId = r.exportId ?? '';
          if (!EXPORT_ID_PATTERN.test(exportId)) {
            return fail(400, 'exportId: must be an execution name of 1-80 letters, digits, ".", "_" or "-"');
          }
          const status = await exportStatus(exportId, deps);
          return status.found ? respond(200, status.body) : fail(404, `no export with id ${exportId}`);
        }
        if (r.name === 'target') {
          const request = parseDeleteTarget(r.pathParameters, event.queryStringParameters);
          const deleted = await deleteTarget(request, deps);
          if (deleted.found) return respond(200, deleted.body);
          return fail(
            404,
            deleted.noRecord
              ? `no target ${request.target} for ${request.certificateArn} in the inventory: without its record (certificate name, directories) no files can be removed; nothing was changed (DELETE without removeFiles removes any leftover association)`
              : `no target ${request.target} for ${request.certificateArn}`,
          );
        }
        if (r.name === 'removal') {
          const key = parseTargetPath(r.pathParameters);
          const unknown = Object.keys(event.queryStringParameters ?? {});
          if (unknown.length > 0)
            throw new InvalidInput(
              `${unknown[0].replace(/[^A-Za-z0-9_.-]/g, '?').slice(0, 40)}: is not a known query parameter`,
            );
          const removal = await targetRemoval(key, deps);
          if (removal.found) return respond(200, removal.body);
          return removal.notRemoving
            ? fail(
                409,
                `target ${key.target} of ${key.certificateArn} is not being removed (DELETE ...?removeFiles=true starts that)`,
              )
            : fail(404, `no target ${key.target} for ${key.certificateArn} in the inventory (removed, or never added)`);
        }
        const query = parseListQuery(event.queryStringParameters);
        return respond(200, await listCertificates(query, deps));
      } catch (error) {
        if (error instanceof InvalidInput) return fail(400, error.message);
        if (error instanceof AcmExportError && error.name === 'Throttled')
          return fail(429, 'too many requests; try again later');
        logger.error('request failed', { errorName: error instanceof Error ? error.name : 'unknown' });
        return fail(500, 'internal error');
      }
    });
  };
}

export const handler = createHandler();
