import {
  AddTagsToResourceCommand,
  CreateAssociationCommand,
  DescribeAssociationCommand,
  DescribeInstanceInformationCommand,
  ListAssociationsCommand,
  SSMClient,
  SendCommandCommand,
  UpdateAssociationCommand,
} from '@aws-sdk/client-ssm';
import { associationName, reportAssociationName } from '../../lambda/shared/associations';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import 'aws-sdk-client-mock-jest';
import { createHandler } from '../../lambda/ssm-run/handler';
import { InventoryItem } from '../../lambda/shared/contract';
import {
  CERT_ARN,
  COMMAND_ID,
  EXPORT_RESULT,
  INPUT,
  SECRET_ARN,
  executionArn,
  installPayload,
  startInventory,
  mockAwsClient,
  fakeAssociationId,
} from './support';

const ssm = mockAwsClient(SSMClient);
const STACK_NAME = 'AcmExportTest';
let inventory: Awaited<ReturnType<typeof startInventory>>;
let handler: ReturnType<typeof createHandler>;
const NOW = new Date('2026-11-20T10:00:05.000Z');

beforeAll(async () => {
  inventory = await startInventory();
  handler = createHandler({
    ddb: inventory.ddb,
    tableName: inventory.tableName,
    documentName: 'Install-ACMCertificate-Test',
    reportDocumentName: 'Report-ACMCertificate-Test',
    stackName: STACK_NAME,
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
  return {
    ...INPUT,
    CertificateArn: CERT_ARN.replace(/[0-9a-f]{4}$/, certCounter.toString(16).padStart(4, '0')),
    ...over,
  };
}

async function item(certificateArn: string, target = 'Role=web'): Promise<InventoryItem | undefined> {
  const out = await inventory.ddb.send(
    new GetCommand({ TableName: inventory.tableName, Key: { certificateArn, target } }),
  );
  return out.Item as InventoryItem | undefined;
}

beforeEach(() => {
  ssm.reset();
  ssm.on(DescribeInstanceInformationCommand).resolves({
    InstanceInformationList: [{ InstanceId: 'i-0123456789abcdef0' }, { InstanceId: 'mi-0123456789abcdef0' }],
  });
  ssm.on(SendCommandCommand).resolves({ Command: { CommandId: COMMAND_ID, TargetCount: 0 } });
  ssm.on(ListAssociationsCommand).resolves({ Associations: [] });
  // SSM keeps what Create/UpdateAssociation were given and DescribeAssociation returns it.
  const stored = new Map<string, object>();
  ssm
    .on(CreateAssociationCommand)
    .callsFake(({ Tags: _tags, ...input }: { AssociationName?: string; Tags?: unknown }) => {
      stored.set(idFor(input.AssociationName), { ...input, AssociationId: idFor(input.AssociationName) });
      return { AssociationDescription: { AssociationId: idFor(input.AssociationName) } };
    });
  ssm.on(UpdateAssociationCommand).callsFake((input: { AssociationId: string }) => {
    stored.set(input.AssociationId, { ...input });
    return { AssociationDescription: { AssociationId: input.AssociationId } };
  });
  // One a test's own fake created (not kept here) exists with unknown settings: it is updated.
  ssm.on(DescribeAssociationCommand).callsFake(({ AssociationId }: { AssociationId: string }) => ({
    AssociationDescription: stored.get(AssociationId) ?? { AssociationId },
  }));
});

const ASSOCIATION_ID = '0f1e2d3c-4b5a-4969-8877-665544332211';
const REPORT_ASSOCIATION_ID = '0f1e2d3c-4b5a-4969-8877-6655443322ff';
/** The id SSM gives the install or the report association (by its name). */
const idFor = (name = ''): string => (name.startsWith('acm-export-report-') ? REPORT_ASSOCIATION_ID : ASSOCIATION_ID);
/** The CreateAssociation inputs for one of the two associations (by name). */
const associationCalls = (command: typeof CreateAssociationCommand, name: string) =>
  ssm
    .commandCalls(command)
    .map((c) => c.args[0].input)
    .filter((input) => input.AssociationName === name);

describe('ssm-run', () => {
  test('records the export and sends the document to the tag with identifier-only parameters', async () => {
    const input = freshInput({ Service: 'nginx', VerifyPort: 443 });
    const result = await handler({ ...installPayload(), input });
    expect(result).toEqual({
      outcome: 'Sent',
      commandId: COMMAND_ID,
      targetCount: 2,
      associationId: ASSOCIATION_ID,
      reportAssociationId: REPORT_ASSOCIATION_ID,
    });
    expect(ssm).toHaveReceivedCommandWith(DescribeInstanceInformationCommand, {
      Filters: [{ Key: 'tag:Role', Values: ['web'] }],
    });
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
        KeyOwner: [''],
        KeyGroup: [''],
        KeyMode: [''],
        CertOwner: [''],
        CertGroup: [''],
        CertMode: ['0644'],
        Pkcs12: ['false'],
        CombinedPem: ['false'],
        Target: ['Role=web'],
      },
      MaxConcurrency: '10%',
      MaxErrors: '0',
      TimeoutSeconds: 600,
      CloudWatchOutputConfig: { CloudWatchLogGroupName: '/acm-export/commands', CloudWatchOutputEnabled: true },
      Comment: 'acm-export exec-1',
    });
    expect(await item(input.CertificateArn)).toMatchObject({
      // Options are stored under their API names.
      itemType: 'target',
      CertName: 'www',
      TargetTagKey: 'Role',
      TargetTagValue: 'web',
      Service: 'nginx',
      VerifyPort: 443,
      MaxConcurrency: '10%',
      MaxErrors: '0',
      certExpiryDate: EXPORT_RESULT.notAfter,
      lastSerial: EXPORT_RESULT.serial,
      lastExportedDate: NOW.toISOString(),
      lastExportStartedAt: '2026-11-20T10:00:00.000Z',
      lastExecutionArn: executionArn('exec-1'),
      lastSecretVersionId: EXPORT_RESULT.secretVersionId,
      lastDeployStatus: 'InProgress',
    });
  });

  test('sends to the nodes found across pages', async () => {
    ssm
      .on(DescribeInstanceInformationCommand)
      .resolvesOnce({ InstanceInformationList: [{ InstanceId: 'i-00000000000000001' }], NextToken: 'p2' })
      .resolvesOnce({ InstanceInformationList: [{ InstanceId: 'i-00000000000000002' }], NextToken: 'p3' })
      .resolvesOnce({ InstanceInformationList: [{ InstanceId: 'mi-00000000000000003' }] });
    const result = await handler({ ...installPayload(), input: freshInput() });
    expect(result).toMatchObject({ outcome: 'Sent', targetCount: 3 });
    expect(ssm.commandCalls(DescribeInstanceInformationCommand).map((c) => c.args[0].input.NextToken)).toEqual([
      undefined,
      'p2',
      'p3',
    ]);
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
    ssm
      .on(DescribeInstanceInformationCommand)
      .rejects(Object.assign(new Error('slow'), { name: 'ThrottlingException' }));
    await expect(handler({ ...installPayload(), input: freshInput() })).rejects.toMatchObject({ name: 'Throttled' });

    ssm.reset();
    ssm
      .on(DescribeInstanceInformationCommand)
      .resolves({ InstanceInformationList: [{ InstanceId: 'i-0123456789abcdef0' }] });
    ssm.on(SendCommandCommand).rejects(Object.assign(new Error('bad doc'), { name: 'InvalidDocument' }));
    const input = freshInput();
    await expect(handler({ ...installPayload(), input })).rejects.toMatchObject({ name: 'InvalidDocument' });
    expect((await item(input.CertificateArn))?.lastDeployStatus).toBe('Failed');
  });

  test('payload problems are InvalidInput naming the field', async () => {
    await expect(
      handler({ ...installPayload(), export: { ...EXPORT_RESULT, secretVersionId: 'x' } }),
    ).rejects.toMatchObject({
      name: 'InvalidInput',
      message: expect.stringContaining('export.secretVersionId: must be a Secrets Manager version id'),
    });
    await expect(
      handler({ ...installPayload(), input: { ...INPUT, TargetTagKey: 'aws:reserved' } }),
    ).rejects.toMatchObject({
      name: 'InvalidInput',
      message: expect.stringContaining('TargetTagKey: must not start with "aws:"'),
    });
    await expect(handler({ ...installPayload(), input: { ...INPUT, MaxErrors: '101%' } })).rejects.toMatchObject({
      message: expect.stringContaining('MaxErrors: must be a number of nodes'),
    });
    expect(ssm).not.toHaveReceivedAnyCommand();
  });
});

