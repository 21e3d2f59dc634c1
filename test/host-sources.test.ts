// Host functions behave the same whatever the plug-in was made from: a path, bytes, a URL, a
// Response, a WebAssembly.Module the application compiled, a compiled plug-in, a worker. A
// module given compiled has no bytes to read its import types from, so its host functions
// are wired differently (no trampoline): this table holds both ways to one behaviour.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import {
  type CallContext,
  compilePlugin,
  createPlugin,
  defineHostFunction,
  type HostFunction,
  type ManifestLike,
  type Plugin,
  type PluginOptions,
} from '../src/index.js';
import { DEFAULT_MAX_WASM_BYTES } from '../src/internal/load-bytes.js';
import { loadModules } from '../src/internal/module-loader.js';
import { nodePlatform } from '../src/internal/platform/node/index.js';
import { normalizeManifest } from '../src/manifest.js';
import { assemble } from './helpers.js';

const GUEST = `(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "host" "echo" (func $echo (param i64) (result i64)))
  (import "host" "upper" (func $upper (param i64) (result i64)))
  (import "host" "wide" (func $wide (result i64)))
  (import "host" "zero" (func $zero (result i64)))
  (import "host" "mix" (func $mix (param i32 f32 f64 i64) (result f64)))
  (import "host" "count" (func $count (param i32) (result i32)))
  ;; eight i64 slots, in this order
  (func (export "run") (result i32) (local $h i64)
    (local.set $h (call $alloc (i64.const 64)))
    (call $store_u64 (local.get $h) (call $echo (i64.const 0x0102030405060708)))
    (call $store_u64 (i64.add (local.get $h) (i64.const 8)) (call $echo (i64.const 12345)))
    (call $store_u64 (i64.add (local.get $h) (i64.const 16)) (call $echo (i64.const -2)))
    (call $store_u64 (i64.add (local.get $h) (i64.const 24)) (call $wide))
    (call $store_u64 (i64.add (local.get $h) (i64.const 32)) (call $zero))
    (call $store_u64 (i64.add (local.get $h) (i64.const 40))
      (i64.reinterpret_f64 (call $mix (i32.const 7) (f32.const 1.5) (f64.const 2.25) (i64.const 40))))
    (call $store_u64 (i64.add (local.get $h) (i64.const 48)) (i64.extend_i32_s (call $count (i32.const -3))))
    (call $store_u64 (i64.add (local.get $h) (i64.const 56)) (call $echo (i64.const 0)))
    (call $output_set (local.get $h) (i64.const 64))
    (i32.const 0))
  (func (export "upper") (result i32)
    (call $output_set (call $upper (call $input_offset)) (call $input_length))
    (i32.const 0)))`;

const WIDE = 2n ** 60n + 1n;

/** What the host functions saw, per call: the type and value of every argument. */
type Seen = string[];

function hostFunctions(
  seen: Seen,
): { echo: (ctx: CallContext, v: number | bigint) => number | bigint } & Record<string, (ctx: CallContext, ...args: any[]) => unknown> {
  const note = (name: string, args: unknown[]) => seen.push(`${name}(${args.map((a) => `${typeof a}:${String(a)}`).join(',')})`);
  return {
    echo: (_ctx, v) => (note('echo', [v]), v),
    upper: (ctx: CallContext, handle: number) => (
      note('upper', [handle === undefined ? undefined : 'handle']), ctx.store(ctx.read(handle)!.text().toUpperCase())
    ),
    wide: () => (note('wide', []), WIDE),
    zero: () => (note('zero', []), 0),
    mix: (_ctx, a: number, b: number, c: number, d: number | bigint) => (note('mix', [a, b, c, d]), a + b + c + Number(d)),
    count: (_ctx, n: number) => (note('count', [n]), n * 2),
  };
}

const SIGNATURES: Record<string, [string[], string[]]> = {
  echo: [['i64'], ['i64']],
  upper: [['i64'], ['i64']],
  wide: [[], ['i64']],
  zero: [[], ['i64']],
  mix: [['i32', 'f32', 'f64', 'i64'], ['f64']],
  count: [['i32'], ['i32']],
};

/** The options that wire the host functions: loose (the @extism/extism way) or declared with their signature. */
function wiring(style: 'loose' | 'declared', seen: Seen): PluginOptions {
  const fns = hostFunctions(seen);
  if (style === 'loose') return { functions: { host: fns as never } };
  const declared: HostFunction[] = Object.entries(SIGNATURES).map(([name, [params, results]]) =>
    defineHostFunction(name, params as never, results as never, fns[name] as never, 'host'),
  );
  return { hostFunctions: declared };
}

