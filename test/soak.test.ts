// Creating and closing plug-ins again and again holds no memory: run in a child process with
// a fixed young generation (so V8 growing it under allocation pressure, up to 32 MiB, is not
// mistaken for a leak) and a full collection before each measurement.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { libraryUrl, pluginPath, runBounded } from './helpers.js';

/** V8 12 and later (Node 22+). */
const NEWER_V8 = Number(process.versions.v8.split('.')[0]) >= 12;
/** Cycles before the first measurement: on V8 11 (Node 20) RSS settles after ~5,000. */
const WARM_UP_CYCLES = NEWER_V8 ? 30_000 : 10_000;
/** Measured cycles, in windows of WINDOW_CYCLES with a measurement after each. */
const CYCLES = 40_000;
const WINDOW_CYCLES = 10_000;
/**
 * A leak grows RSS in every window; newer V8 grows it by steps whoever instantiates, over its
 * first ~10,000–50,000 cycles and then never again (a bare loop of `new WebAssembly.Instance`:
 * +30 MiB on Node 22, +36 on Node 24, +15 on Node 26; a step of up to ~24 MiB after 30,000
 * cycles was seen on Node 22). So the bound is on the median window, which one or two steps
 * do not move: a native leak of 1 KB a cycle added 8–19 MiB to each on Node 22, 24 and 26.
 */
const MAX_MEDIAN_WINDOW_RSS_GROWTH_MB = 6;
/**
 * And on the whole run, where a few steps of newer V8 fit. On Node 20 this is the bound that
 * fails that leak (+43 MiB): memory freed during the warm-up takes part of it in some windows.
 */
const MAX_RSS_GROWTH_MB = NEWER_V8 ? 48 : 16;
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
    const samples = [measure()];
    for (let i = 1; i <= ${CYCLES}; i++) {
      await cycle(i);
      if (i % ${WINDOW_CYCLES} === 0) samples.push(measure());
    }
    console.log(JSON.stringify(samples));`;
  const run = await runBounded(script, { timeoutMs: 180_000, maxRssMb: 400, execArgv: ['--expose-gc', '--max-semi-space-size=1'] });
  const samples = JSON.parse(run.stdout) as { rss: number; heap: number }[];
  const first = samples[0]!;
  const last = samples.at(-1)!;
  const windows = samples.slice(1).map((sample, i) => sample.rss - samples[i]!.rss);
  const sorted = [...windows].sort((a, b) => a - b);
  const median = (sorted[(sorted.length - 1) >> 1]! + sorted[sorted.length >> 1]!) / 2;
  const report = `RSS ${first.rss.toFixed(1)} → ${last.rss.toFixed(1)} MiB (by window: ${windows.map((w) => `${w >= 0 ? '+' : ''}${w.toFixed(1)}`).join(', ')}), heap ${first.heap.toFixed(1)} → ${last.heap.toFixed(1)} MiB in ${Math.round(run.ms)} ms`;
  t.diagnostic(report);
  assert.ok(last.heap - first.heap < MAX_HEAP_GROWTH_MB, report);
  assert.ok(median < MAX_MEDIAN_WINDOW_RSS_GROWTH_MB, report);
  assert.ok(last.rss - first.rss < MAX_RSS_GROWTH_MB, report);
});
