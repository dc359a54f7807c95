/**
 * Executables put first on a local node's PATH: an `aws` that implements exactly the AWS CLI calls the
 * install script makes (`secretsmanager get-secret-value`, and `describe-secret` for the version check of
 * association runs; against the local emulator, signed with the local keys via the SDK), and,
 * for the built-in HTTPS server, an `nginx` that implements `-t` and `-s reload` for it.
 * They are generated at run time into the node directory (they embed this machine's node binary path).
 */
import { chmodSync, writeFileSync } from 'node:fs';

const AWS_SHIM = String.raw`
'use strict';
const args = process.argv.slice(2);
const fail = (code, msg) => { process.stderr.write(msg + '\n'); process.exit(code); };
if (args[0] === '--version') {
  process.stdout.write('aws-cli/2.22.0 Python/3.12.6 Linux/local exe/x86_64.acm-export-local-shim\n');
  process.exit(0);
}
if (process.env.ACM_EXPORT_LOCAL_AWS_FAIL) fail(255, '\nCould not connect to the endpoint URL: "' + process.env.AWS_ENDPOINT_URL + '/"');
if (process.env.ACM_EXPORT_LOCAL_AWS_DENY && args[0] === 'secretsmanager')
  fail(254, '\nAn error occurred (AccessDeniedException) when calling the ' + (args[1] === 'describe-secret' ? 'DescribeSecret' : 'GetSecretValue') + ' operation: the node role is not authorized to perform secretsmanager:' + (args[1] === 'describe-secret' ? 'DescribeSecret' : 'GetSecretValue') + ' (local fault switch)');
const OPERATIONS = { 'get-secret-value': 'GetSecretValue', 'describe-secret': 'DescribeSecret' };
if (args[0] !== 'secretsmanager' || !OPERATIONS[args[1]])
  fail(252, 'aws (local mode): only "secretsmanager get-secret-value" and "secretsmanager describe-secret" are implemented');
const operation = OPERATIONS[args[1]];
const opts = {};
for (let i = 2; i < args.length; i++) {
  const a = args[i];
  if (!a.startsWith('--')) fail(252, 'aws: error: unexpected argument ' + a);
  const eq = a.indexOf('=');
  if (eq > 0) opts[a.slice(2, eq)] = a.slice(eq + 1);
  else opts[a.slice(2)] = args[++i];
}
for (const k of Object.keys(opts)) {
  const known = operation === 'GetSecretValue' ? ['region', 'secret-id', 'version-id', 'version-stage', 'query', 'output'] : ['region', 'secret-id', 'output'];
  if (!known.includes(k)) fail(252, 'aws: error: unknown option --' + k);
}
if (!opts['secret-id']) fail(252, 'aws: error: the following arguments are required: --secret-id');
const { SecretsManagerClient, GetSecretValueCommand, DescribeSecretCommand } = require(process.env.ACM_EXPORT_LOCAL_SDK_SM);
const client = new SecretsManagerClient({
  region: opts.region || process.env.AWS_REGION,
  endpoint: process.env.AWS_ENDPOINT_URL,
  credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY },
  maxAttempts: 3,
  // The emulator counts calls per node by this id (on AWS, the instance role's session names the node).
  ...(process.env.AWS_SSM_INSTANCE_ID ? { userAgentAppId: process.env.AWS_SSM_INSTANCE_ID } : {}),
});
const print = (out) => {
  const { $metadata, ...rest } = out;
  process.stdout.write(JSON.stringify(rest, (k, v) => (v instanceof Date ? v.getTime() / 1000 : v), 4) + '\n');
};
const failed = (err) => fail(254, '\nAn error occurred (' + (err.name || 'Unknown') + ') when calling the ' + operation + ' operation: ' + (err.message || ''));
if (operation === 'DescribeSecret') {
  if (opts.output !== undefined && opts.output !== 'json') fail(252, 'aws (local mode): describe-secret prints JSON only');
  client.send(new DescribeSecretCommand({ SecretId: opts['secret-id'] })).then(print, failed);
} else {
  const input = { SecretId: opts['secret-id'] };
  if (opts['version-id']) input.VersionId = opts['version-id'];
  if (opts['version-stage']) input.VersionStage = opts['version-stage'];
  client.send(new GetSecretValueCommand(input)).then((out) => {
    if (opts.query === 'SecretString' && opts.output === 'text') process.stdout.write((out.SecretString === undefined ? 'None' : out.SecretString) + '\n');
    else if (opts.query === undefined && (opts.output === undefined || opts.output === 'json')) print(out);
    else fail(252, 'aws (local mode): only --query SecretString --output text (or plain JSON) is implemented');
  }, failed);
}
`;

const NGINX_SHIM = String.raw`
'use strict';
const fs = require('fs');
const tls = require('tls');
const http = require('http');
const args = process.argv.slice(2);
let conf = process.env.ACM_EXPORT_NGINX_CONF;
let test = false;
let signal;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '-c') conf = args[++i];
  else if (args[i] === '-t') test = true;
  else if (args[i] === '-s') signal = args[++i];
  else if (args[i] === '-v' || args[i] === '-V') { process.stderr.write('nginx version: acm-export-local-builtin\n'); process.exit(0); }
}
const die = (msg) => { process.stderr.write('nginx: [emerg] ' + msg + '\n'); process.exit(1); };
let cfg;
try { cfg = JSON.parse(fs.readFileSync(conf, 'utf8')); } catch (e) { die('invalid configuration in ' + conf + ': ' + e.message); }
if (test) {
  try { tls.createSecureContext({ cert: fs.readFileSync(cfg.certificate), key: fs.readFileSync(cfg.certificateKey) }); }
  catch (e) { die('cannot load certificate "' + cfg.certificate + '": ' + e.message); }
  process.stderr.write('nginx: the configuration file ' + conf + ' syntax is ok\nnginx: configuration file ' + conf + ' test is successful\n');
  process.exit(0);
}
if (signal === 'reload') {
  const req = http.request({ host: '127.0.0.1', port: cfg.controlPort, method: 'POST', path: '/reload' }, (res) => {
    let body = '';
    res.on('data', (d) => (body += d));
    res.on('end', () => (res.statusCode === 200 ? process.exit(0) : die('reload failed: ' + body)));
  });
  req.setTimeout(10000, () => req.destroy(new Error('no answer from the server within 10 s')));
  req.on('error', (e) => die('reload failed: ' + e.message));
  req.end();
} else die('local nginx shim supports only -t and -s reload');
`;

function writeNodeScript(file: string, body: string): void {
  writeFileSync(file, `#!${process.execPath}\n${body}`, { mode: 0o755 });
  chmodSync(file, 0o755);
}

export function writeAwsShim(file: string): void {
  writeNodeScript(file, AWS_SHIM);
}

export function writeNginxShim(file: string): void {
  writeNodeScript(file, NGINX_SHIM);
}
