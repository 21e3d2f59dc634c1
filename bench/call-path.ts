// A/B of the call path on this thread: two builds of plughost in one process, their calls
// alternating batch by batch, so that a shared machine's drift falls on both alike. Reports
// the min and the 25th percentile of the per-call times of each (the median moves with the
// load; the low end is what the code costs).
//
//   node build/bench/call-path.js --a <before>/src --b build/src [--rows "13 B|no-op"] [--batches 60]
//   node build/bench/call-path.js --b build/src --rows no-op --loop 10   # one row for 10 s, for --cpu-prof
//
// A build directory is a copy of `build/src` (what `node scripts/build.mjs` writes), taken before
// a change: `mkdir -p <before> && cp -r build/src <before>/` (any directory outside the tree).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { fixtureFile, hostFunctions, KIB, pluginFile, text } from './hosts.js';
import { COUNT_VOWELS_OPTIONS, inputs } from './scenarios.js';

interface Callable {
  call(name: string, input?: Uint8Array): Promise<unknown>;
  close(): Promise<void>;
}
type Create = (manifest: unknown, options: unknown) => Promise<Callable>;

interface Row {
  name: string;
  file: string;
  options: unknown;
  fn: string;
  input: Uint8Array;
  /** Calls per batch: a batch of about a millisecond. */
  batch: number;
}

const rows: Row[] = [
  { name: 'vowel count, 13 B', file: pluginFile('count-vowels'), options: COUNT_VOWELS_OPTIONS, fn: 'count_vowels', input: inputs.small, batch: 1000 },
  { name: 'read 1 KiB', file: fixtureFile('bench-read'), options: {}, fn: 'read_sum', input: text(KIB), batch: 1000 },
  {
    name: 'host round trip 1 KiB',
    file: fixtureFile('bench-roundtrip'),
    options: { functions: hostFunctions },
    fn: 'round_trip',
    input: text(KIB),
    batch: 300,
  },
  {
    name: '1,000 host calls',
    file: fixtureFile('bench-host-calls'),
    options: { functions: hostFunctions },
    fn: 'host_calls',
    input: new Uint8Array(0),
    batch: 100,
  },
  { name: 'no-op', file: fixtureFile('bench-noop'), options: {}, fn: 'noop', input: new Uint8Array(0), batch: 10000 },
];

async function load(dir: string): Promise<Create> {
  const module = (await import(pathToFileURL(resolve(dir, 'index.js')).href)) as { createPlugin: Create };
  return module.createPlugin;
}

type TimeBatch = (plugin: Callable, row: Row) => Promise<number>;

/**
 * A timing loop of its own for each side: one loop shared by both would see two Plugin classes
 * (one per build), and V8 would optimize it for them unevenly, which biased one side by up to 10%.
 */
function timingLoop(): TimeBatch {
  return new Function(
    'plugin',
    'row',
    `return (async () => {
      const { fn, input, batch } = row;
      const start = performance.now();
      for (let i = 0; i < batch; i++) await plugin.call(fn, input);
      return ((performance.now() - start) * 1e6) / batch;
    })();`,
  ) as TimeBatch;
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const ns = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(3)} µs` : `${v.toFixed(1)} ns`);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { a: { type: 'string' }, b: { type: 'string' }, rows: { type: 'string' }, batches: { type: 'string' }, loop: { type: 'string' } },
  });
  const filter = values.rows === undefined ? undefined : new RegExp(values.rows);
  const chosen = rows.filter((row) => filter === undefined || filter.test(row.name));
  const sides: [string, Create][] = [];
  if (values.a !== undefined) sides.push(['A', await load(values.a)]);
  sides.push(['B', await load(values.b ?? 'build/src')]);
  const batches = Number(values.batches ?? 60);

  if (values.loop !== undefined) {
    const row = chosen[0]!;
    const plugin = await sides.at(-1)![1]({ wasm: [{ path: row.file }] }, row.options);
    const timeBatch = timingLoop();
    const end = performance.now() + Number(values.loop) * 1000;
    let calls = 0;
    while (performance.now() < end) {
      await timeBatch(plugin, row);
      calls += row.batch;
    }
    console.log(`${row.name}: ${calls} calls`);
    return;
  }

  for (const row of chosen) {
    const plugins = await Promise.all(sides.map(([, create]) => create({ wasm: [{ path: row.file }] }, row.options)));
    const times: number[][] = sides.map(() => []);
    const loops = sides.map(() => timingLoop());
    for (let warm = 0; warm < 20; warm++) for (let k = 0; k < plugins.length; k++) await loops[k]!(plugins[k]!, row);
    for (let i = 0; i < batches; i++) {
      // ABBA: neither side always runs first
      const order = i % 2 === 0 ? plugins.map((_, k) => k) : plugins.map((_, k) => plugins.length - 1 - k);
      for (const k of order) times[k]!.push(await loops[k]!(plugins[k]!, row));
    }
    const line = sides.map(([label], k) => `${label} min ${ns(Math.min(...times[k]!))} p25 ${ns(quantile(times[k]!, 0.25))}`).join('   ');
    let delta = '';
    if (sides.length === 2) {
      const change = (q: (t: number[]) => number) => `${(((q(times[1]!) - q(times[0]!)) / q(times[0]!)) * 100).toFixed(1)}%`;
      // each B batch against the A batch next to it: the load of that moment falls on both
      const pairs = times[1]!.map((b, i) => b / times[0]![i]!);
      const paired = `${((quantile(pairs, 0.5) - 1) * 100).toFixed(1)}%`;
      delta = `   B-A: min ${change((t) => Math.min(...t))}, p25 ${change((t) => quantile(t, 0.25))}, paired median ${paired}`;
    }
    console.log(`${row.name.padEnd(24)} ${line}${delta}`);
    for (const plugin of plugins) await plugin.close();
  }
}

await main();
