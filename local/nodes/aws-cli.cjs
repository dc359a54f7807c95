/**
 * The `aws` of a local node, run by the `aws` wrapper that writeAwsShim (shims.ts) writes (the wrapper answers
 * `aws --version` itself): the few AWS CLI v2
 * calls the node scripts make, against the local emulator, with the CLI's output format, error lines and exit
 * codes (252 usage, 254 service error, 255 connection). It signs with SigV4 itself and never loads the AWS SDK:
 * the scripts call `aws` on every run, so each call must cost little more than a Node start-up.
 *
 *   aws secretsmanager get-secret-value --region R --secret-id ID [--version-id V | --version-stage S]
 *       [--query SecretString --output text | --output json]
 *   aws secretsmanager describe-secret --region R --secret-id ID [--query FIELD] [--output json | text]
 *       (text only for a field whose value is a string)
 *   aws s3 cp [--region R] [--only-show-errors] s3://BUCKET/KEY FILE
 *       (GetObject, path style; errors as the CLI prints them: exit 1, "fatal error: ..." for a missing or
 *       forbidden object; 255 when the endpoint cannot be reached)
 *
 * Environment: AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; fault switches
 * ACM_EXPORT_LOCAL_AWS_FAIL (endpoint unreachable) and ACM_EXPORT_LOCAL_AWS_DENY (access denied).
 */
'use strict';
const { Buffer } = require('node:buffer');
const { setTimeout: sleep } = require('node:timers/promises');
const { URL } = require('node:url');
const { signRequest } = require('../sigv4-sign.cjs');

const OPERATIONS = {
  'get-secret-value': {
    name: 'GetSecretValue',
    options: ['region', 'secret-id', 'version-id', 'version-stage', 'query', 'output'],
    input: (o) => ({
      SecretId: o['secret-id'],
      ...(o['version-id'] ? { VersionId: o['version-id'] } : {}),
      ...(o['version-stage'] ? { VersionStage: o['version-stage'] } : {}),
    }),
  },
  'describe-secret': {
    name: 'DescribeSecret',
    options: ['region', 'secret-id', 'query', 'output'],
    input: (o) => ({ SecretId: o['secret-id'] }),
  },
};

class CliExit extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}
const usage = (message) => new CliExit(252, message);

/** Parses `secretsmanager <operation> --name value ...` (also `--name=value`). */
function parseArgs(args) {
  if (args[0] !== 'secretsmanager' || !Object.prototype.hasOwnProperty.call(OPERATIONS, args[1]))
    throw usage(
      `aws (local mode): only "secretsmanager ${Object.keys(OPERATIONS).join('" and "secretsmanager ')}" are implemented`,
    );
  const operation = OPERATIONS[args[1]];
  const options = {};
  for (let i = 2; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('--')) throw usage(`aws: error: unexpected argument ${a}`);
    const eq = a.indexOf('=');
    if (eq > 0) options[a.slice(2, eq)] = a.slice(eq + 1);
    else if (i + 1 < args.length) options[a.slice(2)] = args[++i];
    else throw usage(`aws: error: argument ${a}: expected one argument`);
  }
  for (const k of Object.keys(options))
    if (!operation.options.includes(k)) throw usage(`aws: error: unknown option --${k}`);
  if (!options['secret-id']) throw usage('aws: error: the following arguments are required: --secret-id');
  if (options.output !== undefined && !['json', 'text'].includes(options.output))
    throw usage(`aws (local mode): --output ${options.output} is not implemented (json or text)`);
  return { operation, options };
}

/** A timestamp as AWS CLI v2 prints it by default (ISO 8601, microseconds only when not zero). */
function isoTimestamp(epochSeconds) {
  const iso = new Date(Math.round(epochSeconds * 1000)).toISOString();
  const ms = iso.slice(20, 23);
  return `${iso.slice(0, 19)}${ms === '000' ? '' : `.${ms}000`}+00:00`;
}