describe('convergence association', () => {
  test('first export: one association on the same tag, AWSCURRENT, default schedule, id stored in the inventory', async () => {
    const input = freshInput({
      KeyOwner: 'haproxy',
      KeyMode: '0640',
      CombinedPem: true,
      Pkcs12: true,
      CertMode: '0444',
    });
    const result = await handler({ ...installPayload(), input });
    expect(result.associationId).toBe(ASSOCIATION_ID);
    expect(ssm).toHaveReceivedCommandWith(ListAssociationsCommand, {
      AssociationFilterList: [{ key: 'AssociationName', value: associationName(input.CertificateArn, 'Role=web') }],
    });
    const [create] = associationCalls(CreateAssociationCommand, associationName(input.CertificateArn, 'Role=web'));
    expect(create).toEqual({
      Name: 'Install-ACMCertificate-Test',
      DocumentVersion: '$DEFAULT',
      AssociationName: associationName(input.CertificateArn, 'Role=web'),
      Targets: [{ Key: 'tag:Role', Values: ['web'] }],
      Parameters: expect.objectContaining({
        SecretId: [SECRET_ARN],
        SecretVersionStage: ['AWSCURRENT'],
        KeyOwner: ['haproxy'],
        KeyMode: ['0640'],
        CertMode: ['0444'],
        CombinedPem: ['true'],
        Pkcs12: ['true'],
        Target: ['Role=web'],
      }),
      ScheduleExpression: 'rate(12 hours)',
      MaxConcurrency: '10%',
      MaxErrors: '100%',
      ComplianceSeverity: 'HIGH',
      SyncCompliance: 'AUTO',
      Tags: [{ Key: 'acm-export:stack', Value: STACK_NAME }],
    });
    expect(create.Parameters).not.toHaveProperty('SecretVersionId');
    expect(create).not.toHaveProperty('ApplyOnlyAtCronInterval'); // rate expressions: the default (false) applies
    // The push still names the exact version.
    expect(ssm.commandCalls(SendCommandCommand)[0].args[0].input.Parameters?.SecretVersionId).toEqual([
      EXPORT_RESULT.secretVersionId,
    ]);
    expect(await item(input.CertificateArn)).toMatchObject({
      associationId: ASSOCIATION_ID,
      ConvergenceSchedule: 'rate(12 hours)',
      KeyOwner: 'haproxy',
      CombinedPem: true,
      Pkcs12: true,
    });
    // Associations before the push: nothing is sent if the association step is throttled and retried.
    const order = ssm.calls().map((c) => c.args[0].constructor.name);
    expect(order.lastIndexOf('CreateAssociationCommand')).toBeLessThan(order.indexOf('SendCommandCommand'));
  });

  test('first export: a second, report association on the same tag: the report document with its own parameters, no version or stage, hourly by default, id stored', async () => {
    const input = freshInput({
      Service: 'nginx',
      VerifyPort: 8443,
      KeyOwner: 'haproxy',
      ConvergenceSchedule: 'rate(1 day)',
    });
    const result = await handler({ ...installPayload(), input });
    expect(result).toMatchObject({ associationId: ASSOCIATION_ID, reportAssociationId: REPORT_ASSOCIATION_ID });
    expect(ssm).toHaveReceivedCommandTimes(CreateAssociationCommand, 2);
    const install = associationCalls(CreateAssociationCommand, associationName(input.CertificateArn, 'Role=web'))[0];
    const [report] = associationCalls(
      CreateAssociationCommand,
      reportAssociationName(input.CertificateArn, 'Role=web'),
    );
    const { CertName, SecretId, CertDir, KeyDir, Pkcs12, CombinedPem, Target, Service, VerifyPort } =
      install.Parameters ?? {};
    expect(report).toEqual({
      Name: 'Report-ACMCertificate-Test',
      DocumentVersion: '$DEFAULT',
      AssociationName: reportAssociationName(input.CertificateArn, 'Role=web'),
      Targets: [{ Key: 'tag:Role', Values: ['web'] }],
      Parameters: { CertName, SecretId, CertDir, KeyDir, Pkcs12, CombinedPem, Target, Service, VerifyPort },
      ScheduleExpression: 'rate(1 hour)',
      MaxConcurrency: '10%',
      MaxErrors: '100%',
      ComplianceSeverity: 'MEDIUM',
      SyncCompliance: 'AUTO',
      Tags: [{ Key: 'acm-export:stack', Value: STACK_NAME }],
    });
    expect(report.Parameters).not.toHaveProperty('SecretVersionId');
    expect(report.Parameters).not.toHaveProperty('SecretVersionStage');
    expect(report.Parameters).toMatchObject({
      Service: ['nginx'],
      VerifyPort: ['8443'],
      Target: ['Role=web'],
      SecretId: [SECRET_ARN],
    });
    // The report document reads no secret and writes no file: no key owner, no region.
    expect(report.Parameters).not.toHaveProperty('KeyOwner');
    expect(report.Parameters).not.toHaveProperty('Region');
    // The request's schedule is the install association's; the report association keeps the stack's.
    expect(install).toMatchObject({ ScheduleExpression: 'rate(1 day)', ComplianceSeverity: 'HIGH' });
    expect(await item(input.CertificateArn)).toMatchObject({
      associationId: ASSOCIATION_ID,
      reportAssociationId: REPORT_ASSOCIATION_ID,
    });
    expect(ssm).toHaveReceivedCommandWith(ListAssociationsCommand, {
      AssociationFilterList: [
        { key: 'AssociationName', value: reportAssociationName(input.CertificateArn, 'Role=web') },
      ],
    });
  });

  test('the report schedule comes from DRIFT_REPORT_SCHEDULE (or deps.reportSchedule)', async () => {
    const fromDeps = createHandler({
      ddb: inventory.ddb,
      tableName: inventory.tableName,
      documentName: 'Install-ACMCertificate-Test',
      reportDocumentName: 'Report-ACMCertificate-Test',
      stackName: STACK_NAME,
      logGroupName: '/acm-export/commands',
      timeoutSeconds: 600,
      region: 'us-east-1',
      now: () => NOW,
      reportSchedule: 'rate(30 minutes)',
    });
    const input = freshInput();
    await fromDeps({ ...installPayload(), input });
    expect(
      associationCalls(CreateAssociationCommand, reportAssociationName(input.CertificateArn, 'Role=web'))[0]
        .ScheduleExpression,
    ).toBe('rate(30 minutes)');

    ssm.resetHistory();
    const saved = process.env.DRIFT_REPORT_SCHEDULE;
    process.env.DRIFT_REPORT_SCHEDULE = 'rate(2 hours)';
    try {
      const fromEnv = createHandler({
        ddb: inventory.ddb,
        tableName: inventory.tableName,
        documentName: 'Install-ACMCertificate-Test',
        reportDocumentName: 'Report-ACMCertificate-Test',
        stackName: STACK_NAME,
        logGroupName: '/acm-export/commands',
        timeoutSeconds: 600,
        region: 'us-east-1',
        now: () => NOW,
      });
      const other = freshInput();
      await fromEnv({ ...installPayload(), input: other });
      expect(
        associationCalls(CreateAssociationCommand, reportAssociationName(other.CertificateArn, 'Role=web'))[0]
          .ScheduleExpression,
      ).toBe('rate(2 hours)');
      expect(
        associationCalls(CreateAssociationCommand, associationName(other.CertificateArn, 'Role=web'))[0]
          .ScheduleExpression,
      ).toBe('rate(12 hours)');
    } finally {
      if (saved === undefined) delete process.env.DRIFT_REPORT_SCHEDULE;
      else process.env.DRIFT_REPORT_SCHEDULE = saved;
    }
  });

  test('a report association that cannot be created does not hold back the push nor the install association', async () => {
    ssm.on(CreateAssociationCommand).callsFake((input: { AssociationName?: string }) => {
      if (input.AssociationName?.startsWith('acm-export-report-'))
        throw Object.assign(new Error('denied'), { name: 'AccessDeniedException' });
      return { AssociationDescription: { AssociationId: ASSOCIATION_ID } };
    });
    const input = freshInput();
    const result = await handler({ ...installPayload(), input });
    expect(result).toEqual({
      outcome: 'Sent',
      commandId: COMMAND_ID,
      targetCount: 2,
      associationId: ASSOCIATION_ID,
      reportAssociationError: 'AccessDeniedException: the report association could not be created or updated',
    });
    expect(ssm).toHaveReceivedCommandTimes(SendCommandCommand, 1);
    const stored = await item(input.CertificateArn);
    expect(stored).toMatchObject({ associationId: ASSOCIATION_ID });
    expect(stored).not.toHaveProperty('reportAssociationId');

    // The next export creates it.
    ssm.on(CreateAssociationCommand).callsFake((i: { AssociationName?: string }) => ({
      AssociationDescription: { AssociationId: idFor(i.AssociationName) },
    }));
    ssm.resetHistory();
    const next = await handler({ ...installPayload({ name: 'exec-later', start: '2026-11-20T11:00:00.000Z' }), input });
    expect(next).toMatchObject({ associationId: ASSOCIATION_ID, reportAssociationId: REPORT_ASSOCIATION_ID });
    expect(ssm).toHaveReceivedCommandWith(UpdateAssociationCommand, { AssociationId: ASSOCIATION_ID });
    expect(
      associationCalls(CreateAssociationCommand, reportAssociationName(input.CertificateArn, 'Role=web')),
    ).toHaveLength(1);
    expect(await item(input.CertificateArn)).toMatchObject({
      associationId: ASSOCIATION_ID,
      reportAssociationId: REPORT_ASSOCIATION_ID,
    });
  });

  test('a throttled report association retries the task before anything is sent', async () => {
    ssm.on(CreateAssociationCommand).callsFake((input: { AssociationName?: string }) => {
      if (input.AssociationName?.startsWith('acm-export-report-'))
        throw Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
      return { AssociationDescription: { AssociationId: ASSOCIATION_ID } };
    });
    await expect(handler({ ...installPayload(), input: freshInput() })).rejects.toMatchObject({ name: 'Throttled' });
    expect(ssm).toHaveReceivedCommandTimes(SendCommandCommand, 0);
  });

  test('a renewal (next export of the same target, nothing changed) updates neither association: the push is the only run', async () => {
    const input = freshInput({ ConvergenceSchedule: 'rate(1 day)' });
    await handler({ ...installPayload({ name: 'exec-a', start: '2026-11-20T10:00:00.000Z' }), input });
    ssm.resetHistory();
    const result = await handler({ ...installPayload({ name: 'exec-b', start: '2026-11-20T11:00:00.000Z' }), input });
    expect(result).toMatchObject({ associationId: ASSOCIATION_ID, reportAssociationId: REPORT_ASSOCIATION_ID });
    expect(ssm).toHaveReceivedCommandTimes(ListAssociationsCommand, 0);
    expect(ssm).toHaveReceivedCommandTimes(CreateAssociationCommand, 0);
    expect(ssm).toHaveReceivedCommandTimes(DescribeAssociationCommand, 2);
    expect(ssm).toHaveReceivedCommandTimes(UpdateAssociationCommand, 0);
    expect(ssm).toHaveReceivedCommandTimes(SendCommandCommand, 1);
  });

  test('a renewal while a node is offline re-applies the install association (it runs there on return), not the report one', async () => {
    const input = freshInput();
    await handler({ ...installPayload({ name: 'exec-a', start: '2026-11-20T10:00:00.000Z' }), input });
    ssm.resetHistory();
    ssm.on(DescribeInstanceInformationCommand).resolves({
      InstanceInformationList: [
        { InstanceId: 'i-0123456789abcdef0', PingStatus: 'Online' },
        { InstanceId: 'mi-0123456789abcdef0', PingStatus: 'ConnectionLost' },
      ],
    });
    const result = await handler({ ...installPayload({ name: 'exec-b', start: '2026-11-20T11:00:00.000Z' }), input });
    expect(result).toMatchObject({ outcome: 'Sent', targetCount: 2, associationId: ASSOCIATION_ID });
    expect(ssm).toHaveReceivedCommandTimes(UpdateAssociationCommand, 1);
    expect(ssm).toHaveReceivedCommandWith(UpdateAssociationCommand, {
      AssociationId: ASSOCIATION_ID,
      AssociationName: associationName(input.CertificateArn, 'Role=web'),
    });
    expect(ssm).toHaveReceivedCommandTimes(SendCommandCommand, 1);
  });

  test('next export of the same target with another schedule updates the install association only (no list, no second ones)', async () => {
    const input = freshInput({ ConvergenceSchedule: 'rate(1 day)' });
    await handler({ ...installPayload({ name: 'exec-a', start: '2026-11-20T10:00:00.000Z' }), input });
    ssm.resetHistory();
    await handler({
      ...installPayload({ name: 'exec-b', start: '2026-11-20T11:00:00.000Z' }),
      input: { ...input, ConvergenceSchedule: 'rate(2 days)' },
    });
    expect(ssm).toHaveReceivedCommandTimes(ListAssociationsCommand, 0);
    expect(ssm).toHaveReceivedCommandTimes(CreateAssociationCommand, 0);
    expect(ssm).toHaveReceivedCommandTimes(UpdateAssociationCommand, 1);
    expect(ssm).toHaveReceivedCommandWith(UpdateAssociationCommand, {
      AssociationId: ASSOCIATION_ID,
      ScheduleExpression: 'rate(2 days)',
      AssociationName: associationName(input.CertificateArn, 'Role=web'),
    });
  });

  test("both associations are created with the acm-export:stack tag naming this stack (what the export-api's delete permission requires)", async () => {
    const input = freshInput();
    await handler({ ...installPayload(), input });
    const created = ssm.commandCalls(CreateAssociationCommand).map((c) => c.args[0].input);
    expect(created.map((c) => c.AssociationName).sort()).toEqual(
      [
        associationName(input.CertificateArn, 'Role=web'),
        reportAssociationName(input.CertificateArn, 'Role=web'),
      ].sort(),
    );
    for (const c of created) expect(c.Tags).toEqual([{ Key: 'acm-export:stack', Value: STACK_NAME }]);
  });

  test('an existing association (possibly created before the tag existed) gets the stack tag, updated or not', async () => {
    const input = freshInput();
    await handler({ ...installPayload({ name: 'exec-a', start: '2026-11-20T10:00:00.000Z' }), input });
    ssm.resetHistory();
    await handler({
      ...installPayload({ name: 'exec-b', start: '2026-11-20T11:00:00.000Z' }),
      input: { ...input, ConvergenceSchedule: 'rate(2 days)' },
    });
    const tagged = ssm.commandCalls(AddTagsToResourceCommand).map((c) => c.args[0].input);
    expect(tagged).toHaveLength(2);
    for (const id of [ASSOCIATION_ID, REPORT_ASSOCIATION_ID])
      expect(tagged).toContainEqual({
        ResourceType: 'Association',
        ResourceId: id,
        Tags: [{ Key: 'acm-export:stack', Value: STACK_NAME }],
      });
    const order = ssm.calls().map((c) => c.args[0].constructor.name);
    expect(order).toContain('UpdateAssociationCommand');
    expect(order.indexOf('AddTagsToResourceCommand')).toBeGreaterThan(order.indexOf('UpdateAssociationCommand'));
  });

  test('an association that cannot be tagged is reported as not updated; the push goes out anyway', async () => {
    const input = freshInput();
    await handler({ ...installPayload({ name: 'exec-a', start: '2026-11-20T10:00:00.000Z' }), input });
    ssm.resetHistory();
    ssm.on(AddTagsToResourceCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    const result = await handler({ ...installPayload({ name: 'exec-b', start: '2026-11-20T11:00:00.000Z' }), input });
    expect(result).toMatchObject({ associationError: expect.stringContaining('AccessDeniedException') });
    expect(ssm).toHaveReceivedCommandTimes(SendCommandCommand, 1);
  });

  test('associations found by name (a retried task) are updated, not duplicated', async () => {
    const input = freshInput();
    const existing = [
      { AssociationId: fakeAssociationId(0x301), AssociationName: associationName(input.CertificateArn, 'Role=web') },
      {
        AssociationId: fakeAssociationId(0x302),
        AssociationName: reportAssociationName(input.CertificateArn, 'Role=web'),
      },
    ];
    ssm.on(ListAssociationsCommand).callsFake((i: { AssociationFilterList?: { value?: string }[] }) => ({
      Associations: existing.filter((a) => a.AssociationName === i.AssociationFilterList?.[0]?.value),
    }));
    const result = await handler({ ...installPayload(), input });
    expect(result).toMatchObject({
      associationId: fakeAssociationId(0x301),
      reportAssociationId: fakeAssociationId(0x302),
    });
    expect(ssm).toHaveReceivedCommandTimes(CreateAssociationCommand, 0);
    expect(await item(input.CertificateArn)).toMatchObject({
      associationId: fakeAssociationId(0x301),
      reportAssociationId: fakeAssociationId(0x302),
    });
  });

  test('a stored association deleted behind our back is created again', async () => {
    const input = freshInput();
    await handler({ ...installPayload({ name: 'exec-c', start: '2026-11-20T10:00:00.000Z' }), input });
    const gone = Object.assign(new Error('gone'), { name: 'AssociationDoesNotExist' });
    ssm.on(DescribeAssociationCommand).rejects(gone);
    ssm.on(UpdateAssociationCommand).rejects(gone);
    ssm.on(CreateAssociationCommand).callsFake((i: { AssociationName?: string }) => ({
      AssociationDescription: {
        AssociationId: fakeAssociationId(idFor(i.AssociationName) === ASSOCIATION_ID ? 0x601 : 0x602),
      },
    }));
    const result = await handler({ ...installPayload({ name: 'exec-d', start: '2026-11-20T11:00:00.000Z' }), input });
    expect(result).toMatchObject({
      associationId: fakeAssociationId(0x601),
      reportAssociationId: fakeAssociationId(0x602),
    });
    expect(await item(input.CertificateArn)).toMatchObject({
      associationId: fakeAssociationId(0x601),
      reportAssociationId: fakeAssociationId(0x602),
    });
  });

  test('throttling retries the task before anything is sent; other errors do not block the push', async () => {
    const throttled = Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
    ssm.on(CreateAssociationCommand).rejects(throttled);
    await expect(handler({ ...installPayload(), input: freshInput() })).rejects.toMatchObject({ name: 'Throttled' });
    expect(ssm).toHaveReceivedCommandTimes(SendCommandCommand, 0);

    ssm.on(CreateAssociationCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    const result = await handler({ ...installPayload(), input: freshInput() });
    expect(result).toMatchObject({ outcome: 'Sent', commandId: COMMAND_ID });
    expect(result.associationError).toBe(
      'AccessDeniedException: the convergence association could not be created or updated',
    );
    expect(result.reportAssociationError).toBe(
      'AccessDeniedException: the report association could not be created or updated',
    );
  });
});
