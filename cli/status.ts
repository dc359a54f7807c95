/** `acm-export status EXPORT_ID [--wait]`. */
import type { Command } from 'commander';
import { integerOption, type CommandModule } from './command';
import { printJson } from './output';
import { describeStatus, exitCodeFor, getStatus, waitForExport } from './wait';

export const registerStatus: CommandModule = (program, context) => {
  program
    .command('status')
    .summary('show the progress of an export')
    .description(
      'Show the phase, node counts and outcome of an export. Exits 1 when the export failed, 3 when no node\n' +
        'failed but some skipped it (they hold a newer certificate).',
    )
    .argument('<exportId>', 'id printed by "acm-export export"')
    .option(
      '--wait',
      'keep polling until the export ends; exit 1 if it fails, 3 if a node skipped it (it holds a newer certificate)',
    )
    .option('--poll-max <seconds>', 'longest pause between polls with --wait', integerOption('--poll-max', 1, 60), 5)
    .addHelpText(
      'after',
      `
Examples:
  $ acm-export --stack AcmExport status 5f0c8a2e-2b7d-4a39-9b0e-2f4c1d9e7a11
  $ acm-export --stack AcmExport status 5f0c8a2e-2b7d-4a39-9b0e-2f4c1d9e7a11 --wait --json`,
    )
    .action(async (exportId: string, options: { wait?: boolean; pollMax?: number }, command: Command) => {
      const globals = context.globals(command);
      const api = await context.api(command);
      if (options.wait) {
        context.exit(
          await waitForExport(api, exportId, context.io, {
            json: globals.json,
            maxIntervalMs: (options.pollMax ?? 5) * 1000,
          }),
        );
        return;
      }
      const status = await getStatus(api, exportId);
      if (globals.json) printJson(context.io.stdout, status);
      else context.io.stdout.write(`${describeStatus(status, context.io.now()).join('\n')}\n`);
      context.exit(exitCodeFor(status));
    });
};
