// Configuration, as in the seed guide: the manifest's `config` changes which characters
// the count-vowels plug-in treats as vowels.
//   node build/examples/config.js
import { fileURLToPath } from 'node:url';
import createPlugin from '../src/index.js';

const wasm = fileURLToPath(new URL('../plugins/count-vowels.wasm', import.meta.url));

const plugin = await createPlugin({
  wasm: [{ path: wasm }],
  config: { vowels: 'aeiouyAEIOUY' },
});
try {
  const output = await plugin.call('count_vowels', 'Yellow, World!');
  console.log(output?.text());
} finally {
  await plugin.close();
}
