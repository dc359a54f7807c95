import {
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SSMClient,
  SendCommandCommand,
  DescribeInstanceInformationCommand,
} from '@aws-sdk/client-ssm';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import 'aws-sdk-client-mock-jest';
import { createHandler as createStatusHandler } from '../../lambda/status-check/handler';
import { createHandler as createInstallHandler } from '../../lambda/ssm-run/handler';
import { INITIAL_POLL, InstallTaskResult, PollState } from '../../lambda/shared/contract';
import { pollWaitSeconds } from '../../lambda/status-check/backoff';
import { MAX_NODE_LINES } from '../../lambda/shared/contract';
import { OUTCOME_EXPLANATIONS } from '../../lambda/status-check/status-check';
import { safeLine } from '../../lambda/shared/redact';
import { CERT_ARN, COMMAND_ID, EXPORT_RESULT, INPUT, executionArn, startInventory, mockAwsClient } from './support';

const ssm = mockAwsClient(SSMClient);
let inventory: Awaited<ReturnType<typeof startInventory>>;
let status: ReturnType<typeof createStatusHandler>;
let install: ReturnType<typeof createInstallHandler>;
const NOW = new Date('2026-11-20T10:05:00.000Z');
const SENT: InstallTaskResult = { outcome: 'Sent', commandId: COMMAND_ID, targetCount: 2 };

beforeAll(async () => {
  inventory = await startInventory();
  const common = { ddb: inventory.ddb, tableName: inventory.tableName, region: 'us-east-1', now: () => NOW };
  status = createStatusHandler(common);
  install = createInstallHandler({
    ...common,
    documentName: 'Doc',
    reportDocumentName: 'ReportDoc',
    stackName: 'AcmExport',
    logGroupName: '/logs',
    timeoutSeconds: 600,
  });
});
afterAll(async () => inventory.stop());

let n = 0;
function freshInput() {
  n++;
  return { ...INPUT, CertificateArn: CERT_ARN.replace(/[0-9a-f]{4}$/, n.toString(16).padStart(4, '0')) };
}

function payload(input: object, poll: PollState = INITIAL_POLL, name = 'exec-1') {
  return {
    input,
    export: EXPORT_RESULT,
    install: SENT,
    poll,
    executionArn: executionArn(name),
    executionStartTime: '2026-11-20T10:00:00.000Z',
  };
}

/** Puts the inventory item in place the way the install task does. */
async function installed(input: object, name = 'exec-1', start = '2026-11-20T10:00:00.000Z') {
  ssm
    .on(DescribeInstanceInformationCommand)
    .resolves({ InstanceInformationList: [{ InstanceId: 'i-0123456789abcdef0' }] });
  ssm.on(SendCommandCommand).resolves({ Command: { CommandId: COMMAND_ID } });
  await install({ input, export: EXPORT_RESULT, executionArn: executionArn(name), executionStartTime: start });
  ssm.reset();
}

async function stored(certificateArn: string) {
  return (
    await inventory.ddb.send(
      new GetCommand({ TableName: inventory.tableName, Key: { certificateArn, target: 'Role=web' } }),
    )
  ).Item;
}

beforeEach(() => ssm.reset());

const NEW_SERIAL = '0A1B2C3D4E5F60718293';
const HELD_SERIAL = '7F00112233445566AABB';
/** A node's plugin Output as Run Command returns it: stdout (the result line), the marker, then stderr. */
function nodeOutput(instanceId: string, fields: Record<string, unknown>, stderr: string[] = []): string {
  const line = JSON.stringify({
    node: instanceId,
    certName: 'www',
    serial: NEW_SERIAL,
    notAfter: '2027-01-01T00:00:00Z',
    names: ['www.example.com'],
    files: { cert: '/etc/ssl/certs/www.crt', key: '/etc/ssl/private/www.key' },
    service: 'nginx',
    requestedService: 'auto',
    reloaded: true,
    verified: false,
    changed: true,
    secretVersionId: '11111111-2222-3333-4444-555555555555',
    ...fields,
  });
  return `${line}\n${stderr.length ? `\n----------ERROR-------\n${stderr.join('\n')}\n` : ''}`;
}
const SKIPPED = {
  changed: false,
  reloaded: false,
  skipped: 'older than installed',
  installedSerial: HELD_SERIAL,
  installedNotAfter: '2027-06-01T00:00:00Z',
};
function succeeded(instanceId: string, output: string) {
  return {
    InstanceId: instanceId,
    Status: 'Success' as const,
    StatusDetails: 'Success',
    CommandPlugins: [{ Name: 'InstallCertificate', Status: 'Success' as const, ResponseCode: 0, Output: output }],
  };
}
function successCommand(targetCount: number) {
  return {
    Commands: [
      {
        Status: 'Success' as const,
        StatusDetails: 'Success',
        TargetCount: targetCount,
        CompletedCount: targetCount,
        ErrorCount: 0,
        DeliveryTimedOutCount: 0,
      },
    ],
  };
}

