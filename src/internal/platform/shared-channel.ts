// A synchronous channel between two threads over shared memory: what worker mode's sync line
// needs where there is no `receiveMessageOnPort` (a browser). Each end posts into one
// SharedArrayBuffer and takes from the other; a message is taken without either event loop,
// as soon as it is there. The values are encoded by hand (see `encodeValue`), since
// structured clone is not reachable synchronously.
//
// Each direction is one growable SharedArrayBuffer holding a queue of records: a message is
// written whole, as one record, and the buffer grows (up to a fixed bound) when it does not fit.
// Growable rather than chunked: the receiver sees a grown buffer at once, with no message about
// it, and a record is never split, so a reader never waits on a writer halfway through a
// message, and a writer never waits on a reader (a chunked queue would need the reader to drain
// it while a big message goes in, a round trip per chunk, and a way to end the wait if the
// reader stops listening). A small lock word orders the two sides' bookkeeping; it is held only
// for a copy, and waiting for it is bounded, so a side that dies holding it cannot hang the other.
import { WorkerError } from '../../errors.js';
import type { PlatformThreads, SyncPort, WorkerSide } from './platform.js';

/** Slots of a direction's header (Int32). */
const LOCK = 0;
/** Offset of the first unread record, from the start of the data area. */
const START = 1;
/** Offset just past the last record written. */
const END = 2;
/** Set once either end is closed: posts are dropped, as on a closed MessagePort. */
const CLOSED = 3;
const HEADER_BYTES = 16;
/** Each record: its length (u32), then the encoded value. */
const RECORD_HEADER = 4;

/**
 * Default bound on one message (encoded): an HTTP body under the default 50 MiB cap fits, with
 * room to spare. A growable buffer reserves its bound's address space up front, per direction
 * and per worker, so this is kept well below the kernel's 1 GiB.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 128 * 1024 * 1024;
/** Room past the largest message for small ones left unread beside it (stale answers). */
const QUEUE_SLACK_BYTES = 4 * 1024 * 1024;
const DEFAULT_INITIAL_BYTES = 64 * 1024;
/** How long a side may wait for the other to let go of the lock (it holds it for one copy). */
const LOCK_BOUND_MS = 2000;

/** Sizes of a channel. */
export interface SharedChannelOptions {
  /** Bytes each direction starts with; it grows as messages need. */
  initialBytes?: number;
  /** Largest message (encoded); posting a larger one throws a WorkerError. */
  maxMessageBytes?: number;
}

/** A growable SharedArrayBuffer (ES2024). */
type GrowableBuffer = SharedArrayBuffer;

/**
 * A buffer of `initial` bytes that can grow to `max`. Where the engine cannot grow shared
 * buffers, one of a fixed size instead (untouched pages cost no memory on the systems we run on).
 */
function growableBuffer(initial: number, max: number): GrowableBuffer {
  const buffer = new SharedArrayBuffer(initial, { maxByteLength: max });
  if (typeof buffer.grow === 'function') return buffer;
  const fixed = new SharedArrayBuffer(Math.min(max, FIXED_FALLBACK_BYTES));
  Object.defineProperties(fixed, { maxByteLength: { value: fixed.byteLength }, grow: { value: () => {} } });
  return fixed;
}
const FIXED_FALLBACK_BYTES = 64 * 1024 * 1024;

function lock(header: Int32Array): void {
  if (Atomics.compareExchange(header, LOCK, 0, 1) === 0) return;
  const giveUp = Date.now() + LOCK_BOUND_MS;
  for (let spins = 1; Atomics.compareExchange(header, LOCK, 0, 1) !== 0; spins++) {
    if ((spins & 0x3ff) === 0 && Date.now() > giveUp) {
      throw new WorkerError(`the other side of a worker's channel held its lock for more than ${LOCK_BOUND_MS} ms: it has probably died`);
    }
  }
}

function unlock(header: Int32Array): void {
  Atomics.store(header, LOCK, 0);
}

/**
 * One end of a shared channel. Its state is two SharedArrayBuffers in own properties, so the
 * end can be posted to a worker as part of any message (structured clone keeps the buffers
 * shared); the worker makes it an end again with {@link SharedSyncPort.revive}.
 */
export class SharedSyncPort implements SyncPort {
  /** Marks a posted end, so `revive` knows one. */
  readonly sharedChannel = 1;

