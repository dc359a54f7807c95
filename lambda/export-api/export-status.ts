/**
 * `GET /exports/{exportId}`: the state of one export execution, from DescribeExecution and its (paginated)
 * history: phase, per-phase timestamps, node counts, what each node reported (installed, unchanged, skipped)
 * and, for a failure, one line per failed node and the execution's error. Identifiers, dates and counts only.
 */
import {
  DescribeExecutionCommand,
  DescribeExecutionCommandOutput,
  GetExecutionHistoryCommand,
  GetExecutionHistoryCommandOutput,
  HistoryEvent,
  SFNClient,
} from '@aws-sdk/client-sfn';
import type { ExportPhase, ExportStatusResponse, NodeOutcomesView } from './api-types';
import {
  ExportTaskResult,
  InstallTaskResult,
  MAX_NODE_LINES,
  NodeOutcomes,
  NodesTaskResult,
  PollState,
  STATES,
  targetKey,
} from '../shared/contract';
import { INSTALL_FAILED_ERROR, rethrowThrottling } from '../shared/errors';
import { safeLine } from '../shared/redact';

export interface ExportStatusDeps {
  sfn: SFNClient;
  stateMachineArn: string;
}

/** Execution names: what Step Functions accepts and the API/renewals generate (no ':' or whitespace). */
export const EXPORT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$/;

