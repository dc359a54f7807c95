/**
 * The node programs against the floor (bench/floor-install.sh): a push (first install of a new version), an
 * unchanged association run (SecretVersionStage=AWSCURRENT, which names the version just pushed; neither may
 * read the secret value) and a report run, each timed for the real program, the floor and (push, report) the
 * processes the program requires (bench/required-processes.sh) in turn in one process, with the same openssl,
 * the same fake aws CLI (test/helpers/fake-aws.ts) and Service=none; then one more run of each under strace to
 * count processes and openssl calls. Beside them, for a push and a report: bash parsing the program as the node
 * gets it (the install with its library) and running none of it, and bash running an empty script, whose
 * difference is what parsing the program costs before any of its lines runs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { installEnv, installScriptWith, type InstallParams } from '../test/helpers/install-script';
import { createFixture, type Fixture } from '../test/ssm-documents/fixture';
import { nodeLibrary } from '../ssm-documents/load';
import { median } from './stats';

export type NodeAction = 'install' | 'report';

/** A program to run for an action: `bash <script> [...args]` with `env` added to the run's environment. */
export interface NodeProgram {
  script: string;
  args: string[];
  env: Record<string, string>;
}

/** The program under test for an action: that document's script, joined as the stack ships it. */
export function scriptFor(action: NodeAction): NodeProgram {
  return { script: installScriptWith(undefined, action), args: [], env: {} };
}

export const FLOOR_SCRIPT = path.join(__dirname, 'floor-install.sh');

/** The floor for a kind of run. */
export function floorFor(kind: RunKind): NodeProgram {
  return { script: FLOOR_SCRIPT, args: [kind === 'push' ? 'install' : kind], env: {} };
}

export const REQUIRED_SCRIPT = path.join(__dirname, 'required-processes.sh');

/** The processes a push or a report requires, with no logic between them (none for the unchanged run). */
export function requiredFor(kind: RunKind): NodeProgram | undefined {
  return kind === 'unchanged' ? undefined : { script: REQUIRED_SCRIPT, args: [kind], env: {} };
}

export type RunKind = 'push' | 'unchanged' | 'report';
export const RUN_KINDS: readonly RunKind[] = ['push', 'unchanged', 'report'];
const ACTION_OF: Record<RunKind, NodeAction> = { push: 'install', unchanged: 'install', report: 'report' };

export interface ProcessCounts {
  /** Processes started (forks, the first one included), whether or not they exec'd a program. */
  processes: number;
  /** Programs run (successful execve). */
  execs: number;
  openssl: number;
}

/**
 * Counts from `strace -f -e trace=execve,clone,clone3,fork,vfork` output: forks that returned a pid (not
 * threads), successful execve calls, and those of an `openssl`. A call strace split over two lines (unfinished,
 * resumed) is counted on its resumed line, the one with the result. strace pads short pids with spaces.
 */
export function countProcesses(straceOutput: string): ProcessCounts {
  const counts: ProcessCounts = { processes: 1, execs: 0, openssl: 0 };
  const execPath = new Map<string, string>();
  for (const line of straceOutput.split('\n')) {
    const pid = /^(\d+)\s/.exec(line)?.[1] ?? '';
    const started = /\bexecve\("([^"]*)"/.exec(line);
    if (started) execPath.set(pid, started[1]);
    const done = / = (-?\d+)(?: [A-Z]+ .*)?$/.exec(line);
    if (!done) continue;
    if (/(?:^\d+\s+|<\.\.\. )(?:clone3?|v?fork)\b/.test(line) && Number(done[1]) > 0 && !line.includes('CLONE_THREAD'))
      counts.processes++;
    else if (/(?:^\d+\s+|<\.\.\. )execve\b/.test(line) && done[1] === '0') {
      counts.execs++;
      if (path.basename(execPath.get(pid) ?? '') === 'openssl') counts.openssl++;
      execPath.delete(pid);
    }
  }
  return counts;
}

export function straceAvailable(): boolean {
  return spawnSync('strace', ['-V'], { stdio: 'ignore' }).status === 0;
}

/**
 * The programs of a comparison: ours, the floor, the processes ours requires with no logic, ours parsed and not
 * run (parse), and an empty script (bash: what starting bash costs).
 */
