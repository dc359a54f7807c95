/**
 * Executables put first on a local node's PATH: an `aws` that implements the few AWS CLI calls the node
 * scripts make (against the local emulator, signed with the local keys: see aws-cli.cjs), and, for the
 * built-in HTTPS server, an `nginx` that implements `-t` and `-s reload` for it.
 * They are generated at run time into the node directory (they embed this machine's node binary path).
 */
import { chmodSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

/** Version line of the local `aws` (the scripts' preflight wants CLI v2). */
export const LOCAL_AWS_VERSION = 'aws-cli/2.22.0 Python/3.12.6 Linux/local exe/x86_64.acm-export-local-shim';

/** A word for sh: single-quoted, with embedded quotes closed and escaped. */
function shellWord(text: string): string {
  return `'${text.replace(/'/g, "'\\''")}'`;
}

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

/**
 * The node's `aws`: a POSIX sh wrapper that answers `aws --version` itself (the scripts ask on every run, and
 * a Node start-up for a version line costs more than the whole floor of an install) and runs aws-cli.cjs for
 * everything else.
 */
export function writeAwsShim(file: string): void {
  const cli = path.join(__dirname, 'aws-cli.cjs');
  const script = [
    '#!/bin/sh',
    '# aws for an acm-export local node (generated; see local/nodes/shims.ts).',
    'if [ "$#" -eq 1 ] && [ "$1" = --version ]; then',
    `  echo ${shellWord(LOCAL_AWS_VERSION)}`,
    '  exit 0',
    'fi',
    `exec ${shellWord(process.execPath)} ${shellWord(cli)} "$@"`,
    '',
  ].join('\n');
  writeFileSync(file, script, { mode: 0o755 });
  chmodSync(file, 0o755);
}

export function writeNginxShim(file: string): void {
  writeNodeScript(file, NGINX_SHIM);
}
