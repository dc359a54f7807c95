/**
 * 7. Test suite wall time: runs `npm test` (prerequisites check, then every Jest suite) in a child process
 * and reports its wall time against the budget, with the CPU count, the CPU time of the whole process tree
 * and the load average the run started under (other processes on the machine inflate the wall time; CPU
 * time divided by the CPU count is what the run needs when it has the machine to itself). Opt-in: it takes
 * minutes.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { row, type BenchRow } from './report';
import { START_ENV } from './start-env';

/** `npm test` should finish within this on a 2-CPU machine with nothing else running. */
export const TEST_SUITE_BUDGET_SECONDS = 300;

const ROOT = path.join(__dirname, '..');

/** The part of Jest's --json report this section reads. */
const JestReport = z.object({
  numTotalTestSuites: z.number(),
  numTotalTests: z.number(),
  numFailedTests: z.number(),
  numFailedTestSuites: z.number(),
  testResults: z.array(
    z.object({
      name: z.string(),
      startTime: z.number(),
      endTime: z.number(),
      assertionResults: z
        .array(z.object({ fullName: z.string(), status: z.string(), failureMessages: z.array(z.string()).default([]) }))
        .default([]),
    }),
  ),
});

/** `file: test name` of each failed test, so that a flaky one can be found again. */
export function failedTestNames(report: JestReport): string[] {
  return report.testResults.flatMap((suite) =>
    suite.assertionResults
      .filter((t) => t.status === 'failed')
      .map((t) => {
        // The first line of the failure (the matcher's or the error's), bounded: enough to tell flakes apart.
        const first = (t.failureMessages[0] ?? '').split('\n').find((line) => line.trim() !== '') ?? '';
        return `${path.relative(ROOT, suite.name)}: ${t.fullName}${first ? ` (${first.trim().slice(0, 200)})` : ''}`;
      }),
  );
}
type JestReport = z.infer<typeof JestReport>;

/** CPU seconds of this process's waited-for children (and theirs), from /proc; undefined off Linux. */
export function childCpuSeconds(): number | undefined {
  return parseChildCpuSeconds(readProcStat());
}

/** cutime + cstime of a /proc/<pid>/stat line, in seconds. */
export function parseChildCpuSeconds(stat: string | undefined): number | undefined {
  if (stat === undefined) return undefined;
  // Fields after "(comm) ": state is field 3, so cutime and cstime (fields 16 and 17) are at 13 and 14.
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  const ticks = Number(fields[13]) + Number(fields[14]);
  // Linux reports these in USER_HZ, 100 on every mainstream architecture.
  return Number.isFinite(ticks) ? ticks / 100 : undefined;
}

function readProcStat(): string | undefined {
  try {
    return readFileSync('/proc/self/stat', 'utf8');
  } catch {
    return undefined;
  }
}

/** The slowest suites of a report, "file 12.3 s", slowest first. */
export function slowestSuites(report: JestReport, count: number): string[] {
  return report.testResults
    .map((r) => ({ file: path.relative(ROOT, r.name), seconds: (r.endTime - r.startTime) / 1000 }))
    .sort((a, b) => b.seconds - a.seconds)
    .slice(0, count)
    .map((s) => `${s.file} ${s.seconds.toFixed(1)} s`);
}

function runNpmTest(reportFile: string): Promise<{ code: number | null; stderrTail: string }> {
  return new Promise((resolve, reject) => {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const child = spawn(npm, ['test', '--', '--json', `--outputFile=${reportFile}`], {
      cwd: ROOT,
      env: START_ENV,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderrTail: stderr }));
  });
}

export async function benchTestSuite(notes: string[]): Promise<BenchRow[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'acm-export-bench-jest-'));
  try {
    const reportFile = path.join(dir, 'report.json');
    const cpus = availableParallelism();
    const load = loadavg()[0];
    const cpuBefore = childCpuSeconds();
    const started = Date.now();
    const { code, stderrTail } = await runNpmTest(reportFile);
    const wall = (Date.now() - started) / 1000;
    const cpuAfter = childCpuSeconds();
    let report: JestReport;
    try {
      report = JestReport.parse(JSON.parse(readFileSync(reportFile, 'utf8')));
    } catch {
      throw new Error(
        `npm test wrote no Jest report (exit ${code}): ${stderrTail.trim().split('\n').slice(-3).join(' | ')}`,
      );
    }
    const within = wall <= TEST_SUITE_BUDGET_SECONDS ? 'within' : 'over';
    const failedTests = `${report.numFailedTests} test${report.numFailedTests === 1 ? '' : 's'}`;
    const failed = report.numFailedTests > 0 || code !== 0 ? `; ${failedTests} FAILED` : '';
    const rows = [
      row(
        'test-suite',
        `npm test wall time, ${report.numTotalTestSuites} suites, ${report.numTotalTests} tests, ${cpus} CPUs`,
        's',
        wall,
        undefined,
        `${within} the ${TEST_SUITE_BUDGET_SECONDS} s budget; load average ${load.toFixed(1)} at start${failed}`,
      ),
    ];
    if (cpuBefore !== undefined && cpuAfter !== undefined) {
      const cpu = cpuAfter - cpuBefore;
      rows.push(
        row(
          'test-suite',
          `npm test CPU time (all processes), ${cpus} CPUs`,
          's',
          cpu,
          undefined,
          `${(cpu / cpus).toFixed(0)} s of wall time at the least on ${cpus} otherwise idle CPUs`,
        ),
      );
    }
    const failedNames = failedTestNames(report);
    if (failedNames.length > 0) notes.push(`Failed: ${failedNames.join('; ')}.`);
    notes.push(
      `Slowest suites: ${slowestSuites(report, 5).join(', ')}. The wall time counts every other process on the machine; ` +
        'the CPU time (Jest, its workers and every process the tests start) does not.',
    );
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
