/** Checks a state machine definition against the Amazon States Language, as asl-validator implements it. */
import validateAsl from 'asl-validator';
import { AslDefinition } from '../../lib/render-definition';
import { Finding } from './template';

/** Every error asl-validator reports (schema, transitions, terminal states, paths, ARNs), one finding each. */
export function aslFindings(definition: AslDefinition): Finding[] {
  // The validator writes default QueryLanguage values into the object it is given.
  const { errors } = validateAsl(structuredClone(definition), { checkPaths: true, checkArn: true });
  return errors.map(
    (error) => `state machine: ${error['Error code'] ?? 'error'}: ${error.Message ?? JSON.stringify(error)}`,
  );
}
