/** Waiting for an export: poll GET /exports/{id} with a growing interval and show progress. */
import type { ExportStatusResponse, NodeOutcomesView } from '../lambda/export-api/api-types';
import { nodeFailureLine, nodeSkipLine, skipExplanation } from '../lambda/shared/contract';
import type { ApiClient } from './api-client';
import type { CliIo, OutputStream } from './context';
import { INSTALL_FAILED_ERROR } from '../lambda/shared/errors';
import { ApiError, apiErrorToCli, CliError } from './errors';
import { formatElapsed, printJson, shortDate } from './output';

export const FIRST_POLL_MS = 1000;
const GROWTH = 1.5;
/** Consecutive transient failures (network, 404 just after start, 429, 5xx) tolerated while polling. */
const MAX_TRANSIENT_ERRORS = 3;

const FAILED_STATUSES = new Set<ExportStatusResponse['status']>(['FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE']);

export function isFinished(status: ExportStatusResponse): boolean {
  return status.status !== 'RUNNING';
}

/** Exit code of an export that ended without failing anywhere but that some node skipped (it holds a newer certificate). */
export const EXIT_NOT_INSTALLED = 3;

/** Whether the only reason the export is not on every node is that nodes skipped it (no node failed). */
function onlySkipped(status: ExportStatusResponse): boolean {
  return (status.outcomes?.skipped ?? 0) > 0 && status.failures.length === 0 && status.nodes.failed === 0;
}

/**
 * 0 for a finished export installed on every node (and a running one), 3 when no node failed but some
 * skipped it (they hold a newer certificate: the certificate asked for is not installed there), 1 for any
 * other failure.
 */
export function exitCodeFor(status: ExportStatusResponse): number {
  if (status.status !== 'RUNNING' && onlySkipped(status)) return EXIT_NOT_INSTALLED;
  return FAILED_STATUSES.has(status.status) ? 1 : 0;
}

const nodes = (n: number): string => `${n} ${n === 1 ? 'node' : 'nodes'}`;

/** `installed on 0/3 node(s); 3 skipped: the node holds a newer certificate (serial ..., not after ...)`. */
function installedOn(outcomes: NodeOutcomesView, total: number): string {
  // A node whose run succeeded without a readable result line counts as installed: its command succeeded.
  const done = outcomes.installed + outcomes.unchanged + outcomes.unreported;
  const notes = [
    outcomes.unchanged ? `${outcomes.unchanged} already had it` : '',
    outcomes.unreported ? `${outcomes.unreported} gave no details` : '',
  ].filter(Boolean);
  const parts = [`installed on ${done}/${total} node(s)${notes.length ? ` (${notes.join(', ')})` : ''}`];
  if (outcomes.skipped) {
    const first = outcomes.skips[0];
    parts.push(`${outcomes.skipped} skipped${first ? `: ${skipExplanation(first)}` : ''}`);
  }
  return parts.join('; ');
}

/** `reloaded nginx on 3 nodes`, and the nodes where Service=auto found no web server to reload. */
function reloadLines(outcomes: NodeOutcomesView): string[] {
  const lines = Object.entries(outcomes.reloaded).map(([service, n]) => `reloaded ${service} on ${nodes(n)}`);
  if (outcomes.noWebServer)
    lines.push(`no running web server found on ${nodes(outcomes.noWebServer)}: files installed, no reload`);
  return lines;
}

