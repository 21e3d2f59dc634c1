// Modules shaped to exhaust the host while it loads them rather than while they run: padded up
// to maxWasmBytes with a custom section (no code, so nothing in V8 refuses them), nested deep,
// with more functions or exports than anyone writes. Compiled modules are cached by content,
// so a host that loads many hostile modules one after the other (a service running its users'
// plug-ins) must not keep them all.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runBounded } from '../helpers.js';

const MIB = 1024 * 1024;

describe('modules shaped against the loader', () => {
  it('the compiled-module cache keeps a bounded number of bytes: 16 distinct 32 MiB modules, each created and closed, are not all held (in a bounded child)', async () => {
    const library = new URL('../../src/index.js', import.meta.url).href;
    // Each module: one empty export and a custom section of 32 MiB, distinct per module.
    // Before the bound, the cache kept every one of them twice (the bytes and V8's copy): the
    // resident set grew by 64 MiB a module, past 1 GiB.
    const script = `
      const { createPlugin } = await import(${JSON.stringify(library)});
      const head = Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
        1, 4, 1, 0x60, 0, 0,
        3, 2, 1, 0,
        7, 7, 1, 3, 0x72, 0x75, 0x6e, 0, 0,
        10, 4, 1, 2, 0, 0x0b]);
      const pad = ${32 * MIB};
      const leb = (n) => { const out = []; do { let b = n & 0x7f; n >>>= 7; if (n !== 0) b |= 0x80; out.push(b); } while (n !== 0); return out; };
      const customHead = Uint8Array.from([0, ...leb(pad + 4), 3, 0x70, 0x61, 0x64]);
      for (let i = 0; i < 16; i++) {
        const bytes = new Uint8Array(head.length + customHead.length + pad);
        bytes.set(head);
        bytes.set(customHead, head.length);
        new DataView(bytes.buffer).setUint32(head.length + customHead.length, i, true);
        const plugin = await createPlugin({ wasm: [{ data: bytes }] }, { timeoutMs: 5000 });
        await plugin.call('run');
        await plugin.close();
        globalThis.gc();
      }
      console.log('done');
    `;
    const run = await runBounded(script, { timeoutMs: 120_000, maxRssMb: 768, execArgv: ['--expose-gc'] });
    assert.match(run.stdout, /done/);
  });
});
