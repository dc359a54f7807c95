/** A Command document's parameters: their defaults, and what a caller gave checked and resolved against them as the agent does. */
import type { SsmCommandDocument } from '../../ssm-documents/load';
import { AwsServiceError } from './errors';
import { compileRe2 } from './re2';

/** A parameter's default as the list of values it stands for (a StringList default is a YAML list). */
export const defaultValues = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : [String(value)]);

export function resolveParameters(
  doc: SsmCommandDocument,
  given: Record<string, unknown>,
): { values: Record<string, string>; lists: Record<string, string[]> } {
  const declared = doc.parameters ?? {};
  const invalid = (message: string): AwsServiceError => new AwsServiceError('InvalidParameters', message);
  for (const name of Object.keys(given))
    if (!(name in declared)) throw invalid(`Parameter "${name.slice(0, 128)}" is not defined in the document.`);
  const values: Record<string, string> = {};
  const lists: Record<string, string[]> = {};
  for (const [name, def] of Object.entries(declared)) {
    const raw = given[name];
    let list: string[];
    if (raw === undefined) {
      if (def.default === undefined) throw invalid(`Parameter "${name}" is required but was not provided.`);
      list = defaultValues(def.default);
    } else {
      if (!Array.isArray(raw) || raw.some((v) => typeof v !== 'string'))
        throw invalid(`Parameter "${name}" must be a list of strings.`);
      list = raw as string[];
      if (def.type !== 'StringList' && def.type !== 'MapList' && list.length !== 1)
        throw invalid(`Parameter "${name}" requires exactly one value.`);
      // As the agent checks: RE2, searched with MatchString (the pattern's ^ and $ anchor it).
      const pattern = def.allowedPattern !== undefined ? compileRe2(def.allowedPattern) : undefined;
      for (const v of list) {
        if (pattern && !pattern.test(v))
          throw invalid(
            `Parameter "${name}" failed to satisfy constraint: Parameter value does not match pattern ${def.allowedPattern}`,
          );
        if (def.allowedValues && !def.allowedValues.includes(v))
          throw invalid(
            `Parameter "${name}" failed to satisfy constraint: Parameter value is not one of the allowed values.`,
          );
        if (def.maxChars !== undefined && v.length > def.maxChars)
          throw invalid(
            `Parameter "${name}" failed to satisfy constraint: Parameter value is longer than ${def.maxChars} characters.`,
          );
        if (def.type === 'Integer' && !/^-?\d+$/.test(v))
          throw invalid(`Parameter "${name}" failed to satisfy constraint: Parameter value is not an integer.`);
        if (def.type === 'Boolean' && !/^(true|false)$/.test(v))
          throw invalid(`Parameter "${name}" failed to satisfy constraint: Parameter value is not a boolean.`);
      }
    }
    lists[name] = list;
    values[name] = def.type === 'StringList' ? list.join(',') : (list[0] ?? '');
  }
  return { values, lists };
}