type Which = 'real' | 'floor' | 'required' | 'parse' | 'bash';
const WHICH: readonly Which[] = ['real', 'floor', 'required', 'parse', 'bash'];
/** The programs run under strace (the other two start no process). */
const COUNTED: readonly Which[] = ['real', 'floor', 'required'];

/**
 * Ours as bash parses it on a node, run no further: the document's script (the install's with the node library it
 * sources) as the body of a function that is never called. Written under `dir`.
 */
export function parseOnlyFor(kind: RunKind, dir: string): NodeProgram | undefined {
  if (kind === 'unchanged') return undefined;
  const script = readFileSync(scriptFor(ACTION_OF[kind]).script, 'utf8').replace(/^#![^\n]*\n/, '');
  const library = kind === 'push' ? nodeLibrary().text : '';
  const file = path.join(dir, `parse-only-${kind}.sh`);
  writeFileSync(file, `#!/usr/bin/env bash\nparse_only_() {\n${script}${library}}\n`);
  return { script: file, args: [], env: {} };
}

/** An empty script: bash started and nothing else. */
export function emptyFor(kind: RunKind, dir: string): NodeProgram | undefined {
  if (kind === 'unchanged') return undefined;
  const file = path.join(dir, 'empty.sh');
  writeFileSync(file, '#!/usr/bin/env bash\n');
  return { script: file, args: [], env: {} };
}

export interface KindResult {
  kind: RunKind;
  /** Milliseconds per run, median. */
  realMs: number;
  floorMs: number;
  /** The required processes alone (required-processes.sh), for a push and a report. */
  requiredMs?: number;
  /** Bash parsing ours and running none of it, less bash running an empty script: for a push and a report. */
  parseMs?: number;
  real?: ProcessCounts;
  floor?: ProcessCounts;
  required?: ProcessCounts;
}

export interface FloorComparison {
  runs: number;
  results: KindResult[];
  /** False when strace is missing: no counts. */
  counted: boolean;
}

export interface Slot {
  params: (versionId: string) => InstallParams;
  env: Record<string, string>;
}

/** A node of its own under the fixture root: its directories and the environment that points the programs there. */
export function slot(f: Fixture, name: string): Slot {
  const dirs = {
    ACM_EXPORT_INVENTORY_DIR: path.join(f.root, name, 'inventory'),
    ACM_EXPORT_STATE_DIR: path.join(f.root, name, 'state'),
    ACM_EXPORT_LOG_DIR: path.join(f.root, name, 'log'),
    ACM_EXPORT_HOOKS_DIR: path.join(f.root, name, 'hooks.d'),
  };
  for (const d of [dirs.ACM_EXPORT_INVENTORY_DIR, path.join(f.root, name, 'certs'), path.join(f.root, name, 'private')])
    mkdirSync(d, { recursive: true, mode: 0o755 });
  return { params: (versionId) => f.params(versionId, name), env: dirs };
}

/** Runs a program for a slot's parameters (under strace when straceTo names the output file). */
export function runProgram(
  f: Fixture,
  program: NodeProgram,
  params: InstallParams,
  env: Record<string, string>,
  straceTo?: string,
): Promise<{ ms: number; stdout: string }> {
  const runEnv = { ...installEnv({ params, path: [f.aws.binDir], tmpDir: f.tmpDir, env }), ...program.env };
  const bash = ['bash', program.script, ...program.args];
  const [command, args] = straceTo
    ? ['strace', ['-f', '-qq', '-e', 'trace=execve,clone,clone3,fork,vfork', '-o', straceTo, ...bash]]
    : [bash[0], bash.slice(1)];
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: runEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code !== 0)
        reject(
          new Error(
            `${path.basename(program.script)} ${program.args.join(' ')} exited ${code}: ${stderr.trim().split('\n').slice(-2).join(' | ')}`,
          ),
        );
      else resolve({ ms, stdout });
    });
  });
}

