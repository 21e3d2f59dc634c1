// `npm run bench -- --workers`: a small call on a plug-in created with `runInWorker: true`,
// plughost against the peer. Not one of the scenarios (those run on the main thread),
// so not in the geometric mean. Each host runs in a child process of its own, so that a
// host that fails or crashes after many calls cannot take the benchmark down with it.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { formatTime } from './harness.js';
import { type Host, loadPeer, plughost, pluginFile } from './hosts.js';
import { COUNT_VOWELS_OPTIONS, inputs } from './scenarios.js';

/** Calls timed per host: the peer's worker calls take milliseconds each. */
const CALLS = { plughost: 5000, peer: 200 } as const;
const WARM_UP = 20;

interface ChildResult {
  perCall?: number;
  calls: number;
  error?: string;
}

/** In the child: create the plug-in in a worker, warm up, time `calls` calls. */
async function measure(host: Host, calls: number): Promise<ChildResult> {
  const plugin = await host.create({ wasm: [{ path: pluginFile('count-vowels') }] }, { ...COUNT_VOWELS_OPTIONS, runInWorker: true });
  let done = 0;
  try {
    for (let i = 0; i < WARM_UP; i++) await plugin.call('count_vowels', inputs.small);
    const start = performance.now();
    for (; done < calls; done++) await plugin.call('count_vowels', inputs.small);
    return { perCall: (performance.now() - start) / calls, calls };
  } catch (err) {
    return { calls: done, error: (err as Error).message };
  } finally {
    await plugin.close();
  }
}

/** In the parent: each host in its own process, then the two side by side. */
export function workerMode(out: (line: string) => void): void {
  out('runInWorker: true, vowel count of 13 bytes, one call at a time (each host in a process of its own)');
  const results: Record<string, ChildResult> = {};
  for (const name of ['plughost', 'peer'] as const) {
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), name, String(CALLS[name])], { encoding: 'utf8', timeout: 120_000 });
    const last = child.stdout.trim().split('\n').at(-1) ?? '';
    let result: ChildResult;
    try {
      result = JSON.parse(last) as ChildResult;
    } catch {
      result = { calls: 0, error: `the process ended (status ${child.status}, signal ${child.signal}): ${child.stderr.trim().split('\n').at(-1) ?? ''}` };
    }
    results[name] = result;
    const what =
      result.perCall === undefined
        ? `failed after ${result.calls} calls: ${result.error}`
        : `${formatTime(result.perCall)} per call over ${result.calls} calls`;
    out(`  ${name.padEnd(9)} ${what}`);
  }
  const ours = results.plughost?.perCall;
  const theirs = results.peer?.perCall;
  if (ours !== undefined && theirs !== undefined) out(`  ratio peer/plughost: ${(theirs / ours).toFixed(0)}x`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [name, calls] = process.argv.slice(2);
  const host = name === 'peer' ? await loadPeer() : plughost;
  process.stdout.write(`${JSON.stringify(await measure(host, Number(calls)))}\n`);
}
