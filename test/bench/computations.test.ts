/** The benchmark's pure computations: statistics, the table, and completion detection from the definition. */
import * as path from 'node:path';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { checkStatus } from '../../lambda/status-check/status-check';
import { INITIAL_POLL, POLL_BACKOFF, STATES, type PollState } from '../../lambda/shared/contract';
import { withDefaults } from '../../lambda/shared/schemas';
import { renderStateMachineDefinition } from '../../lib/render-definition';
import { transitionBreakEven } from '../../bench/completion';
import {
  detectCompletion,
  meanLatency,
  nextInProgressPoll,
  pollLoop,
  readPath,
  waitSecondsOf,
  withFixedWait,
  withPollLoop,
  writePath,
} from '../../bench/polling';
import { renderTable, row } from '../../bench/report';
import { inventoryTableInput } from '../../bench/stack';
import { formatNumber, formatRatio, mean, median, ratio } from '../../bench/stats';
import { parseArgs, SECTIONS, selectSections } from '../../bench/run';
import { failedTestNames, parseChildCpuSeconds, slowestSuites } from '../../bench/test-suite';
import { buildStack } from '../lib/fixture';

const { stack, template } = buildStack();
const deployed = renderStateMachineDefinition(stack);
/** The poll path (what the stack deployed before the event path), rendered from the deployed definition. */
const asl = withPollLoop(deployed);
const fixed = withFixedWait(asl, 15);

