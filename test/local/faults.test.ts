import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ACMClient, DescribeCertificateCommand, RequestCertificateCommand } from '@aws-sdk/client-acm';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetCommandInvocationCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { formatSecret } from '../../lambda/acm-export/secret-format';
import { loadDocument } from '../../ssm-documents/load';
import { localLibraryLocation } from '../../local/aws-emulator/s3';
import { LOCAL_INSTALL_DOCUMENT_NAME, startAwsEmulator } from '../../local/aws-emulator';
import { faultsFromEnv } from '../../local/faults';
import { localPlacement, startLocalNodes } from '../../local/nodes';
import { nginxPushParameters } from '../helpers/install-script';
import { ExportCertificateCommand } from '@aws-sdk/client-acm';

test('fault switches parse from the environment', () => {
  const spec = faultsFromEnv({
    ACM_EXPORT_LOCAL_THROTTLE: 'ExportCertificate=2, ssm:SendCommand=1',
    ACM_EXPORT_LOCAL_NOT_EXPORTABLE: 'a.example.test',
    ACM_EXPORT_LOCAL_PENDING: 'b.example.test',
    ACM_EXPORT_LOCAL_FAIL_INSTALL: 'node-2',
    ACM_EXPORT_LOCAL_FAIL_CONFIG_TEST: 'node-3',
    ACM_EXPORT_LOCAL_DELAY_NODE: 'node-1=250',
    ACM_EXPORT_LOCAL_OFFLINE: 'node-4',
  });
  expect(spec).toEqual({
    throttle: { ExportCertificate: 2, 'ssm:SendCommand': 1 },
    notExportable: ['a.example.test'],
    pending: ['b.example.test'],
    nodes: {
      'node-1': { delayMs: 250 },
      'node-2': { failInstall: true },
      'node-3': { failConfigTest: true },
      'node-4': { offline: true },
    },
  });
  expect(() => faultsFromEnv({ ACM_EXPORT_LOCAL_THROTTLE: 'ExportCertificate' })).toThrow(/NAME=NUMBER/);
});

test('forced Run Command outcomes parse from the environment; unknown outcomes are refused', () => {
  const spec = faultsFromEnv({
    ACM_EXPORT_LOCAL_OUTCOME: 'node-2=Undeliverable, mi-0123456789abcdef0=DeliveryTimedOut',
    ACM_EXPORT_LOCAL_OFFLINE: 'node-2',
  });
  expect(spec.nodes).toEqual({
    'node-2': { offline: true, outcome: 'Undeliverable' },
    'mi-0123456789abcdef0': { outcome: 'DeliveryTimedOut' },
  });
  expect(() => faultsFromEnv({ ACM_EXPORT_LOCAL_OUTCOME: 'node-2=Lost' })).toThrow(/NODE=OUTCOME.*Undeliverable/);
  expect(() => faultsFromEnv({ ACM_EXPORT_LOCAL_OUTCOME: 'Undeliverable' })).toThrow(/NODE=OUTCOME/);
});

test('the selftest switches parse from the environment: an old SSM Agent version and denied secret reads', () => {
  const spec = faultsFromEnv({
    ACM_EXPORT_LOCAL_AGENT_VERSION: 'node-1=3.2.582.0',
    ACM_EXPORT_LOCAL_SECRET_DENIED: 'node-2',
  });
  expect(spec.nodes).toEqual({ 'node-1': { agentVersion: '3.2.582.0' }, 'node-2': { secretDenied: true } });
  expect(() => faultsFromEnv({ ACM_EXPORT_LOCAL_AGENT_VERSION: 'node-1=latest' })).toThrow(/NAME=VERSION/);
});

