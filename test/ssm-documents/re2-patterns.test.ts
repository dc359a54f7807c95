/**
 * The SSM Agent compiles every `allowedPattern` with Go's regexp (RE2) and checks values with MatchString.
 * These checks hold the shared field rules and the install document to that: every pattern compiles as RE2,
 * is anchored, and accepts and refuses exactly what JavaScript does on every value the other tests use;
 * the local emulator refuses a document whose pattern RE2 rejects, as the agent would fail every run.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import {
  certificateArnRule,
  DEFAULT_CONVERGENCE_SCHEDULE,
  DEFAULT_DRIFT_REPORT_SCHEDULE,
  FIELD_RULES,
  type FieldRule,
} from '../../lambda/shared/patterns';
import { SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { AwsEmulator } from '../../local/aws-emulator';
import { compileRe2, re2PatternError } from '../../local/aws-emulator/re2';
import { loadInstallDocument, type SsmCommandDocument } from '../../ssm-documents/load';
import {
  ACCEPTED_VALUES,
  BAD_BOOLEANS,
  BAD_FILE_STEMS,
  BAD_MODES,
  BAD_POSIX_NAMES,
  BAD_SERVICES,
  BAD_VERSION_STAGES,
  CONTROL_AND_LOOKALIKE_VALUES,
  foreignCertificateArns,
  HOSTILE_PATHS,
  NON_CANONICAL_PATHS,
  SHELL_METACHARACTERS,
  VALID_REQUEST_STRINGS,
  WORLD_READABLE_MODES,
} from '../helpers/field-values';
import { HOSTILE_VALUES } from './fixture';

/** The path rule before it was fixed: JavaScript accepts it, RE2 does not ({0,63} inside {1,16} is 1008 > 1000). */
const NESTED_REPEAT_PATH = '^(/[A-Za-z0-9_][A-Za-z0-9._-]{0,63}){1,16}$';

const doc = loadInstallDocument();
const documentPatterns = Object.entries(doc.parameters).flatMap(([name, p]) =>
  p.allowedPattern !== undefined ? [{ name, pattern: p.allowedPattern }] : [],
);

const SCOPED_ARN_RULES: Record<string, FieldRule> = {
  'region and account': certificateArnRule({ partition: 'aws', region: 'us-east-1', account: '111122223333' }),
  'account only': certificateArnRule({ account: '111122223333' }),
  'GovCloud partition': certificateArnRule({
    partition: 'aws-us-gov',
    region: 'us-gov-west-1',
    account: '111122223333',
  }),
};
const rulePatterns = [
  ...Object.entries(FIELD_RULES).map(([name, rule]) => ({ name, pattern: rule.pattern })),
  ...Object.entries(SCOPED_ARN_RULES).map(([scope, rule]) => ({
    name: `CertificateArn scoped to ${scope}`,
    pattern: rule.pattern,
  })),
];

const CERT_ARN = 'arn:aws:acm:us-east-1:111122223333:certificate/0d5f8a7e-1b2c-4d3e-8f9a-0b1c2d3e4f5a';
const GOV_CERT_ARN = 'arn:aws-us-gov:acm:us-gov-west-1:111122223333:certificate/0d5f8a7e-1b2c-4d3e-8f9a-0b1c2d3e4f5a';
const SCHEDULES = [
  DEFAULT_CONVERGENCE_SCHEDULE,
  DEFAULT_DRIFT_REPORT_SCHEDULE,
  'rate(30 minutes)',
  'rate(1 day)',
  'rate(6 hours)',
  'rate(1 minute)',
  'rate(5 minutes)',
  'rate(1 hours)',
];
/** Every value the document, API and reliability tests feed the rules, plus a trailing-newline variant of each. */
const values = (() => {
  const base = [
    ...Object.values(ACCEPTED_VALUES).flat(),
    ...NON_CANONICAL_PATHS,
    ...BAD_FILE_STEMS,
    ...BAD_MODES,
    ...WORLD_READABLE_MODES,
    ...BAD_BOOLEANS,
    ...BAD_VERSION_STAGES,
    ...BAD_POSIX_NAMES,
    ...BAD_SERVICES,
    ...HOSTILE_PATHS,
    ...Object.values(HOSTILE_VALUES),
    ...CONTROL_AND_LOOKALIKE_VALUES.map((c) => c.value),
    ...Object.values(VALID_REQUEST_STRINGS).flatMap((v) => [v, ...SHELL_METACHARACTERS.map((meta) => `${v}${meta}`)]),
    CERT_ARN,
    GOV_CERT_ARN,
    ...foreignCertificateArns(CERT_ARN, 'us-east-1', '111122223333').map(([, v]) => v),
    ...SCHEDULES,
  ];
  return [...new Set([...base, ...base.map((v) => `${v}\n`)])];
})();

