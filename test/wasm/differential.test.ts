// Instrumented modules compute exactly what the originals do. Every plug-in and fixture
// export, through the public API with and without limits (a budget too large to run out),
// and generated programs, run plain and instrumented side by side: results, outputs, traps,
// globals and every byte of memory must agree. Where the engine has multi-memory, the
// plug-ins also run with the kernel merged into their module, plain and instrumented, against
// the plain module linked to a kernel instance.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type CallContext, createPlugin, type Plugin, type PluginOptions } from '../../src/index.js';
import { forceKernelMerge, hasMultiMemory } from '../../src/internal/kernel/placement.js';
import { BUDGET_EXPORT, instrumentForInterrupts } from '../../src/internal/wasm/instrument.js';
import { assemble, repoRoot } from '../helpers.js';
import { type WasmGlobal, wasm } from './engine.js';
import { generateProgram } from './program-generator.js';

const HUGE_FUEL = 1e12;
const HUGE_TIMEOUT_MS = 10 * 60_000;

function describeOutcome(run: () => unknown): string {
  try {
    return `ok ${String(run())}`;
  } catch (err) {
    return `threw ${(err as Error).constructor.name}: ${(err as Error).message}`;
  }
}

async function describeCall(call: () => Promise<{ bytes(): Uint8Array } | null>): Promise<string> {
  try {
    const out = await call();
    return out === null ? 'null' : `out ${Buffer.from(out.bytes()).toString('hex')}`;
  } catch (err) {
    const e = err as Error & { code?: string; exitCode?: number };
    return `threw ${e.name} ${e.code} ${e.exitCode}: ${e.message}`;
  }
}

const text = 'The quick brown fox jumps over the lazy dog. ';
const INPUTS = ['', 'a', 'Hello, World!', '0', '42', '{"a":1}', text.repeat(100), 'aeiou'.repeat(3000)];

/** Plug-ins and fixtures, the exports that end quickly (not `spin`, `recurse`, or `grow`, which grows to 4 GiB a page at a time), and what each needs. */
const SUBJECTS: { file: string; skip?: string[]; options?: () => PluginOptions }[] = [
  { file: 'plugins/count-vowels.wasm' },
  { file: 'plugins/fail.wasm' },
  { file: 'plugins/log.wasm', options: () => ({ logger: { info() {}, debug() {}, warn() {}, error() {}, trace() {} } as never, logLevel: 'trace' }) },
  {
    file: 'plugins/host-echo.wasm',
    options: () => ({ functions: { 'extism:host/user': { echo: (ctx: CallContext, h: number) => ctx.store(ctx.read(h)!.bytes()) } } }),
  },
  {
    file: 'plugins/count-vowels-kvstore.wasm',
    options: () => {
      const store = new Map<string, Uint8Array>();
      return {
        functions: {
          'extism:host/user': {
            kv_read: (ctx: CallContext, key: number) => ctx.store(store.get(ctx.read(key)!.text()) ?? new Uint8Array(4)),
            kv_write: (ctx: CallContext, key: number, value: number) => void store.set(ctx.read(key)!.text(), ctx.read(value)!.bytes().slice()),
          },
        },
      };
    },
  },
  { file: 'fixtures/limits.wasm', skip: ['spin', 'recurse', 'grow'] },
  { file: 'fixtures/bench-noop.wasm' },
  { file: 'fixtures/bench-read.wasm' },
  { file: 'fixtures/bench-write.wasm' },
  { file: 'fixtures/bench-vowels.wasm' },
  { file: 'fixtures/bench-roundtrip.wasm', options: () => ({ functions: { 'extism:host/user': { echo: (_ctx: CallContext, h: number) => h } } }) },
];

/** A plug-in with the kernel merged into its module (true) or in an instance of its own (false). */
async function createPlaced(merge: boolean, bytes: Uint8Array, options: PluginOptions): Promise<Plugin> {
  forceKernelMerge(merge);
  try {
    return await createPlugin(bytes, options);
  } finally {
    forceKernelMerge(undefined);
  }
}

describe('instrumented and plain modules agree', () => {
  for (const subject of SUBJECTS) {
    it(`on every export of ${subject.file}, through the API${hasMultiMemory() ? ', with the kernel merged and not' : ''}`, async () => {
      const bytes = new Uint8Array(readFileSync(join(repoRoot, 'build', subject.file)));
      const limits = { fuel: HUGE_FUEL, timeoutMs: HUGE_TIMEOUT_MS };
      const plain = await createPlaced(false, bytes, subject.options?.() ?? {});
      const others: [string, Plugin][] = [['instrumented', await createPlaced(false, bytes, { ...subject.options?.(), ...limits })]];
      if (hasMultiMemory()) {
        others.push(['merged', await createPlaced(true, bytes, subject.options?.() ?? {})]);
        others.push(['merged and instrumented', await createPlaced(true, bytes, { ...subject.options?.(), ...limits })]);
      }
      try {
        const names = (await plain.getExports()).filter((e) => e.kind === 'function' && !subject.skip?.includes(e.name)).map((e) => e.name);
        assert.ok(names.length > 0);
        for (const name of names) {
          for (const input of INPUTS) {
            const expected = await describeCall(() => plain.call(name, input));
            for (const [what, other] of others) {
              const actual = await describeCall(() => other.call(name, input));
              assert.equal(actual, expected, `${what}: ${name}(${JSON.stringify(input.slice(0, 20))})`);
            }
          }
        }
      } finally {
        await plain.close();
        for (const [, other] of others) await other.close();
      }
    });
  }

  const PROGRAMS = 40;
  const ARGS: [number, number][] = [
    [0, 0],
    [1, 2],
    [3, 100],
    [-1, 5],
    [2, -7],
    [1000, 3],
    [0x7fffffff, 0x10000],
  ];
  it(`on ${PROGRAMS} generated programs: results, traps, globals and memory`, async () => {
    let calls = 0;
    let traps = 0;
    for (let seed = 1; seed <= PROGRAMS; seed++) {
      const source = generateProgram(seed);
      const original = await assemble(source);
      const instrumented = instrumentForInterrupts(original);
      assert.ok(wasm.validate(instrumented), `program ${seed} is valid once instrumented`);
      const a = (await wasm.instantiate(original, {})).instance.exports;
      let budget: WasmGlobal | undefined;
      const b = (await wasm.instantiate(instrumented, { plughost: { tick: () => void (budget!.value = 1e9) } })).instance.exports;
      budget = b[BUDGET_EXPORT] as WasmGlobal;
      budget.value = 1e9;
      (a.init as () => void)();
      (b.init as () => void)();
      const memory = (exports: Record<string, unknown>): Buffer => Buffer.from((exports.memory as { buffer: ArrayBuffer }).buffer);
      for (const name of Object.keys(a).filter((n) => n.startsWith('f'))) {
        for (const [x, y] of ARGS) {
          const expected = describeOutcome(() => (a[name] as (p: number, q: number) => number)(x, y));
          const actual = describeOutcome(() => (b[name] as (p: number, q: number) => number)(x, y));
          const where = `program ${seed}, ${name}(${x}, ${y})`;
          assert.equal(actual, expected, where);
          assert.ok(memory(b).equals(memory(a)), `${where}: memory differs`);
          assert.equal((b.global as WasmGlobal).value, (a.global as WasmGlobal).value, `${where}: global`);
          calls++;
          if (expected.startsWith('threw')) traps++;
        }
      }
    }
    // The corpus exercises both outcomes.
    assert.ok(traps > 10 && traps < calls - 10, `${traps} traps in ${calls} calls`);
  });
});
