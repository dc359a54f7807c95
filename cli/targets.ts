/**
 * `acm-export targets delete ARN --tag Key=Value` (also `acm-export untarget`): stop managing a target. Removes
 * its convergence association and its inventory item; the files already installed on the nodes stay.
 */
import type { Command } from 'commander';
import type { DeleteTargetResponse } from '../lambda/shared/api-types';
import { field } from '../lambda/shared/schemas';
import { FIELD_RULES } from '../lambda/shared/patterns';
import type { CommandContext, CommandModule } from './command';
import { parseTag } from './export';
import { ApiError, apiErrorToCli, CliError } from './errors';
import { printJson } from './output';

interface DeleteOptions {
  tag: string;
}

async function deleteTargetAction(context: CommandContext, arn: string, options: DeleteOptions, command: Command): Promise<void> {
  const globals = context.globals(command);
  const arnCheck = field('CertificateArn').safeParse(arn);
  if (!arnCheck.success) {
    throw new CliError('reading ARN', arnCheck.error.issues[0]?.message ?? 'not a certificate ARN', 'Pass the full certificate ARN (see "acm-export certificates --json").');
  }
  const { key, value } = parseTag(options.tag);
  const target = `${key}=${value}`;
  if (!new RegExp(FIELD_RULES.Target.pattern).test(target)) {
    throw new CliError('reading --tag', 'not a valid Key=Value target', 'Pass the target exactly as "acm-export certificates" lists it, e.g. --tag Role=web.');
  }
  const api = await context.api(command);
  let result: DeleteTargetResponse;
  try {
    result = await api.deleteTarget(arn, target);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      throw new CliError(`deleting target ${target}`, 'the certificate has no such target', 'List the targets with "acm-export certificates".');
    }
    throw error instanceof ApiError ? apiErrorToCli(error, `DELETE target ${target}`) : error;
  }
  if (globals.json) printJson(context.io.stdout, result);
  else {
    context.io.stdout.write(
      `target ${target} of ${arn} removed: association ${result.associationDeleted ? 'deleted' : 'not found'}, inventory item ${result.inventoryItemDeleted ? 'deleted' : 'not found'}; installed files were left on the nodes\n`,
    );
  }
  context.exit(0);
}

const HELP = `
Removes the target's State Manager association (no more convergence runs) and its inventory item (no more
renewals to it, no drift alerts). Certificate files already installed on the nodes are left alone.

Examples:
  $ acm-export --stack AcmExport targets delete arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666 --tag Role=web
  $ acm-export --stack AcmExport untarget ARN --tag Role=web --json`;

export const registerTargets: CommandModule = (program, context) => {
  const targets = program.command('targets').summary('manage the targets a certificate is installed on');
  targets
    .command('delete')
    .summary('stop installing a certificate on a target (files stay on the nodes)')
    .argument('<arn>', 'ARN of the ACM certificate')
    .requiredOption('--tag <key=value>', 'the target, as listed by "acm-export certificates"')
    .addHelpText('after', HELP)
    .action((arn: string, options: DeleteOptions, command: Command) => deleteTargetAction(context, arn, options, command));
  program
    .command('untarget')
    .summary('same as "targets delete"')
    .argument('<arn>', 'ARN of the ACM certificate')
    .requiredOption('--tag <key=value>', 'the target, as listed by "acm-export certificates"')
    .addHelpText('after', HELP)
    .action((arn: string, options: DeleteOptions, command: Command) => deleteTargetAction(context, arn, options, command));
};
