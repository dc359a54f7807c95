/**
 * `acm-export targets delete ARN --tag Key=Value [--remove-files]` (also `acm-export untarget`): stop managing
 * a target. Removes its associations and its inventory item; the files already installed on the nodes stay,
 * unless `--remove-files`: then the nodes are sent the install document's remove run and the command waits
 * for its outcome (GET .../removal, which deletes the inventory item once every node removed the files, or
 * keeps it as RemovalFailed with a line per node that kept them). `targets removal` checks once.
 */
import type { Command } from 'commander';
import type { DeleteTargetResponse, TargetRemovalResponse } from '../lambda/export-api/api-types';
import type { ApiClient } from './api-client';
import { field } from '../lambda/shared/schemas';
import { FIELD_RULES } from '../lambda/shared/patterns';
import { integerOption, type CommandContext, type CommandModule } from './command';
import { parseTag } from './export';
import { ApiError, apiErrorToCli, CliError } from './errors';
import { printJson } from './output';

interface DeleteOptions {
  tag: string;
  removeFiles?: boolean;
  /** commander's `--no-wait`: true unless given. */
  wait?: boolean;
  timeout?: number;
}

/** Default of `--timeout`: how long `--remove-files` waits for the nodes (seconds). */
export const REMOVAL_WAIT_SECONDS = 600;
const FIRST_REMOVAL_POLL_MS = 2000;
const MAX_REMOVAL_POLL_MS = 10_000;

function found(deleted: boolean): string {
  return deleted ? 'deleted' : 'not found';
}

