/**
 * `acm-export targets delete ARN --tag Key=Value --remove-files` (and `untarget --remove-files`): a signed
 * DELETE with removeFiles=true, then the removal is followed (GET .../removal) until every node removed the
 * files (exit 0) or one kept them (RemovalFailed: one line per node, exit 1); --no-wait returns at once,
 * --json prints the API's answers; a missing inventory record is one clear line. `targets removal` checks
 * once; `certificates` shows Removing/RemovalFailed and a caught-up deploy.
 */
import type {
  CertificateTargetView,
  DeleteTargetResponse,
  TargetRemovalResponse,
} from '../../lambda/export-api/api-types';
import { lastDeployCell, removalLines } from '../../cli/certificates';
import { deleteTargetSummary } from '../../cli/targets';
import { runCli } from './helpers/cli-runner';
import { TEST_REGION, startFakeApi, type FakeApi, type Route } from './helpers/fake-api';

const ARN = 'arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666';
const COMMAND_ID = '8c1f2e3d-4a5b-4c6d-8e7f-901a2b3c4d5e';
const LOG_GROUP = 'AcmExport-InstallDocumentCommandOutput1A2B3C';

const REMOVAL_PATH = `/certificates/${encodeURIComponent(ARN)}/targets/${encodeURIComponent('Role=web')}/removal`;
const NODE_LINE =
  'node i-0123456789abcdef0 kept the files: FAILED at configtest: nginx configuration test fails without the files';

const sent: DeleteTargetResponse = {
  certificateArn: ARN,
  target: 'Role=web',
  inventoryItemDeleted: false,
  removalStatus: 'Removing',
  associationDeleted: true,
  reportAssociationDeleted: true,
  filesRemoval: {
    requested: true,
    status: 'Sent',
    commandId: COMMAND_ID,
    logGroupName: LOG_GROUP,
    statusPath: REMOVAL_PATH,
  },
};

function removal(status: TargetRemovalResponse['status'], failures: string[] = []): TargetRemovalResponse {
  return {
    certificateArn: ARN,
    target: 'Role=web',
    status,
    requestedAt: '2026-12-04T10:00:00.000Z',
    commandId: COMMAND_ID,
    nodes: { total: 3, completed: status === 'Removing' ? 1 : 3, failed: failures.length },
    failures,
  };
}

/** DELETE answers `sent`; the removal checks answer `checks` in turn (the last one repeats). */
function removalRoutes(checks: { status: number; body: unknown }[]): Route {
  let n = 0;
  return (r) => {
    if (r.method === 'DELETE') return { status: 200, body: sent };
    if (r.method === 'GET' && r.path === REMOVAL_PATH) return checks[Math.min(n++, checks.length - 1)];
    return undefined;
  };
}

const DELETE_ARGS = ['targets', 'delete', ARN, '--tag', 'Role=web', '--remove-files'];

