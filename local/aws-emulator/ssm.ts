/**
 * Emulated SSM Run Command: a registry of managed nodes (mi-…), registered Command documents, and
 * SendCommand / ListCommands / ListCommandInvocations / GetCommandInvocation with the service's
 * parameter validation and aggregate status. The commands run in the command runner (command-runner.ts,
 * shared with State Manager): MaxConcurrency / MaxErrors, delivery and execution timeouts, each step on
 * the node's executor (see local/nodes).
 */
import { randomUUID } from 'node:crypto';
import type { SsmCommandDocument } from '../../ssm-documents/load';
import { CommandRunner } from './command-runner';
import { limit, type Command, type InvocationStatus, type PluginResult } from './commands';
import {
  agentVersionOf,
  LOCAL_AGENT_VERSION,
  newInstanceId,
  nodeMatches,
  type ManagedNode,
  type NodeExecutor,
} from './managed-nodes';
import { AwsServiceError } from './errors';
import type { LocalEventBus } from './event-bus';
import { epochSeconds, Input, paginate, type JsonObject } from './input';
import { InventoryStore } from './inventory';
import { defaultValues, resolveParameters } from './parameters';
import { compileRe2, Re2PatternError, type Re2Pattern } from './re2';
import { StateManager } from './associations';
import type { EmulatedService } from './server';

const TERMINAL: InvocationStatus[] = ['Success', 'Cancelled', 'TimedOut', 'Failed'];
const PARAM_TYPES = new Set(['String', 'StringList', 'Boolean', 'Integer', 'MapList', 'StringMap']);

export interface SsmOptions {
  region: string;
  accountId: string;
  /** Real milliseconds per emulated second for delivery and execution timeouts (default 1000). */
  msPerSecond?: number;
  /** Real milliseconds per emulated second of association schedules (default: msPerSecond). */
  associationMsPerSecond?: number;
  /** Where Run Command's status-change events go (EventBridge's default bus). */
  eventBus?: LocalEventBus;
}

/** Detail of SSM's "EC2 Command Status-change Notification" event (per command, not per node). */
export interface CommandStatusChangeDetail {
  'command-id': string;
  'document-name': string;
  'expire-after': string;
  parameters: Record<string, string[]>;
  'requested-date-time': string;
  status: string;
}

export class SsmService {
  readonly nodes = new Map<string, ManagedNode>();
  readonly documents = new Map<string, { content: SsmCommandDocument; createdAt: Date }>();
  private readonly commands = new Map<string, Command>();
  /** Custom inventory collected from the nodes (GetInventory). */
  readonly inventory = new InventoryStore();
  /** Runs SendCommand's commands and the association runs. */
  private readonly runner: CommandRunner;
  /** State Manager associations (Create/Update/Delete/Describe/ListAssociations). */
  readonly associations: StateManager;

  constructor(private readonly options: SsmOptions) {
    this.runner = new CommandRunner({
      nodes: this.nodes,
      inventory: this.inventory,
      msPerSecond: options.msPerSecond ?? 1000,
    });
    this.associations = new StateManager({
      region: options.region,
      accountId: options.accountId,
      msPerSecond: options.associationMsPerSecond ?? options.msPerSecond ?? 1000,
      nodes: () => [...this.nodes.values()],
      matches: (node, targets) => targets.every((t) => this.nodeMatches(node, t.Key, t.Values)),
      document: (name) => this.documents.get(name)?.content,
      runner: this.runner,
    });
  }

  /** Stops the association scheduler. */
  close(): void {
    this.associations.close();
  }

