/**
 * Emulated SSM State Manager associations: CreateAssociation, UpdateAssociation, DeleteAssociation,
 * DescribeAssociation and ListAssociations, their tags (CreateAssociation's Tags, AddTagsToResource and
 * ListTagsForResource with ResourceType Association), and the runs themselves. An association is applied
 *   - to every node matching its targets when it is created or updated (ApplyOnlyAtCronInterval false),
 *   - on its rate schedule (emulated seconds scaled by msPerSecond; cron schedules are accepted but only
 *     run through {@link StateManager.runNow}),
 *   - to a node that registers while matching its targets, and to a node that comes back online while a
 *     run for it is pending (an offline node's run waits for it, as the agent picks it up when it returns).
 * Each run on a node is a one-node command dispatched through the same path as SendCommand (real
 * document, parameters as environment variables), recorded per node with status and output. Runs on one
 * node for one association never overlap: a request while one runs is queued behind it (once).
 */
import { randomUUID } from 'node:crypto';
import type { SsmCommandDocument } from '../../ssm-documents/load';
import { AwsServiceError } from './errors';
import { epochSeconds, Input, paginate, type JsonObject } from './input';
import type { CommandRunner } from './command-runner';
import type { Command } from './commands';
import type { ManagedNode } from './managed-nodes';
import { resolveParameters } from './parameters';

export interface StateManagerOptions {
  region: string;
  accountId: string;
  /** Real milliseconds per emulated second of the schedules. */
  msPerSecond: number;
  nodes(): ManagedNode[];
  matches(node: ManagedNode, targets: { Key: string; Values: string[] }[]): boolean;
  document(name: string): SsmCommandDocument | undefined;
  /** Runs each association run's one-node command, as it runs SendCommand's. */
  runner: CommandRunner;
}

export type AssociationRunReason = 'created' | 'updated' | 'schedule' | 'node-registered' | 'node-online' | 'run-now';

/** One run of an association on one node. */
export interface AssociationRun {
  associationId: string;
  instanceId: string;
  commandId: string;
  reason: AssociationRunReason;
  status: string;
  start: Date;
  end?: Date;
  stdout: string;
  stderr: string;
}

interface NodeState {
  status: 'Pending' | 'InProgress' | 'Success' | 'Failed';
  detailedStatus: string;
  pending?: AssociationRunReason;
  running?: Promise<void>;
  rerun?: AssociationRunReason;
  lastRun?: AssociationRun;
}

interface Association {
  id: string;
  name?: string;
  documentName: string;
  version: number;
  targets: { Key: string; Values: string[] }[];
  parameters: Record<string, string[]>;
  schedule?: string;
  periodSeconds?: number;
  nextRunAt?: number;
  maxConcurrency?: string;
  maxErrors?: string;
  complianceSeverity?: string;
  syncCompliance?: string;
  createdAt: Date;
  updatedAt: Date;
  lastExecutionDate?: Date;
  nodes: Map<string, NodeState>;
  deleted?: boolean;
  /** Kept across UpdateAssociation, which has no Tags member (as in SSM). */
  tags: Map<string, string>;
  active: number;
  waiting: (() => void)[];
}

const RATE = /^rate\(([1-9][0-9]{0,4}) (minute|minutes|hour|hours|day|days)\)$/;
const UNIT_SECONDS: Record<string, number> = {
  minute: 60,
  minutes: 60,
  hour: 3600,
  hours: 3600,
  day: 86400,
  days: 86400,
};
const CONCURRENCY = /^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$/;
const ERRORS = /^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$/;
/** Most tags on one association (SSM's limit for most resource types; AddTagsToResource documentation). */
const MAX_TAGS = 50;

/**
 * A Tags list as [Key, Value] pairs (required members, lengths and patterns are checked against AWS's model
 * before dispatch); a key given twice in one request is rejected.
 */