test('environment faults reach ACM and the nodes; built-in server: config test failure keeps the old certificate, delay is honoured', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'acm-export-faults-'));
  const aws = await startAwsEmulator({
    faults: faultsFromEnv({
      ACM_EXPORT_LOCAL_NOT_EXPORTABLE: 'locked.example.test',
      ACM_EXPORT_LOCAL_PENDING: 'slow.example.test',
      ACM_EXPORT_LOCAL_FAIL_CONFIG_TEST: 'node-2',
      ACM_EXPORT_LOCAL_DELAY_NODE: 'node-1=300',
    }),
    documents: {
      [LOCAL_INSTALL_DOCUMENT_NAME]: loadDocument('install', localPlacement(root), undefined, localLibraryLocation()),
    },
  });
  const acm = new ACMClient({ ...aws.clientConfig(), maxAttempts: 1 });
  const sm = new SecretsManagerClient(aws.clientConfig());
  const ssm = new SSMClient(aws.clientConfig());
  const nodes = await startLocalNodes(aws, {
    root,
    count: 2,
    tags: { Env: 'test' },
    server: 'builtin',
    certName: 'api',
    env: { ACM_EXPORT_VERIFY_SECONDS: '3' },
  });
  try {
    const locked = await acm.send(
      new RequestCertificateCommand({ DomainName: 'locked.example.test', Options: { Export: 'ENABLED' } }),
    );
    expect(
      (await acm.send(new DescribeCertificateCommand({ CertificateArn: locked.CertificateArn }))).Certificate!.Options!
        .Export,
    ).toBe('DISABLED');
    const slow = await acm.send(
      new RequestCertificateCommand({ DomainName: 'slow.example.test', Options: { Export: 'ENABLED' } }),
    );
    expect(
      (await acm.send(new DescribeCertificateCommand({ CertificateArn: slow.CertificateArn }))).Certificate!.Status,
    ).toBe('PENDING_VALIDATION');

    const { CertificateArn } = await acm.send(
      new RequestCertificateCommand({
        DomainName: 'api.example.test',
        KeyAlgorithm: 'RSA_2048',
        Options: { Export: 'ENABLED' },
      }),
    );
    const passphrase = 'bG9jYWwtdGVzdC1wYXNz';
    const ex = await acm.send(new ExportCertificateCommand({ CertificateArn, Passphrase: Buffer.from(passphrase) }));
    const secret = await sm.send(
      new CreateSecretCommand({
        Name: 'api',
        SecretString: formatSecret({
          certificate: ex.Certificate!,
          chain: ex.CertificateChain!,
          encryptedPrivateKey: ex.PrivateKey!,
          passphrase,
        }),
      }),
    );
    const before = await nodes[1].servedCertificate('api.example.test');
    const started = Date.now();
    const sent = await ssm.send(
      new SendCommandCommand({
        DocumentName: LOCAL_INSTALL_DOCUMENT_NAME,
        Targets: [{ Key: 'tag:Env', Values: ['test'] }],
        Parameters: nginxPushParameters('api', secret, aws.region),
        MaxErrors: '1',
      }),
    );
    await aws.ssm.waitForCommand(sent.Command!.CommandId!);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    const ok = await ssm.send(
      new GetCommandInvocationCommand({ CommandId: sent.Command!.CommandId, InstanceId: nodes[0].instanceId }),
    );
    expect({ status: ok.Status, err: ok.StandardErrorContent }).toMatchObject({ status: 'Success' });
    expect((await nodes[0].servedCertificate('api.example.test', aws.ca.rootPem)).authorized).toBe(true);
    const bad = await ssm.send(
      new GetCommandInvocationCommand({ CommandId: sent.Command!.CommandId, InstanceId: nodes[1].instanceId }),
    );
    expect(bad.Status).toBe('Failed');
    expect(bad.StandardErrorContent).toMatch(/config/i);
    expect((await nodes[1].servedCertificate('api.example.test')).serialNumber).toBe(before.serialNumber);
  } finally {
    acm.destroy();
    sm.destroy();
    ssm.destroy();
    await Promise.all(nodes.map((n) => n.stop()));
    await aws.close();
    rmSync(root, { recursive: true, force: true });
  }
});
