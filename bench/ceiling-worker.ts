// One thread of the pool's ceiling (see pool.ts): a plug-in created inside this worker, called
// synchronously in a loop, with no other thread involved. It warms up, says 'ready', and counts
// its calls for `ms` once told 'go' (so that the threads measured together run together); it
// reports its calls per second and its own CPU time per call (undefined without a thread clock).
import { parentPort, workerData } from 'node:worker_threads';
import { createPlugin } from '../src/index.js';
import { threadCpuClock } from './cpu.js';
import { pluginFile } from './hosts.js';
import type { PoolWorkload } from './pool.js';
import { COUNT_VOWELS_OPTIONS, inputs } from './scenarios.js';

const { ms, workload } = workerData as { ms: number; workload: PoolWorkload };
const input = workload === 'small' || workload === 'smallBusy' ? inputs.small : inputs.mib;
const port = parentPort!;
const plugin = await createPlugin(pluginFile('count-vowels'), COUNT_VOWELS_OPTIONS);
for (let i = 0; i < 100; i++) plugin.callSync('count_vowels', input);
const clock = threadCpuClock();
port.once('message', () => {
  let done = 0;
  const start = performance.now();
  const cpuStart = clock?.now();
  while (performance.now() - start < ms) {
    plugin.callSync('count_vowels', input);
    done++;
  }
  const cpuPerCall = clock === undefined || cpuStart === undefined ? undefined : (clock.now() - cpuStart) / done;
  port.postMessage({ rate: done / ((performance.now() - start) / 1000), cpuPerCall });
  void plugin.close();
});
port.postMessage('ready');
