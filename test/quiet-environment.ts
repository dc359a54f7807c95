/**
 * The Jest environment of every suite: Node's, plus quiet output. What a test file writes (handler JSON log and
 * metric lines, which Powertools writes straight to process.stdout; console calls; child output the test copies
 * to the streams) is held back and printed only for a test that fails, so a passing run shows the Jest summary
 * alone. Tests that read the streams (spies on process.stdout.write or console) still see every line.
 *
 * ACM_EXPORT_TEST_OUTPUT=show turns the capture off (e.g. to see the reliability suites' totals).
 */
import { Console } from 'node:console';
import { relative } from 'node:path';
import { Writable } from 'node:stream';
import NodeEnvironment from 'jest-environment-node';

type EnvironmentArgs = ConstructorParameters<typeof NodeEnvironment>;
/** A describe block or test, as jest-circus passes it: only what this environment reads. */
export interface TestBlock {
  name: string;
  parent?: TestBlock;
}
export interface TestEntry extends TestBlock {
  errors: unknown[];
}
/** A jest-circus event: `test` on test_start/test_done, `hook` on hook_failure. */
export interface TestEvent {
  name: string;
  test?: TestEntry;
  hook?: { type: string };
}
export interface TestState {
  unhandledErrors: unknown[];
}

/** A failing test prints at most this many of its captured lines (the last ones: they are nearest the failure). */
export const MAX_LINES_SHOWN = 400;

type Write = (chunk: unknown, encodingOrCallback?: unknown, callback?: unknown) => boolean;

/** Output captured so far, as text chunks; printed as lines. */
class Captured {
  private chunks: string[] = [];
  add(chunk: unknown): void {
    this.chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
  }
  take(): string[] {
    const text = this.chunks.join('');
    this.chunks = [];
    return text === '' ? [] : text.replace(/\n$/, '').split('\n');
  }
}

function testTitle(test: TestEntry): string {
  const names: string[] = [];
  for (let block: TestBlock | undefined = test; block; block = block.parent) {
    if (block.name !== 'ROOT_DESCRIBE_BLOCK') names.unshift(block.name);
  }
  return names.join(' › ');
}

export default class QuietEnvironment extends NodeEnvironment {
  private readonly testFile: string;
  /** Output outside any test (module load, describe bodies, beforeAll/afterAll): shown with any failure. */
  private readonly fileOutput = new Captured();
  /** Output of the running test (with its beforeEach/afterEach). */
  private readonly testOutput = new Captured();
  private inTest = false;
  private started = false;
  private fileFailed = false;
  private readonly restores: (() => void)[] = [];
  private show: Write = () => true;

  constructor(...[config, context]: EnvironmentArgs) {
    super(config, context);
    this.testFile = relative(config.projectConfig.rootDir, context.testPath);
  }

  async setup(): Promise<void> {
    await super.setup();
    if (process.env.ACM_EXPORT_TEST_OUTPUT === 'show') return;
    const capture = (chunk: unknown): void => (this.inTest ? this.testOutput : this.fileOutput).add(chunk);
    const stderr = process.stderr as unknown as { write: Write };
    this.show = stderr.write.bind(stderr);
    // The sandbox's process.stdout/stderr are this process's streams (Jest copies the process object's getters).
    for (const stream of [process.stdout, process.stderr] as unknown as { write: Write }[]) {
      const original = stream.write;
      stream.write = (chunk, encodingOrCallback, callback) => {
        capture(chunk);
        const done = typeof encodingOrCallback === 'function' ? encodingOrCallback : callback;
        if (typeof done === 'function') process.nextTick(done as () => void);
        return true;
      };
      this.restores.push(() => (stream.write = original));
    }
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        capture(chunk);
        callback();
      },
    });
    this.global.console = new Console({ stdout: sink, stderr: sink });
  }

  handleTestEvent(event: TestEvent, state: TestState): void {
    switch (event.name) {
      case 'run_start':
        this.started = true;
        break;
      case 'test_start':
        this.inTest = true;
        break;
      case 'test_done':
        this.inTest = false;
        if (event.test && event.test.errors.length > 0) {
          this.fileFailed = true;
          this.print(`test "${testTitle(event.test)}"`, this.testOutput.take());
        } else this.testOutput.take();
        break;
      case 'hook_failure':
        if (event.hook?.type === 'beforeAll' || event.hook?.type === 'afterAll') this.fileFailed = true;
        break;
      case 'run_finish':
        if (state.unhandledErrors.length > 0) this.fileFailed = true;
        break;
      default:
        break;
    }
  }

  async teardown(): Promise<void> {
    for (const restore of this.restores.splice(0).reverse()) restore();
    // A file that failed to load never starts a run: its output is all there is to explain it.
    if (this.fileFailed || !this.started) this.print('', []);
    await super.teardown();
  }

  /** Prints the file-level output not shown yet, then `lines` of `what`, to this process's stderr. */
  private print(what: string, lines: string[]): void {
    const sections: [string, string[]][] = [
      [`${this.testFile} (outside tests)`, this.fileOutput.take()],
      [`${this.testFile} ${what}`, lines],
    ];
    for (const [title, body] of sections) {
      if (body.length === 0) continue;
      const omitted = body.length - MAX_LINES_SHOWN;
      const shown = omitted > 0 ? [`… ${omitted} earlier lines omitted`, ...body.slice(-MAX_LINES_SHOWN)] : body;
      this.show(`\n── output of ${title} ──\n${shown.join('\n')}\n── end of output ──\n`);
    }
  }
}
