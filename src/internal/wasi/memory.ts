/**
 * Bounds-checked access to the guest's linear memory for the WASI functions.
 *
 * @module
 */
import { Errno, fail } from './errno.js';

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Most buffers one fd_read/fd_write/fd_pread/fd_pwrite uses: Linux's IOV_MAX. Past it the rest
 * are left out, a short read or write (wasmtime uses one buffer a call), which every reader and
 * writer already handles; EINVAL, as Linux's readv/writev give, would fail a guest the reference
 * host serves.
 */
export const MAX_IOVECS = 1024;

/**
 * The guest memory as the WASI functions see it. Every access is checked against the current
 * size first and fails with EFAULT, so a guest's bad pointer never becomes a host exception.
 * Views are cached and re-derived only when the buffer changed (growth detaches the old one).
 */
export class GuestMemory {
  #memory: WebAssembly.Memory | undefined;
  #buffer: ArrayBufferLike | undefined;
  #view = new DataView(new ArrayBuffer(0));
  #bytes = new Uint8Array(0);

  /** Use `memory` from now on (after instantiation and after each re-instantiation). */
  set(memory: WebAssembly.Memory): void {
    this.#memory = memory;
    this.#buffer = undefined;
  }

  #refresh(): void {
    if (this.#memory === undefined) throw new Error('WASI: guest memory not set (call setMemory after instantiation)');
    const buffer = this.#memory.buffer;
    // A grown shared memory keeps its identity but not its length, so compare both.
    if (buffer !== this.#buffer || buffer.byteLength !== this.#bytes.byteLength) {
      this.#buffer = buffer;
      this.#view = new DataView(buffer);
      this.#bytes = new Uint8Array(buffer);
    }
  }

  /** Validate [ptr, ptr+len) and return the memory's DataView; EFAULT when out of range. */
  view(ptr: number, len: number): DataView {
    this.check(ptr, len);
    return this.#view;
  }

  /** Fail with EFAULT unless [ptr, ptr+len) lies inside memory. `ptr`/`len` are raw i32 values. */
  check(ptr: number, len: number): void {
    this.#refresh();
    const p = ptr >>> 0;
    const n = len >>> 0;
    if (p + n > this.#bytes.byteLength) fail(Errno.EFAULT);
  }

  /** A live view of [ptr, ptr+len) (writes go straight to the guest). */
  bytes(ptr: number, len: number): Uint8Array {
    this.check(ptr, len);
    const p = ptr >>> 0;
    return this.#bytes.subarray(p, p + (len >>> 0));
  }

  u8(ptr: number): number {
    return this.view(ptr, 1).getUint8(ptr >>> 0);
  }
  u16(ptr: number): number {
    return this.view(ptr, 2).getUint16(ptr >>> 0, true);
  }
  u32(ptr: number): number {
    return this.view(ptr, 4).getUint32(ptr >>> 0, true);
  }
  u64(ptr: number): bigint {
    return this.view(ptr, 8).getBigUint64(ptr >>> 0, true);
  }
  setU8(ptr: number, value: number): void {
    this.view(ptr, 1).setUint8(ptr >>> 0, value);
  }
  setU16(ptr: number, value: number): void {
    this.view(ptr, 2).setUint16(ptr >>> 0, value, true);
  }
  setU32(ptr: number, value: number): void {
    this.view(ptr, 4).setUint32(ptr >>> 0, value, true);
  }
  setU64(ptr: number, value: bigint): void {
    this.view(ptr, 8).setBigUint64(ptr >>> 0, BigInt.asUintN(64, value), true);
  }

  /** Copy `data` to `ptr` (bounds-checked as a whole before any byte is written). */
  write(ptr: number, data: Uint8Array): void {
    this.bytes(ptr, data.byteLength).set(data);
  }

  /** Decode a UTF-8 string; EILSEQ when the bytes are not valid UTF-8. */
  string(ptr: number, len: number): string {
    const bytes = this.bytes(ptr, len);
    try {
      // TextDecoder refuses views of a SharedArrayBuffer, so decode a copy.
      return utf8Decoder.decode(bytes.buffer instanceof ArrayBuffer ? bytes : bytes.slice());
    } catch {
      return fail(Errno.EILSEQ);
    }
  }

  /**
   * The buffers of an iovec/ciovec array (`count` entries of {ptr u32, len u32}): the first
   * {@link MAX_IOVECS} of them, all validated before any is used, as live views into guest memory.
   */
  iovecs(ptr: number, count: number): Uint8Array[] {
    // A view per entry: without a cap a guest with a large memory had the host make hundreds of
    // millions of them in one call, and V8 ended the process out of heap.
    const n = Math.min(count >>> 0, MAX_IOVECS);
    // Check the entries used as a whole first.
    const view = this.view(ptr, n * 8);
    const base = ptr >>> 0;
    const result: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const bufPtr = view.getUint32(base + i * 8, true);
      const bufLen = view.getUint32(base + i * 8 + 4, true);
      result.push(this.bytes(bufPtr, bufLen));
    }
    return result;
  }
}
