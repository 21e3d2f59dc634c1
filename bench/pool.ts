// Throughput of plughost's worker pool (`createPool`), 2 workers against 1, on the 1 MiB
// vowel count, and beside it the machine's ceiling for the same work: 2 threads against 1 that
// call their own plug-ins with no host thread at all. Skipped while the pool is not exported.
import { Worker } from 'node:worker_threads';
import * as api from '../src/index.js';
import { median } from './harness.js';
import { pluginFile } from './hosts.js';
import { COUNT_VOWELS_OPTIONS, countVowelsJs, inputs } from './scenarios.js';

interface BenchPool {
  call(name: string, input: Uint8Array): Promise<{ buffer: ArrayBufferLike; byteOffset: number; byteLength: number } | null>;
  close(): Promise<void>;
}

type CreatePool = (manifest: unknown, options: Record<string, unknown>) => Promise<BenchPool> | BenchPool;

export interface PoolResult {
  /** Calls per second with 1 and 2 workers; undefined when skipped. */
  one?: number;
  two?: number;
  /** Calls per second of 1 and 2 threads calling their own plug-ins, without a host thread. */
  ceilingOne?: number;
  ceilingTwo?: number;
  skipped?: string;
}

/** Calls per second over `ms`, keeping `inFlight` calls queued so no worker ever idles. */
async function throughput(pool: BenchPool, inFlight: number, ms: number): Promise<number> {
  let done = 0;
  const end = performance.now() + ms;
  const start = performance.now();
  const worker = async () => {
    while (performance.now() < end) {
      await pool.call('count_vowels', inputs.mib);
      done++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return done / ((performance.now() - start) / 1000);
}

async function measure(createPool: CreatePool, size: number, ms: number): Promise<number> {
  const pool = await createPool({ wasm: [{ path: pluginFile('count-vowels') }] }, { ...COUNT_VOWELS_OPTIONS, size });
  try {
    const output = await pool.call('count_vowels', inputs.mib);
    const text = output === null ? '' : new TextDecoder().decode(new Uint8Array(output.buffer, output.byteOffset, output.byteLength));
    const count = (JSON.parse(text) as { count: number }).count;
    if (count !== countVowelsJs(inputs.mib)) throw new Error(`the pool counted ${count} vowels, expected ${countVowelsJs(inputs.mib)}`);
    await throughput(pool, size * 2, ms / 4);
    return await throughput(pool, size * 2, ms);
  } finally {
    await pool.close();
  }
}

/** Calls per second of `threads` workers each calling its own plug-in for `ms` (started together), summed. */
async function ceiling(threads: number, ms: number): Promise<number> {
  const workers = Array.from({ length: threads }, () => new Worker(new URL('./ceiling-worker.js', import.meta.url), { workerData: { ms } }));
  const next = (worker: Worker) =>
    new Promise<unknown>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  try {
    await Promise.all(workers.map(next)); // 'ready'
    const rates = workers.map(next);
    for (const worker of workers) worker.postMessage('go');
    return ((await Promise.all(rates)) as number[]).reduce((sum, rate) => sum + rate, 0);
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

/** 1 worker and 2 in turn, three times; the median of each (a 2-core machine is noisy). */
export async function poolThroughput(ms: number): Promise<PoolResult> {
  const createPool = (api as unknown as Record<string, unknown>).createPool;
  if (typeof createPool !== 'function') return { skipped: 'createPool is not exported by src/index.ts yet' };
  try {
    const create = createPool as CreatePool;
    const one: number[] = [];
    const two: number[] = [];
    const ceilingOne: number[] = [];
    const ceilingTwo: number[] = [];
    for (let round = 0; round < 3; round++) {
      one.push(await measure(create, 1, ms));
      two.push(await measure(create, 2, ms));
      ceilingOne.push(await ceiling(1, ms));
      ceilingTwo.push(await ceiling(2, ms));
    }
    return { one: median(one), two: median(two), ceilingOne: median(ceilingOne), ceilingTwo: median(ceilingTwo) };
  } catch (err) {
    return { skipped: `createPool failed: ${(err as Error).message}` };
  }
}