/** Values on which JavaScript's RegExp.test and RE2's search (the agent's MatchString) give different answers. */
function disagreements(pattern: string, candidates: readonly string[]): { value: string; js: boolean; re2: boolean }[] {
  const js = new RegExp(pattern);
  const re2 = compileRe2(pattern);
  return candidates.map((value) => ({ value, js: js.test(value), re2: re2.test(value) })).filter((r) => r.js !== r.re2);
}

describe('every pattern that reaches SSM is valid RE2', () => {
  test.each(documentPatterns)('install document parameter $name', ({ pattern }) => {
    expect(re2PatternError(pattern)).toBeUndefined();
  });

  test.each(rulePatterns)('field rule $name', ({ pattern }) => {
    expect(re2PatternError(pattern)).toBeUndefined();
  });

  test('and anchored with ^ and $ (the agent searches: MatchString, not a whole-value match)', () => {
    for (const { name, pattern } of [...documentPatterns, ...rulePatterns])
      expect({ name, anchored: /^\^.*\$$/.test(pattern) }).toEqual({ name, anchored: true });
    // What an unanchored pattern would let through: the agent's search finds "site" inside a hostile value.
    expect(compileRe2('[a-z]+').test('site;id')).toBe(true);
    expect(compileRe2(FIELD_RULES.CertName.pattern).test('site;id')).toBe(false);
  });

  test("patterns JavaScript accepts but RE2 rejects are reported with Go's reason", () => {
    expect(() => new RegExp(NESTED_REPEAT_PATH)).not.toThrow();
    expect(re2PatternError(NESTED_REPEAT_PATH)).toMatch(/invalid repeat count/);
    expect(() => compileRe2(NESTED_REPEAT_PATH)).toThrow(
      `pattern ${NESTED_REPEAT_PATH} is not valid RE2: error parsing regexp: invalid repeat count`,
    );
    expect(re2PatternError('^(a)\\1$')).toMatch(/invalid escape sequence/);
    expect(re2PatternError('^(?!-)[a-z]+$')).toMatch(/invalid or unsupported Perl syntax/);
    expect(re2PatternError('^[a-z]{1001}$')).toMatch(/invalid repeat count/);
  });
});

describe('JavaScript and RE2 agree on every value the tests use', () => {
  test.each([...documentPatterns, ...rulePatterns])('$name: $pattern', ({ pattern }) => {
    expect(disagreements(pattern, values)).toEqual([]);
  });

  test('the comparison can fail: "." matches a carriage return in RE2, not in JavaScript', () => {
    expect(disagreements('^a.b$', ['axb', 'a\rb', 'a\nb'])).toEqual([{ value: 'a\rb', js: false, re2: true }]);
  });

  test('the values exercise both outcomes of every pattern (the agreement is not vacuous)', () => {
    for (const { name, pattern } of [...documentPatterns, ...rulePatterns]) {
      const re2 = compileRe2(pattern);
      const accepted = values.filter((v) => re2.test(v)).length;
      expect({ name, accepted: accepted > 0, rejected: accepted < values.length }).toEqual({
        name,
        accepted: true,
        rejected: true,
      });
    }
  });

  test('a trailing newline is refused by both ($ is end of text in Go and in JavaScript without the m flag)', () => {
    for (const { name, pattern } of [...documentPatterns, ...rulePatterns]) {
      for (const value of values.filter((v) => !v.endsWith('\n') && new RegExp(pattern).test(v))) {
        expect({
          name,
          value,
          js: new RegExp(pattern).test(`${value}\n`),
          re2: compileRe2(pattern).test(`${value}\n`),
        }).toEqual({ name, value, js: false, re2: false });
      }
    }
  });
});