describe('host functions, whatever the source', () => {
  let dir: string;
  let bytes: Uint8Array;
  let file: string;
  before(async () => {
    bytes = await assemble(GUEST);
    dir = mkdtempSync(join(tmpdir(), 'plughost-sources-'));
    file = join(dir, 'guest.wasm');
    writeFileSync(file, bytes);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const sources: Record<string, (options: PluginOptions) => Promise<Plugin>> = {
    path: (options) => createPlugin(file, options),
    bytes: (options) => createPlugin(bytes, options),
    'file URL': (options) => createPlugin(pathToFileURL(file), options),
    Response: (options) =>
      createPlugin(new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/wasm' } }) as ManifestLike, options),
    'WebAssembly.Module': async (options) => createPlugin(await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>), options),
    'manifest { module }': async (options) => createPlugin({ wasm: [{ module: await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>) }] }, options),
    compilePlugin: async (options) => (await compilePlugin(bytes, options)).instantiate(),
    'compilePlugin from a Module': async (options) => (await compilePlugin(await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>), options)).instantiate(),
    'worker, bytes': (options) => createPlugin(bytes, { ...options, runInWorker: true }),
    'worker, WebAssembly.Module': async (options) =>
      createPlugin(await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>), { ...options, runInWorker: true }),
    'with a timeout (instrumented)': (options) => createPlugin(bytes, { ...options, timeoutMs: 60_000 }),
  };

  const EXPECTED_SEEN = [
    'echo(bigint:72623859790382856)',
    'echo(number:12345)',
    'echo(number:-2)',
    'wide()',
    'zero()',
    'mix(number:7,number:1.5,number:2.25,number:40)',
    'count(number:-3)',
    'echo(number:0)',
  ];

  it('loads a module plughost compiled itself from its bytes, as bytes are loaded', async () => {
    const variant = { maxPages: undefined, instrument: false };
    const [fromBytes] = await loadModules(nodePlatform, normalizeManifest({ wasm: [{ data: bytes }] }), variant, fetch, DEFAULT_MAX_WASM_BYTES);
    // given back as a source: import types known and memory pooled, as from bytes
    const [again] = await loadModules(nodePlatform, normalizeManifest({ wasm: [{ module: fromBytes!.module }] }), variant, fetch, DEFAULT_MAX_WASM_BYTES);
    assert.notEqual(again!.info, null);
    assert.deepEqual(again!.memory, fromBytes!.memory);
    assert.equal(again!.module, fromBytes!.module, 'the same compiled module, from the cache');
    // in another variant (instrumented), compiled again from the original bytes
    const [instrumented] = await loadModules(
      nodePlatform,
      normalizeManifest({ wasm: [{ module: fromBytes!.module }] }),
      { maxPages: undefined, instrument: true },
      fetch,
      DEFAULT_MAX_WASM_BYTES,
    );
    assert.equal(instrumented!.instrumented, true);
    // a module the application compiled stays opaque
    const [opaque] = await loadModules(
      nodePlatform,
      normalizeManifest({ wasm: [{ module: await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>) }] }),
      variant,
      fetch,
      DEFAULT_MAX_WASM_BYTES,
    );
    assert.equal(opaque!.info, null);
    // and a plug-in from plughost's own module runs like the others
    const seen: Seen = [];
    const plugin = await createPlugin(fromBytes!.module, wiring('loose', seen));
    try {
      assert.equal((await plugin.call('upper', 'again'))!.text(), 'AGAIN');
      assert.deepEqual(
        (await plugin.getImports()).map((i) => i.module).filter((m) => m === 'plughost'),
        [],
      );
    } finally {
      await plugin.close();
    }
  });

  it('refuses, from a WebAssembly.Module, a declared host function whose signature the plug-in does not import', async () => {
    const seen: Seen = [];
    const options = wiring('declared', seen);
    const wrong = options.hostFunctions!.map((f) => (f.name === 'echo' ? defineHostFunction('echo', ['i64'], ['i32'], f.callback, 'host') : f));
    const module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
    await assert.rejects(createPlugin(module, { hostFunctions: wrong }), { code: 'PLUGHOST_LINK', message: /echo/ });
  });

  for (const style of ['loose', 'declared'] as const) {
    for (const [source, create] of Object.entries(sources)) {
      it(`${style} host functions, from ${source}`, async () => {
        const seen: Seen = [];
        const plugin = await create(wiring(style, seen));
        try {
          for (let round = 0; round < 2; round++) {
            seen.length = 0;
            const out = (await plugin.call('run'))!;
            const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
            const slots = Array.from({ length: 8 }, (_, i) => view.getBigInt64(i * 8, true));
            assert.deepEqual(slots.slice(0, 5), [0x0102030405060708n, 12345n, -2n, WIDE, 0n]);
            assert.equal(view.getFloat64(40, true), 50.75);
            assert.deepEqual(slots.slice(6), [-6n, 0n]);
            assert.deepEqual(seen, EXPECTED_SEEN);
          }
          assert.equal((await plugin.call('upper', 'shout'))!.text(), 'SHOUT');
        } finally {
          await plugin.close();
        }
      });
    }
  }
});
