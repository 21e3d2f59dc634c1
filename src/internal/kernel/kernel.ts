// The host's handle on one kernel instance (see kernel.wat). Everything here uses i32 exports
// only, so the host side never creates a BigInt either.
import type { BlockStore } from '../../call-context.js';
import { LinkError, MemoryLimitError } from '../../errors.js';
import { PluginOutput } from '../../plugin-output.js';
import { bytesToOverwrite, UNFILLED_FROM_BYTES } from '../bytes.js';
import { kernelWasmBase64 } from './kernel-wasm.generated.js';

/** The kernel exports linked straight into a plug-in's `extism:host/env`, with their signatures. */
export const KERNEL_SIGNATURES = {
  alloc: { params: ['i64'], results: ['i64'] },
  free: { params: ['i64'], results: [] },
  length: { params: ['i64'], results: ['i64'] },
  length_unsafe: { params: ['i64'], results: ['i64'] },
  load_u8: { params: ['i64'], results: ['i32'] },
  load_u64: { params: ['i64'], results: ['i64'] },
  store_u8: { params: ['i64', 'i32'], results: [] },
  store_u64: { params: ['i64', 'i64'], results: [] },
  input_length: { params: [], results: ['i64'] },
  input_offset: { params: [], results: ['i64'] },
  input_load_u8: { params: ['i64'], results: ['i32'] },
  input_load_u64: { params: ['i64'], results: ['i64'] },
  output_set: { params: ['i64', 'i64'], results: [] },
  error_set: { params: ['i64'], results: [] },
  error_get: { params: [], results: ['i64'] },
} as const satisfies Record<string, { params: readonly ('i64' | 'i32')[]; results: readonly ('i64' | 'i32')[] }>;

/** Names of the kernel exports that are linked straight into a plug-in's `extism:host/env`. */
export const KERNEL_GUEST_FUNCTIONS = Object.keys(KERNEL_SIGNATURES) as (keyof typeof KERNEL_SIGNATURES)[];

interface KernelExports {
  memory: WebAssembly.Memory;
  host_begin(n: number): number;
  host_alloc(n: number): number;
  host_set_input_length(n: number): void;
  host_free(h: number): void;
  host_discard(h: number): void;
  host_length(h: number): number;
  host_take(h: number): number;
  host_error_handle(): number;
  host_error_length(): number;
  host_error_clear(): void;
  host_error_set(h: number): void;
  host_set_max_pages(pages: number): void;
  host_scrub(): void;
  host_release_all(): void;
  host_heap_bytes(): number;
  host_sweeps(): number;
  host_refused(): number;
  [guestFunction: string]: unknown;
}

let kernelModule: WebAssembly.Module | undefined;
let kernelBytes: Uint8Array | undefined;

/** The kernel's wasm bytes, decoded once: what a plug-in's module is merged with (wasm/kernel-merge.ts). */
export function kernelWasm(): Uint8Array {
  kernelBytes ??= Uint8Array.from(atob(kernelWasmBase64), (c) => c.charCodeAt(0));
  return kernelBytes;
}

/** The compiled kernel, shared by every plug-in of the process (it is 2 KB). */
function getKernelModule(): WebAssembly.Module {
  kernelModule ??= new WebAssembly.Module(kernelWasm() as Uint8Array<ArrayBuffer>);
  return kernelModule;
}

const NO_ERROR = -2;

// Where the kernel leaves the call's outcome in its memory (kernel.wat's layout), as 32-bit words.
const OUTCOME_WORD = 128 / 4;
const OUTPUT_OFFSET_WORD = 132 / 4;
const OUTPUT_LENGTH_WORD = 136 / 4;

/** Bits of {@link Kernel.outcome}. */
export const CALL_HAS_OUTPUT = 1;
export const CALL_HAS_ERROR = 2;
export const CALL_OUTPUT_INVALID = 4;

/**
 * The kernel memory cap when `memory.maxPages` is not set: 1 GiB (16384 pages). Without a cap a
 * hostile plug-in could make the host hold the whole 4 GiB a wasm32 memory can reach (through
 * host-function results and outputs) before anything failed; 1 GiB still holds the longest
 * string V8 makes (2^29 - 24 characters) as ASCII input next to an output as large.
 */
export const DEFAULT_KERNEL_MAX_PAGES = 16384;

