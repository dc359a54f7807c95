import { ACMClient, ListTagsForCertificateCommand } from '@aws-sdk/client-acm';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import 'aws-sdk-client-mock-jest';
import { createHandler } from '../../../lambda/export-api/handler';
import type { StartExportResponse } from '../../../lambda/export-api/api-types';
import { MAX_REQUEST_BYTES } from '../../../lambda/shared/patterns';
import { DEFAULT_EXPORT_TAG, ExportOptIn } from '../../../lambda/shared/export-opt-in';
import {
  INTERNAL,
  LIMIT_EXCEEDED,
  NOT_AN_OBJECT,
  THROTTLED,
  TOO_LARGE,
  executionNameFor,
  scopeFromStateMachineArn,
  startExport,
} from '../../../lambda/export-api/start-export';
import {
  ACCOUNT,
  CERT_ARN,
  INPUT,
  REGION,
  STATE_MACHINE_ARN,
  executionArn,
  mockAwsClient,
  startInventory,
} from '../support';

const sfn = mockAwsClient(SFNClient);
const acm = mockAwsClient(ACMClient);
const OPT_IN: ExportOptIn = {
  anyCertificate: false,
  tagKey: DEFAULT_EXPORT_TAG.key,
  tagValue: DEFAULT_EXPORT_TAG.value,
};
const TAGGED = {
  Tags: [
    { Key: 'Team', Value: 'web' },
    { Key: 'acm-export:exportable', Value: 'true' },
  ],
};
const REQUEST_ID = 'c0ffee00-1234-4abc-8def-0123456789ab';
const STARTED = new Date('2026-12-01T10:00:00.123Z');
const logs: { message: string; keys?: Record<string, unknown> }[] = [];
let inventory: Awaited<ReturnType<typeof startInventory>>;
beforeAll(async () => {
  inventory = await startInventory();
});
afterAll(() => inventory.stop());
const deps = (exportOptIn: ExportOptIn = OPT_IN) => ({
  sfn: sfn as unknown as SFNClient,
  acm: acm as unknown as ACMClient,
  exportOptIn,
  names: { ddb: inventory.ddb, tableName: inventory.tableName },
  stateMachineArn: STATE_MACHINE_ARN,
  now: () => new Date('2026-12-01T10:00:05.000Z'),
  log: (message: string, keys?: Record<string, string | number | boolean>) => logs.push({ message, keys }),
});

beforeEach(() => {
  sfn.reset();
  acm.reset();
  // Opted in unless a test says otherwise.
  acm.on(ListTagsForCertificateCommand).resolves(TAGGED);
  logs.length = 0;
});

function post(body: string | null, over: Partial<APIGatewayProxyEvent> = {}): APIGatewayProxyEvent {
  return {
    httpMethod: 'POST',
    path: '/exports',
    resource: '/exports',
    headers: { 'Content-Type': 'application/json; charset=utf-8' },
    body,
    isBase64Encoded: false,
    pathParameters: null,
    queryStringParameters: null,
    requestContext: { requestId: REQUEST_ID },
    ...over,
  } as unknown as APIGatewayProxyEvent;
}

const handler = (event: APIGatewayProxyEvent) =>
  createHandler({
    stateMachineArn: STATE_MACHINE_ARN,
    sfn: sfn as unknown as SFNClient,
    acm: acm as unknown as ACMClient,
    exportOptIn: () => OPT_IN,
    ddb: inventory.ddb,
    tableName: inventory.tableName,
  })(event);