function readTags(input: Input, member: string): [string, string][] {
  const list = input.optList(member) ?? [];
  const pairs = list.map((t) => [String(t.Key), String(t.Value)] as [string, string]);
  if (new Set(pairs.map(([key]) => key)).size !== pairs.length)
    throw new AwsServiceError('InvalidParameters', 'A tag key can be given only once.');
  if (pairs.length > MAX_TAGS)
    throw new AwsServiceError('TooManyTagsError', `The resource can have at most ${MAX_TAGS} tags.`);
  return pairs;
}

/** Most runs kept in {@link StateManager.runs}. */
const MAX_RUNS_KEPT = 5000;

export class StateManager {
  private readonly associations = new Map<string, Association>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly online = new Map<string, boolean>();
  private readonly ticker: NodeJS.Timeout;
  /** Every run, oldest first (tests read statuses, outputs and reasons here). */
  readonly runs: AssociationRun[] = [];
  /** Commands of association runs, by id (not listed by ListCommands, as in SSM). */
  readonly commands = new Map<string, Command>();

  constructor(private readonly options: StateManagerOptions) {
    this.ticker = setInterval(() => this.tick(), 50);
    this.ticker.unref();
  }

  close(): void {
    clearInterval(this.ticker);
  }

  // ---- API --------------------------------------------------------------------------------------

  create(input: Input): JsonObject {
    const fields = this.readFields(input, true);
    const tags = readTags(input, 'Tags');
    if (fields.name && [...this.associations.values()].some((a) => a.name === fields.name))
      throw new AwsServiceError('AssociationAlreadyExists', 'The specified association already exists.');
    const now = new Date();
    const a: Association = {
      id: randomUUID(),
      ...fields,
      version: 1,
      createdAt: now,
      updatedAt: now,
      nodes: new Map(),
      tags: new Map(tags),
      active: 0,
      waiting: [],
    };
    this.schedule(a);
    this.associations.set(a.id, a);
    this.applyToTargets(a, 'created');
    return { AssociationDescription: this.description(a) };
  }

  update(input: Input): JsonObject {
    const a = this.find(input.string('AssociationId'));
    const fields = this.readFields(input, false, a.documentName);
    if (fields.name && [...this.associations.values()].some((o) => o !== a && o.name === fields.name))
      throw new AwsServiceError('AssociationAlreadyExists', 'The specified association already exists.');
    // UpdateAssociation replaces the association with what the request gives (absent optional fields reset).
    Object.assign(
      a,
      {
        name: undefined,
        schedule: undefined,
        periodSeconds: undefined,
        nextRunAt: undefined,
        maxConcurrency: undefined,
        maxErrors: undefined,
        complianceSeverity: undefined,
        syncCompliance: undefined,
      },
      fields,
    );
    a.version++;
    a.updatedAt = new Date();
    this.schedule(a);
    this.applyToTargets(a, 'updated');
    return { AssociationDescription: this.description(a) };
  }

  delete(input: Input): JsonObject {
    const a = this.find(input.string('AssociationId'));
    a.deleted = true;
    this.associations.delete(a.id);
    for (const s of a.nodes.values()) {
      s.pending = undefined;
      s.rerun = undefined;
    }
    return {};
  }

  /** AddTagsToResource with ResourceType Association: adds or overwrites. */
  addTags(id: string, input: Input): JsonObject {
    const a = this.taggable(id);
    const tags = readTags(input, 'Tags');
    const merged = new Map([...a.tags, ...tags]);
    if (merged.size > MAX_TAGS)
      throw new AwsServiceError('TooManyTagsError', `The resource can have at most ${MAX_TAGS} tags.`);
    a.tags = merged;
    return {};
  }

  /** ListTagsForResource with ResourceType Association. */
  listTags(id: string): JsonObject {
    return { TagList: [...this.taggable(id).tags].map(([Key, Value]) => ({ Key, Value })) };
  }

  private taggable(id: string): Association {
    const a = this.associations.get(id);
    // AddTagsToResource and ListTagsForResource name a missing resource this way, not AssociationDoesNotExist.
    if (!a)
      throw new AwsServiceError(
        'InvalidResourceId',
        'The resource ID is not valid. Verify that you entered the correct ID and try again.',
      );
    return a;
  }

