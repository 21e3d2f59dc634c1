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

  it('a module with more loops or calls than instrumentation can hold in bounded memory is refused with a MemoryLimitError naming both numbers, and runs without timeoutMs (in a bounded child)', async () => {
    const library = new URL('../../src/index.js', import.meta.url).href;
    // "loops": one body of 2,000,001 empty loops (6 MB); "calls": three bodies of 1,333,334
    // calls each (8 MB; with each body's end, 4,000,005 places). Both compile in V8; instrumenting them kept an object per loop and
    // four numbers per place, and at 80 MB such a module ended the host process.
    const script = `
      const { createPlugin } = await import(${JSON.stringify(library)});
      const leb = (n) => { const out = []; do { let b = n & 0x7f; n >>>= 7; if (n !== 0) b |= 0x80; out.push(b); } while (n !== 0); return out; };
      const section = (id, body) => [id, ...leb(body.length), ...body];
      function moduleOf(bodies) {
        const code = [];
        for (const body of bodies) code.push(leb(body.length + 2), Uint8Array.of(0), body, Uint8Array.of(0x0b));
        const parts = [
          Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0),
          Uint8Array.from(section(1, [1, 0x60, 0, 0])),
          Uint8Array.from(section(3, [...leb(bodies.length), ...bodies.map(() => 0)])),
          Uint8Array.from(section(7, [1, 3, 0x72, 0x75, 0x6e, 0, 0])),
          Uint8Array.from([10, ...leb(code.reduce((n, c) => n + c.length, 0) + leb(bodies.length).length), ...leb(bodies.length)]),
          ...code.map((c) => Uint8Array.from(c)),
        ];
        const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let at = 0;
        for (const p of parts) { bytes.set(p, at); at += p.length; }
        return bytes;
      }
      const repeat = (unit, times) => { const out = new Uint8Array(unit.length * times); for (let i = 0; i < times; i++) out.set(unit, i * unit.length); return out; };
      const cases = {
        loops: [moduleOf([repeat([0x03, 0x40, 0x0b], 2_000_001)]), /2000001 loops or more, above the 2000000/],
        calls: [moduleOf([0, 1, 2].map(() => repeat([0x10, 0x00], 1_333_334))), /4000005 places to instrument .*, above the 4000000/],
      };
      for (const [name, [wasm, message]] of Object.entries(cases)) {
        for (const options of [{ timeoutMs: 1000 }, { fuel: 1000 }]) {
          globalThis.gc();
          try {
            await createPlugin(wasm, options);
            console.log(name, 'created');
          } catch (err) {
            console.log(name, err.code, message.test(err.message) ? 'named' : err.message);
          }
        }
        const plain = await createPlugin(wasm);
        await plain.close();
        console.log(name, 'plain created');
      }
    `;
    const run = await runBounded(script, { timeoutMs: 120_000, maxRssMb: 1024, execArgv: ['--expose-gc'] });
    assert.equal(
      run.stdout,
      [
        'loops PLUGHOST_MEMORY_LIMIT named',
        'loops PLUGHOST_MEMORY_LIMIT named',
        'loops plain created',
        'calls PLUGHOST_MEMORY_LIMIT named',
        'calls PLUGHOST_MEMORY_LIMIT named',
        'calls plain created',
        '',
      ].join('\n'),
    );
  });
});
