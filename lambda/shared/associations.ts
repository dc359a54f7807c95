/**
 * Convergence: TWO State Manager associations per (certificate, target) on the target's tag (ApplyOnlyAtCronInterval stays false, the default: an association also runs right
 * after it is created or updated, and when the tag's targets change):
 * - the install association (install document, SecretVersionStage=AWSCURRENT), on the convergence schedule and whenever a new
 *   matching node comes online. The document is idempotent, so runs on nodes that already have the current
 *   version change nothing;
 * - the report association (report document), on the shorter drift-report schedule: it changes nothing and
 *   only refreshes the node's custom inventory, so files changed between install runs reach the drift check
 *   before the next install run repairs them.
 *
 * SSM APIs used (what a local emulator must implement):
 * - ListAssociations { AssociationFilterList: [{ key: 'AssociationName', value }], MaxResults, NextToken }
 *   → { Associations: [{ AssociationId, AssociationName, Name, ... }], NextToken }
 * - CreateAssociation { Name (document), DocumentVersion: '$DEFAULT', AssociationName, Targets: [{ Key:
 *   'tag:<k>', Values: [v] }], Parameters: { Name: [value] }, ScheduleExpression: 'rate(...)',
 *   MaxConcurrency, MaxErrors, ComplianceSeverity, SyncCompliance, Tags: [{ Key: 'acm-export:stack', Value:
 *   <stack name> }] } → { AssociationDescription: { AssociationId } }
 * - DescribeAssociation { AssociationId } → { AssociationDescription: { Name, DocumentVersion, AssociationName,
 *   Targets, Parameters, ScheduleExpression, MaxConcurrency, MaxErrors, ComplianceSeverity, SyncCompliance,
 *   ApplyOnlyAtCronInterval, ... } }; error AssociationDoesNotExist when it was deleted meanwhile (then it is
 *   created again). ListAssociations does not return Parameters, so this is what the comparison reads.
 * - UpdateAssociation { AssociationId, ...the same fields but Tags } → { AssociationDescription }, only when
 *   the described association differs from the wanted one: SSM re-applies an association on every update
 *   (each node runs the document again, fetching and decrypting the secret), and on a renewal nothing differs
 *   (the install association names AWSCURRENT, not the version), or when the caller asks to re-apply it
 *   (ssm-run: a tagged node is offline); same AssociationDoesNotExist handling
 * - AddTagsToResource { ResourceType: 'Association', ResourceId, Tags } on every existing association (updated
 *   or not; tagging does not re-apply it): UpdateAssociation has no Tags member, and associations created
 *   before the stack tag existed get it this way
 * - DeleteAssociation { AssociationId } (AssociationDoesNotExist is success)
 */
import {
  AddTagsToResourceCommand,
  CreateAssociationCommand,
  DeleteAssociationCommand,
  DescribeAssociationCommand,
  ListAssociationsCommand,
  ListAssociationsCommandOutput,
  type AssociationDescription,
  SSMClient,
  UpdateAssociationCommand,
} from '@aws-sdk/client-ssm';
import { ASSOCIATION_STACK_TAG } from './contract';
import { isThrottling, rethrowThrottling } from './errors';
import { sha256Hex } from './passphrase';

/**
 * An association run keeps going when a node fails: each node rolls back on its own failure, and the
 * drift check reports nodes that stay behind, so one broken node must not hold back the rest of the fleet.
 */
export const ASSOCIATION_MAX_ERRORS = '100%';

/** `acm-export-` + 40 hex of sha256(certificate, target): stable, valid as an AssociationName. */
export function associationName(certificateArn: string, target: string): string {
  return `acm-export-${sha256Hex(`${certificateArn}\n${target}`).slice(0, 40)}`;
}

/**
 * The target's report association (report document): `acm-export-report-` + the same
 * 40 hex. It changes nothing on the nodes; it refreshes their custom inventory between install runs.
 */
export function reportAssociationName(certificateArn: string, target: string): string {
  return `acm-export-report-${sha256Hex(`${certificateArn}\n${target}`).slice(0, 40)}`;
}

/** The two associations of a target. */
export type AssociationKind = 'install' | 'report';

/**
 * Per kind: the association's name, and the compliance severity a failed run reports. A failed install run
 * leaves a node on an old or missing certificate (HIGH); a failed report run only leaves what the node holds
 * unknown until the next run of either association (MEDIUM).
 */
export const ASSOCIATION_KINDS = {
  install: { name: associationName, complianceSeverity: 'HIGH' },
  report: { name: reportAssociationName, complianceSeverity: 'MEDIUM' },
} as const satisfies Record<
  AssociationKind,
  { name: (certificateArn: string, target: string) => string; complianceSeverity: string }
>;

export interface AssociationSpec {
  kind: AssociationKind;
  certificateArn: string;
  target: string;
  tagKey: string;
  tagValue: string;
  /**
   * Document parameters (install: SecretVersionStage=AWSCURRENT, no SecretVersionId; report: the report
   * document's own, neither).
   */
  parameters: Record<string, string[]>;
  schedule: string;
  maxConcurrency: string;
}

