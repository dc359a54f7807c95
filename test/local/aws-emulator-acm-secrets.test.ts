import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  ACMClient,
  DescribeCertificateCommand,
  ExportCertificateCommand,
  ListCertificatesCommand,
  RequestCertificateCommand,
  type KeyAlgorithm,
} from '@aws-sdk/client-acm';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  SecretsManagerClient,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { startAwsEmulator, type AwsEmulator } from '../../local/aws-emulator';

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

let aws: AwsEmulator;
let acm: ACMClient;
let sm: SecretsManagerClient;

beforeAll(async () => {
  aws = await startAwsEmulator({ faults: { throttle: {}, notExportable: [], pending: [], nodes: {} } });
  acm = new ACMClient({ ...aws.clientConfig(), maxAttempts: 1 });
  sm = new SecretsManagerClient({ ...aws.clientConfig(), maxAttempts: 1 });
});
afterAll(async () => {
  acm.destroy();
  sm.destroy();
  await aws.close();
});

async function request(keyAlgorithm: KeyAlgorithm, exportable = true): Promise<string> {
  const out = await acm.send(
    new RequestCertificateCommand({
      DomainName: 'app.example.test',
      SubjectAlternativeNames: ['app.example.test', 'www.example.test'],
      KeyAlgorithm: keyAlgorithm,
      ValidationMethod: 'DNS',
      Options: { Export: exportable ? 'ENABLED' : 'DISABLED' },
    }),
  );
  return out.CertificateArn!;
}

