/**
 * `acm-export targets delete ARN --tag Key=Value --remove-files` (and `untarget --remove-files`): a signed
 * DELETE with removeFiles=true; the answer's command id and how to follow the asynchronous removal are
 * printed; --json prints the API's answer unchanged; a missing inventory record is one clear line.
 */
import type { DeleteTargetResponse } from '../../lambda/export-api/api-types';
import { deleteTargetSummary } from '../../cli/targets';
import { runCli } from './helpers/cli-runner';
import { TEST_REGION, startFakeApi, type FakeApi, type Route } from './helpers/fake-api';

const ARN = 'arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666';
const COMMAND_ID = '8c1f2e3d-4a5b-4c6d-8e7f-901a2b3c4d5e';
const LOG_GROUP = 'AcmExport-InstallDocumentCommandOutput1A2B3C';

const sent: DeleteTargetResponse = {
  certificateArn: ARN,
  target: 'Role=web',
  inventoryItemDeleted: true,
  associationDeleted: true,
  reportAssociationDeleted: true,
  filesRemoval: { requested: true, status: 'Sent', commandId: COMMAND_ID, logGroupName: LOG_GROUP },
};

describe('targets delete --remove-files', () => {
  let api: FakeApi | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  test('sends removeFiles=true (signed) and prints the command id, how to follow it and the log group', async () => {
    const route: Route = (r) => (r.method === 'DELETE' ? { status: 200, body: sent } : undefined);
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
    expect(result.code).toBe(0);
    expect(api.requests).toHaveLength(1);
    expect(api.requests[0].query).toEqual({ removeFiles: 'true' });
    expect(api.requests[0].path).toBe(
      `/certificates/${encodeURIComponent(ARN)}/targets/${encodeURIComponent('Role=web')}`,
    );
    expect(api.rejected).toBe(0); // the signature covers the query string
    expect(result.stdout).toContain(
      'association deleted, report association deleted, inventory item deleted; the nodes were sent the removal of the installed files',
    );
    expect(result.stdout).toContain(`removal command: ${COMMAND_ID}`);
    expect(result.stdout).toContain(
      `aws ssm list-command-invocations --region ${TEST_REGION} --command-id ${COMMAND_ID} --details`,
    );
    expect(result.stdout).toContain(`CloudWatch log group ${LOG_GROUP}`);
    expect(result.stdout).not.toContain('left on the nodes');
  });

  test('untarget --remove-files --json prints the answer as the API sent it', async () => {
    const route: Route = (r) => (r.method === 'DELETE' ? { status: 200, body: sent } : undefined);
    api = await startFakeApi([route]);
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
    expect(JSON.parse(result.stdout)).toEqual(sent);
  });

  test('without --remove-files no query string is sent and the files are said to stay', async () => {
    const reply: DeleteTargetResponse = { ...sent, filesRemoval: { requested: false } };
    const route: Route = (r) => (r.method === 'DELETE' ? { status: 200, body: reply } : undefined);
    api = await startFakeApi([route]);
    const result = await runCli(['--endpoint', api.url, 'targets', 'delete', ARN, '--tag', 'Role=web']);
    expect(result.code).toBe(0);
    expect(api.requests[0].query).toEqual({});
    expect(result.stdout).toContain('installed files were left on the nodes');
    expect(result.stdout).not.toContain('list-command-invocations');
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
    expect(text).toContain('association not found, report association not found, inventory item deleted');
    expect(text).toContain('--region us-east-2');
    expect(text.endsWith('\n')).toBe(true);
  });
});
