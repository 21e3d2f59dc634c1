// The kernel's guest functions as a plug-in merged with the kernel calls them (see
// src/internal/wasm/kernel-merge.ts), for tests that hold both placements to the same model.
import { KERNEL_SIGNATURES, type Kernel } from '../src/internal/kernel/kernel.js';
import { hasMultiMemory, mergeKernelInto } from '../src/internal/kernel/placement.js';
import { MERGED_KERNEL_MODULE } from '../src/internal/wasm/kernel-merge.js';
import { assemble } from './helpers.js';

/** The guest functions a test drives, by name. */
export type GuestFunctions = Record<string, (...args: bigint[]) => bigint | number | undefined>;

/**
 * A guest that imports a memory of its own first (so the kernel's memory index moves in the
 * merged code), then every kernel function; each is exported as it is (an export renumbered
 * to the merged function) and as `via_<name>` (a call renumbered to it).
 */
function guestSource(): string {
  const signature = (types: readonly string[]) => types.join(' ');
  const imports = ['(module', '  (import "plughost" "memory" (memory 1))'];
  const definitions: string[] = [];
  for (const [name, { params, results }] of Object.entries(KERNEL_SIGNATURES)) {
    const p = params.length ? ` (param ${signature(params)})` : '';
    const r = results.length ? ` (result ${signature(results)})` : '';
    imports.push(`  (import "extism:host/env" "${name}" (func $${name}${p}${r}))`);
    definitions.push(`  (export "${name}" (func $${name}))`);
    const args = params.map((_, i) => `(local.get ${i})`).join(' ');
    definitions.push(`  (func (export "via_${name}")${p}${r} (call $${name} ${args}))`);
  }
  return [...imports, ...definitions, ')'].join('\n');
}

/** The merged guest module, or undefined where the engine has no multi-memory. */
export async function mergedGuestModule(): Promise<WebAssembly.Module | undefined> {
  if (!hasMultiMemory()) return undefined;
  const merged = mergeKernelInto(await assemble(guestSource()));
  if (merged === undefined) throw new Error('the test guest was not merged');
  const module = new WebAssembly.Module(merged.bytes as Uint8Array<ArrayBuffer>);
  return module;
}

/** The merged guest's functions on `kernel`'s memory and state; `via` picks the wrappers that call them. */
export function mergedGuestFunctions(module: WebAssembly.Module, kernel: Kernel, via = false): GuestFunctions {
  const exports = new WebAssembly.Instance(module, {
    plughost: { memory: new WebAssembly.Memory({ initial: 1 }) },
    [MERGED_KERNEL_MODULE]: kernel.mergedImports(),
  }).exports;
  const functions: GuestFunctions = {};
  for (const name of Object.keys(KERNEL_SIGNATURES)) functions[name] = exports[via ? `via_${name}` : name] as GuestFunctions[string];
  return functions;
}
