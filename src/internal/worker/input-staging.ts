// How a call's input reaches a plug-in's worker. Small inputs travel in the message; large ones
// are copied into a SharedArrayBuffer the worker already holds (one per call in flight), since
// a fresh buffer per call costs more to allocate and zero than the copy does on this thread.
// Inputs of calls that wait in a queue are captured first: the caller may reuse its bytes.
// Bytes the caller already holds in shared memory are neither copied nor captured: the worker
// reads them in place (the caller leaves them unchanged until the call settles, see
// PluginInput), which spares this thread the copy, the floor of a large pooled call.
import type { PluginInput } from '../backend.js';
import { asBytes, isSharedMemory } from '../bytes.js';
import type { CallRequest, StagedInput } from './protocol.js';
import { RING_INLINE_BYTES } from './rings.js';

/** An input copied at call time, so the caller may reuse its bytes while the call waits in a queue. */
export class OwnedInput {
  constructor(readonly buffer: ArrayBuffer) {}
}

/** The caller's bytes in shared memory: never copied here, the worker reads them in place. */
export class SharedInput {
  constructor(readonly bytes: Uint8Array) {}
}

/** What a queued call keeps of its input: see {@link captureInput}. */
export type CapturedInput = string | OwnedInput | SharedInput;

/**
 * `input`'s bytes when they are in shared memory (a SharedArrayBuffer or a view over one), as a
 * view of exactly them; else undefined. Fixed-length even over a growable buffer: the length is
 * the one at call time.
 */
function sharedInput(input: unknown): SharedInput | undefined {
  if (input instanceof SharedInput) return input;
  if (ArrayBuffer.isView(input)) {
    return isSharedMemory(input.buffer) ? new SharedInput(new Uint8Array(input.buffer, input.byteOffset, input.byteLength)) : undefined;
  }
  return isSharedMemory(input) ? new SharedInput(new Uint8Array(input, 0, input.byteLength)) : undefined;
}

/**
 * What a queued call keeps of its input: strings as they are (immutable), bytes as a private
 * copy, bytes in shared memory as a view (read in place when the call runs). A call that starts
 * at once is not captured: its bytes go straight to the worker.
 */
export function captureInput(input: PluginInput | CapturedInput): CapturedInput {
  if (input instanceof OwnedInput || typeof input === 'string' || input instanceof SharedInput) return input;
  if (input === undefined || input === null) return '';
  const shared = sharedInput(input);
  if (shared !== undefined) return shared;
  if (typeof input === 'number' || !(input instanceof ArrayBuffer || ArrayBuffer.isView(input))) return String(input);
  const bytes = asBytes(input)!;
  const buffer = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(buffer).set(bytes);
  return new OwnedInput(buffer);
}

/**
 * What a call taken back from a worker (that is going away) keeps of what it sent, to send it
 * again: staged bytes are copied out, since the staging memory goes to other calls.
 */
export function keepSent(sent: WireInput['sent']): CapturedInput {
  if (sent instanceof Uint8Array) return new OwnedInput(sent.slice().buffer);
  return sent ?? '';
}

/** Inputs from this size on go through staging memory; below it the message itself is cheaper. */
const STAGING_MIN = 16 * 1024;
const STAGING_INITIAL_BYTES = 64 * 1024;

/** Which staging memory a call uses: of the calls in flight (the running one, those posted ahead), two may use one each. */
export type StagingIndex = 0 | 1;

/**
 * Whether {@link InputStaging.wire} puts `input` (as the call holds it, raw or captured) through
 * staging memory: a large input that is not in shared memory already.
 */
export function needsStaging(input: PluginInput | CapturedInput, keep: boolean): boolean {
  if (typeof input === 'string') return input.length >= STAGING_MIN;
  if (input instanceof OwnedInput) return keep && input.buffer.byteLength >= STAGING_MIN;
  if (input instanceof ArrayBuffer) return input.byteLength >= STAGING_MIN;
  return ArrayBuffer.isView(input) && !isSharedMemory(input.buffer) && input.byteLength >= STAGING_MIN;
}

/** Whether `input` is small: it travels in the message itself (a pool then posts more such calls ahead to one worker). */
export function isSmallInput(input: PluginInput): boolean {
  if (typeof input === 'string') return input.length < STAGING_MIN;
  if (input instanceof ArrayBuffer || ArrayBuffer.isView(input) || isSharedMemory(input)) return input.byteLength < STAGING_MIN;
  return true;
}

/**
 * `input` as a calls ring takes it (see rings.ts): a string or bytes of ours or the caller's, when
 * small enough; undefined for anything else (large, or in shared memory, read in place).
 */