/** A handle as the kernel's i32, or -1 when it cannot be one (not a whole number in 0..2^32-1). */
function handleIn32Bits(handle: number | bigint): number {
  const h = typeof handle === 'bigint' ? (handle > 0xffffffffn || handle < 0n ? -1 : Number(handle)) : handle;
  return h >= 0 && h <= 0xffffffff && Number.isInteger(h) ? h | 0 : -1;
}

/** The kernel's answer about a block's length as a number: -1 for "not a block", lengths above 2^31 unsigned. */
function lengthOrNone(n: number): number {
  return n === -1 ? -1 : n >>> 0;
}

/** Copy `length` bytes; a short run by hand, since `set()` costs more than the copy itself. */
function copyBytes(from: Uint8Array, fromOffset: number, to: Uint8Array, toOffset: number, length: number): void {
  if (length <= 64) {
    for (let i = 0; i < length; i++) to[toOffset + i] = from[fromOffset + i]!;
  } else {
    // a whole array (an input) is copied without making a subarray first
    to.set(fromOffset === 0 && length === from.length ? from : from.subarray(fromOffset, fromOffset + length), toOffset);
  }
}
/** A block more bytes long than the engine can make one string of (V8: 2^29 − 24 characters). */
export class TextTooLongError extends Error {
  constructor(
    readonly length: number,
    cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();
/** How much of an error message too long for a string is shown. */
const ERROR_PREFIX_BYTES = 1024;
/** Strings up to this many characters are tried as ASCII, a byte per character, before any encoder. */
const SHORT_TEXT = 1024;
const KEY_CACHE_SLOTS = 4;
const KEY_CACHE_MAX_BYTES = 64;

/** The kernel functions the host calls: each must be a function export of the kernel. */
const KERNEL_HOST_FUNCTIONS = [
  'host_begin',
  'host_alloc',
  'host_set_input_length',
  'host_free',
  'host_discard',
  'host_length',
  'host_take',
  'host_error_handle',
  'host_error_length',
  'host_error_clear',
  'host_error_set',
  'host_set_max_pages',
  'host_scrub',
  'host_release_all',
  'host_heap_bytes',
  'host_sweeps',
  'host_refused',
] as const satisfies readonly (keyof KernelExports)[];

function isKernelExports(exports: WebAssembly.Exports): exports is WebAssembly.Exports & KernelExports {
  return exports.memory instanceof WebAssembly.Memory && KERNEL_HOST_FUNCTIONS.every((name) => typeof exports[name] === 'function');
}

/** A kernel instance's exports, checked to be the ones {@link KernelExports} declares (a mismatch means kernel.wat and this file disagree). */
function kernelExports(exports: WebAssembly.Exports): KernelExports {
  if (!isKernelExports(exports)) throw new LinkError('plughost: the kernel module lacks an export the host calls (kernel.wat and kernel.ts disagree; rebuild)');
  return exports;
}

/** One plug-in's kernel memory and its allocator. */
export class Kernel implements BlockStore {
  private readonly k: KernelExports;
  private readonly memory: WebAssembly.Memory;
  private bytes: Uint8Array;
  /** The same memory as 32-bit words, for the outcome the kernel leaves there (read without a call into wasm). */
  private words: Int32Array;

  constructor(maxPages: number | undefined) {
    this.k = kernelExports(new WebAssembly.Instance(getKernelModule()).exports);
    this.memory = this.k.memory;
    this.bytes = new Uint8Array(this.memory.buffer);
    this.words = new Int32Array(this.memory.buffer);
    this.limitPages(maxPages);
  }

  private maxPages = DEFAULT_KERNEL_MAX_PAGES;

  /** Cap the kernel memory ({@link DEFAULT_KERNEL_MAX_PAGES} when undefined). */
  limitPages(maxPages: number | undefined): void {
    this.maxPages = maxPages ?? DEFAULT_KERNEL_MAX_PAGES;
    this.k.host_set_max_pages(this.maxPages);
  }

  /** Bytes of kernel memory reserved now. */
  get size(): number {
    return this.memory.buffer.byteLength;
  }

  /** Forget every block and zero all memory ever used, so another plug-in can have this kernel. */
  scrub(): void {
    this.k.host_scrub();
  }

  /** Drop every block at once (the plug-in's `reset()`); no handle handed out before stays live. */
  releaseAll(): void {
    this.k.host_release_all();
  }

  /** @internal Bytes of the kernel heap in use, free blocks included (0 after {@link releaseAll}). */
  get heapBytes(): number {
    return this.k.host_heap_bytes() >>> 0;
  }

  /** @internal Sweeps so far: the only moments a block the host freed can be handed out again. */
  get sweeps(): number {
    return this.k.host_sweeps() >>> 0;
  }

  private guest: Record<string, WebAssembly.ExportValue> | undefined;

  /** The functions the plug-in imports from `extism:host/env` that the kernel implements. */
  guestFunctions(): Record<string, WebAssembly.ExportValue> {
    if (this.guest === undefined) {
      this.guest = {};
      for (const name of KERNEL_GUEST_FUNCTIONS) this.guest[name] = this.k[name] as WebAssembly.ExportValue;
    }
    return this.guest;
  }

  private linkables: Record<string, WebAssembly.Memory | WebAssembly.Global> | undefined;

  /**
   * The kernel memory and its state globals, by the names the kernel exports them under: what
   * a plug-in module merged with the kernel imports (as one import namespace, made once per
   * kernel), so that its copy of the kernel's code and this instance are one kernel.
   */
  mergedImports(): Record<string, WebAssembly.Memory | WebAssembly.Global> {
    if (this.linkables === undefined) {
      const linkables: Record<string, WebAssembly.Memory | WebAssembly.Global> = {};
      for (const [name, value] of Object.entries(this.k)) {
        if (value instanceof WebAssembly.Memory || value instanceof WebAssembly.Global) linkables[name] = value;
      }
      this.linkables = linkables;
    }
    return this.linkables;
  }

  /** The kernel memory as bytes; re-derived only when the memory grew (which detaches the old buffer). */
  view(): Uint8Array {
    // `length`, not `byteLength`: on V8 11 the latter is a call (~20 ns), the former is inlined,
    // and this runs several times per plug-in call. Both are 0 once growth detached the buffer.
    if (this.bytes.length === 0) this.refreshViews();
    return this.bytes;
  }

  /**
   * A private copy of kernel memory `[offset, offset + length)` in an ArrayBuffer of its own,
   * exactly that long, made as a {@link PluginOutput} straight away (a call's output is made on
   * every call). The buffer is the output's alone: a user may read `buffer` whole, or transfer it.
   */
  private copyOut(offset: number, length: number): PluginOutput {
    // A typed array first, its buffer after: up to 64 bytes V8 makes the array on its own heap
    // without a call into C++, and its `buffer` then costs less than a `new ArrayBuffer`. Up to
    // a few KiB, `slice` allocates and copies in one call into C++ (three otherwise: the array,
    // a subarray, `set`). A large one skips the zero-fill where the platform can: the copy
    // overwrites every byte at once.
    if (length > 64 && length < UNFILLED_FROM_BYTES) return new PluginOutput(this.view().slice(offset, offset + length).buffer);
    const copy = bytesToOverwrite(length);
    copyBytes(this.view(), offset, copy, 0, length);
    return new PluginOutput(copy.buffer);
  }

  private refreshViews(): void {
    this.bytes = new Uint8Array(this.memory.buffer);
    this.words = new Int32Array(this.memory.buffer);
  }

  /** {@link view} as 32-bit words. */
  private wordView(): Int32Array {
    if (this.words.length === 0) this.refreshViews();
    return this.words;
  }

  /** Release the previous call's blocks and place this call's input (a string goes in as UTF-8). */
  begin(input: Uint8Array | string): void {
    if (typeof input === 'string') {
      this.beginText(input);
      return;
    }
    const n = input.length;
    const offset = this.reserveInput(n);
    if (n !== 0) copyBytes(input, 0, this.view(), offset, n);
  }

  private reserveInput(size: number): number {
    const offset = this.k.host_begin(size) >>> 0;
    if (offset === 0) {
      throw new MemoryLimitError(`input of ${size} bytes does not fit in the kernel memory limit`, this.memoryLimitBytes(), size);
    }
    return offset;
  }

  // Encoding straight into kernel memory: TextEncoder.encode() costs ~1 µs even for a short
  // string on Node 20, more than the rest of a small call.
  private beginText(text: string): void {
    const n = text.length;
    if (n <= SHORT_TEXT && this.writeAscii(text, this.reserveInput(n))) return;
    // A worst case past the cap may still fit once encoded.
    if (n * 3 > this.memoryLimitBytes()) {
      this.begin(utf8Encoder.encode(text));
      return;
    }
    // Not ASCII (or long): reserve the worst case, let the native encoder write, then shrink.
    const offset = this.reserveInput(n * 3);
    const { written } = utf8Encoder.encodeInto(text, this.view().subarray(offset, offset + n * 3));
    this.k.host_set_input_length(written);
  }

  /** Write `text` at `offset`, a byte per character, when it is all ASCII; false (the bytes partly written) when it is not. */
  private writeAscii(text: string, offset: number): boolean {
    const bytes = this.view();
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c > 0x7f) return false;
      bytes[offset + i] = c;
    }
    return true;
  }