export function exportPath(exportId: string): string {
  if (!/^[^\s/?#]{1,128}$/.test(exportId)) {
    throw new CliError(
      'reading EXPORT_ID',
      'it is not an export id',
      'Pass the id printed by "acm-export export" (an execution name).',
    );
  }
  return `/exports/${encodeURIComponent(exportId)}`;
}

export async function getStatus(api: ApiClient, exportId: string): Promise<ExportStatusResponse> {
  const path = exportPath(exportId);
  try {
    return await api.request<ExportStatusResponse>('GET', path);
  } catch (error) {
    throw error instanceof ApiError ? apiErrorToCli(error, `GET ${path}`) : error;
  }
}

/** One progress line: phase, nodes done/failed/total, elapsed. */
export function progressLine(status: ExportStatusResponse, now: number): string {
  const started = Date.parse(status.startDate);
  const end = status.stopDate ? Date.parse(status.stopDate) : now;
  const elapsed = Number.isFinite(started) ? formatElapsed(end - started) : '?';
  const { total, completed, failed } = status.nodes;
  return `${status.phase.padEnd(10)}  nodes ${completed}/${total} done, ${failed} failed  ${elapsed}`;
}

/** The end of a report: what happened, and for a failure one line per failed node. */
export function summaryLines(status: ExportStatusResponse): string[] {
  const lines: string[] = [];
  const id = status.exportId;
  if (status.status === 'RUNNING') {
    lines.push(`export ${id} is running (${status.phase})`);
  } else if (status.phase === 'DryRun') {
    lines.push(
      `dry run ${id}: ${status.nodes.total} node(s) match ${status.target ?? 'the target'}; nothing was exported or installed`,
    );
  } else if (status.phase === 'Superseded') {
    lines.push(`export ${id} stopped: a newer export of the same target owns it; nothing was installed by this one`);
  } else if (status.outcomes && onlySkipped(status)) {
    // Not a failure on any node, but not installed where a node skipped it: say so, never "succeeded".
    lines.push(`export ${id}: ${installedOn(status.outcomes, status.nodes.total)}`);
    lines.push(...reloadLines(status.outcomes).map((line) => `  ${line}`));
    for (const skip of status.outcomes.skips) lines.push(`  ${nodeSkipLine(skip)}`);
    if (status.outcomes.skipped > status.outcomes.skips.length)
      lines.push(`  … and ${status.outcomes.skipped - status.outcomes.skips.length} more`);
  } else if (FAILED_STATUSES.has(status.status)) {
    // An install failure's message is already the readable summary (which step failed on how many nodes).
    const error = !status.error
      ? ` ${status.status} in phase ${status.phase}`
      : status.error.name === INSTALL_FAILED_ERROR
        ? ` failed: ${status.error.message}`
        : ` ${status.status} in phase ${status.phase}: ${status.error.name}: ${status.error.message}`;
    lines.push(`export ${id}${error}`);
    for (const failure of status.failures.slice(0, 50)) lines.push(`  ${nodeFailureLine(failure)}`);
    if (status.failures.length > 50) lines.push(`  … and ${status.failures.length - 50} more`);
    for (const skip of status.outcomes?.skips ?? []) lines.push(`  ${nodeSkipLine(skip)}`);
  } else {
    const cert = status.serial ? `, serial ${status.serial}, expires ${shortDate(status.notAfter)}` : '';
    const where = status.outcomes
      ? installedOn(status.outcomes, status.nodes.total)
      : `installed on ${status.nodes.completed}/${status.nodes.total} node(s)`;
    lines.push(`export ${id} succeeded: ${where}${cert}`);
    if (status.outcomes) lines.push(...reloadLines(status.outcomes).map((line) => `  ${line}`));
  }
  return lines;
}

/** Human description of a status (the `status` command without --wait). */
export function describeStatus(status: ExportStatusResponse, now: number): string[] {
  const lines = [
    `export      ${status.exportId}`,
    `status      ${status.status} (${status.phase})`,
    `progress    ${progressLine(status, now).replace(/^\S+\s+/, '')}`,
  ];
  if (status.certName || status.certificateArn)
    lines.push(`certificate ${status.certName ?? '-'}  ${status.certificateArn ?? ''}`.trimEnd());
  if (status.target) lines.push(`target      ${status.target}`);
  if (status.serial) lines.push(`serial      ${status.serial}  expires ${shortDate(status.notAfter)}`);
  if (status.commandId) lines.push(`command     ${status.commandId}`);
  return [...lines, ...(status.status === 'RUNNING' ? [] : summaryLines(status))];
}

function isTransient(error: unknown): boolean {
  if (error instanceof ApiError) return error.status === 404 || error.status === 429 || error.status >= 500;
  return error instanceof CliError && error.why.startsWith('cannot reach');
}

class Progress {
  private last = '';
  private open = false;
  constructor(
    private readonly out: OutputStream,
    private readonly enabled: boolean,
  ) {}

  show(line: string, key: string): void {
    if (!this.enabled) return;
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[2K${line}`);
      this.open = true;
    } else if (key !== this.last) {
      this.out.write(`${line}\n`);
    }
    this.last = key;
  }

  end(): void {
    if (this.open) this.out.write('\n');
    this.open = false;
  }
}

/** Polls until the export finishes; prints progress (human mode) and the outcome. Returns the exit code. */
export async function waitForExport(
  api: ApiClient,
  exportId: string,
  io: CliIo,
  options: { json?: boolean; maxIntervalMs?: number } = {},
): Promise<number> {
  const maxInterval = options.maxIntervalMs ?? 5000;
  const path = exportPath(exportId);
  const progress = new Progress(io.stdout, !options.json);
  let interval = Math.min(FIRST_POLL_MS, maxInterval);
  let errors = 0;
  for (;;) {
    let status: ExportStatusResponse;
    try {
      status = await api.request<ExportStatusResponse>('GET', path);
      errors = 0;
    } catch (error) {
      errors += 1;
      if (!isTransient(error) || errors > MAX_TRANSIENT_ERRORS) {
        progress.end();
        throw error instanceof ApiError ? apiErrorToCli(error, `GET ${path}`) : error;
      }
      await io.sleep(interval);
      continue;
    }
    const { completed, failed, total } = status.nodes;
    progress.show(progressLine(status, io.now()), `${status.phase} ${completed} ${failed} ${total}`);
    if (isFinished(status)) {
      progress.end();
      if (options.json) printJson(io.stdout, status);
      else io.stdout.write(`${summaryLines(status).join('\n')}\n`);
      return exitCodeFor(status);
    }
    await io.sleep(interval);
    interval = Math.min(Math.round(interval * GROWTH), maxInterval);
  }
}
