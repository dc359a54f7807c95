/**
 * Stack traces of a deployed bundle, mapped to the sources it was built from when a trace is formatted. Node's
 * `--enable-source-maps` reads and indexes the bundle's whole map at every cold start (about 12 ms of an 80 ms
 * load, on this code) for traces most invocations never print; here the map is read when the first trace is.
 */
import { existsSync, readFileSync } from 'node:fs';
import { TraceMap, originalPositionFor } from '@jridgewell/trace-mapping';

/** How a map source is shown: from `node_modules/` for a package, from `lambda/` for ours. */
export function sourceLabel(source: string): string {
  const pkg = source.lastIndexOf('node_modules/');
  if (pkg >= 0) return source.slice(pkg);
  const ours = source.lastIndexOf('/lambda/');
  if (ours >= 0) return source.slice(ours + 1);
  return source.replace(/^(\.\.?\/)+/, '');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Rewrites each `<bundle>:<line>:<column>` in `text` (the bundle as a path, or as a `file://` URL when it was
 * loaded as a module) to the source position `map` gives it (kept when none).
 */
export function mapPositions(text: string, bundle: string, map: TraceMap): string {
  return text.replace(
    new RegExp(`(?:file://)?${escapeRegExp(bundle)}:(\\d+):(\\d+)`, 'g'),
    (whole, line: string, column: string) => {
      // V8 counts columns from 1, source maps from 0.
      const p = originalPositionFor(map, { line: Number(line), column: Number(column) - 1 });
      return p.source === null ? whole : `${sourceLabel(p.source)}:${p.line}:${p.column + 1}`;
    },
  );
}

/** The trace V8 formats when no `Error.prepareStackTrace` is set. */
function v8Format(error: Error, sites: NodeJS.CallSite[]): string {
  let header: string;
  try {
    header = Error.prototype.toString.call(error);
  } catch {
    header = '<error>';
  }
  return header + sites.map((site) => `\n    at ${String(site)}`).join('');
}

/**
 * From now on, stack traces of this process name source positions instead of positions in `bundle`, through
 * `<bundle>.map`, read and indexed when the first trace is formatted. A formatter installed before keeps
 * formatting; its text is mapped. Does nothing and returns false when no map ships beside `bundle`, as when the
 * handlers run from their TypeScript sources.
 */
export function mapStackTraces(bundle: string): boolean {
  const mapFile = `${bundle}.map`;
  if (!existsSync(mapFile)) return false;
  const previous = Error.prepareStackTrace;
  let map: TraceMap | null | undefined;
  Error.prepareStackTrace = (error, sites) => {
    const trace: unknown = previous ? previous(error, sites) : v8Format(error, sites);
    if (typeof trace !== 'string') return trace;
    try {
      map ??= new TraceMap(readFileSync(mapFile, 'utf8'));
      return mapPositions(trace, bundle, map);
    } catch {
      // An unreadable map leaves the trace as V8 wrote it rather than losing the error.
      map = null;
      return trace;
    }
  };
  return true;
}