describe('POST /exports through the export-api handler', () => {
  test('starts one execution named after the request id, with the body as sent; 200 with an ISO startDate', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: executionArn(REQUEST_ID), startDate: STARTED });
    const body = {
      ...INPUT,
      CertDir: '/etc/pki/tls/certs',
      VerifyPort: 443,
      Pkcs12: true,
      ConvergenceSchedule: 'rate(1 day)',
    };
    const res = await handler(post(JSON.stringify(body)));
    expect(res.statusCode).toBe(200);
    expect(res.headers?.['content-type']).toBe('application/json');
    const out = JSON.parse(res.body) as StartExportResponse;
    expect(out).toEqual({
      exportId: REQUEST_ID,
      executionArn: executionArn(REQUEST_ID),
      startDate: '2026-12-01T10:00:00.123Z',
    });
    expect(out.startDate).toBe(new Date(out.startDate).toISOString());
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
    const call = sfn.commandCalls(StartExecutionCommand)[0].args[0].input;
    expect(call.stateMachineArn).toBe(STATE_MACHINE_ARN);
    expect(call.name).toBe(REQUEST_ID);
    // Published PascalCase names, no defaults filled in.
    expect(JSON.parse(call.input ?? '')).toEqual(body);
  });

  test('a request without Content-Type is JSON; another media type is 415 and starts nothing', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: executionArn(REQUEST_ID), startDate: STARTED });
    expect((await handler(post(JSON.stringify(INPUT), { headers: {} }))).statusCode).toBe(200);
    sfn.reset();
    const res = await handler(post(JSON.stringify(INPUT), { headers: { 'content-type': 'text/plain' } }));
    expect(res.statusCode).toBe(415);
    expect(JSON.parse(res.body)).toEqual({ message: expect.stringMatching(/Unsupported Media Type/) });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });

  test('GET /exports is 405', async () => {
    expect((await handler(post(null, { httpMethod: 'GET' }))).statusCode).toBe(405);
  });

  test.each([
    ['invalid JSON', '{"CertificateArn": '],
    ['empty body', ''],
    ['no body', null],
    ['array', '[]'],
    ['string', '"x"'],
    ['null', 'null'],
  ])('%s → 400 "%s"', async (_what, body) => {
    const res = await handler(post(body));
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body)).toEqual({ message: NOT_AN_OBJECT });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });

  test('a body over MAX_REQUEST_BYTES → 400 too large, checked before parsing', async () => {
    const res = await handler(post(JSON.stringify({ ...INPUT, CertName: 'a'.repeat(MAX_REQUEST_BYTES) })));
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body)).toEqual({ message: TOO_LARGE });
    expect(TOO_LARGE).toMatch(/too large/);
  });

  test('base64 bodies are decoded', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: executionArn(REQUEST_ID), startDate: STARTED });
    const res = await handler(post(Buffer.from(JSON.stringify(INPUT)).toString('base64'), { isBase64Encoded: true }));
    expect(res.statusCode).toBe(200);
  });

  test.each([
    ['shell metacharacters', { CertName: 'www;id' }, 'CertName', 'www;id'],
    ['path traversal', { CertDir: '/etc/../root' }, 'CertDir', '/etc/../root'],
    ['reserved tag key', { TargetTagKey: 'aws:secret' }, 'TargetTagKey', 'aws:secret'],
    ['port out of range', { VerifyPort: 70000 }, 'VerifyPort', '70000'],
    ['key material', { CertName: '-----BEGIN PRIVATE KEY-----MIIE' }, 'CertName', 'BEGIN PRIVATE KEY'],
    ['bad schedule', { ConvergenceSchedule: 'rate(1 minute)' }, 'ConvergenceSchedule', 'rate(1 minute)'],
    ['bad key mode', { KeyMode: '0777' }, 'KeyMode', '0777'],
    ['wrong type', { Pkcs12: 'yes' }, 'Pkcs12', 'yes'],
  ])('%s → 400 naming %s and its rule, never the value', async (_what, over, field, needle) => {
    const res = await handler(post(JSON.stringify({ ...INPUT, ...over })));
    expect(res.statusCode).toBe(400);
    const { message } = JSON.parse(res.body) as { message: string };
    expect(message).toMatch(new RegExp(`^${field}: \\S`));
    expect(res.body).not.toContain(needle);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });

  test('HooksDir (once a document parameter) is refused with what replaced it; nothing starts', async () => {
    const res = await handler(post(JSON.stringify({ ...INPUT, HooksDir: '/etc/cron.daily' })));
    expect(res.statusCode).toBe(400);
    const { message } = JSON.parse(res.body) as { message: string };
    expect(message).toBe('HooksDir: no longer a parameter; hooks run from /etc/acm-export/hooks.d');
    expect(res.body).not.toContain('cron.daily');
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });

  test('several problems are all named; a missing field and an unknown field are named too', async () => {
    const body: Record<string, unknown> = { ...INPUT, CertDir: 'relative', Service: 'iis', 'Sneaky$(id)': 1 };
    delete body.TargetTagValue;
    const { message } = JSON.parse((await handler(post(JSON.stringify(body)))).body) as { message: string };
    expect(message).toContain('TargetTagValue: is required');
    expect(message).toContain('CertDir: must be an absolute directory path');
    expect(message).toContain('Service: must be one of auto, none, nginx, apache2, httpd');
    expect(message).toContain('Sneaky??id?: is not a known field');
    expect(message).not.toContain('$(id)');
  });

  test('certificates of another account, region or partition are refused by name', async () => {
    for (const arn of [
      CERT_ARN.replace(ACCOUNT, '999999999999'),
      CERT_ARN.replace(REGION, 'eu-west-1'),
      CERT_ARN.replace('arn:aws:', 'arn:aws-cn:'),
    ]) {
      const res = await handler(post(JSON.stringify({ ...INPUT, CertificateArn: arn })));
      expect(res.statusCode).toBe(400);
      expect(JSON.parse(res.body).message).toBe(
        `CertificateArn: must be the ARN of an ACM certificate in ${REGION} and account ${ACCOUNT}`,
      );
    }
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });

  test('throttling → 429 with a clear message; the execution limit → 429', async () => {
    sfn.on(StartExecutionCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    let res = await handler(post(JSON.stringify(INPUT)));
    expect([res.statusCode, JSON.parse(res.body).message]).toEqual([429, THROTTLED]);
    sfn.on(StartExecutionCommand).rejects(Object.assign(new Error('limit'), { name: 'ExecutionLimitExceeded' }));
    res = await handler(post(JSON.stringify(INPUT)));
    expect([res.statusCode, JSON.parse(res.body).message]).toEqual([429, LIMIT_EXCEEDED]);
  });

  test('any other failure → 500 with a generic message (the AWS message is not passed on)', async () => {
    sfn
      .on(StartExecutionCommand)
      .rejects(
        Object.assign(new Error(`bad input ${INPUT.CertName} secret-ish detail`), { name: 'InvalidExecutionInput' }),
      );
    const res = await handler(post(JSON.stringify(INPUT)));
    expect(res.statusCode).toBe(500);
    expect(JSON.parse(res.body)).toEqual({ message: INTERNAL });
    expect(res.body).not.toContain('secret-ish');
  });
});

