/** Shared fixtures for the Lambda tests: identifiers, payload builders, dynalite, test key material. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { ExportTaskResult, INVENTORY } from '../../lambda/shared/contract';
import { DOCUMENT_CLIENT_OPERATIONS } from '../../local/aws-emulator/constraints/code-operations';
import {
  serviceForClientName,
  validateRequest,
  validationMessage,
} from '../../local/aws-emulator/constraints/validate';

export const REGION = 'us-east-1';
export const ACCOUNT = '111122223333';
export const CERT_ID = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
export const CERT_ARN = `arn:aws:acm:${REGION}:${ACCOUNT}:certificate/${CERT_ID}`;
export const STATE_MACHINE_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:ExportWorkflow`;
export const SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:acm-export/${CERT_ID}/abcdef0123456789-AbCdEf`;
export const KMS_KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/11111111-2222-3333-4444-555555555555`;
export const COMMAND_ID = '12345678-90ab-cdef-1234-567890abcdef';
/** The stored target options of the `www` certificate on Role=web, as an inventory item holds them. */
export const TARGET_WWW = {
  target: 'Role=web',
  itemType: 'target',
  CertName: 'www',
  TargetTagKey: 'Role',
  TargetTagValue: 'web',
  CertDir: '/etc/ssl/certs',
  KeyDir: '/etc/ssl/private',
  Service: 'nginx',
  VerifyPort: 443,
  MaxConcurrency: '10%',
  MaxErrors: '0',
} as const;

