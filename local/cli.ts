/**
 * `acm-export local up|demo|renew|ca|associations run|drift-check`: the local-mode command group (registered
 * in cli/commands.ts). The client commands (all but up and demo) talk to one running `local up`: the one of
 * --state-dir (or ACM_EXPORT_LOCAL_STATE_DIR), else the only one running (see locate.ts).
 */
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { Option, type Command } from 'commander';
import type { CommandContext, CommandModule } from '../cli/command';
import { integerOption } from '../cli/command';
import { ApiClient, resolveCredentials } from '../cli/api-client';
import { ApiError, apiErrorToCli, CliError } from '../cli/errors';
import { parseTag } from '../cli/export';
import { printJson, shortArn } from '../cli/output';
import { targetKey } from '../lambda/shared/contract';
import { field } from '../lambda/shared/schemas';
import type { LocalAssociationRunRequest } from './api';
import type { LocalAssociationRunResult } from './association-runs';
import { LOCAL_REGION } from './credentials';
import { runDemo } from './demo';
import { LocalModeError } from './errors';
import {
  checkRunDir,
  connectLocalMode,
  findLocalMode,
  givenStateDir,
  localRunDir,
  runDirEndpointFile,
  STATE_DIR_ENV,
} from './locate';
import { readRootCa, rootCaLines } from './root-ca';
import { startLocalMode, type LocalDriftCheckResult, type LocalMode } from './runtime';

function localError(what: string, error: unknown): never {
  if (error instanceof LocalModeError) throw new CliError(what, error.message, 'Fix the cause above and try again.');
  throw error;
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

const STATE_DIR_HELP = `state dir of the running "local up" to talk to (default: $${STATE_DIR_ENV}, else the only local mode running)`;

/**
 * A signed client for the local API the command means: --endpoint as given (nothing to check it against),
 * else the local mode of the state dir (or the only one running), after checking it is that instance.
 */
async function localApi(context: CommandContext, command: Command, stateDir: string | undefined): Promise<ApiClient> {
  const { endpoint, profile } = context.globals(command);
  if (endpoint !== undefined) {
    if (stateDir !== undefined)
      throw new CliError('reading the options', '--endpoint and --state-dir both name a local mode', 'Pass only one.');
    return new ApiClient({
      endpoint: new URL(endpoint),
      region: LOCAL_REGION,
      // No state dir to read the key pair from: the credentials of the environment, as for the other commands.
      credentials: resolveCredentials(context.io, profile),
      fetch: context.io.fetch,
    });
  }
  return connectLocalMode(findLocalMode(givenStateDir(stateDir, context.io.env)), context.io.fetch);
}

/** POST to a local control route; API errors become the usual one-line CLI errors. */
async function control<T>(api: ApiClient, what: string, route: string, body: unknown): Promise<T> {
  try {
    return await api.request<T>('POST', route, { body });
  } catch (error) {
    if (error instanceof ApiError) throw apiErrorToCli(error, what);
    throw error;
  }
}

function writer(context: CommandContext): (line: string) => void {
  return (line) => {
    context.io.stdout.write(`${line}\n`);
  };
}

function printAssociationRuns(out: (line: string) => void, result: LocalAssociationRunResult): number {
  const runs = result.associations.flatMap((a) => a.runs);
  const failed = runs.filter((r) => r.status !== 'Success').length;
  if (result.associations.length === 0) {
    out('no associations to run (each target gets an install and a report association when it is exported)');
    return 0;
  }
  const kinds = ['install', 'report', 'other']
    .map((k) => [k, result.associations.filter((a) => a.kind === k).length] as const)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`);
  out(
    `ran ${result.associations.length} association(s) (${kinds.join(', ')}): ${runs.length} node run(s), ${runs.length - failed} succeeded${failed ? `, ${failed} did not` : ''}`,
  );
  for (const a of result.associations) {
    const about = [a.target, a.certName ? `cert name ${a.certName}` : undefined].filter(Boolean).join(', ');
    out(`  ${a.kind} association ${a.associationId}${about ? ` (${about})` : ''}`);
    if (a.runs.length === 0) out('    no node ran it (no online node has the target tag)');
    for (const r of a.runs) out(`    ${(r.node ?? '').padEnd(8)}  ${r.instanceId}  ${r.status}`);
  }
  return failed;
}

function printDriftCheck(out: (line: string) => void, r: LocalDriftCheck): void {
  out(
    `drift check: ${r.targetsChecked} target(s) checked${r.targetsSkipped ? `, ${r.targetsSkipped} skipped (no completed export, or exported within the grace period)` : ''}; ${r.nodesReporting} node(s) reporting`,
  );
  if (r.driftingNodes === 0 && !r.silentNodes)
    out('  no drift: every reporting node holds and serves the current certificate of its target');
  if (r.driftingNodes > 0)
    out(
      `  DRIFT: ${r.driftingNodes} node(s) in ${r.driftingTargets} target(s) do not hold or serve the current certificate; ${r.alertsSent} alert(s) sent (logs/alerts.log in the state dir)`,
    );
  if (r.silentNodes)
    out(
      `  SILENT: ${r.silentNodes} node(s) carry a target's tag but report nothing for it; ${r.alertsSent} alert(s) sent (logs/alerts.log in the state dir)`,
    );
  for (const a of r.alerts ?? []) out(`  alert: ${a.subject}`);
}

