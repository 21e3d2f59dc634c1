// plughost's worker pool (`createPool`): its throughput with 1 worker and with more (up to one
// per core this machine has), beside the machine's ceiling for the same work (threads that call
// their own plug-ins with no host thread at all); and, since this machine has few cores, what
// decides how far the pool scales on one with many: the CPU time a pooled call costs the host
// thread and a worker, from which the throughput on 4, 8 and 16 cores is predicted.
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { createPool } from '../src/index.js';
import { everyThreadCpu, hostThreadClock, processCpu } from './cpu.js';
import { type ExchangeFloor, exchangeFloor } from './exchange-floor.js';
import { median } from './harness.js';
import { pluginFile } from './hosts.js';
import { COUNT_VOWELS_OPTIONS, countVowelsJs, inputs } from './scenarios.js';

/** `bytes` copied into a SharedArrayBuffer: an input the pool's workers read in place. */
function inSharedMemory(bytes: Uint8Array): Uint8Array {
  const shared = new Uint8Array(new SharedArrayBuffer(bytes.byteLength));
  shared.set(bytes);
  return shared;
}

/** Each worker is given two calls (one running, one posted ahead), as a busy application would. */
const IN_FLIGHT_PER_WORKER = 2;

/**
 * The calls measured, each with the calls kept in flight per worker: the 1 MiB vowel count (its
 * input as usual, and in shared memory) and a small one, also with more calls in flight (which
 * a pool posts ahead, several to a message).
 */
export const POOL_WORKLOADS = {
  mib: { label: '1 MiB vowel count', input: inputs.mib, inFlightPerWorker: IN_FLIGHT_PER_WORKER, hostShareTarget: 0.05 },
  sharedMib: {
    label: '1 MiB, input in a SharedArrayBuffer',
    input: inSharedMemory(inputs.mib),
    inFlightPerWorker: IN_FLIGHT_PER_WORKER,
    hostShareTarget: 0.05,
  },
  small: { label: '13 B vowel count', input: inputs.small, inFlightPerWorker: IN_FLIGHT_PER_WORKER, hostShareTarget: 0.25 },
  smallBusy: { label: '13 B, 8 calls in flight a worker', input: inputs.small, inFlightPerWorker: 8, hostShareTarget: 0.25 },
} as const;
export type PoolWorkload = keyof typeof POOL_WORKLOADS;

/** The core counts the prediction is made for. */
export const PREDICTED_CORES = [4, 8, 16] as const;

export interface PoolRun {
  /** Workers in the pool. */
  size: number;
  /** Calls per second, median of the rounds. */
  rate: number;
}

export interface CpuPerCall {
  /** Microseconds of the host thread's CPU per call. */
  host: number;
  /** Microseconds of worker threads' CPU per call; undefined where threads cannot be told apart. */
  worker: number | undefined;
  /** Microseconds per call of the process's other threads (V8's GC and compiler helpers...). */
  other: number;
  /** Microseconds of CPU per call of one thread calling its own plug-in synchronously, no pool. */
  bare: number | undefined;
  /** The host thread's CPU per call handing the same calls to as many workers with no plughost (exchange-floor.ts). */
  floor: ExchangeFloor;
  /** How each figure was read. */
  hostClock: string;
  workerClock: string;
  /** Calls the figures are averaged over. */
  calls: number;
}

export interface PoolResult {
  /** The 1 MiB vowel count through pools of 1, 2, 4... workers, up to this machine's cores. */
  runs: PoolRun[];
  /** Calls per second of 1 and of `cores` threads calling their own plug-ins, without a host thread. */
  ceilingOne: number;
  ceilingAll: number;
  cores: number;
  cpu: Record<PoolWorkload, CpuPerCall>;
}

/** Calls per second over `ms`, keeping `inFlight` calls queued so no worker ever idles. */
async function throughput(
  pool: Awaited<ReturnType<typeof createPool>>,
  input: Uint8Array,
  inFlight: number,
  ms: number,
): Promise<{ rate: number; calls: number }> {
  let calls = 0;
  const end = performance.now() + ms;
  const start = performance.now();
  const caller = async () => {
    while (performance.now() < end) {
      await pool.call('count_vowels', input);
      calls++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, caller));
  return { rate: calls / ((performance.now() - start) / 1000), calls };
}

async function startPool(size: number, input: Uint8Array) {
  const pool = await createPool({ wasm: [{ path: pluginFile('count-vowels') }] }, { ...COUNT_VOWELS_OPTIONS, size });
  const output = await pool.call('count_vowels', input);
  const count = output === null ? Number.NaN : (output.json() as { count: number }).count;
  if (count !== countVowelsJs(input)) {
    await pool.close();
    throw new Error(`the pool counted ${count} vowels, expected ${countVowelsJs(input)}`);
  }
  return pool;
}

async function measureRate(size: number, ms: number): Promise<number> {
  const pool = await startPool(size, inputs.mib);
  try {
    await throughput(pool, inputs.mib, size * IN_FLIGHT_PER_WORKER, ms / 4);
    return (await throughput(pool, inputs.mib, size * IN_FLIGHT_PER_WORKER, ms)).rate;
  } finally {
    await pool.close();
  }
}

/** What a ceiling thread reports: its calls per second and its own CPU time per call (µs). */
interface CeilingReport {
  rate: number;
  cpuPerCall: number | undefined;
}