/** An association id shaped like SSM's (a UUID, as the model requires); `n` tells fixtures apart. */
export function fakeAssociationId(n: number): string {
  return `a55c0000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

export function executionArn(name = 'exec-1'): string {
  return `arn:aws:states:${REGION}:${ACCOUNT}:execution:ExportWorkflow:${name}`;
}

export const INPUT = {
  CertificateArn: CERT_ARN,
  CertName: 'www',
  TargetTagKey: 'Role',
  TargetTagValue: 'web',
};

/** A status-change event as Step Functions sends it to EventBridge (a Lambda target receives the whole event). */
export function executionStatusEvent(status: string, over: Record<string, unknown> = {}) {
  return {
    version: '0',
    id: '315c1398-40ff-a850-213b-158f73e60175',
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: ACCOUNT,
    time: '2026-12-04T09:00:00Z',
    region: REGION,
    resources: [executionArn('exec-1')],
    detail: {
      executionArn: executionArn('exec-1'),
      stateMachineArn: STATE_MACHINE_ARN,
      name: 'exec-1',
      status,
      startDate: 1796374800000,
      stopDate: 1796378400000,
      input: JSON.stringify(INPUT),
      output: null,
      inputDetails: { included: true },
      outputDetails: null,
      error: null,
      cause: null,
      ...over,
    },
  };
}

export const EXPORT_RESULT: ExportTaskResult = {
  secretArn: SECRET_ARN,
  secretVersionId: 'aaaaaaaa-bbbb-8ccc-9ddd-eeeeeeeeeeee',
  serial: '0a:1b:2c:3d',
  notAfter: '2027-06-01T00:00:00.000Z',
  keyAlgorithm: 'RSA-2048',
  domainNames: ['www.example.com'],
};

export function installPayload(over: { input?: object; name?: string; start?: string } = {}) {
  return {
    input: { ...INPUT, ...(over.input ?? {}) },
    export: EXPORT_RESULT,
    executionArn: executionArn(over.name),
    executionStartTime: over.start ?? '2026-11-20T10:00:00.000Z',
  };
}

export function issuedCertificate(over: Record<string, unknown> = {}) {
  return {
    CertificateArn: CERT_ARN,
    DomainName: 'www.example.com',
    SubjectAlternativeNames: ['www.example.com', 'example.com'],
    Serial: '0a:1b:2c:3d',
    NotAfter: new Date('2027-06-01T00:00:00Z'),
    KeyAlgorithm: 'RSA-2048',
    Status: 'ISSUED',
    Options: { Export: 'ENABLED' },
    ...over,
  } as never;
}

/** What AWS would reject among the commands an SDK client mock received, one line per request. */
export function requestsAwsWouldReject(clientName: string, calls: readonly { args: readonly unknown[] }[]): string[] {
  const documentClient = clientName === 'DynamoDBDocumentClient';
  const service = documentClient ? 'dynamodb' : serviceForClientName(clientName);
  if (!service) throw new Error(`no AWS constraints for ${clientName}`);
  const rejected: string[] = [];
  for (const call of calls) {
    const command = call.args[0] as { constructor: { name: string }; input: unknown };
    const name = command.constructor.name;
    const operation = documentClient ? DOCUMENT_CLIENT_OPERATIONS[name] : name.replace(/Command$/, '');
    if (!operation) throw new Error(`unknown ${clientName} command ${name}`);
    const violations = validateRequest(service, operation, command.input, { form: 'sdk', documentClient });
    if (violations.length > 0) rejected.push(`${operation}: ${validationMessage(violations)}`);
  }
  return rejected;
}

/**
 * `mockClient`, and every command the mock receives must also be one AWS would accept: after each test
 * (and before a reset drops the history) each input is checked against AWS's modeled constraints,
 * and the test fails listing what AWS would have rejected with a ValidationException.
 */
export const mockAwsClient: typeof mockClient = (client, options) => {
  const stub = mockClient(client, options);
  const clientName = typeof client === 'function' ? (client as { name: string }).name : client.constructor.name;
  requestsAwsWouldReject(clientName, []);
  const rejected: string[] = [];
  let checked = 0;
  const checkReceived = (): void => {
    const calls = stub.calls();
    rejected.push(...requestsAwsWouldReject(clientName, calls.slice(checked)));
    checked = calls.length;
  };
  for (const method of ['reset', 'resetHistory'] as const) {
    const original = stub[method].bind(stub);
    stub[method] = () => {
      checkReceived();
      checked = 0;
      return original();
    };
  }
  afterEach(() => {
    checkReceived();
    const found = rejected.splice(0);
    if (found.length > 0) throw new Error(`${clientName} received requests AWS would reject:\n${found.join('\n')}`);
  });
  return stub;
};

/** An in-process dynalite with the inventory table (both indexes). */
export async function startInventory(
  tableName = 'Inventory',
): Promise<{ ddb: DynamoDBDocumentClient; tableName: string; stop: () => Promise<void> }> {
  // dynalite ships no type declarations.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const dynalite = require('dynalite') as (opts: { createTableMs: number }) => Server;
  const server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const raw = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: REGION,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  await raw.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: INVENTORY.partitionKey, AttributeType: 'S' },
        { AttributeName: INVENTORY.sortKey, AttributeType: 'S' },
        { AttributeName: INVENTORY.itemTypeAttribute, AttributeType: 'S' },
        { AttributeName: INVENTORY.expiryAttribute, AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: INVENTORY.partitionKey, KeyType: 'HASH' },
        { AttributeName: INVENTORY.sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: INVENTORY.byExpiryIndex,
          KeySchema: [
            { AttributeName: INVENTORY.itemTypeAttribute, KeyType: 'HASH' },
            { AttributeName: INVENTORY.expiryAttribute, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
        {
          IndexName: INVENTORY.byTargetIndex,
          KeySchema: [
            { AttributeName: INVENTORY.sortKey, KeyType: 'HASH' },
            { AttributeName: INVENTORY.partitionKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
  );
  const ddb = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  return {
    ddb,
    tableName,
    stop: async () => {
      ddb.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface KeyMaterial {
  certificate: string;
  chain: string;
  encryptedPrivateKey: string;
  plainPrivateKey: string;
}

/**
 * Generates a CA, a leaf certificate and the leaf's key encrypted with `passphrase` (PKCS#8), with openssl,
 * at test time. Nothing is written outside a private temporary directory, which is removed.
 */
export function generateKeyMaterial(passphrase: string): KeyMaterial {
  const dir = mkdtempSync(path.join(tmpdir(), 'acm-export-test-'));
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    execFileSync('openssl', args, { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    run([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=Test CA',
    ]);
    run([
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'leaf.key',
      '-out',
      'leaf.csr',
      '-subj',
      '/CN=www.example.com',
    ]);
    run([
      'x509',
      '-req',
      '-in',
      'leaf.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'leaf.pem',
      '-days',
      '1',
    ]);
    run(['pkcs8', '-topk8', '-in', 'leaf.key', '-out', 'leaf.enc', '-v2', 'aes-256-cbc', '-passout', 'env:PASS'], {
      PASS: passphrase,
    });
    return {
      certificate: readFileSync(path.join(dir, 'leaf.pem'), 'utf8'),
      chain: readFileSync(path.join(dir, 'ca.pem'), 'utf8'),
      encryptedPrivateKey: readFileSync(path.join(dir, 'leaf.enc'), 'utf8'),
      plainPrivateKey: readFileSync(path.join(dir, 'leaf.key'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The base64 body lines of a PEM (what must never appear anywhere). */
export function pemBodyLines(pem: string): string[] {
  return pem
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length >= 40 && !l.startsWith('-----'));
}

/** Fake, obviously not real, PEM-shaped strings for tests that only need the shape. */
export const FAKE_PEM = {
  certificate: '-----BEGIN CERTIFICATE-----\nRkFLRS1MRUFGLUNFUlRJRklDQVRFLUZPUi1URVNUUw==\n-----END CERTIFICATE-----\n',
  chain: '-----BEGIN CERTIFICATE-----\nRkFLRS1JTlRFUk1FRElBVEUtRk9SLVRFU1RT\n-----END CERTIFICATE-----\n',
  key: '-----BEGIN ENCRYPTED PRIVATE KEY-----\nRkFLRS1FTkNSWVBURUQtS0VZLUZPUi1URVNUUw==\n-----END ENCRYPTED PRIVATE KEY-----\n',
};
