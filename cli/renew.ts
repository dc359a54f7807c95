/** `acm-export renew ARN`: re-run the export workflow for every stored target of a certificate. */
import type { Command } from 'commander';
import type { CertificateTargetView, StartExportResponse } from '../lambda/export-api/api-types';
import { field } from '../lambda/shared/schemas';
import type { ExportRequest } from '../lambda/shared/schemas';
import { type CommandModule } from './command';
import { CliError, errorMessage } from './errors';
import { startExport, validateExportRequest } from './export';
import { printJson } from './output';
import { listInventory } from './certificates';
import { inputFromItem } from '../lambda/acm-renew/acm-renew';

/** The export request that repeats a stored target with its stored install options. */
export function requestForTarget(item: CertificateTargetView, dryRun = false): Record<string, unknown> {
  return { ...inputFromItem(item), ...(dryRun ? { DryRun: true } : {}) };
}

interface RenewResult {
  target: string;
  exportId?: string;
  executionArn?: string;
  startDate?: string;
  error?: string;
}

export const registerRenew: CommandModule = (program, context) => {
  program
    .command('renew')
    .summary('re-install a certificate on every target it was exported to')
    .description(
      'Start one export per stored target of the certificate, with the install options stored for that target\n' +
        '(for example after replacing a server, or when a renewal was not deployed).',
    )
    .argument('<arn>', 'ARN of the ACM certificate')
    .option('--dry-run', 'only list the matching nodes of each target')
    .addHelpText(
      'after',
      `
Examples:
  $ acm-export --stack AcmExport renew arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666
  $ acm-export --stack AcmExport renew ARN --json`,
    )
    .action(async (arn: string, options: { dryRun?: boolean }, command: Command) => {
      const globals = context.globals(command);
      const arnCheck = field('CertificateArn').safeParse(arn);
      if (!arnCheck.success) {
        throw new CliError(
          'reading ARN',
          arnCheck.error.issues[0]?.message ?? 'not a certificate ARN',
          'Pass the full certificate ARN (see "acm-export certificates --json").',
        );
      }
      const api = await context.api(command);
      const { items } = await listInventory(api, { all: true });
      const targets = items.filter((item) => item.certificateArn === arn);
      if (targets.length === 0) {
        throw new CliError(
          `renew ${arn}`,
          'the certificate has no stored targets',
          'Export it once with "acm-export export --arn ARN --name NAME --tag Key=Value"; later renewals reuse that target.',
        );
      }
      // Validate every request first, so a bad stored row sends nothing.
      const requests: [CertificateTargetView, ExportRequest][] = targets.map((item) => [
        item,
        validateExportRequest(requestForTarget(item, options.dryRun), `stored target ${item.target}`),
      ]);
      const results: RenewResult[] = [];
      for (const [item, body] of requests) {
        try {
          const started: StartExportResponse = await startExport(
            context,
            command,
            body,
            `POST /exports for target ${item.target}`,
          );
          results.push({ target: item.target, ...started });
          if (!globals.json) context.io.stdout.write(`${item.target}  ${started.exportId}\n`);
        } catch (error) {
          const message =
            error instanceof CliError
              ? error.line()
              : `acm-export: POST /exports for target ${item.target}: ${errorMessage(error)}.`;
          results.push({ target: item.target, error: message });
          context.io.stderr.write(`${message}\n`);
        }
      }
      if (globals.json) printJson(context.io.stdout, { certificateArn: arn, exports: results });
      context.exit(results.some((result) => result.error) ? 1 : 0);
    });
};
