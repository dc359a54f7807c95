/**
 * `acm-export`: the operator CLI. `run(argv, io)` builds the program, runs one command and returns the exit code;
 * it never calls process.exit, so tests drive it in-process with their own stdout/stderr/env/fetch.
 */
import { Command, CommanderError, Option } from 'commander';
import { createApiClient, type ApiClient } from './api-client';
import type { CommandContext, CommandModule } from './command';
import { COMMAND_MODULES } from './commands';
import { defaultIo, type CliIo, type GlobalOptions } from './context';
import { CliError, errorMessage } from './errors';

export type { CommandContext, CommandModule } from './command';
export type { CliIo, GlobalOptions } from './context';

/**
 * Exit codes: 0 success, 1 failure (also usage errors), 2 warnings only (doctor), 3 an export no node failed
 * but some node skipped (it holds a newer certificate), so it is not installed everywhere (export/status --wait).
 */
export const EXIT = { ok: 0, failure: 1, warnings: 2 } as const;

export function buildProgram(context: CommandContext, modules: readonly CommandModule[] = COMMAND_MODULES): Command {
  const { io } = context;
  const program = new Command('acm-export')
    .description(
      'Export ACM public certificates to your servers, follow the rollouts, and diagnose HTTPS certificate errors.',
    )
    .version(VERSION, '-V, --version')
    .addOption(new Option('--endpoint <url>', 'base URL of the export API (or set ACM_EXPORT_ENDPOINT)'))
    .addOption(new Option('--stack <name>', 'find the API URL in the outputs of this CloudFormation stack'))
    .option('--region <region>', "AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or the profile's region)")
    .option(
      '--profile <profile>',
      'named profile from the shared AWS config (default: AWS_PROFILE or the standard chain)',
    )
    .option('--json', 'machine-readable output')
    .option('--debug', 'print requests and full errors (stack traces) to stderr')
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => {
        const reason = text
          .replace(/^error:\s*/, '')
          .replace(/\s+/g, ' ')
          .trim()
          .replace(/\.$/, '');
        write(
          `acm-export: invalid command line: ${reason}. Run "acm-export --help" or "acm-export <command> --help".\n`,
        );
      },
    })
    .addHelpText(
      'after',
      `
Credentials come from the standard AWS chain (environment, --profile/AWS_PROFILE, SSO, instance role);
requests are signed with SigV4 for execute-api.

Exit codes: 0 success, 1 failure, 2 warnings only (doctor), 3 export not installed on every node
(no node failed, but some skipped it: they hold a newer certificate).

Examples:
  $ acm-export --stack AcmExport export --arn ARN --name www --tag Role=web --wait
  $ acm-export --stack AcmExport certificates --expiring-within 30
  $ acm-export doctor https://www.example.com/ --resolve www.example.com:443:203.0.113.10`,
    );
  for (const register of modules) register(program, context);
  return program;
}

const VERSION = '0.1.0';

/** Runs the CLI with `argv` (arguments after the program name) and returns the exit code. */
export async function run(
  argv: readonly string[],
  ioOverrides: Partial<CliIo> = {},
  extraModules: readonly CommandModule[] = [],
): Promise<number> {
  const io: CliIo = { ...defaultIo(), ...ioOverrides };
  let exitCode: number = EXIT.ok;
  const clients = new Map<string, Promise<ApiClient>>();
  const context: CommandContext = {
    io,
    globals: (command) => command.optsWithGlobals<GlobalOptions>(),
    api: (command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const key = JSON.stringify([globals.endpoint, globals.stack, globals.region, globals.profile]);
      let client = clients.get(key);
      if (!client) {
        client = createApiClient(globals, io);
        clients.set(key, client);
      }
      return client;
    },
    exit: (code) => {
      exitCode = code;
    },
  };
  const program = buildProgram(context, [...COMMAND_MODULES, ...extraModules]);
  const debug = argv.includes('--debug');
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; usage errors were already printed by outputError.
      return error.exitCode === 0 ? EXIT.ok : EXIT.failure;
    }
    const line =
      error instanceof CliError
        ? error.line()
        : `acm-export: ${errorMessage(error)}. Run again with --debug for details.`;
    io.stderr.write(`${line}\n`);
    if (debug && error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`);
    return EXIT.failure;
  }
}

if (require.main === module) {
  void run(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
