/**
 * `acm-export local associations run`: runs the targets' State Manager associations now, as their schedules
 * would (every association, only the install or only the report ones, of every target or of one), and
 * reports each run.
 */
import { associationName, reportAssociationName } from '../lambda/shared/associations';
import type { LocalAssociationRunRequest } from './api';
import type { StateManager } from './aws-emulator/associations';
import { LocalModeError } from './errors';

/** install: SecretVersionStage=AWSCURRENT; report: the report document; other: not created by the workflow. */
export type LocalAssociationKind = 'install' | 'report' | 'other';

/** One association run on one node. */
export interface LocalAssociationNodeRun {
  instanceId: string;
  /** Local node name (node-1, ...). */
  node?: string;
  /** Run Command status of the run (Success, Failed, ...). */
  status: string;
}

export interface LocalAssociationRunResult {
  associations: {
    associationId: string;
    name?: string;
    kind: LocalAssociationKind;
    /** `<TagKey>=<TagValue>` (the document's Target parameter). */
    target?: string;
    certName?: string;
    runs: LocalAssociationNodeRun[];
  }[];
}

const INSTALL_NAME = /^acm-export-[0-9a-f]{40}$/;
const REPORT_NAME = /^acm-export-report-[0-9a-f]{40}$/;

function kindOf(name: string | undefined): LocalAssociationKind {
  if (name && REPORT_NAME.test(name)) return 'report';
  if (name && INSTALL_NAME.test(name)) return 'install';
  return 'other';
}

/** Runs the associations the request selects, waits for their runs, and returns them per association. */
export async function runAssociationsNow(
  associations: StateManager,
  nodeNames: ReadonlyMap<string, string>,
  request: LocalAssociationRunRequest,
): Promise<LocalAssociationRunResult> {
  let selected = associations.summaries().map((a) => ({ ...a, kind: kindOf(a.name) }));
  if (request.certificateArn !== undefined && request.target !== undefined) {
    const names = new Set([
      associationName(request.certificateArn, request.target),
      reportAssociationName(request.certificateArn, request.target),
    ]);
    selected = selected.filter((a) => a.name !== undefined && names.has(a.name));
    if (selected.length === 0)
      throw new LocalModeError(
        `no associations for ${request.certificateArn} on target ${request.target} (export it to that target first)`,
      );
  }
  if (request.kind) selected = selected.filter((a) => a.kind === request.kind);
  const started = Date.now();
  const ids = new Set(selected.map((a) => a.id));
  await Promise.all(selected.map((a) => associations.runNow(a.id)));
  const runs = associations.runs.filter(
    (r) => ids.has(r.associationId) && r.reason === 'run-now' && r.start.getTime() >= started,
  );
  return {
    associations: selected.map((a) => ({
      associationId: a.id,
      ...(a.name !== undefined ? { name: a.name } : {}),
      kind: a.kind,
      ...(a.parameters.Target?.[0] ? { target: a.parameters.Target[0] } : {}),
      ...(a.parameters.CertName?.[0] ? { certName: a.parameters.CertName[0] } : {}),
      runs: runs
        .filter((r) => r.associationId === a.id)
        .map((r) => ({
          instanceId: r.instanceId,
          ...(nodeNames.has(r.instanceId) ? { node: nodeNames.get(r.instanceId) } : {}),
          status: r.status,
        })),
    })),
  };
}