  constructor(
    /** Where this end posts. */
    readonly outgoing: GrowableBuffer,
    /** Where this end takes from. */
    readonly incoming: GrowableBuffer,
    readonly maxMessageBytes: number,
  ) {}

  /** An end again from its posted (cloned) form; an end is returned as it is. */
  static revive(value: unknown): SharedSyncPort {
    if (value instanceof SharedSyncPort) return value;
    const data = value as Partial<SharedSyncPort> | null;
    if (data?.sharedChannel !== 1 || !(data.outgoing instanceof SharedArrayBuffer) || !(data.incoming instanceof SharedArrayBuffer)) {
      throw new TypeError('internal: not an end of a shared channel');
    }
    return new SharedSyncPort(data.outgoing as GrowableBuffer, data.incoming as GrowableBuffer, data.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
  }

  /**
   * Queue `value` for the other end. The transfer list is ignored: everything is copied. Throws
   * a WorkerError for a value the encoding does not carry, or past `maxMessageBytes`.
   */
  postMessage(value: unknown, _transfer?: readonly Transferable[]): void {
    const header = new Int32Array(this.outgoing, 0, 4);
    if (Atomics.load(header, CLOSED) !== 0) return;
    const encoded = encodeValue(value);
    const length = encoded.length;
    if (length > this.maxMessageBytes) {
      throw new WorkerError(`a message of ${length} bytes is more than a worker's channel carries (${this.maxMessageBytes} bytes)`);
    }
    lock(header);
    try {
      let start = Atomics.load(header, START);
      let end = Atomics.load(header, END);
      const buffer = this.outgoing;
      // The reader moves START (and both, when it empties the queue): from another thread, whose memory may be scribbled.
      if (start < 0 || end < start || HEADER_BYTES + end > buffer.byteLength) {
        Atomics.store(header, START, 0);
        Atomics.store(header, END, 0);
        throw corrupt(`its queue runs from ${start} to ${end} in ${buffer.byteLength - HEADER_BYTES} bytes`);
      }
      const needed = RECORD_HEADER + length;
      if (HEADER_BYTES + end + needed > buffer.byteLength && start > 0) {
        // Move what is still unread to the front before growing.
        new Uint8Array(buffer).copyWithin(HEADER_BYTES, HEADER_BYTES + start, HEADER_BYTES + end);
        end -= start;
        start = 0;
        Atomics.store(header, START, 0);
        Atomics.store(header, END, end);
      }
      const size = HEADER_BYTES + end + needed;
      if (size > buffer.byteLength) {
        if (size > buffer.maxByteLength) {
          throw new WorkerError(`a worker's channel is full: ${end} bytes unread, and ${needed} more do not fit in ${buffer.maxByteLength}`);
        }
        buffer.grow(Math.min(buffer.maxByteLength, Math.max(size, buffer.byteLength * 2)));
      }
      const bytes = new Uint8Array(buffer);
      new DataView(buffer).setUint32(HEADER_BYTES + end, length, true);
      bytes.set(encoded, HEADER_BYTES + end + RECORD_HEADER);
      Atomics.store(header, END, end + needed);
    } finally {
      unlock(header);
    }
  }

  /**
   * The next message from the other end, or undefined when none is waiting; never blocks.
   * The other end is a thread that runs a plug-in: a queue or record that makes no sense
   * (offsets, lengths, tags) throws a WorkerError, and a queue that makes no sense is dropped.
   */
  receive(): unknown {
    const header = new Int32Array(this.incoming, 0, 4);
    // Always under the lock: an unlocked look at START and END could see them from either side
    // of the writer moving the queue to the front, and call a non-empty queue empty.
    let record: Uint8Array;
    lock(header);
    try {
      const start = Atomics.load(header, START);
      const end = Atomics.load(header, END);
      if (start === end) return undefined;
      const dropQueue = (what: string): never => {
        Atomics.store(header, START, 0);
        Atomics.store(header, END, 0);
        throw corrupt(what);
      };
      if (start < 0 || end < start || HEADER_BYTES + end > this.incoming.byteLength || end - start < RECORD_HEADER) {
        dropQueue(`its queue runs from ${start} to ${end} in ${this.incoming.byteLength - HEADER_BYTES} bytes`);
      }
      const length = new DataView(this.incoming).getUint32(HEADER_BYTES + start, true);
      if (length > end - start - RECORD_HEADER) dropQueue(`a record of ${length} bytes is longer than the ${end - start - RECORD_HEADER} bytes queued`);
      const from = HEADER_BYTES + start + RECORD_HEADER;
      // A private copy: decoding must not read memory the writer may reuse, and TextDecoder refuses shared views.
      record = new Uint8Array(this.incoming).slice(from, from + length);
      const next = start + RECORD_HEADER + length;
      // An empty queue starts again at the front, so the buffer only grows for what is unread at once.
      if (next === end) {
        Atomics.store(header, START, 0);
        Atomics.store(header, END, 0);
      } else {
        Atomics.store(header, START, next);
      }
    } finally {
      unlock(header);
    }
    try {
      return decodeValue(record);
    } catch (err) {
      throw corrupt((err as Error).message);
    }
  }

  /** Close both directions: later posts, from either end, are dropped. */
  close(): void {
    Atomics.store(new Int32Array(this.outgoing, 0, 4), CLOSED, 1);
    Atomics.store(new Int32Array(this.incoming, 0, 4), CLOSED, 1);
  }
}

function corrupt(what: string): WorkerError {
  return new WorkerError(`a message from the other side of a worker's channel is corrupt (${what}): the worker's memory was overwritten; end the worker`);
}

/** A new channel: keep `local`, post `remote` to the worker (which revives it). */
export function createSharedChannel(options: SharedChannelOptions = {}): { local: SharedSyncPort; remote: SharedSyncPort } {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const initial = HEADER_BYTES + (options.initialBytes ?? DEFAULT_INITIAL_BYTES);
  const max = HEADER_BYTES + RECORD_HEADER + maxMessageBytes + QUEUE_SLACK_BYTES;
  const a = growableBuffer(Math.min(initial, max), max);
  const b = growableBuffer(Math.min(initial, max), max);
  return { local: new SharedSyncPort(a, b, maxMessageBytes), remote: new SharedSyncPort(b, a, maxMessageBytes) };
}

/** The next message on `port` (an end of a shared channel), or undefined; never blocks. */
export function receiveSharedMessage(port: SyncPort): unknown {
  return (port as SharedSyncPort).receive();
}

/**
 * `threads` with shared channels as their sync channels: for a platform without
 * `receiveMessageOnPort`, or whose host thread may not block on a port. The worker entry it
 * starts must build its side with {@link sharedWorkerSide}.
 */
export function withSharedChannel(threads: PlatformThreads, options: SharedChannelOptions = {}): PlatformThreads {
  return {
    ...threads,
    createSyncChannel: () => createSharedChannel(options),
    receiveMessage: receiveSharedMessage,
    // An end is posted as data (its buffers stay shared); it is nothing a postMessage can transfer.
    startWorker: (entry, data, transfer) =>
      threads.startWorker(
        entry,
        data,
        transfer.filter((item) => !(item instanceof SharedSyncPort)),
      ),
  };
}

/** Inside a worker started through {@link withSharedChannel}: its sync port, which arrives as plain data, made an end again. */
export function sharedWorkerSide(side: Pick<WorkerSide, 'hostLine' | 'workerInput'>): WorkerSide {
  return {
    hostLine: () => side.hostLine(),
    workerInput: () => side.workerInput(),
    receiveMessage: receiveSharedMessage,
    adoptPort: (received) => SharedSyncPort.revive(received),
  };
}

// ---- the encoding

/** One tag byte per value, then its payload (little-endian). */
const Tag = {
  UNDEFINED: 0,
  NULL: 1,
  FALSE: 2,
  TRUE: 3,
  INT32: 4,
  FLOAT64: 5,
  /** length-prefixed UTF-8 of its hexadecimal form (sign first) */
  BIGINT: 6,
  STRING: 7,
  ARRAY_BUFFER: 8,
  /** kind byte, then the bytes */
  TYPED_ARRAY: 9,
  DATA_VIEW: 10,
  ARRAY: 11,
  OBJECT: 12,
} as const;

type TypedArrayConstructor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Uint8ClampedArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

/** Typed array classes by their kind byte. */
const TYPED_ARRAYS: readonly TypedArrayConstructor[] = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
];

