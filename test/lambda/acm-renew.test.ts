import { ACMClient, DescribeCertificateCommand, ListTagsForCertificateCommand } from '@aws-sdk/client-acm';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import 'aws-sdk-client-mock-jest';
import { createHandler } from '../../lambda/acm-renew/handler';
import { InventoryItem } from '../../lambda/shared/contract';
import { RENEWAL_START_CONCURRENCY, inputFromItem, renewalExecutionName } from '../../lambda/acm-renew/acm-renew';
import { withDefaults } from '../../lambda/shared/schemas';
import { CERT_ARN, STATE_MACHINE_ARN, executionArn, issuedCertificate, mockAwsClient } from './support';

const acm = mockAwsClient(ACMClient);
const sfn = mockAwsClient(SFNClient);
const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const ddbMock = mockAwsClient(ddb);
const OPT_IN = { anyCertificate: false, tagKey: 'acm-export:exportable', tagValue: 'true' } as const;
const handler = createHandler({
  ddb,
  tableName: 'Inventory',
  stateMachineArn: STATE_MACHINE_ARN,
  region: 'us-east-1',
  exportOptIn: OPT_IN,
});

function event(
  over: Record<string, unknown> = {},
  detail: Record<string, unknown> = { Action: 'RENEWAL', CertificateType: 'AMAZON_ISSUED' },
) {
  return {
    version: '0',
    id: 'e1f2a3b4-0000-1111-2222-333344445555',
    'detail-type': 'ACM Certificate Available',
    source: 'aws.acm',
    account: '111122223333',
    time: '2026-11-20T10:00:00Z',
    region: 'us-east-1',
    resources: [CERT_ARN],
    detail,
    ...over,
  };
}

function item(tagValue: string, over: Partial<InventoryItem> = {}): InventoryItem {
  return {
    certificateArn: CERT_ARN,
    target: `Role=${tagValue}`,
    itemType: 'target',
    CertName: 'www',
    TargetTagKey: 'Role',
    TargetTagValue: tagValue,
    CertDir: '/etc/nginx/ssl',
    KeyDir: '/etc/nginx/ssl/private',
    Service: 'nginx',
    VerifyPort: 443,
    MaxConcurrency: '2',
    MaxErrors: '0',
    certExpiryDate: '2027-06-01T00:00:00.000Z',
    lastExportedDate: '2026-11-01T00:00:00.000Z',
    lastExportStartedAt: '2026-11-01T00:00:00.000Z',
    lastSerial: '01',
    lastSecretArn: 'arn',
    lastSecretVersionId: 'v',
    lastExecutionArn: executionArn('old'),
    lastDeployStatus: 'Succeeded',
    ...over,
  };
}

beforeEach(() => {
  acm.reset();
  sfn.reset();
  ddbMock.reset();
  acm.on(DescribeCertificateCommand).resolves({ Certificate: issuedCertificate() });
  acm.on(ListTagsForCertificateCommand).resolves({ Tags: [{ Key: 'acm-export:exportable', Value: 'true' }] });
  ddbMock
    .on(QueryCommand)
    .resolvesOnce({ Items: [item('web')], LastEvaluatedKey: { certificateArn: CERT_ARN, target: 'Role=web' } })
    .resolvesOnce({ Items: [item('api')] });
  sfn
    .on(StartExecutionCommand)
    .callsFake((input: { name: string }) => ({ executionArn: executionArn(input.name), startDate: new Date() }));
});

