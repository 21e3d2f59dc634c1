// Limits that hold: timeouts, cancellation, memory caps and fuel, in every mode.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { createPlugin, type ManifestError, type PluginOptions } from '../src/index.js';
import { DEFAULT_MAX_WASM_BYTES } from '../src/internal/load-bytes.js';
import { loadModules } from '../src/internal/module-loader.js';
import { nodePlatform } from '../src/internal/platform/node/index.js';
import { normalizeManifest } from '../src/manifest.js';
import { assemble, fixturePath, libraryUrl, runBounded } from './helpers.js';

const MODES: { name: string; options: PluginOptions }[] = [
  { name: 'on the main thread', options: {} },
  { name: 'in a worker', options: { runInWorker: true } },
];

/** WAT: imports and `$out`, which makes its i64 argument the call's output (8 bytes, little-endian). */
const OUTPUT_U64 = `(import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func $out (param $v i64) (local $h i64)
    (local.set $h (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $h) (local.get $v))
    (call $output_set (local.get $h) (i64.const 8)))`;
const u64 = (out: { getBigUint64(o: number, le: boolean): bigint } | null) => out?.getBigUint64(0, true);

/**
 * Runs `work` and returns how long it took, in ms. A rejection of `work` (a failed
 * assertion inside it) propagates: this helper must never turn a failure into a pass.
 */
export async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

/**
 * How late past its deadline an interrupted call may end and still pass. Generous on
 * purpose: a loaded CI machine stalls for hundreds of ms, and what this catches is a
 * deadline that was missed (a call that ends only when the work does), not a slow one.
 */
const LATE_MS = 5000;

