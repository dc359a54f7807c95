/**
 * One certificate per (target, CertName), through the API handler against a real DynamoDB (dynalite): a
 * second certificate asking for a name another one holds on the same tag gets 409 naming the holder and
 * starts nothing; the holder's own re-exports pass; concurrent requests cannot both win; the name frees up
 * once the holder's target is deleted (or its export died before recording the target).
 */
import { ACMClient } from '@aws-sdk/client-acm';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { DeleteAssociationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import 'aws-sdk-client-mock-jest';
import { createHandler } from '../../../lambda/export-api/handler';
import { NAME_CLAIM, nameClaimKey } from '../../../lambda/export-api/cert-name-claim';
import { InventoryItem, targetKey } from '../../../lambda/shared/contract';
import {
  CERT_ARN,
  INPUT,
  REGION,
  SECRET_ARN,
  STATE_MACHINE_ARN,
  executionArn,
  fakeAssociationId,
  mockAwsClient,
  startInventory,
} from '../support';

const sfn = mockAwsClient(SFNClient);
const acm = mockAwsClient(ACMClient);
const ssm = mockAwsClient(SSMClient);
const CERT_A = CERT_ARN;
const CERT_B = CERT_ARN.replace(/[0-9a-f]{4}$/, 'bbbb');
const NOW = new Date('2026-12-05T10:00:00.000Z');

let inventory: Awaited<ReturnType<typeof startInventory>>;
beforeAll(async () => {
  inventory = await startInventory();
});
afterAll(() => inventory.stop());

/** Execution names seen by StartExecution, and the status DescribeExecution reports for each. */
const executions = new Map<string, string>();
let requestCount = 0;
beforeEach(() => {
  sfn.reset();
  ssm.reset();
  executions.clear();
  sfn.on(StartExecutionCommand).callsFake((input: { name: string }) => {
    executions.set(input.name, 'RUNNING');
    return {
      executionArn: `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:${input.name}`,
      startDate: NOW,
    };
  });
  sfn.on(DescribeExecutionCommand).callsFake((input: { executionArn: string }) => {
    const status = executions.get(input.executionArn.split(':').pop() ?? '');
    if (!status) {
      const error = new Error('execution does not exist');
      error.name = 'ExecutionDoesNotExist';
      throw error;
    }
    return { executionArn: input.executionArn, status, startDate: NOW, input: '{}' };
  });
  ssm.on(DeleteAssociationCommand).resolves({});
});

function api(now: Date = NOW) {
  return createHandler({
    ddb: inventory.ddb,
    tableName: inventory.tableName,
    stateMachineArn: STATE_MACHINE_ARN,
    sfn: sfn as unknown as SFNClient,
    ssm: new SSMClient({ region: REGION }),
    // Every certificate of these tests is opted in to export (checked before the name).
    acm: acm as unknown as ACMClient,
    exportOptIn: () => ({ anyCertificate: true }),
    now: () => now,
  });
}

function post(body: Record<string, unknown>): APIGatewayProxyEvent {
  requestCount += 1;
  return {
    httpMethod: 'POST',
    path: '/exports',
    resource: '/exports',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    isBase64Encoded: false,
    pathParameters: null,
    queryStringParameters: null,
    requestContext: { requestId: `c0ffee00-0000-4000-8000-${requestCount.toString(16).padStart(12, '0')}` },
  } as unknown as APIGatewayProxyEvent;
}

function del(certificateArn: string, target: string): APIGatewayProxyEvent {
  return {
    httpMethod: 'DELETE',
    resource: '/certificates/{certificateArn}/targets/{target}',
    path: `/certificates/${encodeURIComponent(certificateArn)}/targets/${encodeURIComponent(target)}`,
    pathParameters: { certificateArn: encodeURIComponent(certificateArn), target: encodeURIComponent(target) },
    queryStringParameters: null,
    headers: {},
    body: null,
    isBase64Encoded: false,
    requestContext: { requestId: 'd0d0d0d0-0000-4000-8000-000000000001' },
  } as unknown as APIGatewayProxyEvent;
}

let tagSerial = 0;
/** A request body for a fresh tag value (each test works on its own target). */
function freshTarget(): { TargetTagKey: string; TargetTagValue: string; target: string } {
  tagSerial += 1;
  const value = `web-${tagSerial}`;
  return { TargetTagKey: INPUT.TargetTagKey, TargetTagValue: value, target: targetKey(INPUT.TargetTagKey, value) };
}

function exportOf(certificateArn: string, tag: { TargetTagKey: string; TargetTagValue: string }, over = {}) {
  const { TargetTagKey, TargetTagValue } = tag;
  return { ...INPUT, CertificateArn: certificateArn, CertName: 'www', TargetTagKey, TargetTagValue, ...over };
}

/** What ssm-run writes once the holder's export got to the nodes. */
async function recordTarget(certificateArn: string, tag: { TargetTagKey: string; TargetTagValue: string }) {
  const item: InventoryItem = {
    certificateArn,
    target: targetKey(tag.TargetTagKey, tag.TargetTagValue),
    itemType: 'target',
    CertName: 'www',
    TargetTagKey: tag.TargetTagKey,
    TargetTagValue: tag.TargetTagValue,
    CertDir: '/etc/ssl/certs',
    KeyDir: '/etc/ssl/private',
    Service: 'none',
    VerifyPort: 0,
    MaxConcurrency: '10%',
    MaxErrors: '0',
    certExpiryDate: '2027-06-01T00:00:00.000Z',
    lastExportedDate: NOW.toISOString(),
    lastExportStartedAt: NOW.toISOString(),
    lastSerial: '0a:1b',
    lastSecretArn: SECRET_ARN,
    lastSecretVersionId: '11111111-2222-4333-8444-555555555555',
    lastExecutionArn: executionArn('holder'),
    lastDeployStatus: 'Succeeded',
    associationId: fakeAssociationId(1),
    reportAssociationId: fakeAssociationId(2),
  };
  await inventory.ddb.send(new PutCommand({ TableName: inventory.tableName, Item: item }));
}

/** Every execution started so far has ended (as it would once the workflow finished). */
function allExecutionsEnded(status = 'SUCCEEDED') {
  for (const name of executions.keys()) executions.set(name, status);
}

function message(res: { body: string }): string {
  return (JSON.parse(res.body) as { message: string }).message;
}

const heldBy = (holder: string, target: string) =>
  `CertName www on ${target} is held by ${holder}; remove that target first ` +
  '(DELETE /certificates/{certificateArn}/targets/{target}) or choose another name';

describe('POST /exports: one certificate per (target, CertName)', () => {
  test('a second certificate asking for a held name gets 409 naming the holder, and nothing starts', async () => {
    const tag = freshTarget();
    expect((await api()(post(exportOf(CERT_A, tag)))).statusCode).toBe(200);
    await recordTarget(CERT_A, tag);
    allExecutionsEnded();
    sfn.resetHistory();

    const res = await api()(post(exportOf(CERT_B, tag)));
    expect(res.statusCode).toBe(409);
    expect(message(res)).toBe(heldBy(CERT_A, tag.target));
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  test('the holder re-exports (same name, same tag) as often as it likes', async () => {
    const tag = freshTarget();
    expect((await api()(post(exportOf(CERT_A, tag)))).statusCode).toBe(200);
    await recordTarget(CERT_A, tag);
    expect((await api()(post(exportOf(CERT_A, tag)))).statusCode).toBe(200);
    allExecutionsEnded();
    expect((await api()(post(exportOf(CERT_A, tag, { KeyMode: '0640' })))).statusCode).toBe(200);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 3);
  });

  test('other names on the same tag, and the same name on other tags, are free', async () => {
    const tag = freshTarget();
    const other = freshTarget();
    expect((await api()(post(exportOf(CERT_A, tag)))).statusCode).toBe(200);
    await recordTarget(CERT_A, tag);
    expect((await api()(post(exportOf(CERT_B, tag, { CertName: 'api' })))).statusCode).toBe(200);
    expect((await api()(post(exportOf(CERT_B, other)))).statusCode).toBe(200);
  });

  test('while the holder is still exporting (target not recorded yet), the name is taken', async () => {
    const tag = freshTarget();
    expect((await api()(post(exportOf(CERT_A, tag)))).statusCode).toBe(200);
    const res = await api()(post(exportOf(CERT_B, tag)));
    expect(res.statusCode).toBe(409);
    expect(message(res)).toBe(heldBy(CERT_A, tag.target));
  });

  test('concurrent requests of two certificates for one free name: exactly one wins', async () => {
    const tag = freshTarget();
    const [a, b] = await Promise.all([api()(post(exportOf(CERT_A, tag))), api()(post(exportOf(CERT_B, tag)))]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([200, 409]);
    const winner = a.statusCode === 200 ? CERT_A : CERT_B;
    expect(message(a.statusCode === 409 ? a : b)).toBe(heldBy(winner, tag.target));
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
  });

  test('after DELETE of the holder target, another certificate takes the name (and then holds it)', async () => {
    const tag = freshTarget();
    expect((await api()(post(exportOf(CERT_A, tag)))).statusCode).toBe(200);
    await recordTarget(CERT_A, tag);
    allExecutionsEnded();
    expect((await api()(post(exportOf(CERT_B, tag)))).statusCode).toBe(409);

    expect((await api()(del(CERT_A, tag.target))).statusCode).toBe(200);
    expect((await api()(post(exportOf(CERT_B, tag)))).statusCode).toBe(200);

    const back = await api()(post(exportOf(CERT_A, tag)));
    expect(back.statusCode).toBe(409);
    expect(message(back)).toBe(heldBy(CERT_B, tag.target));
  });

  test('a holder whose export failed before recording the target does not keep the name', async () => {
    const tag = freshTarget();
    expect((await api()(post(exportOf(CERT_A, tag)))).statusCode).toBe(200);
    allExecutionsEnded('FAILED');
    expect((await api()(post(exportOf(CERT_B, tag)))).statusCode).toBe(200);
  });

  test('a claim whose execution never started is kept for the start grace only', async () => {
    const tag = freshTarget();
    sfn.on(StartExecutionCommand).rejects(Object.assign(new Error('boom'), { name: 'InternalError' }));
    expect((await api()(post(exportOf(CERT_A, tag)))).statusCode).toBe(500);
    sfn.on(StartExecutionCommand).resolves({ executionArn: executionArn('b'), startDate: NOW });

    expect((await api()(post(exportOf(CERT_B, tag)))).statusCode).toBe(409);
    const later = new Date(NOW.getTime() + (NAME_CLAIM.startGraceSeconds + 1) * 1000);
    expect((await api(later)(post(exportOf(CERT_B, tag)))).statusCode).toBe(200);
  });

  test('a dry run is refused on a held name and claims nothing on a free one', async () => {
    const tag = freshTarget();
    expect((await api()(post(exportOf(CERT_B, tag, { DryRun: true })))).statusCode).toBe(200);
    const claim = await inventory.ddb.send(
      new GetCommand({ TableName: inventory.tableName, Key: nameClaimKey(tag.target, 'www') }),
    );
    expect(claim.Item).toBeUndefined();

    expect((await api()(post(exportOf(CERT_A, tag)))).statusCode).toBe(200);
    const dry = await api()(post(exportOf(CERT_B, tag, { DryRun: true })));
    expect(dry.statusCode).toBe(409);
    expect(message(dry)).toBe(heldBy(CERT_A, tag.target));
  });
});
