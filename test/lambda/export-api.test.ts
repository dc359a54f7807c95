import {
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  HistoryEvent,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import 'aws-sdk-client-mock-jest';
import { createHandler } from '../../lambda/export-api/handler';
import type { ExportStatusResponse, ListCertificatesResponse } from '../../lambda/export-api/api-types';
import { InventoryItem } from '../../lambda/shared/contract';
import { encodeNextToken } from '../../lambda/export-api/list-certificates';
import {
  CERT_ARN,
  COMMAND_ID,
  EXPORT_RESULT,
  INPUT,
  STATE_MACHINE_ARN,
  executionArn,
  startInventory,
  mockAwsClient,
} from './support';

const sfn = mockAwsClient(SFNClient);
let inventory: Awaited<ReturnType<typeof startInventory>>;
let handler: ReturnType<typeof createHandler>;
const NOW = new Date('2026-12-01T00:00:00.000Z');

beforeAll(async () => {
  inventory = await startInventory();
  handler = createHandler({
    ddb: inventory.ddb,
    tableName: inventory.tableName,
    stateMachineArn: STATE_MACHINE_ARN,
    now: () => NOW,
  });
  for (let i = 0; i < 5; i++) {
    const item: InventoryItem = {
      certificateArn: CERT_ARN.replace(/[0-9a-f]{4}$/, `000${i}`),
      target: 'Role=web',
      itemType: 'target',
      CertName: `c${i}`,
      TargetTagKey: 'Role',
      TargetTagValue: 'web',
      CertDir: '/etc/ssl/certs',
      KeyDir: '/etc/ssl/private',
      Service: 'none',
      VerifyPort: 0,
      MaxConcurrency: '10%',
      MaxErrors: '0',
      certExpiryDate: new Date(NOW.getTime() + (i * 20 + 0.5) * 86_400_000).toISOString(),
      lastExportedDate: '2026-11-01T00:00:00.000Z',
      lastExportStartedAt: '2026-11-01T00:00:00.000Z',
      lastSerial: `0${i}`,
      lastSecretArn: EXPORT_RESULT.secretArn,
      lastSecretVersionId: EXPORT_RESULT.secretVersionId,
      lastExecutionArn: executionArn(`e${i}`),
      lastDeployStatus: 'Succeeded',
      lastDeployedDate: '2026-11-01T00:05:00.000Z',
    };
    await inventory.ddb.send(new PutCommand({ TableName: inventory.tableName, Item: item }));
  }
});
afterAll(async () => inventory.stop());
beforeEach(() => sfn.reset());

function get(path: string, query: Record<string, string> | null = null, exportId?: string): APIGatewayProxyEvent {
  return {
    httpMethod: 'GET',
    path,
    resource: exportId !== undefined ? '/exports/{exportId}' : path,
    pathParameters: exportId !== undefined ? { exportId } : null,
    queryStringParameters: query,
    requestContext: { requestId: 'req-1' },
  } as unknown as APIGatewayProxyEvent;
}

const t = (s: number) => new Date(Date.UTC(2026, 10, 20, 10, 0, s));
function entered(id: number, name: string, s: number, type = 'TaskStateEntered'): HistoryEvent {
  return { id, type: type as never, timestamp: t(s), stateEnteredEventDetails: { name } };
}
function lambdaOk(id: number, output: unknown, s: number): HistoryEvent {
  return {
    id,
    type: 'LambdaFunctionSucceeded',
    timestamp: t(s),
    lambdaFunctionSucceededEventDetails: { output: JSON.stringify(output) },
  };
}

describe('GET /exports/{exportId}', () => {
  test('nodes.failed counts the nodes whose outcome no SSM count holds (Undeliverable, Terminated...)', async () => {
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: executionArn('exp-u'),
      stateMachineArn: STATE_MACHINE_ARN,
      status: 'FAILED',
      startDate: t(0),
      stopDate: t(40),
      input: JSON.stringify(INPUT),
    });
    const failures = [
      { instanceId: 'i-00000000000000001', status: 'Undeliverable', line: 'the node is not reachable by SSM' },
      {
        instanceId: 'i-00000000000000002',
        status: 'Terminated',
        line: 'not run: the rollout stopped after more nodes failed than MaxErrors allows',
      },
    ];
    const poll = {
      status: 'Failed',
      attempt: 2,
      waitSeconds: 0,
      targetCount: 3,
      completedCount: 3,
      errorCount: 0,
      deliveryTimedOutCount: 0,
      failures,
      reason: 'install Incomplete: 2 of 3 nodes failed (1 Undeliverable, 1 Terminated)',
    };
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        { id: 1, type: 'ExecutionStarted', timestamp: t(0) },
        entered(2, 'acm-export', 1),
        lambdaOk(3, EXPORT_RESULT, 5),
        entered(4, 'ssm-run', 6),
        lambdaOk(5, { outcome: 'Sent', commandId: COMMAND_ID, targetCount: 3 }, 8),
        entered(6, 'status-check', 20),
        lambdaOk(7, poll, 21),
        {
          id: 8,
          type: 'ExecutionFailed',
          timestamp: t(40),
          executionFailedEventDetails: { error: 'InstallFailed', cause: poll.reason },
        },
      ],
    });
    const body = JSON.parse((await handler(get('/exports/exp-u', null, 'exp-u'))).body) as ExportStatusResponse;
    expect(body.nodes).toEqual({ total: 3, completed: 3, failed: 2 });
    expect(body.failures.map((f) => f.status)).toEqual(['Undeliverable', 'Terminated']);
  });

  test('a failed install: phases, node counts, failure lines and the error, from a paginated history', async () => {
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: executionArn('exp-1'),
      stateMachineArn: STATE_MACHINE_ARN,
      status: 'FAILED',
      startDate: t(0),
      stopDate: t(40),
      input: JSON.stringify(INPUT),
    });
    const failedPoll = {
      status: 'Failed',
      attempt: 2,
      waitSeconds: 0,
      targetCount: 2,
      completedCount: 2,
      errorCount: 1,
      deliveryTimedOutCount: 0,
      failures: [{ instanceId: 'i-00000000000000001', status: 'Failed', line: 'nginx -t failed' }],
      reason: 'install Failed: 1 of 2 nodes failed',
    };
    sfn
      .on(GetExecutionHistoryCommand)
      .resolvesOnce({
        events: [
          { id: 1, type: 'ExecutionStarted', timestamp: t(0) },
          entered(2, 'acm-export', 1),
          lambdaOk(3, EXPORT_RESULT, 5),
          entered(4, 'ssm-run', 6),
          lambdaOk(5, { outcome: 'Sent', commandId: COMMAND_ID, targetCount: 2 }, 8),
        ],
        nextToken: 'page2',
      })
      .resolvesOnce({
        events: [
          entered(6, 'WaitForNodes', 9, 'WaitStateEntered'),
          entered(7, 'status-check', 20),
          lambdaOk(
            8,
            {
              status: 'InProgress',
              attempt: 1,
              waitSeconds: 4,
              targetCount: 2,
              completedCount: 1,
              errorCount: 0,
              deliveryTimedOutCount: 0,
            },
            21,
          ),
          entered(9, 'WaitForNodes', 22, 'WaitStateEntered'),
          entered(10, 'status-check', 30),
          lambdaOk(11, failedPoll, 31),
          entered(12, 'NotifyFailure', 32),
          {
            id: 13,
            type: 'ExecutionFailed',
            timestamp: t(40),
            executionFailedEventDetails: {
              error: 'InstallFailed',
              cause: 'install Failed: 1 of 2 nodes failed\ni-00000000000000001: Failed (nginx -t failed)',
            },
          },
        ],
      });
    const res = await handler(get('/exports/exp-1', null, 'exp-1'));
    expect(res.statusCode).toBe(200);
    expect(res.headers?.['content-type']).toBe('application/json');
    const body = JSON.parse(res.body) as ExportStatusResponse;
    expect(body).toEqual({
      exportId: 'exp-1',
      executionArn: executionArn('exp-1'),
      status: 'FAILED',
      phase: 'Failed',
      startDate: t(0).toISOString(),
      stopDate: t(40).toISOString(),
      phases: {
        exportStarted: t(1).toISOString(),
        installStarted: t(6).toISOString(),
        pollingStarted: t(9).toISOString(),
        finished: t(40).toISOString(),
      },
      certificateArn: CERT_ARN,
      certName: 'www',
      target: 'Role=web',
      serial: EXPORT_RESULT.serial,
      notAfter: EXPORT_RESULT.notAfter,
      commandId: COMMAND_ID,
      nodes: { total: 2, completed: 2, failed: 1 },
      failures: [{ instanceId: 'i-00000000000000001', status: 'Failed', line: 'nginx -t failed' }],
      error: { name: 'InstallFailed', message: 'install Failed: 1 of 2 nodes failed' },
    });
    expect(sfn).toHaveReceivedCommandWith(DescribeExecutionCommand, {
      executionArn: `arn:aws:states:us-east-1:111122223333:execution:ExportWorkflow:exp-1`,
    });
    expect(sfn.commandCalls(GetExecutionHistoryCommand).map((c) => c.args[0].input)).toEqual([
      expect.objectContaining({ reverseOrder: false, nextToken: undefined }),
      expect.objectContaining({ reverseOrder: false, nextToken: 'page2' }),
    ]);
  });

  test('an export every node skipped: the per-node outcome counts and lines, and the summary as the error', async () => {
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: executionArn('exp-s'),
      stateMachineArn: STATE_MACHINE_ARN,
      status: 'FAILED',
      startDate: t(0),
      stopDate: t(40),
      input: JSON.stringify(INPUT),
    });
    const skips = ['i-00000000000000001', 'i-00000000000000002', 'i-00000000000000003'].map((instanceId) => ({
      instanceId,
      reason: 'older than installed',
      installedSerial: '7F00112233445566AABB',
      installedNotAfter: '2027-06-01T00:00:00Z',
    }));
    const reason =
      'installed on 0/3 node(s); 3 skipped: the node holds a newer certificate (serial 7F00112233445566AABB, not after 2027-06-01T00:00:00Z)';
    const poll = {
      status: 'Failed',
      attempt: 3,
      waitSeconds: 0,
      targetCount: 3,
      completedCount: 3,
      errorCount: 0,
      deliveryTimedOutCount: 0,
      outcomes: { installed: 0, unchanged: 0, skipped: 3, unreported: 0, reloaded: {}, noWebServer: 0, skips },
      failures: [],
      reason,
    };
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        entered(2, 'acm-export', 1),
        lambdaOk(3, EXPORT_RESULT, 5),
        entered(4, 'ssm-run', 6),
        lambdaOk(5, { outcome: 'Sent', commandId: COMMAND_ID, targetCount: 3 }, 8),
        entered(6, 'status-check', 20),
        lambdaOk(7, poll, 21),
        {
          id: 8,
          type: 'ExecutionFailed',
          timestamp: t(40),
          executionFailedEventDetails: {
            error: 'InstallFailed',
            cause: `${reason}\n${skips[0].instanceId}: skipped (...)`,
          },
        },
      ],
    });
    const body = JSON.parse((await handler(get('/exports/exp-s', null, 'exp-s'))).body) as ExportStatusResponse;
    expect(body).toMatchObject({ status: 'FAILED', phase: 'Failed', nodes: { total: 3, completed: 3, failed: 0 } });
    expect(body.outcomes).toEqual({
      installed: 0,
      unchanged: 0,
      skipped: 3,
      unreported: 0,
      reloaded: {},
      noWebServer: 0,
      skips,
    });
    expect(body.error).toEqual({ name: 'InstallFailed', message: reason });
  });

  test('a JSON cause without a message is never shown raw', async () => {
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: executionArn('exp-j'),
      stateMachineArn: STATE_MACHINE_ARN,
      status: 'FAILED',
      startDate: t(0),
      stopDate: t(40),
      input: JSON.stringify(INPUT),
    });
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        {
          id: 8,
          type: 'ExecutionFailed',
          timestamp: t(40),
          executionFailedEventDetails: {
            error: 'InstallFailed',
            cause: JSON.stringify({ status: 'Failed', attempt: 9, waitSeconds: 0, targetCount: 3 }),
          },
        },
      ],
    });
    const body = JSON.parse((await handler(get('/exports/exp-j', null, 'exp-j'))).body) as ExportStatusResponse;
    expect(body.error).toEqual({ name: 'InstallFailed', message: 'the workflow ended on an unexpected Failed result' });
  });

  test('running and succeeded phases; a dry run reports DryRun', async () => {
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING', startDate: t(0), input: JSON.stringify(INPUT) });
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [entered(2, 'find-nodes', 1)] });
    expect(JSON.parse((await handler(get('/exports/x', null, 'x'))).body)).toMatchObject({ phase: 'Exporting' });
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [entered(2, 'acm-export', 1)] });
    expect(JSON.parse((await handler(get('/exports/x', null, 'x'))).body)).toMatchObject({
      phase: 'Exporting',
      status: 'RUNNING',
    });

    sfn.on(GetExecutionHistoryCommand).resolves({ events: [entered(2, 'acm-export', 1), entered(3, 'ssm-run', 2)] });
    expect(JSON.parse((await handler(get('/exports/x', null, 'x'))).body)).toMatchObject({ phase: 'Installing' });

    sfn.on(DescribeExecutionCommand).resolves({
      status: 'SUCCEEDED',
      startDate: t(0),
      stopDate: t(9),
      input: JSON.stringify({ ...INPUT, DryRun: true }),
      // A dry run ends at find-nodes: nothing was exported.
      output: JSON.stringify({ nodes: { outcome: 'DryRun', targetCount: 3, nodeIds: ['i-1'] } }),
    });
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [{ id: 9, type: 'ExecutionSucceeded', timestamp: t(9) }] });
    const body = JSON.parse((await handler(get('/exports/x', null, 'x'))).body) as ExportStatusResponse;
    expect(body).toMatchObject({
      phase: 'DryRun',
      nodes: { total: 3, completed: 0, failed: 0 },
      failures: [],
      phases: { finished: t(9).toISOString() },
    });
    // The nodes the dry run found, for `acm-export selftest`.
    expect(body.dryRunNodeIds).toEqual(['i-1']);
  });

  test('unknown export -> 404; malformed id -> 400 naming the field; other methods -> 405', async () => {
    sfn.on(DescribeExecutionCommand).rejects(new ExecutionDoesNotExist({ message: 'no', $metadata: {} }));
    expect((await handler(get('/exports/missing', null, 'missing'))).statusCode).toBe(404);
    const bad = await handler(get('/exports/a:b', null, 'a:b'));
    expect(bad.statusCode).toBe(400);
    expect(JSON.parse(bad.body).message).toMatch(/^exportId: /);
    expect((await handler({ ...get('/exports/x', null, 'x'), httpMethod: 'DELETE' })).statusCode).toBe(405);
    expect((await handler(get('/nope'))).statusCode).toBe(404);
  });
});

