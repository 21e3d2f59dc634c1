// createPool: instances in workers behind one bounded queue; draining close; dead workers replaced.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AbortError, type CallContext, createPool, PluginClosedError, PoolFullError, type PoolOptions, WorkerError } from '../src/index.js';
import { runningWorkers } from '../src/internal/platform/node/index.js';
import { assemble, pluginPath } from './helpers.js';

/** `wait` calls the host's `wait` (which the tests hold open) and outputs "done"; `ok` returns at once. */
const GATED = `(module
  (import "extism:host/user" "wait" (func $wait))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func (export "wait") (local $h i64)
    (call $wait)
    (local.set $h (call $alloc (i64.const 4)))
    (call $store_u8 (local.get $h) (i32.const 100))
    (call $store_u8 (i64.add (local.get $h) (i64.const 1)) (i32.const 111))
    (call $store_u8 (i64.add (local.get $h) (i64.const 2)) (i32.const 110))
    (call $store_u8 (i64.add (local.get $h) (i64.const 3)) (i32.const 101))
    (call $output_set (local.get $h) (i64.const 4)))
  (func (export "ok")))`;

/** A pool of GATED whose host function `wait` returns a promise settled by `open()`; `entered` counts calls waiting. */
async function gatedPool(options: PoolOptions) {
  let open!: () => void;
  let gate = new Promise<void>((resolve) => (open = resolve));
  const state = { entered: 0 };
  let onEnter: (() => void) | undefined;
  const pool = await createPool(
    { wasm: [{ data: await assemble(GATED) }] },
    {
      ...options,
      functions: {
        'extism:host/user': {
          wait(_ctx: CallContext) {
            state.entered++;
            onEnter?.();
            return gate;
          },
        },
      },
    },
  );
  /** Resolves once `n` calls are waiting in the host function. */
  const waitingFor = (n: number) =>
    new Promise<void>((resolve) => {
      onEnter = () => {
        if (state.entered >= n) resolve();
      };
      onEnter();
    });
  const release = () => {
    open();
    gate = new Promise<void>((resolve) => (open = resolve));
  };
  return { pool, waitingFor, release };
}

describe('a pool', () => {
  it('runs 1,000 concurrent calls on its workers, nothing lost', async () => {
    const before = runningWorkers().length;
    const pool = await createPool(pluginPath('count-vowels'), { size: 4 });
    try {
      assert.equal(pool.size, 4);
      assert.equal(runningWorkers().length, before + 4, 'one worker per instance');
      const inputs = Array.from({ length: 1000 }, (_, i) => `${'a'.repeat(i % 17)}${'xyz'.repeat(i % 5)}`);
      const outputs = await Promise.all(inputs.map((input) => pool.call('count_vowels', input)));
      assert.deepEqual(
        outputs.map((o) => o?.json().count),
        inputs.map((_, i) => i % 17),
      );
      assert.equal(pool.pending, 0);
      assert.equal(await pool.functionExists('count_vowels'), true);
    } finally {
      await pool.close();
    }
  });

  it('refuses calls past maxQueue with PoolFullError, and runs the queued ones', async () => {
    const { pool, waitingFor, release } = await gatedPool({ size: 1, maxQueue: 2 });
    try {
      const running = pool.call('wait');
      await waitingFor(1);
      const queued = [pool.call('wait'), pool.call('wait')];
      assert.equal(pool.pending, 2);
      await assert.rejects(pool.call('wait'), (err: Error) => err instanceof PoolFullError && err.code === 'PLUGHOST_POOL_FULL' && err.maxQueue === 2);
      release();
      assert.equal((await running)?.text(), 'done');
      await waitingFor(2);
      release();
      await waitingFor(3);
      release();
      assert.deepEqual(
        (await Promise.all(queued)).map((o) => o?.text()),
        ['done', 'done'],
      );
    } finally {
      await pool.close();
    }
  });

  it('drops an aborted call from its queue', async () => {
    const { pool, waitingFor, release } = await gatedPool({ size: 1 });
    try {
      const running = pool.call('wait');
      await waitingFor(1);
      const controller = new AbortController();
      const queued = pool.call('ok', '', undefined, { signal: controller.signal });
      controller.abort('no longer needed');
      await assert.rejects(queued, (err: Error) => err instanceof AbortError && err.cause === 'no longer needed');
      assert.equal(pool.pending, 0);
      release();
      await running;
    } finally {
      await pool.close();
    }
  });

  it('drains on close: queued calls finish, new ones are refused, then every worker ends', async () => {
    const before = runningWorkers().length;
    const { pool, waitingFor, release } = await gatedPool({ size: 2 });
    const calls = Array.from({ length: 5 }, () => pool.call('wait'));
    await waitingFor(2);
    const closed = pool.close();
    await assert.rejects(pool.call('ok'), PluginClosedError);
    for (let n = 3; n <= 5; n++) {
      release();
      await waitingFor(n);
    }
    release();
    assert.deepEqual(
      (await Promise.all(calls)).map((o) => o?.text()),
      ['done', 'done', 'done', 'done', 'done'],
    );
    await closed;
    assert.equal(runningWorkers().length, before);
  });

  it('fails only the call of a worker that dies, and replaces the worker', async () => {
    const before = new Set(runningWorkers());
    const { pool, waitingFor, release } = await gatedPool({ size: 2 });
    try {
      const calls = [pool.call('wait'), pool.call('wait')];
      await waitingFor(2);
      const mine = runningWorkers().filter((w) => !before.has(w));
      assert.equal(mine.length, 2);
      await mine[0]!.terminate();
      const [first] = await Promise.allSettled([Promise.race(calls.map((c) => c.catch((err: unknown) => err)))]);
      const died = (first as PromiseFulfilledResult<unknown>).value;
      assert.ok(died instanceof WorkerError, `expected a WorkerError, got ${String(died)}`);
      release();
      const settled = await Promise.allSettled(calls);
      assert.deepEqual(settled.map((s) => s.status).sort(), ['fulfilled', 'rejected']);
      const more = await Promise.all(Array.from({ length: 20 }, () => pool.call('ok')));
      assert.equal(more.length, 20);
      assert.equal(runningWorkers().filter((w) => !before.has(w)).length, 2, 'the dead worker was replaced');
    } finally {
      await pool.close();
    }
  });
});
