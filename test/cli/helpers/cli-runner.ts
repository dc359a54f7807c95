/** Runs the CLI in-process with captured output, fake credentials in its env, and a sleep that does not wait. */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, type CliIo } from '../../../cli/main';
import { TEST_CREDENTIALS, TEST_REGION } from './fake-api';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  sleeps: number[];
}

export async function runCli(
  argv: string[],
  overrides: Partial<CliIo> & { env?: Record<string, string | undefined>; tty?: boolean } = {},
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const sleeps: number[] = [];
  const { env, tty, ...rest } = overrides;
  const code = await run(argv, {
    stdout: { write: (text: string) => (stdout += text), isTTY: tty ?? false },
    stderr: { write: (text: string) => (stderr += text) },
    env: {
      AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
      AWS_REGION: TEST_REGION,
      AWS_CONFIG_FILE: join(tmpdir(), 'acm-export-test-no-such-config'),
      ...env,
    },
    sleep: async (ms: number) => {
      sleeps.push(ms);
    },
    ...rest,
  });
  return { code, stdout, stderr, sleeps };
}
