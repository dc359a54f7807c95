/**
 * The managed-node registry's vocabulary, shared by SSM's parts (Run Command, State Manager, Inventory):
 * what a managed node is, what it runs a document step with (its executor), its ids, and how targets and
 * filters match it.
 */
import { randomBytes } from 'node:crypto';
import { ENV_VAR_MIN_AGENT_VERSION } from '../../ssm-documents/load';
import type { ForcedOutcome } from '../faults';
import { AwsServiceError } from './errors';

/** What a node does when a document step reaches it. */
export interface StepRequest {
  commandId: string;
  stepName: string;
  /** The step's runCommand lines joined with newlines, `{{ }}` already interpolated. */
  script: string;
  /** Every document parameter with defaults applied. */
  parameters: Record<string, string>;
  /** `SSM_<Name>` variables for parameters declared with `interpolationType: ENV_VAR` (as the agent sets them). */
  environment: Record<string, string>;
  timeoutMs: number;
  workingDirectory?: string;
}

export interface StepResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface NodeExecutor {
  /** False → commands are not delivered (they stay Pending until the delivery timeout). */
  isOnline(): boolean;
  runStep(request: StepRequest): Promise<StepResult>;
  /** A fault switch: the outcome every Run Command invocation on this node ends with, the script not run. */
  forcedOutcome?(): ForcedOutcome | undefined;
  /**
   * The node's custom inventory files (what the SSM Agent's inventory collection uploads), read after each
   * run on the node and at registration; undefined when the node keeps none.
   */
  collectInventory?(): CustomInventoryItem[] | undefined;
  /**
   * The SSM Agent version the node reports (default {@link LOCAL_AGENT_VERSION}). An agent older than
   * 3.3.2746.0 runs steps without the SSM_<Name> variables of ENV_VAR parameters, as a real one does.
   */
  agentVersion?(): string;
}

/** The SSM Agent version local nodes declare unless told otherwise. */
export const LOCAL_AGENT_VERSION = ENV_VAR_MIN_AGENT_VERSION;

export function agentVersionOf(node: ManagedNode): string {
  return node.executor.agentVersion?.() ?? LOCAL_AGENT_VERSION;
}

/** One custom inventory file as the install script writes it (`{SchemaVersion, TypeName, Content}`). */
export interface CustomInventoryItem {
  SchemaVersion: string;
  TypeName: string;
  Content: Record<string, string>[];
}

export interface ManagedNode {
  instanceId: string;
  name: string;
  tags: Record<string, string>;
  executor: NodeExecutor;
  registeredAt: Date;
}

/** A new managed node id (`mi-` and 17 hex digits), as hybrid activations hand out. */
export function newInstanceId(): string {
  return `mi-${randomBytes(9).toString('hex').slice(0, 17)}`;
}

/** Whether a node matches one target or DescribeInstanceInformation filter (InstanceIds, tag:K, tag-key, ...). */
export function nodeMatches(node: ManagedNode, key: string, values: string[]): boolean {
  if (key === 'InstanceIds') return values.includes(node.instanceId);
  if (key === 'tag-key') return values.some((v) => v in node.tags);
  if (key.startsWith('tag:')) {
    const tagValue = node.tags[key.slice(4)];
    return tagValue !== undefined && values.includes(tagValue);
  }
  if (key === 'PingStatus') return values.includes(node.executor.isOnline() ? 'Online' : 'ConnectionLost');
  if (key === 'PlatformTypes') return values.includes('Linux');
  if (key === 'ResourceType') return values.includes('ManagedInstance');
  if (key === 'AgentVersion') return values.includes(agentVersionOf(node));
  throw new AwsServiceError(
    'InvalidInstanceInformationFilterValue',
    `The filter key ${key.slice(0, 80)} is not valid.`,
  );
}
