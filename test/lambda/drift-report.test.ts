/**
 * Drift between install runs: the drift rule over what a node serves AND what its files hold AND the problem
 * its last run (install or report) found, the CheckedAt/Problem fields of the node reports, the alert of the
 * scheduled drift check, and GET /certificates?nodes=true.
 */
import { DescribeInstanceInformationCommand, GetInventoryCommand, SSMClient } from '@aws-sdk/client-ssm';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import 'aws-sdk-client-mock-jest';
import { InventoryItem } from '../../lambda/shared/contract';
import { checkDrift, driftAlert } from '../../lambda/drift-check/drift-check';
import { findDrift } from '../../lambda/shared/drift';
import { listCertificates } from '../../lambda/export-api/list-certificates';
import { CUSTOM_INVENTORY_TYPE, observationOf, parseReport } from '../../lambda/shared/node-reports';
import { CERT_ARN, REGION, ACCOUNT, TARGET_WWW, executionArn, startInventory, mockAwsClient } from './support';

const ssm = mockAwsClient(SSMClient);
const sns = mockAwsClient(SNSClient);
const NOW = new Date('2026-12-01T12:00:00.000Z');
const TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:alerts`;
const SECRET = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:acm-export/t/7-AbCdEf`;
const CURRENT = 'A1B2C3D4E5F6';
const OLD = '5E0F00AA11BB';
const ARN = CERT_ARN.replace(/[0-9a-f]{4}$/, '0700');

const ITEM: InventoryItem = {
  certificateArn: ARN,
  ...TARGET_WWW,
  target: 'Role=web7',
  CertName: 'site7',
  TargetTagValue: 'web7',
  certExpiryDate: '2027-07-01T00:00:00.000Z',
  lastExportedDate: '2026-11-30T00:00:00.000Z',
  lastExportStartedAt: '2026-11-30T00:00:00.000Z',
  lastSerial: 'a1:b2:c3:d4:e5:f6',
  lastSecretArn: SECRET,
  lastSecretVersionId: '11111111-2222-4333-8444-555555555555',
  lastExecutionArn: executionArn('e7'),
  associationId: 'install-assoc-7',
  reportAssociationId: 'report-assoc-7',
};

/** One custom inventory entry as the install script writes it (install or report run). */
function entry(over: Record<string, string> = {}): Record<string, string> {
  return {
    CertName: 'site7',
    Target: 'Role=web7',
    SecretId: SECRET,
    SecretVersionId: '11111111-2222-4333-8444-555555555555',
    Serial: CURRENT,
    ServedSerial: CURRENT,
    NotAfter: '2027-07-01T00:00:00Z',
    Verified: 'true',
    InstalledAt: '2026-11-30T00:10:00Z',
    LastRun: 'unchanged',
    FailedStep: '',
    LastRunAt: '2026-11-30T12:00:00Z',
    Service: 'nginx',
    Node: '',
    CheckedAt: '2026-12-01T11:00:00Z',
    Problem: '',
    ...over,
  };
}

/** Nodes of the target: in sync; tampered and reloaded; files replaced, not reloaded; key swapped; key gone. */
const NODES: Record<string, Record<string, string>> = {
  'i-00000000000000071': entry(),
  'i-00000000000000072': entry({ Serial: OLD, ServedSerial: OLD, InstalledAt: '2026-06-01T00:00:00Z' }),
  'i-00000000000000073': entry({ Serial: OLD }),
  'i-00000000000000074': entry({ Problem: 'the key does not match the certificate' }),
  'i-00000000000000075': entry({
    ServedSerial: '',
    Problem: 'missing /etc/ssl/private/site7.key',
    CheckedAt: '2026-12-01T11:30:00Z',
  }),
};

let inventory: Awaited<ReturnType<typeof startInventory>>;

beforeAll(async () => {
  inventory = await startInventory();
  await inventory.ddb.send(new PutCommand({ TableName: inventory.tableName, Item: ITEM }));
});
afterAll(async () => inventory.stop());

