// What one plug-in leaves behind in kernel memory never reaches the next (pooled env slots are
// scrubbed before another plug-in gets them). Within one plug-in, blocks of an earlier call
// are not zeroed: they only ever held what that plug-in was given or wrote, like its linear
// memory, which persists across calls by design (as in the reference kernel). Linear
// memories, also pooled: test/memory-pool.test.ts ("never shows a plug-in what an earlier one
// wrote, and starts it at its declared size").
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPlugin } from '../../src/index.js';
import { assemble } from '../helpers.js';

const BLOCK = 256 * 1024;

/** "fill": fills blocks with 0xAB and never frees them; "scan": ORs together every byte of fresh blocks. */
const GUEST = `(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "load_u64" (func $load_u64 (param i64) (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func $blocks (param $fill i32) (result i64) (local $n i32) (local $h i64) (local $i i64) (local $seen i64)
    (loop $block
      (local.set $h (call $alloc (i64.const ${BLOCK})))
      (local.set $i (i64.const 0))
      (loop $word
        (if (local.get $fill)
          (then (call $store_u64 (i64.add (local.get $h) (local.get $i)) (i64.const 0xabababababababab)))
          (else (local.set $seen (i64.or (local.get $seen) (call $load_u64 (i64.add (local.get $h) (local.get $i)))))))
        (local.set $i (i64.add (local.get $i) (i64.const 8)))
        (br_if $word (i64.lt_u (local.get $i) (i64.const ${BLOCK}))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $block (i32.lt_u (local.get $n) (i32.const 8))))
    (local.get $seen))
  (func (export "fill") (result i32) (drop (call $blocks (i32.const 1))) (i32.const 0))
  (func (export "scan") (result i32) (local $out i64)
    (local.set $out (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $out) (call $blocks (i32.const 0)))
    (call $output_set (local.get $out) (i64.const 8))
    (i32.const 0)))`;

describe('isolation between plug-ins and calls', () => {
  it('a plug-in finds only zeros in fresh kernel blocks, after earlier plug-ins filled theirs', async () => {
    const wasm = await assemble(GUEST);
    for (let round = 0; round < 3; round++) {
      const writers = await Promise.all(Array.from({ length: 4 }, () => createPlugin(wasm)));
      for (const writer of writers) await writer.call('fill');
      await Promise.all(writers.map((w) => w.close()));
      const reader = await createPlugin(wasm);
      assert.equal((await reader.call('scan'))?.getBigUint64(0, true), 0n, `round ${round}`);
      await reader.call('fill');
      await reader.close();
    }
  });
});
