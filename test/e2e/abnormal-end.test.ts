/**
 * End to end through local mode: an execution stopped (StopExecution) while its install is in progress leaves
 * its target Failed, with the reason, not InProgress forever; and with every command status-change event lost,
 * the workflow still ends right through its wait's timeout and one status check.
 */
import { SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import type { ApiClient } from '../../cli/api-client';
import { startLocalMode, type LocalMode } from '../../local/runtime';
import { waitFor } from '../helpers/wait';
import { STATES } from '../../lambda/shared/contract';
import { apiClient, exportBody, finished, requestCertificate, startExport } from './support';

let local: LocalMode;
let api: ApiClient;

beforeAll(async () => {
  local = await startLocalMode({
    nodes: 1,
    tags: { Role: 'web' },
    // 600 s of waiting for an event last 3 s here.
    waitScale: 5,
    ssmMsPerSecond: 20,
    faults: { throttle: {}, notExportable: [], pending: [], nodes: {} },
  });
  api = apiClient(local);
});

afterAll(async () => {
  await local?.close();
});

test('StopExecution during the install: GET /certificates shows the target Failed with why, not InProgress', async () => {
  const arn = await requestCertificate(local, 'stopped.e2e.example.test');
  // The only node is offline: the command waits for it, so the execution keeps polling.
  local.setNodeOnline(local.nodes[0].name, false);
  const started = await startExport(api, exportBody(local, arn));
  const targetRow = async () => (await api.listCertificates({})).items.find((i) => i.certificateArn === arn);
  await waitFor(
    async () => (await targetRow())?.lastDeployStatus === 'InProgress',
    10_000,
    'the target to be InProgress',
  );

  const sfn = new SFNClient({ ...local.aws.clientConfig(), maxAttempts: 1 });
  try {
    await sfn.send(
      new StopExecutionCommand({ executionArn: started.executionArn, error: 'Operator', cause: 'node offline' }),
    );
  } finally {
    sfn.destroy();
  }
  expect((await local.stepFunctions.waitFor(started.executionArn)).status).toBe('ABORTED');
  expect(await targetRow()).toMatchObject({
    lastExecutionArn: started.executionArn,
    lastDeployStatus: 'Failed',
    lastDeployFailure:
      'the export execution was stopped before it recorded the install outcome: Operator: node offline',
  });
  local.setNodeOnline(local.nodes[0].name, true);
});

test('every status-change event lost: the wait times out, one status-check sees the end, the export succeeds', async () => {
  const arn = await requestCertificate(local, 'no-events.e2e.example.test');
  local.aws.events.dropEvents = true;
  try {
    const started = await startExport(api, exportBody(local, arn));
    const status = await finished(local, api, started.executionArn);
    expect(status).toMatchObject({ status: 'SUCCEEDED' });
    expect(local.aws.events.dropped).toBeGreaterThanOrEqual(1);
    const entered = local.stepFunctions.executions
      .get(started.executionArn)
      ?.history.filter((e) => e.type === 'TaskTimedOut' || e.type.endsWith('StateEntered'))
      .map((e) => (e.type === 'TaskTimedOut' ? 'TaskTimedOut' : (e.stateEnteredEventDetails as { name: string }).name));
    // The wait timed out (no event), and a fallback check (one per timeout) found the command done.
    expect(entered).toEqual(
      expect.arrayContaining([STATES.awaitCommand, 'TaskTimedOut', STATES.checkInstall, STATES.succeeded]),
    );
    const checks = entered?.filter((name) => name === STATES.checkInstall).length ?? 0;
    expect(checks).toBeGreaterThanOrEqual(1);
    expect(entered?.filter((name) => name === 'TaskTimedOut')).toHaveLength(checks);
  } finally {
    local.aws.events.dropEvents = false;
  }
});
