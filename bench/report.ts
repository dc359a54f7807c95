/** Benchmark rows and their rendering as a Markdown table (and as JSON). */
import { formatNumber, formatRatio, ratio } from './stats';

/** One measured figure, ours against the baseline design. Every metric is "lower is better". */
export interface BenchRow {
  section: string;
  metric: string;
  unit: string;
  ours?: number;
  baseline?: number;
  /** baseline / ours (above 1: ours is better). */
  ratio?: number;
  note?: string;
}

export interface SectionResult {
  name: string;
  title: string;
  rows: BenchRow[];
  /** Set when the section did not run (the reason). */
  skipped?: string;
  /** Context lines printed under the section's rows. */
  notes: string[];
  durationMs: number;
}

export function row(
  section: string,
  metric: string,
  unit: string,
  ours: number | undefined,
  baseline: number | undefined,
  note?: string,
): BenchRow {
  const r: BenchRow = { section, metric, unit };
  if (ours !== undefined) r.ours = ours;
  if (baseline !== undefined) r.baseline = baseline;
  const q = ratio(ours, baseline);
  if (q !== undefined) r.ratio = q;
  if (note) r.note = note;
  return r;
}

function cell(value: number | undefined, unit: string): string {
  if (value === undefined) return 'n/a';
  return unit ? `${formatNumber(value)} ${unit}` : formatNumber(value);
}

function escape(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** The Markdown table of every section (skipped sections as one line each), with notes below. */
export function renderTable(sections: readonly SectionResult[]): string {
  const lines = ['| # | metric | ours | baseline | ratio (baseline/ours; >1 = ours better) |', '|---|---|---|---|---|'];
  const notes: string[] = [];
  sections.forEach((s, i) => {
    const n = i + 1;
    if (s.skipped) {
      lines.push(`| ${n} | ${escape(s.title)} | skipped: ${escape(s.skipped)} | | |`);
      return;
    }
    for (const r of s.rows) {
      const metric = r.note ? `${r.metric} (${r.note})` : r.metric;
      lines.push(
        `| ${n} | ${escape(metric)} | ${cell(r.ours, r.unit)} | ${cell(r.baseline, r.unit)} | ${formatRatio(r.ratio)} |`,
      );
    }
    for (const note of s.notes) notes.push(`${n}. ${note}`);
  });
  return notes.length ? `${lines.join('\n')}\n\nNotes:\n${notes.map((x) => `- ${x}`).join('\n')}` : lines.join('\n');
}