  service(): EmulatedService {
    return {
      targetPrefix: 'AmazonSSM',
      signingName: 'ssm',
      namespace: 'com.amazonaws.ssm',
      operations: {
        DescribeInstanceInformation: (i) => this.describeInstanceInformation(new Input(i)),
        SendCommand: (i) => this.sendCommand(new Input(i)),
        ListCommands: (i) => this.listCommands(new Input(i)),
        ListCommandInvocations: (i) => this.listCommandInvocations(new Input(i)),
        GetCommandInvocation: (i) => this.getCommandInvocation(new Input(i)),
        ListTagsForResource: (i) => this.listTagsForResource(new Input(i)),
        AddTagsToResource: (i) => this.addTagsToResource(new Input(i)),
        DescribeDocument: (i) => this.describeDocument(new Input(i)),
        CreateAssociation: (i) => this.associations.create(new Input(i)),
        UpdateAssociation: (i) => this.associations.update(new Input(i)),
        DeleteAssociation: (i) => this.associations.delete(new Input(i)),
        DescribeAssociation: (i) => this.associations.describe(new Input(i)),
        ListAssociations: (i) => this.associations.list(new Input(i)),
        GetInventory: (i) => this.inventory.getInventory(new Input(i)),
      },
    };
  }

  // ---- local API --------------------------------------------------------------------------------

  static newInstanceId(): string {
    return newInstanceId();
  }

  registerNode(node: {
    instanceId?: string;
    name: string;
    tags: Record<string, string>;
    executor: NodeExecutor;
  }): ManagedNode {
    const instanceId = node.instanceId ?? SsmService.newInstanceId();
    if (!/^mi-[0-9a-f]{17}$/.test(instanceId)) throw new Error(`not a managed node id: ${instanceId}`);
    const managed: ManagedNode = { ...node, instanceId, registeredAt: new Date() };
    this.nodes.set(instanceId, managed);
    // What the agent finds on disk at start (a restarted node keeps its custom inventory).
    this.inventory.collect(instanceId, node.executor);
    // A new node that matches an association's targets gets it applied (now, or when it comes online).
    this.associations.nodeRegistered(managed);
    return managed;
  }

  deregisterNode(instanceId: string): void {
    this.nodes.delete(instanceId);
    this.inventory.forget(instanceId);
    this.associations.nodeDeregistered(instanceId);
  }

  registerDocument(name: string, content: SsmCommandDocument): void {
    if (!/^[a-zA-Z0-9_.-]{3,128}$/.test(name)) throw new Error(`invalid document name: ${name}`);
    if (content.schemaVersion !== '2.2') throw new Error('only schemaVersion 2.2 Command documents are supported');
    for (const [p, def] of Object.entries(content.parameters ?? {})) {
      if (!PARAM_TYPES.has(def.type)) throw new Error(`document parameter ${p}: unsupported type ${def.type}`);
      if (def.allowedPattern === undefined) continue;
      // The agent compiles every pattern before a run: one that RE2 rejects fails every run on every node.
      let pattern: Re2Pattern;
      try {
        pattern = compileRe2(def.allowedPattern);
      } catch (err) {
        if (!(err instanceof Re2PatternError)) throw err;
        throw new AwsServiceError(
          'InvalidDocumentContent',
          `Parameter "${p}": allowedPattern is not a valid regular expression (RE2): ${err.reason}`,
        );
      }
      // The agent checks defaults too: one its own pattern refuses fails every run that leaves the parameter out.
      if (def.default !== undefined && defaultValues(def.default).some((value) => !pattern.test(value))) {
        throw new AwsServiceError(
          'InvalidDocumentContent',
          `Parameter "${p}": the default value does not match allowedPattern ${def.allowedPattern}`,
        );
      }
    }
    this.documents.set(name, { content, createdAt: new Date() });
  }

  /** Resolves when every invocation of the command is terminal. */
  async waitForCommand(commandId: string): Promise<void> {
    const c = this.commands.get(commandId);
    if (!c) throw new Error(`unknown command ${commandId}`);
    await c.done;
  }

  // ---- DescribeInstanceInformation --------------------------------------------------------------

  nodeMatches(node: ManagedNode, key: string, values: string[]): boolean {
    return nodeMatches(node, key, values);
  }