/** Runs the comparison: `runs` timed rounds of push, unchanged and report, each program in turn. */
export async function compareWithFloor(runs: number): Promise<FloorComparison> {
  const f = createFixture('floor-bench');
  try {
    const versions = Array.from(
      { length: runs + 2 },
      (_, i) =>
        f.publish({ names: ['www.example.test'], keyAlgorithm: i % 2 ? 'RSA_2048' : 'EC_prime256v1' }).versionId,
    );
    const real = slot(f, 'real');
    const slots = { real, floor: slot(f, 'floor'), required: slot(f, 'required'), parse: real, bash: real };
    const noTimes = (): Record<Which, number[]> => ({ real: [], floor: [], required: [], parse: [], bash: [] });
    const times: Record<RunKind, Record<Which, number[]>> = {
      push: noTimes(),
      unchanged: noTimes(),
      report: noTimes(),
    };
    const secretReads = () => f.aws.calls().filter((call) => call[1] === 'get-secret-value').length;
    const programs: Record<Which, (kind: RunKind) => NodeProgram | undefined> = {
      real: (kind) => scriptFor(ACTION_OF[kind]),
      floor: floorFor,
      required: requiredFor,
      parse: (kind) => parseOnlyFor(kind, f.root),
      bash: (kind) => emptyFor(kind, f.root),
    };
    const programOf = (kind: RunKind, which: Which): NodeProgram | undefined => programs[which](kind);
    const once = async (kind: RunKind, which: Which, versionId: string, straceTo?: string) => {
      const s = slots[which];
      const program = programOf(kind, which);
      if (!program) return undefined;
      const params = s.params(versionId);
      // The report reads no secret and refuses a version parameter.
      if (which === 'real' && kind === 'report') delete params.SecretVersionId;
      if (kind === 'unchanged') {
        // As State Manager runs the install association: the stage, which now names the version just pushed.
        f.aws.setCurrent(versionId);
        delete params.SecretVersionId;
        params.SecretVersionStage = 'AWSCURRENT';
      }
      const readsBefore = secretReads();
      const r = await runProgram(f, program, params, s.env, straceTo);
      if (which === 'real' && kind !== 'report') {
        const changed = (JSON.parse(r.stdout) as { changed?: boolean }).changed;
        if (changed !== (kind === 'push')) throw new Error(`the ${kind} run reported changed=${String(changed)}`);
      }
      if (kind === 'unchanged' && secretReads() !== readsBefore)
        throw new Error(`the ${which} unchanged association run read the secret value`);
      return r.ms;
    };
    // The first install creates the directories and state of each slot: not timed.
    for (const which of WHICH) await once('push', which, versions[0]);
    for (let i = 1; i <= runs; i++) {
      // Rotate which program goes first, so that none always runs on a warmer cache.
      const order = WHICH.map((_, k) => WHICH[(i + k) % WHICH.length]);
      for (const kind of RUN_KINDS)
        for (const which of order) {
          const ms = await once(kind, which, versions[i]);
          if (ms !== undefined) times[kind][which].push(ms);
        }
    }
    const counted = straceAvailable();
    const counts: Partial<Record<RunKind, Partial<Record<Which, ProcessCounts>>>> = {};
    if (counted) {
      const last = versions[runs + 1];
      for (const kind of RUN_KINDS) {
        const c: Partial<Record<Which, ProcessCounts>> = {};
        for (const which of COUNTED) {
          const file = path.join(f.root, `strace-${kind}-${which}.txt`);
          if ((await once(kind, which, last, file)) !== undefined)
            c[which] = countProcesses(readFileSync(file, 'utf8'));
        }
        counts[kind] = c;
      }
    }
    return {
      runs,
      counted,
      results: RUN_KINDS.map((kind) => ({
        kind,
        realMs: median(times[kind].real),
        floorMs: median(times[kind].floor),
        ...(times[kind].required.length > 0 ? { requiredMs: median(times[kind].required) } : {}),
        ...(times[kind].parse.length > 0
          ? { parseMs: Math.max(0, median(times[kind].parse) - median(times[kind].bash)) }
          : {}),
        ...counts[kind],
      })),
    };
  } finally {
    f.cleanup();
  }
}

// Run on its own (bench/install.ts does, in a child of its own): `tsx bench/node-floor.ts [runs]` prints the
// comparison as one JSON line.
if (require.main === module) {
  compareWithFloor(Number(process.argv[2] ?? 20)).then(
    (c) => process.stdout.write(`${JSON.stringify(c)}\n`),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : String(e));
      process.exitCode = 1;
    },
  );
}