  describe(input: Input): JsonObject {
    const id = input.optString('AssociationId');
    if (!id)
      throw new AwsServiceError(
        'AssociationDoesNotExist',
        'Specify AssociationId (the local emulator does not look associations up by Name and InstanceId).',
      );
    return { AssociationDescription: this.description(this.find(id)) };
  }

  list(input: Input): JsonObject {
    let list = [...this.associations.values()].sort((x, y) => x.createdAt.getTime() - y.createdAt.getTime());
    for (const f of input.optList('AssociationFilterList') ?? []) {
      const key = String(f.key ?? '');
      const value = String(f.value ?? '');
      if (value === '')
        throw new AwsServiceError(
          'ValidationException',
          'AssociationFilter value: Member must have length greater than or equal to 1',
        );
      switch (key) {
        case 'AssociationName':
          list = list.filter((a) => a.name === value);
          break;
        case 'Name':
          list = list.filter((a) => a.documentName === value);
          break;
        case 'AssociationId':
          list = list.filter((a) => a.id === value);
          break;
        case 'AssociationStatusName':
          list = list.filter((a) => this.overview(a).Status === value);
          break;
        default:
          throw new AwsServiceError(
            'InvalidFilterKey',
            `The filter key ${key.slice(0, 40)} is not supported by the local emulator.`,
          );
      }
    }
    const { page, nextToken } = paginate(list, input.optNumber('MaxResults'), input.optString('NextToken'), 50);
    return {
      Associations: page.map((a) => ({
        Name: a.documentName,
        AssociationId: a.id,
        AssociationVersion: String(a.version),
        DocumentVersion: '$DEFAULT',
        Targets: a.targets,
        ...(a.lastExecutionDate ? { LastExecutionDate: epochSeconds(a.lastExecutionDate) } : {}),
        Overview: this.overview(a),
        ...(a.schedule ? { ScheduleExpression: a.schedule } : {}),
        ...(a.name ? { AssociationName: a.name } : {}),
      })),
      ...(nextToken ? { NextToken: nextToken } : {}),
    };
  }

  // ---- local controls ---------------------------------------------------------------------------

  /** Association ids, oldest first. */
  ids(): string[] {
    return [...this.associations.keys()];
  }

  /** Each association's id, name and parameters, oldest first (what the local controls show). */
  summaries(): { id: string; name?: string; parameters: Record<string, string[]> }[] {
    return [...this.associations.values()].map((a) => ({
      id: a.id,
      ...(a.name !== undefined ? { name: a.name } : {}),
      parameters: a.parameters,
    }));
  }

  /** The association's last run on each node (tests). */
  nodeStates(associationId: string): Record<string, { status: string; pending: boolean; lastRun?: AssociationRun }> {
    const a = this.associations.get(associationId);
    if (!a) return {};
    return Object.fromEntries(
      [...a.nodes.entries()].map(([id, s]) => [
        id,
        { status: s.status, pending: s.pending !== undefined, ...(s.lastRun ? { lastRun: s.lastRun } : {}) },
      ]),
    );
  }

  /**
   * Applies every association (or one) to its targets now, as its schedule would, and resolves when every
   * run that can start has finished (offline nodes stay pending).
   */
  async runNow(associationId?: string): Promise<void> {
    const list = associationId ? [this.find(associationId)] : [...this.associations.values()];
    for (const a of list) this.applyToTargets(a, 'run-now');
    await this.idle();
  }

  /** Resolves when no association run is in progress. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Association runs in progress. */
  get running(): number {
    return this.inFlight.size;
  }

  nodeRegistered(node: ManagedNode): void {
    this.online.set(node.instanceId, node.executor.isOnline());
    for (const a of this.associations.values())
      if (this.options.matches(node, a.targets)) this.request(a, node, 'node-registered');
  }