  /** The cap on kernel memory, in bytes: what a MemoryLimitError reports as its limit. */
  private memoryLimitBytes(): number {
    return this.maxPages * 65536;
  }

  /**
   * When the memory limit refused an allocation during this call (the guest's `alloc` got 0,
   * or a host function's result did not fit), the {@link MemoryLimitError} that explains
   * `failure`, the call's error; otherwise undefined.
   */
  memoryLimitFailure(functionName: string, failure: Error): MemoryLimitError | undefined {
    const refused = this.k.host_refused();
    if (refused === 0) return undefined;
    const limit = this.memoryLimitBytes();
    return new MemoryLimitError(
      `"${functionName}" failed after the kernel memory refused ${refused} bytes: it is capped at ${limit} bytes ` +
        `(memory.maxPages, ${DEFAULT_KERNEL_MAX_PAGES} pages by default; raise it if the plug-in needs more). The plug-in's error: ${failure.message}`,
      limit,
      refused,
    );
  }

  /**
   * Validated length of a live block, 0 for handle 0 (the empty block), or -1. Accepts anything
   * a host function was handed.
   */
  length(handle: number | bigint): number {
    const h = handleIn32Bits(handle);
    return h === -1 ? -1 : lengthOrNone(this.k.host_length(h));
  }