describe('the local emulator compiles patterns as the agent does', () => {
  let aws: AwsEmulator;
  let ssm: SSMClient;
  beforeAll(async () => {
    aws = await AwsEmulator.start({ faults: { throttle: {}, notExportable: [], pending: [], nodes: {} } });
    ssm = new SSMClient({ ...aws.clientConfig(), maxAttempts: 1 });
  });
  afterAll(async () => {
    ssm?.destroy();
    await aws?.close();
  });

  const withPattern = (name: string, pattern: string, value?: string): SsmCommandDocument => ({
    ...doc,
    parameters: {
      ...doc.parameters,
      [name]: { ...doc.parameters[name], allowedPattern: pattern, ...(value !== undefined ? { default: value } : {}) },
    },
  });

  test('registers the install document', () => {
    expect(() => aws.ssm.registerDocument('Install-ACMCertificate-re2', doc)).not.toThrow();
  });

  test('refuses a document whose pattern RE2 rejects, with InvalidDocumentContent', () => {
    expect(() =>
      aws.ssm.registerDocument('Install-ACMCertificate-nested', withPattern('CertDir', NESTED_REPEAT_PATH)),
    ).toThrow(
      expect.objectContaining({
        name: 'InvalidDocumentContent',
        message: expect.stringMatching(
          /^Parameter "CertDir": allowedPattern is not a valid regular expression \(RE2\): .*invalid repeat count/,
        ),
      }),
    );
    expect(() =>
      aws.ssm.registerDocument('Install-ACMCertificate-lookahead', withPattern('CertName', '^(?!-)[A-Za-z0-9._-]+$')),
    ).toThrow(expect.objectContaining({ name: 'InvalidDocumentContent' }));
  });

  test('SendCommand checks values with RE2 search semantics', async () => {
    const dotDocument: SsmCommandDocument = {
      ...doc,
      parameters: { Line: { type: 'String', allowedPattern: '^a.b$', interpolationType: 'ENV_VAR' } },
    };
    aws.ssm.registerDocument('Dot', dotDocument);
    const send = (line: string) =>
      ssm.send(
        new SendCommandCommand({
          DocumentName: 'Dot',
          Targets: [{ Key: 'tag:Role', Values: ['none'] }],
          Parameters: { Line: [line] },
        }),
      );
    // RE2's "." matches a carriage return, JavaScript's does not: the agent would accept this value.
    await expect(send('a\rb')).resolves.toMatchObject({ Command: { TargetCount: 0 } });
    await expect(send('a\nb')).rejects.toMatchObject({
      name: 'InvalidParameters',
      message: expect.stringContaining('does not match pattern ^a.b$'),
    });
    await expect(send('xa-bx')).rejects.toMatchObject({ name: 'InvalidParameters' });
  });

  test('refuses a document whose default its own pattern refuses', () => {
    expect(() =>
      aws.ssm.registerDocument(
        'Install-ACMCertificate-default',
        withPattern('CertDir', FIELD_RULES.CertDir.pattern, 'etc/ssl'),
      ),
    ).toThrow(
      expect.objectContaining({
        name: 'InvalidDocumentContent',
        message: expect.stringContaining('"CertDir": the default value does not match'),
      }),
    );
  });
});

test('no Lambda code imports RE2 or the local emulator (it stays out of the function bundles)', () => {
  const files = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const p = path.join(dir, name);
      return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
    });
  const lambdaFiles = files(path.join(__dirname, '../../lambda'));
  expect(lambdaFiles.length).toBeGreaterThan(10);
  for (const file of lambdaFiles) {
    const imports = [
      ...readFileSync(file, 'utf8').matchAll(/from '([^']+)'|require\('([^']+)'\)|import\('([^']+)'\)/g),
    ].map((m) => m[1] ?? m[2] ?? m[3]);
    expect({ file, offending: imports.filter((i) => i === 're2js' || i.includes('/local/')) }).toEqual({
      file,
      offending: [],
    });
  }
});
