/**
 * The drift check's orphaned-secret sweep (dynalite inventory, mocked Secrets Manager and SNS): secrets of
 * this stack that hold a target's key while no inventory item uses them are reported in ONE alert by name;
 * young secrets (an export in flight), the canary, other prefixes and secrets scheduled for deletion are not;
 * nothing is ever deleted.
 */
import {
  DeleteSecretCommand,
  ListSecretsCommand,
  SecretsManagerClient,
  type SecretListEntry,
} from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import 'aws-sdk-client-mock-jest';
import { createHandler } from '../../lambda/drift-check/handler';
import type { InventoryItem } from '../../lambda/shared/contract';
import { secretName } from '../../lambda/shared/target-secret';
import { ACCOUNT, REGION, executionArn, mockAwsClient, startInventory, TARGET_WWW } from './support';

const secrets = mockAwsClient(SecretsManagerClient);
const sns = mockAwsClient(SNSClient);
const ssm = mockAwsClient(SSMClient);
const PREFIX = 'acm-export/AcmExport';
const TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:alerts`;
const NOW = new Date('2026-12-04T12:00:00.000Z');
const HOURS_AGO = (h: number) => new Date(NOW.getTime() - h * 3_600_000);
const certArn = (n: number) =>
  `arn:aws:acm:${REGION}:${ACCOUNT}:certificate/0a1b2c3d-4e5f-4a6b-8c7d-${String(n).padStart(12, '0')}`;
const entry = (name: string, created: Date, over: Partial<SecretListEntry> = {}): SecretListEntry => ({
  Name: name,
  ARN: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-AbCdEf`,
  CreatedDate: created,
  LastChangedDate: created,
  ...over,
});

let inventory: Awaited<ReturnType<typeof startInventory>>;
beforeAll(async () => {
  inventory = await startInventory();
  // One target in the inventory: its secret is not an orphan (found by ARN, and by name).
  const owned: InventoryItem = {
    certificateArn: certArn(1),
    ...TARGET_WWW,
    certExpiryDate: '2027-06-01T00:00:00.000Z',
    lastExportedDate: HOURS_AGO(1).toISOString(),
    lastExportStartedAt: HOURS_AGO(1).toISOString(),
    lastSerial: '0a:0b',
    lastSecretArn: entry(secretName(PREFIX, certArn(1), 'Role=web'), HOURS_AGO(48)).ARN!,
    lastSecretVersionId: '11111111-2222-4333-8444-555555555555',
    lastExecutionArn: executionArn('e1'),
  };
  await inventory.ddb.send(new PutCommand({ TableName: inventory.tableName, Item: owned }));
});
afterAll(async () => inventory.stop());

const handler = () =>
  createHandler({
    ddb: inventory.ddb,
    tableName: inventory.tableName,
    ssm: new SSMClient({ region: REGION }),
    sns: new SNSClient({ region: REGION }),
    secrets: new SecretsManagerClient({ region: REGION }),
    secretNamePrefix: PREFIX,
    topicArn: TOPIC,
    graceMinutes: 120,
    now: () => NOW,
  });

beforeEach(() => {
  secrets.reset();
  sns.reset();
  ssm.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'm' });
});

test('secrets with no target are alerted once, by name; owned, young, canary and foreign ones are not; nothing deleted', async () => {
  const orphanA = secretName(PREFIX, certArn(2), 'Role=gone');
  const orphanB = secretName(PREFIX, certArn(3), 'Env=old');
  secrets
    .on(ListSecretsCommand)
    .resolvesOnce({
      SecretList: [
        entry(secretName(PREFIX, certArn(1), 'Role=web'), HOURS_AGO(48)),
        entry(orphanA, HOURS_AGO(30)),
        entry(`${PREFIX}/preflight-canary`, HOURS_AGO(100)),
      ],
      NextToken: 'p2',
    })
    .resolvesOnce({
      SecretList: [
        // An export in flight: created a minute ago, its item not written yet.
        entry(secretName(PREFIX, certArn(4), 'Role=new'), new Date(NOW.getTime() - 60_000)),
        entry(orphanB, HOURS_AGO(300), { LastChangedDate: HOURS_AGO(3) }),
        entry(secretName(`${PREFIX}-Other`, certArn(5), 'Role=web'), HOURS_AGO(30)),
      ],
    });
  const summary = await handler()({ id: 'ev-1' });
  expect(summary.orphanedSecrets).toBe(2);
  expect(secrets).toHaveReceivedCommandWith(ListSecretsCommand, { Filters: [{ Key: 'name', Values: [`${PREFIX}/`] }] });
  expect(secrets.commandCalls(ListSecretsCommand)[0].args[0].input.IncludePlannedDeletion).toBeUndefined();
  expect(sns).toHaveReceivedCommandTimes(PublishCommand, 1);
  const published = sns.commandCalls(PublishCommand)[0].args[0].input;
  expect(published.Subject).toBe('acm-export: 2 secret(s) without a target');
  const message = JSON.parse(published.Message!) as { secrets: { name: string }[] };
  expect(message.secrets.map((s) => s.name)).toEqual([orphanA, orphanB]);
  expect(secrets).not.toHaveReceivedCommand(DeleteSecretCommand);
});

test('no orphan: no alert', async () => {
  secrets
    .on(ListSecretsCommand)
    .resolves({ SecretList: [entry(secretName(PREFIX, certArn(1), 'Role=web'), HOURS_AGO(48))] });
  expect((await handler()({})).orphanedSecrets).toBe(0);
  expect(sns).not.toHaveReceivedCommand(PublishCommand);
});

test('a throttled ListSecrets is Throttled (the scheduled invocation retries)', async () => {
  secrets.on(ListSecretsCommand).rejects(Object.assign(new Error('slow'), { name: 'ThrottlingException' }));
  await expect(handler()({})).rejects.toMatchObject({ name: 'Throttled' });
});