describe('ACM', () => {
  test.each(['RSA_2048', 'EC_prime256v1', 'EC_secp384r1'] as const)(
    '%s: request, describe, export round trip',
    async (alg) => {
      const arn = await request(alg);
      expect(arn).toMatch(/^arn:aws:acm:us-east-1:\d{12}:certificate\/[0-9a-f-]{36}$/);

      const { Certificate: d } = await acm.send(new DescribeCertificateCommand({ CertificateArn: arn }));
      expect(d).toMatchObject({
        Status: 'ISSUED',
        Type: 'AMAZON_ISSUED',
        KeyAlgorithm: alg,
        DomainName: 'app.example.test',
        SubjectAlternativeNames: ['app.example.test', 'www.example.test'],
        InUseBy: [],
        Options: { Export: 'ENABLED' },
        RenewalEligibility: 'ELIGIBLE',
      });
      expect(d!.Serial).toMatch(/^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
      expect(d!.NotBefore).toBeInstanceOf(Date);
      const days = (d!.NotAfter!.getTime() - d!.NotBefore!.getTime()) / 86_400_000;
      expect(Math.round(days)).toBe(198);

      const passphrase = 'Zm9vYmFyLXBhc3NwaHJhc2U_-';
      const out = await acm.send(
        new ExportCertificateCommand({ CertificateArn: arn, Passphrase: Buffer.from(passphrase) }),
      );
      expect(out.PrivateKey).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
      expect(() => createPrivateKey(out.PrivateKey!)).toThrow();
      const key = createPrivateKey({ key: out.PrivateKey!, passphrase });
      const leaf = new X509Certificate(out.Certificate!);
      expect(leaf.checkPrivateKey(key)).toBe(true);
      expect(createPublicKey(key).export({ format: 'jwk' })).toEqual(leaf.publicKey.export({ format: 'jwk' }));
      expect(leaf.serialNumber.toLowerCase()).toBe(d!.Serial!.replace(/:/g, ''));
      expect(leaf.subjectAltName).toBe('DNS:app.example.test, DNS:www.example.test');

      const chain = out.CertificateChain!.match(PEM_CERT)!.map((p) => new X509Certificate(p));
      expect(chain).toHaveLength(2);
      const root = new X509Certificate(aws.ca.rootPem);
      expect(leaf.checkIssued(chain[0])).toBe(true);
      expect(leaf.verify(chain[0].publicKey)).toBe(true);
      expect(chain[0].verify(root.publicKey)).toBe(true);
      expect(chain[1].fingerprint256).toBe(root.fingerprint256);
    },
  );

  test('export errors: not exportable, pending, unknown, bad passphrase', async () => {
    const notExportable = await request('EC_prime256v1', false);
    const pass = Buffer.from('a-good-passphrase');
    await expect(
      acm.send(new ExportCertificateCommand({ CertificateArn: notExportable, Passphrase: pass })),
    ).rejects.toMatchObject({ name: 'ValidationException' });

    const pending = await request('EC_prime256v1');
    await aws.acm.setPending(pending, true);
    await expect(
      acm.send(new ExportCertificateCommand({ CertificateArn: pending, Passphrase: pass })),
    ).rejects.toMatchObject({ name: 'RequestInProgressException' });
    const { Certificate } = await acm.send(new DescribeCertificateCommand({ CertificateArn: pending }));
    expect(Certificate!.Status).toBe('PENDING_VALIDATION');
    await aws.acm.setPending(pending, false);
    await expect(
      acm.send(new ExportCertificateCommand({ CertificateArn: pending, Passphrase: pass })),
    ).resolves.toBeDefined();

    const missing = `arn:aws:acm:us-east-1:${aws.accountId}:certificate/00000000-0000-0000-0000-000000000000`;
    await expect(
      acm.send(new ExportCertificateCommand({ CertificateArn: missing, Passphrase: pass })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(
      acm.send(new ExportCertificateCommand({ CertificateArn: pending, Passphrase: Buffer.from('has$dollar') })),
    ).rejects.toMatchObject({ name: 'ValidationException' });
  });

  test('idempotency token returns the same ARN; list filters key types like ACM', async () => {
    const a = await acm.send(
      new RequestCertificateCommand({
        DomainName: 'idem.example.test',
        IdempotencyToken: 'tok1',
        KeyAlgorithm: 'EC_prime256v1',
      }),
    );
    const b = await acm.send(
      new RequestCertificateCommand({
        DomainName: 'idem.example.test',
        IdempotencyToken: 'tok1',
        KeyAlgorithm: 'EC_prime256v1',
      }),
    );
    expect(b.CertificateArn).toBe(a.CertificateArn);
    const rsaOnly = await acm.send(new ListCertificatesCommand({}));
    expect(rsaOnly.CertificateSummaryList!.every((c) => c.KeyAlgorithm === 'RSA_2048')).toBe(true);
    const ec = await acm.send(new ListCertificatesCommand({ Includes: { keyTypes: ['EC_prime256v1'] } }));
    expect(ec.CertificateSummaryList!.map((c) => c.CertificateArn)).toContain(a.CertificateArn);
  });

  test('renew issues a new serial and key under the same ARN and returns the ACM event', async () => {
    const arn = await request('EC_prime256v1');
    const before = (await acm.send(new DescribeCertificateCommand({ CertificateArn: arn }))).Certificate!.Serial;
    const event = await aws.acm.renew(arn);
    const after = (await acm.send(new DescribeCertificateCommand({ CertificateArn: arn }))).Certificate!;
    expect(after.Serial).not.toBe(before);
    expect(after.RenewalSummary?.RenewalStatus).toBe('SUCCESS');
    expect(event).toMatchObject({
      source: 'aws.acm',
      'detail-type': 'ACM Certificate Available',
      resources: [arn],
      detail: { Action: 'RENEWAL', CertificateType: 'AMAZON_ISSUED' },
    });
  });

  test('throttling fault: the SDK sees ThrottlingException, then it clears', async () => {
    const arn = await request('EC_prime256v1');
    aws.throttle('DescribeCertificate', 1);
    await expect(acm.send(new DescribeCertificateCommand({ CertificateArn: arn }))).rejects.toMatchObject({
      name: 'ThrottlingException',
    });
    await expect(acm.send(new DescribeCertificateCommand({ CertificateArn: arn }))).resolves.toBeDefined();
    // with retries the SDK recovers by itself
    const retrying = new ACMClient({ ...aws.clientConfig(), maxAttempts: 3, retryMode: 'standard' });
    aws.throttle('acm:DescribeCertificate', 2);
    const before = aws.callCount('DescribeCertificate');
    await expect(retrying.send(new DescribeCertificateCommand({ CertificateArn: arn }))).resolves.toBeDefined();
    expect(aws.callCount('acm:DescribeCertificate') - before).toBe(3);
    retrying.destroy();
  });
});

describe('Secrets Manager', () => {
  const TOKEN1 = '11111111-1111-4111-8111-111111111111';
  const TOKEN2 = '22222222-2222-4222-8222-222222222222';

  test('versions, staging labels and token idempotency', async () => {
    const created = await sm.send(
      new CreateSecretCommand({
        Name: 'acm-export/test-a',
        SecretString: 'v1',
        KmsKeyId: 'alias/local',
        ClientRequestToken: TOKEN1,
        Tags: [{ Key: 'k', Value: 'v' }],
      }),
    );
    expect(created.VersionId).toBe(TOKEN1);
    expect(created.ARN).toMatch(/^arn:aws:secretsmanager:us-east-1:\d{12}:secret:acm-export\/test-a-[A-Za-z0-9]{6}$/);

    const put = await sm.send(
      new PutSecretValueCommand({ SecretId: created.ARN, SecretString: 'v2', ClientRequestToken: TOKEN2 }),
    );
    expect(put.VersionStages).toEqual(['AWSCURRENT']);
    const again = await sm.send(
      new PutSecretValueCommand({ SecretId: created.ARN, SecretString: 'v2', ClientRequestToken: TOKEN2 }),
    );
    expect(again.VersionId).toBe(TOKEN2);
    await expect(
      sm.send(new PutSecretValueCommand({ SecretId: created.ARN, SecretString: 'other', ClientRequestToken: TOKEN2 })),
    ).rejects.toMatchObject({
      name: 'ResourceExistsException',
    });

    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'acm-export/test-a' }))).SecretString).toBe('v2');
    expect((await sm.send(new GetSecretValueCommand({ SecretId: created.ARN, VersionId: TOKEN1 }))).SecretString).toBe(
      'v1',
    );
    expect(
      (await sm.send(new GetSecretValueCommand({ SecretId: created.ARN, VersionStage: 'AWSPREVIOUS' }))).VersionId,
    ).toBe(TOKEN1);
    await expect(
      sm.send(new GetSecretValueCommand({ SecretId: created.ARN, VersionId: '33333333-3333-4333-8333-333333333333' })),
    ).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });

    await sm.send(
      new TagResourceCommand({ SecretId: created.ARN, Tags: [{ Key: 'acm-export:target-tag-key', Value: 'Role' }] }),
    );
    const d = await sm.send(new DescribeSecretCommand({ SecretId: created.ARN }));
    expect(d.VersionIdsToStages).toEqual({ [TOKEN1]: ['AWSPREVIOUS'], [TOKEN2]: ['AWSCURRENT'] });
    expect(d.Tags).toEqual([
      { Key: 'k', Value: 'v' },
      { Key: 'acm-export:target-tag-key', Value: 'Role' },
    ]);
    expect(d.KmsKeyId).toBe('alias/local');
    await expect(
      sm.send(new CreateSecretCommand({ Name: 'acm-export/test-a', SecretString: 'x' })),
    ).rejects.toMatchObject({ name: 'ResourceExistsException' });
  });

  test('DeleteSecret: a 7..30-day recovery window, then the secret is unreadable and unlisted until restored', async () => {
    const name = 'acm-export/test/deleted';
    await sm.send(new CreateSecretCommand({ Name: name, SecretString: 'v1' }));
    for (const days of [0, 6, 31])
      await expect(
        sm.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: days })),
      ).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await expect(
      sm.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7, ForceDeleteWithoutRecovery: true })),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });
    const before = Date.now();
    const out = await sm.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));
    expect(out.DeletionDate!.getTime() - before).toBeGreaterThanOrEqual(7 * 86_400_000 - 1000);
    expect(out.DeletionDate!.getTime() - before).toBeLessThan(7 * 86_400_000 + 5000);
    expect((await sm.send(new DescribeSecretCommand({ SecretId: name }))).DeletedDate).toBeInstanceOf(Date);
    for (const call of [
      () => sm.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 })),
      () => sm.send(new GetSecretValueCommand({ SecretId: name })),
      () => sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'v2' })),
      () => sm.send(new CreateSecretCommand({ Name: name, SecretString: 'v2' })),
    ])
      await expect(call()).rejects.toMatchObject({ name: 'InvalidRequestException' });
    const listed = async (include?: boolean) =>
      (
        await sm.send(
          new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [name] }], IncludePlannedDeletion: include }),
        )
      ).SecretList?.map((e) => e.Name) ?? [];
    expect(await listed()).toEqual([]);
    expect(await listed(true)).toEqual([name]);
    await sm.send(new RestoreSecretCommand({ SecretId: name }));
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('v1');
    expect(await listed()).toEqual([name]);
  });

  test('records keep every request and response', async () => {
    const rec = aws.records.filter((r) => r.operation === 'PutSecretValue');
    expect(rec.length).toBeGreaterThan(0);
    expect(rec[0].request).toMatchObject({ SecretString: 'v2' });
    expect(rec.some((r) => r.error?.type === 'ResourceExistsException')).toBe(true);
  });
});

