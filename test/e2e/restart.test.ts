/** Local mode persisted under a state dir: a restart keeps the inventory, the certificates and the nodes. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startLocalMode } from '../../local/runtime';
import {
  apiClient,
  currentSerial,
  exportBody,
  finished,
  requestCertificate,
  servedSerial,
  startExport,
} from './support';

const NO_FAULTS = { throttle: {}, notExportable: [], pending: [], nodes: {} };
let stateDir: string;

beforeAll(() => {
  stateDir = mkdtempSync(path.join(tmpdir(), 'acm-export-e2e-state-'));
});
afterAll(() => {
  rmSync(stateDir, { recursive: true, force: true });
});

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('restart with the same state dir keeps the inventory (and the servers are stopped in between)', async () => {
  const options = { nodes: 2, tags: { Role: 'web' }, stateDir, waitScale: 20, ssmMsPerSecond: 20, faults: NO_FAULTS };
  const first = await startLocalMode(options);
  let arn: string;
  let ids: string[];
  let serial: string;
  const pids: number[] = [];
  try {
    arn = await requestCertificate(first, 'restart.e2e.example.test');
    const api = apiClient(first);
    const started = await startExport(api, exportBody(first, arn));
    expect((await finished(first, api, started.executionArn)).status).toBe('SUCCEEDED');
    ids = first.nodes.map((n) => n.instanceId);
    serial = currentSerial(first, arn);
    expect(first.serverKind).toBe('nginx');
    for (const n of first.nodes) pids.push(Number(readFileSync(path.join(n.dir, 'server', 'nginx.pid'), 'utf8')));
  } finally {
    await first.close();
  }
  for (const pid of pids) expect({ pid, alive: processAlive(pid) }).toEqual({ pid, alive: false });

  const second = await startLocalMode(options);
  try {
    const api = apiClient(second);
    const { items } = await api.listCertificates({});
    expect(items).toEqual([
      expect.objectContaining({ certificateArn: arn, target: 'Role=web', lastDeployStatus: 'Succeeded' }),
    ]);
    expect(second.nodes.map((n) => n.instanceId)).toEqual(ids);
    expect(currentSerial(second, arn)).toBe(serial);
    for (const n of second.nodes)
      expect((await servedSerial(second, n, 'restart.e2e.example.test')).serial).toBe(serial);
    // The persisted inventory drives a renewal after the restart.
    const { result } = await second.renew(arn);
    expect(result).toMatchObject({ started: 1, targets: 1 });
    expect((await finished(second, api, result.executionArns[0])).status).toBe('SUCCEEDED');
    for (const n of second.nodes)
      expect((await servedSerial(second, n, 'restart.e2e.example.test')).serial).toBe(currentSerial(second, arn));
  } finally {
    await second.close();
  }
});
