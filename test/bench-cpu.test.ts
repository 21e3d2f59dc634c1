// The pool bench's CPU-time model and clocks (bench/pool.ts, bench/cpu.ts): the formulas
// BENCHMARKS.md states, and clocks that count this thread's work in microseconds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { everyThreadCpu, hostThreadClock, processCpu, threadCpuClock } from '../bench/cpu.js';
import { exchangeFloor } from '../bench/exchange-floor.js';
import { type CpuPerCall, floorShare, hostShare, linearRate, predictedRate } from '../bench/pool.js';

const cpu = (host: number, worker: number, other = 0, floorHost = host): CpuPerCall => ({
  host,
  worker,
  other,
  bare: undefined,
  floor: { host: floorHost, transport: 'messages' },
  hostClock: 'test',
  workerClock: 'test',
  calls: 1,
});

/** Busy work on this thread for about `ms` of wall time. */
function spin(ms: number): void {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x += Math.sqrt(x + 1);
  assert.ok(x > 0);
}

describe('pool bench model', () => {
  it('predicts min(cores / (host + worker + other), 1 / host) calls per second', () => {
    // 10 µs of host and 990 µs of worker: 4 cores are core-bound, 200 cores host-bound.
    assert.equal(predictedRate(cpu(10, 990), 4), 4000);
    assert.equal(predictedRate(cpu(10, 990), 200), 100_000);
    assert.equal(predictedRate(cpu(10, 980, 10), 4), 4000);
  });

  it('measures linear as cores / (worker + other), and the host share of the whole call', () => {
    assert.equal(linearRate(cpu(10, 990, 10), 4), 4000);
    assert.equal(hostShare(cpu(25, 70, 5)), 0.25);
  });

  it('gives the host share at the floor: the floor host cost beside the pool worker cost', () => {
    assert.equal(floorShare(cpu(40, 70, 5, 25)), 0.25);
  });
});

describe('pool bench exchange floor', () => {
  // Each stretch checks every count the workers hand back, so a transport that loses, repeats
  // or mixes up calls fails here instead of reporting a floor.
  it('hands small calls to workers and back by messages and by rings, the cheaper one reported', async () => {
    const floor = await exchangeFloor(new TextEncoder().encode('Hello, World!'), 2, 4, 40);
    assert.ok(floor.host > 0 && Number.isFinite(floor.host), `host ${floor.host} µs a call`);
    assert.ok(floor.transport === 'messages' || floor.transport === 'rings');
  });

  it('hands a large input through staging memory, and one in shared memory as it is', async () => {
    const large = new TextEncoder().encode('Extism plug-ins, every vowel counted. '.repeat(2000));
    const shared = new Uint8Array(new SharedArrayBuffer(large.byteLength));
    shared.set(large);
    for (const input of [large, shared]) {
      const floor = await exchangeFloor(input, 2, 2, 40);
      assert.equal(floor.transport, 'messages');
      assert.ok(floor.host > 0 && Number.isFinite(floor.host), `host ${floor.host} µs a call`);
    }
  });
});

describe('bench CPU clocks', () => {
  it("count this thread's work in microseconds, where the runtime has a clock", (t) => {
    const clock = threadCpuClock();
    if (clock === undefined) return t.skip('no thread CPU clock on this runtime');
    // Spin until the clock says 20 ms of CPU, however long a loaded machine takes to give them
    // (bounded); one thread cannot use more CPU than wall time, so wrong units show either way.
    const wallStart = performance.now();
    const cpuStart = clock.now();
    let used = 0;
    while (used < 20_000 && performance.now() - wallStart < 20_000) {
      spin(1);
      used = clock.now() - cpuStart;
    }
    const wallUs = (performance.now() - wallStart) * 1000;
    assert.ok(used >= 20_000, `only ${used} µs of CPU in ${wallUs} µs of spinning (${clock.what})`);
    assert.ok(used <= wallUs * 1.05 + 1_000, `${used} µs of CPU in ${wallUs} µs of wall time (${clock.what})`);
  });

  it('see this thread among all of the process, and the process at least as busy as it', (t) => {
    const threads = everyThreadCpu();
    if (threads === undefined) return t.skip('no per-thread CPU times on this platform');
    const process0 = processCpu();
    const host0 = hostThreadClock().now();
    spin(30);
    assert.ok(threads.has(process.pid), 'the main thread (tid = pid) is listed');
    assert.ok(processCpu() - process0 >= hostThreadClock().now() - host0 - 1_000);
  });
});