/** The drift check's summary and the alerts it raised, as `POST /_local/drift-check` answers. */
type LocalDriftCheck = LocalDriftCheckResult & { alerts?: { time: string; subject: string }[] };

export const registerLocalCommands: CommandModule = (program, context) => {
  const local = program
    .command('local')
    .summary('run the whole product on this machine (no AWS account needed)')
    .description(
      'Local mode: the real handlers and state machine definition, local ACM/Secrets Manager/SSM/Step Functions,\n' +
        'DynamoDB (dynalite), a signed local API and local nodes serving HTTPS (nginx when installed).\n' +
        'The commands other than up and demo talk to a running "local up": the one of --state-dir DIR\n' +
        `(or ${STATE_DIR_ENV}), else the only one running for this user.`,
    )
    .addHelpText(
      'after',
      `
Examples:
  $ acm-export local demo
  $ acm-export local up --nodes 2 --tag Role=web
  $ acm-export local renew ARN                     # while "local up" runs, in another shell
  $ acm-export local ca > local-root-ca.pem
  $ acm-export local associations run --kind report
  $ acm-export local drift-check`,
    );

  local
    .command('up')
    .description('start local mode and keep it running until Ctrl-C')
    .option('--port <n>', 'port of the local API (default: a free port)', integerOption('--port', 1, 65535))
    .option('--nodes <n>', 'number of local nodes', integerOption('--nodes', 1, 20), 3)
    .option('--tag <key=value>', 'tag of every node', 'Role=web')
    .option(
      '--state-dir <dir>',
      `keep state (CA, certificates, secrets, inventory, nodes) here across restarts (default: $${STATE_DIR_ENV}, else a temporary directory, removed on exit)`,
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
      const stateDir = givenStateDir(options.stateDir, context.io.env);
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
          stateDir,
          endpointFile: runDirEndpointFile(runDir),
        });
        guard.track(starting);
        mode = await starting;
      } catch (error) {
        if (guard.signalled) return untilExit();
        guard.dispose();
        localError('starting local mode', error);
      }
      if (guard.signalled) return untilExit();
      const rootCa = { file: mode.rootCaFile, sha256: mode.rootCaFingerprint };
      const info = {
        endpoint: mode.apiEndpoint,
        region: mode.region,
        accessKeyId: mode.credentials.accessKeyId,
        secretAccessKey: mode.credentials.secretAccessKey,
        awsEndpoint: mode.awsEndpoint,
        stateDir: mode.root,
        persistent: stateDir !== undefined,
        instance: mode.instance,
        rootCa,
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
        const out = writer(context);
        out(
          `acm-export local mode is up (state in ${mode.root}${stateDir === undefined ? ', temporary: removed on exit; pass --state-dir DIR to keep it' : ''})`,
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
        for (const line of rootCaLines(rootCa.file, rootCa.sha256, mode.nodes[0]?.port)) out(line);
        out('');
        out('Try (another shell):');
        out(
          `  export AWS_ACCESS_KEY_ID=${mode.credentials.accessKeyId} AWS_SECRET_ACCESS_KEY='${mode.credentials.secretAccessKey}' AWS_REGION=${mode.region}`,
        );
        out(`  export ${STATE_DIR_ENV}=${mode.root}   # local commands then talk to this instance`);
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
    .option('--state-dir <dir>', STATE_DIR_HELP)
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
      const api = await localApi(context, command, options.stateDir);
      const result = await control<{
        result: { started: number; alreadyStarted: number; executionArns: string[]; ignored?: string };
      }>(api, `renewing ${shortArn(arn)}`, '/_local/renew', { certificateArn: arn });
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
    .command('ca')
    .description(
      'print the local root CA certificate (PEM; public, safe to share) to stdout, e.g. to trust it in a client',
    )
    .option('--state-dir <dir>', `state dir of the local mode (default: $${STATE_DIR_ENV}, else the only one running)`)
    .addHelpText(
      'after',
      `
With --json: {"file", "sha256", "pem"}. With a state dir, the local mode need not be running.

Examples:
  $ acm-export local ca > local-root-ca.pem
  $ acm-export local ca --state-dir ./local-state | openssl x509 -noout -subject -fingerprint -sha256
  $ curl --cacert <(acm-export local ca) https://www.example.test:8443/ --resolve www.example.test:8443:127.0.0.1`,
    )
    .action((options: { stateDir?: string }, command: Command) => {
      const dir = givenStateDir(options.stateDir, context.io.env);
      let ca;
      if (dir !== undefined) ca = readRootCa(path.resolve(dir));
      else {
        const info = findLocalMode(undefined);
        ca = readRootCa(info.root, info.rootCaFile);
      }
      if (context.globals(command).json) printJson(context.io.stdout, ca);
      else context.io.stdout.write(ca.pem.endsWith('\n') ? ca.pem : `${ca.pem}\n`);
      context.exit(0);
    });

  const associations = local
    .command('associations')
    .description(
      "the targets' State Manager associations: each exported target has an install association (installs the\n" +
        'current certificate where it is missing or outdated, on the convergence schedule) and a report association\n' +
        '(report document: changes nothing, refreshes what each node reports for the drift check, hourly)',
    );
  associations
    .command('run')
    .description('run associations now, as their schedules would, and wait for their runs (default: every association)')
    .addOption(
      new Option('--kind <kind>', 'only the install or only the report associations').choices(['install', 'report']),
    )
    .option('--arn <certificate-arn>', "only this certificate's associations (with --target)")
    .option('--target <key=value>', "only this target's associations (with --arn)")
    .option('--state-dir <dir>', STATE_DIR_HELP)
    .addHelpText(
      'after',
      `
Exit code: 0 when every node run succeeded, 1 otherwise.

Examples:
  $ acm-export local associations run
  $ acm-export local associations run --kind report     # only refresh the nodes' reports
  $ acm-export local associations run --kind install --arn ARN --target Role=web`,
    )
    .action(
      async (
        options: { kind?: 'install' | 'report'; arn?: string; target?: string; stateDir?: string },
        command: Command,
      ) => {
        if ((options.arn === undefined) !== (options.target === undefined))
          throw new CliError('reading the options', '--arn and --target go together', 'Pass both, or neither.');
        const request: LocalAssociationRunRequest = { ...(options.kind ? { kind: options.kind } : {}) };
        if (options.arn !== undefined && options.target !== undefined) {
          const check = field('CertificateArn').safeParse(options.arn);
          if (!check.success)
            throw new CliError(
              'reading --arn',
              check.error.issues[0]?.message ?? 'not a certificate ARN',
              'Pass the full certificate ARN.',
            );
          const tag = parseTag(options.target);
          request.certificateArn = options.arn;
          request.target = targetKey(tag.key, tag.value);
        }
        const api = await localApi(context, command, options.stateDir);
        const result = await control<LocalAssociationRunResult>(
          api,
          'running the associations',
          '/_local/associations/run',
          request,
        );
        const failed = result.associations.flatMap((a) => a.runs).filter((r) => r.status !== 'Success').length;
        if (context.globals(command).json) printJson(context.io.stdout, result);
        else printAssociationRuns(writer(context), result);
        if (failed)
          throw new CliError(
            'running the associations',
            `${failed} node run(s) did not succeed`,
            'See the nodes above; "acm-export local drift-check" shows what they report.',
          );
        context.exit(0);
      },
    );

  local
    .command('drift-check')
    .description(
      'run the drift check now (the stack runs it hourly): compares what each node last reported with the\n' +
        "current certificate of its target and raises one alert per drifting target. It reads the nodes' last\n" +
        'reports: run "local associations run --kind report" first to refresh them.',
    )
    .option('--state-dir <dir>', STATE_DIR_HELP)
    .addHelpText(
      'after',
      `
Exit code: 0 when the check ran (drift or not; --json has driftingNodes for scripts), 1 when it failed.

Examples:
  $ acm-export local drift-check
  $ acm-export local drift-check --json`,
    )
    .action(async (options: { stateDir?: string }, command: Command) => {
      const api = await localApi(context, command, options.stateDir);
      const result = await control<LocalDriftCheck>(api, 'running the drift check', '/_local/drift-check', {});
      if (context.globals(command).json) printJson(context.io.stdout, result);
      else printDriftCheck(writer(context), result);
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