  private describeInstanceInformation(input: Input): JsonObject {
    const filters = (input.optList('Filters') ?? []).map((f) => ({
      key: String(f.Key),
      values: Array.isArray(f.Values) ? (f.Values as string[]) : [],
    }));
    const legacy = (input.optList('InstanceInformationFilterList') ?? []).map((f) => ({
      key: String(f.key),
      values: Array.isArray(f.valueSet) ? (f.valueSet as string[]) : [],
    }));
    const all = [...filters, ...legacy];
    for (const f of all)
      if (f.values.length === 0)
        throw new AwsServiceError('InvalidFilterValue', `Filter ${f.key.slice(0, 80)} requires at least one value.`);
    const maxResults = input.optNumber('MaxResults');
    const nodes = [...this.nodes.values()]
      .sort((a, b) => a.instanceId.localeCompare(b.instanceId))
      .filter((n) => all.every((f) => this.nodeMatches(n, f.key, f.values)));
    const { page, nextToken } = paginate(nodes, maxResults, input.optString('NextToken'), 50);
    return {
      InstanceInformationList: page.map((n) => ({
        InstanceId: n.instanceId,
        PingStatus: n.executor.isOnline() ? 'Online' : 'ConnectionLost',
        LastPingDateTime: epochSeconds(new Date()),
        AgentVersion: agentVersionOf(n),
        IsLatestVersion: agentVersionOf(n) === LOCAL_AGENT_VERSION,
        PlatformType: 'Linux',
        PlatformName: 'Local',
        PlatformVersion: '1',
        ResourceType: 'ManagedInstance',
        IPAddress: '127.0.0.1',
        ComputerName: n.name,
        Name: n.name,
        RegistrationDate: epochSeconds(n.registeredAt),
        SourceId: n.instanceId,
        SourceType: 'AWS::SSM::ManagedInstance',
      })),
      ...(nextToken ? { NextToken: nextToken } : {}),
    };
  }

  private listTagsForResource(input: Input): JsonObject {
    const type = input.string('ResourceType');
    const id = input.string('ResourceId');
    if (type === 'Association') return this.associations.listTags(id);
    const node = this.nodes.get(id);
    if (type !== 'ManagedInstance' || !node)
      throw new AwsServiceError(
        'InvalidResourceId',
        'The resource ID is not valid. Verify that you entered the correct ID and try again.',
      );
    return { TagList: Object.entries(node.tags).map(([Key, Value]) => ({ Key, Value })) };
  }

  /** Association tags only: the product tags nothing else through SSM. */
  private addTagsToResource(input: Input): JsonObject {
    const type = input.string('ResourceType');
    if (type !== 'Association')
      throw new AwsServiceError(
        'InvalidResourceType',
        `The local emulator tags associations only (not ${type.slice(0, 40)}).`,
      );
    return this.associations.addTags(input.string('ResourceId'), input);
  }

  private describeDocument(input: Input): JsonObject {
    const name = input.string('Name');
    const doc = this.documents.get(name);
    if (!doc) throw new AwsServiceError('InvalidDocument', 'The specified document does not exist.');
    return {
      Document: {
        Name: name,
        DocumentType: 'Command',
        DocumentFormat: 'YAML',
        SchemaVersion: doc.content.schemaVersion,
        DocumentVersion: '1',
        LatestVersion: '1',
        DefaultVersion: '1',
        Status: 'Active',
        PlatformTypes: ['Linux', 'MacOS'],
        CreatedDate: epochSeconds(doc.createdAt),
        Parameters: Object.entries(doc.content.parameters ?? {}).map(([Name, p]) => ({
          Name,
          Type: p.type,
          ...(p.description !== undefined ? { Description: p.description } : {}),
          ...(p.default !== undefined ? { DefaultValue: String(p.default) } : {}),
        })),
      },
    };
  }

  // ---- SendCommand ------------------------------------------------------------------------------

