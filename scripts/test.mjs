#!/usr/bin/env node
// Runs every compiled test file (build/test/**/*.test.js) with node:test. Node 20's
// `--test` takes no globs, and given a folder it would also run the helpers beside the tests.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const testRoot = join(dirname(fileURLToPath(import.meta.url)), '..', 'build', 'test');
const files = readdirSync(testRoot, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.test.js'))
  .sort()
  .map((f) => join(testRoot, f));
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...process.argv.slice(2), ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
