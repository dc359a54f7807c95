/** `acm-export export`: validate locally with the API's own schema, POST /exports, optionally wait. */
import type { Command } from 'commander';
import type { StartExportResponse } from '../lambda/export-api/api-types';
import { exportRequestSchema, parseWith, type ExportRequest } from '../lambda/shared/schemas';
import { integerOption, type CommandContext, type CommandModule } from './command';
import { ApiError, apiErrorToCli, CliError } from './errors';
import { printJson } from './output';
import { waitForExport } from './wait';

interface ExportOptions {
  arn: string;
  name: string;
  tag: string;
  certDir?: string;
  keyDir?: string;
  service?: string;
  verifyPort?: string;
  maxConcurrency?: string;
  maxErrors?: string;
  dryRun?: boolean;
  wait?: boolean;
  pollMax?: number;
  keyOwner?: string;
  keyGroup?: string;
  keyMode?: string;
  certOwner?: string;
  certGroup?: string;
  certMode?: string;
  pkcs12?: boolean;
  combinedPem?: boolean;
  convergenceSchedule?: string;
}

/** Which command-line option sets which API field (used to point at the option in error messages). */
export const OPTION_FOR_FIELD: Record<string, string> = {
  CertificateArn: '--arn',
  CertName: '--name',
  TargetTagKey: '--tag',
  TargetTagValue: '--tag',
  CertDir: '--cert-dir',
  KeyDir: '--key-dir',
  Service: '--service',
  VerifyPort: '--verify-port',
  MaxConcurrency: '--max-concurrency',
  MaxErrors: '--max-errors',
  DryRun: '--dry-run',
  KeyOwner: '--key-owner',
  KeyGroup: '--key-group',
  KeyMode: '--key-mode',
  CertOwner: '--cert-owner',
  CertGroup: '--cert-group',
  CertMode: '--cert-mode',
  Pkcs12: '--pkcs12',
  CombinedPem: '--combined-pem',
  ConvergenceSchedule: '--convergence-schedule',
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
  const body: Record<string, unknown> = {
    CertificateArn: options.arn,
    CertName: options.name,
    TargetTagKey: key,
    TargetTagValue: value,
    CertDir: options.certDir,
    KeyDir: options.keyDir,
    Service: options.service,
    // A number when it looks like one, so the schema's own message covers everything else.
    VerifyPort:
      options.verifyPort === undefined
        ? undefined
        : /^\d{1,6}$/.test(options.verifyPort)
          ? Number(options.verifyPort)
          : options.verifyPort,
    MaxConcurrency: options.maxConcurrency,
    MaxErrors: options.maxErrors,
    DryRun: options.dryRun ? true : undefined,
    KeyOwner: options.keyOwner,
    KeyGroup: options.keyGroup,
    KeyMode: options.keyMode,
    CertOwner: options.certOwner,
    CertGroup: options.certGroup,
    CertMode: options.certMode,
    Pkcs12: options.pkcs12 ? true : undefined,
    CombinedPem: options.combinedPem ? true : undefined,
    ConvergenceSchedule: options.convergenceSchedule,
  };
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
  program
    .command('export')
    .summary('export an ACM certificate and install it on the servers with a tag')
    .description(
      'Export an ACM public certificate and install it on every managed node tagged Key=Value.\n' +
        'The request is checked locally with the same rules as the API before anything is sent.',
    )
    .requiredOption('--arn <arn>', 'ARN of the ACM certificate (created with export enabled)')
    .requiredOption(
      '--name <name>',
      'file name stem on the servers: <name>.crt, <name>.chain.pem, <name>.fullchain.pem, <name>.key',
    )
    .requiredOption('--tag <key=value>', 'install on the managed nodes with this tag')
    .option('--cert-dir <dir>', 'directory for the certificate files (default /etc/ssl/certs)')
    .option('--key-dir <dir>', 'directory for the private key (default /etc/ssl/private)')
    .option(
      '--service <service>',
      'web server to test and reload: auto (default: the one running on the node; none running: no reload), none, nginx, apache2 or httpd',
    )
    .option('--verify-port <port>', 'after install, check the certificate served on this local port (0 = skip)')
    .option('--max-concurrency <n|%>', 'how many nodes install at once (default 10%)')
    .option('--max-errors <n|%>', 'failures allowed before the rollout stops (default 0)')
    .option('--key-owner <user>', 'owner of the key, combined PEM and PKCS#12 files (default root)')
    .option('--key-group <group>', 'group of the key files (default root; the key becomes 0640)')
    .option('--key-mode <mode>', 'mode of the key files: 0600, 0640, 0400 or 0440')
    .option('--cert-owner <user>', 'owner of the certificate files (default root)')
    .option('--cert-group <group>', 'group of the certificate files (default root)')
    .option('--cert-mode <mode>', 'mode of the certificate files: 0644 (default), 0640, 0444, 0440, 0600 or 0400')
    .option(
      '--pkcs12',
      'also write <name>.p12 (key, certificate and chain; its passphrase is stored in the same secret version)',
    )
    .option('--combined-pem', 'also write <name>.combined.pem (key + full chain, e.g. for HAProxy)')
    .option(
      '--convergence-schedule <rate>',
      'how often nodes are re-checked and repaired, e.g. "rate(6 hours)" (default: the stack\'s, rate(12 hours))',
    )
    .option('--dry-run', 'list the matching nodes, export and install nothing')
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
