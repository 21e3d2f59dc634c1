// `node build/bench/create-module.js [batches] [size]`: creation + close of count-vowels from a
// `WebAssembly.Module`, plughost against the peer against a bare `new WebAssembly.Instance`
// with stub imports (the floor), batches alternating in one process so that drift and load
// touch all three alike. Also the two other creation paths of plughost: bytes seen before,
// and a module plughost compiled itself (looked up by its bytes). Prints min and p25 of the
// per-creation time of each batch.
import { createPlugin } from '../src/index.js';
import { stubInstantiate } from './floor.js';
import { formatTable, formatTime } from './harness.js';
import { loadPeer, pluginFile, wasmBytes } from './hosts.js';
import { COUNT_VOWELS_OPTIONS } from './scenarios.js';

const BATCHES = Number(process.argv[2] ?? 40);
const SIZE = Number(process.argv[3] ?? 50);
const WARM_UP_BATCHES = 4;

type Create = () => unknown;

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function main(): Promise<void> {
  const bytes = wasmBytes(pluginFile('count-vowels'));
  const userModule = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  const peer = await loadPeer();
  // a module from plughost's own compile cache: what compilePlugin made of the bytes
  const cachedModule = await cacheModuleOf(bytes);
  const bare = stubInstantiate(userModule);

  const cases: [string, Create][] = [
    ['plughost, user Module', () => createPlugin({ wasm: [{ module: userModule }] }, COUNT_VOWELS_OPTIONS).then((p) => p.close())],
    ['peer, user Module', () => peer.create({ wasm: [{ module: userModule }] }, COUNT_VOWELS_OPTIONS).then((p) => p.close())],
    ['bare Instance', bare],
    ['plughost, bytes seen before', () => createPlugin({ wasm: [{ data: bytes }] }, COUNT_VOWELS_OPTIONS).then((p) => p.close())],
    ['plughost, Module it compiled', () => createPlugin({ wasm: [{ module: cachedModule }] }, COUNT_VOWELS_OPTIONS).then((p) => p.close())],
  ];
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

/** The module plughost's compile cache holds for `bytes`, as the loader hands it out. */
async function cacheModuleOf(bytes: Uint8Array): Promise<WebAssembly.Module> {
  const { loadModules } = await import('../src/internal/module-loader.js');
  const { nodePlatform } = await import('../src/internal/platform/node/index.js');
  const { mergesKernel } = await import('../src/internal/kernel/placement.js');
  const { normalizeManifest } = await import('../src/manifest.js');
  const manifest = normalizeManifest({ wasm: [{ data: bytes }] });
  const loaded = await loadModules(
    nodePlatform,
    manifest,
    { maxPages: undefined, instrument: false, mergeKernel: mergesKernel(nodePlatform) },
    fetch,
    Infinity,
  );
  return loaded[0]!.module;
}

await main();
