// "A call, step by step" (ABI.md): outcomes in order, state across calls, initialization.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPlugin, createPool, PluginCallError } from '../src/index.js';
import { assemble } from './helpers.js';

const IMPORTS = `
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "error_set" (func $error_set (param i64)))
`;

/** Guest helper: copy a string from linear memory (at $p, $n) into a new kernel block. */
const TO_BLOCK = `
  (func $to_block (param $p i32) (param $n i32) (result i64)
    (local $h i64) (local $i i32)
    (local.set $h (call $alloc (i64.extend_i32_u (local.get $n))))
    (block $done (loop $copy
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (call $store_u8 (i64.add (local.get $h) (i64.extend_i32_u (local.get $i))) (i32.load8_u (i32.add (local.get $p) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $copy)))
    (local.get $h))
`;

async function pluginFrom(wat: string, options = {}) {
  return createPlugin({ wasm: [{ data: await assemble(wat) }] }, options);
}

describe('a call', () => {
  it('fails with the exit code when the export returns non-zero', async () => {
    const plugin = await pluginFrom(`(module (func (export "f") (result i32) (i32.const 42)))`);
    await assert.rejects(plugin.call('f'), (err: PluginCallError) => {
      assert.ok(err instanceof PluginCallError);
      assert.equal(err.code, 'PLUGHOST_CALL');
      assert.equal(err.exitCode, 42);
      assert.equal(err.functionName, 'f');
      return true;
    });
  });

  it('fails with exactly the message of error_set, even when returning 0', async () => {
    const plugin = await pluginFrom(`(module ${IMPORTS} (memory 1) (data (i32.const 0) "the plug-in says no") ${TO_BLOCK}
      (func (export "f") (result i32) (call $error_set (call $to_block (i32.const 0) (i32.const 19))) (i32.const 0))
      (func (export "g") (result i32) (call $error_set (call $to_block (i32.const 0) (i32.const 19))) (i32.const 3)))`);
    await assert.rejects(plugin.call('f'), { message: 'the plug-in says no', exitCode: 0 });
    await assert.rejects(plugin.call('g'), { message: 'the plug-in says no', exitCode: 3 });
  });

  it('fails with the trap message on unreachable, and the next call works', async () => {
    const plugin = await pluginFrom(`(module ${IMPORTS}
      (func (export "trap") unreachable)
      (func (export "ok") (call $output_set (call $input_offset) (call $input_length))))`);
    await assert.rejects(plugin.call('trap'), { code: 'PLUGHOST_CALL', message: /unreachable/ });
    assert.equal((await plugin.call('ok', 'after'))?.text(), 'after');
  });

  it('fails on an out-of-bounds access and on a stack overflow without breaking the plug-in', async () => {
    const plugin = await pluginFrom(`(module (memory 1)
      (func (export "oob") (drop (i32.load (i32.const 70000))))
      (func $deep (export "deep") (call $deep))
      (func (export "ok") (result i32) (i32.const 0)))`);
    await assert.rejects(plugin.call('oob'), { message: /out of bounds/ });
    await assert.rejects(plugin.call('deep'), { code: 'PLUGHOST_CALL' });
    assert.equal(await plugin.call('ok'), null);
  });

  it('keeps linear memory and globals across calls', async () => {
    const plugin = await pluginFrom(`(module ${IMPORTS} (memory 1)
      (global $n (mut i32) (i32.const 0))
      (func (export "count")
        (global.set $n (i32.add (global.get $n) (i32.const 1)))
        (i32.store8 (i32.const 0) (i32.add (i32.const 48) (global.get $n)))
        (call $output_set (call $to_block (i32.const 0) (i32.const 1)) (i64.const 1)))
      ${TO_BLOCK})`);
    assert.equal((await plugin.call('count'))?.text(), '1');
    assert.equal((await plugin.call('count'))?.text(), '2');
    assert.equal((await plugin.call('count'))?.text(), '3');
    assert.equal(await plugin.reset(), true);
    assert.equal((await plugin.call('count'))?.text(), '1');
  });

  it('rejects a missing export with FunctionNotFoundError and reports it through functionExists', async () => {
    const plugin = await pluginFrom(`(module (func (export "here")) (memory (export "mem") 1))`);
    assert.equal(await plugin.functionExists('here'), true);
    assert.equal(await plugin.functionExists('nope'), false);
    assert.equal(await plugin.functionExists('mem'), false);
    await assert.rejects(plugin.call('nope'), { code: 'PLUGHOST_FUNCTION_NOT_FOUND', functionName: 'nope' });
  });

  // Rust plug-ins export functions meant for other modules to import (a host function written
  // in wasm, say); calling one by name passed it no arguments and failed on the conversion.
  it('refuses an export that takes parameters before running anything, naming it, and the plug-in goes on', async () => {
    const plugin = await pluginFrom(`(module ${IMPORTS} (memory 1)
      (global $n (mut i32) (i32.const 0))
      (func (export "reflect") (param i64) (result i64) (local.get 0))
      (func (export "count")
        (global.set $n (i32.add (global.get $n) (i32.const 1)))
        (i32.store8 (i32.const 0) (i32.add (i32.const 48) (global.get $n)))
        (call $output_set (call $to_block (i32.const 0) (i32.const 1)) (i64.const 1)))
      ${TO_BLOCK})`);
    try {
      assert.equal(await plugin.functionExists('reflect'), true, 'it exists, as on the reference host');
      assert.equal((await plugin.call('count'))?.text(), '1');
      for (const run of [() => plugin.call('reflect', 'x'), async () => plugin.callSync('reflect')]) {
        await assert.rejects(run(), (err: unknown) => {
          assert.ok(err instanceof PluginCallError);
          assert.equal(err.code, 'PLUGHOST_CALL');
          assert.equal(err.functionName, 'reflect');
          assert.match(err.message, /^"reflect" takes 1 parameter, so it is not an Extism export/);
          return true;
        });
      }
      assert.equal((await plugin.call('count'))?.text(), '2', 'the same instance goes on');
    } finally {
      await plugin.close();
    }
  });

  it('gives each caller its own output, untouched by later calls', async () => {
    const plugin = await pluginFrom(`(module ${IMPORTS}
      (func (export "echo") (call $output_set (call $input_offset) (call $input_length))))`);
    const first = await plugin.call('echo', 'first');
    const second = await plugin.call('echo', 'other');
    assert.equal(first?.text(), 'first');
    assert.equal(second?.text(), 'other');
  });

  it('runs _initialize once, and hs_init after it for Haskell modules', async () => {
    const plugin = await pluginFrom(`(module ${IMPORTS} (memory 1) ${TO_BLOCK}
      (global $log (mut i32) (i32.const 0))
      (func (export "_initialize") (global.set $log (i32.add (i32.mul (global.get $log) (i32.const 10)) (i32.const 1))))
      (func (export "hs_init") (param i32 i32) (global.set $log (i32.add (i32.mul (global.get $log) (i32.const 10)) (i32.const 2))))
      (func (export "get")
        (i32.store8 (i32.const 0) (i32.add (i32.const 48) (i32.rem_u (global.get $log) (i32.const 10))))
        (i32.store8 (i32.const 1) (i32.add (i32.const 48) (i32.div_u (global.get $log) (i32.const 10))))
        (call $output_set (call $to_block (i32.const 0) (i32.const 2)) (i64.const 2))))`);
    // log = 12: _initialize (1) then hs_init (2)
    assert.equal((await plugin.call('get'))?.text(), '21');
  });

  it('runs __wasm_call_ctors once when there is no _initialize', async () => {
    const plugin = await pluginFrom(`(module (global $n (mut i32) (i32.const 0))
      (func (export "__wasm_call_ctors") (global.set $n (i32.add (global.get $n) (i32.const 1))))
      (func (export "check") (result i32) (i32.sub (global.get $n) (i32.const 1))))`);
    assert.equal(await plugin.call('check'), null);
    assert.equal(await plugin.call('check'), null);
  });

  it('re-instantiates after a call of _start', async () => {
    const plugin = await pluginFrom(`(module (global $runs (mut i32) (i32.const 0))
      (func (export "_start") (global.set $runs (i32.add (global.get $runs) (i32.const 1))))
      (func (export "runs") (result i32) (global.get $runs)))`);
    await plugin.call('_start');
    assert.equal(await plugin.call('runs'), null, 'the instance after _start is fresh: runs is 0');
  });

  it('refuses a host function that calls back into its own plug-in', async () => {
    let plugin: Awaited<ReturnType<typeof createPlugin>>;
    let inner: unknown;
    plugin = await pluginFrom(`(module (import "extism:host/user" "again" (func $again)) (func (export "f") (call $again)))`, {
      functions: {
        'extism:host/user': {
          again() {
            try {
              plugin.callSync('f');
            } catch (err) {
              inner = err;
              throw err;
            }
          },
        },
      },
    });
    await assert.rejects(plugin.call('f'), { message: /calls on one plug-in never nest/ });
    assert.equal((inner as { code: string }).code, 'PLUGHOST_REENTRANT_CALL');
  });

  it('refuses an input that is neither text, a number nor bytes with a TypeError, before anything runs, on every path', async () => {
    const echo = await assemble(`(module ${IMPORTS}
      (func (export "echo") (call $output_set (call $input_offset) (call $input_length))))`);
    const inWorker = await createPlugin({ wasm: [{ data: echo }] }, { runInWorker: true });
    const pool = await createPool({ wasm: [{ data: echo }] }, { size: 1 });
    const plugin = await pluginFrom(`(module ${IMPORTS}
      (func (export "echo") (call $output_set (call $input_offset) (call $input_length))))`);
    try {
      const refused = /^a call's input must be a string, a number or bytes .*, got an object \(Object\): pass JSON\.stringify\(value\)/;
      const unsupported = { a: 1 } as unknown as string;
      for (const target of [plugin, inWorker, pool]) {
        await assert.rejects(target.call('echo', unsupported), (err: unknown) => err instanceof TypeError && refused.test(err.message));
        await assert.rejects(target.call('echo', (() => 1) as unknown as string), /got a function/);
        // what a call takes still goes through, the plug-in untouched by the refusal
        assert.equal((await target.call('echo', 42))?.text(), '42');
        assert.equal((await target.call('echo', new DataView(new TextEncoder().encode('xab').buffer, 1)))?.text(), 'ab');
        assert.equal((await target.call('echo', null))?.text(), '');
      }
      assert.throws(
        () => plugin.callSync('echo', unsupported),
        (err: unknown) => err instanceof TypeError && refused.test(err.message),
      );
    } finally {
      await Promise.all([plugin.close(), inWorker.close(), pool.close()]);
    }
  });

  it('rejects calls after close', async () => {
    const plugin = await pluginFrom(`(module (func (export "f")))`);
    await plugin.close();
    await assert.rejects(plugin.call('f'), { code: 'PLUGHOST_CLOSED' });
  });

  it('describes its exports and imports', async () => {
    const plugin = await pluginFrom(`(module ${IMPORTS} (func (export "f")))`);
    assert.deepEqual(
      (await plugin.getExports()).map((e) => e.name),
      ['f'],
    );
    assert.ok((await plugin.getImports()).some((i) => i.module === 'extism:host/env' && i.name === 'alloc'));
    assert.equal(plugin.isActive(), false);
  });

  it('describes its imports as the module declares them, without those plughost adds', async () => {
    const wat = `(module (import "extism:host/env" "alloc" (func (param i64) (result i64))) (memory (export "memory") 1) (func (export "f")))`;
    // timeoutMs: instrumented (an interrupt hook); bytes: its memory is handed in (an import)
    const plugin = await pluginFrom(wat, { timeoutMs: 1000 });
    assert.deepEqual(await plugin.getImports(), [{ module: 'extism:host/env', name: 'alloc', kind: 'function' }]);
    assert.deepEqual((await plugin.getExports()).map((e) => `${e.kind} ${e.name}`).sort(), ['function f', 'memory memory']);
  });
});

