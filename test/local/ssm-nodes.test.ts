import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ACMClient, ExportCertificateCommand, RequestCertificateCommand } from '@aws-sdk/client-acm';
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { formatSecret } from '../../lambda/acm-export/secret-format';
import { DOCUMENT_KINDS, loadDocument, nodeLibrary } from '../../ssm-documents/load';
import { localLibraryLocation } from '../../local/aws-emulator/s3';
import {
  LOCAL_DOCUMENT_NAMES,
  LOCAL_INSTALL_DOCUMENT_NAME,
  startAwsEmulator,
  type AwsEmulator,
} from '../../local/aws-emulator';
import { localPlacement, startLocalNodes, type LocalNode } from '../../local/nodes';
import { nginxPushParameters } from '../helpers/install-script';
import type { SsmCommandDocument } from '../../ssm-documents/load';

const NO_FAULTS = { throttle: {}, notExportable: [], pending: [], nodes: {} };
const ECHO_DOC: SsmCommandDocument = {
  schemaVersion: '2.2',
  parameters: {
    Message: { type: 'String', allowedPattern: '^[A-Za-z0-9 ]{1,40}$', interpolationType: 'ENV_VAR' },
    Code: { type: 'String', default: '0', allowedPattern: '^[0-9]$', interpolationType: 'ENV_VAR' },
    CertDir: {
      type: 'String',
      default: '/etc/ssl/certs',
      allowedPattern: '^(/[A-Za-z0-9_.-]+)+$',
      interpolationType: 'ENV_VAR',
    },
  },
  mainSteps: [
    {
      action: 'aws:runShellScript',
      name: 'Echo',
      precondition: { StringEquals: ['platformType', 'Linux'] },
      inputs: {
        runCommand: [
          'echo "node=$AWS_SSM_INSTANCE_ID msg=$SSM_Message dir=$SSM_CertDir"',
          'echo to-stderr >&2',
          'if [ -n "$SLOW" ]; then sleep 1; fi',
          'exit "$SSM_Code"',
        ],
      },
    },
  ],
};

let root: string;
let aws: AwsEmulator;
let ssm: SSMClient;
let nodes: LocalNode[];

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'acm-export-nodes-'));
  aws = await startAwsEmulator({ faults: NO_FAULTS, ssmMsPerSecond: 10, documents: { Echo: ECHO_DOC } });
  ssm = new SSMClient({ ...aws.clientConfig(), maxAttempts: 1 });
  nodes = await startLocalNodes(aws, { root, count: 3, tags: { Role: 'web' }, server: 'builtin' });
  await startLocalNodes(aws, { root: path.join(root, 'other'), count: 1, tags: { Role: 'db' }, server: 'builtin' });
});
afterAll(async () => {
  ssm.destroy();
  await Promise.all(nodes.map((n) => n.stop()));
  for (const n of aws.ssm.nodes.values()) await (n.executor as LocalNode).stop();
  await aws.close();
  rmSync(root, { recursive: true, force: true });
});

async function finish(commandId: string): Promise<void> {
  await aws.ssm.waitForCommand(commandId);
}

test('DescribeInstanceInformation filters by tag and paginates', async () => {
  const web = await ssm.send(
    new DescribeInstanceInformationCommand({ Filters: [{ Key: 'tag:Role', Values: ['web'] }] }),
  );
  expect(web.InstanceInformationList!.map((i) => i.InstanceId).sort()).toEqual(nodes.map((n) => n.instanceId).sort());
  expect(web.InstanceInformationList![0]).toMatchObject({
    PingStatus: 'Online',
    PlatformType: 'Linux',
    ResourceType: 'ManagedInstance',
  });
  expect(web.InstanceInformationList![0].InstanceId).toMatch(/^mi-[0-9a-f]{17}$/);
  const page1 = await ssm.send(
    new DescribeInstanceInformationCommand({ MaxResults: 5, Filters: [{ Key: 'tag-key', Values: ['Role'] }] }),
  );
  expect(page1.InstanceInformationList).toHaveLength(4);
  expect(page1.NextToken).toBeUndefined();
});