describe('startExport', () => {
  test('a client retry of the same request (ExecutionAlreadyExists, same input) answers with that execution', async () => {
    const input = JSON.stringify(INPUT);
    sfn
      .on(StartExecutionCommand)
      .rejects(new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: {} }));
    sfn
      .on(DescribeExecutionCommand)
      .resolves({ executionArn: executionArn(REQUEST_ID), input, startDate: STARTED, status: 'SUCCEEDED' });
    const out = await startExport({ body: input, requestId: REQUEST_ID }, deps());
    expect(out).toEqual({
      statusCode: 200,
      body: { exportId: REQUEST_ID, executionArn: executionArn(REQUEST_ID), startDate: STARTED.toISOString() },
    });
    expect(sfn).toHaveReceivedCommandWith(DescribeExecutionCommand, { executionArn: executionArn(REQUEST_ID) });
  });

  test('the same name with another input → 409, nothing else started', async () => {
    sfn.on(StartExecutionCommand).rejects(Object.assign(new Error('exists'), { name: 'ExecutionAlreadyExists' }));
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: executionArn(REQUEST_ID),
      input: JSON.stringify({ ...INPUT, CertName: 'other' }),
      startDate: STARTED,
    });
    const out = await startExport({ body: JSON.stringify(INPUT), requestId: REQUEST_ID }, deps());
    expect(out.statusCode).toBe(409);
    expect((out.body as { message: string }).message).toMatch(/^exportId: /);
  });

  test('DescribeExecution throttled after ExecutionAlreadyExists → 429', async () => {
    sfn.on(StartExecutionCommand).rejects(Object.assign(new Error('exists'), { name: 'ExecutionAlreadyExists' }));
    sfn.on(DescribeExecutionCommand).rejects(Object.assign(new Error('slow'), { name: 'ThrottlingException' }));
    expect((await startExport({ body: JSON.stringify(INPUT), requestId: REQUEST_ID }, deps())).statusCode).toBe(429);
  });

  test('without a startDate in the answer, startDate is now (ISO 8601)', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: executionArn(REQUEST_ID) });
    const out = await startExport({ body: JSON.stringify(INPUT), requestId: REQUEST_ID }, deps());
    expect((out.body as StartExportResponse).startDate).toBe('2026-12-01T10:00:05.000Z');
  });

  test('a request id that is not a valid execution name becomes a UUID derived from it', async () => {
    sfn
      .on(StartExecutionCommand)
      .callsFake((input: { name: string }) => ({ executionArn: executionArn(input.name), startDate: STARTED }));
    const odd = 'id with spaces:and/colons';
    const out = await startExport({ body: JSON.stringify(INPUT), requestId: odd }, deps());
    const name = sfn.commandCalls(StartExecutionCommand)[0].args[0].input.name ?? '';
    expect(name).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect((out.body as StartExportResponse).exportId).toBe(name);
    expect(executionNameFor(odd)).toBe(name);
    expect(executionNameFor('x'.repeat(81))).not.toBe(name);
    expect(executionNameFor(undefined)).toMatch(/^[0-9a-f-]{36}$/);
    expect(executionNameFor(REQUEST_ID)).toBe(REQUEST_ID);
  });

  test('logs identifiers only', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: executionArn(REQUEST_ID), startDate: STARTED });
    await startExport({ body: JSON.stringify({ ...INPUT, CertName: 'www' }), requestId: REQUEST_ID }, deps());
    expect(logs).toEqual([
      {
        message: 'export started',
        keys: {
          exportId: REQUEST_ID,
          executionArn: executionArn(REQUEST_ID),
          certificateArn: CERT_ARN,
          target: 'Role=web',
        },
      },
    ]);
  });

  test('the scope comes from the state machine ARN', () => {
    expect(scopeFromStateMachineArn(STATE_MACHINE_ARN)).toEqual({ partition: 'aws', region: REGION, account: ACCOUNT });
    expect(scopeFromStateMachineArn('arn:aws-us-gov:states:us-gov-west-1:123456789012:stateMachine:M')).toEqual({
      partition: 'aws-us-gov',
      region: 'us-gov-west-1',
      account: '123456789012',
    });
    expect(() => scopeFromStateMachineArn('nope')).toThrow(/STATE_MACHINE_ARN/);
  });
});

