import { logger } from '../lambda/shared/powertools';
import QuietEnvironment, { TestBlock, TestEntry, TestEvent, TestState } from './quiet-environment';

type EnvironmentArgs = ConstructorParameters<typeof QuietEnvironment>;

// Drives the environment the way jest-circus does, around a file with two tests, and reads what reaches stderr.
const ROOT = { name: 'ROOT_DESCRIBE_BLOCK' } as TestBlock;
const STATE = { unhandledErrors: [] } as TestState;

function newEnvironment(): QuietEnvironment {
  const config = {
    projectConfig: { rootDir: '/repo', testEnvironmentOptions: {}, globals: {}, fakeTimers: {} },
    globalConfig: {},
  } as unknown as EnvironmentArgs[0];
  return new QuietEnvironment(config, { testPath: '/repo/test/lambda/x.test.ts' } as EnvironmentArgs[1]);
}

function entry(name: string, errors: unknown[] = []): TestEntry {
  return { name, parent: { name: 'export', parent: ROOT }, errors } as TestEntry;
}

/** Everything that reached this process's stdout and stderr while the file ran. */
async function runFile(env: QuietEnvironment, tests: { name: string; fails: boolean }[]): Promise<string> {
  const shown: string[] = [];
  const spies = [process.stdout, process.stderr].map((stream) =>
    jest.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      shown.push(String(chunk));
      return true;
    }),
  );
  try {
    await env.setup();
    const console = env.global.console as Console;
    console.log('loaded the fixtures');
    env.handleTestEvent({ name: 'run_start' } as TestEvent, STATE);
    for (const t of tests) {
      const test = entry(t.name);
      env.handleTestEvent({ name: 'test_start', test } as TestEvent, STATE);
      logger.info(`handler ran in ${t.name}`);
      console.warn(`console in ${t.name}`);
      if (t.fails) test.errors.push(new Error('expected 1, got 2'));
      env.handleTestEvent({ name: 'test_done', test } as TestEvent, STATE);
    }
    env.handleTestEvent({ name: 'run_finish' } as TestEvent, STATE);
    await env.teardown();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return shown.join('');
}

afterEach(() => delete process.env.ACM_EXPORT_TEST_OUTPUT);

test('a file whose tests pass prints nothing: no handler lines, no console output', async () => {
  const shown = await runFile(newEnvironment(), [
    { name: 'first', fails: false },
    { name: 'second', fails: false },
  ]);
  expect(shown).toBe('');
});

test('a failing test prints its own handler lines and console output, with the file-level output', async () => {
  const shown = await runFile(newEnvironment(), [
    { name: 'first', fails: false },
    { name: 'second', fails: true },
  ]);
  expect(shown).toContain('output of test/lambda/x.test.ts test "export › second"');
  expect(shown).toContain('"message":"handler ran in second"');
  expect(shown).toContain('console in second');
  expect(shown).toContain('loaded the fixtures');
  expect(shown).not.toContain('in first');
});

test('ACM_EXPORT_TEST_OUTPUT=show lets everything through as it is written', async () => {
  process.env.ACM_EXPORT_TEST_OUTPUT = 'show';
  const shown = await runFile(newEnvironment(), [{ name: 'first', fails: false }]);
  expect(shown).toContain('"message":"handler ran in first"');
});
