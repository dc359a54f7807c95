/**
 * `acm-export --stack NAME selftest` against a deployed stack: the document, the canary secret and the log
 * group come from the stack outputs, SSM and CloudWatch Logs are called with the environment's credentials in
 * the --region, and each node gets one READY / NOT READY line (its output in the log group included).
 * SSM and CloudWatch Logs are mocked; every request they receive is checked against AWS's constraints.
 */
import 'aws-sdk-client-mock-jest';
import {
  AccessDeniedException,
  CloudWatchLogsClient,
  DescribeLogStreamsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  DescribeDocumentCommand,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  InvalidDocument,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SendCommandCommand,
  SSMClient,
  type CommandInvocationStatus,
} from '@aws-sdk/client-ssm';
import type { ExportStatusResponse } from '../../lambda/export-api/api-types';
import { mockAwsClient } from '../lambda/support';
import { runCli, type CliRun } from './helpers/cli-runner';
import { startFakeApi, TEST_CREDENTIALS, type FakeApi } from './helpers/fake-api';

const ssm = mockAwsClient(SSMClient);
const logs = mockAwsClient(CloudWatchLogsClient);

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const DOCUMENT_NAME = 'AcmExport-InstallDocumentA1B2C3D4-Xy12Ab34Cd56';
const CANARY_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:AcmExportPreflightCanary-AbCdEf`;
const LOG_GROUP = '/acm-export/AcmExport/commands';
const COMMAND_ID = '7d1f3a52-0c4e-4b9a-9e2f-5a6b7c8d9e0f';
const NODE_A = 'i-0a1b2c3d4e5f60001';
const NODE_B = 'i-0a1b2c3d4e5f60002';
const CERT_ARN = `arn:aws:acm:${REGION}:${ACCOUNT}:certificate/0a1b2c3d-1111-2222-3333-444455556666`;

const GOOD_AGENT = '3.3.2746.0';
const OLD_AGENT = '3.2.582.0';

/** The outputs of the deployed stack (see OUTPUTS in lib/acm-export-stack.ts). */
function stackOutputs(apiUrl = 'https://abc123def4.execute-api.eu-west-1.amazonaws.com/prod/'): Record<string, string> {
  return {
    ApiUrl: apiUrl,
    PreflightDocumentName: DOCUMENT_NAME,
    PreflightSecretArn: CANARY_ARN,
    CommandLogGroupName: LOG_GROUP,
    TableName: 'AcmExport-Inventory',
  };
}

/** What the document's preflight prints on a node: its log line on stderr, its JSON line on stdout. */
function preflightOutput(instanceId: string, over: { secret?: string } = {}): { stdout: string; stderr: string } {
  const secret = over.secret ?? 'ok';
  return {
    stdout: `${JSON.stringify({ node: instanceId, action: 'preflight', bash: '5.2', awsCli: '2.22.0', openssl: '3.0.13', server: 'nginx', secret, missing: [] })}\n`,
    stderr: `acm-export: preflight: bash 5.2.21(1)-release, aws-cli 2.22.0, openssl 3.0.13, server nginx, secret ${secret}\n`,
  };
}

/** The old agent does not pass the parameters as environment variables: the script stops at once. */
const OLD_AGENT_OUTPUT = {
  stdout: '',
  stderr:
    'acm-export: FAILED at parameters: SSM_SecretId SSM_Region not set: this document passes its parameters as environment variables (interpolationType ENV_VAR), which needs SSM Agent >= 3.3.2746.0; update the agent on this node\n',
};

interface FakeNode {
  instanceId: string;
  agentVersion: string;
  status: CommandInvocationStatus;
  output: { stdout: string; stderr: string };
  /** Whether the node's output reached the log group. */
  logStreams: boolean;
}

function goodNode(instanceId: string, over: Partial<FakeNode> = {}): FakeNode {
  return {
    instanceId,
    agentVersion: GOOD_AGENT,
    status: 'Success',
    output: preflightOutput(instanceId),
    logStreams: true,
    ...over,
  };
}

/** SSM and CloudWatch Logs as they answer for a registered document and these nodes of the tag. */
function deployment(nodes: FakeNode[]): void {
  ssm
    .on(DescribeDocumentCommand)
    .resolves({ Document: { Name: DOCUMENT_NAME, Status: 'Active', DocumentVersion: '3' } });
  ssm
    .on(SendCommandCommand)
    .resolves({ Command: { CommandId: COMMAND_ID, DocumentName: DOCUMENT_NAME, Status: 'Pending' } });
  // The first poll finds the command still running on the nodes, the second one finished.
  ssm
    .on(ListCommandInvocationsCommand)
    .resolvesOnce({
      CommandInvocations: nodes.map((n) => ({ CommandId: COMMAND_ID, InstanceId: n.instanceId, Status: 'InProgress' })),
    })
    .resolves({
      CommandInvocations: nodes.map((n) => ({ CommandId: COMMAND_ID, InstanceId: n.instanceId, Status: n.status })),
    });
  // The command ends after its invocations: the first poll finds it running, the later ones ended.
  const commandStatus = nodes.some((n) => n.status !== 'Success') ? 'Failed' : 'Success';
  ssm
    .on(ListCommandsCommand)
    .resolvesOnce({ Commands: [{ CommandId: COMMAND_ID, Status: 'InProgress' }] })
    .resolves({ Commands: [{ CommandId: COMMAND_ID, Status: commandStatus }] });
  ssm.on(DescribeInstanceInformationCommand).resolves({
    InstanceInformationList: nodes.map((n) => ({
      InstanceId: n.instanceId,
      AgentVersion: n.agentVersion,
      PingStatus: 'Online',
      PlatformType: 'Linux',
    })),
  });
  for (const n of nodes) {
    ssm.on(GetCommandInvocationCommand, { CommandId: COMMAND_ID, InstanceId: n.instanceId }).resolves({
      CommandId: COMMAND_ID,
      InstanceId: n.instanceId,
      Status: n.status,
      ResponseCode: n.status === 'Success' ? 0 : 10,
      StandardOutputContent: n.output.stdout,
      StandardErrorContent: n.output.stderr,
    });
  }
  logs.on(DescribeLogStreamsCommand).callsFake((input: { logStreamNamePrefix?: string }) => {
    const node = nodes.find((n) => input.logStreamNamePrefix === `${COMMAND_ID}/${n.instanceId}/`);
    if (!node?.logStreams) return { logStreams: [] };
    return {
      logStreams: ['stderr', 'stdout'].map((stream) => ({
        logStreamName: `${COMMAND_ID}/${node.instanceId}/InstallCertificate/${stream}`,
      })),
    };
  });
}

const lookups: unknown[][] = [];

function selftest(outputs: Record<string, string> = stackOutputs(), ...extra: string[]): Promise<CliRun> {
  return runCli(['--stack', 'AcmExport', '--region', REGION, 'selftest', '--tag', 'Role=web', ...extra], {
    stackOutputs: async (...args) => {
      lookups.push(args);
      return outputs;
    },
  });
}

function nodeLine(run: CliRun, instanceId: string): string {
  return run.stdout.split('\n').find((line) => line.startsWith(`${instanceId} `)) ?? '';
}

beforeEach(() => {
  ssm.reset();
  logs.reset();
  lookups.length = 0;
});

test('two ready nodes: the preflight is sent with the stack outputs, their output is found in the log group, two READY lines, exit 0', async () => {
  deployment([goodNode(NODE_A), goodNode(NODE_B)]);
  const run = await selftest();
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  expect(lookups).toContainEqual(['AcmExport', REGION, undefined]);

  expect(run.stdout).toMatch(new RegExp(`^document {3}${DOCUMENT_NAME}: registered \\(Active, version 3\\)$`, 'm'));
  expect(run.stdout).toMatch(
    new RegExp(`^preflight  command ${COMMAND_ID} on the nodes tagged Role=web; logs in ${LOG_GROUP}$`, 'm'),
  );
  for (const id of [NODE_A, NODE_B]) {
    expect(nodeLine(run, id)).toBe(
      `${id}  READY      agent 3.3.2746.0, aws-cli 2.22.0, openssl 3.0.13, bash 5.2, nginx, secret ok, logs ok`,
    );
  }
  expect(run.stdout).toMatch(/^READY: 2 of 2 node\(s\) ready$/m);

  expect(ssm).toHaveReceivedCommandTimes(SendCommandCommand, 1);
  expect(ssm).toHaveReceivedCommandWith(SendCommandCommand, {
    DocumentName: DOCUMENT_NAME,
    Targets: [{ Key: 'tag:Role', Values: ['web'] }],
    // Exactly the preflight document's parameters.
    Parameters: { SecretId: [CANARY_ARN], Region: [REGION] },
    CloudWatchOutputConfig: { CloudWatchOutputEnabled: true, CloudWatchLogGroupName: LOG_GROUP },
  });
  expect(logs).toHaveReceivedCommandTimes(DescribeLogStreamsCommand, 2);
  for (const id of [NODE_A, NODE_B]) {
    expect(logs).toHaveReceivedCommandWith(DescribeLogStreamsCommand, {
      logGroupName: LOG_GROUP,
      logStreamNamePrefix: `${COMMAND_ID}/${id}/`,
    });
  }
  // It waited for the invocations to finish before reading them.
  expect(run.sleeps.length).toBeGreaterThanOrEqual(1);

  // SSM and CloudWatch Logs are called in --region with the credentials of the environment.
  for (const stub of [ssm, logs]) {
    const client = stub.call(0).thisValue as SSMClient | CloudWatchLogsClient;
    await expect(client.config.region()).resolves.toBe(REGION);
    await expect(client.config.credentials()).resolves.toMatchObject(TEST_CREDENTIALS);
  }
});

test('a node with SSM Agent 3.2 and a node whose output never reached the log group are NOT READY, each saying why, exit 1', async () => {
  deployment([
    goodNode(NODE_A, { agentVersion: OLD_AGENT, status: 'Failed', output: OLD_AGENT_OUTPUT }),
    goodNode(NODE_B, { logStreams: false }),
  ]);
  const run = await selftest();
  expect(run.code).toBe(1);
  expect(nodeLine(run, NODE_A)).toBe(
    `${NODE_A}  NOT READY  agent 3.2.582.0 (needs >= 3.3.2746.0), parameters did not arrive as environment variables (SSM Agent too old), logs not checked`,
  );
  expect(nodeLine(run, NODE_B)).toBe(
    `${NODE_B}  NOT READY  agent 3.3.2746.0, aws-cli 2.22.0, openssl 3.0.13, bash 5.2, nginx, secret ok, logs missing`,
  );
  expect(run.stdout).toMatch(/^NOT READY: 0 of 2 node\(s\) ready$/m);
});

describe('the CLI may not read the log group (DescribeLogStreams denied)', () => {
  const denied = new AccessDeniedException({
    message: `User: arn:aws:sts::${ACCOUNT}:assumed-role/Operator/cli is not authorized to perform: logs:DescribeLogStreams on resource: arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${LOG_GROUP}:log-stream:`,
    $metadata: { httpStatusCode: 400 },
  });

  test('the nodes are not blamed: logs not checked, with the reason, and every other check passing is exit 0', async () => {
    deployment([goodNode(NODE_A), goodNode(NODE_B)]);
    logs.on(DescribeLogStreamsCommand).rejects(denied);
    const run = await selftest();
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    const preflight = run.stdout.split('\n').find((line) => line.startsWith('preflight ')) ?? '';
    expect(preflight).toContain('logs not checked: ');
    expect(preflight).toContain('is not authorized to perform: logs:DescribeLogStreams');
    for (const id of [NODE_A, NODE_B]) {
      expect(nodeLine(run, id)).toBe(
        `${id}  READY      agent 3.3.2746.0, aws-cli 2.22.0, openssl 3.0.13, bash 5.2, nginx, secret ok, logs not checked`,
      );
    }
    expect(run.stdout).toMatch(/^READY: 2 of 2 node\(s\) ready$/m);
  });

  test('the exit code still follows the other checks: a node that cannot read the canary secret makes it 1', async () => {
    deployment([goodNode(NODE_A), goodNode(NODE_B, { output: preflightOutput(NODE_B, { secret: 'denied' }) })]);
    logs.on(DescribeLogStreamsCommand).rejects(denied);
    const run = await selftest();
    expect(run.code).toBe(1);
    expect(nodeLine(run, NODE_A)).toMatch(/ {2}READY {6}.*, logs not checked$/);
    expect(nodeLine(run, NODE_B)).toMatch(/ {2}NOT READY {2}.*, secret denied, logs not checked$/);
    expect(run.stdout).toMatch(/^NOT READY: 1 of 2 node\(s\) ready$/m);
  });
});

test('the document is not registered: one clear error line, exit 1, nothing sent to the nodes', async () => {
  deployment([goodNode(NODE_A)]);
  ssm.on(DescribeDocumentCommand).rejects(
    new InvalidDocument({
      message: `Document with name ${DOCUMENT_NAME} does not exist.`,
      $metadata: { httpStatusCode: 400 },
    }),
  );
  const run = await selftest();
  expect(run.code).toBe(1);
  expect(run.stdout).toBe('');
  expect(run.stderr.split('\n')).toEqual([
    expect.stringMatching(
      new RegExp(
        `^acm-export: document ${DOCUMENT_NAME}: ssm:DescribeDocument failed \\(.*does not exist.*\\)\\. Check that the stack deployed`,
      ),
    ),
    '',
  ]);
  expect(ssm).not.toHaveReceivedCommand(SendCommandCommand);
  expect(logs).not.toHaveReceivedCommand(DescribeLogStreamsCommand);
});

test('a stack without the selftest outputs (deployed by an older version) is refused before any SSM call', async () => {
  deployment([goodNode(NODE_A)]);
  const { ApiUrl, TableName } = stackOutputs();
  const run = await selftest({ ApiUrl, TableName });
  expect(run.code).toBe(1);
  expect(run.stderr).toBe(
    'acm-export: looking up stack AcmExport: the stack has no output named PreflightDocumentName, PreflightSecretArn, CommandLogGroupName. Deploy the current version of the stack (cdk deploy), then run selftest again.\n',
  );
  expect(ssm.calls()).toHaveLength(0);
});

describe('with --certificate-arn: a dry-run export through the stack API', () => {
  let api: FakeApi | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  test('the dry run is posted (signed) to the ApiUrl of the stack and its node list is printed before the preflight', async () => {
    const dryRun: ExportStatusResponse = {
      exportId: 'selftest-dry-1',
      executionArn: `arn:aws:states:${REGION}:${ACCOUNT}:execution:ExportWorkflow:selftest-dry-1`,
      status: 'SUCCEEDED',
      phase: 'DryRun',
      startDate: '2026-11-20T10:00:00.000Z',
      stopDate: '2026-11-20T10:00:02.000Z',
      phases: { exportStarted: '2026-11-20T10:00:00.000Z', finished: '2026-11-20T10:00:02.000Z' },
      certificateArn: CERT_ARN,
      certName: 'acm-export-selftest',
      target: 'Role=web',
      nodes: { total: 2, completed: 0, failed: 0 },
      failures: [],
      dryRunNodeIds: [NODE_A, NODE_B],
    };
    api = await startFakeApi([
      (request) =>
        request.method === 'POST' && request.path === '/exports'
          ? {
              status: 200,
              body: { exportId: dryRun.exportId, executionArn: dryRun.executionArn, startDate: dryRun.startDate },
            }
          : undefined,
      (request) =>
        request.method === 'GET' && request.path === `/exports/${dryRun.exportId}`
          ? { status: 200, body: dryRun }
          : undefined,
    ]);
    deployment([goodNode(NODE_A), goodNode(NODE_B)]);
    const run = await selftest(stackOutputs(api.url), '--certificate-arn', CERT_ARN);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(api.rejected).toBe(0);
    expect(api.requests[0]).toMatchObject({
      method: 'POST',
      path: '/exports',
      body: { CertificateArn: CERT_ARN, TargetTagKey: 'Role', TargetTagValue: 'web', DryRun: true },
    });
    const lines = run.stdout.split('\n');
    const dryRunLine = lines.findIndex(
      (line) => line === `dry run    selftest-dry-1: would install on 2 node(s): ${NODE_A} ${NODE_B}`,
    );
    expect(dryRunLine).toBeGreaterThan(-1);
    expect(dryRunLine).toBeLessThan(lines.findIndex((line) => line.startsWith('preflight ')));
  });
});
