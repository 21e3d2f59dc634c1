// The fuzz loop of fuzz.test.ts, in a child process so that a hang fails the test at its
// kill bound. argv: seed, mutation count, time budget (ms), module paths. Prints one JSON
// line: how many mutations ran and every failure (an exception that is not a typed error,
// or an instrumented module that no longer validates).
import { readFileSync } from 'node:fs';
import { PlughostError } from '../../src/errors.js';
import { KERNEL_GUEST_FUNCTIONS, kernelWasm } from '../../src/internal/kernel/kernel.js';
import { instrumentForInterrupts } from '../../src/internal/wasm/instrument.js';
import { mergeKernel } from '../../src/internal/wasm/kernel-merge.js';
import { capLimits, importOwnMemory } from '../../src/internal/wasm/memory-limit.js';
import { readModule, WasmFormatError } from '../../src/internal/wasm/reader.js';
import { kernelReach } from './merge-reach.js';
import { mutate, prng } from './mutations.js';

const validate = (globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean } }).WebAssembly.validate;
const [seedArg, countArg, budgetArg, ...paths] = process.argv.slice(2) as [string, string, string, ...string[]];
const corpus = paths.map((p) => ({ name: p.slice(p.lastIndexOf('/') + 1), bytes: new Uint8Array(readFileSync(p)) }));
const random = prng(Number(seedArg));
const deadline = performance.now() + Number(budgetArg);
const failures: string[] = [];
let ran = 0;
let instrumented = 0;
let merged = 0;
const kernel = kernelWasm();
const KERNEL_NAMESPACE = 'extism:host/env';
// Only where the engine has multi-memory (not Node 20) can a merged module be validated.
const multiMemory = validate(new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x05, 0x05, 0x02, 0x00, 0x00, 0x00, 0x00]));
const typed = (err: unknown): boolean => err instanceof WasmFormatError || err instanceof PlughostError;

for (let i = 0; i < Number(countArg) && performance.now() < deadline; i++) {
  const source = corpus[Math.floor(random() * corpus.length)]!;
  const { kind, bytes } = mutate(source.bytes, random);
  ran++;
  const where = `mutation ${i} (${kind} of ${source.name})`;
  const step = (what: string, run: () => void): boolean => {
    try {
      run();
      return true;
    } catch (err) {
      if (!typed(err)) failures.push(`${where}, ${what}: ${(err as Error)?.stack ?? String(err)}`);
      return false;
    }
  };
  step('readModule', () => readModule(bytes));
  step('capLimits', () => {
    const capped = capLimits(bytes, 100);
    if (validate(bytes) && !validate(capped)) failures.push(`${where}: valid, but not once capped`);
  });
  step('importOwnMemory', () => {
    const imported = importOwnMemory(bytes);
    if (imported && validate(bytes) && !validate(imported.bytes)) failures.push(`${where}: valid, but not with its memory imported`);
  });
  let own = bytes;
  step('importOwnMemory before the merge', () => {
    own = importOwnMemory(bytes)?.bytes ?? bytes;
  });
  // What the loader merges: the module with its memory imported, instrumented or not.
  const mergeChecked = (what: string, input: Uint8Array) => {
    step(what, () => {
      let out: ReturnType<typeof mergeKernel>;
      try {
        out = mergeKernel(input, kernel, KERNEL_NAMESPACE, KERNEL_GUEST_FUNCTIONS);
      } catch (err) {
        // a construct the merge does not carry is a plain Error (documented); anything else is a crash
        if (err instanceof Error && err.constructor === Error) return;
        throw err;
      }
      if (out === undefined) return;
      merged++;
      const reach = kernelReach(input, out.bytes, kernel, KERNEL_NAMESPACE, KERNEL_GUEST_FUNCTIONS);
      if (reach !== undefined) failures.push(`${where}, ${what}: the merged module reaches the kernel: ${reach.slice(0, 300)}`);
      if (multiMemory) {
        const before = validate(input);
        const after = validate(out.bytes);
        if (after && !before) failures.push(`${where}, ${what}: invalid, but valid once merged`);
        if (before && !after) failures.push(`${where}, ${what}: valid, but not once merged`);
      }
    });
  };
  mergeChecked('mergeKernel', own);
  step('instrumentForInterrupts', () => {
    const out = instrumentForInterrupts(bytes);
    instrumented++;
    if (validate(bytes) && !validate(out)) failures.push(`${where}: valid, but not once instrumented`);
    mergeChecked('mergeKernel after instrumentation', instrumentForInterrupts(own));
  });
}
process.stdout.write(`${JSON.stringify({ ran, instrumented, merged, multiMemory, failures: failures.slice(0, 20), failureCount: failures.length })}\n`);
