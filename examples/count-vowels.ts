// The seed guide's first steps in TypeScript: load a plug-in, call an export, and watch
// the plug-in keep a running total between calls.
//   node build/examples/count-vowels.js
import { fileURLToPath } from 'node:url';
import createPlugin from '../src/index.js';

// Built next to this file by scripts/build.mjs: build/examples/ -> build/plugins/.
const wasm = fileURLToPath(new URL('../plugins/count-vowels.wasm', import.meta.url));

// Unlike the guide's Rust plug-in, ours needs no WASI, so none is granted.
const plugin = await createPlugin({ wasm: [{ path: wasm }] });
try {
  for (let i = 0; i < 3; i++) {
    const output = await plugin.call('count_vowels', 'Hello, World!');
    console.log(output?.text());
  }
} finally {
  await plugin.close();
}
