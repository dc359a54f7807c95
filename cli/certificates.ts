/** `acm-export certificates [--expiring-within DAYS] [--all]`: the inventory, one row per (certificate, target). */
import type { Command } from 'commander';
import type { CertificateTargetView, ListCertificatesResponse } from '../lambda/export-api/api-types';
import type { ApiClient } from './api-client';
import { integerOption, type CommandModule } from './command';
import { ApiError, apiErrorToCli } from './errors';
import { printJson, renderTable, shortArn, shortDate } from './output';

export function certificateRows(items: CertificateTargetView[]): string[][] {
  return items.map((item) => [
    item.certName,
    shortArn(item.certificateArn),
    item.target,
    item.lastSerial,
    shortDate(item.certExpiryDate),
    String(item.daysToExpiry),
    lastDeployCell(item),
  ]);
}

/**
 * LAST DEPLOY: a pending or failed removal of the files first (it is what happens to the target now), else
 * the last deploy, with "(caught up)" when the install association brought the nodes the push missed.
 */
export function lastDeployCell(item: CertificateTargetView): string {
  if (item.removalStatus)
    return `${item.removalStatus}${item.removalRequestedAt ? ` since ${shortDate(item.removalRequestedAt)}` : ''}`;
  if (!item.lastDeployStatus) return '-';
  const date = item.lastDeployedDate ? ` ${shortDate(item.lastDeployedDate)}` : '';
  return `${item.lastDeployStatus}${date}${item.lastDeploySource === 'association' ? ' (caught up)' : ''}`;
}

/** One line per node that kept a removed target's files (RemovalFailed rows). */
export function removalLines(items: CertificateTargetView[]): string[] {
  return items.flatMap((item) =>
    (item.removalFailures ?? []).map((line) => `${item.certName} (${item.target}): ${line}`),
  );
}

export const CERTIFICATE_HEADERS = ['NAME', 'ARN', 'TARGET', 'SERIAL', 'EXPIRES', 'DAYS LEFT', 'LAST DEPLOY'];

export const NODE_HEADERS = [
  'NAME',
  'TARGET',
  'NODE',
  'SERIAL',
  'SERVED',
  'VERIFIED',
  'IN SYNC',
  'LAST RUN',
  'INSTALLED',
  'CHECKED',
];

/** One row per node report (certificates --nodes); targets without reports get one "-" row. */
export function nodeRows(items: CertificateTargetView[]): string[][] {
  return items.flatMap((item) => {
    const nodes = item.nodes ?? [];
    if (nodes.length === 0)
      return [[item.certName, item.target, '(no node reports yet)', '-', '-', '-', '-', '-', '-', '-']];
    return nodes.map((n) => [
      item.certName,
      item.target,
      n.nodeId,
      n.serial || '-',
      n.servedSerial || '-',
      n.verified ? 'yes' : 'no',
      n.inSync ? 'yes' : 'NO',
      n.lastRun === 'failed' ? `failed (${n.failedStep || '?'})` : n.lastRun || '-',
      shortDate(n.installedAt),
      n.checkedAt ? shortTime(n.checkedAt) : '-',
    ]);
  });
}

/** `2026-11-20T10:04:05.123Z` → `2026-11-20 10:04` (when nodes last looked, to the minute). */
function shortTime(iso: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(iso);
  return m ? `${m[1]} ${m[2]}` : iso.slice(0, 16);
}

/** One line per node whose files are not a consistent set (the problem its last run found). */
export function problemLines(items: CertificateTargetView[]): string[] {
  return items.flatMap((item) =>
    (item.nodes ?? [])
      .filter((n) => n.problem)
      .map((n) => `${n.nodeId} (${item.certName}, ${item.target}): ${n.problem}`),
  );
}

/** Lists inventory rows; one page unless `all`. API errors become one-line CLI errors. */
export async function listInventory(
  api: ApiClient,
  options: { expiringWithinDays?: number; all?: boolean; nodes?: boolean },
): Promise<ListCertificatesResponse> {
  try {
    if (options.all)
      return {
        items: await api.allCertificates({ expiringWithinDays: options.expiringWithinDays, nodes: options.nodes }),
      };
    return await api.listCertificates({ expiringWithinDays: options.expiringWithinDays, nodes: options.nodes });
  } catch (error) {
    throw error instanceof ApiError ? apiErrorToCli(error, 'GET /certificates') : error;
  }
}

export const registerCertificates: CommandModule = (program, context) => {
  program
    .command('certificates')
    .alias('certs')
    .summary('list exported certificates and where they are installed')
    .description('List the inventory: one row per certificate and target, with serial, expiry and the last deployment.')
    .option(
      '--expiring-within <days>',
      'only certificates that expire within this many days',
      integerOption('--expiring-within', 0, 3650),
    )
    .option('--all', 'follow every page (default: the first page only)')
    .option(
      '--nodes',
      "also show every node's reported serials (SSM Inventory), when it last checked, and whether it is in sync",
    )
    .addHelpText(
      'after',
      `
Examples:
  $ acm-export --stack AcmExport certificates --all
  $ acm-export --stack AcmExport certificates --expiring-within 30 --json
  $ acm-export --stack AcmExport certificates --nodes`,
    )
    .action(async (options: { expiringWithin?: number; all?: boolean; nodes?: boolean }, command: Command) => {
      const globals = context.globals(command);
      const api = await context.api(command);
      const result = await listInventory(api, {
        expiringWithinDays: options.expiringWithin,
        all: options.all,
        nodes: options.nodes,
      });
      if (globals.json) {
        printJson(context.io.stdout, result);
      } else if (result.items.length === 0) {
        context.io.stdout.write(
          options.expiringWithin === undefined
            ? 'no certificates exported yet\n'
            : `no certificates expire within ${options.expiringWithin} days\n`,
        );
      } else {
        context.io.stdout.write(renderTable(CERTIFICATE_HEADERS, certificateRows(result.items)));
        for (const line of removalLines(result.items)) context.io.stdout.write(`removal failed: ${line}\n`);
        if (options.nodes) {
          context.io.stdout.write(`\n${renderTable(NODE_HEADERS, nodeRows(result.items))}`);
          for (const line of problemLines(result.items)) context.io.stdout.write(`problem: ${line}\n`);
          const drifting = result.items.reduce((n, item) => n + (item.nodesDrifting ?? 0), 0);
          if (drifting > 0)
            context.io.stdout.write(
              `${drifting} node(s) do not serve and hold the last exported certificate as a consistent set of files\n`,
            );
        }
        if (result.nextToken) context.io.stdout.write('(more rows: run with --all to list every page)\n');
      }
      context.exit(0);
    });
};
