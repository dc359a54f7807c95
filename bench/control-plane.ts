/**
 * 3. Control-plane calls per status poll, against the local SSM emulator with virtual nodes: ours is the
 * status-check logic (one ListCommands aggregate); the baseline lists every invocation with
 * ListCommandInvocations (50 per page). Plus state transitions per export for a 60-second rollout.
 */
import {
  ListCommandInvocationsCommand,
  SendCommandCommand,
  type ListCommandInvocationsCommandOutput,
} from '@aws-sdk/client-ssm';
import { checkStatus } from '../lambda/status-check/status-check';
import { INITIAL_POLL } from '../lambda/shared/contract';
import { withDefaults } from '../lambda/shared/schemas';
import type { AwsEmulator } from '../local/aws-emulator';
import { localRuns } from './completion';
import { startInventoryTable } from './dynamo';
import { startBenchEmulator } from './emulator';
import { row, type BenchRow } from './report';
import { median } from './stats';
import { addVirtualNodes, removeAllNodes, VIRTUAL_DOCUMENT_NAME, type VirtualNode } from './virtual-nodes';

const STATUS_OPS = ['ssm:ListCommands', 'ssm:ListCommandInvocations'];

function statusCalls(aws: AwsEmulator): number {
  return STATUS_OPS.reduce((sum, op) => sum + aws.callCount(op), 0);
}

function responseBytes(aws: AwsEmulator): number {
  return aws.records
    .filter((r) => STATUS_OPS.includes(`ssm:${r.operation}`) || STATUS_OPS.includes(r.operation))
    .reduce((sum, r) => sum + JSON.stringify(r.response ?? {}).length, 0);
}

export async function benchControlPlane(
  options: { fleets: number[]; polls: number; msPerSecond: number; rolloutSeconds: number },
  notes: string[],
): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const { aws, ssm, stop } = await startBenchEmulator();
  const table = await startInventoryTable();
  try {
    for (const n of options.fleets) {
      removeAllNodes(aws);
      // The fleet stays in progress until the gate opens: polls are measured mid-rollout (every poll but the last).
      let open = (): void => undefined;
      const gate = new Promise<void>((resolve) => (open = resolve));
      addVirtualNodes(aws, n, { Fleet: `fleet-${n}` }, undefined, gate);
      const sent = await ssm.send(
        new SendCommandCommand({
          DocumentName: VIRTUAL_DOCUMENT_NAME,
          Targets: [{ Key: 'tag:Fleet', Values: [`fleet-${n}`] }],
          MaxConcurrency: '100%',
          MaxErrors: '0',
        }),
      );
      const commandId = sent.Command?.CommandId ?? '';
      const request = withDefaults({
        CertificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
        CertName: 'www',
        TargetTagKey: 'Fleet',
        TargetTagValue: `fleet-${n}`,
      });
      const deps = { ssm, ddb: table.ddb, tableName: table.tableName };

      const ours = async (): Promise<void> => {
        const state = await checkStatus(
          {
            input: request,
            commandId,
            poll: INITIAL_POLL,
            executionArn: 'arn:aws:states:us-east-1:111111111111:execution:AcmExport:bench',
          },
          deps,
        );
        if (state.status !== 'InProgress' || state.targetCount !== n)
          throw new Error(`status check saw ${JSON.stringify(state)}`);
      };
      const baseline = async (): Promise<void> => {
        let token: string | undefined;
        let seen = 0;
        let done = 0;
        do {
          const page: ListCommandInvocationsCommandOutput = await ssm.send(
            new ListCommandInvocationsCommand({
              CommandId: commandId,
              Details: false,
              MaxResults: 50,
              NextToken: token,
            }),
          );
          for (const inv of page.CommandInvocations ?? []) {
            seen++;
            if (inv.Status === 'InProgress') done++;
          }
          token = page.NextToken;
        } while (token);
        if (seen !== n || done !== n) throw new Error(`listed ${seen} invocations, ${done} in progress; expected ${n}`);
      };

      const measure = async (poll: () => Promise<void>): Promise<{ calls: number; bytes: number; ms: number }> => {
        for (let i = 0; i < 3; i++) await poll(); // warm-up
        aws.resetCallCounts();
        aws.clearRecords();
        await poll();
        const calls = statusCalls(aws);
        const bytes = responseBytes(aws);
        const times: number[] = [];
        for (let i = 0; i < options.polls; i++) {
          const start = process.hrtime.bigint();
          await poll();
          times.push(Number(process.hrtime.bigint() - start) / 1e6);
        }
        return { calls, bytes, ms: median(times) };
      };
      // Let the command fan out to every node first.
      for (
        let i = 0;
        i < 200 && [...aws.ssm.nodes.values()].some((node) => (node.executor as VirtualNode).steps === 0);
        i++
      )
        await new Promise((r) => setTimeout(r, 5));
      const a = await measure(ours);
      const b = await measure(baseline);
      open();
      await aws.ssm.waitForCommand(commandId);
      const label = `${n.toLocaleString('en-US')} node${n === 1 ? '' : 's'}`;
      rows.push(row('control-plane', `SSM calls per status poll, ${label}`, 'calls', a.calls, b.calls));
      rows.push(row('control-plane', `status response bytes per poll, ${label}`, 'bytes', a.bytes, b.bytes));
      rows.push(
        row(
          'control-plane',
          `status poll time, ${label}`,
          'ms',
          round1(a.ms),
          round1(b.ms),
          `local emulator, median of ${options.polls}`,
        ),
      );
      aws.clearRecords();
    }
    removeAllNodes(aws);
  } finally {
    await table.stop();
    await stop();
  }
  const runs = await localRuns([options.rolloutSeconds], options.msPerSecond);
  const r = runs.get(options.rolloutSeconds);
  if (r) {
    rows.push(
      row(
        'control-plane',
        `state transitions per export, ${options.rolloutSeconds}-s rollout`,
        '',
        r.ours.transitions,
        r.baseline.transitions,
        `${r.ours.polls} vs ${r.baseline.polls} polls; counted from the local run's event log`,
      ),
    );
    rows.push(
      row(
        'control-plane',
        `SSM status calls per export, ${options.rolloutSeconds}-s rollout, 10 nodes`,
        'calls',
        r.ours.statusCalls,
        r.baseline.statusCalls,
        'both variants poll with ListCommands',
      ),
    );
  }
  notes.push(
    "Polls measured while the rollout is in progress (all polls but the last). Ours: the status-check logic, one ListCommands (the final poll adds one conditional DynamoDB UpdateItem for the inventory status and one listing of every invocation with its output, ceil(n/50) calls, to read each node's outcome). Baseline: ListCommandInvocations over every invocation, 50 per page, Details=false, so ceil(n/50) calls. The blog sample's code as written calls ListCommandInvocations once (first page only, unused) plus ListCommands: 2 calls per poll at any fleet size.",
  );
  notes.push(
    "Virtual nodes complete at once without running a script (registered through the emulator's registerNode API). Step Functions standard workflows are billed per state transition (states entered, counted here).",
  );
  return rows;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