/** Deeper than this is refused: no message of the protocol nests more than a few levels. */
const MAX_DEPTH = 64;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** Grows as values need; reused between messages (the copy out is exact-size). */
class Writer {
  bytes = new Uint8Array(256);
  view = new DataView(this.bytes.buffer);
  length = 0;

  reserve(n: number): number {
    const at = this.length;
    const needed = at + n;
    if (needed > this.bytes.length) {
      const grown = new Uint8Array(Math.max(needed, this.bytes.length * 2));
      grown.set(this.bytes.subarray(0, at));
      this.bytes = grown;
      this.view = new DataView(grown.buffer);
    }
    this.length = needed;
    return at;
  }
  // Each reserves first: reserve() may replace `bytes` and `view`.
  u8(value: number): void {
    const at = this.reserve(1);
    this.bytes[at] = value;
  }
  u32(value: number): void {
    const at = this.reserve(4);
    this.view.setUint32(at, value, true);
  }
  i32(value: number): void {
    const at = this.reserve(4);
    this.view.setInt32(at, value, true);
  }
  f64(value: number): void {
    const at = this.reserve(8);
    this.view.setFloat64(at, value, true);
  }
  raw(bytes: Uint8Array): void {
    this.u32(bytes.length);
    const at = this.reserve(bytes.length);
    this.bytes.set(bytes, at);
  }
  string(value: string): void {
    // At most three bytes per UTF-16 unit: encode in place, then write the real length.
    const lengthAt = this.reserve(4);
    const at = this.reserve(value.length * 3);
    const { written } = textEncoder.encodeInto(value, this.bytes.subarray(at));
    this.view.setUint32(lengthAt, written, true);
    this.length = at + written;
  }
}

