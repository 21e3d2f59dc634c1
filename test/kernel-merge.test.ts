// The kernel merged into a plug-in's module (src/internal/wasm/kernel-merge.ts) where the
// engine has multi-memory: every index the merge moves, what the plug-in sees of its imports,
// and modules it leaves alone. The whole suite runs with both placements (scripts/test-runtimes.mjs).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createPlugin, LinkError, WasmSourceError } from '../src/index.js';
import { KERNEL_GUEST_FUNCTIONS, kernelWasm } from '../src/internal/kernel/kernel.js';
import { forceKernelMerge, hasMultiMemory, mergeKernelInto } from '../src/internal/kernel/placement.js';
import { loadModules } from '../src/internal/module-loader.js';
import { nodePlatform } from '../src/internal/platform/node/index.js';
import { ByteWriter } from '../src/internal/wasm/encoder.js';
import { MERGED_KERNEL_MODULE } from '../src/internal/wasm/kernel-merge.js';
import { assemble, libraryUrl, pluginPath, runBounded } from './helpers.js';
import { kernelReach } from './wasm/merge-reach.js';

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

  it('is the default, and PLUGHOST_KERNEL=separate keeps the kernel instance', async () => {
    const placement = new URL('../src/internal/kernel/placement.js', libraryUrl).href;
    const ask = async (env: Record<string, string>) => {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const { mergesKernel } = await import(${JSON.stringify(placement)}); console.log(mergesKernel({ environmentVariable: (name) => process.env[name] }))`,
        ],
        { env: { ...process.env, PLUGHOST_KERNEL: '', ...env }, timeout: 30_000, killSignal: 'SIGKILL' },
      );
      return stdout.trim();
    };
    assert.equal(await ask({}), 'true');
    assert.equal(await ask({ PLUGHOST_KERNEL: 'separate' }), 'false');
  });

  it('replaces the kernel imports with local functions and imports the kernel memory and state instead', async () => {
    const [loaded] = await loadModules(
      nodePlatform,
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
      nodePlatform,
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

  it('still stops a guest that spins in kernel calls, by its timeout or its fuel', async () => {
    // The kernel's code is merged after the instrumentation, so it is not charged itself (as a
    // kernel instance is not): the guest's loop around the calls is (an abort is seen by the
    // same check). Run in a child process,
    // so that a guest the merge left unstoppable fails the test instead of hanging it.
    const spin = await assemble(`(module
      (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
      (import "extism:host/env" "free" (func $free (param i64)))
      (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
      (import "extism:host/env" "load_u64" (func $load_u64 (param i64) (result i64)))
      (func (export "spin") (result i32)
        (local $h i64)
        (loop $forever
          (local.set $h (call $alloc (i64.const 64)))
          (call $store_u64 (local.get $h) (call $load_u64 (local.get $h)))
          (call $free (local.get $h))
          (br $forever))
        (i32.const 0)))`);
    const placement = new URL('../src/internal/kernel/placement.js', libraryUrl).href;
    const run = await runBounded(
      `
      const { createPlugin } = await import(${JSON.stringify(libraryUrl)});
      const { forceKernelMerge, mergesKernel } = await import(${JSON.stringify(placement)});
      forceKernelMerge(true);
      if (!mergesKernel({ environmentVariable: () => undefined })) throw new Error('the kernel is not merged');
      const wasm = Buffer.from(${JSON.stringify(Buffer.from(spin).toString('base64'))}, 'base64');
      const outcome = async (options) => {
        const plugin = await createPlugin(wasm, options);
        try {
          await plugin.call('spin', '');
          return 'returned';
        } catch (err) {
          return err.name;
        } finally {
          await plugin.close();
        }
      };
      console.log(JSON.stringify([
        await outcome({ timeoutMs: 200 }),
        await outcome({ fuel: 1e6 }),
      ]));`,
      { timeoutMs: 60_000, maxRssMb: 400 },
    );
    assert.deepEqual(JSON.parse(run.stdout), ['TimeoutError', 'FuelExhaustedError']);
  });

  it('never lets the plug-in name the kernel memory or types: a module that names a memory or type it lacks is left alone, and fails as before', async () => {
    // (import "plughost" "memory" (memory 1)) (import "extism:host/env" "alloc" ...)
    // (func (export "peek") (result i32) (i32.load 1 (i32.const 0))): memory 1 would be the kernel's once merged
    const naming = (code: number[]) =>
      new ByteWriter()
        .bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])
        .section(1, new ByteWriter().bytes([0x02, 0x60, 0x00, 0x01, 0x7f, 0x60, 0x01, 0x7e, 0x01, 0x7e]))
        .section(2, new ByteWriter().u32(2).name('plughost').name('memory').bytes([0x02, 0x00, 0x01]).name('extism:host/env').name('alloc').bytes([0x00, 0x01]))
        .section(3, new ByteWriter().bytes([0x01, 0x00]))
        .section(7, new ByteWriter().u32(1).name('peek').bytes([0x00, 0x01]))
        .section(
          10,
          new ByteWriter()
            .u32(1)
            .u32(code.length + 1)
            .byte(0x00)
            .bytes(code),
        )
        .finish()
        .slice();
    const load = [0x41, 0x00, 0x28, 0x42, 0x01, 0x00, 0x0b];
    const size = [0x3f, 0x01, 0x0b];
    const fill = [0x41, 0x00, 0x41, 0x00, 0x41, 0x08, 0xfc, 0x0b, 0x01, 0x41, 0x00, 0x0b];
    // and types: a block and an indirect call of type 2 (the module has two; the kernel's come next)
    const block = [0x02, 0x02, 0x0b, 0x41, 0x00, 0x0b];
    const indirect = [0x41, 0x00, 0x11, 0x02, 0x00, 0x0b];
    for (const code of [load, size, fill, block, indirect]) {
      const bytes = naming(code);
      assert.equal(WebAssembly.validate(bytes), false);
      assert.equal(mergeKernelInto(bytes), undefined);
      forceKernelMerge(true);
      await assert.rejects(createPlugin({ wasm: [{ data: bytes }] }), WasmSourceError);
    }
    // the same module naming memory 0 is merged
    assert.notEqual(mergeKernelInto(naming([0x41, 0x00, 0x28, 0x02, 0x00, 0x0b])), undefined);
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

/**
 * A plug-in module built by hand (each is invalid, so no assembler writes it): types `types`
 * (the first `() -> i32`, the second alloc's `(i64) -> i64`, the rest `() -> ()`), the import of
 * alloc, with or without an imported memory, and one function `peek` of type 0.
 */
function handMade({
  memory = true,
  types = 2,
  locals = [0x00],
  code = [0x41, 0x00, 0x0b],
  data,
  tags,
}: {
  memory?: boolean;
  types?: number;
  locals?: number[];
  code?: number[];
  data?: number[];
  tags?: number[];
}): Uint8Array {
  const typeSection = new ByteWriter().u32(types).bytes([0x60, 0x00, 0x01, 0x7f, 0x60, 0x01, 0x7e, 0x01, 0x7e]);
  for (let i = 2; i < types; i++) typeSection.bytes([0x60, 0x00, 0x00]);
  const imports = new ByteWriter().u32(memory ? 2 : 1);
  if (memory) imports.name('plughost').name('memory').bytes([0x02, 0x00, 0x01]);
  imports.name('extism:host/env').name('alloc').bytes([0x00, 0x01]);
  const body = new ByteWriter().bytes(locals).bytes(code);
  const module = new ByteWriter()
    .bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])
    .section(1, typeSection)
    .section(2, imports)
    .section(3, new ByteWriter().bytes([0x01, 0x00]));
  if (tags) module.section(13, new ByteWriter().bytes(tags));
  module.section(7, new ByteWriter().u32(1).name('peek').bytes([0x00, 0x01])).section(10, new ByteWriter().u32(1).u32(body.length).bytes(body.finish()));
  if (data) module.section(11, new ByteWriter().bytes(data));
  return module.finish().slice();
}

describe('a module the merge must not open onto the kernel', () => {
  // Each names something its own module lacks: merged, that index would be the kernel's.
  const cases: [string, Uint8Array][] = [
    // (data (i32.const 0) "ABCD") in a module with no memory: memory 0 is the kernel's once merged
    ['an active data segment in a module without a memory', handMade({ memory: false, data: [0x01, 0x00, 0x41, 0x00, 0x0b, 0x04, 0x41, 0x42, 0x43, 0x44] })],
    // (ref.null 70) in a module of 66 types: a multi-byte type index
    ["ref.null of a type past the module's, written in two bytes", handMade({ types: 66, code: [0xd0, 0xc6, 0x00, 0x1a, 0x41, 0x00, 0x0b] })],
    // (block (result (ref null 2)) unreachable) drop
    ['a block typed by a reference to a type it lacks', handMade({ code: [0x02, 0x63, 0x02, 0x00, 0x0b, 0x1a, 0x41, 0x00, 0x0b] })],
    // (local (ref null 2))
    ['a local typed by a reference to a type it lacks', handMade({ locals: [0x01, 0x01, 0x63, 0x02] })],
    // (select (result (ref null 2)) ...) of two nulls of an abstract type
    ['a typed select of a type it lacks', handMade({ code: [0xd0, 0x70, 0xd0, 0x70, 0x41, 0x00, 0x1c, 0x01, 0x63, 0x02, 0x1a, 0x41, 0x00, 0x0b] })],
    // (tag (type 2))
    ['a tag of a type it lacks', handMade({ tags: [0x01, 0x00, 0x02] })],
  ];
  for (const [what, bytes] of cases) {
    it(`${what}: left unmerged`, () => {
      assert.equal(WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>), false, 'the module is invalid as it is');
      const merged = mergeKernelInto(bytes);
      if (merged === undefined) return;
      const reach = kernelReach(bytes, merged.bytes, kernelWasm(), 'extism:host/env', KERNEL_GUEST_FUNCTIONS);
      assert.equal(reach, undefined, 'the merged module names a kernel item');
      if (hasMultiMemory()) assert.equal(WebAssembly.validate(merged.bytes as Uint8Array<ArrayBuffer>), false, 'the merged module validates');
    });
  }

  it('the same modules naming only what they have are merged (the cases above are not refused for another reason)', () => {
    const fine = [
      handMade({ data: [0x01, 0x00, 0x41, 0x00, 0x0b, 0x04, 0x41, 0x42, 0x43, 0x44] }),
      handMade({ types: 66, code: [0xd0, 0xc1, 0x00, 0x1a, 0x41, 0x00, 0x0b] }),
      handMade({ locals: [0x01, 0x01, 0x70] }),
    ];
    for (const bytes of fine) {
      const merged = mergeKernelInto(bytes);
      assert.notEqual(merged, undefined);
      assert.equal(kernelReach(bytes, merged!.bytes, kernelWasm(), 'extism:host/env', KERNEL_GUEST_FUNCTIONS), undefined);
    }
  });
});
