// Inputs in a SharedArrayBuffer: a plug-in in a worker (runInWorker, a pool) reads them in place,
// without a copy on this thread, whether the call starts at once, is posted ahead, waits in a
// queue or is taken back from a worker that died; on the host thread nothing changes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CallContext, createPlugin, createPool, type Plugin, type PluginInput, WorkerError } from '../src/index.js';
import { runningWorkers } from '../src/internal/platform/node/index.js';
import { pluginPath } from './helpers.js';

/** A promise and its resolve, for a host function the test lets return when it wants. */
function gate() {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** `n` bytes of a pattern that tells offsets apart, in shared memory. */
function sharedPattern(n: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(new SharedArrayBuffer(n));
  for (let i = 0; i < n; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

/** What `reverse` should give for `input`'s bytes, computed from a private copy. */
function reversed(input: ArrayBufferView | SharedArrayBuffer): Uint8Array {
  const view = ArrayBuffer.isView(input) ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength) : new Uint8Array(input);
  return view.slice().reverse();
}

/** The host-echo plug-in whose `echo` host function waits for `opened` (if given) and hands its block back. */
function echoPlugin(runInWorker: boolean, opened?: Promise<void>): Promise<Plugin> {
  return createPlugin(pluginPath('host-echo'), {
    runInWorker,
    functions: {
      // Synchronous without a gate: an async host function on the host thread needs JSPI.
      'extism:host/user': { echo: opened === undefined ? (_ctx: CallContext, h: number) => h : async (_ctx: CallContext, h: number) => (await opened, h) },
    },
  });
}

/** Every shape of shared input: the buffer itself, views of part of it (offset, length, other element types), empty ones. */
function sharedShapes(): [string, PluginInput][] {
  const big = sharedPattern(1 << 20);
  const small = sharedPattern(100, 7);
  return [
    ['the SharedArrayBuffer itself', big.buffer as SharedArrayBuffer],
    ['a Uint8Array of all of it', big],
    ['a Uint8Array at an offset', big.subarray(12_345, 12_345 + 70_000)],
    ['a small Uint8Array at an offset', small.subarray(3, 50)],
    ['a DataView at an offset', new DataView(big.buffer, 1000, 20_000)],
    ['an Int32Array at an offset', new Int32Array(big.buffer, 4096, 5000)],
    ['a zero-length view', big.subarray(500, 500)],
    ['a zero-length view at the end', new Uint8Array(big.buffer, big.byteLength, 0)],
    ['an empty SharedArrayBuffer', new SharedArrayBuffer(0)],
  ];
}

describe('inputs in a SharedArrayBuffer', () => {
  for (const runInWorker of [true, false]) {
    it(`give the same output as a copy, in every shape (${runInWorker ? 'in a worker' : 'on the host thread'})`, async () => {
      const plugin = await echoPlugin(runInWorker);
      try {
        for (const [what, input] of sharedShapes()) {
          const output = await plugin.call('reverse', input);
          const expected = reversed(input as ArrayBufferView | SharedArrayBuffer);
          assert.deepEqual(output?.bytes() ?? new Uint8Array(0), expected, what);
        }
        // Several at once: the running call, the one posted ahead and queued ones.
        const shapes = sharedShapes();
        const outputs = await Promise.all(shapes.map(([, input]) => plugin.call('echo_via_host', input)));
        outputs.forEach((output, n) => {
          const expected = reversed(shapes[n]![1] as ArrayBufferView | SharedArrayBuffer).reverse();
          assert.deepEqual(output?.bytes() ?? new Uint8Array(0), expected, `echoed, ${shapes[n]![0]}`);
        });
      } finally {
        await plugin.close();
      }
    });
  }

  it('are read in place by a worker: bytes changed before a posted-ahead or queued call runs reach the plug-in (other bytes are taken at the call)', async () => {
    const { promise, open } = gate();
    const plugin = await echoPlugin(true, promise);
    try {
      const running = plugin.call('echo_via_host', 'first');
      // Posted ahead behind the running call, then two waiting in the queue: large and small.
      const ahead = sharedPattern(100_000, 1);
      const queuedLarge = sharedPattern(300_000, 2);
      const queuedSmall = sharedPattern(40, 3);
      const copied = new Uint8Array(64 * 1024).fill(1);
      const calls = [ahead, queuedLarge, queuedSmall, copied].map((input) => plugin.call('echo_via_host', input));
      ahead.fill(0xa1);
      queuedLarge.fill(0xa2);
      queuedSmall.fill(0xa3);
      copied.fill(9);
      open();
      assert.equal((await running)?.text(), 'first');
      const [a, b, c, d] = await Promise.all(calls);
      assert.deepEqual(a?.bytes(), new Uint8Array(100_000).fill(0xa1), 'the call posted ahead read the bytes as they are when it runs');
      assert.deepEqual(b?.bytes(), new Uint8Array(300_000).fill(0xa2), 'a queued large input too');
      assert.deepEqual(c?.bytes(), new Uint8Array(40).fill(0xa3), 'a queued small input too');
      assert.ok(
        d?.bytes().every((x) => x === 1),
        'an input outside shared memory was taken when the call was made',
      );
    } finally {
      await plugin.close();
    }
  });

  it('of a call posted ahead to a worker that dies are sent again, as they are, to its replacement', async () => {
    const { promise, open } = gate();
    const plugin = await echoPlugin(true, promise);
    try {
      const running = plugin.call('echo_via_host', 'first');
      const ahead = sharedPattern(200_000, 5).subarray(1000, 150_000);
      const expected = ahead.slice();
      // Behind it: one staged through staging memory, and one in the queue.
      const staged = new Uint8Array(100_000).fill(4);
      const calls = [plugin.call('echo_via_host', ahead), plugin.call('echo_via_host', staged)];
      // Tests of this file run one at a time and close their plug-ins: the running worker is this plug-in's.
      const workers = runningWorkers();
      assert.equal(workers.length, 1);
      await workers[0]!.terminate();
      await assert.rejects(running, WorkerError);
      open();
      const [a, b] = await Promise.all(calls);
      assert.deepEqual(a?.bytes(), expected, 'the shared input reached the replacement intact');
      assert.deepEqual(b?.bytes(), new Uint8Array(100_000).fill(4));
    } finally {
      await plugin.close();
    }
  });

  it('reach a pool’s instances in place, queued in the pool too', async () => {
    const { promise, open } = gate();
    const pool = await createPool(pluginPath('host-echo'), {
      size: 2,
      functions: { 'extism:host/user': { echo: async (_ctx: CallContext, h: number) => (await promise, h) } },
    });
    try {
      // Two running, two posted ahead, the rest in the pool's queue.
      const inputs = Array.from({ length: 8 }, (_, n) => sharedPattern(n % 2 === 0 ? 50_000 : 30, n));
      const before = inputs.map((input) => input.slice());
      const calls = inputs.map((input) => pool.call('echo_via_host', input));
      inputs.forEach((input, n) => void input.fill(n + 1));
      open();
      const outputs = await Promise.all(calls);
      outputs.forEach((output, n) => {
        const changed = new Uint8Array(inputs[n]!.byteLength).fill(n + 1);
        if (n >= 2) {
          assert.deepEqual(output?.bytes(), changed, `call ${n}`);
          return;
        }
        // The two running calls may have been copying their input into the plug-in while it
        // changed: each byte is the one from before or the new one, never anything else.
        const bytes = output?.bytes();
        assert.equal(bytes?.length, changed.length, `call ${n}: length`);
        const stray = bytes!.findIndex((byte, i) => byte !== before[n]![i] && byte !== n + 1);
        assert.equal(stray, -1, `call ${n}: byte ${stray} is neither the old nor the new one`);
      });
      const many = Array.from({ length: 200 }, (_, n) => sharedPattern(1 + ((n * 997) % 40_000), n));
      const results = await Promise.all(many.map((input) => pool.call('reverse', input)));
      results.forEach((output, n) => {
        assert.deepEqual(output?.bytes(), reversed(many[n]!), `reverse ${n}`);
      });
    } finally {
      await pool.close();
    }
  });
});
