/**
 * The emulator enforces AWS's published input constraints (aws-constraints.json, generated from AWS's
 * botocore models): the table is well-formed and current for the code, the validator applies the model's
 * ranges at their boundaries, and the emulator answers a breach with AWS's ValidationException.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { ACMClient, ExportCertificateCommand, RequestCertificateCommand } from '@aws-sdk/client-acm';
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DescribeInstanceInformationCommand,
  GetInventoryCommand,
  ListCommandInvocationsCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { startAwsEmulator, type AwsEmulator } from '../../local/aws-emulator';
import {
  DOCUMENT_CLIENT_OPERATIONS,
  findCommandsInCode,
  findServedOperations,
  SOURCE_DIRS,
} from '../../local/aws-emulator/constraints/code-operations';
import { AWS_CONSTRAINTS } from '../../local/aws-emulator/constraints/table';
import {
  compileJavaPattern,
  serviceForClientName,
  serviceForTargetPrefix,
  uncheckedPatterns,
  validateRequest,
  validationError,
  validationMessage,
} from '../../local/aws-emulator/constraints/validate';

const REPO = path.resolve(__dirname, '..', '..');
const CERT_ARN = 'arn:aws:acm:us-east-1:111122223333:certificate/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const COMMAND_ID = '12345678-90ab-cdef-1234-567890abcdef';

const violationsOf = (service: string, operation: string, input: unknown) =>
  validateRequest(service, operation, input).map((v) => `${v.path}: ${v.constraint}`);

describe('the generated table', () => {
  test('names its source revision and, per service, the model file and API version', () => {
    const { source } = AWS_CONSTRAINTS;
    expect(source.repository).toBe('https://github.com/boto/botocore');
    expect(source.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(Number.isNaN(Date.parse(source.commitDate))).toBe(false);
    expect(Object.keys(source.services).sort()).toEqual(Object.keys(AWS_CONSTRAINTS.services).sort());
    for (const [name, s] of Object.entries(source.services)) {
      expect(s.model).toBe(`botocore/data/${name}/${s.apiVersion}/service-2.json`);
      expect(s.apiVersion).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
  });

  test('every shape reference resolves and carries only constraint data', () => {
    const allowed = new Set([
      'type',
      'required',
      'members',
      'member',
      'key',
      'value',
      'min',
      'max',
      'pattern',
      'enum',
      'sensitive',
      'union',
    ]);
    for (const [service, { operations, shapes }] of Object.entries(AWS_CONSTRAINTS.services)) {
      for (const input of Object.values(operations)) expect(shapes[input]?.type).toBe('structure');
      for (const [name, shape] of Object.entries(shapes)) {
        const refs = [
          ...Object.values(shape.members ?? {}).map((m) => m.shape),
          shape.member,
          shape.key,
          shape.value,
        ].filter((r) => r !== undefined);
        for (const ref of refs)
          expect(`${service}.${name} -> ${ref}: ${shapes[ref!] ? 'ok' : 'missing'}`).toBe(
            `${service}.${name} -> ${ref}: ok`,
          );
        for (const key of Object.keys(shape)) expect(allowed.has(key) ? key : `${service}.${name}.${key}`).toBe(key);
        for (const required of shape.required ?? []) expect(shape.members).toHaveProperty([required]);
      }
    }
  });

  test('covers every operation the product calls and the emulator serves', () => {
    // An independent scan of the source: every `new <Name>Command(` anywhere in the product's AWS callers.
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((e) => {
        const full = path.join(dir, e);
        return statSync(full).isDirectory() ? files(full) : /\.(ts|cjs|js)$/.test(e) ? [full] : [];
      });
    const modeled = (operation: string) =>
      Object.values(AWS_CONSTRAINTS.services).some((s) => s.operations[operation] !== undefined);
    const named = SOURCE_DIRS.flatMap((d) => files(path.join(REPO, d))).flatMap((f) =>
      [...readFileSync(f, 'utf8').matchAll(/new (\w+)Command\(/g)].map((m) => `${m[1]}Command`),
    );
    expect(named.length).toBeGreaterThan(20);
    for (const command of named)
      expect(
        `${command}: ${modeled(DOCUMENT_CLIENT_OPERATIONS[command] ?? command.replace(/Command$/, '')) ? 'modeled' : 'missing'}`,
      ).toBe(`${command}: modeled`);

    // The scan the generator uses, which also knows each command's client.
    for (const c of findCommandsInCode(REPO)) {
      if (c.sdkPackage === 'lib-dynamodb')
        expect(AWS_CONSTRAINTS.services.dynamodb.operations).toHaveProperty([DOCUMENT_CLIENT_OPERATIONS[c.command]]);
      else if (c.sdkPackage) {
        const service = Object.entries(AWS_CONSTRAINTS.source.services).find(
          ([, s]) => `client-${s.serviceId.toLowerCase().replace(/\s+/g, '-')}` === c.sdkPackage,
        )?.[0];
        expect(
          `${c.file} ${c.command}: ${service && AWS_CONSTRAINTS.services[service].operations[c.command.replace(/Command$/, '')] ? 'modeled' : 'missing'}`,
        ).toBe(`${c.file} ${c.command}: modeled`);
      }
    }
    const served = findServedOperations(REPO);
    expect(new Set(served.map((s) => s.targetPrefix))).toEqual(
      new Set(['CertificateManager', 'secretsmanager', 'AmazonSSM', 'AWSStepFunctions']),
    );
    for (const s of served) {
      const service = serviceForTargetPrefix(s.targetPrefix);
      expect(
        `${s.targetPrefix}.${s.operation}: ${service && AWS_CONSTRAINTS.services[service].operations[s.operation] ? 'modeled' : 'missing'}`,
      ).toBe(`${s.targetPrefix}.${s.operation}: modeled`);
    }
  });

  test('patterns JavaScript cannot express faithfully are listed here (they are not checked)', () => {
    expect(uncheckedPatterns()).toEqual([]);
    // What would land in that list: Java-only syntax, which JavaScript would misread or reject.
    // Java's POSIX classes are ASCII-only; JavaScript reads \p{Alpha} as Unicode Alphabetic.
    expect(compileJavaPattern('\\p{Alpha}+')).toBeUndefined();
    expect(compileJavaPattern('\\pL+')).toBeUndefined();
    expect(compileJavaPattern('[a-z&&[^e]]+')).toBeUndefined();
    expect(compileJavaPattern('\\Qa.b\\E')).toBeUndefined();
    // Java identity escapes that `u` rejects but mean the same without it are checked.
    expect(compileJavaPattern('^\\!?[a-z\\-\\!]*$')?.test('!a-b')).toBe(true);
    expect(compileJavaPattern('[\\p{L}\\p{N}]+')?.test('Zürich1')).toBe(true);
  });

  test('patterns match the whole value, as Java matches() does', () => {
    expect(violationsOf('acm', 'DescribeCertificate', { CertificateArn: CERT_ARN })).toEqual([]);
    expect(violationsOf('acm', 'DescribeCertificate', { CertificateArn: `${CERT_ARN} trailing` })).toEqual([
      expect.stringMatching(/^certificateArn: Member must satisfy regular expression pattern: arn:/),
    ]);
  });

  test('maps SDK client names and X-Amz-Target prefixes to the table', () => {
    expect(serviceForClientName('SecretsManagerClient')).toBe('secretsmanager');
    expect(serviceForClientName('SFNClient')).toBe('stepfunctions');
    expect(serviceForTargetPrefix('AmazonSSM')).toBe('ssm');
    expect(serviceForTargetPrefix('Nope')).toBeUndefined();
  });
});

describe('the ranges the product relies on', () => {
  test('GetInventory MaxResults is 1..50', () => {
    expect(violationsOf('ssm', 'GetInventory', { MaxResults: 50 })).toEqual([]);
    expect(violationsOf('ssm', 'GetInventory', { MaxResults: 1 })).toEqual([]);
    expect(violationsOf('ssm', 'GetInventory', { MaxResults: 0 })).toEqual([
      'maxResults: Member must have value greater than or equal to 1',
    ]);
    expect(violationsOf('ssm', 'GetInventory', { MaxResults: 100 })).toEqual([
      'maxResults: Member must have value less than or equal to 50',
    ]);
  });

  test('ListCommandInvocations MaxResults is 1..50, CommandId exactly 36 characters', () => {
    expect(violationsOf('ssm', 'ListCommandInvocations', { CommandId: COMMAND_ID, MaxResults: 1 })).toEqual([]);
    expect(violationsOf('ssm', 'ListCommandInvocations', { CommandId: COMMAND_ID, MaxResults: 50 })).toEqual([]);
    expect(violationsOf('ssm', 'ListCommandInvocations', { MaxResults: 51 })).toEqual([
      'maxResults: Member must have value less than or equal to 50',
    ]);
    expect(violationsOf('ssm', 'ListCommandInvocations', { MaxResults: 0 })).toEqual([
      'maxResults: Member must have value greater than or equal to 1',
    ]);
    expect(violationsOf('ssm', 'ListCommandInvocations', { CommandId: COMMAND_ID.slice(1) })).toEqual([
      'commandId: Member must have length greater than or equal to 36',
    ]);
  });

  test('SendCommand takes at most 5 Targets, and nested members are checked with AWS paths', () => {
    const target = (i: number) => ({ Key: 'tag:Role', Values: [`web${i}`] });
    const send = (n: number) => ({
      DocumentName: 'AcmExport-Install',
      Targets: Array.from({ length: n }, (_, i) => target(i)),
    });
    expect(violationsOf('ssm', 'SendCommand', send(5))).toEqual([]);
    expect(violationsOf('ssm', 'SendCommand', send(6))).toEqual([
      'targets: Member must have length less than or equal to 5',
    ]);
    expect(
      violationsOf('ssm', 'SendCommand', {
        DocumentName: 'AcmExport-Install',
        Targets: [
          { Key: 'tag:Role', Values: [] },
          { Key: '', Values: ['x'] },
        ],
      }),
    ).toEqual(['targets.2.member.key: Member must have length greater than or equal to 1']);
  });

  test('ExportCertificate Passphrase is 4..128 bytes (decoded from base64 on the wire) and never echoed', () => {
    const wire = (bytes: number) => ({
      CertificateArn: CERT_ARN,
      Passphrase: Buffer.alloc(bytes, 'p').toString('base64'),
    });
    expect(violationsOf('acm', 'ExportCertificate', wire(4))).toEqual([]);
    expect(violationsOf('acm', 'ExportCertificate', wire(128))).toEqual([]);
    expect(violationsOf('acm', 'ExportCertificate', wire(3))).toEqual([
      'passphrase: Member must have length greater than or equal to 4',
    ]);
    expect(violationsOf('acm', 'ExportCertificate', wire(129))).toEqual([
      'passphrase: Member must have length less than or equal to 128',
    ]);
    // 128 characters of base64 are 96 bytes: the decoded length counts, not the text.
    expect(Buffer.alloc(96).toString('base64').length).toBe(128);
    expect(
      validateRequest(
        'acm',
        'ExportCertificate',
        { CertificateArn: CERT_ARN, Passphrase: new Uint8Array(3) },
        { form: 'sdk' },
      ),
    ).toHaveLength(1);
    expect(validationMessage(validateRequest('acm', 'ExportCertificate', wire(3)))).not.toContain('cHBw');
  });

  test('GetSecretValue VersionId is 32..64 characters', () => {
    const get = (versionId: string) =>
      violationsOf('secretsmanager', 'GetSecretValue', { SecretId: 'acm-export/x', VersionId: versionId });
    expect(get('a'.repeat(32))).toEqual([]);
    expect(get('a'.repeat(64))).toEqual([]);
    expect(get('a'.repeat(31))).toEqual(['versionId: Member must have length greater than or equal to 32']);
    expect(get('a'.repeat(65))).toEqual(['versionId: Member must have length less than or equal to 64']);
  });

  test('a missing required member, and several violations in one message', () => {
    const violations = validateRequest('secretsmanager', 'GetSecretValue', { VersionStage: '' });
    expect(validationMessage(violations)).toBe(
      "2 validation errors detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null; " +
        "Value '' at 'versionStage' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
  });

  test('sensitive members are never echoed (Secrets Manager SecretString)', () => {
    const secret = 'x'.repeat(65537);
    const put = validateRequest('secretsmanager', 'PutSecretValue', { SecretId: 'acm-export/x', SecretString: secret });
    expect(validationMessage(put)).toBe(
      "1 validation error detected: Value '***' at 'secretString' failed to satisfy constraint: Member must have length less than or equal to 65536",
    );
    // The same breach on a member that is not sensitive is echoed, as AWS does.
    expect(
      validationMessage(
        validateRequest('secretsmanager', 'PutSecretValue', { SecretId: 'acm-export/x', VersionStages: [''] }),
      ),
    ).toContain("Value '' at 'versionStages.1.member' failed");
  });

  test('a wrong JSON type is a SerializationException; unknown members are ignored', () => {
    expect(validationError(validateRequest('ssm', 'GetInventory', { MaxResults: '10' })).type).toBe(
      'SerializationException',
    );
    expect(validateRequest('ssm', 'GetInventory', { MaxResults: 10, SomethingNew: true })).toEqual([]);
  });
});

describe('the emulator answers a breach with ValidationException', () => {
  let aws: AwsEmulator;
  let ssm: SSMClient;
  let acm: ACMClient;
  let sm: SecretsManagerClient;

  beforeAll(async () => {
    aws = await startAwsEmulator({ faults: { throttle: {}, notExportable: [], pending: [], nodes: {} } });
    ssm = new SSMClient({ ...aws.clientConfig(), maxAttempts: 1 });
    acm = new ACMClient({ ...aws.clientConfig(), maxAttempts: 1 });
    sm = new SecretsManagerClient({ ...aws.clientConfig(), maxAttempts: 1 });
  });
  afterAll(async () => {
    ssm.destroy();
    acm.destroy();
    sm.destroy();
    await aws.close();
  });

  test('GetInventory MaxResults 100 is rejected; 50 is served', async () => {
    await expect(ssm.send(new GetInventoryCommand({ MaxResults: 100 }))).rejects.toMatchObject({
      name: 'ValidationException',
      message:
        "1 validation error detected: Value '100' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50",
      $metadata: { httpStatusCode: 400 },
    });
    await expect(ssm.send(new GetInventoryCommand({ MaxResults: 50 }))).resolves.toMatchObject({ Entities: [] });
  });

  test('ListCommandInvocations MaxResults 51 is rejected; 50 is served', async () => {
    await expect(ssm.send(new ListCommandInvocationsCommand({ MaxResults: 51 }))).rejects.toMatchObject({
      name: 'ValidationException',
    });
    await expect(ssm.send(new ListCommandInvocationsCommand({ MaxResults: 50 }))).resolves.toMatchObject({
      CommandInvocations: [],
    });
  });

  test('DescribeInstanceInformation MaxResults is 5..50 (the model, not a limit of the emulator)', async () => {
    await expect(ssm.send(new DescribeInstanceInformationCommand({ MaxResults: 4 }))).rejects.toMatchObject({
      name: 'ValidationException',
      message:
        "1 validation error detected: Value '4' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 5",
    });
    await expect(ssm.send(new DescribeInstanceInformationCommand({ MaxResults: 51 }))).rejects.toMatchObject({
      name: 'ValidationException',
    });
    await expect(ssm.send(new DescribeInstanceInformationCommand({ MaxResults: 5 }))).resolves.toMatchObject({
      InstanceInformationList: [],
    });
  });

  test('SendCommand with 6 Targets is rejected before the operation runs', async () => {
    const Targets = Array.from({ length: 6 }, (_, i) => ({ Key: 'tag:Role', Values: [`web${i}`] }));
    await expect(
      ssm.send(new SendCommandCommand({ DocumentName: 'AWS-RunShellScript', Targets })),
    ).rejects.toMatchObject({
      name: 'ValidationException',
      message: expect.stringContaining(
        "at 'targets' failed to satisfy constraint: Member must have length less than or equal to 5",
      ),
    });
  });

  test('ExportCertificate with a 3-byte passphrase is rejected without echoing it; 4 bytes export', async () => {
    const { CertificateArn } = await acm.send(
      new RequestCertificateCommand({
        DomainName: 'app.example.test',
        ValidationMethod: 'DNS',
        Options: { Export: 'ENABLED' },
      }),
    );
    const err = await acm.send(new ExportCertificateCommand({ CertificateArn, Passphrase: Buffer.from('abc') })).then(
      () => new Error('accepted'),
      (e: unknown) => e as Error,
    );
    expect(err).toMatchObject({
      name: 'ValidationException',
      message: expect.stringContaining(
        "at 'passphrase' failed to satisfy constraint: Member must have length greater than or equal to 4",
      ),
    });
    expect(err.message).not.toMatch(/abc|YWJj/);
    await expect(
      acm.send(new ExportCertificateCommand({ CertificateArn, Passphrase: Buffer.from('abcd') })),
    ).resolves.toMatchObject({ PrivateKey: expect.stringContaining('ENCRYPTED') });
  });

  test('GetSecretValue with a 31-character VersionId is rejected; a UUID is looked up', async () => {
    const created = await sm.send(new CreateSecretCommand({ Name: 'constraints/one', SecretString: 'v1' }));
    await expect(
      sm.send(new GetSecretValueCommand({ SecretId: created.ARN, VersionId: 'a'.repeat(31) })),
    ).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(
      sm.send(new GetSecretValueCommand({ SecretId: created.ARN, VersionId: created.VersionId })),
    ).resolves.toMatchObject({ SecretString: 'v1' });
  });

  test('a missing required member is rejected with "Member must not be null"', async () => {
    await expect(sm.send(new GetSecretValueCommand({} as never))).rejects.toMatchObject({
      name: 'ValidationException',
      message:
        "1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null",
    });
  });
});