  private resolveTargets(input: Input): {
    nodes: ManagedNode[];
    instanceIds: string[];
    targets: { Key: string; Values: string[] }[];
  } {
    const instanceIds = input.optStringList('InstanceIds') ?? [];
    const targets = (input.optList('Targets') ?? []).map((t) => ({
      Key: String(t.Key),
      Values: Array.isArray(t.Values) ? (t.Values as unknown[]).map(String) : [],
    }));
    if (instanceIds.length && targets.length)
      throw new AwsServiceError('InvalidParameters', 'Specify either InstanceIds or Targets, not both.');
    if (!instanceIds.length && !targets.length)
      throw new AwsServiceError('InvalidParameters', 'Specify InstanceIds or Targets.');
    if (instanceIds.length > 50)
      throw new AwsServiceError('ValidationException', 'InstanceIds: Member must have length less than or equal to 50');
    if (targets.length > 5)
      throw new AwsServiceError('ValidationException', 'Targets: Member must have length less than or equal to 5');
    if (instanceIds.length) {
      const unknown = instanceIds.filter((id) => !this.nodes.has(id));
      if (unknown.length)
        throw new AwsServiceError(
          'InvalidInstanceId',
          `Instances [[${unknown.join(', ').slice(0, 200)}]] not in a valid state for account ${this.options.accountId}`,
        );
      return { nodes: [...new Set(instanceIds)].map((id) => this.nodes.get(id)!), instanceIds, targets };
    }
    for (const t of targets) {
      if (t.Values.length === 0 || t.Values.length > 50)
        throw new AwsServiceError('ValidationException', 'Target values: Member must have length between 1 and 50');
      if (t.Key !== 'InstanceIds' && t.Key !== 'tag-key' && !/^tag:.{1,128}$/.test(t.Key))
        throw new AwsServiceError('InvalidTarget', `Target key ${t.Key.slice(0, 80)} is not supported.`);
    }
    const nodes = [...this.nodes.values()]
      .sort((a, b) => a.instanceId.localeCompare(b.instanceId))
      .filter((n) => targets.every((t) => this.nodeMatches(n, t.Key, t.Values)));
    return { nodes, instanceIds: [], targets };
  }

