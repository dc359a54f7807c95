import { DescribeInstanceInformationCommand, SSMClient, SendCommandCommand } from '@aws-sdk/client-ssm';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { createHandler } from '../../lambda/ssm-run/handler';
import { InventoryItem } from '../../lambda/shared/contract';
import { CERT_ARN, COMMAND_ID, EXPORT_RESULT, INPUT, SECRET_ARN, executionArn, installPayload, startInventory } from './support';

const ssm = mockClient(SSMClient);
let inventory: Awaited<ReturnType<typeof startInventory>>;
let handler: ReturnType<typeof createHandler>;
const NOW = new Date('2026-11-20T10:00:05.000Z');

beforeAll(async () => {
  inventory = await startInventory();
  handler = createHandler({
    ddb: inventory.ddb,
    tableName: inventory.tableName,
    documentName: 'Install-ACMCertificate-Test',
    logGroupName: '/acm-export/commands',
    timeoutSeconds: 600,
    region: 'us-east-1',
    now: () => NOW,
  });
});
afterAll(async () => inventory.stop());

let certCounter = 0;
/** A fresh certificate per test keeps the shared table's items independent. */
function freshInput(over: object = {}) {
  certCounter++;
  return { ...INPUT, CertificateArn: CERT_ARN.replace(/[0-9a-f]{4}$/, certCounter.toString(16).padStart(4, '0')), ...over };
}

async function item(certificateArn: string, target = 'Role=web'): Promise<InventoryItem | undefined> {
  const out = await inventory.ddb.send(new GetCommand({ TableName: inventory.tableName, Key: { certificateArn, target } }));
  return out.Item as InventoryItem | undefined;
}

beforeEach(() => {
  ssm.reset();
  ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [{ InstanceId: 'i-0123456789abcdef0' }, { InstanceId: 'mi-0123456789abcdef0' }] });
  ssm.on(SendCommandCommand).resolves({ Command: { CommandId: COMMAND_ID, TargetCount: 0 } });
});

describe('ssm-run', () => {
  test('records the export and sends the document to the tag with identifier-only parameters', async () => {
    const input = freshInput({ Service: 'nginx', VerifyPort: 443 });
    const result = await handler({ ...installPayload(), input });
    expect(result).toEqual({ outcome: 'Sent', commandId: COMMAND_ID, targetCount: 2 });
    expect(ssm).toHaveReceivedCommandWith(DescribeInstanceInformationCommand, { Filters: [{ Key: 'tag:Role', Values: ['web'] }] });
    const send = ssm.commandCalls(SendCommandCommand)[0].args[0].input;
    expect(send).toEqual({
      DocumentName: 'Install-ACMCertificate-Test',
      Targets: [{ Key: 'tag:Role', Values: ['web'] }],
      Parameters: {
        CertName: ['www'],
        SecretId: [SECRET_ARN],
        SecretVersionId: [EXPORT_RESULT.secretVersionId],
        Region: ['us-east-1'],
        CertDir: ['/etc/ssl/certs'],
        KeyDir: ['/etc/ssl/private'],
        Service: ['nginx'],
        VerifyPort: ['443'],
      },
      MaxConcurrency: '10%',
      MaxErrors: '0',
      TimeoutSeconds: 600,
      CloudWatchOutputConfig: { CloudWatchLogGroupName: '/acm-export/commands', CloudWatchOutputEnabled: true },
      Comment: 'acm-export exec-1',
    });
    expect(await item(input.CertificateArn)).toMatchObject({
      itemType: 'target',
      certName: 'www',
      targetTagKey: 'Role',
      targetTagValue: 'web',
      service: 'nginx',
      verifyPort: 443,
      maxConcurrency: '10%',
      maxErrors: '0',
      certExpiryDate: EXPORT_RESULT.notAfter,
      lastSerial: EXPORT_RESULT.serial,
      lastExportedDate: NOW.toISOString(),
      lastExportStartedAt: '2026-11-20T10:00:00.000Z',
      lastExecutionArn: executionArn('exec-1'),
      lastSecretVersionId: EXPORT_RESULT.secretVersionId,
      lastDeployStatus: 'InProgress',
    });
  });

  test('finds matching nodes across pages', async () => {
    ssm.on(DescribeInstanceInformationCommand)
      .resolvesOnce({ InstanceInformationList: [{ InstanceId: 'i-00000000000000001' }], NextToken: 'p2' })
      .resolvesOnce({ InstanceInformationList: [{ InstanceId: 'i-00000000000000002' }], NextToken: 'p3' })
      .resolvesOnce({ InstanceInformationList: [{ InstanceId: 'mi-00000000000000003' }] });
    const result = await handler({ ...installPayload(), input: freshInput({ DryRun: true }) });
    expect(result).toEqual({
      outcome: 'DryRun',
      targetCount: 3,
      nodeIds: ['i-00000000000000001', 'i-00000000000000002', 'mi-00000000000000003'],
    });
    expect(ssm).toHaveReceivedCommandTimes(DescribeInstanceInformationCommand, 3);
    expect(ssm.commandCalls(DescribeInstanceInformationCommand).map((c) => c.args[0].input.NextToken)).toEqual([undefined, 'p2', 'p3']);
  });

  test('a dry run sends nothing and leaves the inventory alone', async () => {
    const input = freshInput({ DryRun: true });
    await handler({ ...installPayload(), input });
    expect(ssm).not.toHaveReceivedCommand(SendCommandCommand);
    expect(await item(input.CertificateArn)).toBeUndefined();
  });

  test('zero matching nodes is a NoMatchingNodes failure before anything is written or sent', async () => {
    ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });
    const input = freshInput();
    await expect(handler({ ...installPayload(), input })).rejects.toMatchObject({
      name: 'NoMatchingNodes',
      message: expect.stringContaining('Role=web'),
    });
    expect(ssm).not.toHaveReceivedCommand(SendCommandCommand);
    expect(await item(input.CertificateArn)).toBeUndefined();
  });

  test('an older export arriving late is Superseded: no command, the newer item stays', async () => {
    const input = freshInput();
    await handler({ ...installPayload({ name: 'newer', start: '2026-11-20T12:00:00.000Z' }), input });
    ssm.resetHistory();
    const late = await handler({ ...installPayload({ name: 'older', start: '2026-11-20T11:00:00.000Z' }), input });
    expect(late).toEqual({ outcome: 'Superseded', targetCount: 0, supersededBy: executionArn('newer') });
    expect(ssm).not.toHaveReceivedCommand(SendCommandCommand);
    expect((await item(input.CertificateArn))?.lastExecutionArn).toBe(executionArn('newer'));
    // A later export does take over.
    await handler({ ...installPayload({ name: 'newest', start: '2026-11-20T13:00:00.000Z' }), input });
    expect((await item(input.CertificateArn))?.lastExecutionArn).toBe(executionArn('newest'));
  });

  test('a retried task of the same execution is not superseded by itself', async () => {
    const input = freshInput();
    await handler({ ...installPayload(), input });
    const again = await handler({ ...installPayload(), input });
    expect(again.outcome).toBe('Sent');
  });

  test('throttling becomes Throttled; a rejected command marks the target Failed', async () => {
    ssm.on(DescribeInstanceInformationCommand).rejects(Object.assign(new Error('slow'), { name: 'ThrottlingException' }));
    await expect(handler({ ...installPayload(), input: freshInput() })).rejects.toMatchObject({ name: 'Throttled' });

    ssm.reset();
    ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [{ InstanceId: 'i-0123456789abcdef0' }] });
    ssm.on(SendCommandCommand).rejects(Object.assign(new Error('bad doc'), { name: 'InvalidDocument' }));
    const input = freshInput();
    await expect(handler({ ...installPayload(), input })).rejects.toMatchObject({ name: 'InvalidDocument' });
    expect((await item(input.CertificateArn))?.lastDeployStatus).toBe('Failed');
  });

  test('payload problems are InvalidInput naming the field', async () => {
    await expect(handler({ ...installPayload(), export: { ...EXPORT_RESULT, secretVersionId: 'x' } })).rejects.toMatchObject({
      name: 'InvalidInput',
      message: expect.stringContaining('export.secretVersionId: must be a Secrets Manager version id'),
    });
    await expect(handler({ ...installPayload(), input: { ...INPUT, TargetTagKey: 'aws:reserved' } })).rejects.toMatchObject({
      name: 'InvalidInput',
      message: expect.stringContaining('TargetTagKey: must not start with "aws:"'),
    });
    await expect(handler({ ...installPayload(), input: { ...INPUT, MaxErrors: '101%' } })).rejects.toMatchObject({
      message: expect.stringContaining('MaxErrors: must be a number of nodes'),
    });
    expect(ssm).not.toHaveReceivedAnyCommand();
  });
});
