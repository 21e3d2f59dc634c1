// `npm run bench -- --startup`: what a fresh process pays before its first result, plughost
// (the package as shipped, dist/bundle/, imported by its name) against the peer. Each sample
// is a new process: importing the package, then creating a plug-in and making its first
// call, on the main thread and with `runInWorker: true`. Medians of a few processes per host,
// taking turns. Not one of the scenarios, so not in the geometric mean.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { formatTime, median } from './harness.js';
import { pluginFile } from './hosts.js';
import { COUNT_VOWELS_OPTIONS } from './scenarios.js';

const PROCESSES = 7;
const SPECIFIERS = { plughost: 'plughost', peer: '@extism/extism' } as const;
type HostName = keyof typeof SPECIFIERS;

interface Sample {
  importMs: number;
  mainThreadMs: number;
  workerMs: number;
}

interface StartupApi {
  createPlugin(manifest: unknown, options: unknown): Promise<{ call(name: string, input: string): Promise<unknown>; close(): Promise<void> }>;
}

/** In the child: each step timed once, in order. */
async function measure(host: HostName): Promise<Sample> {
  const firstResult = async (api: StartupApi, runInWorker: boolean) => {
    const start = performance.now();
    const plugin = await api.createPlugin({ wasm: [{ path: pluginFile('count-vowels') }] }, { ...COUNT_VOWELS_OPTIONS, runInWorker });
    await plugin.call('count_vowels', 'Hello, World!');
    const elapsed = performance.now() - start;
    await plugin.close();
    return elapsed;
  };
  const start = performance.now();
  const api = (await import(SPECIFIERS[host])) as StartupApi;
  const importMs = performance.now() - start;
  const mainThreadMs = await firstResult(api, false);
  const workerMs = await firstResult(api, true);
  return { importMs, mainThreadMs, workerMs };
}

/** In the parent: processes of both hosts taking turns, then medians side by side. */
export function startup(out: (line: string) => void): void {
  out(`startup: a new process per sample, medians of ${PROCESSES} per host (plughost as shipped: dist/bundle/)`);
  const samples: Record<HostName, Sample[]> = { plughost: [], peer: [] };
  for (let i = 0; i < PROCESSES; i++) {
    for (const host of ['plughost', 'peer'] as const) {
      // --no-warnings: the peer imports node:wasi, which warns on stderr
      const child = spawnSync(process.execPath, ['--no-warnings', fileURLToPath(import.meta.url), host], { encoding: 'utf8', timeout: 60_000 });
      const last = child.stdout.trim().split('\n').at(-1) ?? '';
      if (child.status !== 0) throw new Error(`${host}'s startup process failed: ${child.stderr.trim()}`);
      samples[host].push(JSON.parse(last) as Sample);
    }
  }
  const rows: [string, keyof Sample][] = [
    ['import the package', 'importMs'],
    ['create + first call, main thread', 'mainThreadMs'],
    ['create + first call, runInWorker', 'workerMs'],
  ];
  out(`  ${''.padEnd(34)} ${'peer'.padStart(9)} ${'plughost'.padStart(9)}  ratio`);
  for (const [label, key] of rows) {
    const peer = median(samples.peer.map((s) => s[key]));
    const ours = median(samples.plughost.map((s) => s[key]));
    out(`  ${label.padEnd(34)} ${formatTime(peer).padStart(9)} ${formatTime(ours).padStart(9)}  ${(peer / ours).toFixed(2)}x`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const host = process.argv[2] === 'peer' ? 'peer' : 'plughost';
  process.stdout.write(`${JSON.stringify(await measure(host))}\n`);
}