beforeEach(() => {
  ssm.reset();
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  ssm.on(GetInventoryCommand).resolves({
    Entities: Object.entries(NODES).map(([Id, e]) => ({
      Id,
      Data: {
        [CUSTOM_INVENTORY_TYPE]: {
          TypeName: CUSTOM_INVENTORY_TYPE,
          SchemaVersion: '1.0',
          CaptureTime: '2026-12-01T11:40:00Z',
          Content: [e],
        },
      },
    })),
  });
  // Every node with the tag reported (the silent-node tests below tag more).
  ssm
    .on(DescribeInstanceInformationCommand)
    .resolves({ InstanceInformationList: Object.keys(NODES).map((InstanceId) => ({ InstanceId })) });
});

describe('drift rule: served, held and consistent', () => {
  test('a node is in sync only when it serves and holds an expected serial and its files have no problem', () => {
    const r = findDrift('a1:b2:c3:d4:e5:f6', [
      { nodeId: 'ok', serial: CURRENT, holds: `00${CURRENT}` },
      { nodeId: 'holds-old', serial: CURRENT, holds: OLD },
      { nodeId: 'serves-old', serial: OLD, holds: CURRENT },
      { nodeId: 'both-old', serial: OLD, holds: OLD, since: '2026-06-01T00:00:00Z' },
      { nodeId: 'no-file', serial: CURRENT, holds: '' },
      {
        nodeId: 'bad-key',
        serial: CURRENT,
        holds: CURRENT,
        problem: 'the key does not match the certificate',
        checkedAt: '2026-12-01T11:00:00Z',
      },
    ]);
    expect(r.inSync).toEqual(['ok']);
    expect(r.drifting).toEqual([
      { nodeId: 'holds-old', serves: CURRENT, holds: OLD },
      { nodeId: 'serves-old', serves: OLD, holds: CURRENT },
      { nodeId: 'both-old', serves: OLD, since: '2026-06-01T00:00:00Z' },
      { nodeId: 'no-file', serves: CURRENT, holds: '' },
      {
        nodeId: 'bad-key',
        serves: CURRENT,
        problem: 'the key does not match the certificate',
        checkedAt: '2026-12-01T11:00:00Z',
      },
    ]);
  });

  test('a URL (doctor --arn: no files seen) is judged by what it serves only', () => {
    expect(findDrift([OLD, CURRENT], [{ nodeId: 'server', serial: CURRENT }])).toMatchObject({
      inSync: ['server'],
      drifting: [],
    });
    expect(findDrift(CURRENT, [{ nodeId: 'server', serial: OLD }]).drifting).toEqual([
      { nodeId: 'server', serves: OLD },
    ]);
  });

  test('several expected serials: serving one and holding the other is in sync', () => {
    expect(findDrift([OLD, CURRENT], [{ nodeId: 'n', serial: OLD, holds: CURRENT }]).inSync).toEqual(['n']);
  });
});

describe('node reports', () => {
  test('CheckedAt and Problem are parsed; Problem is kept to one bounded line; older scripts leave both empty', () => {
    const report = parseReport(
      'i-1',
      entry({ Problem: 'missing\n/etc/ssl/certs/site7.crt\t' + 'x'.repeat(400) }),
      '2026-12-01T11:40:00Z',
    );
    expect(report.checkedAt).toBe('2026-12-01T11:00:00Z');
    expect(report.problem).toMatch(/^missing \/etc\/ssl\/certs\/site7\.crt x+$/);
    expect(report.problem.length).toBeLessThanOrEqual(300);
    const { CheckedAt: _c, Problem: _p, ...older } = entry();
    expect(parseReport('i-2', older, '')).toMatchObject({ checkedAt: '', problem: '' });
  });

  test("the observation carries what the node serves (served serial when checked, else its files'), what it holds and its problem", () => {
    expect(observationOf(parseReport('i-3', NODES['i-00000000000000073'], ''))).toEqual({
      nodeId: 'i-3',
      serial: CURRENT,
      holds: OLD,
      since: '2026-11-30T00:10:00Z',
      checkedAt: '2026-12-01T11:00:00Z',
    });
    expect(observationOf(parseReport('i-5', NODES['i-00000000000000075'], ''))).toMatchObject({
      serial: CURRENT,
      holds: CURRENT,
      problem: 'missing /etc/ssl/private/site7.key',
    });
  });
});

