#!/usr/bin/env node
// Entry point of the `acm-export` command: load TypeScript through tsx, run, and exit with the CLI's code.
'use strict';
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