  private sendCommand(input: Input): JsonObject {
    const documentName = input.string('DocumentName', { pattern: /^[a-zA-Z0-9_\-.:/]{3,128}$/ });
    const docName = documentName.includes(':document/')
      ? documentName.slice(documentName.indexOf(':document/') + 10)
      : documentName;
    const doc = this.documents.get(docName);
    if (!doc) throw new AwsServiceError('InvalidDocument', 'Document with name ' + docName + ' does not exist.');
    const version = input.optString('DocumentVersion');
    if (version !== undefined && !['$DEFAULT', '$LATEST', '1'].includes(version))
      throw new AwsServiceError('InvalidDocumentVersion', 'The document version is not valid or does not exist.');
    const maxConcurrency =
      input.optString('MaxConcurrency', { min: 1, max: 7, pattern: /^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$/ }) ?? '50';
    const maxErrors =
      input.optString('MaxErrors', { min: 1, max: 7, pattern: /^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$/ }) ?? '0';
    const timeoutSeconds = input.optNumber('TimeoutSeconds', { min: 30, max: 2592000 }) ?? 3600;
    const comment = input.optString('Comment', { max: 100 });
    const given = input.optObject('Parameters') ?? {};
    const { lists } = resolveParameters(doc.content, given);
    const { nodes, instanceIds, targets } = this.resolveTargets(input);
    const requestedAt = new Date();
    const command: Command = {
      commandId: randomUUID(),
      documentName: docName,
      ...(comment !== undefined ? { comment } : {}),
      parameters: Object.fromEntries(Object.keys(given).map((k) => [k, lists[k]])),
      instanceIds,
      targets,
      requestedAt,
      expiresAfter: new Date(requestedAt.getTime() + timeoutSeconds * 1000),
      maxConcurrency,
      maxErrors,
      timeoutSeconds,
      invocations: nodes.map((n) => ({
        instanceId: n.instanceId,
        instanceName: n.name,
        status: 'Pending',
        statusDetails: 'Pending',
        responseCode: -1,
        plugins: [],
      })),
      ...(input.optObject('CloudWatchOutputConfig')
        ? { cloudWatchOutputConfig: input.optObject('CloudWatchOutputConfig') }
        : {}),
      done: Promise.resolve(),
    };
    this.commands.set(command.commandId, command);
    command.done = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.runner.run(command, doc.content))
      .then(() => this.publishStatusChange(command));
    return { Command: this.commandShape(command) };
  }

  /**
   * SSM's status-change event for a command that reached its terminal status, with the fields AWS documents
   * (event examples for Systems Manager, Run Command): resources are the targeted instances' ARNs.
   */
  private publishStatusChange(c: Command): void {
    const bus = this.options.eventBus;
    if (!bus) return;
    const status = this.aggregate(c).status;
    const detail: CommandStatusChangeDetail = {
      'command-id': c.commandId,
      'document-name': c.documentName,
      'expire-after': c.expiresAfter.toISOString(),
      parameters: c.parameters,
      'requested-date-time': c.requestedAt.toISOString(),
      status,
    };
    bus.publish({
      version: '0',
      id: randomUUID(),
      'detail-type': 'EC2 Command Status-change Notification',
      source: 'aws.ssm',
      account: this.options.accountId,
      time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: this.options.region,
      resources: c.invocations.map(
        (i) => `arn:aws:ssm:${this.options.region}:${this.options.accountId}:managed-instance/${i.instanceId}`,
      ),
      detail: detail as unknown as Record<string, unknown>,
    });
  }

  // ---- aggregate status -------------------------------------------------------------------------

  private aggregate(c: Command): {
    status: string;
    details: string;
    completed: number;
    errors: number;
    deliveryTimedOut: number;
  } {
    const inv = c.invocations;
    const completed = inv.filter((i) => TERMINAL.includes(i.status)).length;
    const failed = inv.filter((i) => i.statusDetails === 'Failed').length;
    const execTimedOut = inv.filter((i) => i.statusDetails === 'Execution Timed Out').length;
    const deliveryTimedOut = inv.filter((i) => i.statusDetails === 'Delivery Timed Out').length;
    const errors = failed + execTimedOut;
    const base = { completed, errors, deliveryTimedOut };
    if (inv.length === 0) return { status: 'Success', details: 'Success', ...base };
    if (completed < inv.length) {
      const started = inv.some((i) => i.status !== 'Pending');
      return started
        ? { status: 'InProgress', details: 'In Progress', ...base }
        : { status: 'Pending', details: 'Pending', ...base };
    }
    const threshold = Math.max(1, limit(c.maxErrors, inv.length, 0));
    if (errors >= threshold) {
      return execTimedOut >= threshold && failed === 0
        ? { status: 'TimedOut', details: 'Execution Timed Out', ...base }
        : { status: 'Failed', details: 'Failed', ...base };
    }
    if (deliveryTimedOut >= threshold && errors === 0)
      return { status: 'TimedOut', details: 'Delivery Timed Out', ...base };
    // Undeliverable invocations do not decide between Success and Incomplete; every other outcome does.
    const deciding = inv.filter((i) => i.statusDetails !== 'Undeliverable');
    if (deciding.length > 0 && deciding.every((i) => i.status === 'Success'))
      return { status: 'Success', details: 'Success', ...base };
    if (inv.every((i) => i.statusDetails === 'Cancelled'))
      return { status: 'Cancelled', details: 'Cancelled', ...base };
    // Nothing succeeded (all InvalidPlatform, all AccessDenied, all Undeliverable...): the command failed.
    if (!inv.some((i) => i.status === 'Success')) return { status: 'Failed', details: 'Failed', ...base };
    return { status: 'Failed', details: 'Incomplete', ...base };
  }

  private commandShape(c: Command): JsonObject {
    const agg = this.aggregate(c);
    return {
      CommandId: c.commandId,
      DocumentName: c.documentName,
      DocumentVersion: '$DEFAULT',
      ...(c.comment !== undefined ? { Comment: c.comment } : {}),
      ExpiresAfter: epochSeconds(c.expiresAfter),
      Parameters: c.parameters,
      InstanceIds: c.instanceIds,
      Targets: c.targets,
      RequestedDateTime: epochSeconds(c.requestedAt),
      Status: agg.status,
      StatusDetails: agg.details,
      OutputS3Region: this.options.region,
      OutputS3BucketName: '',
      OutputS3KeyPrefix: '',
      MaxConcurrency: c.maxConcurrency,
      MaxErrors: c.maxErrors,
      TargetCount: c.invocations.length,
      CompletedCount: agg.completed,
      ErrorCount: agg.errors,
      DeliveryTimedOutCount: agg.deliveryTimedOut,
      ServiceRole: '',
      NotificationConfig: { NotificationArn: '', NotificationEvents: [], NotificationType: '' },
      CloudWatchOutputConfig: c.cloudWatchOutputConfig ?? {
        CloudWatchLogGroupName: '',
        CloudWatchOutputEnabled: false,
      },
      TimeoutSeconds: c.timeoutSeconds,
      TriggeredAlarms: [],
    };
  }

  private findCommand(commandId: string): Command {
    const c = this.commands.get(commandId);
    if (!c) throw new AwsServiceError('InvalidCommandId', 'The specified command ID is not valid.');
    return c;
  }

  private listCommands(input: Input): JsonObject {
    const commandId = input.optString('CommandId', { min: 36, max: 36 });
    const instanceId = input.optString('InstanceId');
    const filters = input.optList('Filters') ?? [];
    let list = commandId ? [this.findCommand(commandId)] : [...this.commands.values()].reverse();
    if (instanceId) list = list.filter((c) => c.invocations.some((i) => i.instanceId === instanceId));
    for (const f of filters) {
      const key = String(f.key);
      const value = String(f.value);
      list = list.filter((c) => {
        const agg = this.aggregate(c);
        switch (key) {
          case 'Status':
            return (
              agg.status === value ||
              (value === 'Incomplete' && agg.details === 'Incomplete') ||
              (value === 'NoInstancesInTag' && c.invocations.length === 0)
            );
          case 'DocumentName':
            return c.documentName === value;
          case 'ExecutionStage':
            return value === 'Executing'
              ? agg.completed < c.invocations.length
              : agg.completed === c.invocations.length;
          case 'InvokedAfter':
            return c.requestedAt.getTime() >= Date.parse(value);
          case 'InvokedBefore':
            return c.requestedAt.getTime() <= Date.parse(value);
          default:
            throw new AwsServiceError('InvalidFilterKey', `The filter key ${key.slice(0, 40)} is not valid.`);
        }
      });
    }
    const { page, nextToken } = paginate(list, input.optNumber('MaxResults'), input.optString('NextToken'), 50);
    return { Commands: page.map((c) => this.commandShape(c)), ...(nextToken ? { NextToken: nextToken } : {}) };
  }

  private pluginOutput(p: PluginResult): string {
    const out = p.stderr ? `${p.stdout}\n----------ERROR-------\n${p.stderr}` : p.stdout;
    return out.length > 2500 ? out.slice(0, 2500) : out;
  }

  private listCommandInvocations(input: Input): JsonObject {
    const commandId = input.optString('CommandId', { min: 36, max: 36 });
    const instanceId = input.optString('InstanceId');
    const details = input.optBoolean('Details') ?? false;
    const filters = input.optList('Filters') ?? [];
    const commands = commandId ? [this.findCommand(commandId)] : [...this.commands.values()].reverse();
    let rows = commands.flatMap((c) => c.invocations.map((inv) => ({ c, inv })));
    if (instanceId) rows = rows.filter((r) => r.inv.instanceId === instanceId);
    for (const f of filters) {
      const key = String(f.key);
      const value = String(f.value);
      if (key !== 'Status' && key !== 'DocumentName' && key !== 'InvokedAfter' && key !== 'InvokedBefore')
        throw new AwsServiceError('InvalidFilterKey', `The filter key ${key.slice(0, 40)} is not valid.`);
      rows = rows.filter(({ c, inv }) =>
        key === 'Status'
          ? inv.status === value || inv.statusDetails.replace(/ /g, '') === value
          : key === 'DocumentName'
            ? c.documentName === value
            : key === 'InvokedAfter'
              ? c.requestedAt.getTime() >= Date.parse(value)
              : c.requestedAt.getTime() <= Date.parse(value),
      );
    }
    const { page, nextToken } = paginate(rows, input.optNumber('MaxResults'), input.optString('NextToken'), 50);
    return {
      CommandInvocations: page.map(({ c, inv }) => ({
        CommandId: c.commandId,
        InstanceId: inv.instanceId,
        InstanceName: inv.instanceName,
        ...(c.comment !== undefined ? { Comment: c.comment } : {}),
        DocumentName: c.documentName,
        DocumentVersion: '$DEFAULT',
        RequestedDateTime: epochSeconds(c.requestedAt),
        Status: inv.status,
        StatusDetails: inv.statusDetails,
        TraceOutput: '',
        StandardOutputUrl: '',
        StandardErrorUrl: '',
        CommandPlugins: details
          ? inv.plugins.map((p) => ({
              Name: p.name,
              Status: p.status,
              StatusDetails: p.statusDetails,
              ResponseCode: p.responseCode,
              ...(p.start ? { ResponseStartDateTime: epochSeconds(p.start) } : {}),
              ...(p.end ? { ResponseFinishDateTime: epochSeconds(p.end) } : {}),
              Output: this.pluginOutput(p),
              StandardOutputUrl: '',
              StandardErrorUrl: '',
              OutputS3Region: this.options.region,
              OutputS3BucketName: '',
              OutputS3KeyPrefix: '',
            }))
          : [],
        ServiceRole: '',
        NotificationConfig: { NotificationArn: '', NotificationEvents: [], NotificationType: '' },
        CloudWatchOutputConfig: c.cloudWatchOutputConfig ?? {
          CloudWatchLogGroupName: '',
          CloudWatchOutputEnabled: false,
        },
      })),
      ...(nextToken ? { NextToken: nextToken } : {}),
    };
  }

  private getCommandInvocation(input: Input): JsonObject {
    const commandId = input.string('CommandId', { min: 36, max: 36 });
    const instanceId = input.string('InstanceId');
    const pluginName = input.optString('PluginName', { min: 4 });
    const c = this.commands.get(commandId);
    if (!c) throw new AwsServiceError('InvalidCommandId', 'The specified command ID is not valid.');
    const inv = c.invocations.find((i) => i.instanceId === instanceId);
    if (!inv)
      throw new AwsServiceError(
        'InvocationDoesNotExist',
        'An invocation does not exist for the specified command ID and instance ID.',
      );
    const doc = this.documents.get(c.documentName)?.content;
    if (!pluginName && doc && doc.mainSteps.length > 1)
      throw new AwsServiceError(
        'InvalidPluginName',
        'The plugin name is not valid: the document has more than one step, specify PluginName.',
      );
    const plugin = pluginName ? inv.plugins.find((p) => p.name === pluginName) : inv.plugins[0];
    if (pluginName && doc && !doc.mainSteps.some((s) => s.name === pluginName))
      throw new AwsServiceError('InvalidPluginName', 'The plugin name is not valid.');
    const status = plugin?.status ?? inv.status;
    const details = plugin?.statusDetails ?? inv.statusDetails;
    const start = plugin?.start;
    const end = plugin?.end;
    return {
      CommandId: commandId,
      InstanceId: instanceId,
      ...(c.comment !== undefined ? { Comment: c.comment } : {}),
      DocumentName: c.documentName,
      DocumentVersion: '$DEFAULT',
      PluginName: plugin?.name ?? doc?.mainSteps[0]?.name ?? '',
      ResponseCode: plugin?.responseCode ?? -1,
      ExecutionStartDateTime: start ? start.toISOString() : '',
      ExecutionElapsedTime: start && end ? `PT${((end.getTime() - start.getTime()) / 1000).toFixed(3)}S` : '',
      ExecutionEndDateTime: end ? end.toISOString() : '',
      Status: status,
      StatusDetails: details,
      StandardOutputContent: (plugin?.stdout ?? '').slice(0, 24000),
      StandardOutputUrl: '',
      StandardErrorContent: (plugin?.stderr ?? '').slice(0, 8000),
      StandardErrorUrl: '',
      CloudWatchOutputConfig: c.cloudWatchOutputConfig ?? {
        CloudWatchLogGroupName: '',
        CloudWatchOutputEnabled: false,
      },
    };
  }
}
