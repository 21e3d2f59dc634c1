/**
 * `proc_exit` and `proc_raise`.
 *
 * @module
 */
import type { WasiFunction } from './context.js';
import { Errno } from './errno.js';

/**
 * Thrown by `proc_exit(code)`: unwinds the guest out of its call. The host decides what an exit
 * means (per the ABI, code 0 without an error message is success).
 *
 * ```ts
 * try { instance.exports._start(); } catch (e) { if (e instanceof WasiExit) console.log(e.code); else throw e; }
 * ```
 */
export class WasiExit extends Error {
  /** The exit code the guest passed to `proc_exit`. */
  readonly code: number;
  constructor(code: number) {
    super(`WASI guest exited with code ${code}`);
    this.code = code;
  }
  override get name(): string {
    return 'WasiExit';
  }
}

/** The `proc_*` imports. */
export function procFunctions(): Record<string, WasiFunction> {
  return {
    proc_exit(code: number): never {
      // Signed, as the reference runtime reports it: proc_exit(-1) is exit code -1, not 4294967295.
      throw new WasiExit(code | 0);
    },
    // Signals have no meaning in the sandbox; a guest raising one learns so.
    proc_raise(_signal: number): number {
      return Errno.ENOSYS;
    },
  };
}