describe('a failed call', () => {
  it('reports a trap by its message, with the error the plug-in had set beside it', async () => {
    const plugin = await pluginFrom(`(module ${IMPORTS} (memory 1) (data (i32.const 0) "bad input") ${TO_BLOCK}
      (func (export "f") (call $error_set (call $to_block (i32.const 0) (i32.const 9))) unreachable))`);
    await assert.rejects(plugin.call('f'), (err: PluginCallError) => {
      assert.match(err.message, /^unreachable/);
      assert.match(err.message, /bad input/);
      assert.equal(err.exitCode, -1);
      return true;
    });
  });

  it('ignores an empty error message, as the reference runtime does', async () => {
    const plugin = await pluginFrom(`(module ${IMPORTS} (memory 1) ${TO_BLOCK}
      (func (export "f") (result i32) (call $error_set (call $alloc (i64.const 0))) (i32.const 0))
      (func (export "g") (result i32) (call $error_set (call $to_block (i32.const 0) (i32.const 0))) (i32.const 0)))`);
    assert.equal(await plugin.call('f'), null);
    assert.equal(await plugin.call('g'), null);
  });
});

describe('initialization', () => {
  it('lets a start function use WASI: its memory is known before the module exists', async () => {
    const lines: string[] = [];
    const plugin = await pluginFrom(
      `(module
        (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
        (memory (export "memory") 1)
        (data (i32.const 16) "from start\\0a")
        (func $start
          (i32.store (i32.const 0) (i32.const 16))
          (i32.store (i32.const 4) (i32.const 11))
          (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
        (start $start)
        (func (export "f")))`,
      { useWasi: true, wasiStdout: (line: string) => lines.push(line) },
    );
    await plugin.call('f');
    assert.deepEqual(lines, ['from start']);
    await plugin.close();
  });
});

