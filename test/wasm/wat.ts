// WAT assembly with every proposal the instrumentation must decode (SIMD, threads, tail
// calls, exceptions) and with the name section. Plain modules use assemble() directly.
import { assemble } from '../helpers.js';

/** Assembles WAT with all features Node 20 runs enabled, keeping `$names` in a name section. */
export function assembleFull(source: string): Promise<Uint8Array> {
  return assemble(source, { all: true });
}
