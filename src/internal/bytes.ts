/** Whether `value` is shared memory (a SharedArrayBuffer, which a page that is not cross-origin isolated lacks). */
export function isSharedMemory(value: unknown): value is SharedArrayBuffer {
  return typeof SharedArrayBuffer === 'function' && value instanceof SharedArrayBuffer;
}

/** Bytes as a Uint8Array over the same memory (no copy), or undefined when `value` holds no bytes. */
export function asBytes(value: unknown): Uint8Array | undefined {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return undefined;
}

/** `chunks` joined into one array of `total` bytes (their summed length). */
export function concatBytes(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** Below this many bytes a zero-filled array costs no more than an unfilled one (and is made without a call into C++). */
export const UNFILLED_FROM_BYTES = 4096;

let makeUnfilled: (length: number) => Uint8Array = (length) => new Uint8Array(length);

/**
 * An array of exactly `length` bytes in an ArrayBuffer of its own (`byteOffset` 0) whose bytes
 * may be anything: only for a caller that overwrites every one of them before anyone reads it.
 * Zero-filling a fresh megabyte costs as much as copying one, and an output is copied over whole.
 */
export function bytesToOverwrite(length: number): Uint8Array {
  return length < UNFILLED_FROM_BYTES ? new Uint8Array(length) : makeUnfilled(length);
}

/** Make {@link bytesToOverwrite}'s large arrays with `allocate`: a platform's allocator that skips the zero-fill. */
export function allocateUnfilledWith(allocate: (length: number) => Uint8Array): void {
  makeUnfilled = allocate;
}