describe('GET /certificates', () => {
  test('lists targets by expiry with days to expiry, paginated with nextToken (Query on the index)', async () => {
    const first = await handler(get('/certificates', { limit: '2' }));
    expect(first.statusCode).toBe(200);
    const page1 = JSON.parse(first.body) as ListCertificatesResponse;
    expect(page1.items.map((i) => i.daysToExpiry)).toEqual([0, 20]);
    expect(page1.items[0]).toMatchObject({
      certName: 'c0',
      target: 'Role=web',
      lastDeployStatus: 'Succeeded',
      verifyPort: 0,
    });
    expect(page1.nextToken).toMatch(/^[A-Za-z0-9_-]+$/);
    const page2 = JSON.parse(
      (await handler(get('/certificates', { limit: '2', nextToken: page1.nextToken as string }))).body,
    ) as ListCertificatesResponse;
    expect(page2.items.map((i) => i.certName)).toEqual(['c2', 'c3']);
    const page3 = JSON.parse(
      (await handler(get('/certificates', { limit: '2', nextToken: page2.nextToken as string }))).body,
    ) as ListCertificatesResponse;
    expect(page3.items.map((i) => i.certName)).toEqual(['c4']);
  });

  test('expiringWithinDays narrows the listing; the default limit applies', async () => {
    const body = JSON.parse(
      (await handler(get('/certificates', { expiringWithinDays: '30' }))).body,
    ) as ListCertificatesResponse;
    expect(body.items.map((i) => i.certName)).toEqual(['c0', 'c1']);
    expect(body.nextToken).toBeUndefined();
  });

  test.each([
    [{ limit: '0' }, 'limit: must be an integer from 1 to 100'],
    [{ limit: '101' }, 'limit: must be an integer from 1 to 100'],
    [{ limit: 'abc' }, 'limit: must be an integer from 1 to 100'],
    [{ expiringWithinDays: '-1' }, 'expiringWithinDays: must be an integer from 0 to 3650'],
    [{ nextToken: 'garbage!' }, 'nextToken: must be a token returned by a previous page'],
    [
      { nextToken: Buffer.from('{"not":"a key"}').toString('base64url') },
      'nextToken: must be a token returned by a previous page',
    ],
    [
      {
        nextToken: encodeNextToken({
          certificateArn: CERT_ARN,
          target: 'Role=web',
          itemType: 'other',
          certExpiryDate: 'x',
        }),
      },
      'nextToken:',
    ],
    [{ color: 'blue' }, 'color: is not a known query parameter'],
  ])('bad query %p -> 400', async (query, message) => {
    const res = await handler(get('/certificates', query));
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body).message).toContain(message);
  });
});