/** The human-readable result: what was deleted, and what happens to the files. */
export function deleteTargetSummary(result: DeleteTargetResponse, region: string): string {
  const item =
    result.removalStatus === 'Removing'
      ? 'inventory item kept (Removing) until every node removed the files'
      : `inventory item ${found(result.inventoryItemDeleted)}`;
  const lines = [
    `target ${result.target} of ${result.certificateArn} removed: association ${found(result.associationDeleted)}, ` +
      `report association ${found(result.reportAssociationDeleted)}, ${item}; ` +
      (result.filesRemoval.requested
        ? 'the nodes were sent the removal of the installed files'
        : 'installed files were left on the nodes'),
  ];
  const secret = result.secretDeletion;
  if (secret)
    lines.push(
      secret.scheduled
        ? `secret:          scheduled for deletion on ${secret.deletionDate} (${secret.recoveryWindowDays}-day recovery window; exporting to the target again restores it)`
        : `secret:          not scheduled for deletion: ${secret.reason}`,
    );
  if (result.filesRemoval.requested) {
    const { commandId, logGroupName } = result.filesRemoval;
    lines.push(
      `removal command: ${commandId} (runs on each node on its own; a node whose web server still uses the files keeps them and fails at the configuration test)`,
      `follow it:       aws ssm list-command-invocations --region ${region} --command-id ${commandId} --details`,
      `node output:     CloudWatch log group ${logGroupName}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The outcome of a removal, one line, then one line per node that did not remove the files. */
export function removalSummary(removal: TargetRemovalResponse, command: string): string {
  const nodes = removal.nodes ? ` (${removal.nodes.completed}/${removal.nodes.total} node(s) done)` : '';
  switch (removal.status) {
    case 'Removed':
      return `files removed from every node${nodes}; the inventory item was deleted\n`;
    case 'Removing':
      return `the nodes are still removing the files${nodes}; the inventory item stays (Removing). Check again: ${command}\n`;
    case 'RemovalFailed':
      return [
        `the removal did not finish: the inventory item stays (RemovalFailed), so the files are still on record`,
        ...removal.failures.map((line) => `  ${line}`),
        'Fix what the lines say (e.g. point the web server at other files), then repeat "targets delete ... --remove-files".',
        '',
      ].join('\n');
  }
}

type RemovalOutcome = TargetRemovalResponse | { status: 'Superseded' };

/**
 * One check of the removal. `started`: when this command's DELETE started it; then a 404 means another check
 * already finished it. Without one (`targets removal`), a 404 cannot tell that from a target never added.
 */
async function checkRemoval(
  api: ApiClient,
  arn: string,
  target: string,
  started: string | undefined,
): Promise<RemovalOutcome> {
  try {
    return await api.targetRemoval(arn, target);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      if (started !== undefined)
        return { certificateArn: arn, target, status: 'Removed', requestedAt: started, failures: [] };
      throw new CliError(
        `checking the removal of target ${target}`,
        'the target is not in the inventory: its removal finished, or it was never added',
        'List the targets with "acm-export certificates".',
      );
    }
    // 409: the item is no longer being removed (an export of the target since then took it over).
    if (error instanceof ApiError && error.status === 409) return { status: 'Superseded' };
    throw error instanceof ApiError ? apiErrorToCli(error, `GET removal of target ${target}`) : error;
  }
}

/** Polls until the removal is no longer Removing, or `timeoutSeconds` passed. */
async function waitForRemoval(
  context: CommandContext,
  api: ApiClient,
  arn: string,
  target: string,
  timeoutSeconds: number,
): Promise<RemovalOutcome> {
  const deadline = context.io.now() + timeoutSeconds * 1000;
  const started = new Date(context.io.now()).toISOString();
  let pause = FIRST_REMOVAL_POLL_MS;
  for (;;) {
    const removal = await checkRemoval(api, arn, target, started);
    if (removal.status !== 'Removing' || context.io.now() >= deadline) return removal;
    await context.io.sleep(pause);
    pause = Math.min(pause * 2, MAX_REMOVAL_POLL_MS);
  }
}

function removalCommandLine(arn: string, target: string): string {
  return `acm-export targets removal ${arn} --tag ${target}`;
}

/** Prints a removal's outcome and sets the exit code: 0 removed (or still running without waiting), 1 otherwise. */
function reportRemoval(context: CommandContext, json: boolean, outcome: RemovalOutcome, arn: string, target: string) {
  if (outcome.status === 'Superseded') {
    context.io.stdout.write(
      `the removal stopped: the target is no longer being removed (an export to it since then took it over)\n`,
    );
    context.exit(1);
    return;
  }
  if (!json) context.io.stdout.write(removalSummary(outcome, removalCommandLine(arn, target)));
  context.exit(outcome.status === 'Removed' ? 0 : 1);
}

/** Validates the ARN and `--tag` locally; returns the target as the API names it. */
function checkedTarget(arn: string, tag: string): string {
  const arnCheck = field('CertificateArn').safeParse(arn);
  if (!arnCheck.success) {
    throw new CliError(
      'reading ARN',
      arnCheck.error.issues[0]?.message ?? 'not a certificate ARN',
      'Pass the full certificate ARN (see "acm-export certificates --json").',
    );
  }
  const { key, value } = parseTag(tag);
  const target = `${key}=${value}`;
  if (!new RegExp(FIELD_RULES.Target.pattern).test(target)) {
    throw new CliError(
      'reading --tag',
      'not a valid Key=Value target',
      'Pass the target exactly as "acm-export certificates" lists it, e.g. --tag Role=web.',
    );
  }
  return target;
}

async function deleteTargetAction(
  context: CommandContext,
  arn: string,
  options: DeleteOptions,
  command: Command,
): Promise<void> {
  const globals = context.globals(command);
  const target = checkedTarget(arn, options.tag);
  const api = await context.api(command);
  let result: DeleteTargetResponse;
  try {
    result = await api.deleteTarget(arn, target, { removeFiles: options.removeFiles === true });
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      const hint = options.removeFiles
        ? 'List the targets with "acm-export certificates"; without its inventory record nothing says which files to remove (nothing was changed).'
        : 'List the targets with "acm-export certificates".';
      throw new CliError(`deleting target ${target}`, 'the certificate has no such target', hint);
    }
    throw error instanceof ApiError ? apiErrorToCli(error, `DELETE target ${target}`) : error;
  }
  const waits = result.removalStatus === 'Removing' && options.wait !== false;
  if (!waits) {
    if (globals.json) printJson(context.io.stdout, result);
    else context.io.stdout.write(deleteTargetSummary(result, api.region));
    context.exit(0);
    return;
  }
  if (!globals.json) context.io.stdout.write(deleteTargetSummary(result, api.region));
  const outcome = await waitForRemoval(context, api, arn, target, options.timeout ?? REMOVAL_WAIT_SECONDS);
  if (globals.json) printJson(context.io.stdout, { ...result, removal: outcome });
  reportRemoval(context, globals.json === true, outcome, arn, target);
}

/** `targets removal ARN --tag Key=Value`: one check of a removal (finishes it when every node is done). */
async function removalAction(context: CommandContext, arn: string, options: { tag: string }, command: Command) {
  const globals = context.globals(command);
  const target = checkedTarget(arn, options.tag);
  const api = await context.api(command);
  const outcome = await checkRemoval(api, arn, target, undefined);
  if (globals.json) printJson(context.io.stdout, outcome);
  reportRemoval(context, globals.json === true, outcome, arn, target);
}

const HELP = `
Removes the target's State Manager associations (no more convergence or report runs) and its inventory item
(no more renewals to it, no drift alerts). Certificate files already installed on the nodes are left alone,
unless --remove-files: then the inventory item is kept, marked Removing (renewals and drift alerts skip it),
the associations are deleted and the nodes are sent a run of the remove document. Each node moves
the files aside, runs the web server's configuration test, and deletes them only if the test passes (a
server that still uses them keeps them, and that node's run fails). The command waits for the outcome
(--no-wait: it does not; "targets removal" checks later): when every node removed the files the inventory
item is deleted (exit 0); otherwise it stays as RemovalFailed with one line per node that kept the files
(exit 1): fix that, then run the same command again. The command id is printed too; follow it with
"aws ssm list-command-invocations --command-id ID --details" or in the Run Command output log group.

Examples:
  $ acm-export --stack AcmExport targets delete arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666 --tag Role=web
  $ acm-export --stack AcmExport targets delete ARN --tag Role=web --remove-files
  $ acm-export --stack AcmExport untarget ARN --tag Role=web --json`;

const REMOVE_FILES_HELP =
  'also remove the installed files from the nodes; waits until every node removed them (the inventory item goes) or one refused (it stays)';

/** The options `targets delete` and `untarget` share. */
function deleteCommand(command: Command, context: CommandContext): Command {
  return command
    .argument('<arn>', 'ARN of the ACM certificate')
    .requiredOption('--tag <key=value>', 'the target, as listed by "acm-export certificates"')
    .option('--remove-files', REMOVE_FILES_HELP)
    .option('--no-wait', 'with --remove-files: print the command id and return without waiting for the nodes')
    .option(
      '--timeout <seconds>',
      `with --remove-files: how long to wait for the nodes (default ${REMOVAL_WAIT_SECONDS})`,
      integerOption('--timeout', 1, 86_400),
    )
    .addHelpText('after', HELP)
    .action((arn: string, options: DeleteOptions, cmd: Command) => deleteTargetAction(context, arn, options, cmd));
}

export const registerTargets: CommandModule = (program, context) => {
  const targets = program.command('targets').summary('manage the targets a certificate is installed on');
  deleteCommand(
    targets
      .command('delete')
      .summary('stop installing a certificate on a target (files stay on the nodes unless --remove-files)'),
    context,
  );
  targets
    .command('removal')
    .summary('check a --remove-files removal once (deletes the inventory item when every node removed the files)')
    .argument('<arn>', 'ARN of the ACM certificate')
    .requiredOption('--tag <key=value>', 'the target, as listed by "acm-export certificates"')
    .action((arn: string, options: { tag: string }, command: Command) => removalAction(context, arn, options, command));
  deleteCommand(program.command('untarget').summary('same as "targets delete"'), context);
};