describe('acm-renew', () => {
  test.each(['Removing', 'RemovalFailed'] as const)(
    'a target whose files are being removed (%s) is not renewed: no execution for it, the others renew',
    async (removalStatus) => {
      ddbMock.reset();
      ddbMock.on(QueryCommand).resolves({
        Items: [item('web', { removalStatus, removalRequestedAt: '2026-11-19T00:00:00.000Z' }), item('api')],
      });
      const result = await handler(event());
      expect(result).toMatchObject({ started: 1, targets: 2, skipped: 1 });
      const inputs = sfn.commandCalls(StartExecutionCommand).map((c) => JSON.parse(c.args[0].input.input!));
      expect(inputs.map((i: { TargetTagValue: string }) => i.TargetTagValue)).toEqual(['api']);
    },
  );

  test('a target stored with Service none (the default before auto) renews with none; only a request without Service gets auto', () => {
    const stored = inputFromItem(item('web', { Service: 'none' }));
    expect(stored.Service).toBe('none');
    expect(withDefaults(stored).Service).toBe('none');
    expect(withDefaults({ ...stored, Service: undefined }).Service).toBe('auto');
  });

  test('starts one execution per stored target (all Query pages) with the stored options and a deterministic name', async () => {
    const result = await handler(event());
    expect(result).toMatchObject({ started: 2, alreadyStarted: 0, targets: 2, skipped: 0 });
    expect(ddbMock).toHaveReceivedCommandTimes(QueryCommand, 2);
    expect(ddbMock.commandCalls(QueryCommand)[1].args[0].input.ExclusiveStartKey).toEqual({
      certificateArn: CERT_ARN,
      target: 'Role=web',
    });
    const starts = sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input);
    expect(starts[0]).toMatchObject({
      stateMachineArn: STATE_MACHINE_ARN,
      name: renewalExecutionName(CERT_ARN, 'Role=web', event().id),
    });
    expect(starts[0].name).toMatch(/^renew-[0-9a-f]{40}$/);
    expect(JSON.parse(starts[0].input as string)).toEqual({
      CertificateArn: CERT_ARN,
      CertName: 'www',
      TargetTagKey: 'Role',
      TargetTagValue: 'web',
      CertDir: '/etc/nginx/ssl',
      KeyDir: '/etc/nginx/ssl/private',
      Service: 'nginx',
      VerifyPort: 443,
      MaxConcurrency: '2',
      MaxErrors: '0',
    });
    expect(starts[1].name).not.toBe(starts[0].name);
  });

  test('a redelivered event starts nothing new: ExecutionAlreadyExists counts as started', async () => {
    sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
    const result = await handler(event());
    expect(result).toMatchObject({ started: 0, alreadyStarted: 2, targets: 2 });
  });

  test('the same event id gives the same names; another event id gives new ones', () => {
    expect(renewalExecutionName(CERT_ARN, 'Role=web', 'a')).toBe(renewalExecutionName(CERT_ARN, 'Role=web', 'a'));
    expect(renewalExecutionName(CERT_ARN, 'Role=web', 'a')).not.toBe(renewalExecutionName(CERT_ARN, 'Role=web', 'b'));
    expect(renewalExecutionName(CERT_ARN, 'Role=web', 'a').length).toBeLessThanOrEqual(80);
  });

  test.each([
    [{ 'detail-type': 'ACM Certificate Approaching Expiration' }, { DaysToExpiry: 30 }],
    [{}, { Action: 'ISSUANCE' }],
    [{}, { Action: 'IMPORT' }],
  ])('non-renewal events are ignored without AWS calls (%p %p)', async (over, detail) => {
    const result = await handler(event(over, detail));
    expect(result.started).toBe(0);
    expect(result.ignoredCode).toBe('NotARenewal');
    expect(acm).not.toHaveReceivedAnyCommand();
    expect(sfn).not.toHaveReceivedAnyCommand();
  });

  test.each([
    [{ Options: { Export: 'DISABLED' } }, 'CertificateNotExportable'],
    [{ Status: 'EXPIRED' }, 'CertificateNotIssued'],
  ])('a certificate that is not exportable/issued is ignored (%p)', async (over, name) => {
    acm.on(DescribeCertificateCommand).resolves({ Certificate: issuedCertificate(over) });
    const result = await handler(event());
    expect(result).toMatchObject({
      started: 0,
      ignoredCode: 'CertificateNotExportable',
      ignored: expect.stringContaining(name),
    });
    expect(ddbMock).not.toHaveReceivedAnyCommand();
    expect(sfn).not.toHaveReceivedAnyCommand();
  });

  test('a certificate with no inventory targets starts nothing', async () => {
    ddbMock.reset();
    ddbMock.on(QueryCommand).resolves({ Items: [] });
    expect(await handler(event())).toMatchObject({ started: 0, targets: 0, ignoredCode: 'NoTargets' });
  });

  test('a stored target that no longer validates is skipped, the others start', async () => {
    ddbMock.reset();
    ddbMock.on(QueryCommand).resolves({ Items: [item('web', { CertDir: 'relative/path' }), item('api')] });
    expect(await handler(event())).toMatchObject({ started: 1, skipped: 1, targets: 2 });
  });

  test('a target outside a narrowed placement policy is skipped and named; the others renew', async () => {
    ddbMock.reset();
    ddbMock.on(QueryCommand).resolves({ Items: [item('web', { KeyDir: '/var/www/html' }), item('api')] });
    const result = await handler(event());
    expect(result).toMatchObject({ started: 1, skipped: 1, targets: 2, outsidePlacement: ['Role=web'] });
    const inputs = sfn.commandCalls(StartExecutionCommand).map((c) => JSON.parse(c.args[0].input.input!));
    expect(inputs.map((i: { TargetTagValue: string }) => i.TargetTagValue)).toEqual(['api']);

    ddbMock.reset();
    sfn.resetHistory();
    ddbMock.on(QueryCommand).resolves({ Items: [item('web'), item('api', { KeyGroup: 'users' })] });
    const narrowed = createHandler({
      ddb,
      tableName: 'Inventory',
      stateMachineArn: STATE_MACHINE_ARN,
      region: 'us-east-1',
      exportOptIn: OPT_IN,
      placement: { allowedDirs: ['/etc/pki'], keyAccounts: ['root'] },
    });
    expect(await narrowed(event())).toMatchObject({
      started: 0,
      skipped: 2,
      outsidePlacement: ['Role=web', 'Role=api'],
    });
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  test('a throttled start is retried by EventBridge after trying every target', async () => {
    sfn
      .on(StartExecutionCommand)
      .rejectsOnce(Object.assign(new Error('slow'), { name: 'ThrottlingException' }))
      .callsFake((input: { name: string }) => ({ executionArn: executionArn(input.name) }));
    await expect(handler(event())).rejects.toMatchObject({ name: 'Throttled' });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 2);
  });

  test('targets start side by side, at most RENEWAL_START_CONCURRENCY at once, each once, names and ARNs kept in target order', async () => {
    const targets = Array.from({ length: 25 }, (_, i) => item(`web${i}`));
    ddbMock.reset();
    ddbMock.on(QueryCommand).resolves({ Items: targets });
    let inFlight = 0;
    let maxInFlight = 0;
    sfn.on(StartExecutionCommand).callsFake(async (input: { name: string }) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
      return { executionArn: executionArn(input.name) };
    });
    const result = await handler(event());
    expect(result).toMatchObject({ started: 25, targets: 25, skipped: 0 });
    expect(maxInFlight).toBe(RENEWAL_START_CONCURRENCY);
    const names = targets.map((t) => renewalExecutionName(CERT_ARN, t.target, event().id));
    expect(new Set(sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input.name))).toEqual(new Set(names));
    expect(result.executionArns).toEqual(names.map((n) => executionArn(n)));
  });

  test('one target that cannot start does not stop the others started beside it', async () => {
    ddbMock.reset();
    ddbMock.on(QueryCommand).resolves({ Items: [item('a'), item('b'), item('c')] });
    const failing = renewalExecutionName(CERT_ARN, 'Role=b', event().id);
    sfn.on(StartExecutionCommand).callsFake(async (input: { name: string }) => {
      if (input.name === failing) throw Object.assign(new Error('denied'), { name: 'AccessDeniedException' });
      return { executionArn: executionArn(input.name) };
    });
    await expect(handler(event())).rejects.toThrow();
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 3);
  });

  test('malformed events are InvalidInput naming the field', async () => {
    await expect(handler(event({ source: 'aws.ec2' }))).rejects.toMatchObject({
      name: 'InvalidInput',
      message: expect.stringContaining('source: must be aws.acm'),
    });
    await expect(handler(event({ resources: ['arn:aws:s3:::bucket'] }))).rejects.toMatchObject({
      message: expect.stringContaining('resources'),
    });
    await expect(handler(event({ resources: [] }))).rejects.toMatchObject({ name: 'InvalidInput' });
  });
});

