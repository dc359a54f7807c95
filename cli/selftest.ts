/**
 * `acm-export selftest --tag Key=Value [--certificate-arn ARN]`: right after a deploy (or against local mode
 * with --local), checks that the pipeline and the servers are ready before any certificate is installed:
 *   1. the stack's preflight document is registered (ssm:DescribeDocument);
 *   2. a DryRun export to the tag lists the nodes it would install on (only with --certificate-arn);
 *   3. the read-only preflight document runs on the nodes of the tag (tool versions, web
 *      server, whether the node can read and decrypt the stack's canary secret), the agent versions come
 *      from ssm:DescribeInstanceInformation, and the command's log streams are looked up in the log group.
 * One line per node; exit 0 when every node is ready, 1 otherwise.
 */
import { CloudWatchLogsClient, DescribeLogStreamsCommand } from '@aws-sdk/client-cloudwatch-logs';
import {
  DescribeDocumentCommand,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import type { Command } from 'commander';
import type { ExportStatusResponse } from '../lambda/export-api/api-types';
import { field } from '../lambda/shared/schemas';
import { LOCAL_REGION } from '../local/credentials';
import { connectLocalMode, findLocalMode, givenStateDir, localModeCredentials } from '../local/locate';
import { agentVersionAtLeast, ENV_VAR_MIN_AGENT_VERSION } from '../ssm-documents/load';
import { ApiClient, describeStackOutputs, resolveCredentials } from './api-client';
import { integerOption, type CommandContext, type CommandModule } from './command';
import { CliError, errorMessage, oneLine } from './errors';
import { parseTag, startExport, validateExportRequest } from './export';
import { printJson } from './output';
import { getStatus, isFinished } from './wait';

/** Stack outputs selftest reads (see OUTPUTS in lib/acm-export-stack.ts). */
const OUTPUT = {
  preflightDocumentName: 'PreflightDocumentName',
  preflightSecretArn: 'PreflightSecretArn',
  commandLogGroupName: 'CommandLogGroupName',
} as const;
/** CertName of the dry-run export request (a DryRun installs nothing). */
const PREFLIGHT_CERT_NAME = 'acm-export-selftest';
const TERMINAL = new Set([
  'Success',
  'Failed',
  'Cancelled',
  'TimedOut',
  'Undeliverable',
  'Terminated',
  'InvalidPlatform',
  'AccessDenied',
]);
const POLL_MS = 2000;
/** Looks for a node's log stream this many times, POLL_MS apart, before calling it missing. */
const LOG_STREAM_ATTEMPTS = 3;

interface SelftestOptions {
  tag: string;
  certificateArn?: string;
  local?: boolean;
  stateDir?: string;
  timeout: number;
}

/** What the preflight prints on its JSON line (see the script header). */
export interface PreflightReport {
  node: string;
  action: 'preflight';
  bash: string;
  awsCli: string;
  openssl: string;
  server: string;
  secret: 'ok' | 'denied' | 'notfound' | 'error';
  missing: string[];
}

export type LogsCheck = 'ok' | 'missing' | 'not checked';

export interface NodeReadiness {
  instanceId: string;
  ready: boolean;
  /** Invocation status of the preflight on this node. */
  status: string;
  agentVersion?: string;
  preflight?: PreflightReport;
  logs: LogsCheck;
  /** The line's details: what was found, with what is missing said next to it. */
  details: string[];
}

/** Where selftest sends its calls: the export API, SSM, and (deployed only) CloudWatch Logs. */
interface SelftestTarget {
  api: ApiClient;
  ssm: SSMClient;
  region: string;
  /** The stack's preflight document. */
  documentName: string;
  preflightSecretArn: string;
  /** Undefined in local mode (no CloudWatch Logs there). */
  logGroupName?: string;
  logs?: CloudWatchLogsClient;
}

/** Parses the preflight's JSON line out of a node's standard output. */
export function parsePreflight(stdout: string): PreflightReport | undefined {
  for (const line of stdout.split('\n').reverse()) {
    if (!line.startsWith('{')) continue;
    try {
      const value = JSON.parse(line) as Partial<PreflightReport>;
      if (value.action === 'preflight' && Array.isArray(value.missing)) return value as PreflightReport;
    } catch {
      // not the result line
    }
  }
  return undefined;
}

/** Why a preflight run produced no report: the script's FAILED line, or what the agent said. */
function failureReason(stderr: string, status: string): string {
  if (/needs SSM Agent >= /.test(stderr))
    return 'parameters did not arrive as environment variables (SSM Agent too old)';
  const lines = stderr.trim().split('\n').filter(Boolean);
  const failed = lines.reverse().find((l) => l.startsWith('acm-export: FAILED')) ?? lines[0];
  return `preflight ${status}${failed ? `: ${oneLine(failed.replace(/^acm-export: /, ''), 120)}` : ''}`;
}

/** Judges one node from its agent version, its preflight output and the log check. */
export function judgeNode(input: {
  instanceId: string;
  status: string;
  stdout: string;
  stderr: string;
  agentVersion?: string;
  logs: LogsCheck;
}): NodeReadiness {
  const details: string[] = [];
  let ready = true;
  const problem = (text: string): void => {
    ready = false;
    details.push(text);
  };
  const { agentVersion } = input;
  if (agentVersion === undefined) details.push('agent ?');
  else if (agentVersionAtLeast(agentVersion)) details.push(`agent ${agentVersion}`);
  else problem(`agent ${agentVersion} (needs >= ${ENV_VAR_MIN_AGENT_VERSION})`);
  const report = input.status === 'Success' ? parsePreflight(input.stdout) : undefined;
  if (!report) {
    problem(failureReason(input.stderr, input.status));
  } else {
    if (/^2\./.test(report.awsCli)) details.push(`aws-cli ${report.awsCli}`);
    else problem(report.awsCli ? `aws-cli ${report.awsCli} (needs v2)` : 'aws-cli missing');
    if (/^(1\.1\.1|[3-9]\.)/.test(report.openssl)) details.push(`openssl ${report.openssl}`);
    else problem(report.openssl ? `openssl ${report.openssl} (needs >= 1.1.1)` : 'openssl missing');
    const [major = 0, minor = 0] = report.bash.split('.').map(Number);
    if (major * 100 + minor >= 404) details.push(`bash ${report.bash}`);
    else problem(`bash ${report.bash} (needs >= 4.4)`);
    details.push(report.server === 'none' ? 'no web server' : report.server);
    const missing = report.missing.filter((tool) => tool !== 'aws' && tool !== 'openssl');
    if (missing.length) problem(`missing ${missing.join(',')}`);
    if (report.secret === 'ok') details.push('secret ok');
    else problem(`secret ${report.secret}`);
  }
  if (input.logs === 'missing') problem('logs missing');
  else details.push(`logs ${input.logs}`);
  return {
    instanceId: input.instanceId,
    ready,
    status: input.status,
    agentVersion,
    preflight: report,
    logs: input.logs,
    details,
  };
}

/** `i-0abc  READY      agent 3.3.2746.0, ...`, ids padded to a common width. */
export function readinessLines(nodes: readonly NodeReadiness[]): string[] {
  const width = Math.max(0, ...nodes.map((n) => n.instanceId.length));
  return nodes.map(
    (n) => `${n.instanceId.padEnd(width)}  ${(n.ready ? 'READY' : 'NOT READY').padEnd(9)}  ${n.details.join(', ')}`,
  );
}

async function resolveTarget(
  context: CommandContext,
  command: Command,
  options: SelftestOptions,
): Promise<SelftestTarget> {
  const globals = context.globals(command);
  if (options.local) {
    if (globals.stack || globals.endpoint)
      throw new CliError(
        'reading the options',
        '--local cannot be used with --stack or --endpoint',
        'Pass only one of them.',
      );
    const info = findLocalMode(givenStateDir(options.stateDir, context.io.env));
    const credentials = localModeCredentials(info);
    return {
      api: await connectLocalMode(info, context.io.fetch),
      ssm: new SSMClient({ region: LOCAL_REGION, endpoint: info.awsEndpoint, credentials }),
      region: LOCAL_REGION,
      documentName: info.preflightDocumentName,
      preflightSecretArn: info.preflightSecretArn,
    };
  }
  if (!globals.stack)
    throw new CliError(
      'reading the options',
      'selftest needs --stack NAME (or --local)',
      'Pass the name of the deployed stack, e.g. acm-export --stack AcmExport selftest --tag Role=web.',
    );
  const profile = globals.profile ?? context.io.env.AWS_PROFILE;
  const api = await context.api(command);
  const lookup = context.io.stackOutputs ?? describeStackOutputs;
  let outputs: Record<string, string>;
  try {
    outputs = await lookup(globals.stack, api.region, profile);
  } catch (error) {
    throw new CliError(
      `looking up stack ${globals.stack}`,
      `DescribeStacks failed (${errorMessage(error)})`,
      'Check the stack name, --region and the credentials.',
      { cause: error },
    );
  }
  const missing = Object.values(OUTPUT).filter((key) => !outputs[key]);
  if (missing.length) {
    throw new CliError(
      `looking up stack ${globals.stack}`,
      `the stack has no output named ${missing.join(', ')}`,
      'Deploy the current version of the stack (cdk deploy), then run selftest again.',
    );
  }
  const credentials = resolveCredentials(context.io, globals.profile);
  return {
    api,
    ssm: new SSMClient({ region: api.region, credentials }),
    region: api.region,
    documentName: outputs[OUTPUT.preflightDocumentName],
    preflightSecretArn: outputs[OUTPUT.preflightSecretArn],
    logGroupName: outputs[OUTPUT.commandLogGroupName],
    logs: new CloudWatchLogsClient({ region: api.region, credentials }),
  };
}

async function checkDocument(target: SelftestTarget): Promise<string> {
  try {
    const { Document: doc } = await target.ssm.send(new DescribeDocumentCommand({ Name: target.documentName }));
    if (doc?.Status && doc.Status !== 'Active') {
      throw new CliError(
        `document ${target.documentName}`,
        `its status is ${doc.Status}, not Active`,
        'Wait for the deployment to finish, or check the stack events.',
      );
    }
    return `registered (${doc?.Status ?? 'Active'}, version ${doc?.DocumentVersion ?? '?'})`;
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(
      `document ${target.documentName}`,
      `ssm:DescribeDocument failed (${errorMessage(error)})`,
      'Check that the stack deployed completely in this region and that you may call ssm:DescribeDocument.',
      { cause: error },
    );
  }
}

/** Starts a DryRun export to the tag and waits for it; returns its status. */
async function dryRun(
  context: CommandContext,
  command: Command,
  target: SelftestTarget,
  arn: string,
  tag: { key: string; value: string },
  deadline: number,
): Promise<ExportStatusResponse> {
  const body = validateExportRequest(
    {
      CertificateArn: arn,
      CertName: PREFLIGHT_CERT_NAME,
      TargetTagKey: tag.key,
      TargetTagValue: tag.value,
      DryRun: true,
    },
    'dry-run request',
  );
  const api = target.api;
  // Local mode signs with its own key pair; startExport takes the client from the context otherwise.
  const started = await startExport({ ...context, api: async () => api }, command, body, 'POST /exports (dry run)');
  for (;;) {
    const status = await getStatus(api, started.exportId);
    if (isFinished(status)) return status;
    if (context.io.now() > deadline)
      throw new CliError(
        `dry run ${started.exportId}`,
        'it did not finish in time',
        'Follow it with "acm-export status", or raise --timeout.',
      );
    await context.io.sleep(POLL_MS);
  }
}

async function agentVersions(ssm: SSMClient, instanceIds: string[]): Promise<Map<string, string>> {
  const versions = new Map<string, string>();
  for (let i = 0; i < instanceIds.length; i += 50) {
    let NextToken: string | undefined;
    do {
      const page = await ssm.send(
        new DescribeInstanceInformationCommand({
          Filters: [{ Key: 'InstanceIds', Values: instanceIds.slice(i, i + 50) }],
          MaxResults: 50,
          NextToken,
        }),
      );
      for (const info of page.InstanceInformationList ?? [])
        if (info.InstanceId && info.AgentVersion) versions.set(info.InstanceId, info.AgentVersion);
      NextToken = page.NextToken;
    } while (NextToken);
  }
  return versions;
}

/**
 * Whether the node's output of the command reached the log group: the agent names its streams
 * `<command id>/<instance id>/<step>/stdout|stderr`.
 */
async function logStreamsExist(
  logs: CloudWatchLogsClient,
  logGroupName: string,
  commandId: string,
  instanceId: string,
): Promise<boolean> {
  const page = await logs.send(
    new DescribeLogStreamsCommand({ logGroupName, logStreamNamePrefix: `${commandId}/${instanceId}/`, limit: 5 }),
  );
  return (page.logStreams ?? []).length > 0;
}

/** The agent uploads output as the run ends: a stream may appear a few seconds after the node reported Success. */
async function logStreamsExistSoon(
  context: CommandContext,
  logs: CloudWatchLogsClient,
  logGroupName: string,
  commandId: string,
  instanceId: string,
): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    if (await logStreamsExist(logs, logGroupName, commandId, instanceId)) return true;
    if (attempt >= LOG_STREAM_ATTEMPTS) return false;
    await context.io.sleep(POLL_MS);
  }
}

