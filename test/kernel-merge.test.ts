// The kernel merged into a plug-in's module (src/internal/wasm/kernel-merge.ts) where the
// engine has multi-memory: every index the merge moves, what the plug-in sees of its imports,
// and modules it leaves alone. The whole suite runs with both placements (scripts/test-runtimes.mjs).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { createPlugin, LinkError, WasmSourceError } from '../src/index.js';
import { forceKernelMerge, hasMultiMemory, mergeKernelInto } from '../src/internal/kernel/placement.js';
import { loadModules } from '../src/internal/module-loader.js';
import { MERGED_KERNEL_MODULE } from '../src/internal/wasm/kernel-merge.js';
import { assemble, pluginPath } from './helpers.js';

const skip = hasMultiMemory() ? false : 'the engine has no multi-memory (Node 20): the kernel is never merged';

/**
 * A guest that moves every index the merge renumbers: a host function imported between kernel
 * functions, defined globals (one set by the start function, one exported), a table filled by
 * an element segment and called through, names.
 */
const RENUMBERED = `
(module $renumbered
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "host" "twice" (func $twice (param i32) (result i32)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory 1)
  (global $started (mut i32) (i32.const 0))
  (global $offset i32 (i32.const 100))
  (data (i32.const 100) "!")
  (table 2 funcref)
  (elem (i32.const 0) $first $second)
  (type $map (func (param i32) (result i32)))
  (func $first (param $b i32) (result i32) (i32.add (local.get $b) (i32.const 1)))
  (func $second (param $b i32) (result i32) (call $twice (local.get $b)))
  (func $start (global.set $started (i32.const 7)))
  (start $start)
  (func (export "run") (result i32)
    (local $n i64) (local $i i64) (local $out i64)
    (local.set $n (call $input_length))
    (local.set $out (call $alloc (i64.add (local.get $n) (i64.const 2))))
    (block $done (loop $each
      (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
      (call $store_u8 (i64.add (local.get $out) (local.get $i))
        (call_indirect (type $map) (call $input_load_u8 (local.get $i)) (i32.wrap_i64 (i64.and (local.get $i) (i64.const 1)))))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br $each)))
    (call $store_u8 (i64.add (local.get $out) (local.get $n)) (i32.add (i32.const 48) (global.get $started)))
    (call $store_u8 (i64.add (local.get $out) (i64.add (local.get $n) (i64.const 1))) (i32.load8_u (global.get $offset)))
    (call $output_set (local.get $out) (i64.add (local.get $n) (i64.const 2)))
    (i32.const 0))
  (export "table" (table 0))
  (export "started" (global $started)))
`;

async function runRenumbered(merge: boolean, options: { timeoutMs?: number } = {}) {
  forceKernelMerge(merge);
  const plugin = await createPlugin(
    { wasm: [{ data: await assemble(RENUMBERED) }] },
    { functions: { host: { twice: (_ctx: unknown, b: number) => b * 2 } }, ...options },
  );
  try {
    const output = (await plugin.call('run', new Uint8Array([1, 2, 3, 4])))!.bytes();
    return { output: [...output], imports: await plugin.getImports(), exports: await plugin.getExports() };
  } finally {
    await plugin.close();
  }
}

describe('the kernel merged into the plug-in', { skip }, () => {
  after(() => forceKernelMerge(undefined));

  it('replaces the kernel imports with local functions and imports the kernel memory and state instead', async () => {
    const [loaded] = await loadModules(
      { wasm: [{ source: { kind: 'data', bytes: await assemble(RENUMBERED) } }] } as never,
      { maxPages: undefined, instrument: false, mergeKernel: true },
      fetch,
      1 << 30,
    );
    const imports = WebAssembly.Module.imports(loaded!.module);
    assert.deepEqual(
      imports.filter((imp) => imp.module === 'extism:host/env'),
      [],
    );
    assert.deepEqual(
      imports.filter((imp) => imp.module !== MERGED_KERNEL_MODULE).map((imp) => `${imp.module}.${imp.name}`),
      ['host.twice', 'plughost.memory'],
    );
    assert.ok(imports.some((imp) => imp.module === MERGED_KERNEL_MODULE && imp.name === 'memory' && imp.kind === 'memory'));
    assert.deepEqual(
      loaded!.kernelImports,
      imports.filter((imp) => imp.module === MERGED_KERNEL_MODULE).map((imp) => imp.name),
    );
  });

  for (const timeoutMs of [undefined, 5000]) {
    it(`runs the same as with a kernel instance: tables, elements, start, globals, names${timeoutMs ? ' (instrumented)' : ''}`, async () => {
      const merged = await runRenumbered(true, { timeoutMs });
      const separate = await runRenumbered(false, { timeoutMs });
      assert.deepEqual(merged.output, [2, 4, 4, 8, 48 + 7, 33]);
      assert.deepEqual(merged, separate);
    });
  }

  it('shows the plug-in its imports and exports as it declared them', async () => {
    const { imports, exports } = await runRenumbered(true);
    assert.deepEqual(
      imports.map((imp) => `${imp.module}.${imp.name}:${imp.kind}`),
      [
        'extism:host/env.input_length:function',
        'host.twice:function',
        'extism:host/env.input_load_u8:function',
        'extism:host/env.alloc:function',
        'extism:host/env.store_u8:function',
        'extism:host/env.output_set:function',
      ],
    );
    assert.deepEqual(
      exports.map((exp) => exp.name),
      ['run', 'table', 'started'],
    );
  });

  it('merges a real plug-in, and leaves alone a module that imports no kernel function', async () => {
    // count-vowels as the loader hands it over: its memory made an import first
    const [loaded] = await loadModules(
      { wasm: [{ source: { kind: 'data', bytes: readFileSync(pluginPath('count-vowels')) } }] } as never,
      { maxPages: undefined, instrument: true, mergeKernel: true },
      fetch,
      1 << 30,
    );
    assert.notEqual(loaded!.kernelImports, undefined);
    assert.equal(mergeKernelInto(await assemble('(module (import "plughost" "memory" (memory 1)) (func (export "f")))')), undefined);
  });

  it('leaves a module that defines its memory itself, or imports a kernel function with the wrong type, to a kernel instance', async () => {
    assert.equal(mergeKernelInto(await assemble('(module (import "extism:host/env" "alloc" (func (param i64) (result i64))) (memory 1))')), undefined);
    assert.equal(mergeKernelInto(await assemble('(module (import "extism:host/env" "alloc" (func (param i32) (result i64))))')), undefined);
    forceKernelMerge(true);
    await assert.rejects(
      createPlugin({ wasm: [{ data: await assemble('(module (import "extism:host/env" "alloc" (func (param i32) (result i64))) (func (export "f")))') }] }),
      LinkError,
    );
  });

  it('reports a module that does not compile as the engine reports it without the merge', async () => {
    // valid to the merge's reader, invalid to the engine: i64.add of an i32
    const bad = await assemble(
      '(module (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64))) (func (export "f") (drop (call $alloc (i64.const 1)))))',
    );
    // make `i64.const 1` an `i32.const 1` by hand: wabt would refuse to write it
    const at = bad.lastIndexOf(0x42);
    bad[at] = 0x41;
    const messages: string[] = [];
    for (const merge of [true, false]) {
      forceKernelMerge(merge);
      const err = await createPlugin({ wasm: [{ data: bad }] }).then(
        () => assert.fail('the module compiled'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof WasmSourceError);
      messages.push(err.message);
    }
    assert.equal(messages[0], messages[1]);
  });
});