const writer = new Writer();

function unsupported(path: string, what: string): never {
  throw new WorkerError(
    `${path} cannot be sent between the host thread and a plug-in's worker: ${what} (numbers, bigints, strings, booleans, null, undefined, ArrayBuffers, typed arrays, arrays and plain objects can)`,
  );
}

function describe(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  const name = (value as object).constructor?.name;
  return name ? `an object of class ${name}` : 'an object with a prototype of its own';
}

function encodeInto(w: Writer, value: unknown, path: string, ancestors: unknown[]): void {
  switch (typeof value) {
    case 'undefined':
      w.u8(Tag.UNDEFINED);
      return;
    case 'boolean':
      w.u8(value ? Tag.TRUE : Tag.FALSE);
      return;
    case 'number':
      if ((value | 0) === value && !Object.is(value, -0)) {
        w.u8(Tag.INT32);
        w.i32(value);
        return;
      }
      w.u8(Tag.FLOAT64);
      w.f64(value);
      return;
    case 'bigint':
      w.u8(Tag.BIGINT);
      w.string(value.toString(16));
      return;
    case 'string':
      w.u8(Tag.STRING);
      w.string(value);
      return;
    case 'object':
      break;
    default:
      unsupported(path, describe(value));
  }
  if (value === null) {
    w.u8(Tag.NULL);
    return;
  }
  if (ancestors.includes(value)) unsupported(path, 'it contains itself (a cycle)');
  if (ancestors.length >= MAX_DEPTH) unsupported(path, `it nests deeper than ${MAX_DEPTH} levels`);
  if (value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) {
    w.u8(Tag.ARRAY_BUFFER);
    w.raw(new Uint8Array(value));
    return;
  }
  if (ArrayBuffer.isView(value)) {
    const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    if (value instanceof DataView) {
      w.u8(Tag.DATA_VIEW);
      w.raw(bytes);
      return;
    }
    const kind = TYPED_ARRAYS.findIndex((c) => value instanceof c);
    if (kind < 0) unsupported(path, describe(value));
    w.u8(Tag.TYPED_ARRAY);
    w.u8(kind);
    w.raw(bytes);
    return;
  }
  ancestors.push(value);
  if (Array.isArray(value)) {
    w.u8(Tag.ARRAY);
    w.u32(value.length);
    for (let i = 0; i < value.length; i++) encodeInto(w, value[i], `${path}[${i}]`, ancestors);
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) unsupported(path, describe(value));
    const keys = Object.keys(value);
    w.u8(Tag.OBJECT);
    w.u32(keys.length);
    for (const key of keys) {
      w.string(key);
      encodeInto(w, (value as Record<string, unknown>)[key], `${path}.${key}`, ancestors);
    }
  }
  ancestors.pop();
}

/**
 * `value` in the channel's encoding, as an exact-size copy. Throws a WorkerError naming the
 * first part of it that cannot be carried (a function, a class instance, a cycle...).
 */
