// Linear memories for plug-in instances, reused. Reserving a memory (V8 maps gigabytes of
// address space for each, and frees it only when the garbage collector finds the instance
// dead) is most of what instantiating a plug-in costs; a module whose memory was made an
// import (module-loader.ts) can be given one that a closed instance gave back instead.
//
// A memory is only taken back while it still has its initial size (so the next instance sees
// exactly what a fresh one would), and only if small, since it is zeroed on the way in: every
// byte the previous owner wrote is gone before anyone else can get it.
import type { OwnMemory } from './module-loader.js';

const PAGE = 65536;
/** Memories larger than this are not kept: zeroing them would cost more than a new one. */
const MAX_POOLED_PAGES = 32;
/** Bytes kept in the pool of this thread, at most. */
const MAX_POOLED_BYTES = 32 * 1024 * 1024;

const pool = new Map<string, WebAssembly.Memory[]>();
let pooledBytes = 0;

const keyOf = (limits: OwnMemory) => `${limits.initial}:${limits.maximum ?? ''}`;

/** A memory with exactly these limits, all zeros: from the pool when one is there. */
export function acquireMemory(limits: OwnMemory): WebAssembly.Memory {
  const memory = pool.get(keyOf(limits))?.pop();
  if (memory !== undefined) {
    pooledBytes -= limits.initial * PAGE;
    return memory;
  }
  return new WebAssembly.Memory(limits.maximum === undefined ? { initial: limits.initial } : { initial: limits.initial, maximum: limits.maximum });
}

/**
 * Give back the memory of an instance that will never run again (its plug-in closed, or it
 * was replaced). It is kept, zeroed, if it never grew and there is room.
 */
export function releaseMemory(memory: WebAssembly.Memory, limits: OwnMemory): void {
  const bytes = limits.initial * PAGE;
  if (limits.initial > MAX_POOLED_PAGES || memory.buffer.byteLength !== bytes || pooledBytes + bytes > MAX_POOLED_BYTES) return;
  new Uint8Array(memory.buffer).fill(0);
  const key = keyOf(limits);
  let list = pool.get(key);
  if (list === undefined) pool.set(key, (list = []));
  list.push(memory);
  pooledBytes += bytes;
}

/** @internal Memories waiting in this thread's pool (for tests). */
export function pooledMemoryCount(): number {
  let count = 0;
  for (const list of pool.values()) count += list.length;
  return count;
}
