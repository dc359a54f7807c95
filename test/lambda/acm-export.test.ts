import { ACMClient, DescribeCertificateCommand, ExportCertificateCommand } from '@aws-sdk/client-acm';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import 'aws-sdk-client-mock-jest';
import { createHandler } from '../../lambda/acm-export/handler';
import { SECRET_TAGS } from '../../lambda/shared/contract';
import { secretName, secretVersionToken } from '../../lambda/acm-export/acm-export';
import { parseSecret } from '../../lambda/acm-export/secret-format';
import {
  CERT_ARN,
  CERT_ID,
  FAKE_PEM,
  INPUT,
  KMS_KEY,
  SECRET_ARN,
  executionArn,
  issuedCertificate,
  mockAwsClient,
} from './support';

const acm = mockAwsClient(ACMClient);
const sm = mockAwsClient(SecretsManagerClient);
const handler = createHandler({ secretNamePrefix: 'acm-export', kmsKeyId: KMS_KEY, region: 'us-east-1' });
const payload = (input: object = INPUT, name = 'exec-1') => ({ input, executionArn: executionArn(name) });
const notFound = (name = 'ResourceNotFoundException') => Object.assign(new Error('not found'), { name });

beforeEach(() => {
  acm.reset();
  sm.reset();
  acm.on(DescribeCertificateCommand).resolves({ Certificate: issuedCertificate() });
  acm
    .on(ExportCertificateCommand)
    .resolves({ Certificate: FAKE_PEM.certificate, CertificateChain: FAKE_PEM.chain, PrivateKey: FAKE_PEM.key });
  sm.on(DescribeSecretCommand).rejects(notFound());
  sm.on(CreateSecretCommand).callsFake((input: { ClientRequestToken: string }) => ({
    ARN: SECRET_ARN,
    VersionId: input.ClientRequestToken,
  }));
  sm.on(PutSecretValueCommand).callsFake((input: { ClientRequestToken: string }) => ({
    ARN: SECRET_ARN,
    VersionId: input.ClientRequestToken,
  }));
});