async function runPreflight(
  context: CommandContext,
  target: SelftestTarget,
  tag: { key: string; value: string },
  deadline: number,
): Promise<{ commandId: string; nodes: NodeReadiness[]; logsNote?: string }> {
  const { ssm } = target;
  let commandId: string;
  try {
    const sent = await ssm.send(
      new SendCommandCommand({
        DocumentName: target.documentName,
        Targets: [{ Key: `tag:${tag.key}`, Values: [tag.value] }],
        Parameters: {
          SecretId: [target.preflightSecretArn],
          Region: [target.region],
        },
        MaxConcurrency: '100%',
        // Every node reports, whatever the others found.
        MaxErrors: '100%',
        TimeoutSeconds: 60,
        Comment: 'acm-export selftest: read-only preflight',
        ...(target.logGroupName
          ? { CloudWatchOutputConfig: { CloudWatchOutputEnabled: true, CloudWatchLogGroupName: target.logGroupName } }
          : {}),
      }),
    );
    commandId = sent.Command?.CommandId ?? '';
  } catch (error) {
    const hint = /not defined in the document|allowed values|pattern/i.test(errorMessage(error))
      ? 'The deployed preflight document may be older than this CLI: deploy the current stack (cdk deploy) and try again.'
      : 'Check that you may call ssm:SendCommand on the document and on the nodes of the tag.';
    throw new CliError('sending the preflight', `ssm:SendCommand failed (${errorMessage(error)})`, hint, {
      cause: error,
    });
  }

  // Wait until every invocation is terminal (a node that never picks the command up times out at 60 s).
  let invocations: { InstanceId?: string; Status?: string }[] = [];
  for (;;) {
    invocations = [];
    let NextToken: string | undefined;
    do {
      const page = await ssm.send(
        new ListCommandInvocationsCommand({ CommandId: commandId, MaxResults: 50, NextToken }),
      );
      invocations.push(...(page.CommandInvocations ?? []));
      NextToken = page.NextToken;
    } while (NextToken);
    // Done when the command itself has ended (SSM may not have listed every node's invocation before), and
    // every invocation listed has too. No node with the tag: the command ends without invocations.
    const listed = await ssm.send(new ListCommandsCommand({ CommandId: commandId }));
    const commandEnded = TERMINAL.has(listed.Commands?.[0]?.Status ?? '');
    if (commandEnded && invocations.every((i) => TERMINAL.has(i.Status ?? ''))) break;
    if (context.io.now() > deadline) break;
    await context.io.sleep(POLL_MS);
  }
  const ids = invocations
    .map((i) => i.InstanceId ?? '')
    .filter(Boolean)
    .sort();
  const versions = ids.length ? await agentVersions(ssm, ids) : new Map<string, string>();
  let logsNote = target.logGroupName ? undefined : 'not checked: local mode has no CloudWatch Logs';
  const nodes: NodeReadiness[] = [];
  for (const instanceId of ids) {
    const status = invocations.find((i) => i.InstanceId === instanceId)?.Status ?? 'Unknown';
    let stdout = '';
    let stderr = '';
    if (TERMINAL.has(status)) {
      const out = await ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));
      stdout = out.StandardOutputContent ?? '';
      stderr = out.StandardErrorContent ?? '';
    }
    let logs: LogsCheck = 'not checked';
    if (target.logs && target.logGroupName && status === 'Success' && !logsNote) {
      try {
        logs = (await logStreamsExistSoon(context, target.logs, target.logGroupName, commandId, instanceId))
          ? 'ok'
          : 'missing';
      } catch (error) {
        // The CLI's own identity may not read the group: the nodes are not at fault.
        logsNote = `not checked: ${errorMessage(error)}`;
      }
    }
    nodes.push(
      judgeNode({
        instanceId,
        status: TERMINAL.has(status) ? status : `${status} (timed out waiting)`,
        stdout,
        stderr,
        agentVersion: versions.get(instanceId),
        logs,
      }),
    );
  }
  return { commandId, nodes, logsNote };
}

