/** The cost section's arithmetic: counted usage × list prices, the month model, and the table rows. */
import {
  costOf,
  DAYS_PER_MONTH,
  gbSeconds,
  monthlyCost,
  monthlyUsage,
  NO_USAGE,
  readUnits,
  renewalsPerMonth,
  runsPerMonth,
  writeUnits,
  type CountedDesign,
  type MonthModel,
  type Usage,
} from '../../bench/cost-model';
import { costRows, historyCounts, rolloutRows } from '../../bench/cost';
import { dollars, PRICES } from '../../bench/prices';

const RENEWAL: Usage = {
  stateTransitions: 31,
  lambdaRequests: 12,
  lambdaGbSeconds: 0.07,
  secretsManagerCalls: 52,
  kmsRequests: 51,
  dynamoReadUnits: 2.5,
  dynamoWriteUnits: 2,
  logBytes: 10_000,
};

const MODEL: MonthModel = {
  certificates: 20,
  nodesPerCertificate: 50,
  renewalIntervalDays: 153,
  installRunsPerNodePerMonth: runsPerMonth('rate(12 hours)'),
  reportRunsPerNodePerMonth: runsPerMonth('rate(1 hour)'),
  driftChecksPerMonth: runsPerMonth('rate(1 hour)'),
};

function design(overrides: Partial<CountedDesign> = {}): CountedDesign {
  return {
    design: 'ours (poll path)',
    perRenewal: RENEWAL,
    perInstallRunPerNode: { ...NO_USAGE, secretsManagerCalls: 1 },
    perReportRunPerNode: NO_USAGE,
    perDriftCheck: { ...NO_USAGE, lambdaRequests: 1, secretsManagerCalls: 20 },
    fixed: { secrets: 21, kmsKeys: 3 },
    ...overrides,
  };
}

