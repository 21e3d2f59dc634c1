// The kernel merged into the plug-in (multi-memory) against a kernel instance of its own: every
// exported function of every built fixture and plug-in gives the same outcome both ways (output
// bytes, or error class and message), calls made in the same order on one plug-in per placement.
// Node 20 has no multi-memory and skips; run it on Node 26 (runtimes/node_modules/node26).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createPlugin, type HostFunctionMap } from '../src/index.js';
import { forceKernelMerge, hasMultiMemory } from '../src/internal/kernel/placement.js';
import { readModule } from '../src/internal/wasm/reader.js';
import { repoRoot } from './helpers.js';

const skip = hasMultiMemory() ? false : 'the engine has no multi-memory (Node 20): the kernel is never merged; run this file on Node 26';
/** Generous for a loaded machine; the same bound both ways, so a guest that spins times out both ways. */
const CALL_TIMEOUT_MS = 5_000;
const INPUT = new TextEncoder().encode('{"hello": "world", "n": 3}');
/** Namespaces the host provides itself; any other import gets a stub. */
const PROVIDED = new Set(['extism:host/env', 'wasi_snapshot_preview1', 'plughost']);

function modules(): string[] {
  return ['build/plugins', 'build/fixtures'].flatMap((dir) =>
    readdirSync(join(repoRoot, dir))
      .filter((f) => f.endsWith('.wasm') && f !== 'kernel.wasm')
      .map((f) => join(repoRoot, dir, f)),
  );
}

/** A host function for each import the host does not provide: returns zero, the same both ways. */
function stubs(wasm: Uint8Array): HostFunctionMap {
  const map: Record<string, Record<string, (...args: unknown[]) => unknown>> = {};
  for (const imp of readModule(wasm).imports) {
    if (imp.kind !== 'function' || PROVIDED.has(imp.module)) continue;
    const result = imp.type.results[0];
    map[imp.module] ??= {};
    map[imp.module]![imp.name] = () => (result === undefined ? undefined : result === 'i64' ? 0n : 0);
  }
  return map as HostFunctionMap;
}

type Outcome = { output: number[] | null } | { error: string; message: string };

async function outcomes(path: string, merge: boolean): Promise<Record<string, Outcome>> {
  forceKernelMerge(merge);
  const wasm = new Uint8Array(readFileSync(path));
  const out: Record<string, Outcome> = {};
  const describeError = (err: unknown): Outcome => ({
    error: (err as Error)?.constructor?.name ?? typeof err,
    message: String((err as Error)?.message ?? err),
  });
  let plugin: Awaited<ReturnType<typeof createPlugin>>;
  try {
    plugin = await createPlugin({ wasm: [{ data: wasm }], config: { key: 'value' } }, { useWasi: true, timeoutMs: CALL_TIMEOUT_MS, functions: stubs(wasm) });
  } catch (err) {
    return { '(creation)': describeError(err) };
  }
  try {
    const names = readModule(wasm)
      .exports.filter((e) => e.kind === 'function' && !e.name.startsWith('_'))
      .map((e) => e.name);
    for (const name of names) {
      try {
        const output = await plugin.call(name, INPUT);
        out[name] = { output: output === null ? null : [...output.bytes()] };
      } catch (err) {
        out[name] = describeError(err);
      }
    }
  } finally {
    await plugin.close();
  }
  return out;
}

describe('merged and separate kernels', { skip }, () => {
  after(() => forceKernelMerge(undefined));
  for (const path of skip ? [] : modules()) {
    it(`${path.slice(repoRoot.length + 1)}: every export gives the same outcome`, async () => {
      const separate = await outcomes(path, false);
      const merged = await outcomes(path, true);
      assert.deepEqual(merged, separate);
    });
  }
});
