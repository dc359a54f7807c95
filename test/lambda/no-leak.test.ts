/**
 * Runs every handler with real key material generated for this test and asserts that no log line, metric,
 * return value or thrown message contains the private key, the passphrase or the certificate body.
 */
import {
  ACMClient,
  DescribeCertificateCommand,
  ExportCertificateCommand,
  ListTagsForCertificateCommand,
} from '@aws-sdk/client-acm';
import { CreateSecretCommand, DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import {
  DescribeInstanceInformationCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SSMClient,
  SendCommandCommand,
} from '@aws-sdk/client-ssm';
import { createHandler as exportHandler } from '../../lambda/acm-export/handler';
import { createHandler as installHandler } from '../../lambda/ssm-run/handler';
import { createHandler as statusHandler } from '../../lambda/status-check/handler';
import { createHandler as renewHandler } from '../../lambda/acm-renew/handler';
import { createHandler as apiHandler } from '../../lambda/export-api/handler';
import { INITIAL_POLL } from '../../lambda/shared/contract';
import { generatePassphrase } from '../../lambda/shared/passphrase';
import {
  CERT_ARN,
  COMMAND_ID,
  INPUT,
  KMS_KEY,
  SECRET_ARN,
  STATE_MACHINE_ARN,
  executionArn,
  generateKeyMaterial,
  issuedCertificate,
  pemBodyLines,
  startInventory,
  mockAwsClient,
} from './support';

const acm = mockAwsClient(ACMClient);
const sm = mockAwsClient(SecretsManagerClient);
const ssm = mockAwsClient(SSMClient);
const sfn = mockAwsClient(SFNClient);

const seed = new Uint8Array(32).map((_, i) => (i * 37 + 11) & 0xff);
const PASSPHRASE = generatePassphrase(() => seed);
const material = generateKeyMaterial(PASSPHRASE);

const captured: string[] = [];
const record = (...args: unknown[]) => {
  captured.push(
    args
      .map((a) =>
        typeof a === 'string'
          ? a
          : a instanceof Uint8Array
            ? Buffer.from(a).toString()
            : (JSON.stringify(a) ?? String(a)),
      )
      .join(' '),
  );
};

let inventory: Awaited<ReturnType<typeof startInventory>>;
beforeAll(async () => {
  inventory = await startInventory();
  for (const stream of [process.stdout, process.stderr]) {
    jest.spyOn(stream, 'write').mockImplementation((chunk: unknown) => {
      record(chunk);
      return true;
    });
  }
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const)
    jest.spyOn(console, method).mockImplementation(record);
});
afterAll(async () => {
  jest.restoreAllMocks();
  await inventory.stop();
});

/** Runs a handler call and records its result or error (name, message, stack, cause message). */
async function run(call: () => Promise<unknown>): Promise<unknown> {
  try {
    const result = await call();
    record(result);
    return result;
  } catch (error) {
    const e = error as Error & { cause?: Error };
    record(e.name, e.message, e.stack, e.cause?.message);
    return error;
  }
}

