// 1,000 calls at once on one plug-in, on the main thread and in a worker: every call gets its
// own answer (no output, error or var of one call leaks into another), failures and traps
// mixed in do not disturb the calls around them, and nothing is lost or left pending. Runs in
// a bounded child. A pool under the same load: test/pool.test.ts ("runs 1,000 concurrent
// calls on its workers, nothing lost").
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assemble, libraryUrl, runBounded } from '../helpers.js';

const CALLS = 1000;

const script = (options: string, wasm: Uint8Array) => `
  const { createPlugin, PluginCallError } = await import(${JSON.stringify(libraryUrl)});
  const wasm = new Uint8Array(${JSON.stringify([...wasm])});
  const plugin = await createPlugin(wasm, { ...${options}, functions: { 'extism:host/user': { twice: (ctx, h) => ctx.store(ctx.read(h).text().repeat(2)) } } });
  const calls = [];
  for (let i = 0; i < ${CALLS}; i++) {
    const input = 'call-' + i;
    const kind = i % 5;
    if (kind === 0) calls.push(plugin.call('fail', input).then(() => 'no error', (e) => e instanceof PluginCallError && e.message === input ? 'ok' : 'wrong error ' + e.message));
    else if (kind === 1) calls.push(plugin.call('trap', input).then(() => 'no error', (e) => e instanceof PluginCallError ? 'ok' : 'wrong error ' + e));
    else if (kind === 2) calls.push(plugin.call('twice', input).then((o) => (o.text() === input + input ? 'ok' : 'crossed: ' + o.text())));
    else calls.push(plugin.call('echo', input).then((o) => (o.text() === input ? 'ok' : 'crossed: ' + o.text())));
  }
  const results = await Promise.all(calls);
  const wrong = results.map((r, i) => [i, r]).filter(([, r]) => r !== 'ok');
  if (wrong.length) throw new Error('calls answered wrongly: ' + JSON.stringify(wrong.slice(0, 5)));
  if ((await plugin.call('echo', 'after')).text() !== 'after') throw new Error('the plug-in does not answer afterwards');
  await plugin.close();
  console.log(results.length);`;

const GUEST = `(module
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "error_set" (func $error_set (param i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/user" "twice" (func $twice (param i64) (result i64)))
  (func (export "echo") (result i32) (call $output_set (call $input_offset) (call $input_length)) (i32.const 0))
  (func (export "fail") (result i32) (call $error_set (call $input_offset)) (i32.const 1))
  (func (export "trap") (result i32) unreachable)
  (func (export "twice") (result i32) (local $h i64)
    (local.set $h (call $twice (call $input_offset)))
    (call $output_set (local.get $h) (call $length (local.get $h)))
    (i32.const 0)))`;

describe(`${CALLS.toLocaleString('en-US')} concurrent calls on one plug-in`, () => {
  for (const [label, options] of [
    ['on the main thread', '{}'],
    ['in a worker', '{ runInWorker: true }'],
    ['in a worker with a timeout', '{ runInWorker: true, timeoutMs: 10000 }'],
  ]) {
    it(`each get their own answer ${label}`, async () => {
      const run = await runBounded(script(options!, await assemble(GUEST)), { timeoutMs: 120_000, maxRssMb: 600 });
      assert.equal(run.stdout.trim(), String(CALLS));
    });
  }
});
