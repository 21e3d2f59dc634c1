// Plug-in memories reused between instances (internal/memory-pool.ts): a plug-in must see
// exactly what a fresh memory gives it, nothing of an earlier owner, and a memory must never
// serve two plug-ins at once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPlugin, type Plugin } from '../src/index.js';
import { acquireMemory, pooledMemoryCount, releaseMemory } from '../src/internal/memory-pool.js';
import { assemble } from './helpers.js';

/**
 * `dirty` writes 0xAB at offset 1000 and, given any input, grows the memory by a page;
 * `probe` outputs two bytes: the byte at 1000 and the memory's size in pages; `hold` calls the
 * host's `during`, then does what `probe` does.
 */
const PROBE = `(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/user" "during" (func $during))
  (memory (export "memory") 1 4)
  (func (export "dirty")
    (i32.store8 (i32.const 1000) (i32.const 171))
    (if (i64.ne (call $input_length) (i64.const 0)) (then (drop (memory.grow (i32.const 1))))))
  (func $probe (local $h i64)
    (local.set $h (call $alloc (i64.const 2)))
    (call $store_u8 (local.get $h) (i32.load8_u (i32.const 1000)))
    (call $store_u8 (i64.add (local.get $h) (i64.const 1)) (memory.size))
    (call $output_set (local.get $h) (i64.const 2)))
  (func (export "probe") (call $probe))
  (func (export "hold") (call $during) (call $probe)))`;

async function probePlugin(during: () => void = () => {}): Promise<Plugin> {
  return createPlugin({ wasm: [{ data: await assemble(PROBE) }] }, { functions: { 'extism:host/user': { during } } });
}

describe('the memory pool', () => {
  it('gives back a memory of the same limits, zeroed, and keeps none that grew', () => {
    const limits = { initial: 1, maximum: 4 };
    const first = acquireMemory(limits);
    new Uint8Array(first.buffer).fill(7);
    releaseMemory(first, limits);
    const again = acquireMemory(limits);
    assert.equal(again, first);
    assert.ok(new Uint8Array(again.buffer).every((b) => b === 0));
    assert.notEqual(acquireMemory({ initial: 1, maximum: undefined }), first, 'other limits, another memory');
    again.grow(1);
    releaseMemory(again, limits);
    const fresh = acquireMemory(limits);
    assert.notEqual(fresh, again);
    assert.equal(fresh.buffer.byteLength, 65536);
  });

  it('never shows a plug-in what an earlier one wrote, and starts it at its declared size', async () => {
    for (const grow of ['', 'grow']) {
      const earlier = await probePlugin();
      await earlier.call('dirty', grow);
      assert.deepEqual([...(await earlier.call('probe'))!.bytes()], [171, grow ? 2 : 1]);
      await earlier.close();
      const later = await probePlugin();
      assert.deepEqual([...(await later.call('probe'))!.bytes()], [0, 1], grow ? 'after a memory that grew' : 'after one that did not');
      await later.close();
    }
  });

  it('gives a reset plug-in a clean memory', async () => {
    const plugin = await probePlugin();
    await plugin.call('dirty');
    assert.equal(await plugin.reset(), true);
    assert.deepEqual([...(await plugin.call('probe'))!.bytes()], [0, 1]);
    await plugin.close();
  });

  it('takes back the memory of a plug-in closed by its own host function only once the call returns', async () => {
    let pooledDuring = -1;
    const plugin: Plugin = await probePlugin(() => {
      void plugin.close();
      pooledDuring = pooledMemoryCount();
    });
    await plugin.call('dirty');
    const before = pooledMemoryCount();
    const output = await plugin.call('hold');
    assert.deepEqual([...output!.bytes()], [171, 1], 'the guest went on with its own memory and kernel');
    assert.equal(pooledDuring, before, 'not pooled while the guest still ran on it');
    assert.equal(pooledMemoryCount(), before + 1, 'pooled once the call returned');
    await assert.rejects(plugin.call('probe'), { code: 'PLUGHOST_CLOSED' });
  });
});
