#!/usr/bin/env node
// Entry point of the `acm-export` command: load TypeScript through tsx, run, and exit with the CLI's code.
'use strict';

// The AWS SDK (@aws-sdk/core) emits a multi-line "NodeVersionSupportWarning" once per process on Node < 22
// (the engines field allows Node 20). It says nothing about this command and would land in the middle of
// every command's stderr, so exactly that warning is dropped; every other warning is emitted as usual.
// (The SDK's own switch, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true, still works too.)
const emitWarning = process.emitWarning;
process.emitWarning = function emitWarningExceptSdkNodeVersion(warning, ...rest) {
  const message = typeof warning === 'string' ? warning : warning && warning.message;
  if (typeof message === 'string' && message.startsWith('NodeVersionSupportWarning: The AWS SDK for JavaScript'))
    return;
  return emitWarning.call(process, warning, ...rest);
};

// A reader that stops early (`acm-export ... | head -1`) closes the pipe: the command's answer has been
// taken, so the rest of the output is dropped quietly, as other command-line tools do, instead of an
// unhandled EPIPE stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error && error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

require('tsx/cjs');
const { run } = require('./main.ts');

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`acm-export: unexpected failure: ${error && error.message ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
