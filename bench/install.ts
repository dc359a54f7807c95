/**
 * 4. Node install: the real install script (install + nginx config test + reload + served-serial verify),
 * measured by test/ssm-documents/measure-install.ts (fake aws CLI, real openssl and nginx), in a child
 * process. There is no baseline figure for those: the blog sample's document only decodes base64 parameters
 * into files (no validation, reload or verify), so the work is not comparable. The push, unchanged and report
 * rows compare the node programs with the floor script instead (bench/node-floor.ts).
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { nginxAvailable } from '../local/nodes';
import type { FloorComparison, RunKind } from './node-floor';
import { row, type BenchRow } from './report';

interface Summary {
  median: number;
  min: number;
  max: number;
}

interface MeasureOutput {
  runs: number;
  nginxReloadVerifyMs: Summary;
  serviceNoneMs: Summary;
}

const ROOT = path.join(__dirname, '..');

/**
 * Runs a TypeScript file in a child Node (tsx) and resolves with the JSON of its last stdout line. The node
 * programs are timed there, not in the bench's own process: a process that earlier sections have grown takes
 * longer to start each program, ours and the floor alike, and that shared cost pulls every ratio towards 1.
 */
function runJsonChild<T>(file: string, args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const tsx = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
    const child = spawn(process.execPath, [tsx, file, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), 10 * 60_000);
    const name = path.basename(file, '.ts');
    child.on('close', (code) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0)
        return reject(new Error(`${name} exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new Error(`${name} printed no JSON line: ${last.slice(0, 200)}`));
      }
    });
  });
}

export function runMeasureInstall(runs: number): Promise<MeasureOutput> {
  return runJsonChild(path.join(ROOT, 'test', 'ssm-documents', 'measure-install.ts'), [String(runs)]);
}

/** Goal for real / floor per kind of run (issue: push within 2x the floor, report within 1.5x). */
export const FLOOR_GOALS: Record<RunKind, number | undefined> = { push: 2, unchanged: undefined, report: 1.5 };

const KIND_LABEL: Record<RunKind, string> = {
  push: 'push (first install of a new version), Service=none',
  unchanged: 'unchanged association run (AWSCURRENT = the version held), Service=none',
  report: 'report run',
};

/** The rows (baseline column = the floor) and one note per kind with the ratio and its goal. */
export function floorRows(c: FloorComparison, notes: string[]): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const r of c.results) {
    const goal = FLOOR_GOALS[r.kind];
    const times = r.realMs / r.floorMs;
    const verdict = goal === undefined ? 'no goal' : `goal <= ${goal}x: ${times <= goal ? 'met' : 'not met'}`;
    rows.push(
      row(
        'install',
        `${KIND_LABEL[r.kind]} vs floor`,
        'ms',
        Math.round(r.realMs),
        Math.round(r.floorMs),
        `median of ${c.runs}; ${times.toFixed(1)}x the floor, ${verdict}`,
      ),
    );
    if (r.real && r.floor) {
      rows.push(row('install', `processes per ${r.kind} run vs floor`, '', r.real.processes, r.floor.processes));
      rows.push(row('install', `openssl calls per ${r.kind} run vs floor`, '', r.real.openssl, r.floor.openssl));
    }
    if (r.requiredMs !== undefined) {
      const own = r.realMs - r.requiredMs;
      rows.push(
        row(
          'install',
          `the processes a ${r.kind} requires, no logic between them, vs floor`,
          'ms',
          Math.round(r.requiredMs),
          Math.round(r.floorMs),
          `${(r.requiredMs / r.floorMs).toFixed(1)}x the floor` +
            (r.required ? `; ${r.required.processes} processes` : '') +
            `; ours spends ${Math.round(own)} ms more on its own shell work`,
        ),
      );
    }
    if (r.parseMs !== undefined) {
      rows.push(
        row(
          'install',
          `bash parsing the ${r.kind}'s program, none of it run (an empty script's time subtracted), vs floor`,
          'ms',
          Math.round(r.parseMs),
          Math.round(r.floorMs),
          `${(r.parseMs / r.floorMs).toFixed(1)}x the floor`,
        ),
      );
    }
    notes.push(
      `${r.kind}: ${Math.round(r.realMs)} ms against the floor's ${Math.round(r.floorMs)} ms = ${times.toFixed(1)}x (${verdict})` +
        (r.real && r.floor
          ? `; ${r.real.processes} processes (${r.real.execs} programs, ${r.real.openssl} openssl) against ${r.floor.processes} (${r.floor.execs}, ${r.floor.openssl}).`
          : '.'),
    );
    if (r.requiredMs !== undefined && goal !== undefined) {
      const budget = goal * r.floorMs;
      const parse = r.parseMs ?? 0;
      const left = budget - r.requiredMs - parse;
      notes.push(
        `${r.kind}: the processes it requires take ${Math.round(r.requiredMs)} ms of the goal's ${Math.round(budget)} ms` +
          (r.parseMs === undefined ? '' : ` and parsing the program ${parse.toFixed(1)} ms`) +
          (left >= 0
            ? `, leaving ${left.toFixed(1)} ms for every check and decision in it`
            : `, ${(-left).toFixed(1)} ms over the goal before any check or decision in it`) +
          `; ours takes ${(r.realMs - r.requiredMs - parse).toFixed(1)} ms for those.`,
      );
    }
  }
  notes.push(
    'Required processes = bench/required-processes.sh: the programs a push or a report starts because a requirement asks for it (directory trust, the CertName lock, the ownership scans and record, the chain checks, the synced switch of versioned directories, the shared inventory file under its lock), with no parsing or check between them. ' +
      'Floor = bench/floor-install.sh: fetch the version, split the PEM blocks, decrypt the key, check it matches, write and rename the four files; ' +
      'note the version id; unchanged = ask which version is AWSCURRENT (DescribeSecret) and compare it with the one noted; report = read serial and expiry, write one inventory file. Same fake aws CLI and openssl for all three, with the same empty CA file (SSL_CERT_FILE=/dev/null) for their certificate reads, runs rotated. ' +
      (c.counted
        ? "Processes counted with strace -f (forks that returned a pid, the first process included), the fake aws CLI's own processes included."
        : 'strace is not installed, so processes and openssl calls were not counted.'),
  );
  return rows;
}

