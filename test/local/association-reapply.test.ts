import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { SSMClient } from '@aws-sdk/client-ssm';
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { upsertAssociation, type AssociationSpec } from '../../lambda/shared/associations';
import { documentParameters } from '../../lambda/shared/install-command';
import { withDefaults } from '../../lambda/shared/schemas';
import { profileFromRequest } from '../../lambda/ssm-run/ssm-run';
import { startAwsEmulator, type AwsEmulator, type StepRequest } from '../../local/aws-emulator';
import { writeAwsShim } from '../../local/nodes/shims';
import type { SsmCommandDocument } from '../../ssm-documents/load';
import { CERT_ARN, INPUT } from '../lambda/support';

/**
 * The local emulator behaves as SSM where the saving of "one run per node per renewal" is decided: an
 * UpdateAssociation re-applies the association on its targets at once, an association the workflow leaves
 * alone does not run; and it counts, per calling node, the secret reads and the KMS decrypts they cost.
 */

const NO_FAULTS = { throttle: {}, notExportable: [], pending: [], nodes: {} };
const DOCUMENT = 'Reapply-Install';
const PROFILE = profileFromRequest(withDefaults(INPUT));
const PARAMETERS = documentParameters(PROFILE, { secretArn: 'placeholder', stage: 'AWSCURRENT' }, 'us-east-1');
// A document declaring exactly the install association's parameters; its step is never run as a script.
const DOC: SsmCommandDocument = {
  schemaVersion: '2.2',
  parameters: Object.fromEntries(Object.keys(PARAMETERS).map((name) => [name, { type: 'String', default: '' }])),
  mainSteps: [{ action: 'aws:runShellScript', name: 'Install', inputs: { runCommand: ['true'] } }],
};

let aws: AwsEmulator;
let ssm: SSMClient;
let sm: SecretsManagerClient;
const steps: StepRequest[] = [];

beforeAll(async () => {
  aws = await startAwsEmulator({ faults: NO_FAULTS, documents: { [DOCUMENT]: DOC } });
  ssm = new SSMClient({ ...aws.clientConfig(), maxAttempts: 1 });
  sm = new SecretsManagerClient({ ...aws.clientConfig(), maxAttempts: 1 });
  for (const name of ['web-1', 'web-2'])
    aws.ssm.registerNode({
      name,
      tags: { Role: 'web' },
      executor: {
        isOnline: () => true,
        runStep: async (request) => {
          steps.push(request);
          return { exitCode: 0, stdout: '', stderr: '', timedOut: false };
        },
      },
    });
});
afterAll(async () => {
  ssm.destroy();
  sm.destroy();
  await aws.close();
});

describe('association runs', () => {
  const spec = (over: Partial<AssociationSpec> = {}): AssociationSpec => ({
    kind: 'install',
    certificateArn: CERT_ARN,
    target: 'Role=web',
    tagKey: 'Role',
    tagValue: 'web',
    parameters: PARAMETERS,
    schedule: 'rate(12 hours)',
    maxConcurrency: '50',
    ...over,
  });
  const deps = () => ({ ssm, documentName: DOCUMENT, reportDocumentName: 'Reapply-Report', stackName: 'AcmExport' });
  const runsOn = async (id: string) => {
    await aws.ssm.associations.idle();
    return aws.ssm.associations.runs.filter((r) => r.associationId === id).map((r) => r.reason);
  };

  test('created: runs once per node; left unchanged (a renewal): no run; updated: runs again at once on every node', async () => {
    const created = await upsertAssociation(spec(), deps());
    expect(created.action).toBe('created');
    expect(await runsOn(created.associationId)).toEqual(['created', 'created']);

    // The emulator's DescribeAssociation answers with what SSM returns, and the comparison finds no difference.
    const renewal = await upsertAssociation(spec(), deps(), created.associationId);
    expect(renewal).toEqual({ associationId: created.associationId, action: 'unchanged' });
    expect(await runsOn(created.associationId)).toEqual(['created', 'created']);

    const changed = await upsertAssociation(spec({ schedule: 'rate(1 day)' }), deps(), created.associationId);
    expect(changed).toMatchObject({ action: 'updated', differences: ['ScheduleExpression'] });
    expect(await runsOn(created.associationId)).toEqual(['created', 'created', 'updated', 'updated']);
  });
});

describe('calls per caller', () => {
  let dir: string;
  let secretArn: string;
  let versionId: string;
  const exec = promisify(execFile);

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'reapply-'));
    writeAwsShim(path.join(dir, 'aws'));
    const created = await sm.send(
      new CreateSecretCommand({
        Name: 'acm-export/AcmExport/cert/abcdef',
        KmsKeyId: 'alias/acm-export',
        SecretString: '{}',
      }),
    );
    secretArn = created.ARN!;
    versionId = (await sm.send(new PutSecretValueCommand({ SecretId: secretArn, SecretString: '{"v":2}' }))).VersionId!;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** The node's `aws` as the install script runs it, as managed node `instanceId`. */
  const nodeAws = async (instanceId: string, ...args: string[]) =>
    (
      await exec(path.join(dir, 'aws'), ['secretsmanager', ...args, '--secret-id', secretArn, '--region', aws.region], {
        env: {
          PATH: process.env.PATH,
          AWS_SSM_INSTANCE_ID: instanceId,
          AWS_ENDPOINT_URL: aws.endpoint,
          AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey,
          ACM_EXPORT_LOCAL_SDK_SM: require.resolve('@aws-sdk/client-secrets-manager'),
        },
      })
    ).stdout;

  test('each node is counted apart: GetSecretValue and its KMS decrypt, DescribeSecret (no decrypt) with VersionIdsToStages', async () => {
    aws.resetCallCounts();
    const described = JSON.parse(await nodeAws('mi-0000000000000000a', 'describe-secret')) as {
      VersionIdsToStages: Record<string, string[]>;
    };
    expect(described.VersionIdsToStages[versionId]).toEqual(['AWSCURRENT']);
    expect(Object.values(described.VersionIdsToStages)).toContainEqual(['AWSPREVIOUS']);
    await nodeAws('mi-0000000000000000a', 'get-secret-value', '--version-stage', 'AWSCURRENT');
    await nodeAws('mi-0000000000000000a', 'get-secret-value', '--version-id', versionId);
    await nodeAws('mi-0000000000000000b', 'get-secret-value', '--version-id', versionId);
    await sm.send(new PutSecretValueCommand({ SecretId: secretArn, SecretString: '{"v":3}' }));
    // This process's own client is counted under whatever app id its environment gives the SDK (none, or
    // one a library set, as Powertools does): only the nodes' entries are asserted, and nothing else read.
    const counts = aws.callCountsByCaller();
    const { 'mi-0000000000000000a': a, 'mi-0000000000000000b': b, ...others } = counts;
    expect({ a, b }).toEqual({
      a: { 'secretsmanager:DescribeSecret': 1, 'secretsmanager:GetSecretValue': 2, 'kms:Decrypt': 2 },
      b: { 'secretsmanager:GetSecretValue': 1, 'kms:Decrypt': 1 },
    });
    expect(Object.values(others)).toEqual([{ 'secretsmanager:PutSecretValue': 1 }]);
  });
});
