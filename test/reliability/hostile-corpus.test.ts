/**
 * Hostile corpus: malformed and malicious export requests, each sent SIGNED to the local API. Every one
 * must be refused with a 4xx whose message names the offending field (or, when the body fails the API's
 * structural model, is the fixed message listing every field; or says the body is too large or of the
 * wrong media type) and does not echo the hostile value, and start nothing: no execution, no SendCommand,
 * no file written on any node.
 */
import type { ApiClient } from '../../cli/api-client';
import { exportRequestStructure, matchesStructure, structuralErrorMessage } from '../../lambda/export-api/api-model';
import { FIELD_RULES, MAX_REQUEST_BYTES } from '../../lambda/shared/patterns';
import { exportRequestSchema, formatIssues } from '../../lambda/shared/schemas';
import { TOO_LARGE } from '../../lambda/export-api/start-export';
import { MAX_API_BODY } from '../../local/api';
import { startLocalMode, type LocalMode } from '../../local/runtime';
import { apiClient, exportBody, finished, rawRequest, requestCertificate, startExport } from '../e2e/support';
import {
  CONTROL_AND_LOOKALIKE_VALUES,
  foreignCertificateArns,
  HOSTILE_PATHS,
  SHELL_METACHARACTERS,
  VALID_REQUEST_STRINGS,
} from '../helpers/field-values';
import { changedFiles, executionCount, nodeFiles } from '../helpers/reliability';

interface HostileCase {
  name: string;
  /** The raw body as sent. */
  body: string;
  contentType?: string;
  /** Status the API must answer with. */
  status: 400 | 413 | 415;
  /** Field the validation message must name (JSON bodies that are objects). */
  field?: string;
  /** Hostile text that must not come back in any message. */
  needle?: string;
}

let local: LocalMode;
let api: ApiClient;
let arn: string;
let good: Record<string, unknown>;

beforeAll(async () => {
  local = await startLocalMode({
    nodes: 2,
    tags: { Role: 'web' },
    waitScale: 20,
    ssmMsPerSecond: 20,
    faults: { throttle: {}, notExportable: [], pending: [], nodes: {} },
  });
  api = apiClient(local);
  arn = await requestCertificate(local, 'hostile.reliability.example.test');
  good = exportBody(local, arn);
});

afterAll(async () => {
  await local?.close();
});

