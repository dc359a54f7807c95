/**
 * Captures what the in-process handlers log (Powertools Logger JSON lines and EMF metric lines) instead of
 * letting it mix with the CLI's output: every line is kept in memory (for leak scans) and appended to a
 * log file when one is given.
 */
import { appendFileSync } from 'node:fs';
import { Console } from 'node:console';
import { Writable } from 'node:stream';
import { logger, metrics } from '../lambda/shared/powertools';

export interface HandlerLogSink {
  readonly lines: string[];
  restore(): void;
}

interface HasConsole {
  console: Console;
}

/** Points the shared Logger and Metrics at a sink; `restore()` puts the previous consoles back. */
export function captureHandlerLogs(file?: string): HandlerLogSink {
  const lines: string[] = [];
  let partial = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const text = partial + chunk.toString('utf8');
      const parts = text.split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (file) {
          try {
            appendFileSync(file, `${line}\n`, { mode: 0o600 });
          } catch {
            // the log file is a convenience; the in-memory copy stays
          }
        }
      }
      callback();
    },
  });
  const sink = new Console({ stdout: stream, stderr: stream });
  // The `console` of Logger and Metrics is not public API; it is the one place both write to.
  const targets = [logger as unknown as HasConsole, metrics as unknown as HasConsole];
  const previous = targets.map((t) => t.console);
  for (const t of targets) t.console = sink;
  return {
    lines,
    restore: () => targets.forEach((t, i) => (t.console = previous[i])),
  };
}