/** `threads` workers each calling its own plug-in for `ms` (started together). */
async function ceiling(threads: number, ms: number, workload: PoolWorkload = 'mib'): Promise<CeilingReport[]> {
  const workers = Array.from({ length: threads }, () => new Worker(new URL('./ceiling-worker.js', import.meta.url), { workerData: { ms, workload } }));
  const next = (worker: Worker) =>
    new Promise<unknown>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  try {
    await Promise.all(workers.map(next)); // 'ready'
    const reports = workers.map(next);
    for (const worker of workers) worker.postMessage('go');
    return (await Promise.all(reports)) as CeilingReport[];
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

const sum = (reports: readonly CeilingReport[]) => reports.reduce((total, r) => total + r.rate, 0);

/** CPU time per call of one stretch of calls: host thread, workers (undefined off Linux), whole process; µs. */
interface CpuSample {
  host: number;
  worker: number | undefined;
  total: number;
  calls: number;
}

/**
 * CPU time per call of a pool of `size` workers kept busy with `workload`: the host thread's,
 * the workers' (the threads that appeared when the pool started) and the rest of the
 * process's; each the median of three stretches of `ms`. Beside them, the CPU time of the same
 * call made synchronously in a thread of its own, without a pool.
 */
export async function measureCpu(workload: PoolWorkload, size: number, ms: number): Promise<CpuPerCall> {
  const { input, inFlightPerWorker } = POOL_WORKLOADS[workload];
  await readFile(pluginFile('count-vowels')); // libuv's threads exist before the pool's are counted
  const threadsBefore = new Set(everyThreadCpu()?.keys() ?? []);
  const pool = await startPool(size, input);
  const hostClock = hostThreadClock();
  const samples: CpuSample[] = [];
  try {
    const inFlight = size * inFlightPerWorker;
    await throughput(pool, input, inFlight, ms / 2);
    for (let round = 0; round < 3; round++) {
      const threads0 = everyThreadCpu();
      const host0 = hostClock.now();
      const process0 = processCpu();
      const { calls } = await throughput(pool, input, inFlight, ms);
      const host = hostClock.now() - host0;
      const total = processCpu() - process0;
      const threads1 = everyThreadCpu();
      let worker: number | undefined;
      if (threads0 !== undefined && threads1 !== undefined) {
        worker = 0;
        for (const [tid, micros] of threads1) {
          if (tid !== process.pid && !threadsBefore.has(tid)) worker += micros - (threads0.get(tid) ?? micros);
        }
      }
      samples.push({ host: host / calls, worker: worker === undefined ? undefined : worker / calls, total: total / calls, calls });
    }
  } finally {
    await pool.close();
  }
  const workers = samples.flatMap((sample) => (sample.worker === undefined ? [] : [sample.worker]));
  const host = median(samples.map((sample) => sample.host));
  const worker = workers.length === samples.length ? median(workers) : undefined;
  return {
    host,
    worker,
    other: Math.max(0, median(samples.map((sample) => sample.total - sample.host - (sample.worker ?? 0)))),
    bare: (await ceiling(1, ms, workload))[0]?.cpuPerCall,
    floor: await exchangeFloor(input, size, inFlightPerWorker, ms),
    hostClock: hostClock.what,
    workerClock: worker === undefined ? 'not measurable here (needs Linux /proc)' : '/proc/self/task/<tid>/schedstat',
    calls: samples.reduce((total, sample) => total + sample.calls, 0),
  };
}

/**
 * Calls per second with 1, 2, 4... workers (up to the cores here) and the ceiling beside them,
 * each the median of three rounds (a small shared machine is noisy); then the CPU time per call
 * of each workload through a pool of 2 workers (1 on a single core).
 */
export async function poolThroughput(ms: number): Promise<PoolResult> {
  const cores = availableParallelism();
  const sizes = [1, 2, 4, 8, 16, 32, 64].filter((size) => size === 1 || size <= cores);
  const rates = new Map<number, number[]>(sizes.map((size) => [size, []]));
  const ceilingOne: number[] = [];
  const ceilingAll: number[] = [];
  for (let round = 0; round < 3; round++) {
    for (const size of sizes) rates.get(size)!.push(await measureRate(size, ms));
    ceilingOne.push(sum(await ceiling(1, ms)));
    ceilingAll.push(sum(await ceiling(Math.max(1, Math.min(cores, sizes[sizes.length - 1]!)), ms)));
  }
  const cpuPoolSize = Math.min(2, cores);
  return {
    runs: sizes.map((size) => ({ size, rate: median(rates.get(size)!) })),
    ceilingOne: median(ceilingOne),
    ceilingAll: median(ceilingAll),
    cores,
    cpu: {
      mib: await measureCpu('mib', cpuPoolSize, ms),
      sharedMib: await measureCpu('sharedMib', cpuPoolSize, ms),
      small: await measureCpu('small', cpuPoolSize, ms),
      smallBusy: await measureCpu('smallBusy', cpuPoolSize, ms),
    },
  };
}

/** The throughput model: a worker per core, the host thread on one of them too. */
export function predictedRate(cpu: CpuPerCall, cores: number): number {
  const perCall = cpu.host + (cpu.worker ?? 0) + cpu.other;
  // Every core busy: `cores` seconds of CPU per second, `perCall` µs each; and the host thread,
  // one thread, can route at most 1 / host calls per second whatever the cores.
  return Math.min((cores * 1e6) / perCall, 1e6 / cpu.host);
}

/** What `cores` workers would do if the host thread cost nothing: linear scaling. */
export function linearRate(cpu: CpuPerCall, cores: number): number {
  return (cores * 1e6) / ((cpu.worker ?? 0) + cpu.other);
}

/** The share of a pooled call's CPU spent on the host thread. */
export function hostShare(cpu: CpuPerCall): number {
  return cpu.host / (cpu.host + (cpu.worker ?? 0) + cpu.other);
}

/** The host share the pool would have if its host thread cost only the exchange floor: below it no design goes. */
export function floorShare(cpu: CpuPerCall): number {
  return cpu.floor.host / (cpu.floor.host + (cpu.worker ?? 0) + cpu.other);
}
