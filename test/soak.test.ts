// Creating and closing plug-ins again and again holds no memory: run in a child process with
// a fixed young generation (so V8 growing it under allocation pressure, up to 32 MiB, is not
// mistaken for a leak) and a full collection before each measurement.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { libraryUrl, pluginPath, runBounded } from './helpers.js';

/** V8 12 and later (Node 22+): see WARM_UP_CYCLES. */
const NEWER_V8 = Number(process.versions.v8.split('.')[0]) >= 12;
/**
 * Cycles before the first measurement. On V8 11 (Node 20) RSS settles after ~5,000. Newer V8
 * grows its native memory over the first ~10,000–30,000 cycles whoever instantiates (a bare
 * loop of `new WebAssembly.Instance` on Node 26: +13–15 MiB, then flat to 200,000; the peer:
 * +30 MiB; a JS-only loop: +12 MiB), the optimizing compilers' code and working memory most of
 * it; measured from 30,000 on, plughost's cycles grow it by 0–3.4 MiB.
 */
const WARM_UP_CYCLES = NEWER_V8 ? 30_000 : 10_000;
const CYCLES = 20_000;
/**
 * Without a leak RSS stays within a few MiB. A native leak of 1 KB a cycle fails it on Node 26
 * (+19.9 MiB), of 2 KB on Node 20 (+40 MiB; there a smaller one can partly land in memory
 * freed during the warm-up).
 */
const MAX_RSS_GROWTH_MB = 16;
const MAX_HEAP_GROWTH_MB = 2;

it(`creating and closing ${CYCLES.toLocaleString('en-US')} plug-ins (plain, timed, WASI, host functions) grows neither the heap nor the resident set`, async (t) => {
  const script = `
    const { createPlugin } = await import(${JSON.stringify(libraryUrl)});
    const { readFileSync } = await import('node:fs');
    const vowels = readFileSync(${JSON.stringify(pluginPath('count-vowels'))});
    const echo = readFileSync(${JSON.stringify(pluginPath('host-echo'))});
    const kinds = [
      [vowels, {}, 'count_vowels'],
      [vowels, { timeoutMs: 5000, fuel: 1e9 }, 'count_vowels'],
      [vowels, { useWasi: true, config: { vowels: 'ae' } }, 'count_vowels'],
      [echo, { functions: { 'extism:host/user': { echo: (ctx, h) => h } } }, 'echo_via_host'],
    ];
    const cycle = async (i) => {
      const [wasm, options, fn] = kinds[i % kinds.length];
      const plugin = await createPlugin(wasm, options);
      await plugin.call(fn, 'hello, world');
      await plugin.close();
    };
    const measure = () => {
      globalThis.gc();
      globalThis.gc();
      const { rss, heapUsed } = process.memoryUsage();
      return { rss: rss / 1048576, heap: heapUsed / 1048576 };
    };
    for (let i = 0; i < ${WARM_UP_CYCLES}; i++) await cycle(i);
    const before = measure();
    for (let i = 0; i < ${CYCLES}; i++) await cycle(i);
    const after = measure();
    console.log(JSON.stringify({ before, after }));`;
  const run = await runBounded(script, { timeoutMs: 180_000, maxRssMb: 400, execArgv: ['--expose-gc', '--max-semi-space-size=1'] });
  const { before, after } = JSON.parse(run.stdout) as Record<'before' | 'after', { rss: number; heap: number }>;
  const report = `RSS ${before.rss.toFixed(1)} → ${after.rss.toFixed(1)} MiB, heap ${before.heap.toFixed(1)} → ${after.heap.toFixed(1)} MiB in ${Math.round(run.ms)} ms`;
  t.diagnostic(report);
  assert.ok(after.heap - before.heap < MAX_HEAP_GROWTH_MB, report);
  assert.ok(after.rss - before.rss < MAX_RSS_GROWTH_MB, report);
});
