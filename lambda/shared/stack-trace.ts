/**
 * Stack traces of a deployed bundle, mapped to the sources it was built from when a trace is formatted: source
 * file, line and function name, as Node's `--enable-source-maps` writes them. That flag reads the bundle's whole
 * map at every cold start (about 12 ms of an 80 ms load, on this code) for traces most invocations never print;
 * here the map is read when the first trace is (about 35 ms then, once per process; Node's flag also decodes
 * the map again at its first trace).
 */
import { existsSync, readFileSync } from 'node:fs';
import { TraceMap, originalPositionFor } from '@jridgewell/trace-mapping';
import { escapeRegExp } from './regexp';

/** How a map source is shown: from `node_modules/` for a package, from `lambda/` for ours. */
export function sourceLabel(source: string): string {
  const pkg = source.lastIndexOf('node_modules/');
  if (pkg >= 0) return source.slice(pkg);
  const ours = source.lastIndexOf('/lambda/');
  if (ours >= 0) return source.slice(ours + 1);
  return source.replace(/^(\.\.?\/)+/, '');
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

/**
 * The source name of the function a frame in the bundle runs: the name the map gives the function's own start,
 * else the name it gives the call in the frame below (the caller's call of it), as Node's source-map support
 * reads them. Undefined when neither has one.
 */
export function originalFunctionName(sites: readonly NodeJS.CallSite[], i: number, map: TraceMap): string | undefined {
  const site = sites[i];
  const line = site.getEnclosingLineNumber();
  const column = site.getEnclosingColumnNumber();
  if (line !== null && column !== null) {
    const own = originalPositionFor(map, { line, column: column - 1 }).name;
    if (own) return own;
  }
  const caller = sites[i + 1];
  if (!caller || caller.getFileName() !== site.getFileName()) return undefined;
  const callerLine = caller.getLineNumber();
  const callerColumn = caller.getColumnNumber();
  if (callerLine === null || callerColumn === null) return undefined;
  return originalPositionFor(map, { line: callerLine, column: callerColumn - 1 }).name ?? undefined;
}

/** A formatted frame (`Type.fn [as m] (location)`) with the function's name `minified` replaced by `name`. */
export function renameFrame(frame: string, minified: string, name: string): string {
  const open = frame.lastIndexOf(' (');
  if (open < 0) return frame;
  const head = frame.slice(0, open);
  const at = [...head.matchAll(new RegExp(`(?<=^|[ .])${escapeRegExp(minified)}(?=$| )`, 'g'))].pop()?.index;
  return at === undefined ? frame : head.slice(0, at) + name + head.slice(at + minified.length) + frame.slice(open);
}

/** The header V8 writes above the frames. */
function traceHeader(error: Error): string {
  try {
    return Error.prototype.toString.call(error);
  } catch {
    return '<error>';
  }
}

/** The trace V8 formats when no `Error.prepareStackTrace` is set, with source names for the bundle's functions. */
function v8Format(error: Error, sites: NodeJS.CallSite[], bundle: string, map: TraceMap | null): string {
  const frames = sites.map((site, i) => {
    const frame = String(site);
    const minified = site.getFunctionName();
    if (!map || !minified || !isBundle(site.getFileName(), bundle)) return frame;
    const name = originalFunctionName(sites, i, map);
    return name && name !== minified ? renameFrame(frame, minified, name) : frame;
  });
  return traceHeader(error) + frames.map((frame) => `\n    at ${frame}`).join('');
}

function isBundle(file: string | undefined | null, bundle: string): boolean {
  return file === bundle || file === `file://${bundle}`;
}

/**
 * From now on, stack traces of this process name source positions and function names instead of positions in
 * `bundle`, through `<bundle>.map`, read and indexed when the first trace is formatted. Replaces Node's default
 * formatter, which writes the same frames without them. Does nothing and returns false when no map ships beside
 * `bundle`, as when the handlers run from their TypeScript sources.
 */
export function mapStackTraces(bundle: string): boolean {
  const mapFile = `${bundle}.map`;
  if (!existsSync(mapFile)) return false;
  let map: TraceMap | null | undefined;
  Error.prepareStackTrace = (error, sites) => {
    if (map === undefined) {
      try {
        map = new TraceMap(readFileSync(mapFile, 'utf8'));
      } catch {
        // Read once: a map that cannot be read leaves traces as V8 writes them rather than losing the error.
        map = null;
      }
    }
    if (map) {
      try {
        return mapPositions(v8Format(error, sites, bundle, map), bundle, map);
      } catch {
        map = null;
      }
    }
    return v8Format(error, sites, bundle, null);
  };
  return true;
}
