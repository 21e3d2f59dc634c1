// One thread of the pool's ceiling (see pool.ts): a plug-in created inside this worker, called
// synchronously in a loop, with no other thread involved. It warms up, says 'ready', and counts
// its calls for `ms` once told 'go' (so that the threads measured together run together).
import { parentPort, workerData } from 'node:worker_threads';
import { createPlugin } from '../src/index.js';
import { pluginFile } from './hosts.js';
import { COUNT_VOWELS_OPTIONS, inputs } from './scenarios.js';

const { ms } = workerData as { ms: number };
const port = parentPort!;
const plugin = await createPlugin(pluginFile('count-vowels'), COUNT_VOWELS_OPTIONS);
for (let i = 0; i < 100; i++) plugin.callSync('count_vowels', inputs.mib);
port.once('message', () => {
  let done = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    plugin.callSync('count_vowels', inputs.mib);
    done++;
  }
  port.postMessage(done / ((performance.now() - start) / 1000));
  void plugin.close();
});
port.postMessage('ready');
