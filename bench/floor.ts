// The floor V8 allows: what the scenarios' work costs with no Extism host at all. A plain
// wasm module (test/fixtures/bench-floor.wat) called straight from JavaScript, its input
// already in its linear memory.
import { fixtureFile, wasmBytes } from './hosts.js';

/** Where bench-floor.wat expects inputs (its vowel table sits below). */
export const INPUT_OFFSET = 65536;

interface FloorExports {
  memory: WebAssembly.Memory;
  noop(): number;
  count_vowels(p: number, n: number): bigint;
  sum(p: number, n: number): bigint;
  host_calls(): number;
}

export class Floor {
  readonly exports: FloorExports;
  readonly bytes: Uint8Array;

  constructor() {
    const module = new WebAssembly.Module(wasmBytes(fixtureFile('bench-floor')) as Uint8Array<ArrayBuffer>);
    const imports = { env: { mix: (a: number, b: number) => a + b } };
    this.exports = new WebAssembly.Instance(module, imports).exports as unknown as FloorExports;
    this.bytes = new Uint8Array(this.exports.memory.buffer);
  }

  /** Place `input` where the floor functions read it. */
  load(input: Uint8Array): void {
    this.bytes.set(input, INPUT_OFFSET);
  }

  countVowels(n: number): bigint {
    return this.exports.count_vowels(INPUT_OFFSET, n);
  }

  sum(n: number): bigint {
    return this.exports.sum(INPUT_OFFSET, n);
  }
}

/** An instance of `module` with every import a do-nothing function: the floor of creating a plug-in. */
export function stubInstantiate(module: WebAssembly.Module): () => WebAssembly.Instance {
  const imports: Record<string, Record<string, WebAssembly.ImportValue>> = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.kind !== 'function') throw new Error(`stubInstantiate: cannot stub the ${imp.kind} import ${imp.module}.${imp.name}`);
    (imports[imp.module] ??= {})[imp.name] = () => 0;
  }
  return () => new WebAssembly.Instance(module, imports);
}
