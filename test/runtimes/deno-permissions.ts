// plughost under Deno's permissions, as an application that grants only what it needs:
// scripts/test-runtimes.mjs runs this module as `deno run --allow-read=<dist/bundle/index.js>,
// <build/plugins>` (no env, no net, no other file of dist/). Importing plughost must not need
// env access (its variables only change defaults), a plug-in read from the allowed folder runs
// on the main thread, and worker mode, whose entry module Deno may not read, fails with a
// WorkerError that says what to grant.
// Only Deno has permissions; the file uses nothing of Deno's, so it compiles with the rest.
//
// Output: the cross-runtime suite's protocol (cases.ts, runTests); exits 1 if a test failed.
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import type * as Plughost from '../../src/index.js';
import { rejection, runTests, type Test } from './cases.js';
import * as assert from './check.js';

const print = (line: string) => console.log(line);
const countVowels = new URL('../../plugins/count-vowels.wasm', import.meta.url);

let api: typeof Plughost | undefined;
let importFailure: unknown;
try {
  api = (await import(new URL('../../../dist/bundle/index.js', import.meta.url).href)) as typeof Plughost;
} catch (err) {
  importFailure = err;
}

const tests: Test[] = [
  {
    name: '[deno permissions] plughost loads without env access',
    run: async () => {
      assert.ok(api !== undefined, `the import failed: ${String(importFailure)}`);
    },
  },
  {
    name: '[deno permissions] a plug-in from a folder --allow-read grants runs on the main thread',
    run: async () => {
      assert.ok(api !== undefined, 'plughost did not load');
      const plugin = await api.createPlugin(countVowels);
      try {
        assert.equal((await plugin.call('count_vowels', 'Hello, World!'))?.json().count, 3);
      } finally {
        await plugin.close();
      }
    },
  },
  {
    name: '[deno permissions] runInWorker without read access to its entry fails with a WorkerError naming the flag',
    run: async () => {
      assert.ok(api !== undefined, 'plughost did not load');
      const refused = await rejection(api.createPlugin(countVowels, { runInWorker: true }));
      assert.ok(refused instanceof api.WorkerError, `not a WorkerError: ${String(refused)}`);
      assert.equal(refused.code, 'PLUGHOST_WORKER');
      assert.match(refused.message, /--allow-read/);
    },
  },
  {
    name: '[deno permissions] allowedPaths naming a folder Deno may not read fails with a ManifestError naming the flag',
    run: async () => {
      assert.ok(api !== undefined, 'plughost did not load');
      const folder = fileURLToPath(new URL('../../fixtures/', import.meta.url));
      const refused = await rejection(api.createPlugin(countVowels, { useWasi: true, allowedPaths: { [folder]: '/data' } }));
      assert.ok(refused instanceof api.ManifestError, `not a ManifestError: ${String(refused)}`);
      assert.match(refused.message, /--allow-read/);
    },
  },
];

const failed = await runTests(tests, print);
// Explicitly: nothing left running decides when this process ends.
process.exit(failed === 0 ? 0 : 1);
