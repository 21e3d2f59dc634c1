// The shared-memory rings that carry small calls and their results between the host thread and
// a plug-in's worker (src/internal/worker/rings.ts): records crossing the ring's end, a full
// calls ring, results in order whatever way each travels, and a worker that writes a record
// that cannot be. Aborts and a worker dying with calls in the ring are in
// worker-posted-ahead.test.ts, which runs on both transports.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { createPlugin, type Plugin, WorkerError } from '../src/index.js';
import { createRingMemory, forgeResult, HostRings, KIND, RING_INLINE_BYTES, WorkerRings } from '../src/internal/worker/rings.js';
import { onRingMemory, setCallRingBytes } from '../src/internal/worker/worker-slot.js';
import { assemble, COUNTING_GUEST, countCallMessages, deferred } from './helpers.js';

const utf8 = new TextEncoder();
const asBytes = (input: string | Uint8Array) => (typeof input === 'string' ? utf8.encode(input) : input);

/** Whether the record at `at` (a ring position) with `length` bytes of payload crosses the end of a ring of `capacity` bytes. */
const crosses = (at: number, length: number, capacity: number) => (at & (capacity - 1)) + 24 + length > capacity;

describe('the rings, both ends on one thread', () => {
  it('carry calls and results whole across the ring’s end, names learnt once', () => {
    const memory = createRingMemory(1024);
    const host = new HostRings(memory, () => {});
    const worker = new WorkerRings(memory, () => {});
    let callsCrossing = 0;
    let resultsCrossing = 0;
    for (let n = 0; n < 600; n++) {
      const input = n % 3 === 0 ? `call ${n} ${'é'.repeat(n % 40)}` : new Uint8Array((n * 37) % 300).fill(n & 0xff);
      const name = n % 7 === 0 ? `name-${n % 11}` : 'echo';
      assert.equal(host.writeCall(n + 1, name, input), 'written');
      const record = worker.nextCall();
      assert.ok(record !== undefined && record.kind === KIND.CALL);
      if (crosses(record.at, record.length, 1024)) callsCrossing++;
      const call = worker.call(record);
      assert.equal(call.id, n + 1);
      assert.equal(call.name, name);
      assert.deepEqual(new Uint8Array(call.input), asBytes(input), `call ${n}`);
      worker.releaseCall(record);
      assert.equal(worker.nextCall(), undefined);

      const output = new Uint8Array((n * 53) % 700).fill((n * 7) & 0xff);
      worker.writeResult(n + 1, n % 5 === 0 ? null : output, n * 10);
      const result = host.nextResult();
      assert.ok(result !== undefined);
      if (crosses(result.at, result.length, 64 * 1024)) resultsCrossing++;
      assert.equal(result.id, n + 1);
      assert.equal(result.fuel, n * 10);
      if (n % 5 === 0) assert.equal(result.kind, KIND.NO_OUTPUT);
      else assert.deepEqual(new Uint8Array(host.output(result)), output, `result ${n}`);
      host.releaseResult(result);
    }
    assert.ok(callsCrossing > 10, `calls crossed the end ${callsCrossing} times`);
    assert.ok(resultsCrossing >= 1, `results crossed the end ${resultsCrossing} times`);
  });

  it('say a full calls ring is full, lose nothing, and take what fits once records are freed', () => {
    const memory = createRingMemory(1024);
    const host = new HostRings(memory, () => {});
    const worker = new WorkerRings(memory, () => {});
    const input = (id: number) => new Uint8Array(200).fill(id);
    let written = 0;
    while (written < 100 && host.writeCall(written + 1, 'echo', input(written + 1)) === 'written') written++;
    assert.ok(written >= 3 && written <= 5, `${written} records of 200 bytes in 1 KiB`);
    assert.equal(host.writeCall(written + 1, 'echo', input(written + 1)), 'full');
    // Freeing one makes room for one more; every call comes out whole and in order.
    let read = 0;
    const takeOne = () => {
      const record = worker.nextCall()!;
      const call = worker.call(record);
      read++;
      assert.equal(call.id, read);
      assert.deepEqual(new Uint8Array(call.input), input(read));
      worker.releaseCall(record);
    };
    takeOne();
    assert.equal(host.writeCall(written + 1, 'echo', input(written + 1)), 'written');
    written++;
    while (read < written) takeOne();
    assert.equal(worker.nextCall(), undefined);
    // A call that could never fit, or an input above the inline bound, is for a message.
    assert.equal(host.writeCall(written + 1, 'echo', new Uint8Array(1010)), 'unsuited');
    assert.equal(host.writeCall(written + 1, 'echo', new Uint8Array(RING_INLINE_BYTES + 1)), 'unsuited');
    assert.equal(host.writeCall(written + 1, 'x'.repeat(300), ''), 'unsuited');
  });

  it('wake a sleeping reader once, and a busy one never', () => {
    const memory = createRingMemory();
    let workerWakes = 0;
    let hostWakes = 0;
    const host = new HostRings(memory, () => workerWakes++);
    const worker = new WorkerRings(memory, () => hostWakes++);
    host.writeCall(1, 'echo', 'a');
    assert.equal(workerWakes, 0, 'the worker has not gone to sleep');
    assert.equal(worker.sleep(), false, 'a call is there: read on');
    worker.releaseCall(worker.nextCall()!);
    assert.equal(worker.sleep(), true);
    host.writeCall(2, 'echo', 'b');
    host.writeCall(3, 'echo', 'c');
    assert.equal(workerWakes, 1, 'one wake-up for two calls');
    assert.equal(host.sleep(), true);
    worker.writeResult(1, null, 0);
    worker.writeResult(2, null, 0);
    assert.equal(hostWakes, 1);
  });
});

