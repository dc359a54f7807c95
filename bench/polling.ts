/**
 * Completion detection computed from the state machine definition (pure, no I/O): when does the status
 * loop first see a fleet that finished at time t? The loop is InitPoll (Pass, sets the first poll state)
 * → WaitForNodes (Wait) → status-check (Task, returns the next poll state) → InstallFinished?
 * (Choice, back to the Wait while InProgress). Task durations are taken as zero, so a poll happens exactly
 * at the sum of the waits before it.
 */
import type { AslDefinition } from '../lib/render-definition';
import { STATES, type PollState } from '../lambda/shared/contract';
import { pollWaitSeconds } from '../lambda/status-check/backoff';

export type StateData = Record<string, unknown>;

/** Reads a simple reference path (`$`, `$.a.b`). */
export function readPath(data: unknown, path: string): unknown {
  if (path === '$') return data;
  if (!path.startsWith('$.')) throw new Error(`unsupported path ${path}`);
  let value: unknown = data;
  for (const key of path.slice(2).split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** Returns a copy of `data` with `value` written at a simple reference path (`$.a.b`). */
export function writePath(data: StateData, path: string, value: unknown): StateData {
  if (path === '$') return value as StateData;
  if (!path.startsWith('$.')) throw new Error(`unsupported path ${path}`);
  const keys = path.slice(2).split('.');
  const root: StateData = { ...data };
  let node = root;
  keys.forEach((key, i) => {
    if (i === keys.length - 1) node[key] = value;
    else {
      const child = node[key];
      node[key] = typeof child === 'object' && child !== null ? { ...(child as StateData) } : {};
      node = node[key] as StateData;
    }
  });
  return root;
}

/** Seconds a Wait state waits for `data` (Seconds or SecondsPath; Timestamp waits are not used here). */
export function waitSecondsOf(state: Record<string, unknown>, data: unknown): number {
  if (state.Type !== 'Wait') throw new Error(`not a Wait state: ${String(state.Type)}`);
  if (typeof state.Seconds === 'number') return state.Seconds;
  if (typeof state.SecondsPath === 'string') {
    const seconds = readPath(data, state.SecondsPath);
    if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 0) {
      throw new Error(`${state.SecondsPath} is not a non-negative integer: ${JSON.stringify(seconds)}`);
    }
    return seconds;
  }
  throw new Error('Wait state without Seconds or SecondsPath');
}

function stateOf(asl: AslDefinition, name: string): Record<string, unknown> {
  const state = asl.States[name];
  if (!state) throw new Error(`the definition has no state ${name}`);
  return state;
}

/** The poll loop's states, checked to be wired as described above. */
export function pollLoop(asl: AslDefinition): {
  init: Record<string, unknown>;
  wait: Record<string, unknown>;
  check: Record<string, unknown>;
} {
  const init = stateOf(asl, STATES.initPoll);
  const wait = stateOf(asl, STATES.waitForNodes);
  const check = stateOf(asl, STATES.checkInstall);
  const choice = stateOf(asl, STATES.pollResult);
  if (init.Type !== 'Pass' || init.Next !== STATES.waitForNodes)
    throw new Error(`${STATES.initPoll} is not a Pass into ${STATES.waitForNodes}`);
  if (wait.Type !== 'Wait' || wait.Next !== STATES.checkInstall)
    throw new Error(`${STATES.waitForNodes} is not a Wait into ${STATES.checkInstall}`);
  if (check.Type !== 'Task' || check.Next !== STATES.pollResult)
    throw new Error(`${STATES.checkInstall} is not a Task into ${STATES.pollResult}`);
  const loopsBack = ((choice.Choices ?? []) as { Next?: string }[]).some((c) => c.Next === STATES.waitForNodes);
  if (choice.Type !== 'Choice' || !loopsBack)
    throw new Error(`${STATES.pollResult} does not loop back to ${STATES.waitForNodes}`);
  return { init, wait, check };
}

/**
 * The poll path of a definition: the event path's wait on a task token (await-command) replaced by the Wait
 * whose seconds status-check grows (WaitForNodes), InitPoll → WaitForNodes → status-check → InstallFinished?,
 * back to the Wait while InProgress. A definition that already polls is returned as a copy.
 */
export function withPollLoop(asl: AslDefinition): AslDefinition {
  const copy = JSON.parse(JSON.stringify(asl)) as AslDefinition;
  if (!copy.States[STATES.awaitCommand]) return copy;
  delete copy.States[STATES.awaitCommand];
  copy.States[STATES.waitForNodes] = { Type: 'Wait', SecondsPath: '$.poll.waitSeconds', Next: STATES.checkInstall };
  stateOf(copy, STATES.initPoll).Next = STATES.waitForNodes;
  for (const choice of (stateOf(copy, STATES.pollResult).Choices ?? []) as { Next?: string }[])
    if (choice.Next === STATES.awaitCommand) choice.Next = STATES.waitForNodes;
  if (JSON.stringify(copy).includes(`"${STATES.awaitCommand}"`))
    throw new Error(`${STATES.awaitCommand} is still referenced after rendering the poll path`);
  return copy;
}

/** The definition with its poll wait replaced by a fixed `seconds` Wait (the baseline's 15-second loop). */
export function withFixedWait(asl: AslDefinition, seconds: number): AslDefinition {
  const copy = JSON.parse(JSON.stringify(asl)) as AslDefinition;
  const wait = stateOf(copy, STATES.waitForNodes);
  copy.States[STATES.waitForNodes] = { Type: 'Wait', Seconds: seconds, Next: wait.Next };
  return copy;
}

/** What status-check returns while the fleet is still running (its backoff). */
export function nextInProgressPoll(poll: PollState): PollState {
  const attempt = poll.attempt + 1;
  return { status: 'InProgress', attempt, waitSeconds: pollWaitSeconds(attempt) };
}

export interface Detection {
  /** Poll times (seconds after the command was sent), the last one sees the finished fleet. */
  polls: number[];
  detectedAt: number;
  /** detectedAt − finishedAt. */
  latency: number;
}

/**
 * Polls of the definition's loop until the first one at or after `finishedAt` (a poll at exactly the finish
 * time sees it). `next` gives status-check's result for an in-progress fleet.
 */
export function detectCompletion(
  asl: AslDefinition,
  finishedAt: number,
  next: (poll: PollState) => PollState = nextInProgressPoll,
  maxPolls = 10_000,
): Detection {
  const { init, wait, check } = pollLoop(asl);
  let data = writePath({}, String(init.ResultPath ?? '$'), init.Result);
  const resultPath = String(check.ResultPath ?? '$');
  const polls: number[] = [];
  let t = 0;
  while (polls.length < maxPolls) {
    t += waitSecondsOf(wait, data);
    polls.push(t);
    if (t >= finishedAt) return { polls, detectedAt: t, latency: t - finishedAt };
    data = writePath(data, resultPath, next(readPath(data, resultPath) as PollState));
  }
  throw new Error(`no poll within ${maxPolls} polls`);
}

/** Mean detection latency for finish times spread evenly over (0, horizon] (step seconds apart). */
export function meanLatency(
  asl: AslDefinition,
  horizon: number,
  step = 0.1,
  next?: (poll: PollState) => PollState,
): number {
  let sum = 0;
  let n = 0;
  const count = Math.round(horizon / step);
  for (let i = 1; i <= count; i++) {
    sum += detectCompletion(asl, i * step, next).latency;
    n++;
  }
  return sum / n;
}
