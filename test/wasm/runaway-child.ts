// Runs one guest function through the public API and prints what happened as one JSON line.
// A child process of runaway-guests.test.ts, so that a guest that cannot be stopped fails
// that test at its kill bound instead of hanging the suite.
// argv: the .wasm path, the function, the PluginOptions as JSON.
import { readFileSync } from 'node:fs';
import { createPlugin, type PluginOptions } from '../../src/index.js';

const [path, fn, optionsJson] = process.argv.slice(2) as [string, string, string];
const options = JSON.parse(optionsJson) as PluginOptions;
const plugin = await createPlugin(new Uint8Array(readFileSync(path)), options);
const start = performance.now();
let outcome: { code?: string; name?: string; message?: string; ok?: boolean };
try {
  await plugin.call(fn);
  outcome = { ok: true };
} catch (err) {
  const e = err as { code?: string; name?: string; message?: string };
  outcome = { code: e.code, name: e.name, message: e.message };
}
const tookMs = performance.now() - start;
await plugin.close();
process.stdout.write(`${JSON.stringify({ ...outcome, tookMs })}\n`);
