/** `acm-export certificates [--expiring-within DAYS] [--all]`: the inventory, one row per (certificate, target). */
import type { Command } from 'commander';
import type { CertificateTargetView, ListCertificatesResponse } from '../lambda/shared/api-types';
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
    item.lastDeployStatus ? `${item.lastDeployStatus}${item.lastDeployedDate ? ` ${shortDate(item.lastDeployedDate)}` : ''}` : '-',
  ]);
}

export const CERTIFICATE_HEADERS = ['NAME', 'ARN', 'TARGET', 'SERIAL', 'EXPIRES', 'DAYS LEFT', 'LAST DEPLOY'];

/** Lists inventory rows; one page unless `all`. API errors become one-line CLI errors. */
export async function listInventory(api: ApiClient, options: { expiringWithinDays?: number; all?: boolean }): Promise<ListCertificatesResponse> {
  try {
    if (options.all) return { items: await api.allCertificates({ expiringWithinDays: options.expiringWithinDays }) };
    return await api.listCertificates({ expiringWithinDays: options.expiringWithinDays });
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
    .option('--expiring-within <days>', 'only certificates that expire within this many days', integerOption('--expiring-within', 0, 3650))
    .option('--all', 'follow every page (default: the first page only)')
    .addHelpText(
      'after',
      `
Examples:
  $ acm-export --stack AcmExport certificates --all
  $ acm-export --stack AcmExport certificates --expiring-within 30 --json`,
    )
    .action(async (options: { expiringWithin?: number; all?: boolean }, command: Command) => {
      const globals = context.globals(command);
      const api = await context.api(command);
      const result = await listInventory(api, { expiringWithinDays: options.expiringWithin, all: options.all });
      if (globals.json) {
        printJson(context.io.stdout, result);
      } else if (result.items.length === 0) {
        context.io.stdout.write(options.expiringWithin === undefined ? 'no certificates exported yet\n' : `no certificates expire within ${options.expiringWithin} days\n`);
      } else {
        context.io.stdout.write(renderTable(CERTIFICATE_HEADERS, certificateRows(result.items)));
        if (result.nextToken) context.io.stdout.write('(more rows: run with --all to list every page)\n');
      }
      context.exit(0);
    });
};