for (const mode of MODES) {
  describe(`limits ${mode.name}`, () => {
    const timeouts: [string, string, PluginOptions][] = [
      ['an endless loop with no imports', 'spin', {}],
      ['deep recursion', 'recurse', {}],
    ];
    for (const [what, fn] of timeouts) {
      it(`stop ${what} with a TimeoutError soon after the deadline, and the plug-in works again`, async () => {
        const plugin = await createPlugin(fixturePath('limits'), { ...mode.options, timeoutMs: 100 });
        try {
          assert.equal(u64(await plugin.call('ping')), 1n);
          const took = await timed(() =>
            assert.rejects(plugin.call(fn), (err: Error & { code: string; timeoutMs: number; functionName: string }) => {
              assert.equal(err.code, 'PLUGHOST_TIMEOUT');
              assert.equal(err.name, 'TimeoutError');
              assert.equal(err.timeoutMs, 100);
              assert.equal(err.functionName, fn);
              return true;
            }),
          );
          // never before the deadline, and not long after it
          assert.ok(took >= 99 && took < 100 + LATE_MS, `took ${took} ms`);
          // re-instantiated: its state started afresh, and it answers
          assert.equal(u64(await plugin.call('ping')), 1n);
        } finally {
          await plugin.close();
        }
      });
    }

    it('take the timeout from the manifest too', async () => {
      const plugin = await createPlugin({ wasm: [{ path: fixturePath('limits') }], timeout_ms: 50 }, mode.options);
      await assert.rejects(plugin.call('spin'), { code: 'PLUGHOST_TIMEOUT' });
      await plugin.close();
    });

    it('stop a WASI guest sleeping in poll_oneoff at the deadline', async () => {
      const plugin = await createPlugin(fixturePath('sleep'), { ...mode.options, useWasi: true, timeoutMs: 100 });
      const took = await timed(() => assert.rejects(plugin.call('sleep'), { code: 'PLUGHOST_TIMEOUT' }));
      assert.ok(took >= 99 && took < 100 + LATE_MS, `took ${took} ms`);
      await plugin.close();
    });

    // Work inside one WASI call, where the guest's own checks cannot run: 256 MiB of random
    // bytes take most of a second, 1 GiB several.
    it('stop a WASI random_get over a large memory at the deadline, before it returns', async () => {
      const wasm = await assemble(`(module
        (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
        (import "env" "returned" (func $returned))
        (memory (export "memory") 4096)
        (func (export "fill") (result i32)
          (drop (call $random_get (i32.const 0) (i32.const ${256 << 20})))
          (call $returned)
          (i32.const 0)))`);
      let returned = false;
      const plugin = await createPlugin(wasm, {
        ...mode.options,
        useWasi: true,
        timeoutMs: 100,
        functions: { env: { returned: () => void (returned = true) } },
      });
      try {
        await assert.rejects(plugin.call('fill'), { code: 'PLUGHOST_TIMEOUT' });
        assert.equal(returned, false, 'random_get ran to its end past the deadline');
      } finally {
        await plugin.close();
      }
    });

    it('bound initialization by the timeout', async () => {
      const wasm = await assemble(`(module (func (export "_initialize") (loop $l (br $l))) (func (export "f")))`);
      await assert.rejects(createPlugin(wasm, { ...mode.options, timeoutMs: 50 }), { code: 'PLUGHOST_TIMEOUT' });
    });

    it('stop a call whose AbortSignal is already aborted', async () => {
      const plugin = await createPlugin(fixturePath('limits'), mode.options);
      const controller = new AbortController();
      controller.abort(new Error('no longer needed'));
      await assert.rejects(plugin.call('ping', '', undefined, { signal: controller.signal }), { code: 'PLUGHOST_ABORTED', name: 'AbortError' });
      assert.equal(u64(await plugin.call('ping')), 1n);
      await plugin.close();
    });

    it('forget an aborted signal with the call it failed: the next call runs its ticks to the end', async () => {
      const plugin = await createPlugin(fixturePath('limits'), { ...mode.options, timeoutMs: 60_000 });
      const controller = new AbortController();
      controller.abort();
      await assert.rejects(plugin.call('ping', '', undefined, { signal: controller.signal }), { code: 'PLUGHOST_ABORTED' });
      // millions of iterations: the guest's budget runs out, and each tick looks at the call's signal
      const input = new Uint8Array(4 << 20).fill(1);
      assert.equal(u64(await plugin.call('count', input)), BigInt(input.length));
      await plugin.close();
    });

    it('stop a running call when its AbortSignal fires (from a host function here)', async () => {
      const controller = new AbortController();
      const wasm = await assemble(`(module (import "extism:host/user" "give_up" (func $give_up))
        (func (export "run") (call $give_up) (loop $l (br $l))))`);
      const plugin = await createPlugin(wasm, { ...mode.options, timeoutMs: 10_000, functions: { 'extism:host/user': { give_up: () => controller.abort() } } });
      await assert.rejects(plugin.call('run', '', undefined, { signal: controller.signal }), { code: 'PLUGHOST_ABORTED' });
      await plugin.close();
    });

    it('cap linear memory at maxPages: memory.grow past it fails in the guest', async () => {
      const plugin = await createPlugin(fixturePath('limits'), { ...mode.options, memory: { maxPages: 5 } });
      assert.equal(u64(await plugin.call('grow')), 5n);
      await plugin.close();
      const manifestCapped = await createPlugin({ wasm: [{ path: fixturePath('limits') }], memory: { max_pages: 3 } }, mode.options);
      assert.equal(u64(await manifestCapped.call('grow')), 3n);
      await manifestCapped.close();
    });

    it('refuse a module whose initial memory exceeds maxPages, naming both numbers', async () => {
      const wasm = await assemble(`(module (memory 10) (func (export "f")))`);
      await assert.rejects(createPlugin(wasm, { ...mode.options, memory: { maxPages: 4 } }), (err: Error & { code: string }) => {
        assert.equal(err.code, 'PLUGHOST_MEMORY_LIMIT');
        assert.match(err.message, /10 pages/);
        assert.match(err.message, /maxPages 4/);
        return true;
      });
    });

    it('cap every memory of a module with several (multi-memory): all together hold maxPages at most', async (t) => {
      // A second memory grown past maxPages, then written at its far end: on an engine with
      // multi-memory (Node 22+, Deno, Bun, browsers) this took 2001 pages under a cap of 16.
      const wasm = await assemble(
        `(module ${OUTPUT_U64} (memory 1) (memory $big 1)
          (func (export "grow") (call $out (i64.extend_i32_s (memory.grow $big (i32.const 2000)))))
          (func (export "grow_all")
            (block $full (loop $more
              (br_if $full (i32.lt_s (memory.grow $big (i32.const 1)) (i32.const 0)))
              (br $more)))
            (block $full (loop $more
              (br_if $full (i32.lt_s (memory.grow (i32.const 1)) (i32.const 0)))
              (br $more)))
            (call $out (i64.extend_i32_u (i32.add (memory.size) (memory.size $big))))))`,
        { multiMemory: true },
      );
      if (!WebAssembly.validate(wasm as Uint8Array<ArrayBuffer>)) return t.skip('this engine has no multi-memory');
      const plugin = await createPlugin(wasm, { ...mode.options, memory: { maxPages: 16 } });
      try {
        assert.equal(u64(await plugin.call('grow')), 0xffff_ffff_ffff_ffffn, 'memory.grow past the share returns -1');
        assert.equal(u64(await plugin.call('grow_all')), 16n, 'both memories grown as far as they go: 16 pages in all');
      } finally {
        await plugin.close();
      }
      await assert.rejects(createPlugin(wasm, { ...mode.options, memory: { maxPages: 1 } }), {
        code: 'PLUGHOST_MEMORY_LIMIT',
        message: "module's 2 memories start at 2 pages in all, above memory.maxPages 1",
      });
    });

    it('cap the tables: many huge tables are refused at creation, and table.grow fails past the share', async () => {
      // Five tables of 10,000,000 elements: 72 bytes of module, ~1.3 GB of host memory at
      // instantiation. Without maxPages the tables may hold 10,000,000 elements in all.
      const huge = await assemble(`(module ${'(table 10000000 funcref) '.repeat(5)} (func (export "f")))`);
      for (const options of [mode.options, { ...mode.options, memory: { maxPages: 16 } }]) {
        await assert.rejects(createPlugin(huge, options), (err: Error & { code: string }) => {
          assert.equal(err.code, 'PLUGHOST_MEMORY_LIMIT');
          assert.match(err.message, /^module's tables start with 50000000 elements in all, above /);
          return true;
        });
      }
      const growing = await assemble(`(module ${OUTPUT_U64} (table $a 1 funcref) (table $b 1 funcref)
        (func (export "grow")
          (call $out (i64.extend_i32_s (table.grow $b (ref.null func) (i32.const 1000000)))))
        (func (export "size")
          (drop (table.grow $a (ref.null func) (i32.const 1023)))
          (drop (table.grow $b (ref.null func) (i32.const 1023)))
          (call $out (i64.extend_i32_u (i32.add (table.size $a) (table.size $b))))))`);
      // maxPages 1: 65,536 bytes at 32 a table element, 2,048 elements shared by the two tables
      const plugin = await createPlugin(growing, { ...mode.options, memory: { maxPages: 1 } });
      try {
        assert.equal(u64(await plugin.call('grow')), 0xffff_ffff_ffff_ffffn, 'table.grow past the share returns -1');
        assert.equal(u64(await plugin.call('size')), 2048n);
      } finally {
        await plugin.close();
      }
    });

    it('refuse a module that keeps exceptions in a table or a global (their payloads would live past every limit)', async () => {
      // A 19 KB module holding 20,000 caught exceptions of 1,000 v128 values in an exnref table
      // took 1.2 GiB of the host's heap on Node 26; a table of them is refused at creation.
      const header = [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0];
      for (const [what, section] of [
        ['a table', [4, 4, 1, 0x69, 0, 1]],
        ['a global', [6, 7, 1, 0x63, 0x69, 1, 0xd0, 0x69, 0x0b]],
      ] as const) {
        await assert.rejects(createPlugin(new Uint8Array([...header, ...section]), mode.options), (err: Error & { code: string }) => {
          assert.equal(err.code, 'PLUGHOST_WASM_SOURCE');
          assert.match(err.message, new RegExp(`${what} holds exception references \\(exnref\\)`));
          return true;
        });
      }
    });

    it('bound initialization by fuel too: an endless start function, _initialize or constructor fails with FuelExhaustedError', async () => {
      // A start function runs inside the instantiation, where no budget could be refilled: it
      // ran unbounded under `fuel` alone (the process hung), so the guests run in a bounded
      // child. The start function is deferred now, and charged like the initializers.
      const endless = '(loop $l (br $l))';
      const guests = await Promise.all(
        [
          `(module (func $s ${endless}) (start $s) (func (export "f")))`,
          `(module (func (export "_initialize") ${endless}) (func (export "f")))`,
          `(module (func (export "__wasm_call_ctors") ${endless}) (func (export "f")))`,
        ].map(async (wat) => Buffer.from(await assemble(wat)).toString('base64')),
      );
      const run = await runBounded(
        `
        const { createPlugin } = await import(${JSON.stringify(libraryUrl)});
        const outcomes = [];
        for (const guest of ${JSON.stringify(guests)}) {
          try {
            await createPlugin(Buffer.from(guest, 'base64'), { ...${JSON.stringify(mode.options)}, fuel: 100000 });
            outcomes.push('created');
          } catch (err) {
            outcomes.push(err.code + ': ' + err.message);
          }
        }
        console.log(JSON.stringify(outcomes));`,
        { timeoutMs: 60_000, maxRssMb: 400 },
      );
      assert.deepEqual(JSON.parse(run.stdout), new Array(3).fill('PLUGHOST_FUEL_EXHAUSTED: call to "initialization" ran out of fuel (budget 100000)'));
      // a start function that ends does its work before the first call, as without limits
      const counting = await assemble(`(module ${OUTPUT_U64} (global $g (mut i64) (i64.const 0))
        (func $s (local $i i32)
          (loop $l (global.set $g (i64.add (global.get $g) (i64.const 1)))
            (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 1000)))))
        (start $s)
        (func (export "get") (call $out (global.get $g))))`);
      for (const limits of [{}, { fuel: 1_000_000 }, { timeoutMs: 10_000 }]) {
        const plugin = await createPlugin(counting, { ...mode.options, ...limits });
        try {
          assert.equal(u64(await plugin.call('get')), 1000n, JSON.stringify(limits));
          assert.deepEqual(
            (await plugin.getExports()).map((e) => e.name),
            ['get'],
          );
        } finally {
          await plugin.close();
        }
      }
    });

    it('take a timeoutMs longer than a timer holds (past 2^31 ms, about 24.8 days) as that long, not as 1 ms', async () => {
      // A timer set past 2^31 - 1 ms fires after 1 ms: a worker's watchdog failed creation so.
      const plugin = await createPlugin(fixturePath('limits'), { ...mode.options, timeoutMs: 2 ** 31 + 1000 });
      try {
        const input = new Uint8Array(1 << 20).fill(1);
        for (let round = 0; round < 3; round++) assert.equal(u64(await plugin.call('count', input)), BigInt(input.length));
      } finally {
        await plugin.close();
      }
    });

    it('count kernel allocations against maxPages too', async () => {
      const plugin = await createPlugin(fixturePath('limits'), { ...mode.options, memory: { maxPages: 2 } });
      await assert.rejects(plugin.call('ping', new Uint8Array(4 * 65536)), { code: 'PLUGHOST_MEMORY_LIMIT', limit: 2 * 65536, requested: 4 * 65536 });
      assert.equal(u64(await plugin.call('ping', 'small')), 1n);
      await plugin.close();
    });

    it('charge the same fuel for the same call and input, and fail a call past its budget', async () => {
      const plugin = await createPlugin(fixturePath('limits'), { ...mode.options, fuel: 1_000_000 });
      const input = 'x'.repeat(1000);
      await plugin.call('count', input);
      const first = plugin.fuelConsumed;
      await plugin.call('count', input);
      assert.ok(first > 1000, `consumed ${first}`);
      assert.equal(plugin.fuelConsumed, first);
      await plugin.call('count', input + input);
      assert.ok(plugin.fuelConsumed > first);
      await assert.rejects(plugin.call('spin'), (err: Error & { code: string; fuel: number }) => {
        assert.equal(err.code, 'PLUGHOST_FUEL_EXHAUSTED');
        assert.equal(err.fuel, 1_000_000);
        return true;
      });
      assert.equal(u64(await plugin.call('count', 'ab')), 195n);
      await plugin.close();
    });
  });
}

describe('limits on a WebAssembly.Module the application compiled', () => {
  // Such a module has no bytes plughost could rewrite: a limit that needs the rewrite is refused
  // at creation, naming it, instead of silently not holding.
  const opaque = async () => WebAssembly.compile((await readFile(fixturePath('limits'))) as Uint8Array<ArrayBuffer>);

  it('refuses timeoutMs on the main thread, and keeps it in a worker (which is ended at the deadline)', async () => {
    const module = await opaque();
    await assert.rejects(createPlugin(module, { timeoutMs: 100 }), (err: ManifestError) => {
      assert.equal(err.code, 'PLUGHOST_MANIFEST');
      assert.equal(err.field, 'timeoutMs');
      assert.match(err.message, /runInWorker|bytes/);
      return true;
    });
    const inWorker = await createPlugin(module, { timeoutMs: 100, runInWorker: true });
    try {
      await assert.rejects(inWorker.call('spin'), { code: 'PLUGHOST_TIMEOUT' });
    } finally {
      await inWorker.close();
    }
  });

  it('refuses fuel and memory.maxPages in every mode', async () => {
    const module = await opaque();
    for (const runInWorker of [false, true]) {
      await assert.rejects(createPlugin(module, { fuel: 1000, runInWorker }), { code: 'PLUGHOST_MANIFEST', field: 'fuel' });
      await assert.rejects(createPlugin(module, { memory: { maxPages: 2 }, runInWorker }), { code: 'PLUGHOST_MANIFEST', field: 'memory.maxPages' });
    }
  });

  it('holds them all for a module plughost compiled itself (it keeps the bytes)', async () => {
    const [own] = await loadModules(
      nodePlatform,
      normalizeManifest({ wasm: [{ data: await readFile(fixturePath('limits')) }] }),
      { maxPages: undefined, instrument: false },
      fetch,
      DEFAULT_MAX_WASM_BYTES,
    );
    const plugin = await createPlugin(own!.module, { timeoutMs: 100, fuel: 1e12, memory: { maxPages: 64 } });
    try {
      await assert.rejects(plugin.call('spin'), { code: 'PLUGHOST_TIMEOUT' });
    } finally {
      await plugin.close();
    }
  });
});
