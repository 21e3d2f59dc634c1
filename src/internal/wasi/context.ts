/**
 * State shared by the WASI functions of one guest.
 *
 * @module
 */
import type { FdTable } from './fd-table.js';
import type { HostFileSystem } from './host-fs.js';
import type { GuestMemory } from './memory.js';

/** Everything a spec area's functions need; built once per {@link createWasi} call. */
export interface WasiContext {
  readonly memory: GuestMemory;
  readonly fds: FdTable;
  readonly fs: HostFileSystem;
  /** Block the thread for `ms` milliseconds (may throw to abort the call). */
  readonly sleep: (ms: number) => void;
  /** Throws to end the call when its deadline has passed or it was aborted: for long work inside one WASI call. */
  readonly checkInterrupt: () => void;
  /** Arguments and environment, each already encoded as UTF-8 with its NUL terminator. */
  readonly args: readonly Uint8Array[];
  readonly environ: readonly Uint8Array[];
}

/** The signature every WASI import is written in: raw wasm arguments in, errno (or nothing) out. */
export type WasiFunction = (...args: any[]) => number | void;
