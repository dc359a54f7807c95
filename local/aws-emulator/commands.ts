/** A Run Command command and its invocations, as SSM's parts (Run Command, State Manager) share them. */
import type { JsonObject } from './input';

export type InvocationStatus = 'Pending' | 'InProgress' | 'Success' | 'Cancelled' | 'TimedOut' | 'Failed';

export interface PluginResult {
  name: string;
  status: InvocationStatus;
  statusDetails: string;
  responseCode: number;
  stdout: string;
  stderr: string;
  start?: Date;
  end?: Date;
}

export interface Invocation {
  instanceId: string;
  instanceName: string;
  status: InvocationStatus;
  /** The finer outcome: Undeliverable, Terminated, InvalidPlatform and AccessDenied exist only here. */
  statusDetails: string;
  responseCode: number;
  plugins: PluginResult[];
  start?: Date;
  end?: Date;
}

export interface Command {
  commandId: string;
  documentName: string;
  comment?: string;
  parameters: Record<string, string[]>;
  instanceIds: string[];
  targets: { Key: string; Values: string[] }[];
  requestedAt: Date;
  expiresAfter: Date;
  maxConcurrency: string;
  maxErrors: string;
  timeoutSeconds: number;
  invocations: Invocation[];
  cloudWatchOutputConfig?: JsonObject;
  done: Promise<void>;
  /** Set for the runs of a State Manager association (not listed by the Run Command APIs). */
  associationId?: string;
}

/** A MaxConcurrency or MaxErrors value (a count, or a percentage of `total` rounded down to at least `min`) as a count. */
export function limit(value: string, total: number, min: number): number {
  if (value.endsWith('%')) return Math.max(min, Math.floor((Number(value.slice(0, -1)) * total) / 100));
  return Number(value);
}
