import { exportRequestStructure, matchesStructure, structuralErrorMessage } from '../../../lambda/export-api/api-model';
import { exportRequestSchema } from '../../../lambda/shared/schemas';
import { INPUT } from '../support';

const structure = exportRequestStructure();
const requestFields = Object.keys(exportRequestSchema().shape);

test('the structure lists exactly the zod fields (and the retired ones), the four required ones, no value rules', () => {
  expect(Object.keys(structure.properties)).toEqual([...requestFields, 'HooksDir']);
  expect(structure.required).toEqual(['CertificateArn', 'CertName', 'TargetTagKey', 'TargetTagValue']);
  expect(structure.additionalProperties).toBe(false);
  for (const property of Object.values(structure.properties)) expect(Object.keys(property)).toEqual(['type']);
  expect(structure.properties.VerifyPort.type).toBe('integer');
  expect(structure.properties.DryRun.type).toBe('boolean');
  expect(structure.properties.Service.type).toBe('string');
});

test.each([
  ['a valid request', INPUT, true],
  [
    'every optional field',
    {
      ...INPUT,
      VerifyPort: 443,
      DryRun: true,
      Pkcs12: false,
      CombinedPem: true,
      KeyMode: '0640',
      ConvergenceSchedule: 'x',
    },
    true,
  ],
  [
    'values the zod rules refuse (patterns are not structural)',
    { ...INPUT, CertName: 'x;id', VerifyPort: 70000 },
    true,
  ],
  ['null', null, false],
  ['an array', [INPUT], false],
  ['a string', 'x', false],
  ['a missing required field', { CertificateArn: 'a', CertName: 'b', TargetTagKey: 'c' }, false],
  ['an unknown field', { ...INPUT, Extra: 'x' }, false],
  // Through to the function, which names what replaced it (API Gateway's message could only say "unknown").
  ['the retired HooksDir', { ...INPUT, HooksDir: '/etc/cron.daily' }, true],
  ['an inherited name', { ...INPUT, constructor: 'x' }, false],
  ['__proto__ as an own key', JSON.parse(`{${JSON.stringify(INPUT).slice(1, -1)},"__proto__":{}}`) as unknown, false],
  ['a number for a string', { ...INPUT, CertName: 1 }, false],
  ['null for a string', { ...INPUT, CertName: null }, false],
  ['a fraction for an integer', { ...INPUT, VerifyPort: 1.5 }, false],
  ['a string for an integer', { ...INPUT, VerifyPort: '443' }, false],
  ['a string for a boolean', { ...INPUT, DryRun: 'true' }, false],
])('%s → %s', (_what, value, ok) => {
  expect(matchesStructure(value, structure)).toBe(ok);
});

test('the fixed message names every field, is plain ASCII and JSON-safe', () => {
  const message = structuralErrorMessage(structure);
  expect(message).toMatch(
    /^request body must be a JSON object with the required string fields CertificateArn, CertName, TargetTagKey, TargetTagValue, /,
  );
  for (const name of requestFields) expect(message).toContain(name);
  expect(message).not.toContain('HooksDir');
  expect(message).toMatch(/no other fields/);
  expect(message).toMatch(/^[\x20-\x7e]+$/);
  expect(message).not.toMatch(/["\\]/);
});
