/**
 * How commands plug into the program. A command module is a function that adds one command (or a group of
 * commands) to the program; `cli/commands.ts` lists the modules the program is built from.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { ApiClient } from './api-client';
import type { CliIo, GlobalOptions } from './context';

export interface CommandContext {
  io: CliIo;
  /** The global options (--endpoint, --stack, --region, --profile, --json, --debug) as seen from a command. */
  globals(command: Command): GlobalOptions;
  /** A signed client for the export API, built from the global options. */
  api(command: Command): Promise<ApiClient>;
  /** Sets the process exit code of this run (the last call wins; errors thrown from an action exit 1). */
  exit(code: number): void;
}

export type CommandModule = (program: Command, context: CommandContext) => void;

/** Parses a positive integer option value (commander argParser). */
export function integerOption(name: string, min = 0, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
    }
    return Number(value);
  };
}
