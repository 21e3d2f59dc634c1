// `node build/bench/create-module.js [batches] [size] [--base <dir>]`: create + close of
// count-vowels, batches alternating in one process so that drift and load touch every path
// alike: plughost from a `WebAssembly.Module` the user compiled, the peer from the same
// module, a bare `new WebAssembly.Instance` of it with stub imports (the floor), and plughost's
// two other paths (bytes seen before; a module plughost compiled itself, looked up by its
// bytes). `--base` adds plughost's three paths from another checkout's build (`<dir>/build`),
// for before/after figures. Prints min, p25 and median of the per-creation time of the batches.
import { stubInstantiate } from './floor.js';
import { formatTable, formatTime } from './harness.js';
import { loadPeer, pluginFile, wasmBytes } from './hosts.js';
import { COUNT_VOWELS_OPTIONS } from './scenarios.js';

const args = process.argv.slice(2);
const baseAt = args.indexOf('--base');
const baseDir = baseAt === -1 ? undefined : args.splice(baseAt, 2)[1];
const BATCHES = Number(args[0] ?? 40);
const SIZE = Number(args[1] ?? 50);
const WARM_UP_BATCHES = 4;

type Create = () => unknown;

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** plughost's three creation paths, from the build whose `src` folder is at `src` (a URL ending in /). */
async function plughostPaths(src: URL, label: string, bytes: Uint8Array, userModule: WebAssembly.Module): Promise<[string, Create][]> {
  const { createPlugin } = await import(new URL('index.js', src).href);
  const { loadModules } = await import(new URL('internal/module-loader.js', src).href);
  const { nodePlatform } = await import(new URL('internal/platform/node/index.js', src).href);
  const { mergesKernel } = await import(new URL('internal/kernel/placement.js', src).href);
  const { normalizeManifest } = await import(new URL('manifest.js', src).href);
  // the module that build's compile cache holds for the bytes, as its loader hands it out
  const variant = { maxPages: undefined, instrument: false, mergeKernel: mergesKernel(nodePlatform) };
  const [cached] = await loadModules(nodePlatform, normalizeManifest({ wasm: [{ data: bytes }] }), variant, fetch, Number.POSITIVE_INFINITY);
  const create = (manifest: unknown) => () => createPlugin(manifest, COUNT_VOWELS_OPTIONS).then((plugin: { close(): Promise<void> }) => plugin.close());
  return [
    [`plughost${label}, user Module`, create({ wasm: [{ module: userModule }] })],
    [`plughost${label}, bytes seen before`, create({ wasm: [{ data: bytes }] })],
    [`plughost${label}, Module it compiled`, create({ wasm: [{ module: cached.module }] })],
  ];
}

async function main(): Promise<void> {
  const bytes = wasmBytes(pluginFile('count-vowels'));
  const userModule = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  const peer = await loadPeer();
  const cases: [string, Create][] = [
    ...(await plughostPaths(new URL('../src/', import.meta.url), '', bytes, userModule)),
    ['peer, user Module', () => peer.create({ wasm: [{ module: userModule }] }, COUNT_VOWELS_OPTIONS).then((p) => p.close())],
    ['bare Instance', stubInstantiate(userModule)],
  ];
  if (baseDir !== undefined) cases.push(...(await plughostPaths(new URL(`file://${baseDir.replace(/\/?$/, '/')}build/src/`), ' (base)', bytes, userModule)));
  const samples = cases.map(() => [] as number[]);
  for (let batch = 0; batch < WARM_UP_BATCHES + BATCHES; batch++) {
    for (let c = 0; c < cases.length; c++) {
      const create = cases[c]![1];
      const start = performance.now();
      for (let i = 0; i < SIZE; i++) {
        const made = create();
        if (made instanceof Promise) await made;
      }
      if (batch >= WARM_UP_BATCHES) samples[c]!.push((performance.now() - start) / SIZE);
    }
  }
  const rows = cases.map(([name], c) => {
    const sorted = samples[c]!.sort((a, b) => a - b);
    return [name, formatTime(sorted[0]!), formatTime(quantile(sorted, 0.25)), formatTime(quantile(sorted, 0.5))];
  });
  console.log(`create + close of count-vowels, Node ${process.version}, ${BATCHES} batches of ${SIZE} each, alternating`);
  console.log(formatTable(['path', 'min', 'p25', 'median'], rows));
}

await main();