test('SendCommand to 3 tagged nodes: env parameters, path mapping, output, aggregates', async () => {
  const sent = await ssm.send(
    new SendCommandCommand({
      DocumentName: 'Echo',
      Targets: [{ Key: 'tag:Role', Values: ['web'] }],
      Parameters: { Message: ['hello nodes'] },
      MaxConcurrency: '2',
    }),
  );
  expect(sent.Command).toMatchObject({
    TargetCount: 3,
    Status: 'Pending',
    DocumentName: 'Echo',
    Parameters: { Message: ['hello nodes'] },
  });
  await finish(sent.Command!.CommandId!);
  const { Commands } = await ssm.send(new ListCommandsCommand({ CommandId: sent.Command!.CommandId }));
  expect(Commands![0]).toMatchObject({
    Status: 'Success',
    StatusDetails: 'Success',
    TargetCount: 3,
    CompletedCount: 3,
    ErrorCount: 0,
    DeliveryTimedOutCount: 0,
  });
  const inv = await ssm.send(new ListCommandInvocationsCommand({ CommandId: sent.Command!.CommandId, Details: true }));
  expect(inv.CommandInvocations).toHaveLength(3);
  for (const i of inv.CommandInvocations!) {
    const node = nodes.find((n) => n.instanceId === i.InstanceId)!;
    expect(i.CommandPlugins![0].Output).toContain(`node=${node.instanceId} msg=hello nodes dir=${node.certDir}`);
    expect(i.CommandPlugins![0].Output).toContain('----------ERROR-------\nto-stderr');
  }
  const one = await ssm.send(
    new GetCommandInvocationCommand({ CommandId: sent.Command!.CommandId, InstanceId: nodes[0].instanceId }),
  );
  expect(one).toMatchObject({
    Status: 'Success',
    StatusDetails: 'Success',
    ResponseCode: 0,
    StandardErrorContent: 'to-stderr\n',
  });
});

test('parameters are validated like SSM (InvalidParameters) and the document must exist', async () => {
  const target = [{ Key: 'tag:Role', Values: ['web'] }];
  await expect(
    ssm.send(new SendCommandCommand({ DocumentName: 'Echo', Targets: target, Parameters: { Message: ['bad;value'] } })),
  ).rejects.toMatchObject({ name: 'InvalidParameters' });
  await expect(ssm.send(new SendCommandCommand({ DocumentName: 'Echo', Targets: target }))).rejects.toMatchObject({
    name: 'InvalidParameters',
  });
  await expect(
    ssm.send(
      new SendCommandCommand({ DocumentName: 'Echo', Targets: target, Parameters: { Message: ['x'], Nope: ['y'] } }),
    ),
  ).rejects.toMatchObject({ name: 'InvalidParameters' });
  await expect(ssm.send(new SendCommandCommand({ DocumentName: 'Missing', Targets: target }))).rejects.toMatchObject({
    name: 'InvalidDocument',
  });
});

test('no matching node: TargetCount 0 with a terminal status', async () => {
  const sent = await ssm.send(
    new SendCommandCommand({
      DocumentName: 'Echo',
      Targets: [{ Key: 'tag:Role', Values: ['none'] }],
      Parameters: { Message: ['x'] },
    }),
  );
  const { Commands } = await ssm.send(new ListCommandsCommand({ CommandId: sent.Command!.CommandId }));
  expect(Commands![0]).toMatchObject({ TargetCount: 0, CompletedCount: 0, Status: 'Success' });
});

test('failures: MaxErrors stops dispatching, offline node times out delivery, counts add up', async () => {
  nodes[1].setFaults({ offline: true });
  try {
    const sent = await ssm.send(
      new SendCommandCommand({
        DocumentName: 'Echo',
        Targets: [{ Key: 'tag:Role', Values: ['web'] }],
        Parameters: { Message: ['x'], Code: ['3'] },
        MaxConcurrency: '1',
        MaxErrors: '0',
        TimeoutSeconds: 30,
      }),
    );
    await finish(sent.Command!.CommandId!);
    const { Commands } = await ssm.send(new ListCommandsCommand({ CommandId: sent.Command!.CommandId }));
    expect(Commands![0]).toMatchObject({ Status: 'Failed', TargetCount: 3, CompletedCount: 3, ErrorCount: 1 });
    const inv = await ssm.send(new ListCommandInvocationsCommand({ CommandId: sent.Command!.CommandId }));
    const statuses = inv.CommandInvocations!.map((i) => i.StatusDetails).sort();
    expect(statuses).toContain('Failed');
    expect(statuses).toContain('Terminated'); // not dispatched after MaxErrors was exceeded

    const all = await ssm.send(
      new SendCommandCommand({
        DocumentName: 'Echo',
        Targets: [{ Key: 'tag:Role', Values: ['web'] }],
        Parameters: { Message: ['x'] },
        MaxErrors: '3',
        TimeoutSeconds: 30,
      }),
    );
    await finish(all.Command!.CommandId!);
    const agg = (await ssm.send(new ListCommandsCommand({ CommandId: all.Command!.CommandId }))).Commands![0];
    // one delivery timeout is below MaxErrors=3: attempted everywhere, not all Success → Incomplete
    expect(agg).toMatchObject({
      TargetCount: 3,
      CompletedCount: 3,
      ErrorCount: 0,
      DeliveryTimedOutCount: 1,
      Status: 'Failed',
      StatusDetails: 'Incomplete',
    });
    const timedOut = await ssm.send(
      new GetCommandInvocationCommand({ CommandId: all.Command!.CommandId, InstanceId: nodes[1].instanceId }),
    );
    expect(timedOut.StatusDetails).toBe('Delivery Timed Out');
  } finally {
    nodes[1].setFaults({});
  }
});