export function ringInput(input: PluginInput | CapturedInput): string | Uint8Array | undefined {
  if (typeof input === 'string') return input.length * 3 <= RING_INLINE_BYTES ? input : undefined;
  if (input instanceof SharedInput) return undefined;
  if (input instanceof OwnedInput) return input.buffer.byteLength <= RING_INLINE_BYTES ? new Uint8Array(input.buffer) : undefined;
  if (input instanceof ArrayBuffer || ArrayBuffer.isView(input)) {
    const bytes = asBytes(input)!;
    return isSharedMemory(bytes.buffer) || bytes.byteLength > RING_INLINE_BYTES ? undefined : bytes;
  }
  if (isSharedMemory(input)) return undefined;
  return captureInput(input) as string;
}

/** An input ready to post (see {@link CallRequest.input}). */
export interface WireInput {
  input: CallRequest['input'];
  transfer: Transferable[];
  /** What was sent, still readable here (only when asked to keep it; see {@link keepSent}). */
  sent: string | Uint8Array | SharedInput | undefined;
  /** The staging memory it went through, if any. */
  staging: StagingIndex | null;
}

/** A buffer of ours as the input: transferred, or, to `keep` it, cloned (it is small). */
function ownBuffer(buffer: ArrayBuffer, keep: boolean): WireInput {
  return keep
    ? { input: buffer, transfer: [], sent: new Uint8Array(buffer), staging: null }
    : { input: buffer, transfer: [buffer], sent: undefined, staging: null };
}

const utf8 = new TextEncoder();

/** The staging memory a caller found free; the caller checks {@link needsStaging} first, so there is one. */
function freeIndex(index: StagingIndex | null): StagingIndex {
  if (index === null) throw new Error('internal: an input that needs staging memory was posted while both were in use');
  return index;
}

/** The two staging memories of one worker; a replacement worker gets new ones. */
export class InputStaging {
  private readonly memories: [Uint8Array | null, Uint8Array | null] = [null, null];
  /** Whether the worker has each memory already (sent once, with the first call using it). */
  private readonly held: [boolean, boolean] = [false, false];

  /** Staging memory `index`, grown (and so sent again) when smaller than `size`. */
  private reserve(index: StagingIndex, size: number): Uint8Array {
    const current = this.memories[index];
    if (current !== null && current.byteLength >= size) return current;
    let capacity = STAGING_INITIAL_BYTES;
    while (capacity < size) capacity *= 2;
    this.held[index] = false;
    return (this.memories[index] = new Uint8Array(new SharedArrayBuffer(capacity)));
  }

  private staged(index: StagingIndex, length: number): StagedInput {
    const buffer = this.held[index] ? null : (this.memories[index]!.buffer as SharedArrayBuffer);
    this.held[index] = true;
    return { index, staged: buffer, length };
  }

  /**
   * The input as the worker receives it, through staging memory `index` if it needs one (see
   * {@link needsStaging}; null: none is free, so it must not). With `keep`, nothing is
   * transferred, so the input can be sent again (to a replacement worker).
   */
  wire(index: StagingIndex | null, input: PluginInput | CapturedInput, keep: boolean): WireInput {
    // Shared memory goes by reference, kept or not: posting it shares it, whatever its size.
    const shared = typeof input === 'string' ? undefined : sharedInput(input);
    if (shared !== undefined) return { input: shared.bytes, transfer: [], sent: shared, staging: null };
    const captured =
      input instanceof OwnedInput || typeof input === 'string' || input instanceof ArrayBuffer || ArrayBuffer.isView(input) ? input : captureInput(input);
    // A large input kept for sending again goes through staging below, like any bytes: cloning
    // it would copy it once more on this thread.
    if (captured instanceof OwnedInput && (!keep || captured.buffer.byteLength < STAGING_MIN)) return ownBuffer(captured.buffer, keep);
    if (typeof captured === 'string') {
      if (captured.length < STAGING_MIN) return { input: captured, transfer: [], sent: captured, staging: null };
      const at = freeIndex(index);
      // ASCII fits in as many bytes as characters; anything else in at most three per character
      let memory = this.reserve(at, captured.length);
      let { read, written } = utf8.encodeInto(captured, memory);
      if (read < captured.length) {
        memory = this.reserve(at, captured.length * 3);
        ({ written } = utf8.encodeInto(captured, memory));
      }
      return { input: this.staged(at, written), transfer: [], sent: captured, staging: at };
    }
    const bytes = captured instanceof OwnedInput ? new Uint8Array(captured.buffer) : asBytes(captured)!;
    if (bytes.byteLength < STAGING_MIN) return ownBuffer(bytes.slice().buffer, keep);
    const at = freeIndex(index);
    const memory = this.reserve(at, bytes.byteLength);
    memory.set(bytes);
    return { input: this.staged(at, bytes.byteLength), transfer: [], sent: memory.subarray(0, bytes.byteLength), staging: at };
  }
}
