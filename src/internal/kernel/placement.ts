// Where the kernel runs, decided here and nowhere else: merged into the plug-in's module (one
// instance; the plug-in's byte traffic becomes local calls the engine can inline) where the
// engine has multi-memory, else an instance of its own that the linker links the plug-in to.
import type { Platform } from '../platform/platform.js';
import { type MergedModule, mergeKernel } from '../wasm/kernel-merge.js';
import { KERNEL_GUEST_FUNCTIONS, kernelWasm } from './kernel.js';

/** The namespace whose kernel functions a merged module calls locally. */
const KERNEL_NAMESPACE = 'extism:host/env';

/** `PLUGHOST_KERNEL=separate` keeps the kernel in an instance of its own even where it could be merged (for comparing the two paths). */
export const KERNEL_PLACEMENT_VARIABLE = 'PLUGHOST_KERNEL';

let multiMemory: boolean | undefined;

/** Whether the engine validates a module with two memories; asked once. */
export function hasMultiMemory(): boolean {
  // (module (memory 0) (memory 0))
  multiMemory ??= WebAssembly.validate(new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x05, 0x05, 0x02, 0x00, 0x00, 0x00, 0x00]));
  return multiMemory;
}

let forced: boolean | undefined;

/** @internal For tests: merge (true) or not (false) whatever the environment says; undefined goes back to the default. */
export function forceKernelMerge(merge: boolean | undefined): void {
  forced = merge;
}

/** Whether modules loaded now get the kernel merged in (the platform's environment may say no). */
export function mergesKernel(platform: Pick<Platform, 'environmentVariable'>): boolean {
  if (!hasMultiMemory()) return false;
  return forced ?? platform.environmentVariable(KERNEL_PLACEMENT_VARIABLE) !== 'separate';
}

/** The module with the kernel merged in, or undefined when it has nothing to merge or cannot be (see wasm/kernel-merge.ts). */
export function mergeKernelInto(bytes: Uint8Array): MergedModule | undefined {
  try {
    return mergeKernel(bytes, kernelWasm(), KERNEL_NAMESPACE, KERNEL_GUEST_FUNCTIONS);
  } catch {
    // A module the merge cannot read is loaded as it is: its errors, if any, are the engine's to report.
    return undefined;
  }
}