describe('WASI output', () => {
  it('hands over a last line without a newline when the call that wrote it ends', async () => {
    const lines: string[] = [];
    const plugin = await pluginFrom(
      `(module
        (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
        (memory (export "memory") 1)
        (data (i32.const 16) "one\\0atwo")
        (func (export "f")
          (i32.store (i32.const 0) (i32.const 16))
          (i32.store (i32.const 4) (i32.const 7))
          (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))`,
      { useWasi: true, wasiStdout: (line: string) => lines.push(line) },
    );
    await plugin.call('f');
    assert.deepEqual(lines, ['one', 'two']);
    await plugin.close();
  });
});

describe('WASI proc_exit', () => {
  const guest = (code: number) => `(module
    (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
    ${IMPORTS}
    (memory (export "memory") 1)
    (global $runs (mut i32) (i32.const 0))
    (func (export "exit") (result i32)
      (global.set $runs (i32.add (global.get $runs) (i32.const 1)))
      (call $output_set (call $input_offset) (call $input_length))
      (call $proc_exit (i32.const ${code}))
      (i32.const 9))
    (func (export "runs") (result i32) (global.get $runs)))`;

  it('with code 0 and no error is a success, keeping the output set before it', async () => {
    const plugin = await pluginFrom(guest(0), { useWasi: true });
    assert.equal((await plugin.call('exit', 'bye'))?.text(), 'bye');
    // the program ended: the next call gets a fresh instance
    assert.equal(await plugin.call('runs'), null);
  });

  it('with another code fails the call with that exit code', async () => {
    const plugin = await pluginFrom(guest(3), { useWasi: true });
    await assert.rejects(plugin.call('exit', 'bye'), (err: PluginCallError) => {
      assert.equal(err.code, 'PLUGHOST_CALL');
      assert.equal(err.exitCode, 3);
      assert.match(err.message, /exited with code 3/);
      return true;
    });
    assert.equal(await plugin.call('runs'), null);
  });
});
