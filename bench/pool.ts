// Throughput of plughost's worker pool (`createPool`), 2 workers against 1, on the 1 MiB
// vowel count. Skipped, with the reason, while the pool is not exported.
import * as api from '../src/index.js';
import { COUNT_VOWELS_OPTIONS, countVowelsJs, inputs } from './scenarios.js';
import { median } from './harness.js';
import { pluginFile } from './hosts.js';

interface BenchPool {
  call(name: string, input: Uint8Array): Promise<{ buffer: ArrayBufferLike; byteOffset: number; byteLength: number } | null>;
  close(): Promise<void>;
}

type CreatePool = (manifest: unknown, options: Record<string, unknown>) => Promise<BenchPool> | BenchPool;

export interface PoolResult {
  /** Calls per second with 1 and 2 workers; undefined when skipped. */
  one?: number;
  two?: number;
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

/** 1 worker and 2 in turn, three times; the median of each (a 2-core machine is noisy). */
export async function poolThroughput(ms: number): Promise<PoolResult> {
  const createPool = (api as unknown as Record<string, unknown>).createPool;
  if (typeof createPool !== 'function') return { skipped: 'createPool is not exported by src/index.ts yet' };
  try {
    const create = createPool as CreatePool;
    const one: number[] = [];
    const two: number[] = [];
    for (let round = 0; round < 3; round++) {
      one.push(await measure(create, 1, ms));
      two.push(await measure(create, 2, ms));
    }
    return { one: median(one), two: median(two) };
  } catch (err) {
    return { skipped: `createPool failed: ${(err as Error).message}` };
  }
}