  nodeDeregistered(instanceId: string): void {
    this.online.delete(instanceId);
    for (const a of this.associations.values()) a.nodes.delete(instanceId);
  }

  // ---- runs -------------------------------------------------------------------------------------

  private tick(): void {
    const nodes = this.options.nodes();
    for (const node of nodes) {
      const now = node.executor.isOnline();
      const before = this.online.get(node.instanceId);
      this.online.set(node.instanceId, now);
      if (now && before === false) this.nodeOnline(node);
    }
    const t = Date.now();
    for (const a of this.associations.values()) {
      if (a.nextRunAt !== undefined && a.periodSeconds !== undefined && t >= a.nextRunAt) {
        a.nextRunAt = t + a.periodSeconds * this.options.msPerSecond;
        this.applyToTargets(a, 'schedule');
      }
    }
  }

  /** A node that comes back online gets the runs that waited for it. */
  private nodeOnline(node: ManagedNode): void {
    for (const a of this.associations.values()) {
      const s = a.nodes.get(node.instanceId);
      if (s?.pending) {
        const reason = s.pending;
        s.pending = undefined;
        this.request(a, node, reason === 'schedule' || reason === 'run-now' ? reason : 'node-online');
      } else if (!s && this.options.matches(node, a.targets)) this.request(a, node, 'node-online');
    }
  }

  private applyToTargets(a: Association, reason: AssociationRunReason): void {
    for (const node of this.options.nodes()) if (this.options.matches(node, a.targets)) this.request(a, node, reason);
  }

  private request(a: Association, node: ManagedNode, reason: AssociationRunReason): void {
    if (a.deleted) return;
    let s = a.nodes.get(node.instanceId);
    if (!s) {
      s = { status: 'Pending', detailedStatus: 'Pending' };
      a.nodes.set(node.instanceId, s);
    }
    if (s.running) {
      s.rerun ??= reason;
      return;
    }
    if (!node.executor.isOnline()) {
      s.pending ??= reason;
      s.status = 'Pending';
      s.detailedStatus = 'Pending';
      return;
    }
    const state = s;
    const p = this.runOnNode(a, node, state, reason).finally(() => {
      this.inFlight.delete(p);
      state.running = undefined;
      const again = state.rerun;
      state.rerun = undefined;
      if (again && !a.deleted) this.request(a, node, again);
    });
    state.running = p;
    this.inFlight.add(p);
  }

  private async runOnNode(
    a: Association,
    node: ManagedNode,
    s: NodeState,
    reason: AssociationRunReason,
  ): Promise<void> {
    const doc = this.options.document(a.documentName);
    const start = new Date();
    const commandId = randomUUID();
    const run: AssociationRun = {
      associationId: a.id,
      instanceId: node.instanceId,
      commandId,
      reason,
      status: 'Pending',
      start,
      stdout: '',
      stderr: '',
    };
    this.runs.push(run);
    if (this.runs.length > MAX_RUNS_KEPT) this.runs.splice(0, this.runs.length - MAX_RUNS_KEPT);
    s.lastRun = run;
    if (!doc) {
      Object.assign(run, { status: 'Failed', end: new Date(), stderr: `document ${a.documentName} does not exist` });
      s.status = 'Failed';
      s.detailedStatus = 'Failed';
      return;
    }
    await this.slot(a);
    try {
      s.status = 'InProgress';
      s.detailedStatus = 'InProgress';
      run.status = 'InProgress';
      a.lastExecutionDate = new Date();
      const command: Command = {
        commandId,
        documentName: a.documentName,
        comment: `association ${a.id}`,
        parameters: a.parameters,
        instanceIds: [node.instanceId],
        targets: [],
        requestedAt: start,
        expiresAfter: new Date(start.getTime() + 3600_000),
        maxConcurrency: '1',
        maxErrors: '0',
        timeoutSeconds: 3600,
        invocations: [
          {
            instanceId: node.instanceId,
            instanceName: node.name,
            status: 'Pending',
            statusDetails: 'Pending',
            responseCode: -1,
            plugins: [],
          },
        ],
        done: Promise.resolve(),
        associationId: a.id,
      };
      this.commands.set(command.commandId, command);
      if (this.commands.size > 2000) this.commands.delete(this.commands.keys().next().value!);
      command.done = this.options.runner.run(command, doc);
      await command.done;
      const inv = command.invocations[0];
      run.status = inv.status;
      run.end = new Date();
      run.stdout = inv.plugins.map((p) => p.stdout).join('');
      run.stderr = inv.plugins.map((p) => p.stderr).join('');
      s.status = inv.status === 'Success' ? 'Success' : 'Failed';
      s.detailedStatus = inv.status === 'Success' ? 'Success' : inv.statusDetails.replace(/ /g, '');
    } finally {
      this.release(a);
    }
  }

