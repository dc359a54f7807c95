/** `acm-export export`: validate locally with the API's own schema, POST /exports, optionally wait. */
import type { Command } from 'commander';
import type { StartExportResponse } from '../lambda/export-api/api-types';
import { FIELDS, cliFlags, type Registry } from '../lambda/shared/fields';
import { exportRequestSchema, parseWith, type ExportRequest } from '../lambda/shared/schemas';
import { integerOption, type CommandContext, type CommandModule } from './command';
import { ApiError, apiErrorToCli, CliError } from './errors';
import { printJson } from './output';
import { waitForExport } from './wait';

/** Commander's parsed options: --tag, --wait, --poll-max, and one per registry field with a flag. */
interface ExportOptions {
  tag: string;
  wait?: boolean;
  pollMax?: number;
  [option: string]: string | boolean | number | undefined;
}

const FLAGS = cliFlags();

/** Which command-line option sets which API field (used to point at the option in error messages). */
export const OPTION_FOR_FIELD: Record<string, string> = {
  ...Object.fromEntries(FLAGS.map((f) => [f.field, f.flag.split(' ')[0]])),
  TargetTagKey: '--tag',
  TargetTagValue: '--tag',
};

/** Splits `Key=Value` at the first "=" (tag keys cannot contain "="). */
export function parseTag(tag: string): { key: string; value: string } {
  const at = tag.indexOf('=');
  if (at <= 0) {
    throw new CliError(
      'reading --tag',
      `"${tag.slice(0, 40)}" is not Key=Value`,
      'Pass the target tag as --tag Key=Value, e.g. --tag Role=web.',
    );
  }
  return { key: tag.slice(0, at), value: tag.slice(at + 1) };
}

/** Builds the request body from the options (undefined options stay out, so the API's defaults apply). */
export function buildExportRequest(options: ExportOptions): Record<string, unknown> {
  const { key, value } = parseTag(options.tag);
  const body: Record<string, unknown> = { TargetTagKey: key, TargetTagValue: value };
  for (const flag of FLAGS) {
    const given = options[flag.option];
    if (given === undefined || given === false) continue;
    const entry = (FIELDS as Registry)[flag.field];
    // A number when it looks like one, so the schema's own message covers everything else.
    body[flag.field] = flag.boolean
      ? true
      : entry.json === 'integer' && typeof given === 'string' && /^\d{1,6}$/.test(given)
        ? Number(given)
        : given;
  }
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
}

/** Validates with the same schema as the API; throws the same messages, naming the options. */
export function validateExportRequest(body: unknown, what = 'export request'): ExportRequest {
  const result = parseWith(exportRequestSchema(), body);
  if (!result.ok) {
    const fields = [
      ...new Set(
        Object.keys(OPTION_FOR_FIELD)
          .filter((field) => result.message.includes(`${field}:`))
          .map((f) => OPTION_FOR_FIELD[f]),
      ),
    ];
    throw new CliError(
      `${what} is invalid`,
      result.message,
      fields.length
        ? `Fix ${fields.join(', ')} and try again (nothing was sent).`
        : 'Fix the options and try again (nothing was sent).',
    );
  }
  return result.value;
}

export async function startExport(
  context: CommandContext,
  command: Command,
  body: ExportRequest,
  what = 'POST /exports',
): Promise<StartExportResponse> {
  const api = await context.api(command);
  try {
    return await api.request<StartExportResponse>('POST', '/exports', { body });
  } catch (error) {
    throw error instanceof ApiError ? apiErrorToCli(error, what) : error;
  }
}

export const registerExport: CommandModule = (program, context) => {
  const command = program
    .command('export')
    .summary('export an ACM certificate and install it on the servers with a tag')
    .description(
      'Export an ACM public certificate and install it on every managed node tagged Key=Value.\n' +
        'The request is checked locally with the same rules as the API before anything is sent.',
    );
  // The API fields' own options (required ones first), with --tag for the two tag fields after them.
  for (const flag of FLAGS.filter((f) => f.required)) command.requiredOption(flag.flag, flag.help);
  command.requiredOption('--tag <key=value>', 'install on the managed nodes with this tag');
  for (const flag of FLAGS.filter((f) => !f.required)) command.option(flag.flag, flag.help);
  command
    .option(
      '--wait',
      'show progress until the export ends; exit 1 if it fails, 3 if a node skipped it (it holds a newer certificate)',
    )
    .option(
      '--poll-max <seconds>',
      'longest pause between status polls with --wait',
      integerOption('--poll-max', 1, 60),
      5,
    )
    .addHelpText(
      'after',
      `
Examples:
  $ acm-export --stack AcmExport export --arn arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666 \\
      --name www --tag Role=web --service nginx --verify-port 443 --wait
  $ acm-export --endpoint https://abc123.execute-api.eu-west-1.amazonaws.com/prod/ export --arn ARN --name www --tag Role=web --dry-run --json`,
    )
    .action(async (options: ExportOptions, command: Command) => {
      const globals = context.globals(command);
      const body = validateExportRequest(buildExportRequest(options));
      const started = await startExport(context, command, body);
      if (!options.wait) {
        if (globals.json) printJson(context.io.stdout, started);
        else context.io.stdout.write(`${started.exportId}\n`);
        context.exit(0);
        return;
      }
      if (!globals.json) context.io.stdout.write(`export ${started.exportId} started\n`);
      const api = await context.api(command);
      const code = await waitForExport(api, started.exportId, context.io, {
        json: globals.json,
        maxIntervalMs: (options.pollMax ?? 5) * 1000,
      });
      context.exit(code);
    });
};
