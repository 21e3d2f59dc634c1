/**
 * `random_get`, from the platform's cryptographic generator (Web Crypto, global in Node 20 and
 * browsers).
 *
 * @module
 */
import type { WasiContext, WasiFunction } from './context.js';
import { Errno } from './errno.js';

// getRandomValues fills at most 64 KiB per call and refuses views of shared memory, so fill a
// scratch buffer and copy.
const CHUNK = 65536;
/** Bytes filled between two looks at the call's deadline: a guest may ask for its whole memory (seconds for 1 GiB). */
const BETWEEN_CHECKS = 16 * CHUNK;

/** The `random_get` import. */
export function randomFunctions(ctx: WasiContext): Record<string, WasiFunction> {
  const { memory } = ctx;
  let scratch: Uint8Array<ArrayBuffer> | undefined;
  return {
    random_get(bufPtr: number, bufLen: number): number {
      const target = memory.bytes(bufPtr, bufLen);
      scratch ??= new Uint8Array(CHUNK);
      for (let offset = 0; offset < target.byteLength; offset += CHUNK) {
        if (offset % BETWEEN_CHECKS === 0 && offset > 0) ctx.checkInterrupt();
        const n = Math.min(CHUNK, target.byteLength - offset);
        const chunk = scratch.subarray(0, n);
        globalThis.crypto.getRandomValues(chunk);
        target.set(chunk, offset);
      }
      return Errno.SUCCESS;
    },
  };
}