export function executionArnFor(stateMachineArn: string, exportId: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${exportId}`;
}

type Json = Record<string, unknown>;

function parseJson(text: string | undefined): Json | undefined {
  if (!text) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
  } catch {
    return undefined;
  }
}

/** A Lambda invoke result may come wrapped as `{ Payload, StatusCode }` (non-payloadResponseOnly tasks). */
function unwrap(value: Json | undefined): Json | undefined {
  if (value && 'Payload' in value && 'StatusCode' in value && value.Payload && typeof value.Payload === 'object') {
    return value.Payload as Json;
  }
  return value;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : 0;
}

/** The poll state's outcome tally as the API shows it: counts, known server names, safe short lines. */
function outcomesView(value: unknown): NodeOutcomesView | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const o = value as Partial<Record<keyof NodeOutcomes, unknown>>;
  const reloaded: Record<string, number> = {};
  if (o.reloaded && typeof o.reloaded === 'object') {
    for (const [service, n] of Object.entries(o.reloaded as Record<string, unknown>))
      if (/^(nginx|apache2|httpd)$/.test(service) && count(n) > 0) reloaded[service] = count(n);
  }
  const skips = (Array.isArray(o.skips) ? (o.skips as Partial<Record<string, unknown>>[]) : [])
    .slice(0, MAX_NODE_LINES)
    .map((skip) => ({
      instanceId: safeLine(str(skip.instanceId)),
      reason: safeLine(str(skip.reason)),
      ...(str(skip.installedSerial) ? { installedSerial: safeLine(str(skip.installedSerial)) } : {}),
      ...(str(skip.installedNotAfter) ? { installedNotAfter: safeLine(str(skip.installedNotAfter)) } : {}),
    }));
  return {
    installed: count(o.installed),
    unchanged: count(o.unchanged),
    skipped: count(o.skipped),
    unreported: count(o.unreported),
    reloaded,
    noWebServer: count(o.noWebServer),
    skips,
  };
}

async function allEvents(sfn: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let token: string | undefined;
  do {
    let page: GetExecutionHistoryCommandOutput;
    try {
      page = await sfn.send(
        new GetExecutionHistoryCommand({ executionArn, reverseOrder: false, maxResults: 1000, nextToken: token }),
      );
    } catch (error) {
      return rethrowThrottling(error, 'states:GetExecutionHistory');
    }
    events.push(...(page.events ?? []));
    token = page.nextToken;
  } while (token);
  return events;
}

/**
 * Error name and message of a failed execution; a Lambda error cause (JSON) is reduced to its message, a
 * plain-text report (InstallFailed: the summary, then one line per node) to its summary line.
 */
function executionError(error: string | undefined, cause: string | undefined): { name: string; message: string } {
  const parsed = parseJson(cause);
  const firstLine = cause?.split('\n').find((line) => line.trim().length > 0);
  const known = str(parsed?.errorMessage) ?? str(parsed?.Cause) ?? str(parsed?.reason);
  // A JSON cause without a message (a poll state that was not status-check's) is never shown raw.
  const message =
    known ??
    (parsed
      ? `the workflow ended on an unexpected ${str(parsed.status) ? `${str(parsed.status)} ` : ''}result`
      : (firstLine ?? ''));
  return { name: (str(parsed?.errorType) ?? error ?? 'Error').slice(0, 100), message: safeLine(message) };
}

export type ExportStatusResult = { found: true; body: ExportStatusResponse } | { found: false };

export async function exportStatus(exportId: string, deps: ExportStatusDeps): Promise<ExportStatusResult> {
  const executionArn = executionArnFor(deps.stateMachineArn, exportId);
  let execution: DescribeExecutionCommandOutput;
  try {
    execution = await deps.sfn.send(new DescribeExecutionCommand({ executionArn }));
  } catch (error) {
    if (error instanceof Error && error.name === 'ExecutionDoesNotExist') return { found: false };
    return rethrowThrottling(error, 'states:DescribeExecution');
  }
  const events = await allEvents(deps.sfn, executionArn);

  const phases: ExportStatusResponse['phases'] = {};
  let current: string | undefined;
  let lastEntered: string | undefined;
  let nodes: Partial<NodesTaskResult> | undefined;
  let exported: Partial<ExportTaskResult> | undefined;
  let install: Partial<InstallTaskResult> | undefined;
  let poll: Partial<PollState> | undefined;
  let error: { name: string; message: string } | undefined;

  const take = (state: string | undefined, result: Json | undefined): void => {
    if (!result) return;
    if (state === STATES.findNodes) nodes = result as Partial<NodesTaskResult>;
    if (state === STATES.exportCertificate) exported = result as Partial<ExportTaskResult>;
    if (state === STATES.installOnNodes) install = result as Partial<InstallTaskResult>;
    if (state === STATES.checkInstall || state === STATES.awaitCommand) poll = result as Partial<PollState>;
  };
  const takeState = (state: Json | undefined): void => {
    if (!state) return;
    if (state.nodes && typeof state.nodes === 'object') nodes = state.nodes as Partial<NodesTaskResult>;
    if (state.export && typeof state.export === 'object') exported = state.export as Partial<ExportTaskResult>;
    if (state.install && typeof state.install === 'object') install = state.install as Partial<InstallTaskResult>;
    if (state.poll && typeof state.poll === 'object') poll = state.poll as Partial<PollState>;
  };

  for (const event of events) {
    const at = event.timestamp?.toISOString();
    const entered = event.stateEnteredEventDetails?.name;
    if (entered) {
      current = entered;
      lastEntered = entered;
      if (entered === STATES.exportCertificate) phases.exportStarted ??= at;
      if (entered === STATES.installOnNodes) phases.installStarted ??= at;
      if (entered === STATES.waitForNodes || entered === STATES.awaitCommand) phases.pollingStarted ??= at;
    }
    const taskOutput = event.lambdaFunctionSucceededEventDetails?.output ?? event.taskSucceededEventDetails?.output;
    if (taskOutput) take(current, unwrap(parseJson(taskOutput)));
    const exited = event.stateExitedEventDetails;
    if (
      exited?.name &&
      [
        STATES.findNodes,
        STATES.exportCertificate,
        STATES.installOnNodes,
        STATES.checkInstall,
        STATES.awaitCommand,
      ].includes(exited.name as never)
    ) {
      takeState(parseJson(exited.output));
    }
    if (event.executionFailedEventDetails) {
      error = executionError(event.executionFailedEventDetails.error, event.executionFailedEventDetails.cause);
    }
    if (event.executionTimedOutEventDetails) {
      error = executionError(
        event.executionTimedOutEventDetails.error ?? 'States.Timeout',
        event.executionTimedOutEventDetails.cause,
      );
    }
    if (event.executionAbortedEventDetails) {
      error = executionError(
        event.executionAbortedEventDetails.error ?? 'Aborted',
        event.executionAbortedEventDetails.cause,
      );
    }
    if (event.type && /^Execution(Succeeded|Failed|TimedOut|Aborted)$/.test(event.type)) phases.finished = at;
  }
  takeState(parseJson(execution.output));

  const input = parseJson(execution.input) ?? {};
  const status = (execution.status ?? 'RUNNING') as ExportStatusResponse['status'];
  if (!phases.finished && execution.stopDate) phases.finished = execution.stopDate.toISOString();
  const finalNodes = nodes as Partial<NodesTaskResult> | undefined;
  const finalInstall = install as Partial<InstallTaskResult> | undefined;
  const finalPoll = poll as Partial<PollState> | undefined;
  const finalExport = exported as Partial<ExportTaskResult> | undefined;

  let phase: ExportPhase;
  if (status === 'SUCCEEDED') {
    phase =
      finalNodes?.outcome === 'DryRun' ? 'DryRun' : finalInstall?.outcome === 'Superseded' ? 'Superseded' : 'Succeeded';
  } else if (status === 'RUNNING') {
    phase =
      !lastEntered || lastEntered === STATES.findNodes || lastEntered === STATES.exportCertificate
        ? 'Exporting'
        : lastEntered === STATES.installOnNodes
          ? 'Installing'
          : 'Polling';
  } else {
    phase = 'Failed';
  }
  if (phase === 'Failed' && !error && finalPoll?.reason)
    error = { name: INSTALL_FAILED_ERROR, message: safeLine(finalPoll.reason) };

  const outcomes = outcomesView(finalPoll?.outcomes);
  const tagKey = str(input.TargetTagKey);
  const tagValue = str(input.TargetTagValue);
  const total = finalPoll?.targetCount ?? finalInstall?.targetCount ?? finalNodes?.targetCount ?? 0;
  const body: ExportStatusResponse = {
    exportId,
    executionArn,
    status,
    phase,
    startDate: (execution.startDate ?? new Date(0)).toISOString(),
    ...(execution.stopDate ? { stopDate: execution.stopDate.toISOString() } : {}),
    phases,
    certificateArn: str(input.CertificateArn),
    certName: str(input.CertName),
    target: tagKey !== undefined && tagValue !== undefined ? targetKey(tagKey, tagValue) : undefined,
    serial: str(finalExport?.serial),
    notAfter: str(finalExport?.notAfter),
    commandId: str(finalInstall?.commandId),
    nodes: {
      total,
      completed: finalPoll?.completedCount ?? 0,
      // Undeliverable, Terminated, InvalidPlatform and AccessDenied nodes are in no count, only in the failures.
      failed: Math.max(
        (finalPoll?.errorCount ?? 0) + (finalPoll?.deliveryTimedOutCount ?? 0),
        finalPoll?.failures?.length ?? 0,
      ),
    },
    ...(outcomes ? { outcomes } : {}),
    failures:
      phase === 'Failed'
        ? (finalPoll?.failures ?? []).slice(0, MAX_NODE_LINES).map((f) => ({
            instanceId: String(f.instanceId),
            status: String(f.status),
            ...(typeof f.step === 'string' && /^[a-z]{1,20}$/.test(f.step) ? { step: f.step } : {}),
            line: safeLine(String(f.line)),
          }))
        : [],
    ...(phase === 'DryRun' && Array.isArray(finalNodes?.nodeIds)
      ? { dryRunNodeIds: finalNodes.nodeIds.filter((id) => typeof id === 'string').slice(0, 1000) }
      : {}),
    ...(error ? { error } : {}),
  };
  return { found: true, body: JSON.parse(JSON.stringify(body)) as ExportStatusResponse };
}