describe('drift check', () => {
  const deps = () => ({
    ddb: inventory.ddb,
    tableName: inventory.tableName,
    ssm: new SSMClient({ region: REGION }),
    sns: new SNSClient({ region: REGION }),
    topicArn: TOPIC,
    graceMinutes: 120,
    now: () => NOW,
  });

  test('one alert naming every node that serves, holds or has files other than the current certificate', async () => {
    const result = await checkDrift(deps());
    expect(result).toMatchObject({ targetsChecked: 1, nodesReporting: 5, driftingNodes: 4, alertsSent: 1 });
    const publish = sns.commandCalls(PublishCommand)[0].args[0].input;
    expect(publish.Subject).toBe('acm-export: 4 node(s) drifting from site7 (Role=web7)');
    const message = JSON.parse(publish.Message ?? '{}') as Record<string, unknown>;
    expect(message).toMatchObject({
      associationId: 'install-assoc-7',
      reportAssociationId: 'report-assoc-7',
      expectedSerial: CURRENT,
    });
    expect(message.drifting).toEqual([
      { nodeId: 'i-00000000000000072', serves: OLD, since: '2026-06-01T00:00:00Z', checkedAt: '2026-12-01T11:00:00Z' },
      {
        nodeId: 'i-00000000000000073',
        serves: CURRENT,
        holds: OLD,
        since: '2026-11-30T00:10:00Z',
        checkedAt: '2026-12-01T11:00:00Z',
      },
      {
        nodeId: 'i-00000000000000074',
        serves: CURRENT,
        problem: 'the key does not match the certificate',
        since: '2026-11-30T00:10:00Z',
        checkedAt: '2026-12-01T11:00:00Z',
      },
      {
        nodeId: 'i-00000000000000075',
        serves: CURRENT,
        problem: 'missing /etc/ssl/private/site7.key',
        since: '2026-11-30T00:10:00Z',
        checkedAt: '2026-12-01T11:30:00Z',
      },
    ]);
  });

  test('tagged nodes that report nothing are named in the alert, across pages of DescribeInstanceInformation', async () => {
    const inSync = Object.keys(NODES).slice(0, 1);
    ssm.on(GetInventoryCommand).resolves({
      Entities: inSync.map((Id) => ({
        Id,
        Data: {
          [CUSTOM_INVENTORY_TYPE]: { TypeName: CUSTOM_INVENTORY_TYPE, SchemaVersion: '1.0', Content: [entry()] },
        },
      })),
    });
    ssm
      .on(DescribeInstanceInformationCommand)
      .resolves({
        InstanceInformationList: [{ InstanceId: 'i-00000000000000071' }, { InstanceId: 'i-00000000000000076' }],
        NextToken: 'page-2',
      })
      .on(DescribeInstanceInformationCommand, { NextToken: 'page-2' })
      .resolves({ InstanceInformationList: [{ InstanceId: 'i-00000000000000077' }] });

    const result = await checkDrift(deps());
    expect(result).toMatchObject({ targetsChecked: 1, driftingNodes: 0, silentNodes: 2, alertsSent: 1 });
    expect(ssm).toHaveReceivedCommandWith(DescribeInstanceInformationCommand, {
      Filters: [{ Key: 'tag:Role', Values: ['web7'] }],
    });
    const publish = sns.commandCalls(PublishCommand)[0].args[0].input;
    expect(publish.Subject).toBe('acm-export: 2 of 3 node(s) tagged Role=web7 report nothing for site7');
    const message = JSON.parse(publish.Message ?? '{}') as Record<string, unknown>;
    expect(message.alert).toBe(
      '2 of 3 nodes tagged Role=web7 report nothing for site7: i-00000000000000076, i-00000000000000077',
    );
    expect(message).toMatchObject({ nodesTagged: 3, silentNodes: ['i-00000000000000076', 'i-00000000000000077'] });
    expect(message.drifting).toEqual([]);
  });

  test('drifting and silent nodes of one target make one alert naming both', async () => {
    ssm.on(DescribeInstanceInformationCommand).resolves({
      InstanceInformationList: [...Object.keys(NODES), 'mi-0123456789abcdef0'].map((InstanceId) => ({ InstanceId })),
    });
    const result = await checkDrift(deps());
    expect(result).toMatchObject({ driftingNodes: 4, silentNodes: 1, alertsSent: 1 });
    const publish = sns.commandCalls(PublishCommand)[0].args[0].input;
    expect(publish.Subject).toBe('acm-export: 4 node(s) drifting from site7 (Role=web7)');
    const message = JSON.parse(publish.Message ?? '{}') as { alert: string; fix: string };
    expect(message.alert).toBe(
      '4 of 5 reporting node(s) of target Role=web7 do not serve and hold the current certificate site7 as a consistent set of files; ' +
        '1 of 6 nodes tagged Role=web7 report nothing for site7: mi-0123456789abcdef0',
    );
    expect(message.fix).toContain('Silent nodes: check that they are Online');
  });

  test('every tagged node reporting in sync: no alert', async () => {
    ssm.on(GetInventoryCommand).resolves({
      Entities: [
        {
          Id: 'i-00000000000000071',
          Data: {
            [CUSTOM_INVENTORY_TYPE]: { TypeName: CUSTOM_INVENTORY_TYPE, SchemaVersion: '1.0', Content: [entry()] },
          },
        },
      ],
    });
    ssm
      .on(DescribeInstanceInformationCommand)
      .resolves({ InstanceInformationList: [{ InstanceId: 'i-00000000000000071' }] });
    expect(await checkDrift(deps())).toMatchObject({ driftingNodes: 0, silentNodes: 0, alertsSent: 0 });
    expect(sns).not.toHaveReceivedCommand(PublishCommand);
  });

  test('the alert says the report association detected it, the install association repairs it, and how to act now', () => {
    const { message } = driftAlert(
      {
        certificateArn: ARN,
        certName: 'site7',
        target: 'Role=web7',
        expectedSerial: CURRENT,
        nodesReporting: 2,
        drifting: [{ nodeId: 'i-1', serves: CURRENT, holds: OLD }],
        associationId: 'install-assoc-7',
        reportAssociationId: 'report-assoc-7',
      },
      NOW.toISOString(),
    );
    const m = JSON.parse(message) as { detectedBy: string; fix: string };
    expect(m.detectedBy).toMatch(/report association \(report document, changes nothing/);
    expect(m.fix).toMatch(/^The install association re-installs the current version on these nodes at its next run\./);
    expect(m.fix).toContain('aws ssm start-associations-once --association-ids install-assoc-7');
    expect(m.fix).toContain('acm-export renew <certificateArn>');
    expect(message).not.toMatch(/BEGIN|PRIVATE|passphrase/i);
    // Without a stored install association id, only the renew route is offered.
    const bare = JSON.parse(
      driftAlert(
        {
          certificateArn: ARN,
          certName: 'site7',
          target: 'Role=web7',
          expectedSerial: CURRENT,
          nodesReporting: 1,
          drifting: [{ nodeId: 'i-1', serves: OLD }],
        },
        NOW.toISOString(),
      ).message,
    ) as { fix: string };
    expect(bare.fix).not.toContain('start-associations-once');
    expect(bare.fix).toContain('acm-export renew');
  });
});

describe('GET /certificates?nodes=true', () => {
  test('per node: checkedAt when reported, problem when there is one, inSync by the same rule; the row names the report association', async () => {
    const page = await listCertificates(
      { limit: 10, nodes: true },
      { ddb: inventory.ddb, tableName: inventory.tableName, ssm: new SSMClient({ region: REGION }), now: () => NOW },
    );
    const row = page.items.find((i) => i.target === 'Role=web7')!;
    expect(row).toMatchObject({
      associationId: 'install-assoc-7',
      reportAssociationId: 'report-assoc-7',
      nodesInSync: 1,
      nodesDrifting: 4,
    });
    const byId = Object.fromEntries((row.nodes ?? []).map((n) => [n.nodeId, n]));
    expect(byId['i-00000000000000071']).toMatchObject({ inSync: true, checkedAt: '2026-12-01T11:00:00Z' });
    expect(byId['i-00000000000000071']).not.toHaveProperty('problem');
    expect(byId['i-00000000000000073']).toMatchObject({ inSync: false, serial: OLD, servedSerial: CURRENT });
    expect(byId['i-00000000000000075']).toMatchObject({
      inSync: false,
      problem: 'missing /etc/ssl/private/site7.key',
      checkedAt: '2026-12-01T11:30:00Z',
    });
  });
});
