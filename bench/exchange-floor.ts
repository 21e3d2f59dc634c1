// The floor of the pool's host-thread cost: the same calls handed to worker threads and their
// results handed back with no plughost at all, each worker counting vowels in plain JavaScript.
// What the host thread spends per call here is what any pool on this runtime spends at least,
// so a host share the pool misses can be told apart from one no design could meet. Two
// transports, the cheaper one counting:
//   - messages: a message each way per call, as plughost's pool (a large input copied into
//     one of two shared staging buffers first, a shared input posted as it is);
//   - rings: small calls and their results in shared memory, the worker waiting on
//     `Atomics.wait`, the host on `Atomics.waitAsync`, each side woken only when the other
//     sleeps (no message at all once running).
import { Worker } from 'node:worker_threads';
import { hostThreadClock } from './cpu.js';
import { RING, type Transport } from './exchange-floor-worker.js';
import { median } from './harness.js';
import { countVowelsJs } from './scenarios.js';

/** Host-thread CPU per call of the leanest exchange, µs, and the transport that gave it. */
export interface ExchangeFloor {
  host: number;
  transport: Transport;
}

interface Lane {
  call(input: Uint8Array): Promise<number>;
}

/** A worker of the exchange and the way calls reach it. */
interface FloorWorker {
  worker: Worker;
  lane: Lane;
}

const isShared = (bytes: Uint8Array) => bytes.buffer instanceof SharedArrayBuffer;

async function start(transport: Transport, inputBytes: number): Promise<FloorWorker> {
  const ring = transport === 'rings' ? new SharedArrayBuffer(RING.bytes) : undefined;
  const worker = new Worker(new URL('./exchange-floor-worker.js', import.meta.url), { workerData: { transport, ring } });
  await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  if (ring !== undefined) return { worker, lane: ringLane(ring) };
  const waiting = new Map<number, (count: number) => void>();
  worker.on('message', (reply: { id: number; count: number }) => {
    const resolve = waiting.get(reply.id)!;
    waiting.delete(reply.id);
    resolve(reply.count);
  });
  const staging = [0, 1].map(() => new Uint8Array(new SharedArrayBuffer(Math.max(inputBytes, 1))));
  const sent = [false, false];
  let nextId = 0;
  return {
    worker,
    lane: {
      call(input) {
        const id = nextId++;
        const result = new Promise<number>((resolve) => waiting.set(id, resolve));
        if (isShared(input) || input.byteLength < 16 * 1024) {
          if (isShared(input)) worker.postMessage({ id, bytes: input });
          else {
            const copy = input.slice();
            worker.postMessage({ id, bytes: copy }, [copy.buffer]);
          }
        } else {
          const index = id & 1;
          staging[index]!.set(input);
          worker.postMessage({ id, index, length: input.byteLength, staged: sent[index] ? null : staging[index]!.buffer });
          sent[index] = true;
        }
        return result;
      },
    },
  };
}

/** Calls through a ring of fixed records: the slot's pending result is resolved when the worker has written it. */
function ringLane(ring: SharedArrayBuffer): Lane {
  const control = new Int32Array(ring, 0, RING.controlWords);
  const records = new Uint8Array(ring, RING.controlBytes);
  const results = new Int32Array(ring, RING.controlBytes);
  const pending: ((count: number) => void)[] = [];
  let posted = 0;
  let seen = 0;
  const drain = () => {
    const done = Atomics.load(control, RING.results);
    while (seen < done) {
      const slot = seen % RING.slots;
      const resolve = pending[slot]!;
      seen++;
      resolve(results[(slot * RING.recordBytes) / 4]!);
    }
  };
  const wait = () => {
    Atomics.store(control, RING.hostWaits, 1);
    const waited = Atomics.waitAsync(control, RING.results, seen);
    const wake = () => {
      Atomics.store(control, RING.hostWaits, 0);
      drain();
      setImmediate(wait);
    };
    if (waited.async) void waited.value.then(wake);
    else wake();
  };
  wait();
  return {
    call(input) {
      if (input.byteLength >= RING.recordBytes) throw new RangeError(`a ring record holds less than ${input.byteLength} bytes`);
      const slot = posted % RING.slots;
      const result = new Promise<number>((resolve) => {
        pending[slot] = resolve;
      });
      records[slot * RING.recordBytes] = input.byteLength;
      records.set(input, slot * RING.recordBytes + 1);
      Atomics.store(control, RING.posted, ++posted);
      if (Atomics.load(control, RING.workerSleeps) === 1) Atomics.notify(control, RING.posted);
      return result;
    },
  };
}

/** Host CPU per call of `transport`: `workers` workers, `inFlight` calls each, median of three stretches of `ms`. */
async function measure(transport: Transport, input: Uint8Array, workers: number, inFlight: number, ms: number): Promise<number> {
  const started = await Promise.all(Array.from({ length: workers }, () => start(transport, input.byteLength)));
  const clock = hostThreadClock();
  const expected = countVowelsJs(input);
  const stretch = async (length: number) => {
    let calls = 0;
    const end = performance.now() + length;
    const caller = async (lane: Lane) => {
      while (performance.now() < end) {
        // a floor that lost or mixed up calls would be no floor
        const count = await lane.call(input);
        if (count !== expected) throw new Error(`the ${transport} exchange counted ${count} vowels, expected ${expected}`);
        calls++;
      }
    };
    const cpu = clock.now();
    await Promise.all(started.flatMap(({ lane }) => Array.from({ length: inFlight }, () => caller(lane))));
    return (clock.now() - cpu) / calls;
  };
  try {
    await stretch(ms / 2);
    const samples: number[] = [];
    for (let round = 0; round < 3; round++) samples.push(await stretch(ms));
    return median(samples);
  } finally {
    await Promise.all(started.map(({ worker }) => worker.terminate()));
  }
}

/** The leanest exchange of `input` found here: rings where the input fits a record, else messages. */
export async function exchangeFloor(input: Uint8Array, workers: number, inFlight: number, ms: number): Promise<ExchangeFloor> {
  const messages = await measure('messages', input, workers, inFlight, ms);
  if (input.byteLength >= RING.recordBytes) return { host: messages, transport: 'messages' };
  const rings = await measure('rings', input, workers, inFlight, ms);
  return rings < messages ? { host: rings, transport: 'rings' } : { host: messages, transport: 'messages' };
}