export interface AssociationDeps {
  ssm: SSMClient;
  /** The install document (install associations). */
  documentName: string;
  /** The report document (report associations). */
  reportDocumentName: string;
  /** `STACK_NAME`: value of the ASSOCIATION_STACK_TAG on the associations (the export-api may delete only those). */
  stackName: string;
}

/** The tags of every association this stack writes. */
export function associationTags(stackName: string): { Key: string; Value: string }[] {
  return [{ Key: ASSOCIATION_STACK_TAG, Value: stackName }];
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : '';
}

/** Fields shared by CreateAssociation and UpdateAssociation (Update resets every field it is not given). */
export function associationFields(spec: AssociationSpec, documentName: string) {
  return {
    Name: documentName,
    DocumentVersion: '$DEFAULT',
    AssociationName: ASSOCIATION_KINDS[spec.kind].name(spec.certificateArn, spec.target),
    Targets: [{ Key: `tag:${spec.tagKey}`, Values: [spec.tagValue] }],
    Parameters: spec.parameters,
    ScheduleExpression: spec.schedule,
    // Rate expressions do not take ApplyOnlyAtCronInterval (the API rejects it for them); its default,
    // false, is what convergence needs: run at once, on schedule and when new nodes match the tag.
    MaxConcurrency: spec.maxConcurrency,
    MaxErrors: ASSOCIATION_MAX_ERRORS,
    ComplianceSeverity: ASSOCIATION_KINDS[spec.kind].complianceSeverity,
    SyncCompliance: 'AUTO' as const,
  };
}

/** The id of the association with this name, if any (ListAssociations filtered by name, all pages). */
export async function findAssociation(ssm: SSMClient, name: string): Promise<string | undefined> {
  let token: string | undefined;
  do {
    let page: ListAssociationsCommandOutput;
    try {
      page = await ssm.send(
        new ListAssociationsCommand({
          AssociationFilterList: [{ key: 'AssociationName', value: name }],
          MaxResults: 50,
          NextToken: token,
        }),
      );
    } catch (error) {
      return rethrowThrottling(error, 'ssm:ListAssociations');
    }
    const found = (page.Associations ?? []).find((a) => a.AssociationName === name && a.AssociationId);
    if (found?.AssociationId) return found.AssociationId;
    token = page.NextToken;
  } while (token);
  return undefined;
}

type AssociationFields = ReturnType<typeof associationFields>;

/** Fields of an association that UpdateAssociation resets when not given, and that this stack never sets. */
const UNSET_FIELDS = [
  'AutomationTargetParameterName',
  'OutputLocation',
  'CalendarNames',
  'TargetLocations',
  'ScheduleOffset',
  'Duration',
  'TargetMaps',
  'AlarmConfiguration',
  'AssociationDispatchAssumeRole',
] as const satisfies readonly (keyof AssociationDescription)[];

function sameTargets(
  a: readonly { Key?: string; Values?: string[] }[],
  b: readonly { Key?: string; Values?: string[] }[],
) {
  const norm = (list: readonly { Key?: string; Values?: string[] }[]) =>
    JSON.stringify(list.map((t) => [t.Key ?? '', [...(t.Values ?? [])].sort()]).sort());
  return norm(a) === norm(b);
}

function sameParameters(a: Record<string, string[]>, b: Record<string, string[]>): boolean {
  const keys = Object.keys(a).sort();
  if (JSON.stringify(keys) !== JSON.stringify(Object.keys(b).sort())) return false;
  // Order inside one parameter's list is kept: it is the value as given (a StringList is ordered).
  return keys.every((k) => JSON.stringify(a[k]) === JSON.stringify(b[k]));
}

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.keys(value).length === 0;
  return false;
}

/**
 * The fields (by API name) in which the existing association differs from the wanted one; empty when an
 * UpdateAssociation would change nothing. A field missing from the description counts as different, so an
 * incomplete answer errs towards updating.
 */
export function associationDifferences(current: AssociationDescription, wanted: AssociationFields): string[] {
  const differences: string[] = [];
  const scalar = [
    'Name',
    'DocumentVersion',
    'AssociationName',
    'ScheduleExpression',
    'MaxConcurrency',
    'MaxErrors',
    'ComplianceSeverity',
    'SyncCompliance',
  ] as const;
  for (const field of scalar) if (current[field] !== wanted[field]) differences.push(field);
  if (!sameTargets(current.Targets ?? [], wanted.Targets)) differences.push('Targets');
  if (!sameParameters(current.Parameters ?? {}, wanted.Parameters)) differences.push('Parameters');
  // Never set here (the default, false, is what convergence needs); set by hand, the update resets it.
  if (current.ApplyOnlyAtCronInterval === true) differences.push('ApplyOnlyAtCronInterval');
  for (const field of UNSET_FIELDS) if (!isEmpty(current[field])) differences.push(field);
  return differences;
}

/**
 * The association's current description; `gone` when it no longer exists. When it cannot be read (an error
 * other than throttling), `unreadable` says why: the caller then updates, which is always correct.
 */