test('no handler output contains the key, passphrase or certificate', async () => {
  const exportDeps = { secretNamePrefix: 'acm-export', kmsKeyId: KMS_KEY, region: 'us-east-1', random: () => seed };
  const common = { ddb: inventory.ddb, tableName: inventory.tableName, region: 'us-east-1' };

  acm.on(DescribeCertificateCommand).resolves({ Certificate: issuedCertificate() });
  acm.on(ListTagsForCertificateCommand).resolves({ Tags: [{ Key: 'acm-export:exportable', Value: 'true' }] });
  acm.on(ExportCertificateCommand).resolves({
    Certificate: material.certificate,
    CertificateChain: material.chain,
    PrivateKey: material.encryptedPrivateKey,
  });
  sm.on(DescribeSecretCommand).rejects(
    Object.assign(new Error("Secrets Manager can't find the specified secret."), { name: 'ResourceNotFoundException' }),
  );
  sm.on(CreateSecretCommand).callsFake((input: { ClientRequestToken: string }) => ({
    ARN: SECRET_ARN,
    VersionId: input.ClientRequestToken,
  }));

  // 1. export: success, then a failing secret write, then a bad input carrying key material.
  const exported = (await run(() =>
    exportHandler(exportDeps)({ input: INPUT, executionArn: executionArn('leak') }),
  )) as { secretVersionId: string };
  const secretString = sm.commandCalls(CreateSecretCommand)[0].args[0].input.SecretString as string;
  expect(secretString).toContain(PASSPHRASE); // the material did flow into the secret...
  expect(secretString).toContain(pemBodyLines(material.encryptedPrivateKey)[0]);
  sm.on(CreateSecretCommand).rejects(
    Object.assign(new Error('User is not authorized to perform secretsmanager:CreateSecret'), {
      name: 'AccessDeniedException',
    }),
  );
  await run(() => exportHandler(exportDeps)({ input: INPUT, executionArn: executionArn('leak-2') }));
  await run(() =>
    exportHandler(exportDeps)({
      input: { ...INPUT, CertName: material.plainPrivateKey, TargetTagValue: PASSPHRASE + '%' },
      executionArn: executionArn('leak-3'),
    }),
  );

  // 2. install and 3. status, where a node printed key material into its output.
  ssm
    .on(DescribeInstanceInformationCommand)
    .resolves({ InstanceInformationList: [{ InstanceId: 'i-0123456789abcdef0' }] });
  ssm.on(SendCommandCommand).resolves({ Command: { CommandId: COMMAND_ID } });
  const exportResult = exported as never;
  const install = await run(() =>
    installHandler({
      ...common,
      documentName: 'Doc',
      reportDocumentName: 'ReportDoc',
      stackName: 'AcmExport',
      logGroupName: '/l',
      timeoutSeconds: 600,
    })({
      input: INPUT,
      export: exportResult,
      executionArn: executionArn('leak'),
      executionStartTime: '2026-11-20T10:00:00.000Z',
    }),
  );
  const params = JSON.stringify(ssm.commandCalls(SendCommandCommand)[0].args[0].input);
  ssm.on(ListCommandsCommand).resolves({
    Commands: [
      {
        Status: 'Failed',
        StatusDetails: 'Failed',
        TargetCount: 1,
        CompletedCount: 1,
        ErrorCount: 1,
        DeliveryTimedOutCount: 0,
      },
    ],
  });
  ssm.on(ListCommandInvocationsCommand).resolves({
    CommandInvocations: [
      {
        InstanceId: 'i-0123456789abcdef0',
        Status: 'Failed',
        StatusDetails: 'Failed',
        CommandPlugins: [{ Status: 'Failed', Output: `${material.plainPrivateKey}\n${PASSPHRASE}\n` }],
      },
    ],
  });
  const poll = await run(() =>
    statusHandler(common)({
      input: INPUT,
      export: exportResult,
      install,
      poll: INITIAL_POLL,
      executionArn: executionArn('leak'),
      executionStartTime: '2026-11-20T10:00:00.000Z',
    }),
  );

  // 4. renewal and 5. the status API reading that execution back.
  sfn.on(StartExecutionCommand).resolves({ executionArn: executionArn('renew'), startDate: new Date() });
  await run(() =>
    renewHandler({
      ...common,
      stateMachineArn: STATE_MACHINE_ARN,
      exportOptIn: { anyCertificate: false, tagKey: 'acm-export:exportable', tagValue: 'true' },
    })({
      id: 'evt-1',
      'detail-type': 'ACM Certificate Available',
      source: 'aws.acm',
      resources: [CERT_ARN],
      detail: { Action: 'RENEWAL' },
    }),
  );
  sfn.on(DescribeExecutionCommand).resolves({
    status: 'FAILED',
    startDate: new Date(),
    stopDate: new Date(),
    input: JSON.stringify(INPUT),
    output: JSON.stringify({ export: exportResult, install, poll }),
  });
  sfn.on(GetExecutionHistoryCommand).resolves({
    events: [
      {
        id: 1,
        type: 'ExecutionFailed',
        timestamp: new Date(),
        executionFailedEventDetails: { error: 'Error', cause: `${material.encryptedPrivateKey}` },
      },
    ],
  });
  await run(() =>
    apiHandler({ ...common, sfn: undefined, stateMachineArn: STATE_MACHINE_ARN })({
      httpMethod: 'GET',
      path: '/exports/leak',
      resource: '/exports/{exportId}',
      pathParameters: { exportId: 'leak' },
      requestContext: { requestId: 'r' },
    } as never),
  );
  await run(() =>
    apiHandler({ ...common, stateMachineArn: STATE_MACHINE_ARN })({
      httpMethod: 'GET',
      path: '/certificates',
      resource: '/certificates',
      queryStringParameters: null,
      requestContext: { requestId: 'r' },
    } as never),
  );

  const everything = [...captured, params].join('\n');
  expect(captured.length).toBeGreaterThan(10);
  expect(everything).toContain(SECRET_ARN); // identifiers are there...
  const forbidden = [
    PASSPHRASE,
    ...pemBodyLines(material.plainPrivateKey),
    ...pemBodyLines(material.encryptedPrivateKey),
    ...pemBodyLines(material.certificate),
    ...pemBodyLines(material.chain),
  ];
  expect(forbidden.length).toBeGreaterThan(20);
  for (const needle of forbidden) expect(everything.includes(needle) ? needle : 'absent').toBe('absent');
  expect(everything).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
  expect(everything).not.toMatch(/-----BEGIN CERTIFICATE-----/);
});
