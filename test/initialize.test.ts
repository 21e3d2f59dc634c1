// Initialization (ABI.md): every module of a manifest, linked ones too, is initialized in link
// order (dependencies first), once per instantiation, before the first call.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createPlugin, type HostFunctionMap } from '../src/index.js';
import { assemble } from './helpers.js';

/** A main module whose `read` export outputs the byte `$value` holds (whatever it is bound to). */
const OUTPUT_BYTE = `
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func $output_byte (param $value i32) (local $h i64)
    (local.set $h (call $alloc (i64.const 1)))
    (call $store_u8 (local.get $h) (local.get $value))
    (call $output_set (local.get $h) (i64.const 1)))
`;

/** Host functions that record what each initializer reports, in order. */
function recorder(): { seen: number[]; functions: HostFunctionMap } {
  const seen: number[] = [];
  return { seen, functions: { env: { mark: (_ctx: unknown, n: number) => void seen.push(n) } } };
}

const MARK = `(import "env" "mark" (func $mark (param i32)))`;

describe('initialization', () => {
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("runs a linked module's _initialize, whose effect the main module sees through an import", async () => {
    const side = await assemble(`(module
      (global $ready (export "ready") (mut i32) (i32.const 0))
      (func (export "_initialize") (global.set $ready (i32.const 42))))`);
    const main = await assemble(`(module
      (import "side" "ready" (global $ready (mut i32)))
      ${OUTPUT_BYTE}
      (func (export "read") (result i32) (call $output_byte (global.get $ready)) (i32.const 0)))`);
    const plugin = await createPlugin({
      wasm: [
        { data: side, name: 'side' },
        { data: main, name: 'main' },
      ],
    });
    try {
      assert.deepEqual([...(await plugin.call('read'))!.bytes()], [42]);
    } finally {
      await plugin.close();
    }
  });

  it('initializes every module in link order, once per instantiation, before the first call', async () => {
    // base <- middle <- main; base is Haskell-like (hs_init after _initialize), middle has C++
    // constructors only, main is a reactor. "unused" is linked by nobody: never instantiated.
    const base = await assemble(`(module ${MARK}
      (func (export "value") (result i32) (i32.const 7))
      (func (export "_initialize") (call $mark (i32.const 1)))
      (func (export "hs_init") (param i32 i32) (call $mark (i32.const 2))))`);
    const middle = await assemble(`(module ${MARK}
      (import "base" "value" (func $value (result i32)))
      (func (export "value") (result i32) (call $value))
      (func (export "__wasm_call_ctors") (call $mark (i32.const 3)))
      ;; a reactor's _initialize wins over __wasm_call_ctors: never both
      (func (export "_initialize") (call $mark (i32.const 4))))`);
    const unused = await assemble(`(module ${MARK} (func (export "_initialize") (call $mark (i32.const 99))))`);
    const main = await assemble(`(module ${MARK}
      (import "middle" "value" (func $value (result i32)))
      ${OUTPUT_BYTE}
      (func (export "_initialize") (call $mark (i32.const 5)))
      (func (export "read") (result i32) (call $output_byte (call $value)) (i32.const 0))
      (func (export "trap") unreachable))`);
    const { seen, functions } = recorder();
    const plugin = await createPlugin(
      {
        wasm: [
          { data: main, name: 'main' },
          { data: unused, name: 'unused' },
          { data: middle, name: 'middle' },
          { data: base, name: 'base' },
        ],
      },
      { functions },
    );
    try {
      assert.deepEqual(seen, [1, 2, 4, 5], 'initialized at creation, dependencies first');
      assert.deepEqual([...(await plugin.call('read'))!.bytes()], [7]);
      assert.deepEqual([...(await plugin.call('read'))!.bytes()], [7]);
      assert.deepEqual(seen, [1, 2, 4, 5], 'calls do not initialize again');
      await assert.rejects(plugin.call('trap'), { code: 'PLUGHOST_CALL' });
      await plugin.call('read');
      assert.deepEqual(seen, [1, 2, 4, 5, 1, 2, 4, 5], 'a new instance is initialized again, once');
    } finally {
      await plugin.close();
    }
  });

  it('runs __wasm_call_ctors of a module without _initialize', async () => {
    const side = await assemble(`(module ${MARK} (func (export "f")) (func (export "__wasm_call_ctors") (call $mark (i32.const 8))))`);
    const main = await assemble(`(module (import "side" "f" (func)) (func (export "run")))`);
    const { seen, functions } = recorder();
    const plugin = await createPlugin(
      {
        wasm: [
          { data: side, name: 'side' },
          { data: main, name: 'main' },
        ],
      },
      { functions },
    );
    await plugin.close();
    assert.deepEqual(seen, [8]);
  });

  it('lets a WASI side module read its mounted file in _initialize', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plughost-init-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'seed.txt'), 'S');
    // reads the first byte of seed.txt from the first preopen (fd 3) into its global
    const side = await assemble(`(module
      (import "wasi_snapshot_preview1" "path_open"
        (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 16) "seed.txt")
      (global $seed (export "seed") (mut i32) (i32.const 0))
      (func (export "_initialize")
        (if (call $path_open (i32.const 3) (i32.const 1) (i32.const 16) (i32.const 8)
              (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 64))
          (then unreachable))
        (i32.store (i32.const 80) (i32.const 1024))
        (i32.store (i32.const 84) (i32.const 1))
        (if (call $fd_read (i32.load (i32.const 64)) (i32.const 80) (i32.const 1) (i32.const 68))
          (then unreachable))
        (global.set $seed (i32.load8_u (i32.const 1024)))))`);
    const main = await assemble(`(module
      (import "side" "seed" (global $seed (mut i32)))
      ${OUTPUT_BYTE}
      (func (export "read") (result i32) (call $output_byte (global.get $seed)) (i32.const 0)))`);
    const plugin = await createPlugin(
      {
        wasm: [
          { data: side, name: 'side' },
          { data: main, name: 'main' },
        ],
      },
      { useWasi: true, allowedPaths: { [dir]: '/data' } },
    );
    try {
      assert.equal((await plugin.call('read'))!.text(), 'S');
    } finally {
      await plugin.close();
    }
  });

  // TinyGo up to 0.33 with go-pdk's wasi-reactor package builds such modules; the reference host
  // runs them: `_initialize` at instantiation, `_start` an ordinary export that leaves the
  // instance to be made afresh.
  describe('a module exporting both _start and _initialize', () => {
    // $inits counts _initialize runs, $main says whether _start ran; `state` outputs both.
    const BOTH = `(module ${MARK}
      ${OUTPUT_BYTE}
      (global $inits (export "inits") (mut i32) (i32.const 0))
      (global $main (mut i32) (i32.const 0))
      (func (export "_initialize") (global.set $inits (i32.add (global.get $inits) (i32.const 1))) (call $mark (i32.const 1)))
      (func (export "_start") (global.set $main (i32.const 1)) (call $mark (i32.const 2)))
      (func (export "state") (result i32)
        (call $output_byte (i32.add (i32.mul (global.get $main) (i32.const 10)) (global.get $inits)))
        (i32.const 0)))`;

    it('is initialized with _initialize, never _start, and _start runs when called, the next call getting a fresh instance', async () => {
      const { seen, functions } = recorder();
      const plugin = await createPlugin(await assemble(BOTH), { functions });
      try {
        assert.deepEqual([...(await plugin.call('state'))!.bytes()], [1], 'one _initialize, no _start');
        assert.deepEqual(seen, [1]);
        assert.equal(await plugin.call('_start'), null);
        assert.deepEqual(seen, [1, 2]);
        assert.deepEqual([...(await plugin.call('state'))!.bytes()], [1], 'a fresh instance after _start, initialized once');
        assert.deepEqual(seen, [1, 2, 1]);
      } finally {
        await plugin.close();
      }
    });

    it('is initialized the same way when linked as a side module', async () => {
      const { seen, functions } = recorder();
      const main = await assemble(`(module
        (import "side" "inits" (global $inits (mut i32)))
        ${OUTPUT_BYTE}
        (func (export "run") (result i32) (call $output_byte (global.get $inits)) (i32.const 0)))`);
      const plugin = await createPlugin(
        {
          wasm: [
            { data: await assemble(BOTH), name: 'side' },
            { data: main, name: 'main' },
          ],
        },
        { functions },
      );
      try {
        assert.deepEqual([...(await plugin.call('run'))!.bytes()], [1]);
        assert.deepEqual(seen, [1]);
      } finally {
        await plugin.close();
      }
    });
  });
});
