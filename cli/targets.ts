/**
 * `acm-export targets delete ARN --tag Key=Value [--remove-files]` (also `acm-export untarget`): stop managing
 * a target. Removes its associations and its inventory item; the files already installed on the nodes stay,
 * unless `--remove-files` sends the nodes the install document's remove run (asynchronous: the command id and
 * how to follow it are printed).
 */
import type { Command } from 'commander';
import type { DeleteTargetResponse } from '../lambda/export-api/api-types';
import { field } from '../lambda/shared/schemas';
import { FIELD_RULES } from '../lambda/shared/patterns';
import type { CommandContext, CommandModule } from './command';
import { parseTag } from './export';
import { ApiError, apiErrorToCli, CliError } from './errors';
import { printJson } from './output';

interface DeleteOptions {
  tag: string;
  removeFiles?: boolean;
}

function found(deleted: boolean): string {
  return deleted ? 'deleted' : 'not found';
}

/** The human-readable result: what was deleted, and what happens to the files. */
export function deleteTargetSummary(result: DeleteTargetResponse, region: string): string {
  const lines = [
    `target ${result.target} of ${result.certificateArn} removed: association ${found(result.associationDeleted)}, ` +
      `report association ${found(result.reportAssociationDeleted)}, inventory item ${found(result.inventoryItemDeleted)}; ` +
      (result.filesRemoval.requested
        ? 'the nodes were sent the removal of the installed files'
        : 'installed files were left on the nodes'),
  ];
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

async function deleteTargetAction(
  context: CommandContext,
  arn: string,
  options: DeleteOptions,
  command: Command,
): Promise<void> {
  const globals = context.globals(command);
  const arnCheck = field('CertificateArn').safeParse(arn);
  if (!arnCheck.success) {
    throw new CliError(
      'reading ARN',
      arnCheck.error.issues[0]?.message ?? 'not a certificate ARN',
      'Pass the full certificate ARN (see "acm-export certificates --json").',
    );
  }
  const { key, value } = parseTag(options.tag);
  const target = `${key}=${value}`;
  if (!new RegExp(FIELD_RULES.Target.pattern).test(target)) {
    throw new CliError(
      'reading --tag',
      'not a valid Key=Value target',
      'Pass the target exactly as "acm-export certificates" lists it, e.g. --tag Role=web.',
    );
  }
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
  if (globals.json) printJson(context.io.stdout, result);
  else context.io.stdout.write(deleteTargetSummary(result, api.region));
  context.exit(0);
}

const HELP = `
Removes the target's State Manager associations (no more convergence or report runs) and its inventory item
(no more renewals to it, no drift alerts). Certificate files already installed on the nodes are left alone,
unless --remove-files: then, after the associations, the nodes are sent a removal run of the install
document. It runs asynchronously: each node moves the files aside, runs the web server's configuration
test, and deletes them only if the test passes (a server that still uses them keeps them, and that node's
run fails). The command id is printed; follow it with
"aws ssm list-command-invocations --command-id ID --details" or in the Run Command output log group.

Examples:
  $ acm-export --stack AcmExport targets delete arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666 --tag Role=web
  $ acm-export --stack AcmExport targets delete ARN --tag Role=web --remove-files
  $ acm-export --stack AcmExport untarget ARN --tag Role=web --json`;

const REMOVE_FILES_HELP = 'also remove the installed files from the nodes (asynchronous; prints the command id)';

export const registerTargets: CommandModule = (program, context) => {
  const targets = program.command('targets').summary('manage the targets a certificate is installed on');
  targets
    .command('delete')
    .summary('stop installing a certificate on a target (files stay on the nodes unless --remove-files)')
    .argument('<arn>', 'ARN of the ACM certificate')
    .requiredOption('--tag <key=value>', 'the target, as listed by "acm-export certificates"')
    .option('--remove-files', REMOVE_FILES_HELP)
    .addHelpText('after', HELP)
    .action((arn: string, options: DeleteOptions, command: Command) =>
      deleteTargetAction(context, arn, options, command),
    );
  program
    .command('untarget')
    .summary('same as "targets delete"')
    .argument('<arn>', 'ARN of the ACM certificate')
    .requiredOption('--tag <key=value>', 'the target, as listed by "acm-export certificates"')
    .option('--remove-files', REMOVE_FILES_HELP)
    .addHelpText('after', HELP)
    .action((arn: string, options: DeleteOptions, command: Command) =>
      deleteTargetAction(context, arn, options, command),
    );
};
