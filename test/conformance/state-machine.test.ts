import { renderStateMachineDefinition } from '../../lib/render-definition';
import { aslFindings } from './state-machine-checks';
import { copyOf, synthesizeTemplate } from './template';

const definition = renderStateMachineDefinition(synthesizeTemplate());

describe('state machine definition (Amazon States Language)', () => {
  test('the rendered definition of the deployed state machine passes asl-validator', () => {
    expect(aslFindings(definition)).toEqual([]);
  });

  test('a Next that names no state is a finding', () => {
    const broken = copyOf(definition);
    const [first] = Object.keys(broken.States);
    broken.States[first] = { ...broken.States[first], Next: 'NoSuchState' };
    delete broken.States[first].End;
    expect(aslFindings(broken)).toContain(
      "state machine: MISSING_TRANSITION_TARGET: Missing 'StartAt'|'Next'|'Default' target: NoSuchState",
    );
  });

  test('a Task state with neither Next nor End is a finding', () => {
    const broken = copyOf(definition);
    expect(broken.States['acm-export'].Next).toBe('ssm-run');
    delete broken.States['acm-export'].Next;
    expect(aslFindings(broken)).toEqual([
      'state machine: MISSING_TRANSITION_TARGET: State ssm-run is not reachable',
      'state machine: TERMINAL_STATE_WITH_NEXT: State "acm-export" MUST contain exactly one of "End", "Next"',
    ]);
  });
});