describe('list prices', () => {
  test('every price names its unit, page and read date; a missing figure says "not found"', () => {
    for (const [name, price] of Object.entries(PRICES)) {
      expect({ name, page: price.page }).toEqual({ name, page: expect.stringMatching(/^https:\/\//) });
      expect(price.unit.length).toBeGreaterThan(0);
      expect(price.read).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      if (price.usd === undefined) expect(price.note).toMatch(/not found/);
    }
  });

  test('dollars scale with the quantity and the price unit', () => {
    expect(dollars(PRICES.stepFunctionsTransition, 1_000)).toBeCloseTo(0.025, 10);
    expect(dollars(PRICES.secretsManagerApiCall, 20_000)).toBeCloseTo(0.1, 10);
    expect(dollars(PRICES.logStorageGbMonth, 5)).toBe(0);
    expect(() => dollars(PRICES.kmsRequest, -1)).toThrow(/invalid quantity/);
  });
});

describe('cost of counted usage', () => {
  test('each line is its count times its price, and the total is their sum', () => {
    const c = costOf(RENEWAL, { secrets: 2, kmsKeys: 1 });
    expect(c.stepFunctions).toBeCloseTo(31 * 0.000025, 12);
    expect(c.lambdaRequests).toBeCloseTo(12 * 0.0000002, 12);
    expect(c.lambdaDuration).toBeCloseTo(0.07 * 0.0000133334, 12);
    expect(c.secretsManagerCalls).toBeCloseTo(52 * 0.000005, 12);
    expect(c.kms).toBeCloseTo(51 * 0.000003, 12);
    expect(c.dynamo).toBeCloseTo(2.5 * 0.000000125 + 2 * 0.000000625, 12);
    expect(c.logs).toBeCloseTo((10_000 / 1e9) * 0.5, 12);
    expect(c.secretsStored).toBeCloseTo(0.8, 12);
    expect(c.kmsKeys).toBe(1);
    const { total, ...lines } = c;
    expect(total).toBeCloseTo(
      Object.values(lines).reduce((a, b) => a + b, 0),
      12,
    );
  });

  test('a change in any count changes the total', () => {
    const base = costOf(RENEWAL).total;
    for (const key of Object.keys(RENEWAL) as (keyof Usage)[]) {
      expect({ key, higher: costOf({ ...RENEWAL, [key]: RENEWAL[key] + 1000 }).total > base }).toEqual({
        key,
        higher: true,
      });
    }
  });

  test('GB-seconds: billed milliseconds rounded up, at the configured memory', () => {
    expect(gbSeconds([1000], 512)).toBeCloseTo(0.5, 12);
    expect(gbSeconds([0.2, 1999.1], 1024)).toBeCloseTo(0.001 + 2, 12);
  });

  test('request units without reported capacity: 4 KB reads (eventually consistent halves), 1 KB writes', () => {
    expect(readUnits(100)).toBe(0.5);
    expect(readUnits(5000, true)).toBe(2);
    expect(writeUnits(100)).toBe(1);
    expect(writeUnits(2049)).toBe(3);
  });
});

describe('month model', () => {
  test('rate expressions: runs per average month', () => {
    expect(runsPerMonth('rate(1 hour)')).toBeCloseTo(DAYS_PER_MONTH * 24, 9);
    expect(runsPerMonth('rate(12 hours)')).toBeCloseTo(DAYS_PER_MONTH * 2, 9);
    expect(runsPerMonth('rate(30 minutes)')).toBeCloseTo(DAYS_PER_MONTH * 48, 9);
    expect(runsPerMonth('rate(1 day)')).toBeCloseTo(DAYS_PER_MONTH, 9);
    expect(() => runsPerMonth('cron(0 * * * ? *)')).toThrow(/not a rate/);
  });

  test('renewals per month follow the certificates and the renewal interval', () => {
    expect(renewalsPerMonth({ certificates: 20, renewalIntervalDays: 153 })).toBeCloseTo(
      (20 * DAYS_PER_MONTH) / 153,
      9,
    );
    expect(renewalsPerMonth({ certificates: 20, renewalIntervalDays: 50 })).toBeGreaterThan(
      renewalsPerMonth({ certificates: 20, renewalIntervalDays: 153 }),
    );
  });

  test("a month adds renewals, every node's association runs and the drift checks", () => {
    const month = monthlyUsage(design(), MODEL);
    const renewals = renewalsPerMonth(MODEL);
    expect(month.stateTransitions).toBeCloseTo(31 * renewals, 9);
    expect(month.secretsManagerCalls).toBeCloseTo(
      52 * renewals + 1_000 * MODEL.installRunsPerNodePerMonth + 20 * MODEL.driftChecksPerMonth,
      6,
    );
    expect(month.lambdaRequests).toBeCloseTo(12 * renewals + MODEL.driftChecksPerMonth, 9);
  });

  test('fixed resources are billed per month, not per renewal', () => {
    const withFixed = monthlyCost(design(), MODEL);
    const without = monthlyCost(design({ fixed: { secrets: 0, kmsKeys: 0 } }), MODEL);
    expect(withFixed.total - without.total).toBeCloseTo(21 * 0.4 + 3, 9);
  });

  test('more nodes per certificate cost more per month through the association runs', () => {
    expect(monthlyCost(design(), { ...MODEL, nodesPerCertificate: 100 }).total).toBeGreaterThan(
      monthlyCost(design(), MODEL).total,
    );
  });
});

describe('cost table', () => {
  const baseline = design({
    design: 'baseline',
    perRenewal: { ...RENEWAL, stateTransitions: 19, secretsManagerCalls: 2, kmsRequests: 1 },
    perInstallRunPerNode: NO_USAGE,
    perDriftCheck: NO_USAGE,
    fixed: { secrets: 20, kmsKeys: 0 },
  });

  test('one design entry against the baseline gives per-renewal and per-month rows with ratios', () => {
    const rows = costRows([design(), baseline], MODEL);
    const perRenewal = rows.find((r) => r.metric.includes('$ per renewal'))!;
    expect(perRenewal.ours).toBeCloseTo(Number(costOf(RENEWAL).total.toPrecision(3)), 12);
    expect(perRenewal.baseline).toBeCloseTo(Number(costOf(baseline.perRenewal).total.toPrecision(3)), 12);
    expect(perRenewal.note).toMatch(/not met/);
    expect(perRenewal.ratio).toBeLessThan(1);
    expect(rows.some((r) => r.metric.includes('$ per month, 20 certificates on 1,000 nodes'))).toBe(true);
  });

  test('adding a design is one more entry: its rows are labelled with its name', () => {
    const eventPath = design({ design: 'ours (event path)', perRenewal: { ...RENEWAL, stateTransitions: 10 } });
    const rows = costRows([design(), eventPath, baseline], MODEL);
    expect(rows.filter((r) => r.metric.startsWith('ours (event path): ')).length).toBe(
      rows.filter((r) => r.metric.startsWith('ours (poll path): ')).length,
    );
    expect(rows.find((r) => r.metric === 'ours (event path): state transitions per renewal')?.ours).toBe(10);
  });

  test('without a baseline entry there is no table', () => {
    expect(() => costRows([design()], MODEL)).toThrow(/baseline/);
  });

  test('per rollout length: met only where ours costs at most the baseline; beside it, what the nodes alone cost', () => {
    const ours = { ...RENEWAL, stateTransitions: 9 };
    // 50 nodes, each one GetSecretValue and one KMS decrypt.
    const oursNodes = { ...NO_USAGE, secretsManagerCalls: 50, kmsRequests: 50 };
    const rows = rolloutRows(
      [
        { rolloutSeconds: 5, ours, oursNodes, baseline: { ...NO_USAGE, stateTransitions: 10 } },
        { rolloutSeconds: 300, ours, oursNodes, baseline: { ...RENEWAL, stateTransitions: 67 } },
      ],
      50,
    );
    const totals = rows.filter((r) => r.metric.startsWith('ours (event path)'));
    expect(totals.map((r) => [r.metric.replace(/.*t=/, ''), /, met$/.test(r.note ?? '')])).toEqual([
      ['5 s', false],
      ['300 s', true],
    ]);
    expect(totals[0].note).toMatch(/^9 vs 10 transitions/);
    expect(totals[1].ours).toBeCloseTo(Number(costOf(ours).total.toPrecision(3)), 12);
    const nodeRows = rows.filter((r) =>
      r.metric.startsWith("ours, the nodes' own secret fetches alone (50 Secrets Manager, 50 KMS"),
    );
    expect(nodeRows.map((r) => r.ours)).toEqual([0.0004, 0.0004]);
    // 10 transitions cost $0.00025, less than the nodes' fetches: no workflow could meet the goal there.
    expect(nodeRows[0].note).toMatch(/^more than the baseline's whole renewal: the goal cannot be met/);
    expect(nodeRows[1].note).toMatch(
      /^leaves \$[0-9.e-]+ of the baseline's cost for the workflow and functions; ours spends/,
    );
  });
});

describe('execution history counts', () => {
  test('transitions are state entries; each Lambda invocation lasts from its start to its end', () => {
    const at = (type: string, timestamp: number) => ({ id: 0, previousEventId: 0, type, timestamp });
    const counts = historyCounts([
      at('ExecutionStarted', 0),
      at('TaskStateEntered', 1),
      at('LambdaFunctionScheduled', 1),
      at('LambdaFunctionStarted', 2),
      at('LambdaFunctionSucceeded', 12),
      at('TaskStateExited', 12),
      at('WaitStateEntered', 13),
      at('TaskStateEntered', 20),
      at('LambdaFunctionStarted', 21),
      at('LambdaFunctionFailed', 24),
      at('FailStateEntered', 25),
    ]);
    expect(counts).toEqual({ transitions: 4, lambdaMs: [10, 3] });
  });
});
