// The proof against misparsing: real compiler output (binaryen and wabt, both C++ built
// with Emscripten, several MiB of code) must stay valid after instrumentation, and the
// instrumented wabt must still work. Neither package ships a .wasm file; their loaders
// embed the bytes, so they are captured as the loaders hand them to the engine.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { BUDGET_EXPORT, instrumentForInterrupts } from '../../src/internal/wasm/instrument.js';
import { capLimits } from '../../src/internal/wasm/memory-limit.js';
import { readModule } from '../../src/internal/wasm/reader.js';
import { repoRoot } from '../helpers.js';
import { type WasmGlobal, wasm } from './engine.js';

type Instantiate = (source: unknown, imports?: Record<string, Record<string, unknown>>) => Promise<unknown>;
interface Api {
  instantiate: Instantiate;
}
const api = (globalThis as unknown as { WebAssembly: Api }).WebAssembly;

function asBytes(source: unknown): Uint8Array | undefined {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  return undefined;
}

/** Runs `load` with `WebAssembly.instantiate` replaced by `replacement` (given the original). */
async function withInstantiate<T>(replacement: (original: Instantiate) => Instantiate, load: () => Promise<T>): Promise<T> {
  const original = api.instantiate;
  api.instantiate = replacement(original);
  try {
    return await load();
  } finally {
    api.instantiate = original;
  }
}

async function capture(load: () => Promise<unknown>): Promise<Uint8Array> {
  let captured: Uint8Array | undefined;
  await withInstantiate(
    (original) => (source, imports) => {
      captured ??= asBytes(source)?.slice();
      return original(source, imports);
    },
    load,
  );
  assert.ok(captured, 'the loader instantiated a module from bytes');
  return captured;
}

interface WabtModule {
  parseWat(name: string, source: string): { resolveNames(): void; validate(): void; toBinary(o: object): { buffer: Uint8Array }; destroy(): void };
}
const wabtFactory = async (): Promise<() => Promise<WabtModule>> => ((await import('wabt')) as { default: () => Promise<WabtModule> }).default;

function findWasmFiles(dir: string, found: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) findWasmFiles(path, found);
    else if (entry.name.endsWith('.wasm')) found.push(path);
  }
  return found;
}

const modules: { name: string; bytes: Uint8Array }[] = [];

before(async () => {
  modules.push({ name: 'wabt', bytes: await capture(async () => (await wabtFactory())()) });
  modules.push({ name: 'binaryen', bytes: await capture(() => import('binaryen')) });
  // Any .wasm in node_modules, and our AssemblyScript plug-ins when the build made them.
  const dirs = ['node_modules', 'build/plugins'].map((d) => join(repoRoot, d)).filter((d) => existsSync(d));
  for (const path of dirs.flatMap((d) => findWasmFiles(d))) {
    modules.push({ name: path.slice(repoRoot.length + 1), bytes: new Uint8Array(readFileSync(path)) });
  }
});

describe('real modules', () => {
  it('instruments every real module into a valid module', () => {
    assert.ok(modules.length >= 2);
    for (const { name, bytes } of modules) {
      const out = instrumentForInterrupts(bytes);
      assert.ok(wasm.validate(out), `${name} is still valid after instrumentation`);
      const before = readModule(bytes);
      const after = readModule(out);
      // the budget, and the start function when there is one (deferred to the host)
      assert.equal(after.exports.length, before.exports.length + (before.startFunction === undefined ? 1 : 2), name);
      assert.equal(after.startFunction, undefined, name);
      // the tick, and a helper for each distinct bulk-memory, table or grow instruction
      assert.ok(after.functionTypeIndices.length >= before.functionTypeIndices.length + 1, name);
    }
  });

  it('caps the memory of every real module into a valid module', () => {
    for (const { name, bytes } of modules) {
      const info = readModule(bytes);
      const memory = info.imports.find((i) => i.kind === 'memory');
      const min = memory?.kind === 'memory' ? memory.limits.min : (info.memories[0]?.min ?? 0);
      assert.ok(wasm.validate(capLimits(bytes, min + 1)), name);
    }
  });

  it('runs the instrumented wabt exactly like the original', async () => {
    const factory = await wabtFactory();
    let budget: WasmGlobal | undefined;
    let ticks = 0;
    const instrumented = await withInstantiate(
      (original) => async (source, imports) => {
        const bytes = instrumentForInterrupts(asBytes(source)!);
        const result = (await original(bytes, {
          ...imports,
          plughost: {
            tick: () => {
              ticks++;
              if (budget) budget.value = 10_000;
            },
          },
        })) as {
          instance: { exports: Record<string, unknown> };
        };
        budget = result.instance.exports[BUDGET_EXPORT] as WasmGlobal;
        return result;
      },
      factory,
    );
    const reference = await factory();
    const source = '(module (func (export "f") (param i32) (result i32) (loop (br_if 0 (i32.eqz (local.get 0)))) (i32.mul (local.get 0) (i32.const 3))))';
    const compile = (w: WabtModule): Uint8Array => {
      const m = w.parseWat('x.wat', source);
      try {
        m.resolveNames();
        m.validate();
        return m.toBinary({ log: false }).buffer.slice();
      } finally {
        m.destroy();
      }
    };
    ticks = 0;
    assert.deepEqual(compile(instrumented), compile(reference));
    assert.ok(ticks > 0, 'the instrumented wabt ticked');
  });
});
