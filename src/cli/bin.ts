#!/usr/bin/env node
// The `plughost` executable: everything is in run(); this only connects it to the process.
import { run } from './run.js';

// A closed pipe (`plughost call ... | head -c 10`) is the reader's choice, not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
});

process.exitCode = await run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin });
