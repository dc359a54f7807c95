/** Pure helpers for the benchmark: medians, ratios and number formatting. */

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) throw new Error('mean of an empty list');
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

/**
 * baseline / ours, for metrics where lower is better (time, calls, items read, transitions): above 1 means
 * ours is better (4 = the baseline needs 4x as much), below 1 means ours is worse. Undefined when a figure is
 * missing or ours is 0 while the baseline is not.
 */
export function ratio(ours: number | undefined, baseline: number | undefined): number | undefined {
  if (ours === undefined || baseline === undefined || !Number.isFinite(ours) || !Number.isFinite(baseline))
    return undefined;
  if (ours === 0) return baseline === 0 ? 1 : undefined;
  return baseline / ours;
}

/** A number with sensible precision: integers as is, otherwise 3 significant digits (at most 2 decimals above 1). */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  const abs = Math.abs(value);
  if (abs >= 100) return Math.round(value).toLocaleString('en-US');
  if (abs >= 1) return value.toFixed(abs >= 10 ? 1 : 2);
  return value.toPrecision(2);
}

/** `4.2x` (ours better), `0.85x` (ours worse), `1x`, or `n/a`. */
export function formatRatio(ratio: number | undefined): string {
  if (ratio === undefined) return 'n/a';
  if (ratio >= 100) return `${Math.round(ratio).toLocaleString('en-US')}x`;
  return `${ratio >= 10 ? ratio.toFixed(0) : ratio.toFixed(2).replace(/\.?0+$/, '')}x`;
}

/** Milliseconds elapsed since `start` (a process.hrtime.bigint() value). */
export function elapsedMs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Runs `fn` `runs` times (after `warmup` untimed runs) and returns each run's milliseconds. */
export async function timeRuns(runs: number, fn: () => Promise<unknown>, warmup = 1): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    await fn();
    times.push(elapsedMs(start));
  }
  return times;
}