describe('calls through the rings, in a worker', () => {
  let memories: SharedArrayBuffer[] = [];
  before(() => onRingMemory((memory) => memories.push(memory)));
  after(() => onRingMemory(undefined));
  afterEach(() => {
    setCallRingBytes(undefined);
    memories = [];
  });

  async function gated(wait: () => unknown): Promise<Plugin> {
    return createPlugin({ wasm: [{ data: await assemble(COUNTING_GUEST) }] }, { runInWorker: true, functions: { 'extism:host/user': { wait } } });
  }

  it('wait for room in a full calls ring and lose nothing, records crossing its end', async () => {
    setCallRingBytes(1024);
    const gate = deferred();
    const plugin = await gated(() => gate.promise);
    try {
      const messages = countCallMessages();
      const first = plugin.call('wait');
      // 200 calls of up to ~900 bytes, in a ring of 1 KiB: a few fit at a time.
      const inputs = Array.from({ length: 200 }, (_, n) => (n % 2 === 0 ? new Uint8Array(100 + ((n * 131) % 800)).fill(n & 0xff) : `call ${n}`));
      const echoes = inputs.map((input) => plugin.call('echo', input));
      const counts = Array.from({ length: 20 }, () => plugin.call('count'));
      gate.resolve();
      assert.equal(await first, null);
      const outputs = await Promise.all(echoes);
      for (const [n, output] of outputs.entries()) assert.deepEqual(output?.bytes(), asBytes(inputs[n]!), `call ${n}`);
      assert.deepEqual(
        (await Promise.all(counts)).map((output) => output?.bytes()[0]),
        Array.from({ length: 20 }, (_, n) => n + 1),
      );
      assert.equal(messages.count, 0, 'every call went through the ring, none as a message for want of room');
    } finally {
      await plugin.close();
    }
  });

  it('settle results in the order the calls ran, whichever way each travels', async () => {
    const plugin = await gated(() => {});
    try {
      const calls: { input: string | Uint8Array | null; output: Promise<unknown> }[] = [];
      for (let n = 0; n < 120; n++) {
        let input: string | Uint8Array | null;
        switch (n % 6) {
          case 0:
            input = `small ${n}`;
            break;
          case 1:
            input = new Uint8Array(3000).fill(n); // in the ring both ways
            break;
          case 2:
            input = new Uint8Array(6000).fill(n); // a message, its output too
            break;
          case 3:
            input = new Uint8Array(40_000).fill(n); // staging memory
            break;
          case 4:
            input = new Uint8Array(new SharedArrayBuffer(20_000)).fill(n); // read in place
            break;
          default:
            input = null; // count: its output is its place in the order
        }
        calls.push({ input, output: input === null ? plugin.call('count') : plugin.call('echo', input) });
      }
      let counted = 0;
      for (const [n, { input, output }] of calls.entries()) {
        const got = (await output) as { bytes(): Uint8Array } | null;
        if (input === null) assert.equal(got?.bytes()[0], ++counted, `call ${n}`);
        else assert.deepEqual(got?.bytes(), new Uint8Array(asBytes(input)), `call ${n}`);
      }
    } finally {
      await plugin.close();
    }
  });

  const badRecords: { what: string; kind: number; id?: number; length: number; payload?: Uint8Array }[] = [
    { what: 'a result of a call not running', kind: KIND.NO_OUTPUT, id: 12345, length: 0 },
    { what: 'an unknown kind', kind: 77, length: 0 },
    { what: 'an output above the inline bound', kind: KIND.OUTPUT, length: RING_INLINE_BYTES + 8, payload: new Uint8Array(RING_INLINE_BYTES + 8) },
    { what: 'a payload on a result without output', kind: KIND.NO_OUTPUT, length: 8, payload: new Uint8Array(8) },
    { what: 'a length beyond what was written', kind: KIND.OUTPUT, length: 1 << 20 },
  ];
  for (const bad of badRecords) {
    it(`take a worker that writes ${bad.what} for a faulty one: WorkerError, a replacement for the rest`, async () => {
      const entered = deferred();
      const gate = deferred();
      const plugin = await gated(() => {
        entered.resolve();
        return gate.promise;
      });
      try {
        const memory = memories.at(-1)!;
        const first = plugin.call('wait');
        first.catch(() => {});
        // While the worker waits in the host function, write as it would: the host thread
        // reads the record when it next looks (here: when it posts the call behind).
        await entered.promise;
        forgeResult(memory, bad.kind, bad.id ?? 1, bad.length, bad.payload);
        const behind = plugin.call('count');
        await assert.rejects(first, (error: unknown) => error instanceof WorkerError && /bad record/.test(error.message));
        assert.equal((await behind)?.bytes()[0], 1, 'the call behind ran in a fresh worker');
        assert.equal(memories.length, 2, 'a second worker, with rings of its own');
      } finally {
        gate.resolve();
        await plugin.close();
      }
    });
  }
});