describe('forced outcomes: one node of three ends with each terminal outcome, as SSM reports it (MaxErrors 0)', () => {
  // [outcome switch, invocation Status, StatusDetails, ResponseCode, command Status, command StatusDetails, ErrorCount, DeliveryTimedOutCount]
  const cases = [
    ['Failed', 'Failed', 'Failed', 1, 'Failed', 'Failed', 1, 0],
    ['ExecutionTimedOut', 'TimedOut', 'Execution Timed Out', -1, 'TimedOut', 'Execution Timed Out', 1, 0],
    ['DeliveryTimedOut', 'TimedOut', 'Delivery Timed Out', -1, 'TimedOut', 'Delivery Timed Out', 0, 1],
    ['Cancelled', 'Cancelled', 'Cancelled', -1, 'Failed', 'Incomplete', 0, 0],
    // Undeliverable decides neither Success nor Incomplete: the command is Success.
    ['Undeliverable', 'Failed', 'Undeliverable', -1, 'Success', 'Success', 0, 0],
    ['Terminated', 'Cancelled', 'Terminated', -1, 'Failed', 'Incomplete', 0, 0],
    ['InvalidPlatform', 'Failed', 'InvalidPlatform', -1, 'Failed', 'Incomplete', 0, 0],
    ['AccessDenied', 'Failed', 'AccessDenied', -1, 'Failed', 'Incomplete', 0, 0],
  ] as const;
  test.each(cases)(
    '%s',
    async (outcome, invStatus, details, responseCode, cmdStatus, cmdDetails, errors, deliveryTimedOut) => {
      // Invocations run in node id order: the forced node is the middle one, so a MaxErrors stop would show.
      const forced = [...nodes].sort((a, b) => a.instanceId.localeCompare(b.instanceId))[1];
      forced.setFaults({ outcome });
      try {
        const sent = await ssm.send(
          new SendCommandCommand({
            DocumentName: 'Echo',
            Targets: [{ Key: 'tag:Role', Values: ['web'] }],
            Parameters: { Message: ['x'] },
            MaxConcurrency: '1',
            TimeoutSeconds: 30,
          }),
        );
        const commandId = sent.Command!.CommandId!;
        await finish(commandId);
        const command = (await ssm.send(new ListCommandsCommand({ CommandId: commandId }))).Commands![0];
        expect(command).toMatchObject({
          Status: cmdStatus,
          StatusDetails: cmdDetails,
          TargetCount: 3,
          CompletedCount: 3,
          ErrorCount: errors,
          DeliveryTimedOutCount: deliveryTimedOut,
        });
        const invocation = await ssm.send(
          new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: forced.instanceId }),
        );
        expect(invocation).toMatchObject({ Status: invStatus, StatusDetails: details, ResponseCode: responseCode });
        const filterValue =
          details === 'Execution Timed Out'
            ? 'ExecutionTimedOut'
            : details === 'Delivery Timed Out'
              ? 'DeliveryTimedOut'
              : details;
        const listed = await ssm.send(
          new ListCommandInvocationsCommand({ CommandId: commandId, Filters: [{ key: 'Status', value: filterValue }] }),
        );
        expect(listed.CommandInvocations!.map((i) => i.InstanceId)).toEqual([forced.instanceId]);
        // The other nodes ran the command (an error at MaxErrors 0 stops the rollout, which runs one at a time).
        const others = (
          await ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId }))
        ).CommandInvocations!.filter((i) => i.InstanceId !== forced.instanceId);
        expect(others.map((i) => i.StatusDetails)).toEqual(
          errors > 0 ? ['Success', 'Terminated'] : ['Success', 'Success'],
        );
      } finally {
        forced.setFaults({});
      }
    },
  );
});

