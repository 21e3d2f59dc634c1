// Calls posted ahead to a plug-in's worker, several at a time and several to a message: order,
// aborts of any of them, a worker that dies with them, a call that does not stop behind others
// of its message, and a pool of small calls.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AbortError, type CallContext, createPlugin, createPool, type Plugin, type PluginOptions, TimeoutError, WorkerError } from '../src/index.js';
import { runningWorkers } from '../src/internal/platform/node/index.js';
import { forceRings } from '../src/internal/worker/rings.js';
import { assemble, COUNTING_GUEST, countCallMessages, deferred, pluginPath } from './helpers.js';

/** COUNTING_GUEST in a worker whose `wait` returns `gate`: a first call of `wait` holds the worker while the test posts calls behind it. */
async function gatedPlugin(gate: Promise<void>, options: PluginOptions = {}): Promise<Plugin> {
  return createPlugin(
    { wasm: [{ data: await assemble(COUNTING_GUEST) }] },
    { ...options, runInWorker: true, functions: { 'extism:host/user': { wait: () => gate } } },
  );
}

const counted = (output: { bytes(): Uint8Array } | null) => output?.bytes()[0];

for (const transport of ['rings', 'messages'] as const) {
  describe(`calls posted ahead to a worker, through ${transport}`, () => {
    before(() => forceRings(transport === 'rings'));
    after(() => forceRings(undefined));

    it('go several to a message and run in order, each with its own input and output', async () => {
      const gate = deferred();
      const plugin = await gatedPlugin(gate.promise);
      try {
        const messages = countCallMessages();
        const first = plugin.call('wait');
        // Small inputs, large ones (through staging memory, two at most in flight) and shared ones.
        const inputs = Array.from({ length: 30 }, (_, n) => {
          if (n % 5 === 1) return new Uint8Array(40_000 + n).fill(n);
          if (n % 5 === 3) return new Uint8Array(new SharedArrayBuffer(20_000 + n)).fill(n);
          return `call ${n}`;
        });
        const echoes = inputs.map((input) => plugin.call('echo', input));
        const counts = Array.from({ length: 10 }, () => plugin.call('count'));
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (transport === 'messages')
          assert.equal(messages.count, 3, 'the running call, the one next in line at once, the others posted ahead (as many as may be) as one message');
        else assert.equal(messages.count, 1, 'the small calls through the ring, the large ones posted ahead as one message');
        gate.resolve();
        assert.equal(await first, null);
        const outputs = await Promise.all(echoes);
        outputs.forEach((output, n) => {
          const input = inputs[n]!;
          if (typeof input === 'string') assert.equal(output?.text(), input, `call ${n}`);
          else assert.deepEqual(output?.bytes(), new Uint8Array(input), `call ${n}`);
        });
        assert.deepEqual((await Promise.all(counts)).map(counted), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'in the order they were made');
      } finally {
        await plugin.close();
      }
    });

    it('may each be aborted: those skip, the others run', async () => {
      const gate = deferred();
      const plugin = await gatedPlugin(gate.promise);
      try {
        // The worker waits in a host function until the gate opens: none of the calls behind it
        // can start before the aborts (on a loaded machine it could outrun this thread).
        const first = plugin.call('wait');
        const controllers = Array.from({ length: 7 }, () => new AbortController());
        const calls = controllers.map((controller) => plugin.call('count', '', undefined, { signal: controller.signal }));
        const outcomes = Promise.allSettled(calls);
        // Posted ahead, then aborted, the first and the last among them too.
        for (const n of [0, 2, 3, 6]) controllers[n]!.abort(`abort ${n}`);
        await new Promise<void>((resolve) => setImmediate(resolve));
        gate.resolve();
        // Once the gate's answer is out, this thread is kept busy (as a loaded host thread would
        // be): the worker runs all of them meanwhile, so only what it was told with each abort stops them.
        await new Promise<void>((resolve) => setImmediate(resolve));
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
        assert.equal(await first, null);
        const settled = await outcomes;
        settled.forEach((outcome, n) => {
          if ([0, 2, 3, 6].includes(n)) {
            assert.equal(outcome.status, 'rejected', `call ${n}`);
            const { reason } = outcome as PromiseRejectedResult;
            assert.ok(reason instanceof AbortError && reason.cause === `abort ${n}`, `call ${n}: ${String(reason)}`);
          }
        });
        const ran = settled.flatMap((outcome) => (outcome.status === 'fulfilled' ? [counted(outcome.value)] : []));
        assert.deepEqual(ran, [1, 2, 3], 'the aborted calls did not run');
        assert.equal(counted(await plugin.call('count')), 4, 'the same worker');
      } finally {
        await plugin.close();
      }
    });

    it('go to the replacement of a worker that dies, in order', async () => {
      const gate = deferred();
      const plugin = await gatedPlugin(gate.promise);
      try {
        const first = plugin.call('wait');
        const calls = Array.from({ length: 12 }, (_, n) => plugin.call(n % 2 === 0 ? 'count' : 'echo', n % 4 === 1 ? new Uint8Array(50_000).fill(n) : `${n}`));
        await new Promise<void>((resolve) => setImmediate(resolve));
        await runningWorkers()[0]!.terminate();
        await assert.rejects(first, WorkerError);
        gate.resolve();
        const outputs = await Promise.all(calls);
        outputs.forEach((output, n) => {
          if (n % 2 === 0) assert.equal(counted(output), n / 2 + 1, `call ${n}: the replacement ran them in order`);
          else if (n % 4 === 1) assert.deepEqual(output?.bytes(), new Uint8Array(50_000).fill(n), `call ${n}`);
          else assert.equal(output?.text(), `${n}`, `call ${n}`);
        });
      } finally {
        await plugin.close();
      }
    });

    it('deliver their results before a later call of the same message that does not stop ends the worker', { timeout: 60_000 }, async () => {
      // Precompiled: not instrumented, so only ending the worker stops `spin`.
      const module = new WebAssembly.Module(
        (await assemble(
          `(module (import "extism:host/user" "wait" (func $wait)) (func (export "wait") (call $wait)) (func (export "spin") (loop $l (br $l))) (func (export "ok")))`,
        )) as Uint8Array<ArrayBuffer>,
      );
      const gate = deferred();
      const plugin = await createPlugin(
        { wasm: [{ module }] },
        { runInWorker: true, timeoutMs: 300, functions: { 'extism:host/user': { wait: () => gate.promise } } },
      );
      try {
        const messages = countCallMessages();
        const first = plugin.call('wait');
        const before = [plugin.call('ok'), plugin.call('ok')];
        const spinning = plugin.call('spin');
        const after = plugin.call('ok');
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (transport === 'messages') assert.equal(messages.count, 3, 'the call next in line went at once, the three behind it as one message');
        else assert.equal(messages.count, 0, 'every call through the ring');
        gate.resolve();
        assert.equal(await first, null);
        assert.deepEqual(await Promise.all(before), [null, null]);
        const started = performance.now();
        await assert.rejects(spinning, TimeoutError);
        assert.ok(performance.now() - started < 300 + 5000, 'the deadline held');
        assert.equal(await after, null, 'the call behind it ran in a new worker');
      } finally {
        await plugin.close();
      }
    });
  });
}

describe('a pool of small calls', () => {
  it('posts several ahead to each instance and loses none', async () => {
    const pool = await createPool(pluginPath('host-echo'), {
      size: 2,
      functions: { 'extism:host/user': { echo: (_ctx: CallContext, h: number) => h } },
    });
    try {
      const inputs = Array.from({ length: 2000 }, (_, n) => (n % 3 === 0 ? new Uint8Array([n & 0xff, n >> 8]) : `${n}`));
      const outputs = await Promise.all(inputs.map((input) => pool.call('echo_via_host', input)));
      outputs.forEach((output, n) => {
        const input = inputs[n]!;
        if (typeof input === 'string') assert.equal(output?.text(), input);
        else assert.deepEqual(output?.bytes(), input);
      });
      assert.equal(pool.pending, 0);
    } finally {
      await pool.close();
    }
  });
});