describe('export is opt-in per certificate (the export tag)', () => {
  const start = (exportOptIn?: ExportOptIn) =>
    startExport({ body: JSON.stringify(INPUT), requestId: REQUEST_ID }, deps(exportOptIn));

  test('an untagged certificate → 403 naming the tag and the command that adds it; no execution started', async () => {
    acm.on(ListTagsForCertificateCommand).resolves({ Tags: [{ Key: 'Team', Value: 'web' }] });
    const res = await handler(post(JSON.stringify(INPUT)));
    expect(res.statusCode).toBe(403);
    expect(JSON.parse(res.body)).toEqual({
      message: `CertificateArn: ${CERT_ARN} is not enabled for export: add the tag acm-export:exportable=true (aws acm add-tags-to-certificate --certificate-arn ${CERT_ARN} --tags Key=acm-export:exportable,Value=true)`,
    });
    expect(acm).toHaveReceivedCommandWith(ListTagsForCertificateCommand, { CertificateArn: CERT_ARN });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });

  test('the tag key with another value, or without a value, does not opt in', async () => {
    for (const Tags of [[{ Key: 'acm-export:exportable', Value: 'false' }], [{ Key: 'acm-export:exportable' }]]) {
      acm.on(ListTagsForCertificateCommand).resolves({ Tags });
      expect((await start()).statusCode).toBe(403);
    }
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });

  test('a tagged certificate starts the export', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: executionArn(REQUEST_ID), startDate: STARTED });
    expect((await start()).statusCode).toBe(200);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
  });

  test('a stack-configured tag is the one checked and named', async () => {
    const custom: ExportOptIn = { anyCertificate: false, tagKey: 'pki/export', tagValue: 'yes' };
    const out = await start(custom);
    expect(out.statusCode).toBe(403);
    expect((out.body as { message: string }).message).toContain('add the tag pki/export=yes');
    acm.on(ListTagsForCertificateCommand).resolves({ Tags: [{ Key: 'pki/export', Value: 'yes' }] });
    sfn.on(StartExecutionCommand).resolves({ executionArn: executionArn(REQUEST_ID), startDate: STARTED });
    expect((await start(custom)).statusCode).toBe(200);
  });

  test('widened to every exportable certificate: starts without the tag and without reading tags', async () => {
    acm.on(ListTagsForCertificateCommand).resolves({ Tags: [] });
    sfn.on(StartExecutionCommand).resolves({ executionArn: executionArn(REQUEST_ID), startDate: STARTED });
    expect((await start({ anyCertificate: true })).statusCode).toBe(200);
    expect(acm).toHaveReceivedCommandTimes(ListTagsForCertificateCommand, 0);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
  });

  test('a certificate ACM does not know is started as before: the workflow fails it with CertificateNotFound', async () => {
    acm
      .on(ListTagsForCertificateCommand)
      .rejects(Object.assign(new Error('Could not find'), { name: 'ResourceNotFoundException' }));
    sfn.on(StartExecutionCommand).resolves({ executionArn: executionArn(REQUEST_ID), startDate: STARTED });
    expect((await start()).statusCode).toBe(200);
  });

  test('ListTagsForCertificate throttled → 429; denied → 500 with the generic message; nothing started', async () => {
    acm.on(ListTagsForCertificateCommand).rejects(Object.assign(new Error('slow'), { name: 'ThrottlingException' }));
    expect((await start()).statusCode).toBe(429);
    acm
      .on(ListTagsForCertificateCommand)
      .rejects(Object.assign(new Error('User arn:... is not authorized'), { name: 'AccessDeniedException' }));
    expect(await start()).toEqual({ statusCode: 500, body: { message: INTERNAL } });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });

  test('the handler refuses to start anything when the stack gave it no tag setting (fails closed)', async () => {
    const bare = createHandler({
      stateMachineArn: STATE_MACHINE_ARN,
      sfn: sfn as unknown as SFNClient,
      acm: acm as unknown as ACMClient,
      tableName: 'unused',
    });
    acm.on(ListTagsForCertificateCommand).resolves({ Tags: [] });
    const res = await bare(post(JSON.stringify(INPUT)));
    expect(res.statusCode).toBe(500);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });
});
