import { readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { deterministicUuid, generatePassphrase } from '../../lambda/shared/passphrase';
import { parseWorkflowInput, scopeFromExecutionArn, tagValue } from '../../lambda/shared/workflow';
import { INSTALL_DEFAULTS } from '../../lambda/shared/patterns';
import * as errors from '../../lambda/shared/errors';
import { CERT_ARN, INPUT, executionArn } from './support';

describe('shared helpers', () => {
  test('passphrases are 43 URL-safe characters from 32 random bytes, different each time', () => {
    const a = generatePassphrase();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a).not.toMatch(/[#$%]/);
    expect(generatePassphrase()).not.toBe(a);
    expect(() => generatePassphrase(() => new Uint8Array(8))).toThrow('wrong number of bytes');
  });

  test('deterministic UUIDs are lower-case RFC 9562 v8 UUIDs', () => {
    const id = deterministicUuid('seed');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(deterministicUuid('seed')).toBe(id);
  });

  test('tag values are sanitized and truncated to the tag rules', () => {
    expect(tagValue('a#b$c')).toBe('a_b_c');
    expect(tagValue('x'.repeat(300))).toHaveLength(256);
    expect(tagValue(CERT_ARN)).toBe(CERT_ARN);
  });

  test("the execution input gets defaults and is scoped to the execution ARN's account and the function region", () => {
    const scope = scopeFromExecutionArn(executionArn(), 'us-east-1');
    expect(scope).toEqual({ partition: 'aws', region: 'us-east-1', account: '111122223333' });
    expect(parseWorkflowInput(INPUT, scope)).toEqual({
      ...INPUT,
      CertDir: INSTALL_DEFAULTS.CertDir,
      KeyDir: INSTALL_DEFAULTS.KeyDir,
      Service: 'auto',
      VerifyPort: 0,
      MaxConcurrency: '10%',
      MaxErrors: '0',
      DryRun: false,
      // Output profile defaults: root-owned files, key 0600 (derived on the node), certificates 0644.
      KeyOwner: '',
      KeyGroup: '',
      KeyMode: '',
      CertOwner: '',
      CertGroup: '',
      CertMode: '0644',
      Pkcs12: false,
      CombinedPem: false,
    });
    expect(() => parseWorkflowInput(INPUT, { ...scope, region: 'eu-west-1' })).toThrow(
      expect.objectContaining({ name: 'CertificateOutOfScope' }),
    );
    expect(() => parseWorkflowInput({ ...INPUT, CertificateArn: 'arn:aws:acm:x' }, scope)).toThrow(
      expect.objectContaining({ name: 'InvalidInput' }),
    );
    expect(() => parseWorkflowInput('not an object', scope)).toThrow('request body must be a JSON object');
  });
});

describe('typed errors', () => {
  /** Every typed error class errors.ts exports. */
  type TypedErrorClass = (new (message: string) => errors.AcmExportError) & { errorName: string };
  const classes = Object.entries(errors as Record<string, unknown>).filter(
    (e): e is [string, TypedErrorClass] => typeof e[1] === 'function' && 'errorName' in e[1],
  );

  test('each is named by a literal equal to its class name, so minified bundles report the same name', () => {
    expect(classes.map(([exported]) => exported)).toEqual(expect.arrayContaining(['Throttled', 'InvalidInput']));
    for (const [exported, ErrorClass] of classes) {
      const error = new ErrorClass('m');
      expect([exported, ErrorClass.errorName, error.name]).toEqual([exported, exported, exported]);
      expect(error).toBeInstanceOf(errors.AcmExportError);
      expect(String(error)).toBe(`${exported}: m`);
      expect(error.stack?.split('\n')[0]).toBe(`${exported}: m`);
    }
  });

  test('the names the workflow matches come from the classes', () => {
    expect(errors.RETRYABLE_ERRORS).toEqual(['Throttled']);
    expect(errors.INSTALL_FAILED_ERROR).toBe('InstallFailed');
    const cause = new Error('rate exceeded');
    cause.name = 'ThrottlingException';
    expect(() => errors.rethrowThrottling(cause, 'ssm:SendCommand')).toThrow(
      expect.objectContaining({ name: 'Throttled', cause }),
    );
  });
});

describe('code base rules', () => {
  const files = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const p = path.join(dir, name);
      return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
    });
  const lambdaFiles = files(path.join(__dirname, '../../lambda'));

  test('no Scan anywhere in the Lambda code', () => {
    expect(lambdaFiles.length).toBeGreaterThan(10);
    for (const file of lambdaFiles)
      expect([file, /ScanCommand|ScanInput|\.scan\(|paginateScan/.test(readFileSync(file, 'utf8'))]).toEqual([
        file,
        false,
      ]);
  });

  test('the pure logic never reads the environment', () => {
    const logic = [
      'acm-export/acm-export',
      'ssm-run/ssm-run',
      'status-check/status-check',
      'acm-renew/acm-renew',
      'export-api/export-status',
      'export-api/list-certificates',
      'shared/inventory',
    ];
    for (const name of logic) {
      expect([
        name,
        readFileSync(path.join(__dirname, `../../lambda/${name}.ts`), 'utf8').includes('process.env'),
      ]).toEqual([name, false]);
    }
  });
});