describe('auth and persistence', () => {
  test('wrong access key and wrong secret key are rejected', async () => {
    const wrongKey = new SecretsManagerClient({
      ...aws.clientConfig(),
      credentials: { accessKeyId: 'AKIAOTHER', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    await expect(wrongKey.send(new GetSecretValueCommand({ SecretId: 'x' }))).rejects.toMatchObject({
      name: 'UnrecognizedClientException',
    });
    const wrongSecret = new SecretsManagerClient({
      ...aws.clientConfig(),
      credentials: { accessKeyId: aws.credentials.accessKeyId, secretAccessKey: 'nope' },
      maxAttempts: 1,
    });
    await expect(wrongSecret.send(new GetSecretValueCommand({ SecretId: 'x' }))).rejects.toMatchObject({
      name: 'InvalidSignatureException',
    });
    wrongKey.destroy();
    wrongSecret.destroy();
  });

  test('state dir keeps the CA, certificates and secrets across restarts', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'acm-export-emu-'));
    try {
      const first = await startAwsEmulator({
        stateDir: dir,
        faults: { throttle: {}, notExportable: [], pending: [], nodes: {} },
      });
      const c1 = new ACMClient(first.clientConfig());
      const { CertificateArn } = await c1.send(
        new RequestCertificateCommand({ DomainName: 'keep.example.test', Options: { Export: 'ENABLED' } }),
      );
      const s1 = new SecretsManagerClient(first.clientConfig());
      await s1.send(new CreateSecretCommand({ Name: 'keep', SecretString: 'kept' }));
      const root = first.ca.rootPem;
      c1.destroy();
      s1.destroy();
      await first.close();

      const second = await startAwsEmulator({
        stateDir: dir,
        faults: { throttle: {}, notExportable: [], pending: [], nodes: {} },
      });
      expect(second.ca.rootPem).toBe(root);
      const c2 = new ACMClient(second.clientConfig());
      const s2 = new SecretsManagerClient(second.clientConfig());
      expect((await c2.send(new DescribeCertificateCommand({ CertificateArn }))).Certificate!.Status).toBe('ISSUED');
      expect((await s2.send(new GetSecretValueCommand({ SecretId: 'keep' }))).SecretString).toBe('kept');
      const out = await c2.send(new ExportCertificateCommand({ CertificateArn, Passphrase: Buffer.from('abcd1234') }));
      expect(
        new X509Certificate(out.Certificate!).checkIssued(
          new X509Certificate(out.CertificateChain!.match(PEM_CERT)![0]),
        ),
      ).toBe(true);
      c2.destroy();
      s2.destroy();
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