export const registerSelftest: CommandModule = (program, context) => {
  program
    .command('selftest')
    .summary('check that the deployed pipeline and the servers with a tag are ready, changing nothing')
    .description(
      'Check a deployment before the first export: the preflight document is registered, a dry-run export to the ' +
        "tag lists its nodes (with --certificate-arn), and the document's read-only preflight runs on every node " +
        "with the tag (SSM Agent, AWS CLI v2, OpenSSL, bash, web server, access to the stack's canary secret, " +
        'output in the log group). The preflight takes no lock, writes no file and reloads nothing.',
    )
    .requiredOption('--tag <key=value>', 'check the managed nodes with this tag')
    .option(
      '--certificate-arn <arn>',
      'also run a dry-run export of this certificate to the tag (lists the nodes; exports nothing, installs nothing)',
    )
    .option('--local', 'check the running local mode instead of a deployed stack')
    .option(
      '--state-dir <dir>',
      'with --local: the state dir of the running "local up" (default: $ACM_EXPORT_LOCAL_STATE_DIR, else the only one running)',
    )
    .option(
      '--timeout <seconds>',
      'how long to wait for the dry run and the nodes',
      integerOption('--timeout', 10, 3600),
      300,
    )
    .addHelpText(
      'after',
      `
Exit codes: 0 every node is ready, 1 a node is not ready or a check failed.

Examples:
  $ acm-export --stack AcmExport selftest --tag Role=web
  $ acm-export --stack AcmExport selftest --tag Role=web --certificate-arn ARN
  $ acm-export selftest --local --tag Role=web
`,
    )
    .action(async (options: SelftestOptions, command: Command) => {
      const { json } = context.globals(command);
      const out = (line: string): void => {
        if (!json) context.io.stdout.write(`${line}\n`);
      };
      const tag = parseTag(options.tag);
      if (options.certificateArn !== undefined) {
        const check = field('CertificateArn').safeParse(options.certificateArn);
        if (!check.success)
          throw new CliError(
            'reading --certificate-arn',
            check.error.issues[0]?.message ?? 'not a certificate ARN',
            'Pass the full ACM certificate ARN.',
          );
      }
      const deadline = context.io.now() + options.timeout * 1000;
      const target = await resolveTarget(context, command, options);
      try {
        const document = await checkDocument(target);
        out(`document   ${target.documentName}: ${document}`);

        let dryRunResult: { exportId: string; phase: string; nodeIds: string[]; error?: string } | undefined;
        let dryRunOk = true;
        if (options.certificateArn === undefined) {
          out(
            `dry run    skipped: pass --certificate-arn ARN to check that an export to ${tag.key}=${tag.value} finds these nodes`,
          );
        } else {
          const status = await dryRun(context, command, target, options.certificateArn, tag, deadline);
          dryRunOk = status.phase === 'DryRun';
          dryRunResult = {
            exportId: status.exportId,
            phase: status.phase,
            nodeIds: status.dryRunNodeIds ?? [],
            ...(status.error ? { error: `${status.error.name}: ${status.error.message}` } : {}),
          };
          if (dryRunOk)
            out(
              `dry run    ${status.exportId}: would install on ${status.nodes.total} node(s): ${(status.dryRunNodeIds ?? []).join(' ') || '-'}`,
            );
          else
            out(
              `dry run    ${status.exportId}: FAILED${dryRunResult.error ? ` (${oneLine(dryRunResult.error, 200)})` : ''}`,
            );
        }

        const preflight = await runPreflight(context, target, tag, deadline);
        out(
          `preflight  command ${preflight.commandId} on the nodes tagged ${tag.key}=${tag.value}; logs ${preflight.logsNote ?? `in ${target.logGroupName}`}`,
        );
        for (const line of readinessLines(preflight.nodes)) out(line);
        const readyCount = preflight.nodes.filter((n) => n.ready).length;
        if (preflight.nodes.length === 0) out(`no managed node has the tag ${tag.key}=${tag.value}`);
        const allReady = dryRunOk && preflight.nodes.length > 0 && readyCount === preflight.nodes.length;
        out(
          `${allReady ? 'READY' : 'NOT READY'}: ${readyCount} of ${preflight.nodes.length} node(s) ready${dryRunOk ? '' : '; the dry run failed'}`,
        );
        if (json) {
          printJson(context.io.stdout, {
            ready: allReady,
            document: { name: target.documentName, status: document },
            dryRun: dryRunResult ?? 'skipped',
            commandId: preflight.commandId,
            logs: preflight.logsNote ?? `checked in ${target.logGroupName}`,
            nodes: preflight.nodes,
          });
        }
        context.exit(allReady ? 0 : 1);
      } finally {
        target.ssm.destroy();
        target.logs?.destroy();
      }
    });
};
