/**
 * `acm-export local up|renew|demo`: the local-mode command group (registered in cli/commands.ts).
 */
import { lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import * as path from 'node:path';
import type { Command } from 'commander';
import type { CommandModule } from '../cli/command';
import { integerOption } from '../cli/command';
import { ApiClient } from '../cli/api-client';
import { CliError } from '../cli/errors';
import { parseTag } from '../cli/export';
import { printJson } from '../cli/output';
import { field } from '../lambda/shared/schemas';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './credentials';
import { runDemo } from './demo';
import { ENDPOINT_FILE, type LocalEndpointFile } from './endpoint-file';
import { LocalModeError } from './errors';
import { startLocalMode, type LocalMode } from './runtime';

function localError(what: string, error: unknown): never {
  if (error instanceof LocalModeError) throw new CliError(what, error.message, 'Fix the cause above and try again.');
  throw error;
}

/**
 * Per-user directory where a running `local up` announces its endpoint (`endpoint.json`, removed when it
 * stops): how `local renew` finds it without flags, whatever state dir it uses.
 */
export function localRunDir(): string {
  const user =
    typeof process.getuid === 'function'
      ? String(process.getuid())
      : userInfo().username.replace(/[^A-Za-z0-9_.-]/g, '_');
  return path.join(tmpdir(), `acm-export-run-${user}`);
}

/** The run directory must be a real directory of this user, not a link or someone else's. */
function checkRunDir(dir: string): void {
  const st = lstatSync(dir);
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (!st.isDirectory() || st.isSymbolicLink() || (uid !== undefined && st.uid !== uid))
    throw new LocalModeError(`${dir} is not a directory owned by this user; remove it and try again`);
}

const SIGNAL_EXIT_CODES: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

interface SignalGuard {
  /** The local mode being started (its close() runs on a signal, after the start ends). */
  track(starting: Promise<LocalMode>): void;
  /** A signal arrived: local mode is being stopped and the process exits when that is done. */
  readonly signalled: boolean;
  /** Removes the handlers (the command ended without a signal). */
  dispose(): void;
}

/**
 * Ctrl-C and SIGTERM stop local mode cleanly, also while it is still starting: registered before the start,
 * so a signal during startup waits for the start to end (or fail, which cleans up itself), then closes
 * everything (nginx masters, servers, a temporary state dir with the CA and keys) and exits 130 / 143.
 * A second signal exits at once.
 */
function guardSignals(stderr: { write(text: string): unknown }): SignalGuard {
  let starting: Promise<LocalMode> | undefined;
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    const code = SIGNAL_EXIT_CODES[signal] ?? 1;
    if (signalled) {
      stderr.write(`${signal} again: exiting without waiting for local mode to stop\n`);
      process.exit(code);
    }
    signalled = true;
    stderr.write(`${signal}: stopping local mode…\n`);
    void (async () => {
      const mode = await starting?.catch(() => undefined);
      try {
        await mode?.close();
        stderr.write('local mode stopped\n');
      } catch (error) {
        stderr.write(
          `acm-export: stopping local mode failed: ${error instanceof Error ? error.message : String(error)}\n`,
        );
      }
      process.exit(code);
    })();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    track: (promise) => {
      starting = promise;
    },
    get signalled() {
      return signalled;
    },
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Never settles: the signal handler exits the process once local mode is stopped. */
const untilExit = (): Promise<never> => new Promise<never>(() => undefined);

/** Reads an endpoint file; undefined when there is none or its process is gone (e.g. killed with -9). */
function readEndpointFile(file: string): LocalEndpointFile | undefined {
  let info: LocalEndpointFile;
  try {
    info = JSON.parse(readFileSync(file, 'utf8')) as LocalEndpointFile;
  } catch {
    return undefined;
  }
  if (typeof info.endpoint !== 'string') return undefined;
  if (Number.isInteger(info.pid)) {
    try {
      process.kill(info.pid, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
    }
  }
  return info;
}

/**
 * The running `local up` (or local mode started elsewhere) of this user, or the one whose state dir is
 * `stateDir`: what its endpoint file says. Fails with one line when none is running.
 */
export function findLocalMode(stateDir: string | undefined): LocalEndpointFile {
  const file = path.join(stateDir ?? localRunDir(), ENDPOINT_FILE);
  if (stateDir === undefined) {
    try {
      checkRunDir(path.dirname(file));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') localError('finding local mode', error);
    }
  }
  const info = readEndpointFile(file);
  if (!info)
    throw new CliError(
      'finding local mode',
      `no running local mode (${stateDir === undefined ? 'no "acm-export local up" is running for this user' : `no "acm-export local up" is running with --state-dir ${stateDir}`})`,
      'Start "acm-export local up" first, or pass --endpoint URL (printed by "local up").',
    );
  return info;
}

export const registerLocalCommands: CommandModule = (program, context) => {
  const local = program
    .command('local')
    .summary('run the whole product on this machine (no AWS account needed)')
    .description(
      'Local mode: the real handlers and state machine definition, local ACM/Secrets Manager/SSM/Step Functions,\n' +
        'DynamoDB (dynalite), a signed local API and local nodes serving HTTPS (nginx when installed).',
    )
    .addHelpText(
      'after',
      `
Examples:
  $ acm-export local demo
  $ acm-export local up --nodes 2 --tag Role=web
  $ acm-export local renew ARN     # while "local up" runs, in another shell`,
    );

  local
    .command('up')
    .description('start local mode and keep it running until Ctrl-C')
    .option('--port <n>', 'port of the local API (default: a free port)', integerOption('--port', 1, 65535))
    .option('--nodes <n>', 'number of local nodes', integerOption('--nodes', 1, 20), 3)
    .option('--tag <key=value>', 'tag of every node', 'Role=web')
    .option(
      '--state-dir <dir>',
      'keep state (CA, certificates, secrets, inventory, nodes) here across restarts (default: a temporary directory, removed on exit)',
    )
    .addHelpText(
      'after',
      `
Examples:
  $ acm-export local up
  $ acm-export local up --nodes 2 --port 4510 --tag App=shop
  $ acm-export local up --state-dir ./local-state   # a restart with the same dir keeps the inventory`,
    )
    .action(async (options: { port?: number; nodes: number; tag: string; stateDir?: string }, command: Command) => {
      const { json } = context.globals(command);
      const { key, value } = parseTag(options.tag);
      const runDir = localRunDir();
      const guard = guardSignals(context.io.stderr);
      let mode: LocalMode;
      try {
        mkdirSync(runDir, { recursive: true, mode: 0o700 });
        checkRunDir(runDir);
        const starting = startLocalMode({
          port: options.port,
          nodes: options.nodes,
          tags: { [key]: value },
          stateDir: options.stateDir,
          endpointFile: path.join(runDir, ENDPOINT_FILE),
        });
        guard.track(starting);
        mode = await starting;
      } catch (error) {
        if (guard.signalled) return untilExit();
        guard.dispose();
        localError('starting local mode', error);
      }
      if (guard.signalled) return untilExit();
      const info = {
        endpoint: mode.apiEndpoint,
        region: mode.region,
        accessKeyId: mode.credentials.accessKeyId,
        secretAccessKey: mode.credentials.secretAccessKey,
        awsEndpoint: mode.awsEndpoint,
        stateDir: mode.root,
        persistent: options.stateDir !== undefined,
        server: mode.serverKind,
        nodes: mode.nodes.map((n) => ({
          name: n.name,
          instanceId: n.instanceId,
          https: `https://127.0.0.1:${n.port}/`,
          tags: n.tags,
        })),
      };
      if (json) printJson(context.io.stdout, info);
      else {
        const out = (line: string): void => {
          context.io.stdout.write(`${line}\n`);
        };
        out(
          `acm-export local mode is up (state in ${mode.root}${options.stateDir === undefined ? ', temporary: removed on exit; pass --state-dir DIR to keep it' : ''})`,
        );
        out(`  API endpoint       ${mode.apiEndpoint}`);
        out(`  region             ${mode.region}`);
        out(`  access key id      ${mode.credentials.accessKeyId}`);
        out(`  secret access key  ${mode.credentials.secretAccessKey}`);
        out(`  AWS endpoint       ${mode.awsEndpoint}  (ACM, Secrets Manager, SSM, Step Functions; same key pair)`);
        out(`  nodes (${mode.serverKind === 'nginx' ? 'nginx' : 'built-in HTTPS server'}):`);
        for (const n of mode.nodes)
          out(`    ${n.name}  ${n.instanceId}  https://127.0.0.1:${n.port}/  ${key}=${value}`);
        out('');
        out('Try (another shell):');
        out(
          `  export AWS_ACCESS_KEY_ID=${mode.credentials.accessKeyId} AWS_SECRET_ACCESS_KEY='${mode.credentials.secretAccessKey}' AWS_REGION=${mode.region}`,
        );
        out(`  acm-export --endpoint ${mode.apiEndpoint} certificates`);
        out(`  acm-export local renew <certificate-arn>`);
        out('Press Ctrl-C to stop.');
      }
      // Runs until SIGINT/SIGTERM: the guard stops local mode and exits 130/143.
      return untilExit();
    });

  local
    .command('renew')
    .description(
      'renew a certificate in the running local mode: new serial, "ACM Certificate Available" to the renewal handler',
    )
    .argument('<certificate-arn>', 'ARN of the local certificate')
    .option(
      '--state-dir <dir>',
      'state dir of the running "local up" (default: the one "local up" announces for this user)',
    )
    .addHelpText(
      'after',
      `
Examples:
  $ acm-export local renew arn:aws:acm:us-east-1:000000000000:certificate/0a1b2c3d-1111-2222-3333-444455556666
  $ acm-export local renew --state-dir ./local-state ARN
  $ acm-export --endpoint http://127.0.0.1:4510/v1/ local renew ARN`,
    )
    .action(async (arn: string, options: { stateDir?: string }, command: Command) => {
      const globals = context.globals(command);
      const check = field('CertificateArn').safeParse(arn);
      if (!check.success)
        throw new CliError(
          'reading the ARN',
          check.error.issues[0]?.message ?? 'not a certificate ARN',
          'Pass the full certificate ARN.',
        );
      const endpoint = globals.endpoint ?? findLocalMode(options.stateDir).endpoint;
      const api = new ApiClient({
        endpoint: new URL(endpoint),
        region: LOCAL_REGION,
        credentials: { ...LOCAL_CREDENTIALS },
        fetch: context.io.fetch,
      });
      const result = await api.request<{
        result: { started: number; alreadyStarted: number; executionArns: string[]; ignored?: string };
      }>('POST', '/_local/renew', { body: { certificateArn: arn } });
      if (globals.json) printJson(context.io.stdout, result);
      else {
        const r = result.result;
        context.io.stdout.write(
          r.ignored
            ? `renewal event ignored: ${r.ignored}\n`
            : `renewed; ${r.started} export(s) started${r.alreadyStarted ? `, ${r.alreadyStarted} already running` : ''}\n`,
        );
        for (const e of r.executionArns) context.io.stdout.write(`  ${e.slice(e.lastIndexOf(':') + 1)}\n`);
      }
      context.exit(0);
    });

  local
    .command('demo')
    .description('start local mode with 3 nodes, export a certificate, renew it, verify both over TLS, print a summary')
    .option('--json', 'print the summary as JSON on the last line')
    .option('--builtin-server', 'use the built-in HTTPS server on the nodes even when nginx is installed')
    .addHelpText(
      'after',
      `
Examples:
  $ acm-export local demo
  $ acm-export local demo --json | tail -n 1
  $ acm-export local demo --builtin-server`,
    )
    .action(async (options: { json?: boolean; builtinServer?: boolean }, command: Command) => {
      const json = options.json ?? context.globals(command).json;
      const guard = guardSignals(context.io.stderr);
      try {
        await runDemo(context.io, {
          json,
          nginx: options.builtinServer ? 'never' : 'auto',
          onStart: (starting) => guard.track(starting),
        });
      } catch (error) {
        // Interrupted: the demo fails because local mode is being stopped; the guard exits.
        if (guard.signalled) return untilExit();
        guard.dispose();
        localError('running the demo', error);
      }
      if (guard.signalled) return untilExit();
      guard.dispose();
      context.exit(0);
    });
};
