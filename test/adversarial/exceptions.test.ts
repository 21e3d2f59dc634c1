// Exceptions and exports of odd shapes: a guest's own wasm exception thrown out of an export,
// out of `_initialize` or out of its start function; exports returning v128, several values,
// an i64 or a float, taking parameters, or being a global or a table; a WASI guest whose memory
// has another name or that has none; a host function throwing a value that even String()
// cannot show. Each fails the call (or the creation) with a PlughostError that says what
// happened, on the main thread and in a worker, and the plug-in answers afterwards.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPlugin, FunctionNotFoundError, LinkError, PluginCallError, type PluginOptions } from '../../src/index.js';
import { assemble } from '../helpers.js';

const OK = '(func (export "ok") (result i32) (i32.const 0))';
const MODES = [false, true] as const;

/** Create, call `run`, then `ok`; the error `run` failed with, or null. */
async function callRun(wat: string, options: PluginOptions = {}): Promise<unknown> {
  const plugin = await createPlugin(await assemble(wat, { all: true }), options);
  try {
    const failure = await plugin.call('run').then(
      () => null,
      (err: unknown) => err,
    );
    assert.equal(await plugin.call('ok'), null, 'the plug-in answers afterwards');
    return failure;
  } finally {
    await plugin.close();
  }
}

describe('exceptions and odd exports', () => {
  for (const runInWorker of MODES) {
    const mode = runInWorker ? 'in a worker' : 'on the main thread';

    it(`a wasm exception thrown out of an export fails the call saying so, ${mode}`, async () => {
      const err = await callRun(`(module (tag $t (param i32)) (func (export "run") (result i32) (throw $t (i32.const 7))) ${OK})`, { runInWorker });
      assert.ok(err instanceof PluginCallError);
      assert.match(err.message, /WebAssembly exception/);
    });

    it(`a wasm exception thrown out of _initialize or the start function fails the creation with a LinkError saying so, ${mode}`, async () => {
      for (const wat of [
        `(module (tag $t (param i32)) (func (export "_initialize") (throw $t (i32.const 7))) ${OK})`,
        `(module (tag $t (param i32)) (func $s (throw $t (i32.const 7))) (start $s) ${OK})`,
      ]) {
        await assert.rejects(
          createPlugin(await assemble(wat, { all: true }), { runInWorker }),
          (err: unknown) => err instanceof LinkError && /WebAssembly exception/.test(err.message),
        );
      }
    });

    it(`exports of other signatures fail the call with a PluginCallError, ${mode}`, async () => {
      const shapes = [
        '(func (export "run") (result v128) (v128.const i32x4 0 0 0 0))',
        '(func (export "run") (param v128) (result i32) (i32.const 0))',
        '(func (export "run") (result i32 i32) (i32.const 0) (i32.const 0))',
        '(func (export "run") (result f64) (f64.const nan))',
        '(func $f) (elem declare func $f) (func (export "run") (result funcref) (ref.func $f))',
        '(func (export "run") (param i32 i64 f32) (result i32) (i32.wrap_i64 (local.get 1)))',
        '(func (export "run") (result i64) (i64.const -1))',
      ];
      for (const shape of shapes) {
        const err = await callRun(`(module ${shape} ${OK})`, { runInWorker });
        assert.ok(err instanceof PluginCallError, shape);
        assert.ok(Number.isInteger(err.exitCode), `${shape}: exit code ${err.exitCode}`);
      }
      // results that are no exit code say so, rather than "returned exit code NaN"
      for (const [shape, what] of [
        ['(func (export "run") (result i32 i32) (i32.const 0) (i32.const 0))', '2 values'],
        ['(func (export "run") (result f64) (f64.const nan))', 'the float NaN'],
        ['(func (export "run") (result f32) (f32.const 1.5))', 'the float 1.5'],
      ]) {
        const err = await callRun(`(module ${shape} ${OK})`, { runInWorker });
        assert.ok(err instanceof PluginCallError, shape);
        assert.match(err.message, new RegExp(`^"run" returned ${what}, which is no exit code`), shape);
        assert.equal(err.exitCode, -1, shape);
      }
      // an i64 0 is success, as an i32 0 is
      assert.equal(await callRun(`(module (func (export "run") (result i64) (i64.const 0)) ${OK})`, { runInWorker }), null);
    });

    it(`an export that is a global or a table is not a function, ${mode}`, async () => {
      for (const shape of ['(global (export "run") i32 (i32.const 0))', '(table (export "run") 1 funcref)']) {
        assert.ok((await callRun(`(module ${shape} ${OK})`, { runInWorker })) instanceof FunctionNotFoundError, shape);
      }
    });

    it(`a WASI guest whose memory has another name works, and one with no memory fails the call, ${mode}`, async () => {
      const write = '(import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))';
      const run = '(func (export "run") (result i32) (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))';
      assert.equal(await callRun(`(module ${write} (memory (export "mem") 1) ${run} ${OK})`, { runInWorker, useWasi: true }), null);
      assert.ok((await callRun(`(module ${write} ${run} ${OK})`, { runInWorker, useWasi: true })) instanceof PluginCallError);
    });

    it(`a host function throwing a value String() cannot show fails only the call, ${mode}`, async () => {
      const functions = {
        'extism:host/user': {
          f() {
            throw Object.create(null);
          },
        },
      };
      const wat = `(module (import "extism:host/user" "f" (func $f)) (func (export "run") (result i32) (call $f) (i32.const 0)) ${OK})`;
      // in a worker this threw on the host thread, uncaught, and the call never settled
      const err = await callRun(wat, { runInWorker, functions, timeoutMs: runInWorker ? 20_000 : undefined });
      assert.ok(err instanceof PluginCallError, String(err));
      assert.match(err.message, /has no text/);
    });
  }
});