  /** MaxConcurrency of the association across its nodes. */
  private async slot(a: Association): Promise<void> {
    const total = Math.max(1, [...a.nodes.keys()].length);
    const spec = a.maxConcurrency ?? '50';
    const limit = spec.endsWith('%')
      ? Math.max(1, Math.floor((Number(spec.slice(0, -1)) * total) / 100))
      : Number(spec);
    while (a.active >= limit) await new Promise<void>((resolve) => a.waiting.push(resolve));
    a.active++;
  }

  private release(a: Association): void {
    a.active--;
    a.waiting.shift()?.();
  }

  // ---- shapes and validation --------------------------------------------------------------------

  private find(id: string): Association {
    const a = this.associations.get(id);
    if (!a) throw new AwsServiceError('AssociationDoesNotExist', 'The specified association does not exist.');
    return a;
  }

  private schedule(a: Association): void {
    const m = a.schedule ? RATE.exec(a.schedule) : null;
    a.periodSeconds = m ? Number(m[1]) * UNIT_SECONDS[m[2]] : undefined;
    a.nextRunAt = a.periodSeconds !== undefined ? Date.now() + a.periodSeconds * this.options.msPerSecond : undefined;
  }

  private readFields(input: Input, creating: boolean, currentDocument?: string) {
    const documentName = creating
      ? input.string('Name', { pattern: /^[a-zA-Z0-9_\-.:/]{3,200}$/ })
      : (input.optString('Name', { pattern: /^[a-zA-Z0-9_\-.:/]{3,200}$/ }) ?? currentDocument!);
    const doc = this.options.document(documentName);
    if (!doc)
      throw new AwsServiceError('InvalidDocument', `Document with name ${documentName.slice(0, 128)} does not exist.`);
    const version = input.optString('DocumentVersion');
    if (version !== undefined && !['$DEFAULT', '$LATEST', '1'].includes(version))
      throw new AwsServiceError('InvalidDocumentVersion', 'The document version is not valid or does not exist.');
    const name = input.optString('AssociationName', { pattern: /^[a-zA-Z0-9_\-.]{3,128}$/ });
    if (input.has('InstanceId'))
      throw new AwsServiceError('InvalidParameters', 'The local emulator supports Targets only (not InstanceId).');
    const targets = (input.optList('Targets') ?? []).map((t) => ({
      Key: String(t.Key),
      Values: Array.isArray(t.Values) ? (t.Values as unknown[]).map(String) : [],
    }));
    if (creating && targets.length === 0) throw new AwsServiceError('InvalidTarget', 'Specify Targets.');
    if (targets.length > 5)
      throw new AwsServiceError('ValidationException', 'Targets: Member must have length less than or equal to 5');
    for (const t of targets) {
      if (t.Values.length === 0 || t.Values.length > 50)
        throw new AwsServiceError('ValidationException', 'Target values: Member must have length between 1 and 50');
      if (t.Key !== 'InstanceIds' && t.Key !== 'tag-key' && !/^tag:.{1,128}$/.test(t.Key))
        throw new AwsServiceError('InvalidTarget', `Target key ${t.Key.slice(0, 80)} is not supported.`);
    }
    const given = input.optObject('Parameters') ?? {};
    const { lists } = resolveParameters(doc, given);
    const schedule = input.optString('ScheduleExpression', { min: 1, max: 256 });
    if (schedule !== undefined) {
      const m = RATE.exec(schedule);
      if (m && Number(m[1]) * UNIT_SECONDS[m[2]] < 1800)
        throw new AwsServiceError('InvalidSchedule', 'The rate expression must be at least 30 minutes.');
      if (!m && !/^cron\(.+\)$/.test(schedule))
        throw new AwsServiceError('InvalidSchedule', 'The schedule expression is not valid.');
    }
    const maxConcurrency = input.optString('MaxConcurrency', { min: 1, max: 7, pattern: CONCURRENCY });
    const maxErrors = input.optString('MaxErrors', { min: 1, max: 7, pattern: ERRORS });
    const complianceSeverity = input.optString('ComplianceSeverity');
    if (
      complianceSeverity !== undefined &&
      !['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNSPECIFIED'].includes(complianceSeverity)
    )
      throw new AwsServiceError(
        'ValidationException',
        "Value at 'complianceSeverity' failed to satisfy constraint: Member must satisfy enum value set",
      );
    const syncCompliance = input.optString('SyncCompliance');
    if (syncCompliance !== undefined && !['AUTO', 'MANUAL'].includes(syncCompliance))
      throw new AwsServiceError(
        'ValidationException',
        "Value at 'syncCompliance' failed to satisfy constraint: Member must satisfy enum value set",
      );
    const docName = documentName;
    return {
      documentName: docName,
      ...(name !== undefined ? { name } : {}),
      ...(targets.length ? { targets } : {}),
      parameters: Object.fromEntries(Object.keys(given).map((k) => [k, lists[k]])),
      ...(schedule !== undefined ? { schedule } : {}),
      ...(maxConcurrency !== undefined ? { maxConcurrency } : {}),
      ...(maxErrors !== undefined ? { maxErrors } : {}),
      ...(complianceSeverity !== undefined ? { complianceSeverity } : {}),
      ...(syncCompliance !== undefined ? { syncCompliance } : {}),
    } as Pick<Association, 'documentName' | 'targets' | 'parameters'> & Partial<Association>;
  }