export function encodeValue(value: unknown): Uint8Array {
  writer.length = 0;
  try {
    encodeInto(writer, value, 'the value', []);
    return writer.bytes.slice(0, writer.length);
  } finally {
    // A huge message must not keep its scratch space alive.
    if (writer.bytes.length > 1 << 20) {
      writer.bytes = new Uint8Array(256);
      writer.view = new DataView(writer.bytes.buffer);
    }
  }
}

class Reader {
  offset = 0;
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u8(): number {
    return this.view.getUint8(this.offset++);
  }
  u32(): number {
    if (this.offset + 4 > this.bytes.length) throw new RangeError('truncated record');
    const value = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return value;
  }
  raw(): Uint8Array {
    const length = this.u32();
    const bytes = this.bytes.slice(this.offset, this.offset + length);
    if (bytes.length !== length) throw new RangeError('truncated record');
    this.offset += length;
    return bytes;
  }
  string(): string {
    const length = this.u32();
    if (this.offset + length > this.bytes.length) throw new RangeError('truncated record');
    const text = textDecoder.decode(this.bytes.subarray(this.offset, this.offset + length));
    this.offset += length;
    return text;
  }
}

function decodeFrom(r: Reader, depth: number): unknown {
  // a record nests no deeper than a value the encoder accepts (recursion is bounded by the stack)
  if (depth > MAX_DEPTH) throw new RangeError(`a value nests deeper than ${MAX_DEPTH} levels`);
  const tag = r.u8();
  switch (tag) {
    case Tag.UNDEFINED:
      return undefined;
    case Tag.NULL:
      return null;
    case Tag.FALSE:
      return false;
    case Tag.TRUE:
      return true;
    case Tag.INT32: {
      const value = r.view.getInt32(r.offset, true);
      r.offset += 4;
      return value;
    }
    case Tag.FLOAT64: {
      const value = r.view.getFloat64(r.offset, true);
      r.offset += 8;
      return value;
    }
    case Tag.BIGINT: {
      const hex = r.string();
      const digits = hex.startsWith('-') ? hex.slice(1) : hex;
      if (!/^[0-9a-f]+$/.test(digits)) throw new RangeError('a bigint that is not hexadecimal');
      return hex.startsWith('-') ? -BigInt(`0x${digits}`) : BigInt(`0x${digits}`);
    }
    case Tag.STRING:
      return r.string();
    case Tag.ARRAY_BUFFER:
      return r.raw().buffer;
    case Tag.TYPED_ARRAY: {
      const kind = TYPED_ARRAYS[r.u8()];
      const bytes = r.raw();
      if (kind === undefined) throw new RangeError('unknown typed array kind');
      if (bytes.length % kind.BYTES_PER_ELEMENT !== 0) throw new RangeError(`${bytes.length} bytes are no whole number of ${kind.name} elements`);
      return new kind(bytes.buffer as ArrayBuffer, 0, bytes.length / kind.BYTES_PER_ELEMENT);
    }
    case Tag.DATA_VIEW:
      return new DataView(r.raw().buffer);
    case Tag.ARRAY: {
      const length = r.u32();
      // every item takes at least its tag byte
      if (length > r.bytes.length - r.offset) throw new RangeError(`an array of ${length} items in ${r.bytes.length - r.offset} bytes`);
      const items = new Array<unknown>(length);
      for (let i = 0; i < length; i++) items[i] = decodeFrom(r, depth + 1);
      return items;
    }
    case Tag.OBJECT: {
      const count = r.u32();
      // every entry takes at least its key's length and its value's tag
      if (count > (r.bytes.length - r.offset) / 5) throw new RangeError(`an object of ${count} keys in ${r.bytes.length - r.offset} bytes`);
      const object: Record<string, unknown> = {};
      for (let i = 0; i < count; i++) {
        const key = r.string();
        // defineProperty: a key such as __proto__ stays an own property, as structured clone keeps it.
        Object.defineProperty(object, key, { value: decodeFrom(r, depth + 1), enumerable: true, writable: true, configurable: true });
      }
      return object;
    }
    default:
      throw new RangeError(`unknown tag ${tag}`);
  }
}

/** A value back from {@link encodeValue}'s encoding. */
export function decodeValue(bytes: Uint8Array): unknown {
  const r = new Reader(bytes);
  const value = decodeFrom(r, 0);
  if (r.offset !== bytes.length) throw new RangeError(`${bytes.length - r.offset} bytes past the value`);
  return value;
}