describe('a renewed certificate is re-exported only while it carries the export tag', () => {
  test('tag removed since the last export: skipped with a reason naming the tag, no execution started', async () => {
    acm.on(ListTagsForCertificateCommand).resolves({ Tags: [{ Key: 'Team', Value: 'web' }] });
    const result = await handler(event());
    expect(result).toMatchObject({ started: 0, ignoredCode: 'CertificateNotOptedIn' });
    expect(result.ignored).toContain('add the tag acm-export:exportable=true');
    expect(result.ignored).toContain(`aws acm add-tags-to-certificate --certificate-arn ${CERT_ARN}`);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
    expect(ddbMock).toHaveReceivedCommandTimes(QueryCommand, 0);
  });

  test('still tagged: one execution per target', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: executionArn('renew'), startDate: new Date() });
    expect(await handler(event())).toMatchObject({ started: 2, targets: 2 });
    expect(acm).toHaveReceivedCommandWith(ListTagsForCertificateCommand, { CertificateArn: CERT_ARN });
  });

  test('a stack widened to every exportable certificate re-exports an untagged one', async () => {
    acm.on(ListTagsForCertificateCommand).resolves({ Tags: [] });
    sfn.on(StartExecutionCommand).resolves({ executionArn: executionArn('renew'), startDate: new Date() });
    const widened = createHandler({
      ddb,
      tableName: 'Inventory',
      stateMachineArn: STATE_MACHINE_ARN,
      region: 'us-east-1',
      exportOptIn: { anyCertificate: true },
    });
    expect(await widened(event())).toMatchObject({ started: 2 });
  });
});
