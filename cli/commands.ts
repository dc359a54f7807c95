/**
 * The command modules the program is built from, in help order. To add a command group from another part of
 * the project, export a {@link CommandModule} there (e.g. `registerLocalCommands(program, context)` adding
 * `local up|demo|renew`) and add it to this list, or pass extra modules to `run()` / `buildProgram()`.
 */
import type { CommandModule } from './command';
import { registerCertificates } from './certificates';
import { registerDoctor } from './doctor/command';
import { registerExport } from './export';
import { registerRenew } from './renew';
import { registerSelftest } from './selftest';
import { registerStatus } from './status';
import { registerTargets } from './targets';
import { registerLocalCommands } from '../local/cli';

export const COMMAND_MODULES: readonly CommandModule[] = [
  registerExport,
  registerStatus,
  registerCertificates,
  registerRenew,
  registerTargets,
  registerSelftest,
  registerDoctor,
  registerLocalCommands,
];