/** The response as the CLI shows it: no metadata, `...Date` members as ISO 8601 text. */
function present(response) {
  return JSON.parse(JSON.stringify(response), (key, value) =>
    /Date$/.test(key) && typeof value === 'number' ? isoTimestamp(value) : value,
  );
}

/** The text the CLI prints for the query and output asked for. */
function render(operation, options, response) {
  const shown = present(response);
  const output = options.output || 'json';
  if (options.query === undefined) {
    if (output === 'json') return `${JSON.stringify(shown, null, 4)}\n`;
    throw usage('aws (local mode): --output text needs --query (a field whose value is a string)');
  }
  if (!/^[A-Za-z]+$/.test(options.query) || (operation.name === 'GetSecretValue' && options.query !== 'SecretString'))
    throw usage(`aws (local mode): --query ${options.query} is not implemented (a top-level field name)`);
  const value = Object.prototype.hasOwnProperty.call(shown, options.query) ? shown[options.query] : null;
  if (output === 'json') return `${JSON.stringify(value, null, 4)}\n`;
  if (value === null) return 'None\n';
  if (typeof value !== 'string')
    throw usage(`aws (local mode): --output text is implemented for string fields only, not ${options.query}`);
  return `${value}\n`;
}

/**
 * One request to the local endpoint, signed like the CLI's (SigV4 for `service`), with the CLI's user agent;
 * resolves with the status and the body as a Buffer. `body` is sent as is ('' for none).
 */
function signedRequest({ method, path, headers, body, region, service }) {
  const endpoint = new URL(process.env.AWS_ENDPOINT_URL);
  const transport = require(endpoint.protocol === 'https:' ? 'node:https' : 'node:http');
  return new Promise((resolve, reject) => {
    const signed = signRequest({
      method,
      path,
      headers: { host: endpoint.host, ...headers },
      body,
      region,
      service,
      accessKeyId: process.env.AWS_ACCESS_KEY_ID || '',
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY || '',
    });
    const req = transport.request(
      endpoint,
      {
        method,
        path,
        headers: {
          ...signed,
          ...(body ? { 'content-length': Buffer.byteLength(body) } : {}),
          // Unsigned, as the CLI's: the emulator counts calls per node by this id (on AWS, the instance
          // role's session names the node).
          'user-agent': `aws-cli/2.22.0 md/local${process.env.AWS_SSM_INSTANCE_ID ? ` app/${process.env.AWS_SSM_INSTANCE_ID}` : ''}`,
        },
      },
      (res) => {
        const chunks = [];
        res.on('data', (d) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode || 0, body: Buffer.concat(chunks) }));
      },
    );
    req.setTimeout(60_000, () => req.destroy(new Error('read timeout')));
    req.on('error', reject);
    req.end(body || undefined);
  });
}

/**
 * `send()` retried like the CLI's standard mode: 3 attempts with backoff on a refused connection (then the
 * CLI's exit 255 naming `url`) and on answers `retryable(answer)` says are worth another try.
 */
async function sendWithRetries(send, retryable, url) {
  for (let attempt = 1; ; attempt++) {
    let answer;
    try {
      answer = await send();
    } catch {
      if (attempt < 3) {
        await sleep(50 * 2 ** attempt);
        continue;
      }
      throw new CliExit(255, `\nCould not connect to the endpoint URL: "${url}"`);
    }
    if (attempt < 3 && retryable(answer)) {
      await sleep(50 * 2 ** attempt);
      continue;
    }
    return answer;
  }
}

/** One signed JSON 1.1 call; retried like the CLI's standard mode on throttling, 5xx and refused connections. */
async function call(operation, input, region) {
  const endpoint = new URL(process.env.AWS_ENDPOINT_URL);
  const body = JSON.stringify(input);
  const send = async () => {
    const answer = await signedRequest({
      method: 'POST',
      path: '/',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `secretsmanager.${operation.name}` },
      body,
      region,
      service: 'secretsmanager',
    });
    return { status: answer.status, text: answer.body.toString('utf8') };
  };
  const parse = (text) => {
    try {
      return text ? JSON.parse(text) : {};
    } catch {
      return { message: text.slice(0, 200) };
    }
  };
  const typeOf = (parsed) => String(parsed.__type || 'Unknown').replace(/^.*#/, '');
  const answer = await sendWithRetries(
    send,
    (a) => a.status >= 500 || (a.status !== 200 && /Throttl|TooManyRequests/.test(typeOf(parse(a.text)))),
    `${endpoint.origin}/`,
  );
  const parsed = parse(answer.text);
  if (answer.status === 200) return parsed;
  const message = parsed.message || parsed.Message || '';
  throw new CliExit(
    254,
    `\nAn error occurred (${typeOf(parsed)}) when calling the ${operation.name} operation: ${message}`,
  );
}