  /**
   * {@link length}, and the block is freed (as the host frees a host function's argument, into
   * the kernel's quarantine): its bytes stay readable until the next allocation at least.
   */
  private take(handle: number | bigint): number {
    const h = handleIn32Bits(handle);
    return h === -1 ? -1 : lengthOrNone(this.k.host_take(h));
  }

  /** A copy of a live block's bytes (empty for handle 0), or null when `handle` is neither. */
  read(handle: number | bigint): PluginOutput | null {
    const n = this.length(handle);
    return n < 0 ? null : this.copyOut(Number(handle), n);
  }

  /**
   * A private, compact copy of a live block (for keeping, e.g. as a var), or null; the block
   * is freed. Written into `reuse` when that has the block's length (a var set again to a
   * value of the same size).
   */
  takeToKeep(handle: number | bigint, reuse?: Uint8Array): Uint8Array | null {
    const n = this.take(handle);
    if (n < 0) return null;
    const start = Number(handle);
    if (reuse === undefined || reuse.length !== n) return this.view().slice(start, start + n);
    copyBytes(this.view(), start, reuse, 0, n);
    return reuse;
  }

  // The last few keys (config_get, var_get, var_set) as bytes and text: plug-ins ask for the
  // same names call after call, and a string made afresh is also hashed afresh by the Map
  // that looks it up.
  private readonly keyBytes: Uint8Array[] = [];
  private readonly keyTexts: string[] = [];
  private nextKeySlot = 0;

  /** A key (config or var name) as text, remembered for the next time it comes; the block is freed. */
  takeKey(handle: number | bigint): string | null {
    const n = this.take(handle);
    if (n < 0) return null;
    const start = Number(handle);
    const bytes = this.view();
    outer: for (let slot = 0; slot < this.keyBytes.length; slot++) {
      const known = this.keyBytes[slot]!;
      if (known.length !== n) continue;
      for (let i = 0; i < n; i++) if (known[i] !== bytes[start + i]) continue outer;
      return this.keyTexts[slot]!;
    }
    const text = this.textAt(start, n);
    if (n <= KEY_CACHE_MAX_BYTES) {
      this.keyBytes[this.nextKeySlot] = bytes.slice(start, start + n);
      this.keyTexts[this.nextKeySlot] = text;
      this.nextKeySlot = (this.nextKeySlot + 1) % KEY_CACHE_SLOTS;
    }
    return text;
  }