  private overview(a: Association): JsonObject {
    const counts: Record<string, number> = {};
    for (const s of a.nodes.values()) counts[s.status] = (counts[s.status] ?? 0) + 1;
    const states = [...a.nodes.values()];
    const status =
      states.length === 0 || states.some((s) => s.status === 'Pending' || s.status === 'InProgress')
        ? 'Pending'
        : states.some((s) => s.status === 'Failed')
          ? 'Failed'
          : 'Success';
    return { Status: status, DetailedStatus: status, AssociationStatusAggregatedCount: counts };
  }

  private description(a: Association): JsonObject {
    return {
      Name: a.documentName,
      AssociationVersion: String(a.version),
      Date: epochSeconds(a.createdAt),
      LastUpdateAssociationDate: epochSeconds(a.updatedAt),
      Status: { Date: epochSeconds(a.updatedAt), Name: 'Associated', Message: 'Associated with the targets' },
      Overview: this.overview(a),
      DocumentVersion: '$DEFAULT',
      Parameters: a.parameters,
      AssociationId: a.id,
      Targets: a.targets,
      ...(a.schedule ? { ScheduleExpression: a.schedule } : {}),
      ...(a.lastExecutionDate ? { LastExecutionDate: epochSeconds(a.lastExecutionDate) } : {}),
      ...(a.name ? { AssociationName: a.name } : {}),
      ...(a.maxErrors ? { MaxErrors: a.maxErrors } : {}),
      ...(a.maxConcurrency ? { MaxConcurrency: a.maxConcurrency } : {}),
      ...(a.complianceSeverity ? { ComplianceSeverity: a.complianceSeverity } : {}),
      ...(a.syncCompliance ? { SyncCompliance: a.syncCompliance } : {}),
      ApplyOnlyAtCronInterval: false,
    };
  }
}
