/** Human output (aligned tables, short ARNs) and machine output (--json). */
import type { OutputStream } from './context';

export function printJson(out: OutputStream, value: unknown): void {
  out.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Renders rows as left-aligned columns separated by two spaces; a header line first. */
export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** `arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-…` → `eu-west-1:…/0a1b2c3d`. */
export function shortArn(arn: string): string {
  const match = arn.match(/^arn:[^:]+:acm:([^:]+):[^:]*:certificate\/([0-9a-f]{8})[0-9a-f-]*$/);
  return match ? `${match[1]}/${match[2]}…` : arn;
}

/** `2026-05-01T12:00:00.000Z` → `2026-05-01`. */
export function shortDate(iso: string | undefined): string {
  if (!iso) return '-';
  return /^\d{4}-\d{2}-\d{2}/.test(iso) ? iso.slice(0, 10) : iso;
}

/** Elapsed time as `1m05s` / `12s` / `1h02m`. */
export function formatElapsed(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}