describe('acm-export', () => {
  test('first export creates the secret with one version, tags and the stack key, and returns identifiers only', async () => {
    const result = await handler(payload());
    const token = secretVersionToken(executionArn('exec-1'));
    expect(token).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(result).toEqual({
      secretArn: SECRET_ARN,
      secretVersionId: token,
      serial: '0a:1b:2c:3d',
      notAfter: '2027-06-01T00:00:00.000Z',
      keyAlgorithm: 'RSA-2048',
      domainNames: ['www.example.com', 'example.com'],
    });
    const name = secretName('acm-export', CERT_ARN, 'Role=web');
    expect(name).toMatch(new RegExp(`^acm-export/${CERT_ID}/[0-9a-f]{16}$`));
    expect(sm).toHaveReceivedCommandTimes(CreateSecretCommand, 1);
    expect(sm).not.toHaveReceivedCommand(PutSecretValueCommand);
    const create = sm.commandCalls(CreateSecretCommand)[0].args[0].input;
    expect(create).toMatchObject({ Name: name, KmsKeyId: KMS_KEY, ClientRequestToken: token });
    expect(create.Tags).toEqual([
      { Key: SECRET_TAGS.certificateArn, Value: CERT_ARN },
      { Key: SECRET_TAGS.targetTagKey, Value: 'Role' },
      { Key: SECRET_TAGS.targetTagValue, Value: 'web' },
    ]);
    // The passphrase is a 32-byte base64url string sent as bytes, and it is the one stored next to the key.
    const passBytes = acm.commandCalls(ExportCertificateCommand)[0].args[0].input.Passphrase as Uint8Array;
    expect(passBytes).toBeInstanceOf(Uint8Array);
    const passphrase = new TextDecoder().decode(passBytes);
    expect(passphrase).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const bundle = parseSecret(create.SecretString as string);
    expect(bundle.passphrase).toBe(passphrase);
    expect(bundle.encryptedPrivateKey).toContain('BEGIN ENCRYPTED PRIVATE KEY');
    expect(JSON.stringify(result)).not.toContain(passphrase);
  });

  test('Pkcs12 profile: the same version gets a PFX passphrase of its own; no profile, no PFX block', async () => {
    const withPfx = await handler(payload({ ...INPUT, Pkcs12: true }));
    const secret = sm.commandCalls(CreateSecretCommand)[0].args[0].input.SecretString as string;
    const bundle = parseSecret(secret);
    expect(bundle.pfxPassphrase).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(bundle.pfxPassphrase).not.toBe(bundle.passphrase);
    expect(secret).toContain('-----BEGIN ACM EXPORT PFX PASSPHRASE-----');
    expect(JSON.stringify(withPfx)).not.toContain(bundle.pfxPassphrase as string);
    sm.resetHistory();
    await handler(payload(INPUT, 'exec-2'));
    const plain = sm.commandCalls(CreateSecretCommand)[0].args[0].input.SecretString as string;
    expect(plain).not.toContain('PFX PASSPHRASE');
    expect(parseSecret(plain).pfxPassphrase).toBeUndefined();
  });

  test('later exports put a new version on the existing secret', async () => {
    sm.on(DescribeSecretCommand).resolves({ ARN: SECRET_ARN, VersionIdsToStages: { 'older-version': ['AWSCURRENT'] } });
    const result = await handler(payload());
    expect(sm).toHaveReceivedCommandTimes(PutSecretValueCommand, 1);
    expect(sm).not.toHaveReceivedCommand(CreateSecretCommand);
    expect(sm).toHaveReceivedCommandWith(PutSecretValueCommand, { ClientRequestToken: result.secretVersionId });
  });

  test('a deleted target exported again: its secret, scheduled for deletion, is restored before the new version', async () => {
    sm.on(DescribeSecretCommand).resolves({ ARN: SECRET_ARN, VersionIdsToStages: {}, DeletedDate: new Date() });
    await handler(payload());
    expect(sm).toHaveReceivedCommandWith(RestoreSecretCommand, {
      SecretId: secretName('acm-export', CERT_ARN, 'Role=web'),
    });
    const order = sm.calls().map((c) => (c.args[0] as object).constructor.name);
    expect(order.indexOf('RestoreSecretCommand')).toBeLessThan(order.indexOf('PutSecretValueCommand'));
  });

  test('a live secret is never restored', async () => {
    sm.on(DescribeSecretCommand).resolves({ ARN: SECRET_ARN, VersionIdsToStages: {} });
    await handler(payload());
    expect(sm).not.toHaveReceivedCommand(RestoreSecretCommand);
  });

  test('a secret deleted between describe and put is created instead', async () => {
    sm.on(DescribeSecretCommand).resolves({ ARN: SECRET_ARN, VersionIdsToStages: {} });
    sm.on(PutSecretValueCommand).rejects(notFound());
    await handler(payload());
    expect(sm).toHaveReceivedCommandTimes(CreateSecretCommand, 1);
  });

  test('a secret created concurrently (ResourceExistsException) gets a put instead', async () => {
    sm.on(CreateSecretCommand).rejects(notFound('ResourceExistsException'));
    await handler(payload());
    expect(sm).toHaveReceivedCommandTimes(PutSecretValueCommand, 1);
  });

  test('a retried task (same execution, same token) exports once and writes one version', async () => {
    const versions: Record<string, string[]> = {};
    let exists = false;
    sm.on(DescribeSecretCommand).callsFake(() => {
      if (!exists) throw notFound();
      return { ARN: SECRET_ARN, VersionIdsToStages: versions };
    });
    sm.on(CreateSecretCommand).callsFake((input: { ClientRequestToken: string }) => {
      exists = true;
      versions[input.ClientRequestToken] = ['AWSCURRENT'];
      return { ARN: SECRET_ARN, VersionId: input.ClientRequestToken };
    });
    const first = await handler(payload());
    const second = await handler(payload());
    expect(second).toEqual(first);
    expect(acm).toHaveReceivedCommandTimes(ExportCertificateCommand, 1);
    expect(Object.keys(versions)).toHaveLength(1);
    // A different execution is a new export.
    sm.on(PutSecretValueCommand).callsFake((input: { ClientRequestToken: string }) => {
      versions[input.ClientRequestToken] = ['AWSCURRENT'];
      return { ARN: SECRET_ARN, VersionId: input.ClientRequestToken };
    });
    const third = await handler(payload(INPUT, 'exec-2'));
    expect(third.secretVersionId).not.toBe(first.secretVersionId);
    expect(Object.keys(versions)).toHaveLength(2);
  });

  test('the version token is deterministic per execution', () => {
    expect(secretVersionToken(executionArn('a'))).toBe(secretVersionToken(executionArn('a')));
    expect(secretVersionToken(executionArn('a'))).not.toBe(secretVersionToken(executionArn('b')));
  });

  test.each([
    ['ResourceNotFoundException', 'CertificateNotFound'],
    ['InvalidArnException', 'CertificateNotFound'],
    ['ThrottlingException', 'Throttled'],
  ])('DescribeCertificate %s -> %s', async (sdkError, expected) => {
    acm.on(DescribeCertificateCommand).rejects(notFound(sdkError));
    await expect(handler(payload())).rejects.toMatchObject({ name: expected });
    expect(acm).not.toHaveReceivedCommand(ExportCertificateCommand);
  });

  test('a certificate that is not ISSUED fails with CertificateNotIssued', async () => {
    acm.on(DescribeCertificateCommand).resolves({ Certificate: issuedCertificate({ Status: 'PENDING_VALIDATION' }) });
    await expect(handler(payload())).rejects.toMatchObject({
      name: 'CertificateNotIssued',
      message: expect.stringContaining('PENDING_VALIDATION'),
    });
  });

  test.each([[{ Export: 'DISABLED' }], [undefined]])(
    'a certificate with Options %p fails with CertificateNotExportable',
    async (options) => {
      acm.on(DescribeCertificateCommand).resolves({ Certificate: issuedCertificate({ Options: options }) });
      await expect(handler(payload())).rejects.toMatchObject({ name: 'CertificateNotExportable' });
      expect(acm).not.toHaveReceivedCommand(ExportCertificateCommand);
    },
  );

  test.each([
    ['another region', CERT_ARN.replace('us-east-1', 'eu-west-1')],
    ['another account', CERT_ARN.replace('111122223333', '444455556666')],
  ])('a certificate in %s fails with CertificateOutOfScope before any AWS call', async (_what, arn) => {
    await expect(handler(payload({ ...INPUT, CertificateArn: arn }))).rejects.toMatchObject({
      name: 'CertificateOutOfScope',
    });
    expect(acm).not.toHaveReceivedAnyCommand();
  });

  test('ExportCertificate ValidationException -> CertificateNotExportable; throttling -> Throttled', async () => {
    acm.on(ExportCertificateCommand).rejects(notFound('ValidationException'));
    await expect(handler(payload())).rejects.toMatchObject({ name: 'CertificateNotExportable' });
    acm.on(ExportCertificateCommand).rejects(notFound('ThrottlingException'));
    await expect(handler(payload())).rejects.toMatchObject({ name: 'Throttled' });
    expect(sm).not.toHaveReceivedCommand(CreateSecretCommand);
  });

  test('schema rejections name the field and the rule, not the value', async () => {
    const secretish = '-----BEGIN PRIVATE KEY-----oops';
    const error = await handler(payload({ ...INPUT, CertName: secretish, CertDir: '/etc/../x', Extra: 1 })).catch(
      (e: Error) => e,
    );
    expect(error).toMatchObject({ name: 'InvalidInput' });
    expect((error as Error).message).toContain('CertName: must be a plain file name stem');
    expect((error as Error).message).toContain('CertDir: must be an absolute directory path');
    expect((error as Error).message).toContain('Extra: is not a known field');
    expect((error as Error).message).not.toContain(secretish);
    await expect(handler({ input: INPUT, executionArn: 'nope' })).rejects.toMatchObject({
      name: 'InvalidInput',
      message: expect.stringContaining('executionArn: must be a Step Functions execution ARN'),
    });
  });
});

describe('the IAM backstop of the export opt-in', () => {
  test('AccessDenied from ExportCertificate → CertificateNotOptedIn naming the tag and the command; nothing written', async () => {
    acm
      .on(ExportCertificateCommand)
      .rejects(Object.assign(new Error('User: arn:aws:sts::... is not authorized'), { name: 'AccessDeniedException' }));
    const tagged = createHandler({
      secretNamePrefix: 'acm-export',
      kmsKeyId: KMS_KEY,
      region: 'us-east-1',
      exportOptIn: { anyCertificate: false, tagKey: 'acm-export:exportable', tagValue: 'true' },
    });
    const failure = tagged(payload());
    await expect(failure).rejects.toMatchObject({ name: 'CertificateNotOptedIn' });
    await expect(failure).rejects.toThrow(
      `add the tag acm-export:exportable=true (aws acm add-tags-to-certificate --certificate-arn ${CERT_ARN} --tags Key=acm-export:exportable,Value=true)`,
    );
    await expect(failure).rejects.not.toThrow(/not authorized/);
    expect(sm).toHaveReceivedCommandTimes(PutSecretValueCommand, 0);
    expect(sm).toHaveReceivedCommandTimes(CreateSecretCommand, 0);
  });
});
