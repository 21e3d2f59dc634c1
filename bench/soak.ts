// `npm run bench -- --soak`: 1,000,000 small vowel-count calls on one plughost plug-in, the
// heap sampled along the way. The heap is flat when, after 1,000,000 calls, it is within
// 10% of what it was after the first 10,000.
import { mergesKernel } from '../src/internal/kernel/placement.js';
import { nodePlatform } from '../src/internal/platform/node/index.js';
import { formatBytes, formatTime, memorySnapshot } from './harness.js';
import { plughost, pluginFile } from './hosts.js';
import { COUNT_VOWELS_OPTIONS, inputs } from './scenarios.js';

const CALLS = 1_000_000;
const BASELINE_AT = 10_000;
const REPORT_EVERY = 100_000;
const TOLERANCE = 0.1;

export async function soak(out: (line: string) => void): Promise<boolean> {
  const plugin = await plughost.create({ wasm: [{ path: pluginFile('count-vowels') }] }, COUNT_VOWELS_OPTIONS);
  const placement = mergesKernel(nodePlatform) ? 'the kernel merged into the plug-in' : 'the kernel in an instance of its own';
  out(
    `soak: ${CALLS.toLocaleString('en-US')} calls of count_vowels("${new TextDecoder().decode(inputs.small)}") on one plughost plug-in, ${placement}, Node ${process.version}`,
  );
  let baseline = 0;
  let last = 0;
  const start = performance.now();
  let mark = start;
  for (let i = 1; i <= CALLS; i++) {
    await plugin.call('count_vowels', inputs.small);
    if (i === BASELINE_AT || i % REPORT_EVERY === 0) {
      const now = performance.now();
      const { heapUsed, rss } = memorySnapshot();
      if (i === BASELINE_AT) baseline = heapUsed;
      last = heapUsed;
      const per = (now - mark) / (i === BASELINE_AT ? BASELINE_AT : i === REPORT_EVERY ? REPORT_EVERY - BASELINE_AT : REPORT_EVERY);
      out(`  after ${i.toLocaleString('en-US').padStart(9)} calls: heap ${formatBytes(heapUsed)}, RSS ${formatBytes(rss)}, ${formatTime(per)}/call`);
      mark = performance.now();
    }
  }
  await plugin.close();
  const growth = last / baseline - 1;
  const flat = Math.abs(growth) <= TOLERANCE;
  out(
    `heap after ${CALLS.toLocaleString('en-US')} calls vs after ${BASELINE_AT.toLocaleString('en-US')}: ${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)}% (target within ±${TOLERANCE * 100}%): ${flat ? 'flat' : 'GROWS'}; ${((performance.now() - start) / 1000).toFixed(1)} s in all`,
  );
  return flat;
}