/** `s3 cp [--region R] [--only-show-errors] s3://bucket/key file`: the one S3 call of the node programs. */
function parseCopy(args) {
  const options = {};
  const positional = [];
  for (let i = 2; i < args.length; i++) {
    const a = args[i];
    if (a === '--only-show-errors') options.quiet = true;
    else if (a === '--region' && i + 1 < args.length) options.region = args[++i];
    else if (a.startsWith('--')) throw usage(`aws (local mode): s3 cp option ${a} is not implemented`);
    else positional.push(a);
  }
  if (positional.length !== 2) throw usage('aws: error: the following arguments are required: paths');
  const source = /^s3:\/\/([^/]+)\/(.+)$/.exec(positional[0]);
  if (!source) throw usage('aws (local mode): s3 cp is implemented from s3://bucket/key to a local file only');
  return { bucket: source[1], key: source[2], file: positional[1], region: options.region };
}

/** GetObject, signed for s3; the object body, or the CLI's fatal error line (exit 1). */
async function copyFromS3({ bucket, key, file, region }) {
  const endpoint = new URL(process.env.AWS_ENDPOINT_URL);
  const objectPath = `/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  const send = () =>
    signedRequest({
      method: 'GET',
      path: objectPath,
      // The SHA-256 of an empty body: S3 requires the payload hash header.
      headers: { 'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
      body: '',
      region,
      service: 's3',
    });
  const answer = await sendWithRetries(send, (a) => a.status >= 500, `${endpoint.origin}${objectPath}`);
  if (answer.status === 200) {
    require('node:fs').writeFileSync(file, answer.body);
    return;
  }
  // The CLI asks HeadObject first: its error carries the status and reason only, no S3 error code.
  const reason = { 403: 'Forbidden', 404: 'Not Found' }[answer.status] || 'Error';
  throw new CliExit(
    1,
    `fatal error: An error occurred (${answer.status}) when calling the HeadObject operation: ${reason}`,
  );
}

async function main(args) {
  if (process.env.ACM_EXPORT_LOCAL_AWS_FAIL)
    throw new CliExit(255, `\nCould not connect to the endpoint URL: "${process.env.AWS_ENDPOINT_URL}/"`);
  if (args[0] === 's3' && args[1] === 'cp') {
    // ACM_EXPORT_LOCAL_AWS_DENY denies the node's secret calls only (the fault switch secretDenied).
    const copy = parseCopy(args);
    return copyFromS3({ ...copy, region: copy.region || process.env.AWS_REGION || '' });
  }
  const { operation, options } = parseArgs(args);
  if (process.env.ACM_EXPORT_LOCAL_AWS_DENY)
    throw new CliExit(
      254,
      `\nAn error occurred (AccessDeniedException) when calling the ${operation.name} operation: the node role is not authorized to perform secretsmanager:${operation.name} (local fault switch)`,
    );
  const region = options.region || process.env.AWS_REGION || '';
  const response = await call(operation, operation.input(options), region);
  process.stdout.write(render(operation, options, response));
}

if (require.main === module)
  main(process.argv.slice(2)).catch((error) => {
    process.stderr.write(
      `${error instanceof CliExit ? error.message : `aws (local mode): ${error && error.message}`}\n`,
    );
    process.exitCode = error instanceof CliExit ? error.code : 255;
  });

module.exports = { isoTimestamp, render, parseArgs, parseCopy };
