// Timing, statistics and formatting for the benchmark. Every number it reports is a median
// of per-operation times, each sample being one batch of operations long enough (about a
// millisecond) for the clock's resolution not to matter.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** One operation to time: sync ones are timed without an `await`, which costs more than a raw wasm call. */
export type Op = { kind: 'sync'; run: () => unknown } | { kind: 'async'; run: () => Promise<unknown> };

/** A batch is made at least this long, so each sample dwarfs the clock's resolution. */
const BATCH_MS = 1;

async function timeBatch(op: Op, size: number): Promise<number> {
  if (op.kind === 'sync') {
    const run = op.run;
    const start = performance.now();
    for (let i = 0; i < size; i++) run();
    return performance.now() - start;
  }
  const run = op.run;
  const start = performance.now();
  for (let i = 0; i < size; i++) await run();
  return performance.now() - start;
}

/**
 * Warm `op` up for `budgetMs` (JIT tiers, caches, wasm tier-up) and return the batch size
 * to time it with.
 */
export async function warmUp(op: Op, budgetMs: number): Promise<number> {
  let size = 1;
  const end = performance.now() + budgetMs;
  for (;;) {
    const elapsed = await timeBatch(op, size);
    if (elapsed < BATCH_MS && size < 1 << 20) size *= 2;
    if (performance.now() >= end) return size;
  }
}

/** Per-op times (ms) of batches of `size`, for about `budgetMs` (and at least two batches). */
export async function sample(op: Op, size: number, budgetMs: number): Promise<number[]> {
  const samples: number[] = [];
  const end = performance.now() + budgetMs;
  while (samples.length < 2 || performance.now() < end) samples.push((await timeBatch(op, size)) / size);
  return samples;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function geomean(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  return Math.exp(values.reduce((sum, v) => sum + Math.log(v), 0) / values.length);
}

/** A duration given in milliseconds, in the unit that reads best. */
export function formatTime(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms < 0.001) return `${(ms * 1e6).toFixed(0)} ns`;
  if (ms < 0.01) return `${(ms * 1e3).toFixed(2)} µs`;
  if (ms < 1) return `${(ms * 1e3).toFixed(1)} µs`;
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  return `${ms.toFixed(1)} ms`;
}

export function formatRatio(ratio: number): string {
  if (!Number.isFinite(ratio)) return '-';
  return ratio >= 100 ? `${ratio.toFixed(0)}x` : ratio >= 10 ? `${ratio.toFixed(1)}x` : `${ratio.toFixed(2)}x`;
}

export function formatBytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** A plain-text table, columns padded to their widest cell; numbers right-aligned. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = (cell: string) => /^[-\d.≥≤]/.test(cell) && !/[a-wyz]{3}/i.test(cell);
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i > 0 && numeric(c) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

let collect: (() => void) | undefined;

/** A full garbage collection, without needing `node --expose-gc` on the command line. */
export function gc(): void {
  if (collect === undefined) {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as () => void;
  }
  collect();
  collect();
}

export interface MemorySnapshot {
  heapUsed: number;
  rss: number;
}

/** Heap and RSS after a full collection. */
export function memorySnapshot(): MemorySnapshot {
  gc();
  const { heapUsed, rss } = process.memoryUsage();
  return { heapUsed, rss };
}