describe('targets delete --remove-files', () => {
  let api: FakeApi | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  test('sends removeFiles=true (signed), prints the command id, then follows the removal until every node removed the files (exit 0)', async () => {
    api = await startFakeApi([
      removalRoutes([
        { status: 200, body: removal('Removing') },
        { status: 200, body: removal('Removing') },
        { status: 200, body: removal('Removed') },
      ]),
    ]);
    const result = await runCli(['--endpoint', api.url, ...DELETE_ARGS]);
    expect(result.code).toBe(0);
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `DELETE /certificates/${encodeURIComponent(ARN)}/targets/${encodeURIComponent('Role=web')}`,
      `GET ${REMOVAL_PATH}`,
      `GET ${REMOVAL_PATH}`,
      `GET ${REMOVAL_PATH}`,
    ]);
    expect(api.requests[0].query).toEqual({ removeFiles: 'true' });
    expect(api.rejected).toBe(0); // the signature covers the query string
    // Growing pauses between checks.
    expect(result.sleeps).toEqual([2000, 4000]);
    expect(result.stdout).toContain(
      'association deleted, report association deleted, inventory item kept (Removing) until every node removed the files; the nodes were sent the removal of the installed files',
    );
    expect(result.stdout).toContain('files removed from every node (3/3 node(s) done); the inventory item was deleted');
    expect(result.stdout).toContain(`removal command: ${COMMAND_ID}`);
    expect(result.stdout).toContain(
      `aws ssm list-command-invocations --region ${TEST_REGION} --command-id ${COMMAND_ID} --details`,
    );
    expect(result.stdout).toContain(`CloudWatch log group ${LOG_GROUP}`);
    expect(result.stdout).not.toContain('left on the nodes');
  });

  test('a node kept the files: RemovalFailed, one line per node and what to do, exit 1', async () => {
    api = await startFakeApi([removalRoutes([{ status: 200, body: removal('RemovalFailed', [NODE_LINE]) }])]);
    const result = await runCli(['--endpoint', api.url, ...DELETE_ARGS]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      'the removal did not finish: the inventory item stays (RemovalFailed), so the files are still on record',
    );
    expect(result.stdout).toContain(`  ${NODE_LINE}\n`);
    expect(result.stdout).toMatch(/then repeat "targets delete \.\.\. --remove-files"/);
  });

  test('untarget --remove-files --json prints the API answer with the removal outcome under "removal"', async () => {
    api = await startFakeApi([removalRoutes([{ status: 200, body: removal('Removed') }])]);
    const result = await runCli([
      '--endpoint',
      api.url,
      '--json',
      'untarget',
      ARN,
      '--tag',
      'Role=web',
      '--remove-files',
    ]);
    expect(result.code).toBe(0);
    expect(api.requests[0].query).toEqual({ removeFiles: 'true' });
    expect(JSON.parse(result.stdout)).toEqual({ ...sent, removal: removal('Removed') });
  });

  test('--no-wait: the DELETE only, the answer printed, exit 0', async () => {
    api = await startFakeApi([removalRoutes([{ status: 500, body: { message: 'must not be asked' } }])]);
    const result = await runCli(['--endpoint', api.url, '--json', ...DELETE_ARGS, '--no-wait']);
    expect(result.code).toBe(0);
    expect(api.requests).toHaveLength(1);
    expect(JSON.parse(result.stdout)).toEqual(sent);
  });

  test('--timeout: still Removing when it runs out: says how to check again, exit 1', async () => {
    api = await startFakeApi([removalRoutes([{ status: 200, body: removal('Removing') }])]);
    let clock = 0;
    const result = await runCli(['--endpoint', api.url, ...DELETE_ARGS, '--timeout', '30'], {
      now: () => clock,
      sleep: async (ms: number) => {
        clock += ms;
      },
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      `the nodes are still removing the files (1/3 node(s) done); the inventory item stays (Removing). Check again: acm-export targets removal ${ARN} --tag Role=web`,
    );
    // 2 + 4 + 8 + 10 + 10 s: the check after the 30th second is the last.
    expect(api.requests.filter((r) => r.method === 'GET')).toHaveLength(6);
  });

  test('404 while following (another check already finished it): removed, exit 0', async () => {
    api = await startFakeApi([
      removalRoutes([
        { status: 200, body: removal('Removing') },
        { status: 404, body: { message: 'no target' } },
      ]),
    ]);
    const result = await runCli(['--endpoint', api.url, ...DELETE_ARGS]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('files removed from every node; the inventory item was deleted');
  });

  test('targets removal: one check; RemovalFailed exits 1 with the lines', async () => {
    api = await startFakeApi([removalRoutes([{ status: 200, body: removal('RemovalFailed', [NODE_LINE]) }])]);
    const result = await runCli(['--endpoint', api.url, 'targets', 'removal', ARN, '--tag', 'Role=web']);
    expect(result.code).toBe(1);
    expect(api.requests.map((r) => r.method)).toEqual(['GET']);
    expect(result.stdout).toContain(NODE_LINE);
  });

  test('targets removal of a target not in the inventory: one line saying it finished or never existed, exit 1', async () => {
    api = await startFakeApi([removalRoutes([{ status: 404, body: { message: 'no target' } }])]);
    const result = await runCli(['--endpoint', api.url, 'targets', 'removal', ARN, '--tag', 'Role=web']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^acm-export: checking the removal of target Role=web: the target is not in the inventory: its removal finished, or it was never added\./,
    );
    expect(result.stdout).toBe('');
  });

  test('without --remove-files no query string is sent and the files are said to stay', async () => {
    const reply: DeleteTargetResponse = {
      certificateArn: ARN,
      target: 'Role=web',
      inventoryItemDeleted: true,
      associationDeleted: true,
      reportAssociationDeleted: true,
      filesRemoval: { requested: false },
    };
    const route: Route = (r) => (r.method === 'DELETE' ? { status: 200, body: reply } : undefined);
    api = await startFakeApi([route]);
    const result = await runCli(['--endpoint', api.url, 'targets', 'delete', ARN, '--tag', 'Role=web']);
    expect(result.code).toBe(0);
    expect(api.requests[0].query).toEqual({});
    expect(result.stdout).toContain('inventory item deleted; installed files were left on the nodes');
    expect(result.stdout).not.toContain('list-command-invocations');
    expect(api.requests).toHaveLength(1);
  });

  test('404 with --remove-files: one line saying nothing was changed', async () => {
    const route: Route = (r) => (r.method === 'DELETE' ? { status: 404, body: { message: 'no target' } } : undefined);
    api = await startFakeApi([route]);
    const result = await runCli([
      '--endpoint',
      api.url,
      'targets',
      'delete',
      ARN,
      '--tag',
      'Role=web',
      '--remove-files',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^acm-export: deleting target Role=web: the certificate has no such target\. /);
    expect(result.stderr).toContain('nothing was changed');
    expect(result.stdout).toBe('');
  });

  test('summary: associations that were not found are named as such', () => {
    const text = deleteTargetSummary(
      { ...sent, associationDeleted: false, reportAssociationDeleted: false },
      'us-east-2',
    );
    expect(text).toContain(
      'association not found, report association not found, inventory item kept (Removing) until every node removed the files',
    );
    expect(text).toContain(`removal command: ${COMMAND_ID}`);
    expect(text).toContain('--region us-east-2');
    expect(text.endsWith('\n')).toBe(true);
  });
});

describe('certificates: LAST DEPLOY tells what happens to the target', () => {
  const row = (over: Partial<CertificateTargetView>): CertificateTargetView => ({
    certificateArn: ARN,
    certName: 'www',
    target: 'Role=web',
    targetTagKey: 'Role',
    targetTagValue: 'web',
    lastSerial: '0A1B',
    certExpiryDate: '2027-06-01T00:00:00.000Z',
    daysToExpiry: 179,
    lastExportedDate: '2026-12-01T00:00:00.000Z',
    lastExecutionArn: 'arn:aws:states:eu-west-1:123456789012:execution:m:e',
    certDir: '/etc/ssl/certs',
    keyDir: '/etc/ssl/private',
    service: 'nginx',
    verifyPort: 443,
    maxConcurrency: '10%',
    maxErrors: '0',
    ...over,
  });

  test('a deploy caught up through the association, a plain one, removals', () => {
    expect(
      lastDeployCell(
        row({
          lastDeployStatus: 'Succeeded',
          lastDeployedDate: '2026-12-04T12:00:00Z',
          lastDeploySource: 'association',
        }),
      ),
    ).toBe('Succeeded 2026-12-04 (caught up)');
    expect(lastDeployCell(row({ lastDeployStatus: 'Failed', lastDeployedDate: undefined }))).toBe('Failed');
    expect(
      lastDeployCell(
        row({ lastDeployStatus: 'Succeeded', removalStatus: 'Removing', removalRequestedAt: '2026-12-04T10:00:00Z' }),
      ),
    ).toBe('Removing since 2026-12-04');
    const failed = row({
      removalStatus: 'RemovalFailed',
      removalRequestedAt: '2026-12-04T10:00:00Z',
      removalFailures: [NODE_LINE],
    });
    expect(lastDeployCell(failed)).toBe('RemovalFailed since 2026-12-04');
    expect(removalLines([failed, row({})])).toEqual([`www (Role=web): ${NODE_LINE}`]);
  });

  test('the table and the removal lines, end to end through the CLI', async () => {
    const failed = row({
      removalStatus: 'RemovalFailed',
      removalRequestedAt: '2026-12-04T10:00:00Z',
      removalFailures: [NODE_LINE],
    });
    const api = await startFakeApi([
      (r) =>
        r.method === 'GET' && r.path === '/certificates' ? { status: 200, body: { items: [failed] } } : undefined,
    ]);
    try {
      const result = await runCli(['--endpoint', api.url, 'certificates']);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/Role=web\s+0A1B\s+2027-06-01\s+179\s+RemovalFailed since 2026-12-04/);
      expect(result.stdout).toContain(`removal failed: www (Role=web): ${NODE_LINE}\n`);
    } finally {
      await api.close();
    }
  });
});
