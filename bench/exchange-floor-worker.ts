// A worker of the exchange floor (exchange-floor.ts): counts the vowels of each input it is
// handed, in plain JavaScript, and hands the count back, by messages or through a ring in
// shared memory.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { countVowelsJs } from './scenarios.js';

/** How calls reach a worker of the floor. */
export type Transport = 'messages' | 'rings';

/**
 * The ring's layout: control words (calls posted, results written, who sleeps), then `slots`
 * records of `recordBytes`, each an input (its length in the first byte) that the worker
 * overwrites with its result (an i32).
 */
export const RING = {
  posted: 0,
  results: 1,
  workerSleeps: 2,
  hostWaits: 3,
  controlWords: 16,
  controlBytes: 64,
  slots: 256,
  recordBytes: 64,
  get bytes() {
    return this.controlBytes + this.slots * this.recordBytes;
  },
};

function serveRing(ring: SharedArrayBuffer): never {
  const control = new Int32Array(ring, 0, RING.controlWords);
  const records = new Uint8Array(ring, RING.controlBytes);
  const results = new Int32Array(ring, RING.controlBytes);
  let taken = 0;
  for (;;) {
    const posted = Atomics.load(control, RING.posted);
    if (posted === taken) {
      Atomics.store(control, RING.workerSleeps, 1);
      if (Atomics.load(control, RING.posted) === taken) Atomics.wait(control, RING.posted, taken);
      Atomics.store(control, RING.workerSleeps, 0);
      continue;
    }
    for (; taken < posted; taken++) {
      const at = (taken % RING.slots) * RING.recordBytes;
      results[at / 4] = countVowelsJs(records.slice(at + 1, at + 1 + records[at]!));
      Atomics.store(control, RING.results, taken + 1);
      if (Atomics.load(control, RING.hostWaits) === 1) Atomics.notify(control, RING.results);
    }
  }
}

interface FloorCall {
  id: number;
  /** The input itself: a copy of ours, transferred, or the caller's shared memory. */
  bytes?: Uint8Array;
  /** Else: `length` bytes in staging buffer `index`, sent once (`staged`), null after. */
  index?: number;
  length?: number;
  staged?: SharedArrayBuffer | null;
}

if (!isMainThread) {
  const port = parentPort!;
  const { transport, ring } = workerData as { transport: Transport; ring: SharedArrayBuffer | undefined };
  port.postMessage('ready');
  if (transport === 'rings') serveRing(ring!);
  const staging: SharedArrayBuffer[] = [];
  let own = new Uint8Array(0);
  port.on('message', (call: FloorCall) => {
    let bytes = call.bytes;
    if (bytes === undefined) {
      if (call.staged) staging[call.index!] = call.staged;
      // a copy of its own, as plughost's worker copies an input into its kernel's memory
      if (own.byteLength < call.length!) own = new Uint8Array(call.length!);
      own.set(new Uint8Array(staging[call.index!]!, 0, call.length!));
      bytes = own.subarray(0, call.length!);
    }
    port.postMessage({ id: call.id, count: countVowelsJs(bytes) });
  });
}