  /** A live block's bytes decoded as UTF-8 ('' for handle 0), or null when `handle` is neither. */
  readText(handle: number | bigint): string | null {
    const n = this.length(handle);
    return n < 0 ? null : this.textAt(Number(handle), n);
  }

  private textAt(start: number, n: number): string {
    const bytes = this.view();
    // Keys and short messages: a JS loop beats TextDecoder's call into C++ several times over.
    if (n <= 64) {
      let text = '';
      for (let i = start; i < start + n; i++) {
        const c = bytes[i]!;
        if (c > 0x7f) return utf8Decoder.decode(bytes.subarray(start, start + n));
        text += String.fromCharCode(c);
      }
      return text;
    }
    try {
      return utf8Decoder.decode(bytes.subarray(start, start + n));
    } catch (err) {
      // by then a taken block is freed: its length travels with the error
      throw new TextTooLongError(n, err);
    }
  }

  /** Allocate a block holding `data`; throws {@link MemoryLimitError} when the kernel memory is full. */
  write(data: Uint8Array | string): number {
    if (typeof data === 'string' && data.length <= SHORT_TEXT) {
      // Short ASCII goes straight in, as the input does (see beginText); anything else is encoded first.
      const h = this.alloc(data.length);
      if (this.writeAscii(data, h)) return h;
      this.k.host_discard(h);
    }
    const bytes = typeof data === 'string' ? utf8Encoder.encode(data) : data;
    const n = bytes.length;
    const h = this.alloc(n);
    copyBytes(bytes, 0, this.view(), h, n);
    return h;
  }

  /** Allocate a block of `size` bytes; throws {@link MemoryLimitError} when the kernel memory is full. */
  alloc(size: number): number {
    const h = size >= 0 && size <= 0xffffffef ? this.k.host_alloc(size) >>> 0 : 0;
    if (h === 0) throw new MemoryLimitError(`cannot allocate ${size} bytes of kernel memory`, this.memoryLimitBytes(), size);
    return h;
  }

  /**
   * Free a live block on the guest's behalf (it goes to the quarantine, so a second free by the
   * guest is harmless); anything else (0, a stale or made-up handle) is ignored.
   */
  free(handle: number | bigint): void {
    // host_free validates the block itself; only the range has to be checked here
    const h = handleIn32Bits(handle);
    if (h >= 0) this.k.host_free(h);
  }

  /** What the guest left at the end of a call: a mix of the `CALL_*` bits. */
  outcome(): number {
    return this.wordView()[OUTCOME_WORD]!;
  }

  /**
   * The output the guest set: a private copy, or null for none. Throws a plain Error when the
   * guest set a range outside the kernel memory (the caller turns it into a call error).
   */
  takeOutput(outcome: number): PluginOutput | null {
    if ((outcome & CALL_OUTPUT_INVALID) !== 0) throw new Error('the plug-in passed output_set a range outside its kernel memory');
    if ((outcome & CALL_HAS_OUTPUT) === 0) return null;
    const words = this.wordView();
    return this.copyOut(words[OUTPUT_OFFSET_WORD]! >>> 0, words[OUTPUT_LENGTH_WORD]! >>> 0);
  }

  /**
   * The error message the guest set with `error_set`: undefined when none, the text of the
   * block otherwise (a message saying so when the handle is not a live block).
   */
  errorMessage(): string | undefined {
    const length = this.k.host_error_length();
    if (length === NO_ERROR) return undefined;
    if (length < 0) return 'the plug-in called error_set with a handle that is not a live block';
    const offset = this.k.host_error_handle() >>> 0;
    try {
      return this.textAt(offset, length);
    } catch (err) {
      if (!(err instanceof TextTooLongError)) throw err;
      // Longer than a string may be: the call still fails with a PluginCallError, its message the start of the plug-in's.
      return `the plug-in called error_set with a message of ${length} bytes, more than the host can hold in one string (${err.message}); it begins: ${this.textAt(offset, ERROR_PREFIX_BYTES)}`;
    }
  }

  /** Store an error message for the guest to see with `error_get` (CallContext.setError). */
  setError(message: string | null): void {
    if (message === null) this.k.host_error_clear();
    else this.k.host_error_set(this.write(message));
  }
}