test('throttled ListCommands and call counting', async () => {
  aws.resetCallCounts();
  aws.throttle('ssm:ListCommands', 1);
  await expect(ssm.send(new ListCommandsCommand({}))).rejects.toMatchObject({ name: 'ThrottlingException' });
  await ssm.send(new ListCommandsCommand({}));
  expect(aws.callCount('ListCommands')).toBe(2);
});

const SHOP_SECRET_ID = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:acm-export/shop-AbCdEf';

// Never skipped: a document that does not load fails every test here (the beforeAll throws).
describe('the real install document end to end', () => {
  let fleet: LocalNode[] = [];
  let fleetRoot: string | undefined;
  beforeAll(async () => {
    fleetRoot = mkdtempSync(path.join(tmpdir(), 'acm-export-fleet-'));
    for (const kind of DOCUMENT_KINDS)
      aws.ssm.registerDocument(
        LOCAL_DOCUMENT_NAMES[kind],
        loadDocument(kind, localPlacement(fleetRoot), undefined, localLibraryLocation()),
      );
    fleet = await startLocalNodes(aws, {
      root: fleetRoot,
      count: 3,
      tags: { App: 'shop' },
      certName: 'shop',
      env: { ACM_EXPORT_VERIFY_SECONDS: '5' },
    });
  });
  afterAll(async () => {
    await Promise.all(fleet.map((n) => n.stop()));
    if (fleetRoot) rmSync(fleetRoot, { recursive: true, force: true });
  });

  test('a request still naming Action is refused: no document declares it any more', async () => {
    const ssmClient = new SSMClient(aws.clientConfig());
    for (const kind of DOCUMENT_KINDS) {
      await expect(
        ssmClient.send(
          new SendCommandCommand({
            DocumentName: LOCAL_DOCUMENT_NAMES[kind],
            Targets: [{ Key: 'tag:App', Values: ['shop'] }],
            Parameters: { Action: [kind], CertName: ['shop'], SecretId: [SHOP_SECRET_ID], Region: [aws.region] },
          }),
        ),
      ).rejects.toMatchObject({
        name: 'InvalidParameters',
        message: 'Parameter "Action" is not defined in the document.',
      });
    }
  });

  test('installs an exported certificate on 3 nodes (nginx); a failing node keeps its old certificate', async () => {
    expect(fleet.map((n) => n.serverKind)).toEqual(['nginx', 'nginx', 'nginx']);
    const acm = new ACMClient(aws.clientConfig());
    const sm = new SecretsManagerClient(aws.clientConfig());
    const { CertificateArn } = await acm.send(
      new RequestCertificateCommand({
        DomainName: 'shop.example.test',
        KeyAlgorithm: 'EC_prime256v1',
        Options: { Export: 'ENABLED' },
      }),
    );
    const passphrase = 'cGFzc3BocmFzZS1mb3ItdGVzdA';
    const exported = await acm.send(
      new ExportCertificateCommand({ CertificateArn, Passphrase: Buffer.from(passphrase) }),
    );
    const secret = await sm.send(
      new CreateSecretCommand({
        Name: 'acm-export/shop',
        SecretString: formatSecret({
          certificate: exported.Certificate!,
          chain: exported.CertificateChain!,
          encryptedPrivateKey: exported.PrivateKey!,
          passphrase,
        }),
        ClientRequestToken: '44444444-4444-4444-8444-444444444444',
      }),
    );
    const serial = aws.acm.current(CertificateArn!)!.serial.replace(/:/g, '').toUpperCase();
    const before = await fleet[2].servedCertificate('shop.example.test');
    fleet[2].setFaults({ failInstall: true });

    const ssmClient = new SSMClient(aws.clientConfig());
    const sent = await ssmClient.send(
      new SendCommandCommand({
        DocumentName: LOCAL_INSTALL_DOCUMENT_NAME,
        Targets: [{ Key: 'tag:App', Values: ['shop'] }],
        Parameters: nginxPushParameters('shop', secret, aws.region),
        MaxErrors: '1',
        MaxConcurrency: '3',
      }),
    );
    await aws.ssm.waitForCommand(sent.Command!.CommandId!);
    const invocations = (
      await ssmClient.send(new ListCommandInvocationsCommand({ CommandId: sent.Command!.CommandId, Details: true }))
    ).CommandInvocations!;
    for (const node of fleet.slice(0, 2)) {
      const inv = await ssmClient.send(
        new GetCommandInvocationCommand({ CommandId: sent.Command!.CommandId, InstanceId: node.instanceId }),
      );
      expect({ node: node.name, status: inv.Status, err: inv.StandardErrorContent }).toMatchObject({
        node: node.name,
        status: 'Success',
      });
      const served = await node.servedCertificate('shop.example.test', aws.ca.rootPem);
      expect(served.serialNumber).toBe(serial);
      expect(served.authorized).toBe(true);
      expect(readFileSync(path.join(node.certDir, 'shop.crt'), 'utf8')).toContain('BEGIN CERTIFICATE');
    }
    const failed = invocations.find((i) => i.InstanceId === fleet[2].instanceId)!;
    expect(failed.Status).toBe('Failed');
    // The rollback's reload applies asynchronously in nginx: allow it a few seconds to take effect.
    let served = (await fleet[2].servedCertificate('shop.example.test')).serialNumber;
    for (const deadline = Date.now() + 5000; served !== before.serialNumber && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      served = (await fleet[2].servedCertificate('shop.example.test')).serialNumber;
    }
    expect(served).toBe(before.serialNumber);
    const agg = (await ssmClient.send(new ListCommandsCommand({ CommandId: sent.Command!.CommandId }))).Commands![0];
    expect(agg).toMatchObject({ TargetCount: 3, CompletedCount: 3, ErrorCount: 1 });
    fleet[2].setFaults({});
    acm.destroy();
    sm.destroy();
    ssmClient.destroy();
  });

  test('a node fetches the node library once, then runs its cached copy; a tampered object is refused, nothing written', async () => {
    const sm = new SecretsManagerClient(aws.clientConfig());
    const ssmClient = new SSMClient(aws.clientConfig());
    const secret = await sm.send(new GetSecretValueCommand({ SecretId: 'acm-export/shop' }));
    const library = nodeLibrary();
    const { bucket, key } = localLibraryLocation();
    const install = async (node: LocalNode) => {
      const sent = await ssmClient.send(
        new SendCommandCommand({
          DocumentName: LOCAL_INSTALL_DOCUMENT_NAME,
          InstanceIds: [node.instanceId],
          Parameters: nginxPushParameters('shop', secret, aws.region),
        }),
      );
      await aws.ssm.waitForCommand(sent.Command!.CommandId!);
      return ssmClient.send(
        new GetCommandInvocationCommand({ CommandId: sent.Command!.CommandId, InstanceId: node.instanceId }),
      );
    };
    const fetchesBy = (node: LocalNode) => aws.callCountsByCaller()[node.instanceId]?.['s3:GetObject'] ?? 0;
    const cached = (node: LocalNode) => path.join(node.stateDir, 'lib', `${library.sha256}.sh`);
    const [first, second] = fleet;
    expect(fetchesBy(first)).toBe(1);
    expect(readFileSync(cached(first), 'utf8')).toBe(library.text);
    expect((await install(first)).Status).toBe('Success');
    expect(fetchesBy(first)).toBe(1);

    const liveCert = readFileSync(path.join(second.certDir, 'shop.crt'), 'utf8');
    const tampered = library.text.replace('set_store() {', 'set_store() { : tampered;');
    aws.s3.putObject(bucket, key, tampered);
    rmSync(cached(second));
    try {
      const refused = await install(second);
      expect(refused.Status).toBe('Failed');
      const found = createHash('sha256').update(tampered).digest('hex');
      expect(refused.StandardErrorContent).toContain(
        `FAILED at preflight: node library s3://${bucket}/${key} has sha256 ${found}, expected ${library.sha256}`,
      );
      expect(fetchesBy(second)).toBe(2);
      expect(readFileSync(path.join(second.certDir, 'shop.crt'), 'utf8')).toBe(liveCert);
      expect(existsSync(cached(second))).toBe(false);
    } finally {
      aws.s3.putObject(bucket, key, library.text);
    }
    sm.destroy();
    ssmClient.destroy();
  });
});

test('an operator reload of a built-in server node completes (the server answers from this process) and counts', async () => {
  const node = nodes[0];
  const before = node.reloadCount();
  await node.reload();
  expect(node.reloadCount()).toBe(before + 1);
});
