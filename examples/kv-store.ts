// Host functions, as in the seed guide: the plug-in keeps its running total in a
// key-value store that only the host can reach, through kv_read and kv_write.
//   node build/examples/kv-store.js
import { fileURLToPath } from 'node:url';
import createPlugin, { type CallContext } from '../src/index.js';

const wasm = fileURLToPath(new URL('../plugins/count-vowels-kvstore.wasm', import.meta.url));

// Pretend this is Redis or something :)
const kvStore = new Map<string, Uint8Array>();

// The plug-in stores its total as a 4-byte little-endian u32.
function asU32(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
}

// Handles are opaque: hosts may pass them as number or bigint, so they go straight back
// to the CallContext untouched.
type Handle = number | bigint;

const plugin = await createPlugin(
  { wasm: [{ path: wasm }] },
  {
    functions: {
      'extism:host/user': {
        kv_read(callContext: CallContext, keyHandle: Handle) {
          const key = callContext.read(keyHandle)?.text() ?? '';
          const value = kvStore.get(key) ?? new Uint8Array(4);
          console.log(`Read ${asU32(value)} from key=${key}`);
          return callContext.store(value);
        },
        kv_write(callContext: CallContext, keyHandle: Handle, valueHandle: Handle) {
          const key = callContext.read(keyHandle)?.text() ?? '';
          // A copy: the store must not share memory the host may reuse after the call.
          const value = (callContext.read(valueHandle)?.bytes() ?? new Uint8Array(4)).slice();
          console.log(`Writing value=${asU32(value)} from key=${key}`);
          kvStore.set(key, value);
        },
      },
    },
  },
);
try {
  for (let i = 0; i < 2; i++) {
    const output = await plugin.call('count_vowels', 'Hello, World!');
    console.log(output?.text());
  }
} finally {
  await plugin.close();
}