export async function benchInstall(options: { runs: number }, notes: string[]): Promise<BenchRow[] | string> {
  const floor = await runJsonChild<FloorComparison>(path.join(__dirname, 'node-floor.ts'), [String(options.runs)]);
  const rows = floorRows(floor, notes);
  if (!nginxAvailable()) {
    notes.push('nginx is not installed: the rows with an nginx reload were not measured.');
    return rows;
  }
  const m = await runMeasureInstall(options.runs);
  notes.push(
    `Install script on this machine, median of ${m.runs} (min–max): with nginx ${m.nginxReloadVerifyMs.min}–${m.nginxReloadVerifyMs.max} ms, Service=none ${m.serviceNoneMs.min}–${m.serviceNoneMs.max} ms. ` +
      "The aws CLI is a local fake (no network, no CLI start-up), so a real node adds the Secrets Manager GetSecretValue round trip and the CLI start-up. No baseline figure: the blog sample's document only base64-decodes its Run Command parameters into files; it does not validate, reload or verify, so its time is not comparable.",
  );
  return [
    row(
      'install',
      'node install + nginx -t + reload + verify served serial',
      'ms',
      m.nginxReloadVerifyMs.median,
      undefined,
      `median of ${m.runs}`,
    ),
    row('install', 'node install, Service=none', 'ms', m.serviceNoneMs.median, undefined, `median of ${m.runs}`),
    ...rows,
  ];
}
