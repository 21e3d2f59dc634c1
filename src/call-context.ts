import { PluginOutput } from './plugin-output.js';

const utf8 = new TextEncoder();

/**
 * Log levels, lowest first. `silent` turns plug-in logging off. Declared here, where a host
 * function reads the plug-in's level, and re-exported with the options that set it.
 */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';

/**
 * @internal The plug-in's memory blocks as a host function reaches them: the kernel itself on
 * the plug-in's thread, a proxy over the sync channel for a plug-in in a worker.
 */
export interface BlockStore {
  /** A copy of the block, empty for handle 0, null when not a live block. */
  read(handle: number | bigint): PluginOutput | null;
  /** The block's length; negative when not a live block. */
  length(handle: number | bigint): number;
  write(data: string | Uint8Array): number;
  alloc(size: number): number;
  free(handle: number | bigint): void;
  setError(message: string | null): void;
}

/** @internal The plug-in's vars, as a host function reaches them (see {@link BlockStore}). */
export interface VarAccess {
  get(name: string): Uint8Array | undefined;
  /** `undefined` deletes the var. */
  set(name: string, value: Uint8Array | undefined): void;
}

/** @internal What a CallContext needs from the plug-in it belongs to. */
export interface CallContextHost {
  readonly kernel: BlockStore;
  readonly vars: VarAccess;
  hostContext: unknown;
  logLevel: LogLevel;
}

/**
 * What a host function gets as its first argument: access to the calling plug-in's memory,
 * vars and per-call context. Handles are the numbers the plug-in passes (bigint accepted too).
 *
 * ```ts
 * functions: {
 *   'extism:host/user': {
 *     greet(ctx: CallContext, name: number) {
 *       return ctx.store(`Hello, ${ctx.read(name)?.text()}!`);
 *     },
 *   },
 * }
 * ```
 */
export class CallContext {
  /** @internal */
  constructor(private readonly host: CallContextHost) {}

  /**
   * The `hostContext` given to the current {@link Plugin.call}: `any` unless typed
   * (`ctx.hostContext<Session>()`), as in `@extism/extism`, whose users read its fields as is.
   */
  hostContext<T = any>(): T {
    return this.host.hostContext as T;
  }

  /**
   * A copy of the block at `handle` (an `ArrayBuffer` of its own), an empty one for handle 0
   * (the empty block), or null when `handle` is not a live block.
   */
  read(handle: number | bigint): PluginOutput | null {
    return this.host.kernel.read(handle);
  }

  /** Copy `data` (UTF-8 for strings) into a new block and return its handle; throws a {@link MemoryLimitError} when kernel memory is full. */
  store(data: string | Uint8Array): number {
    return this.host.kernel.write(data);
  }

  /** Length of the block at `handle`; 0 for handle 0 and when it is not a live block. */
  length(handle: number | bigint): number {
    return Math.max(0, this.host.kernel.length(handle));
  }

  /** Allocate an uninitialized block of `size` bytes and return its handle; throws a {@link MemoryLimitError} when kernel memory is full. */
  alloc(size: number | bigint): number {
    return this.host.kernel.alloc(Number(size));
  }

  /**
   * Free the block at `handle` (ignored when it is not a live block). Its space is not handed
   * out again before the kernel runs out of fresh space, so a plug-in that frees it again
   * afterwards (as some PDKs do with host-function arguments) frees nothing else.
   */
  free(handle: number | bigint): void {
    this.host.kernel.free(handle);
  }

  /** A plug-in var, or null when unset. */
  getVariable(name: string): PluginOutput | null {
    const value = this.host.vars.get(name);
    if (value === undefined) return null;
    const copy = new ArrayBuffer(value.byteLength);
    new Uint8Array(copy).set(value);
    return new PluginOutput(copy);
  }

  /** Set a plug-in var (strings as UTF-8); counts against `maxVarBytes`: past it, throws a {@link MemoryLimitError}. */
  setVariable(name: string, value: string | Uint8Array): void {
    this.host.vars.set(name, typeof value === 'string' ? utf8.encode(value) : value.slice());
  }

  /** Delete a plug-in var. */
  deleteVariable(name: string): void {
    this.host.vars.set(name, undefined);
  }

  /** Set (or with null, clear) the error the plug-in sees with `error_get`. */
  setError(err?: string | Error | null): void {
    this.host.kernel.setError(err === undefined || err === null ? null : err instanceof Error ? err.message : String(err));
  }

  /** The plug-in's current log level; settable. */
  get logLevel(): LogLevel {
    return this.host.logLevel;
  }

  set logLevel(level: LogLevel) {
    this.host.logLevel = level;
  }
}