function corpus(): HostileCase[] {
  const cases: HostileCase[] = [];
  const json = (name: string, body: unknown, field: string | undefined, needle?: string): void => {
    cases.push({
      name,
      body: JSON.stringify(body),
      status: 400,
      ...(field ? { field } : {}),
      ...(needle !== undefined ? { needle } : {}),
    });
  };
  const withField = (field: string, value: unknown, name: string, needle?: string): void =>
    json(
      `${field}: ${name}`,
      { ...good, [field]: value },
      field,
      needle ?? (typeof value === 'string' ? value : undefined),
    );

  // Shell metacharacters in every string field (on top of a valid value, so only the metacharacter is wrong).
  const stringBases: Record<string, string> = { CertificateArn: arn, ...VALID_REQUEST_STRINGS };
  for (const [field, base] of Object.entries(stringBases)) {
    for (const meta of SHELL_METACHARACTERS) withField(field, `${base}${meta}`, `shell metacharacter ${meta}`, meta);
  }
  // Path traversal and non-canonical paths.
  for (const field of ['CertDir', 'KeyDir']) {
    for (const p of HOSTILE_PATHS) {
      withField(field, p, `path ${p}`);
    }
  }
  withField('CertName', '../../etc/cron.d/x', 'traversal in the file stem', '../');
  withField('CertName', '.hidden', 'dot file stem');
  withField('CertName', 'a/b', 'slash in the file stem');
  // Control characters and look-alikes.
  for (const c of CONTROL_AND_LOOKALIKE_VALUES) withField(c.field, c.value, c.name, c.needle);
  // Oversize fields (the body stays under the size limit: the field rule refuses them).
  withField('CertName', 'a'.repeat(301), '301 characters');
  withField('TargetTagKey', 'k'.repeat(300), '300 characters');
  withField('TargetTagValue', 'v'.repeat(5_000), '5 kB string');
  withField('CertDir', `/${'d'.repeat(5_000)}`, '5 kB path');
  withField('CertificateArn', `${arn}${'0'.repeat(3000)}`, 'ARN with 3000 trailing characters');
  // Wrong types.
  withField('CertName', 123, 'number');
  withField('CertName', ['site'], 'array');
  withField('CertName', { name: 'site' }, 'object');
  withField('CertName', null, 'null');
  withField('TargetTagValue', true, 'boolean');
  withField('VerifyPort', '443', 'number as string');
  withField('VerifyPort', 443.5, 'fraction');
  withField('VerifyPort', -1, 'negative');
  withField('VerifyPort', 70000, 'out of range');
  withField('DryRun', 'true', 'boolean as string', ''); // the rule itself says "true or false"
  withField('DryRun', 1, 'boolean as number');
  withField('Service', ['nginx'], 'enum in an array');
  // Missing required fields, each one.
  for (const field of ['CertificateArn', 'CertName', 'TargetTagKey', 'TargetTagValue']) {
    const body = { ...good };
    delete body[field];
    json(`missing ${field}`, body, field);
  }
  // Extra and look-alike field names (unknown fields are rejected, whatever new optional fields appear).
  for (const extra of ['Extra', 'certName', 'Command', 'Parameters', 'SecretId', 'commands', '$(id)', 'constructor']) {
    json(`extra field ${extra}`, { ...good, [extra]: 'x;id' }, extra.replace(/[^A-Za-z0-9_.-]/g, '?'), 'x;id');
  }
  cases.push({
    name: 'extra field __proto__',
    body: `{${JSON.stringify(good).slice(1, -1)},"__proto__":{"polluted":true}}`,
    status: 400,
    field: '__proto__',
  });
  // ARNs of other services, regions, partitions, accounts, and look-alikes.
  for (const [name, value] of foreignCertificateArns(arn, local.region, local.accountId)) {
    withField('CertificateArn', value, name, value.length >= 3 && value !== arn ? value : undefined);
  }
  // Reserved tag keys.
  for (const key of ['aws:cloudformation:stack-name', 'AWS:Role', 'Aws:x', 'aWs:ec2:fleet'])
    withField('TargetTagKey', key, `reserved ${key}`);
  // Bodies that are not a JSON object.
  const notObject = (name: string, body: string): void => {
    cases.push({ name, body, status: 400, field: '(body)' });
  };
  for (const [name, body] of [
    ['form encoded', 'CertName=site&CertificateArn=x'],
    ['truncated JSON', '{"CertificateArn": '],
    ['empty body', ''],
    ['null', 'null'],
    ['array', '[]'],
    ['array of a valid request', `[${JSON.stringify(good)}]`],
    ['string', '"$(id)"'],
    ['number', '42'],
    ['boolean', 'true'],
    ['byte order mark', `\uFEFF${JSON.stringify(good)}`],
    ['deep nesting', `${'['.repeat(5000)}${']'.repeat(5000)}`],
    ['single quotes', JSON.stringify(good).replace(/"/g, "'")],
  ] as const)
    notObject(name, body);
  // Wrong content types (the body itself is valid).
  for (const ct of [
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/xml',
    'application/json-patch+json',
  ]) {
    cases.push({ name: `content type ${ct}`, body: JSON.stringify(good), contentType: ct, status: 415 });
  }
  // Bodies over the limit: the function's (a 400 that says so) and the gateway's (413).
  cases.push({
    name: 'body over MAX_REQUEST_BYTES',
    body: JSON.stringify({ ...good, TargetTagValue: 'v'.repeat(MAX_REQUEST_BYTES) }),
    status: 400,
    field: '(size)',
  });
  cases.push({
    name: 'body just over the limit',
    body: JSON.stringify({ ...good, CertName: 'a'.repeat(MAX_API_BODY) }),
    status: 413,
  });
  cases.push({ name: '1 MB body', body: JSON.stringify({ ...good, Padding: 'p'.repeat(1024 * 1024) }), status: 413 });
  // Duplicate keys: the last one wins in JSON, so a hostile last value must be refused.
  cases.push({
    name: 'duplicate CertName, hostile last',
    body: `${JSON.stringify(good).slice(0, -1)},"CertName":"site;id"}`,
    status: 400,
    field: 'CertName',
    needle: 'site;id',
  });
  cases.push({
    name: 'duplicate CertDir, traversal last',
    body: `${JSON.stringify(good).slice(0, -1)},"CertDir":"/etc/ssl/certs","CertDir":"/etc/../root"}`,
    status: 400,
    field: 'CertDir',
    needle: '/etc/../root',
  });
  return cases;
}

const STRUCTURE = exportRequestStructure();
const STRUCTURAL_MESSAGE = structuralErrorMessage(STRUCTURE);

/** Which check refuses a 400 body first: the API's structural model, the function's size limit, or zod. */
function layer(body: string): 'structure' | 'size' | 'fields' {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return 'structure';
  }
  if (!matchesStructure(parsed, STRUCTURE)) return 'structure';
  return Buffer.byteLength(body) > MAX_REQUEST_BYTES ? 'size' : 'fields';
}

/** The field-naming message of the shared validation (what the CLI and the Lambdas report). */
function validationMessage(body: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const check = exportRequestSchema({ partition: 'aws', region: local.region, account: local.accountId }).safeParse(
    parsed,
  );
  return check.success ? '' : formatIssues(check.error);
}

test('every hostile request is refused with a 4xx, echoes nothing and starts nothing', async () => {
  const cases = corpus();
  expect(cases.length).toBeGreaterThanOrEqual(60);
  // The base body itself is valid: every case differs from an accepted request by its hostile part only.
  expect(validationMessage(JSON.stringify(good))).toBe('');

  local.aws.resetCallCounts();
  const executionsBefore = await executionCount(local);
  const filesBefore = nodeFiles(local);
  const problems: string[] = [];
  const layers = { structure: 0, size: 0, fields: 0 };
  let rejected = 0;
  for (const c of cases) {
    const res = await rawRequest(local, 'POST', '/exports', {
      body: c.body,
      contentType: c.contentType ?? 'application/json',
    });
    let message = '';
    try {
      message = String((JSON.parse(res.body) as { message?: unknown }).message ?? '');
    } catch {
      problems.push(`${c.name}: response is not a JSON {message}`);
    }
    if (res.status >= 400 && res.status < 500) rejected++;
    if (res.status !== c.status) problems.push(`${c.name}: status ${res.status}, expected ${c.status}`);
    if (c.status === 413) {
      if (!/too (long|large)/i.test(message)) problems.push(`${c.name}: message "${message.slice(0, 120)}"`);
    } else if (c.status === 415) {
      if (!/unsupported media type/i.test(message)) problems.push(`${c.name}: message "${message.slice(0, 120)}"`);
    } else {
      const refusedBy = layer(c.body);
      layers[refusedBy]++;
      if (refusedBy === 'structure') {
        // The API's fixed message: a JSON object, every field by name and JSON type, no other fields.
        if (message !== STRUCTURAL_MESSAGE)
          problems.push(`${c.name}: structural failure answered "${message.slice(0, 120)}"`);
        const known = c.field !== undefined && Object.prototype.hasOwnProperty.call(STRUCTURE.properties, c.field);
        if (known && !message.includes(c.field!)) problems.push(`${c.name}: message does not name ${c.field}`);
      } else if (refusedBy === 'size') {
        if (message !== TOO_LARGE) problems.push(`${c.name}: oversize body answered "${message.slice(0, 120)}"`);
      } else {
        // zod in the export-api function: "<Field>: <rule>", exactly the shared validation's message.
        const detail = validationMessage(c.body);
        if (message !== detail)
          problems.push(`${c.name}: message "${message.slice(0, 120)}", expected "${String(detail).slice(0, 120)}"`);
        if (c.field && !new RegExp(`(^|; )${c.field.replace(/[$?()]/g, '\\$&')}: `).test(message))
          problems.push(`${c.name}: message does not name ${c.field}`);
      }
    }
    if (c.needle && (res.body.includes(c.needle) || res.body.includes(JSON.stringify(c.needle).slice(1, -1))))
      problems.push(`${c.name}: the response echoes the hostile value`);
    if (c.status === 400) {
      const detail = validationMessage(c.body);
      if (detail === '') problems.push(`${c.name}: the shared validation accepts it`);
      if (detail !== undefined && c.field && c.field !== '(size)') {
        const names =
          c.field === '(body)'
            ? /request body must be a JSON object/
            : new RegExp(`(^|; )${c.field.replace(/[$?()]/g, '\\$&')}: `);
        if (!names.test(detail))
          problems.push(`${c.name}: validation message "${detail.slice(0, 120)}" does not name ${c.field}`);
        if (c.needle && detail.includes(c.needle))
          problems.push(`${c.name}: the validation message echoes the hostile value`);
      }
    }
  }
  const executions = (await executionCount(local)) - executionsBefore;
  const commands = local.aws.callCount('ssm:SendCommand');
  const files = changedFiles(filesBefore, nodeFiles(local));
  console.log(
    `hostile corpus: ${cases.length} requests, ${rejected} rejected with 4xx (structural model ${layers.structure}, field rules ${layers.fields}, ` +
      `size ${layers.size}, other ${cases.length - layers.structure - layers.fields - layers.size}), ${executions} executions, ${commands} commands, ${files.length} files`,
  );
  expect(problems).toEqual([]);
  expect(rejected).toBe(cases.length);
  expect(executions).toBe(0);
  expect(commands).toBe(0);
  expect(files).toEqual([]);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});

test('positive control: the same harness sees an accepted request start an execution (dry run: no command, no file)', async () => {
  local.aws.resetCallCounts();
  const before = await executionCount(local);
  const filesBefore = nodeFiles(local);
  const started = await startExport(api, { ...good, DryRun: true });
  expect((await finished(local, api, started.executionArn)).status).toBe('SUCCEEDED');
  expect(await executionCount(local)).toBe(before + 1);
  expect(local.aws.callCount('ssm:SendCommand')).toBe(0);
  expect(changedFiles(filesBefore, nodeFiles(local))).toEqual([]);
});

test('the field rules the corpus relies on are the shared ones', () => {
  // A guard against the corpus silently testing nothing: every field it targets has a rule or a schema entry.
  for (const f of [
    'CertName',
    'TargetTagKey',
    'TargetTagValue',
    'CertDir',
    'KeyDir',
    'MaxConcurrency',
    'MaxErrors',
  ] as const)
    expect(FIELD_RULES[f].pattern).toMatch(/^\^.*\$$/);
});