describe('stats', () => {
  test('median of odd and even lists, unsorted input left alone', () => {
    const xs = [5, 1, 3];
    expect(median(xs)).toBe(3);
    expect(xs).toEqual([5, 1, 3]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(() => median([])).toThrow(/empty/);
    expect(mean([1, 2, 3, 6])).toBe(3);
  });

  test('ratio is baseline/ours; above 1 means ours is lower (better)', () => {
    expect(ratio(2, 10)).toBe(5);
    expect(ratio(10, 2)).toBe(0.2);
    expect(ratio(0, 0)).toBe(1);
    expect(ratio(0, 5)).toBeUndefined();
    expect(ratio(undefined, 5)).toBeUndefined();
    expect(ratio(1, Number.NaN)).toBeUndefined();
  });

  test('formatting', () => {
    expect(formatRatio(undefined)).toBe('n/a');
    expect(formatRatio(1)).toBe('1x');
    expect(formatRatio(0.85)).toBe('0.85x');
    expect(formatRatio(2.5)).toBe('2.5x');
    expect(formatRatio(40)).toBe('40x');
    expect(formatRatio(1933.3)).toBe('1,933x');
    expect(formatNumber(50000)).toBe('50,000');
    expect(formatNumber(3.14159)).toBe('3.14');
    expect(formatNumber(0.5)).toBe('0.50');
    expect(formatNumber(214.4)).toBe('214');
  });
});

describe('report', () => {
  test('rows carry the ratio; the table shows n/a, skipped sections and notes', () => {
    const r = row('s', 'calls per poll', 'calls', 1, 40, '2,000 nodes');
    expect(r).toEqual({
      section: 's',
      metric: 'calls per poll',
      unit: 'calls',
      ours: 1,
      baseline: 40,
      ratio: 40,
      note: '2,000 nodes',
    });
    const table = renderTable([
      { name: 's', title: 'S', rows: [r, row('s', 'install', 'ms', 300, undefined)], notes: ['a note'], durationMs: 1 },
      { name: 'e2e', title: 'End to end', rows: [], notes: [], durationMs: 0, skipped: 'local mode not available' },
    ]);
    expect(table).toContain('| 1 | calls per poll (2,000 nodes) | 1 calls | 40 calls | 40x |');
    expect(table).toContain('| 1 | install | 300 ms | n/a | n/a |');
    expect(table).toContain('| 2 | End to end | skipped: local mode not available | | |');
    expect(table).toContain('- 1. a note');
  });
});

describe('run arguments', () => {
  test('--json, --quick, --only (repeated or comma-separated); unknown ones rejected', () => {
    expect(parseArgs([])).toEqual({ json: false, quick: false, only: [] });
    expect(parseArgs(['--json', '--quick', '--only', 'renewal,completion', '--only=e2e'])).toEqual({
      json: true,
      quick: true,
      only: ['renewal', 'completion', 'e2e'],
    });
    expect(() => parseArgs(['--only', 'nope'])).toThrow(/unknown section nope/);
    expect(() => parseArgs(['--fast'])).toThrow(/unknown argument/);
    expect(SECTIONS.map((s) => s.name)).toEqual([
      'renewal',
      'completion',
      'control-plane',
      'install',
      'cold-start',
      'e2e',
      'test-suite',
      'runs',
      'cost',
      'node-aws',
    ]);
  });

  test('the test-suite section (minutes of npm test) runs only when named', () => {
    expect(selectSections([]).map((s) => s.name)).not.toContain('test-suite');
    expect(selectSections([]).map((s) => s.name)).toContain('e2e');
    expect(selectSections(['test-suite']).map((s) => s.name)).toEqual(['test-suite']);
  });
});

describe('test-suite section', () => {
  test('children CPU seconds are cutime + cstime of /proc/self/stat (a command name with spaces and parentheses)', () => {
    const stat = '4242 (node (jest) x) S 1 4242 4242 0 -1 4194304 100 200 0 0 150 30 12345 678 20 0 11 0 999';
    expect(parseChildCpuSeconds(stat)).toBeCloseTo(130.23, 2);
    expect(parseChildCpuSeconds(undefined)).toBeUndefined();
    expect(parseChildCpuSeconds('4242 (node) S 1')).toBeUndefined();
  });

  test('slowest suites first, paths relative to the repository', () => {
    const root = path.join(__dirname, '..', '..');
    const report = {
      numTotalTestSuites: 3,
      numTotalTests: 9,
      numFailedTests: 0,
      numFailedTestSuites: 0,
      testResults: [
        { name: path.join(root, 'test/a.test.ts'), startTime: 0, endTime: 1_000, assertionResults: [] },
        { name: path.join(root, 'test/b.test.ts'), startTime: 0, endTime: 30_000, assertionResults: [] },
        { name: path.join(root, 'test/c.test.ts'), startTime: 5_000, endTime: 12_500, assertionResults: [] },
      ],
    };
    expect(slowestSuites(report, 2)).toEqual(['test/b.test.ts 30.0 s', 'test/c.test.ts 7.5 s']);
  });

  test('a failed test is named by its file and full name, so a flaky one can be found again', () => {
    const root = path.join(__dirname, '..', '..');
    const report = {
      numTotalTestSuites: 1,
      numTotalTests: 2,
      numFailedTests: 1,
      numFailedTestSuites: 1,
      testResults: [
        {
          name: path.join(root, 'test/a.test.ts'),
          startTime: 0,
          endTime: 1_000,
          assertionResults: [
            { fullName: 'passes', status: 'passed', failureMessages: [] },
            {
              fullName: 'group fails',
              status: 'failed',
              failureMessages: ['\nError: expect(received).toBe(expected)\n  at x'],
            },
          ],
        },
      ],
    };
    expect(failedTestNames(report)).toEqual(['test/a.test.ts: group fails (Error: expect(received).toBe(expected))']);
  });
});

describe('inventory table from the template', () => {
  test('key schema and indexes as the stack defines them', () => {
    const input = inventoryTableInput(template.toJSON() as never, 'T');
    expect(input.KeySchema).toEqual([
      { AttributeName: 'certificateArn', KeyType: 'HASH' },
      { AttributeName: 'target', KeyType: 'RANGE' },
    ]);
    expect(input.GlobalSecondaryIndexes?.map((g) => g.IndexName).sort()).toEqual(['ByExpiry', 'ByTarget']);
    expect(input.BillingMode).toBe('PAY_PER_REQUEST');
  });
});

describe('completion detection from the rendered definition', () => {
  test('paths and waits', () => {
    expect(readPath({ poll: { waitSeconds: 4 } }, '$.poll.waitSeconds')).toBe(4);
    expect(readPath({}, '$.poll.waitSeconds')).toBeUndefined();
    expect(writePath({ a: 1, poll: { x: 1 } }, '$.poll.waitSeconds', 8)).toEqual({
      a: 1,
      poll: { x: 1, waitSeconds: 8 },
    });
    expect(waitSecondsOf({ Type: 'Wait', Seconds: 15 }, {})).toBe(15);
    expect(waitSecondsOf({ Type: 'Wait', SecondsPath: '$.poll.waitSeconds' }, { poll: { waitSeconds: 2 } })).toBe(2);
    expect(() => waitSecondsOf({ Type: 'Wait', SecondsPath: '$.x' }, {})).toThrow(/not a non-negative integer/);
    expect(() => waitSecondsOf({ Type: 'Pass' }, {})).toThrow(/not a Wait/);
  });

  test('the poll path replaces only the event path wait: InitPoll → WaitForNodes → status-check, back while InProgress', () => {
    expect(deployed.States[STATES.waitForNodes]).toBeUndefined();
    expect(asl.States[STATES.awaitCommand]).toBeUndefined();
    expect(asl.States[STATES.initPoll].Next).toBe(STATES.waitForNodes);
    const { [STATES.awaitCommand]: _wait, ...unchanged } = deployed.States;
    for (const [name, state] of Object.entries(unchanged)) {
      if (name === STATES.initPoll || name === STATES.pollResult) continue;
      expect([name, asl.States[name]]).toEqual([name, state]);
    }
    expect(withPollLoop(asl)).toEqual(asl); // already polling: unchanged
  });

  test('the loop is found in the real definition; the baseline only changes the Wait', () => {
    const loop = pollLoop(asl);
    expect(loop.wait).toMatchObject({ SecondsPath: '$.poll.waitSeconds' });
    expect(loop.init.Result).toEqual(INITIAL_POLL);
    expect(fixed.States[STATES.waitForNodes]).toEqual({ Type: 'Wait', Seconds: 15, Next: STATES.checkInstall });
    expect({ ...fixed.States, [STATES.waitForNodes]: undefined }).toEqual({
      ...asl.States,
      [STATES.waitForNodes]: undefined,
    });
    expect(asl.States[STATES.waitForNodes]).toMatchObject({ SecondsPath: '$.poll.waitSeconds' }); // not mutated
  });

  test('backoff schedule: polls at 2, 6, 14, 24, then every 10 s (POLL_BACKOFF 2·2^n capped at 10)', () => {
    expect(POLL_BACKOFF).toEqual({ firstSeconds: 2, factor: 2, capSeconds: 10 });
    expect(detectCompletion(asl, 5)).toEqual({ polls: [2, 6], detectedAt: 6, latency: 1 });
    expect(detectCompletion(asl, 20)).toEqual({ polls: [2, 6, 14, 24], detectedAt: 24, latency: 4 });
    expect(detectCompletion(asl, 60).polls).toEqual([2, 6, 14, 24, 34, 44, 54, 64]);
    expect(detectCompletion(asl, 61)).toMatchObject({ detectedAt: 64, latency: 3 });
    expect(detectCompletion(asl, 300).polls).toHaveLength(32);
    expect(detectCompletion(asl, 0.5)).toMatchObject({ detectedAt: 2, latency: 1.5 });
  });

  test('mean completion latency over finish times in (0, 300] s: 4.9 s with the 10-s cap, 1.5x better than the 15-s loop', () => {
    const ours = meanLatency(asl, 300, 0.1);
    expect(ours).toBeCloseTo(4.9, 1);
    expect(meanLatency(fixed, 300, 0.1) / ours).toBeGreaterThan(1.5);
  });

  test('fixed 15-second loop', () => {
    expect(detectCompletion(fixed, 5)).toEqual({ polls: [15], detectedAt: 15, latency: 10 });
    expect(detectCompletion(fixed, 20)).toMatchObject({ detectedAt: 30, latency: 10 });
    expect(detectCompletion(fixed, 60).polls).toEqual([15, 30, 45, 60]);
    expect(detectCompletion(fixed, 300).polls).toHaveLength(20);
    expect(meanLatency(fixed, 300, 0.1)).toBeCloseTo(7.45, 2);
  });

  test('the in-progress step matches the status-check logic (checkStatus with a running command)', async () => {
    const running = {
      CommandId: 'c',
      Status: 'InProgress',
      StatusDetails: 'In Progress',
      TargetCount: 3,
      CompletedCount: 1,
      ErrorCount: 0,
      DeliveryTimedOutCount: 0,
    };
    const ssm = { send: async () => ({ Commands: [running] }) } as unknown as SSMClient;
    const ddb = { send: async () => ({}) } as unknown as DynamoDBDocumentClient;
    const input = withDefaults({
      CertificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
      CertName: 'www',
      TargetTagKey: 'Role',
      TargetTagValue: 'web',
    });
    let poll: PollState = { ...INITIAL_POLL };
    for (let i = 0; i < 8; i++) {
      const real = await checkStatus(
        { input, commandId: 'c', poll, executionArn: 'arn:aws:states:us-east-1:111111111111:execution:sm:x' },
        { ssm, ddb, tableName: 't' },
      );
      const computed = nextInProgressPoll(poll);
      expect({ status: real.status, attempt: real.attempt, waitSeconds: real.waitSeconds }).toEqual(computed);
      poll = real;
    }
  });
});

describe('transition break-even', () => {
  test('with a 10-s cap (< 15 s) ours polls more often at every length: no break-even within the horizon', () => {
    expect(transitionBreakEven(asl, fixed, 600)).toBe(600);
    // 300-s rollout: 32 polls vs 20, 3 state transitions each.
    expect((detectCompletion(asl, 300).polls.length - detectCompletion(fixed, 300).polls.length) * 3).toBe(36);
  });
});