describe('status-check', () => {
  test('in progress: one ListCommands call, counts, and a growing capped wait', async () => {
    ssm.on(ListCommandsCommand).resolves({
      Commands: [
        {
          CommandId: COMMAND_ID,
          Status: 'InProgress',
          StatusDetails: 'In Progress',
          TargetCount: 4,
          CompletedCount: 1,
          ErrorCount: 0,
          DeliveryTimedOutCount: 0,
        },
      ],
    });
    const input = freshInput();
    const first = await status(payload(input));
    expect(first).toEqual({
      status: 'InProgress',
      attempt: 1,
      waitSeconds: 4,
      targetCount: 4,
      completedCount: 1,
      errorCount: 0,
      deliveryTimedOutCount: 0,
    });
    expect(ssm).toHaveReceivedCommandTimes(ListCommandsCommand, 1);
    expect(ssm).toHaveReceivedCommandWith(ListCommandsCommand, { CommandId: COMMAND_ID });
    expect(ssm).not.toHaveReceivedCommand(ListCommandInvocationsCommand);
    const later = await status(payload(input, { ...first, attempt: 9 }));
    expect(later.waitSeconds).toBe(10);
    expect([0, 1, 2, 3, 4, 5].map((a) => pollWaitSeconds(a))).toEqual([2, 4, 8, 10, 10, 10]);
  });

  test('success on every node: Succeeded, and the inventory records it', async () => {
    const input = freshInput();
    await installed(input);
    ssm.on(ListCommandsCommand).resolves({
      Commands: [
        {
          Status: 'Success',
          StatusDetails: 'Success',
          TargetCount: 2,
          CompletedCount: 2,
          ErrorCount: 0,
          DeliveryTimedOutCount: 0,
        },
      ],
    });
    ssm.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        succeeded('i-00000000000000001', nodeOutput('i-00000000000000001', {}, ['acm-export: reloaded nginx'])),
        succeeded('i-00000000000000002', nodeOutput('i-00000000000000002', {})),
      ],
    });
    const result = await status(payload(input, { ...INITIAL_POLL, attempt: 2 }));
    expect(result).toMatchObject({ status: 'Succeeded', attempt: 3, targetCount: 2, completedCount: 2 });
    expect(result.failures).toBeUndefined();
    expect(result.outcomes).toEqual({
      installed: 2,
      unchanged: 0,
      skipped: 0,
      unreported: 0,
      reloaded: { nginx: 2 },
      noWebServer: 0,
      skips: [],
    });
    // One listing of every invocation, with their output, no status filter: it also finds Undeliverable ones.
    expect(ssm.commandCalls(ListCommandInvocationsCommand).map((c) => c.args[0].input)).toEqual([
      { CommandId: COMMAND_ID, Details: true, MaxResults: 50 },
    ]);
    expect(await stored(input.CertificateArn)).toMatchObject({
      lastDeployStatus: 'Succeeded',
      lastDeployedDate: NOW.toISOString(),
    });
  });

  test('every node skipped the certificate (it holds a newer one): Failed, not installed, the nodes named', async () => {
    const input = freshInput();
    await installed(input);
    ssm.on(ListCommandsCommand).resolves(successCommand(3));
    const nodes = ['i-00000000000000001', 'i-00000000000000002', 'i-00000000000000003'];
    ssm.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: nodes.map((id) =>
        succeeded(
          id,
          nodeOutput(id, SKIPPED, [
            `acm-export: skipped: serial ${NEW_SERIAL} is older than the installed serial ${HELD_SERIAL}; nothing written, nothing reloaded`,
          ]),
        ),
      ),
    });
    const result = await status(payload(input));
    expect(result.status).toBe('Failed');
    expect(result.reason).toBe(
      `installed on 0/3 node(s); 3 skipped: the node holds a newer certificate (serial ${HELD_SERIAL}, not after 2027-06-01T00:00:00Z)`,
    );
    expect(result.outcomes).toMatchObject({ installed: 0, unchanged: 0, skipped: 3, reloaded: {} });
    expect(result.outcomes?.skips).toEqual(
      nodes.map((instanceId) => ({
        instanceId,
        reason: 'older than installed',
        installedSerial: HELD_SERIAL,
        installedNotAfter: '2027-06-01T00:00:00Z',
      })),
    );
    expect(result.failures).toEqual([]);
    expect(result.report?.split('\n')).toEqual([
      result.reason,
      ...nodes.map(
        (id) =>
          `${id}: skipped (the node holds a newer certificate (serial ${HELD_SERIAL}, not after 2027-06-01T00:00:00Z))`,
      ),
    ]);
    expect(await stored(input.CertificateArn)).toMatchObject({ lastDeployStatus: 'Failed' });
  });

  test('installed, unchanged, no running web server and no result line are each counted; the export succeeds', async () => {
    const input = freshInput();
    await installed(input);
    ssm.on(ListCommandsCommand).resolves(successCommand(4));
    ssm.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        succeeded('i-00000000000000001', nodeOutput('i-00000000000000001', {})),
        succeeded('i-00000000000000002', nodeOutput('i-00000000000000002', { changed: false, reloaded: false })),
        succeeded('i-00000000000000003', nodeOutput('i-00000000000000003', { service: 'none', reloaded: false })),
        // A run that succeeded without a result line (an older document): counted, not guessed.
        succeeded('i-00000000000000004', 'done\n'),
      ],
    });
    const result = await status(payload(input));
    expect(result.status).toBe('Succeeded');
    expect(result.outcomes).toMatchObject({
      installed: 2,
      unchanged: 1,
      skipped: 0,
      reloaded: { nginx: 1 },
      noWebServer: 1,
    });
  });

  test('a late push of an older export that every node skipped ends quietly when a newer export owns the target', async () => {
    const input = freshInput();
    await installed(input, 'older', '2026-11-20T10:00:00.000Z');
    await installed(input, 'newer', '2026-11-20T11:00:00.000Z');
    ssm.on(ListCommandsCommand).resolves(successCommand(1));
    ssm.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [succeeded('i-00000000000000001', nodeOutput('i-00000000000000001', SKIPPED))],
    });
    const result = await status(payload(input, INITIAL_POLL, 'older'));
    expect(result).toMatchObject({ status: 'Succeeded', outcomes: { skipped: 1 } });
    expect(result.report).toBeUndefined();
    expect(await stored(input.CertificateArn)).toMatchObject({ lastExecutionArn: executionArn('newer') });
  });

  test('the outcome tally stays bounded: 120 nodes over 3 pages, 50 lines, no output text beyond the whitelisted fields', async () => {
    ssm.on(ListCommandsCommand).resolves(successCommand(120));
    const ids = Array.from({ length: 120 }, (_, k) => `i-${k.toString(16).padStart(17, '0')}`);
    const page = (k: number) =>
      ids
        .slice(k * 50, k * 50 + 50)
        .map((id) =>
          succeeded(
            id,
            nodeOutput(id, { ...SKIPPED, extra: '-----BEGIN PRIVATE KEY-----' }, [
              'MIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI',
            ]),
          ),
        );
    ssm
      .on(ListCommandInvocationsCommand)
      .resolvesOnce({ CommandInvocations: page(0), NextToken: 't1' })
      .resolvesOnce({ CommandInvocations: page(1), NextToken: 't2' })
      .resolvesOnce({ CommandInvocations: page(2) });
    const result = await status(payload(freshInput()));
    expect(ssm).toHaveReceivedCommandTimes(ListCommandInvocationsCommand, 3);
    expect(result.outcomes?.skipped).toBe(120);
    expect(result.outcomes?.skips).toHaveLength(MAX_NODE_LINES);
    const state = JSON.stringify(result);
    expect(state).not.toMatch(/BEGIN|MIIF/);
    expect(Buffer.byteLength(state)).toBeLessThan(32 * 1024);
  });

  test("a config-test failure reads as the step and the node's line; the others are counted", async () => {
    const input = freshInput();
    await installed(input);
    ssm.on(ListCommandsCommand).resolves({
      Commands: [
        {
          Status: 'Failed',
          StatusDetails: 'Failed',
          TargetCount: 3,
          CompletedCount: 3,
          ErrorCount: 1,
          DeliveryTimedOutCount: 0,
        },
      ],
    });
    const failing = 'i-00000000000000003';
    const stderr = [
      'acm-export: installing: /etc/ssl/certs/www.crt differs',
      ...Array.from({ length: 30 }, (_, k) => `acm-export: progress line ${k}`),
      'acm-export: FAILED at configtest: nginx configuration test failed: nginx: [emerg] unknown directive "sslx" in /etc/nginx/nginx.conf:12; rolled back to the previous files',
    ];
    ssm.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        succeeded('i-00000000000000001', nodeOutput('i-00000000000000001', {})),
        succeeded('i-00000000000000002', nodeOutput('i-00000000000000002', {})),
        {
          InstanceId: failing,
          Status: 'Failed',
          StatusDetails: 'Failed',
          CommandPlugins: [
            {
              Name: 'InstallCertificate',
              Status: 'Failed',
              ResponseCode: 16,
              Output: `\n----------ERROR-------\n${stderr.join('\n')}\nfailed to run commands: exit status 16`,
            },
          ],
        },
      ],
    });
    const result = await status(payload(input));
    const line =
      'nginx configuration test failed: nginx: [emerg] unknown directive "sslx" in /etc/nginx/nginx.conf:12; rolled back to the previous files';
    expect(result.status).toBe('Failed');
    expect(result.failures).toEqual([
      {
        instanceId: failing,
        status: 'Failed',
        step: 'configtest',
        line: `the install script failed on the node: ${line}`,
      },
    ]);
    expect(result.reason).toBe(`1 of 3 nodes failed at configtest: ${line}; installed on 2; reloaded nginx on 2`);
    expect(result.outcomes).toMatchObject({ installed: 2, reloaded: { nginx: 2 } });
  });

  test('a failed node whose long stderr was cut by the agent: the step and reason come from its stdout failure line', async () => {
    ssm.on(ListCommandsCommand).resolves({
      Commands: [{ Status: 'Failed', StatusDetails: 'Failed', TargetCount: 1, CompletedCount: 1, ErrorCount: 1 }],
    });
    const reason =
      'nginx configuration test failed: nginx: [emerg] unknown directive "sslx"; rolled back to the previous files';
    const stdout = JSON.stringify({ node: NODE, failedStep: 'configtest', exitCode: 16, reason });
    const stderr = Array.from({ length: 60 }, (_, k) => `acm-export: progress line ${k}`).join('\n');
    ssm.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        {
          InstanceId: NODE,
          Status: 'Failed',
          StatusDetails: 'Failed',
          CommandPlugins: [
            {
              Status: 'Failed',
              Output: `${stdout}\n\n----------ERROR-------\n${stderr.slice(0, 1500)}\n---Error truncated----`,
            },
          ],
        },
      ],
    });
    const result = await status(payload(freshInput()));
    expect(result.failures).toEqual([
      {
        instanceId: NODE,
        status: 'Failed',
        step: 'configtest',
        line: `the install script failed on the node: ${reason}`,
      },
    ]);
    expect(result.reason).toBe(`1 of 1 nodes failed at configtest: ${reason}`);
  });

  test('a failed command: one paginated listing of all invocations, one safe line per failed node', async () => {
    const input = freshInput();
    await installed(input);
    ssm.on(ListCommandsCommand).resolves({
      Commands: [
        {
          Status: 'Failed',
          StatusDetails: 'Failed',
          TargetCount: 3,
          CompletedCount: 3,
          ErrorCount: 2,
          DeliveryTimedOutCount: 0,
        },
      ],
    });
    ssm
      .on(ListCommandInvocationsCommand)
      .resolvesOnce({
        CommandInvocations: [
          {
            InstanceId: 'i-00000000000000001',
            Status: 'Failed',
            StatusDetails: 'Failed',
            CommandPlugins: [{ Status: 'Failed', Output: 'step 1\nnginx -t failed: bad config\n\n' }],
          },
        ],
        NextToken: 'next',
      })
      .resolvesOnce({
        CommandInvocations: [
          {
            InstanceId: 'mi-00000000000000002',
            Status: 'Failed',
            StatusDetails: 'Failed',
            CommandPlugins: [
              {
                Status: 'Failed',
                Output: '-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI',
              },
            ],
          },
          succeeded('i-00000000000000003', nodeOutput('i-00000000000000003', {})),
        ],
      });
    const result = await status(payload(input));
    expect(result.status).toBe('Failed');
    expect(result.failures).toEqual([
      {
        instanceId: 'i-00000000000000001',
        status: 'Failed',
        line: 'the install script failed on the node: nginx -t failed: bad config',
      },
      {
        instanceId: 'mi-00000000000000002',
        status: 'Failed',
        line: 'the install script failed on the node: (output withheld: it looks like key or certificate material)',
      },
    ]);
    expect(result.reason).toBe(
      '2 of 3 nodes failed (Failed): nginx -t failed: bad config; installed on 1; reloaded nginx on 1',
    );
    expect(result.report).toBe(
      [
        '2 of 3 nodes failed (Failed): nginx -t failed: bad config; installed on 1; reloaded nginx on 1',
        'i-00000000000000001: Failed (the install script failed on the node: nginx -t failed: bad config)',
        'mi-00000000000000002: Failed (the install script failed on the node: (output withheld: it looks like key or certificate material))',
      ].join('\n'),
    );
    expect(ssm).toHaveReceivedCommandTimes(ListCommandsCommand, 1);
    const calls = ssm.commandCalls(ListCommandInvocationsCommand).map((c) => c.args[0].input);
    expect(calls).toEqual([
      { CommandId: COMMAND_ID, Details: true, MaxResults: 50 },
      { CommandId: COMMAND_ID, Details: true, MaxResults: 50, NextToken: 'next' },
    ]);
    expect(await stored(input.CertificateArn)).toMatchObject({ lastDeployStatus: 'Failed' });
  });

  test.each([
    ['TimedOut', 'Delivery Timed Out', { ErrorCount: 0, DeliveryTimedOutCount: 1 }],
    ['Success', 'Incomplete', { ErrorCount: 1, DeliveryTimedOutCount: 0 }],
    ['Cancelled', 'Cancelled', { ErrorCount: 0, DeliveryTimedOutCount: 0 }],
  ])('terminal %s / %s is Failed', async (cmdStatus, details, errs) => {
    ssm.on(ListCommandsCommand).resolves({
      Commands: [{ Status: cmdStatus as never, StatusDetails: details, TargetCount: 2, CompletedCount: 2, ...errs }],
    });
    ssm.on(ListCommandInvocationsCommand).resolves({ CommandInvocations: [] });
    const result = await status(payload(freshInput()));
    expect(result.status).toBe('Failed');
    expect(result.reason).toContain(details);
  });

  /**
   * Every terminal non-success outcome of one node out of three, with the command as SSM reports it
   * (MaxErrors 0): invocation Status/StatusDetails, command Status/StatusDetails and counts.
   */
  const NODE = 'i-0abc0000000000001';
  test.each([
    {
      details: 'Failed',
      invStatus: 'Failed',
      command: ['Failed', 'Failed'],
      errors: 1,
      dto: 0,
      output: 'hook 10-reload exited 1',
    },
    {
      details: 'Execution Timed Out',
      invStatus: 'TimedOut',
      command: ['TimedOut', 'Execution Timed Out'],
      errors: 1,
      dto: 0,
      output: '',
    },
    {
      details: 'Delivery Timed Out',
      invStatus: 'TimedOut',
      command: ['TimedOut', 'Delivery Timed Out'],
      errors: 0,
      dto: 1,
      output: '',
    },
    {
      details: 'Cancelled',
      invStatus: 'Cancelled',
      command: ['Failed', 'Incomplete'],
      errors: 0,
      dto: 0,
      output: '',
    },
    {
      details: 'Undeliverable',
      invStatus: 'Failed',
      command: ['Failed', 'Incomplete'],
      errors: 0,
      dto: 0,
      output: '',
    },
    {
      details: 'Terminated',
      invStatus: 'Cancelled',
      command: ['Failed', 'Failed'],
      errors: 1,
      dto: 0,
      output: '',
    },
    {
      details: 'InvalidPlatform',
      invStatus: 'Failed',
      command: ['Failed', 'Incomplete'],
      errors: 0,
      dto: 0,
      output: '',
    },
    {
      details: 'AccessDenied',
      invStatus: 'Failed',
      command: ['Failed', 'Incomplete'],
      errors: 0,
      dto: 0,
      output: '',
    },
  ])(
    'a node ending $details fails the export with its own plain line',
    async ({ details, invStatus, command, errors, dto, output }) => {
      ssm.on(ListCommandsCommand).resolves({
        Commands: [
          {
            Status: command[0] as never,
            StatusDetails: command[1],
            TargetCount: 3,
            CompletedCount: 3,
            ErrorCount: errors,
            DeliveryTimedOutCount: dto,
          },
        ],
      });
      const plugins = output
        ? [
            {
              Name: 'install',
              Status: 'Failed' as const,
              StatusDetails: 'Failed',
              ResponseCode: 1,
              Output: `step\n${output}\n`,
            },
          ]
        : [];
      ssm.on(ListCommandInvocationsCommand).resolves({
        CommandInvocations: [
          { InstanceId: NODE, Status: invStatus as never, StatusDetails: details, CommandPlugins: plugins },
        ],
      });
      const result = await status(payload(freshInput()));
      const explanation = OUTCOME_EXPLANATIONS[details];
      const line = output ? `${explanation}: ${output}` : explanation;
      expect(result).toMatchObject({ status: 'Failed', failures: [{ instanceId: NODE, status: details, line }] });
      expect(result.reason).toBe(`1 of 3 nodes failed (${details}): ${output || explanation}`);
      expect(result.report).toBe(`${result.reason}\n${NODE}: ${details} (${line})`);
      expect(result.report).not.toMatch(/[{}[\]"]/); // plain text, no JSON
    },
  );

  test('the plain explanations read as the examples users see', () => {
    expect(`${NODE}: Undeliverable (${OUTCOME_EXPLANATIONS.Undeliverable})`).toBe(
      `${NODE}: Undeliverable (the node is not reachable by SSM)`,
    );
    expect(OUTCOME_EXPLANATIONS['Delivery Timed Out']).toBe('the node did not pick up the command before it expired');
    for (const outcome of [
      'Failed',
      'Execution Timed Out',
      'Delivery Timed Out',
      'Cancelled',
      'Undeliverable',
      'Terminated',
      'InvalidPlatform',
      'AccessDenied',
    ]) {
      expect(OUTCOME_EXPLANATIONS[outcome]).toMatch(/^[a-z][^{}\n]{10,90}$/);
    }
  });

  test('an Undeliverable node under a Success command (it does not count anywhere) still fails the export', async () => {
    const input = freshInput();
    await installed(input);
    ssm.on(ListCommandsCommand).resolves({
      Commands: [
        {
          Status: 'Success',
          StatusDetails: 'Success',
          TargetCount: 3,
          CompletedCount: 3,
          ErrorCount: 0,
          DeliveryTimedOutCount: 0,
        },
      ],
    });
    ssm.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        succeeded('i-00000000000000001', nodeOutput('i-00000000000000001', {})),
        { InstanceId: NODE, Status: 'Failed', StatusDetails: 'Undeliverable', CommandPlugins: [] },
        succeeded('i-00000000000000002', nodeOutput('i-00000000000000002', { changed: false, reloaded: false })),
      ],
    });
    const result = await status(payload(input));
    expect(result).toMatchObject({
      status: 'Failed',
      failures: [{ instanceId: NODE, status: 'Undeliverable', line: 'the node is not reachable by SSM' }],
    });
    expect(result.reason).toBe(
      '1 of 3 nodes failed (Undeliverable): the node is not reachable by SSM; installed on 1, 1 unchanged; reloaded nginx on 1',
    );
    expect(result.report).toContain(`${NODE}: Undeliverable (the node is not reachable by SSM)`);
    expect(await stored(input.CertificateArn)).toMatchObject({ lastDeployStatus: 'Failed' });
  });

  test('Incomplete is a failure even when it comes with Status Success and clean counts', async () => {
    ssm.on(ListCommandsCommand).resolves({
      Commands: [
        {
          Status: 'Success',
          StatusDetails: 'Incomplete',
          TargetCount: 2,
          CompletedCount: 2,
          ErrorCount: 0,
          DeliveryTimedOutCount: 0,
        },
      ],
    });
    ssm.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [{ InstanceId: NODE, Status: 'Failed', StatusDetails: 'AccessDenied' }],
    });
    const result = await status(payload(freshInput()));
    expect(result.status).toBe('Failed');
    expect(result.report).toContain(`${NODE}: AccessDenied (the caller is not allowed to run commands on this node)`);
  });

  test('Cancelling and Delayed are not terminal; Rate Exceeded is', async () => {
    ssm.on(ListCommandInvocationsCommand).resolves({ CommandInvocations: [] });
    ssm.on(ListCommandsCommand).resolves({
      Commands: [{ Status: 'Cancelling', StatusDetails: 'Cancelling', TargetCount: 2, CompletedCount: 1 }],
    });
    expect((await status(payload(freshInput()))).status).toBe('InProgress');
    ssm
      .on(ListCommandsCommand)
      .resolves({ Commands: [{ Status: 'Pending', StatusDetails: 'Delayed', TargetCount: 2, CompletedCount: 0 }] });
    expect((await status(payload(freshInput()))).status).toBe('InProgress');
    ssm.on(ListCommandsCommand).resolves({
      Commands: [{ Status: 'Pending' as never, StatusDetails: 'Rate Exceeded', TargetCount: 2, CompletedCount: 0 }],
    });
    expect((await status(payload(freshInput()))).status).toBe('Failed');
  });

  test('a command that matched zero nodes fails at the first poll, naming the tag', async () => {
    ssm.on(ListCommandsCommand).resolves({
      Commands: [
        {
          Status: 'Success',
          StatusDetails: 'Success',
          TargetCount: 0,
          CompletedCount: 0,
          ErrorCount: 0,
          DeliveryTimedOutCount: 0,
        },
      ],
    });
    const result = await status(payload(freshInput()));
    expect(result).toMatchObject({ status: 'Failed', attempt: 1, reason: 'no managed node matches tag Role=web' });
    expect(ssm).not.toHaveReceivedCommand(ListCommandInvocationsCommand);
  });

  test("a superseded run does not overwrite the newer run's status", async () => {
    const input = freshInput();
    await installed(input, 'older', '2026-11-20T10:00:00.000Z');
    await installed(input, 'newer', '2026-11-20T11:00:00.000Z');
    ssm.on(ListCommandsCommand).resolves({
      Commands: [
        {
          Status: 'Success',
          StatusDetails: 'Success',
          TargetCount: 1,
          CompletedCount: 1,
          ErrorCount: 0,
          DeliveryTimedOutCount: 0,
        },
      ],
    });
    ssm.on(ListCommandInvocationsCommand).resolves({ CommandInvocations: [] });
    const result = await status(payload(input, INITIAL_POLL, 'older'));
    expect(result.status).toBe('Succeeded');
    expect(await stored(input.CertificateArn)).toMatchObject({
      lastExecutionArn: executionArn('newer'),
      lastDeployStatus: 'InProgress',
    });
  });

  test('a command not yet visible is pending for a few polls, then a failure', async () => {
    ssm.on(ListCommandsCommand).resolves({ Commands: [] });
    expect((await status(payload(freshInput()))).status).toBe('InProgress');
    const late = await status(payload(freshInput(), { ...INITIAL_POLL, attempt: 5 }));
    expect(late.status).toBe('Failed');
  });

  test('throttling is Throttled; a payload without a sent command is InvalidInput', async () => {
    ssm.on(ListCommandsCommand).rejects(Object.assign(new Error('x'), { name: 'ThrottlingException' }));
    await expect(status(payload(freshInput()))).rejects.toMatchObject({ name: 'Throttled' });
    await expect(
      status({ ...payload(freshInput()), install: { outcome: 'DryRun', targetCount: 1 } }),
    ).rejects.toMatchObject({ name: 'InvalidInput' });
    await expect(status({ ...payload(freshInput()), poll: { status: 'Nope' } })).rejects.toMatchObject({
      name: 'InvalidInput',
      message: expect.stringContaining('poll.status'),
    });
  });

  test('safeLine trims, strips control characters and withholds key-like text', () => {
    expect(safeLine('a\n  last line \u0007 \n')).toBe('last line');
    expect(safeLine('word '.repeat(80))).toHaveLength(200);
    expect(safeLine('passphrase is Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFy')).toMatch(/withheld/);
    expect(safeLine(undefined)).toBe('');
  });

  describe('key-material filter', () => {
    const WITHHELD = /withheld/;
    test('withholds PEM armour, PEM body lines (RSA and EC, encrypted PKCS#8 as ACM exports) and base64 blobs', () => {
      const keys = [
        generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
        generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey,
      ].map((key) =>
        key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'test-only' }).toString(),
      );
      for (const pem of keys) {
        const lines = pem.trim().split('\n');
        expect(safeLine(lines[0])).toMatch(WITHHELD); // -----BEGIN ENCRYPTED PRIVATE KEY-----
        expect(safeLine(pem)).toMatch(WITHHELD); // last line: -----END ...
        for (const body of lines.slice(1, -1).filter((l) => l.length === 64)) {
          expect([body.slice(0, 8), safeLine(`unexpected output: ${body}`)]).toEqual([
            body.slice(0, 8),
            expect.stringMatching(WITHHELD),
          ]);
        }
        // The first body line decodes as DER wherever it is cut.
        expect(safeLine(`line ${lines[1].slice(0, 44)}`)).toMatch(WITHHELD);
      }
      expect(safeLine(randomBytes(150).toString('base64'))).toMatch(WITHHELD);
      expect(safeLine(`token=${randomBytes(32).toString('base64url')}`)).toMatch(WITHHELD); // a passphrase: 43 characters
      // Fixed base64 with several '/' (a PEM line that happens to contain many).
      expect(safeLine('Zk9v/YmFy/ZmZx/QmFyYmF6/UXV4eA9Ab3Ja/QmFzZTY0/TGluZQ==/YWJjZGVmZ2hpams9')).toMatch(WITHHELD);
    });

    test('keeps ordinary failure lines with long paths', () => {
      const lines = [
        'nginx: [emerg] cannot load certificate "/tmp/acm-export.Xa81kdQ2/etc/ssl/certs/site.fullchain.pem": BIO_new_file() failed',
        'nginx: [emerg] cannot load certificate "/var/lib/acm-export/staging/certificates/production-web/site/fullchain.pem"',
        "openssl: error:0200100D:system library:fopen:Permission denied:crypto/bio/bss_file.c:69:fopen('/etc/ssl/private/www-example-com-production-frontend.key','r')",
        'install failed: /opt/AcmExport/Hooks2024/ReloadWebServers/PostInstallHooks/restart-nginx-and-php-fpm exited 1',
        'verify failed: port 443 serves serial 0a1b2c3d4e5f60718293a4b5c6d7e8f901234567, expected 0a1b2c3d4e5f60718293a4b5c6d7e8f901234568',
        'apache2: AH00526: Syntax error on line 12 of /etc/apache2/sites-enabled/000-default-le-ssl-production.conf',
        'rolled back: secret arn:aws:secretsmanager:eu-west-1:123456789012:secret:acm-export/AcmExport/www-AbCdEf not readable',
      ];
      for (const line of lines) expect(safeLine(line)).toBe(line.length > 200 ? `${line.slice(0, 197)}...` : line);
    });
  });
});
