// Handles a guest crafts, handed to a host function that passes them on to its call context:
// whatever the number (past 2^64, past 2^53, negative, NaN, a fraction, inside a block, a
// block's header), read gives null, length 0 and free nothing, never a throw or another
// block; sizes that cannot be are a MemoryLimitError. On the main thread and in a worker.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CallContext, createPlugin } from '../../src/index.js';
import { assemble } from '../helpers.js';

/** "probe": allocates a 64-byte block and hands its handle to host function `probe`. */
const GUEST = `(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/user" "probe" (func $probe (param i64)))
  (func (export "probe") (call $probe (call $alloc (i64.const 64)))))`;

function crafted(handle: number): unknown[] {
  return [
    2n ** 64n - 1n,
    2n ** 64n,
    2n ** 53n + 1n,
    2n ** 63n,
    -1,
    -1n,
    -(2n ** 64n),
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    1.5,
    handle + 0.5,
    handle + 1,
    handle + 8,
    handle - 8,
    handle - 16,
    handle + 2 ** 32,
    BigInt(handle) + 2n ** 32n,
    2 ** 53,
    Number.MAX_VALUE,
    '16',
    null,
    undefined,
    {},
  ];
}

describe('handles a guest crafts, through a host function to its call context', () => {
  for (const runInWorker of [false, true]) {
    it(`read null, length 0 and free nothing; impossible sizes are a MemoryLimitError (${runInWorker ? 'worker' : 'main thread'})`, async () => {
      const problems: string[] = [];
      let liveLength = -1;
      const probe = (ctx: CallContext, handle: number) => {
        for (const value of crafted(handle)) {
          const as = value as number;
          try {
            const read = ctx.read(as);
            if (read !== null) problems.push(`read(${String(value)}) gave ${read.byteLength} bytes`);
            const length = ctx.length(as);
            if (length !== 0) problems.push(`length(${String(value)}) gave ${length}`);
            ctx.free(as);
          } catch (err) {
            problems.push(`${String(value)} threw ${String(err)}`);
          }
        }
        // the real block is still there, whole, after every crafted free
        liveLength = ctx.length(handle);
        for (const size of [-1, Number.NaN, 2 ** 40, 2 ** 32, 1e300, 2n ** 64n]) {
          try {
            ctx.alloc(size as number);
            problems.push(`alloc(${String(size)}) gave a block`);
          } catch (err) {
            if ((err as { code?: string }).code !== 'PLUGHOST_MEMORY_LIMIT') problems.push(`alloc(${String(size)}) threw ${String(err)}`);
          }
        }
      };
      const plugin = await createPlugin(await assemble(GUEST), { runInWorker, functions: { 'extism:host/user': { probe } } });
      try {
        await plugin.call('probe');
      } finally {
        await plugin.close();
      }
      assert.deepEqual(problems, []);
      assert.equal(liveLength, 64);
    });
  }
});
