/**
 * `acm-export local up|renew|demo`: the local-mode command group (registered in cli/commands.ts).
 */
import { readFileSync } from 'node:fs';
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
import { LocalModeError, startLocalMode, type LocalMode } from './runtime';

const DEFAULT_STATE_DIR = '.acm-export-local';

function localError(what: string, error: unknown): never {
  if (error instanceof LocalModeError) throw new CliError(what, error.message, 'Fix the cause above and try again.');
  throw error;
}

/** Resolves when SIGINT or SIGTERM arrives. */
function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const onSignal = (signal: string): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
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
    .option('--state-dir <dir>', 'keep state here across restarts', DEFAULT_STATE_DIR)
    .addHelpText(
      'after',
      `
Examples:
  $ acm-export local up
  $ acm-export local up --nodes 2 --port 4510 --tag App=shop
  $ acm-export local up --state-dir ./local-state   # a restart with the same dir keeps the inventory`,
    )
    .action(async (options: { port?: number; nodes: number; tag: string; stateDir: string }, command: Command) => {
      const { json } = context.globals(command);
      const { key, value } = parseTag(options.tag);
      let mode: LocalMode;
      try {
        mode = await startLocalMode({ port: options.port, nodes: options.nodes, tags: { [key]: value }, stateDir: options.stateDir });
      } catch (error) {
        localError('starting local mode', error);
      }
      const info = {
        endpoint: mode.apiEndpoint,
        region: mode.region,
        accessKeyId: mode.credentials.accessKeyId,
        secretAccessKey: mode.credentials.secretAccessKey,
        awsEndpoint: mode.awsEndpoint,
        stateDir: mode.root,
        server: mode.serverKind,
        nodes: mode.nodes.map((n) => ({ name: n.name, instanceId: n.instanceId, https: `https://127.0.0.1:${n.port}/`, tags: n.tags })),
      };
      if (json) printJson(context.io.stdout, info);
      else {
        const out = (line: string): void => {
          context.io.stdout.write(`${line}\n`);
        };
        out(`acm-export local mode is up (state in ${mode.root})`);
        out(`  API endpoint       ${mode.apiEndpoint}`);
        out(`  region             ${mode.region}`);
        out(`  access key id      ${mode.credentials.accessKeyId}`);
        out(`  secret access key  ${mode.credentials.secretAccessKey}`);
        out(`  AWS endpoint       ${mode.awsEndpoint}  (ACM, Secrets Manager, SSM, Step Functions; same key pair)`);
        out(`  nodes (${mode.serverKind === 'nginx' ? 'nginx' : 'built-in HTTPS server'}):`);
        for (const n of mode.nodes) out(`    ${n.name}  ${n.instanceId}  https://127.0.0.1:${n.port}/  ${key}=${value}`);
        out('');
        out('Try (another shell):');
        out(`  export AWS_ACCESS_KEY_ID=${mode.credentials.accessKeyId} AWS_SECRET_ACCESS_KEY='${mode.credentials.secretAccessKey}' AWS_REGION=${mode.region}`);
        out(`  acm-export --endpoint ${mode.apiEndpoint} certificates`);
        out(`  acm-export local renew <certificate-arn>`);
        out('Press Ctrl-C to stop.');
      }
      const signal = await untilSignal();
      context.io.stderr.write(`${signal}: stopping local mode…\n`);
      await mode.close();
      context.io.stderr.write('local mode stopped\n');
      context.exit(0);
    });

  local
    .command('renew')
    .description('renew a certificate in the running local mode: new serial, "ACM Certificate Available" to the renewal handler')
    .argument('<certificate-arn>', 'ARN of the local certificate')
    .option('--state-dir <dir>', 'state dir of the running "local up"', DEFAULT_STATE_DIR)
    .addHelpText(
      'after',
      `
Examples:
  $ acm-export local renew arn:aws:acm:us-east-1:000000000000:certificate/0a1b2c3d-1111-2222-3333-444455556666
  $ acm-export --endpoint http://127.0.0.1:4510/v1/ local renew ARN`,
    )
    .action(async (arn: string, options: { stateDir: string }, command: Command) => {
      const globals = context.globals(command);
      const check = field('CertificateArn').safeParse(arn);
      if (!check.success) throw new CliError('reading the ARN', check.error.issues[0]?.message ?? 'not a certificate ARN', 'Pass the full certificate ARN.');
      let endpoint = globals.endpoint;
      if (!endpoint) {
        try {
          endpoint = (JSON.parse(readFileSync(path.join(options.stateDir, 'endpoint.json'), 'utf8')) as { endpoint: string }).endpoint;
        } catch {
          throw new CliError('finding local mode', `no running "acm-export local up" found in ${options.stateDir}`, 'Start "acm-export local up" first, or pass --endpoint or --state-dir.');
        }
      }
      const api = new ApiClient({ endpoint: new URL(endpoint), region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS }, fetch: context.io.fetch });
      const result = await api.request<{ result: { started: number; alreadyStarted: number; executionArns: string[]; ignored?: string } }>('POST', '/_local/renew', { body: { certificateArn: arn } });
      if (globals.json) printJson(context.io.stdout, result);
      else {
        const r = result.result;
        context.io.stdout.write(r.ignored ? `renewal event ignored: ${r.ignored}\n` : `renewed; ${r.started} export(s) started${r.alreadyStarted ? `, ${r.alreadyStarted} already running` : ''}\n`);
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
      try {
        await runDemo(context.io, { json, nginx: options.builtinServer ? 'never' : 'auto' });
      } catch (error) {
        localError('running the demo', error);
      }
      context.exit(0);
    });
};
