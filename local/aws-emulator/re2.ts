/**
 * Parameter patterns as the SSM Agent sees them: it compiles every `allowedPattern` with Go's regexp (RE2
 * syntax) before a document runs and checks each value with `MatchString`, a search anywhere in the value,
 * so only the pattern's own ^ and $ make it a whole-value match. RE2 rejects what JavaScript accepts in
 * places (nested counted repetition above 1000, backreferences, look-around), so a pattern checked only with
 * `new RegExp` can fail every run on every node.
 *
 * Only the local emulator and the tests use this: Lambda code never needs RE2, and must not bundle it.
 */
import { RE2JS, RE2JSException } from 're2js';

/** A pattern that does not compile as RE2; the message is the parser's (Go's wording). */
export class Re2PatternError extends Error {
  constructor(
    readonly pattern: string,
    readonly reason: string,
  ) {
    super(`pattern ${pattern} is not valid RE2: ${reason}`);
    this.name = 'Re2PatternError';
  }
}

/** A compiled RE2 pattern, matched as the agent matches parameter values. */
export interface Re2Pattern {
  readonly source: string;
  /** True when the pattern matches somewhere in the value (Go's `Regexp.MatchString`). */
  test(value: string): boolean;
}

/** Patterns are compiled once: documents are few and reused by every SendCommand and association run. */
const compiled = new Map<string, Re2Pattern>();

/** Compiles as RE2 (Go regexp syntax, no flags); throws {@link Re2PatternError} when RE2 rejects it. */
export function compileRe2(pattern: string): Re2Pattern {
  const cached = compiled.get(pattern);
  if (cached) return cached;
  let regexp: RE2JS;
  try {
    regexp = RE2JS.compile(pattern);
  } catch (err) {
    // Syntax errors carry Go's wording: "error parsing regexp: invalid repeat count: `{1,16}`".
    if (err instanceof RE2JSException) throw new Re2PatternError(pattern, err.message);
    throw err;
  }
  const re2: Re2Pattern = { source: pattern, test: (value) => regexp.test(value) };
  compiled.set(pattern, re2);
  return re2;
}

/** Why RE2 rejects the pattern, or undefined when it compiles. */
export function re2PatternError(pattern: string): string | undefined {
  try {
    compileRe2(pattern);
    return undefined;
  } catch (err) {
    if (err instanceof Re2PatternError) return err.reason;
    throw err;
  }
}