async function describeAssociation(
  ssm: SSMClient,
  associationId: string,
): Promise<{ description?: AssociationDescription; gone?: true; unreadable?: string }> {
  try {
    const out = await ssm.send(new DescribeAssociationCommand({ AssociationId: associationId }));
    return out.AssociationDescription ? { description: out.AssociationDescription } : { unreadable: 'no description' };
  } catch (error) {
    if (errorName(error) === 'AssociationDoesNotExist') return { gone: true };
    if (isThrottling(error)) rethrowThrottling(error, 'ssm:DescribeAssociation');
    return { unreadable: errorName(error) || 'Error' };
  }
}

export interface UpsertOptions {
  /**
   * Update the association even when it is as wanted: SSM then runs it on every target node, and a node
   * that is offline runs it when it comes back (a push reaches it only within its delivery timeout).
   */
  reapply?: boolean;
}

export interface UpsertResult {
  associationId: string;
  /**
   * `unchanged`: it existed as wanted, so no UpdateAssociation was sent and nothing re-ran on the nodes;
   * `reapplied`: it existed as wanted and was updated anyway, because the caller asked to re-apply it.
   */
  action: 'created' | 'updated' | 'unchanged' | 'reapplied';
  /** For `updated`: the fields that differed (API names), or why the association could not be compared. */
  differences?: string[];
}

/**
 * Creates one of the target's associations, or updates it when it exists (by the id stored in the
 * inventory, else by its name, so a retried task never creates a second one) and differs from the wanted
 * one. An association that already matches is left alone: an update would make every node run the
 * document again.
 */
export async function upsertAssociation(
  spec: AssociationSpec,
  deps: AssociationDeps,
  knownId?: string,
  options: UpsertOptions = {},
): Promise<UpsertResult> {
  const fields = associationFields(spec, spec.kind === 'report' ? deps.reportDocumentName : deps.documentName);
  const id = knownId ?? (await findAssociation(deps.ssm, fields.AssociationName));
  if (id) {
    const current = await describeAssociation(deps.ssm, id);
    if (current.description) {
      const differences = associationDifferences(current.description, fields);
      if (differences.length === 0 && !options.reapply) {
        await tagAssociation(deps, id);
        return { associationId: id, action: 'unchanged' };
      }
      if (differences.length === 0) {
        const reapplied = await updateAssociation(deps, id, fields);
        if (reapplied) return { associationId: reapplied, action: 'reapplied' };
      } else {
        const updated = await updateAssociation(deps, id, fields);
        if (updated) return { associationId: updated, action: 'updated', differences };
      }
    } else if (!current.gone) {
      const updated = await updateAssociation(deps, id, fields);
      if (updated)
        return { associationId: updated, action: 'updated', differences: [`not compared (${current.unreadable})`] };
    }
    // Deleted meanwhile (by hand or by DELETE .../targets/...): create it again below.
  }
  try {
    const out = await deps.ssm.send(new CreateAssociationCommand({ ...fields, Tags: associationTags(deps.stackName) }));
    const associationId = out.AssociationDescription?.AssociationId;
    if (!associationId) throw new Error('ssm:CreateAssociation returned no association id');
    return { associationId, action: 'created' };
  } catch (error) {
    return rethrowThrottling(error, 'ssm:CreateAssociation');
  }
}

/** Updates and tags the association; undefined when it no longer exists. */
async function updateAssociation(
  deps: AssociationDeps,
  id: string,
  fields: AssociationFields,
): Promise<string | undefined> {
  let updated: string;
  try {
    const out = await deps.ssm.send(new UpdateAssociationCommand({ AssociationId: id, ...fields }));
    updated = out.AssociationDescription?.AssociationId ?? id;
  } catch (error) {
    if (errorName(error) === 'AssociationDoesNotExist') return undefined;
    return rethrowThrottling(error, 'ssm:UpdateAssociation');
  }
  await tagAssociation(deps, updated);
  return updated;
}

/**
 * Puts the stack tag on an existing association (overwriting the value if present): associations created
 * before the tag existed could not be deleted by the export-api otherwise.
 */
async function tagAssociation(deps: AssociationDeps, associationId: string): Promise<void> {
  try {
    await deps.ssm.send(
      new AddTagsToResourceCommand({
        ResourceType: 'Association',
        ResourceId: associationId,
        Tags: associationTags(deps.stackName),
      }),
    );
  } catch (error) {
    rethrowThrottling(error, 'ssm:AddTagsToResource');
  }
}

/** Deletes the target's association (by id, else by name). Returns false when there was none. */
export async function removeAssociation(ssm: SSMClient, name: string, knownId?: string): Promise<boolean> {
  const id = knownId ?? (await findAssociation(ssm, name));
  if (!id) return false;
  try {
    await ssm.send(new DeleteAssociationCommand({ AssociationId: id }));
    return true;
  } catch (error) {
    if (errorName(error) === 'AssociationDoesNotExist') return knownId ? removeAssociation(ssm, name) : false;
    return rethrowThrottling(error, 'ssm:DeleteAssociation');
  }
}
