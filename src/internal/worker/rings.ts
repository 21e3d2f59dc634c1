// Small calls and their results between the host thread and a plug-in's worker through shared
// memory, so that with several calls in flight neither side pays a message or a turn of its
// event loop per call. One SharedArrayBuffer holds two byte rings, each with one writer and one
// reader: calls (host thread -> worker) and results (worker -> host thread). A side with nothing
// left to read raises its "sleeps" flag and goes back to its event loop; the writer posts it a
// wake-up message only when it finds that flag raised, so a busy reader is never woken and a
// steady stream of calls costs no message at all. (`Atomics.waitAsync` would spare that message,
// but it is missing on some engines, and on Node 20 we saw a notified wait not end, twice in
// some fifteen stress runs; a message always arrives.)
//
// A record is a header of HEADER_WORDS 32-bit words ({@link RecordHeader}) and its payload,
// padded to 8 bytes; it may cross the ring's end (the header word by word, the payload in two
// pieces). A call or result that does not fit in a record (a large input or output, an error, a
// call whose worker posted log lines) still travels as a message; its record says so
// (KIND.BY_MESSAGE), which keeps every call and result in the order the worker ran them.
//
// The worker writes the results ring: the host thread checks every record it reads there (kind,
// id, lengths, the ring's own positions) and treats a bad one as the worker's fault.
import { WorkerError } from '../../errors.js';

/** Record kinds. */
export const KIND = {
  /** A call whose input is the payload (bytes; a string input is sent as its UTF-8). */
  CALL: 1,
  /** A result whose output is the payload. */
  OUTPUT: 2,
  /** A result without output (the plug-in set none). */
  NO_OUTPUT: 3,
  /** The call or result with this id travels as a message: the reader waits for that message. */
  BY_MESSAGE: 4,
} as const;

/** Words of the control block; each on its own 64-byte line, written by one side. */
const CONTROL = {
  CALL_HEAD: 0,
  CALL_TAIL: 16,
  WORKER_SLEEPS: 32,
  RESULT_HEAD: 48,
  RESULT_TAIL: 64,
  HOST_SLEEPS: 80,
} as const;
const CONTROL_BYTES = 96 * 4;

/** Words of a record's header: payload length, kind, call id, name index (calls), fuel as a float64 (results). */
const HEADER_WORDS = 6;
const HEADER_BYTES = HEADER_WORDS * 4;

/** Inputs and outputs up to this many bytes travel in the rings; larger ones as messages. */
export const RING_INLINE_BYTES = 4096;
/** Function names up to this many UTF-8 bytes travel in a call record, once per worker. */
const NAME_INLINE_BYTES = 256;
/** Names a worker learns, at most; a call of any other name goes with its name each time. */
const NAMES_MAX = 1024;
/** Index of a call record's name when the name is in the record but not to be learnt. */
const NAME_UNLEARNT = -1;

/**
 * The calls ring: records of the calls in flight (at most MAX_AHEAD + 1, a record freed when its
 * call ends). Small calls take a few dozen bytes; a ring full of large inputs makes the host wait.
 */
export const DEFAULT_CALL_RING_BYTES = 16 * 1024;
/**
 * The results ring: large enough for a result record of every call in flight at its largest
 * (MAX_AHEAD + 1 = 9 of RING_INLINE_BYTES), so the worker never waits for room.
 */
const RESULT_RING_BYTES = 64 * 1024;

/** The header of a record, as read. */
export interface RecordHeader {
  /** Where the record starts, as a position of its ring. */
  at: number;
  kind: number;
  id: number;
  /** Bytes of payload. */
  length: number;
  /** A call's name index (NAME_UNLEARNT or an index); a result's 0. */
  name: number;
  /** A result's fuel consumed; a call's 0. */
  fuel: number;
}

const recordBytes = (payload: number) => (HEADER_BYTES + payload + 7) & ~7;

let forced: boolean | undefined;

/** @internal For tests and A/B runs: use rings (true) or messages (false) whatever the engine has; undefined goes back to the default. */
export function forceRings(on: boolean | undefined): void {
  forced = on;
}

/** `PLUGHOST_WORKER_RINGS=off` keeps every call and result in messages (for comparing the two paths). */
const RINGS_VARIABLE = 'PLUGHOST_WORKER_RINGS';

/** Whether workers started now get rings (shared memory, which worker mode needs anyway, is all they take). */
export function ringsWanted(environmentVariable: (name: string) => string | undefined): boolean {
  if (typeof SharedArrayBuffer !== 'function') return false;
  return forced ?? environmentVariable(RINGS_VARIABLE) !== 'off';
}

/** The shared memory of a worker's two rings, sized. */
export function createRingMemory(callRingBytes = DEFAULT_CALL_RING_BYTES): SharedArrayBuffer {
  return new SharedArrayBuffer(CONTROL_BYTES + callRingBytes + RESULT_RING_BYTES);
}

const fuelScratch = new Float64Array(1);
const fuelWords = new Int32Array(fuelScratch.buffer);

/** One ring of a ring memory, as its writer or its reader sees it. */
class ByteRing {
  private readonly bytes: Uint8Array;
  private readonly words: Int32Array;
  private readonly mask: number;
  /** The writer's next position (writer) or the reader's (reader): this side's own counter. */
  private own: number;

  constructor(
    private readonly control: Int32Array,
    memory: SharedArrayBuffer,
    offset: number,
    readonly capacity: number,
    private readonly headWord: number,
    private readonly tailWord: number,
    private readonly sleepsWord: number,
    writer: boolean,
    /** How this ring's writer wakes its sleeping reader (a message): undefined on the reader's side. */
    private readonly wakeReader: (() => void) | undefined,
  ) {
    this.bytes = new Uint8Array(memory, offset, capacity);
    this.words = new Int32Array(memory, offset, capacity / 4);
    this.mask = capacity - 1;
    this.own = Atomics.load(control, writer ? tailWord : headWord);
  }

  // ---------------------------------------------------------------- writer

  /** Whether a record of `payload` bytes fits now. */
  fits(payload: number): boolean {
    const used = (this.own - Atomics.load(this.control, this.headWord)) | 0;
    return recordBytes(payload) <= this.capacity - used;
  }

  /**
   * Write a record (the caller checked {@link fits}) and publish it; wake the reader if it
   * sleeps. `parts` are the payload, in order.
   */
  write(kind: number, id: number, name: number, fuel: number, parts: readonly Uint8Array[], length: number): void {
    const at = this.own & this.mask;
    fuelScratch[0] = fuel;
    this.putWord(at, 0, length);
    this.putWord(at, 1, kind);
    this.putWord(at, 2, id);
    this.putWord(at, 3, name);
    this.putWord(at, 4, fuelWords[0]!);
    this.putWord(at, 5, fuelWords[1]!);
    let to = (at + HEADER_BYTES) & this.mask;
    for (const part of parts) {
      const first = Math.min(part.byteLength, this.capacity - to);
      this.bytes.set(first === part.byteLength ? part : part.subarray(0, first), to);
      if (first < part.byteLength) this.bytes.set(part.subarray(first), 0);
      to = (to + part.byteLength) & this.mask;
    }
    this.own = (this.own + recordBytes(length)) | 0;
    Atomics.store(this.control, this.tailWord, this.own);
    if (Atomics.compareExchange(this.control, this.sleepsWord, 1, 0) === 1) this.wakeReader?.();
  }

  private putWord(at: number, index: number, value: number): void {
    this.words[((at >>> 2) + index) & (this.mask >>> 2)] = value;
  }

  // ---------------------------------------------------------------- reader

  /**
   * The next record's header, or undefined when none waits. Every field is checked against the
   * ring (a writer may be wrong): a record that cannot be is a WorkerError.
   */
  next(): RecordHeader | undefined {
    const used = (Atomics.load(this.control, this.tailWord) - this.own) | 0;
    if (used === 0) return undefined;
    if (used < 0 || used > this.capacity || (used & 7) !== 0) throw badRecord(`the ring holds ${used} bytes of ${this.capacity}`);
    const at = this.own & this.mask;
    const length = this.getWord(at, 0);
    if (length < 0 || recordBytes(length) > used) throw badRecord(`a record of ${length} bytes where ${used} are written`);
    fuelWords[0] = this.getWord(at, 4);
    fuelWords[1] = this.getWord(at, 5);
    return { at: this.own, length, kind: this.getWord(at, 1), id: this.getWord(at, 2), name: this.getWord(at, 3), fuel: fuelScratch[0]! };
  }

  private getWord(at: number, index: number): number {
    return this.words[((at >>> 2) + index) & (this.mask >>> 2)]!;
  }

  /** The record's payload in place when it does not cross the ring's end, else a copy. */
  view(record: RecordHeader): Uint8Array {
    const from = (record.at + HEADER_BYTES) & this.mask;
    if (from + record.length <= this.capacity) return this.bytes.subarray(from, from + record.length);
    return this.copy(record, new Uint8Array(record.length));
  }

  /** Copy the record's payload into `into` (at least its length). */
  copy(record: RecordHeader, into: Uint8Array): Uint8Array {
    const from = (record.at + HEADER_BYTES) & this.mask;
    const first = Math.min(record.length, this.capacity - from);
    into.set(this.bytes.subarray(from, from + first));
    if (first < record.length) into.set(this.bytes.subarray(0, record.length - first), first);
    return into;
  }

  /** Free the record (the next one is read next); its payload, viewed in place, may be written over from now. */
  release(record: RecordHeader): void {
    this.own = (record.at + recordBytes(record.length)) | 0;
    Atomics.store(this.control, this.headWord, this.own);
  }

  /**
   * Going to sleep until the writer wakes us: raise the flag, then look once more (a writer that
   * wrote before seeing the flag did not wake us). False when a record came meanwhile: read on.
   */
  sleep(): boolean {
    Atomics.store(this.control, this.sleepsWord, 1);
    if (Atomics.load(this.control, this.tailWord) === this.own) return true;
    Atomics.store(this.control, this.sleepsWord, 0);
    return false;
  }
}

function badRecord(what: string): WorkerError {
  return new WorkerError(`the plug-in's worker wrote a bad record in its results ring (${what}); the worker is replaced`);
}

function ringOffsets(memory: SharedArrayBuffer): { callBytes: number } {
  const callBytes = memory.byteLength - CONTROL_BYTES - RESULT_RING_BYTES;
  if (callBytes < 1024 || (callBytes & (callBytes - 1)) !== 0) throw new RangeError(`a calls ring of ${callBytes} bytes: expected a power of two`);
  return { callBytes };
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** The host thread's side: writes calls, reads results. */
export class HostRings {
  private readonly calls: ByteRing;
  private readonly results: ByteRing;
  /** Names the worker has learnt, by index. */
  private readonly names = new Map<string, number>();
  private readonly nameBytes = new Map<string, Uint8Array>();

  /** `wakeWorker` posts the worker a wake-up message. */
  constructor(
    readonly memory: SharedArrayBuffer,
    wakeWorker: () => void,
  ) {
    const control = new Int32Array(memory, 0, CONTROL_BYTES / 4);
    const { callBytes } = ringOffsets(memory);
    const { CALL_HEAD, CALL_TAIL, WORKER_SLEEPS, RESULT_HEAD, RESULT_TAIL, HOST_SLEEPS } = CONTROL;
    this.calls = new ByteRing(control, memory, CONTROL_BYTES, callBytes, CALL_HEAD, CALL_TAIL, WORKER_SLEEPS, true, wakeWorker);
    this.results = new ByteRing(control, memory, CONTROL_BYTES + callBytes, RESULT_RING_BYTES, RESULT_HEAD, RESULT_TAIL, HOST_SLEEPS, false, undefined);
  }

  private encodedName(name: string): { index: number; bytes: Uint8Array | undefined } | undefined {
    const index = this.names.get(name);
    if (index !== undefined) return { index, bytes: undefined };
    let bytes = this.nameBytes.get(name);
    if (bytes === undefined) {
      bytes = utf8Encoder.encode(name);
      if (bytes.byteLength > NAME_INLINE_BYTES) return undefined;
      if (this.nameBytes.size < NAMES_MAX) this.nameBytes.set(name, bytes);
    }
    return { index: this.names.size < NAMES_MAX ? this.names.size : NAME_UNLEARNT, bytes };
  }

  /**
   * Write call `id` of `name` with `input` (at most RING_INLINE_BYTES) into the calls ring.
   * Returns 'full', writing nothing, when it does not fit now (the caller keeps the call for
   * later), 'unsuited' when its name is too long (the caller sends it as a message).
   */
  writeCall(id: number, name: string, input: string | Uint8Array): 'written' | 'full' | 'unsuited' {
    const named = this.encodedName(name);
    if (named === undefined) return 'unsuited';
    const bytes = typeof input === 'string' ? utf8Encoder.encode(input) : input;
    const nameLength = named.bytes?.byteLength ?? 0;
    // The payload: the name's length (4 bytes) and the name when it is sent, then the input.
    const length = (named.bytes === undefined ? 0 : 4 + nameLength) + bytes.byteLength;
    if (bytes.byteLength > RING_INLINE_BYTES || recordBytes(length) > this.calls.capacity) return 'unsuited';
    if (!this.calls.fits(length)) return 'full';
    const parts: Uint8Array[] = [];
    if (named.bytes !== undefined) {
      parts.push(new Uint8Array([nameLength & 0xff, nameLength >>> 8, 0, 0]), named.bytes);
      if (named.index !== NAME_UNLEARNT) this.names.set(name, named.index);
    }
    parts.push(bytes);
    this.calls.write(KIND.CALL, id, named.bytes === undefined ? named.index : named.index | NAME_SENT, 0, parts, length);
    return 'written';
  }

  /** Whether a placeholder record fits now (see {@link writeByMessage}). */
  get placeholderFits(): boolean {
    return this.calls.fits(0);
  }

  /** Say that call `id` comes as a message (so the worker runs it in its turn). The caller checked {@link placeholderFits}. */
  writeByMessage(id: number): void {
    this.calls.write(KIND.BY_MESSAGE, id, 0, 0, [], 0);
  }

  /** The next result record, checked against the ring; undefined when none waits. */
  nextResult(): RecordHeader | undefined {
    const record = this.results.next();
    if (record === undefined) return undefined;
    const { kind, length } = record;
    if (kind === KIND.OUTPUT) {
      if (length > RING_INLINE_BYTES) throw badRecord(`an output of ${length} bytes, above ${RING_INLINE_BYTES}`);
    } else if (kind === KIND.NO_OUTPUT || kind === KIND.BY_MESSAGE) {
      if (length !== 0) throw badRecord(`a record of kind ${kind} with ${length} bytes of payload`);
    } else {
      throw badRecord(`kind ${kind}`);
    }
    if (!Number.isFinite(record.fuel) || record.fuel < 0) throw badRecord(`fuel ${record.fuel}`);
    return record;
  }

  /** The output of an OUTPUT record, in a buffer of its own. */
  output(record: RecordHeader): ArrayBuffer {
    return this.results.copy(record, new Uint8Array(record.length)).buffer as ArrayBuffer;
  }

  releaseResult(record: RecordHeader): void {
    this.results.release(record);
  }

  /** Going to sleep until the worker writes a result (see ByteRing.sleep); false: one came, read on. */
  sleep(): boolean {
    return this.results.sleep();
  }
}

/** Bit of a call record's name word: the name is in the payload (to be learnt at the index in the low bits, unless NAME_UNLEARNT). */
const NAME_SENT = 0x40000000;

/** A call as the worker takes it from the ring. */
export interface RingCall {
  record: RecordHeader;
  id: number;
  name: string;
  /** The input in place (or copied when it crossed the ring's end); valid until the record is released. */
  input: Uint8Array;
}

/** The worker's side: reads calls, writes results. */
export class WorkerRings {
  private readonly calls: ByteRing;
  private readonly results: ByteRing;
  private readonly names: string[] = [];

  /** `wakeHost` posts the host thread a wake-up message. */
  constructor(memory: SharedArrayBuffer, wakeHost: () => void) {
    const control = new Int32Array(memory, 0, CONTROL_BYTES / 4);
    const { callBytes } = ringOffsets(memory);
    const { CALL_HEAD, CALL_TAIL, WORKER_SLEEPS, RESULT_HEAD, RESULT_TAIL, HOST_SLEEPS } = CONTROL;
    this.calls = new ByteRing(control, memory, CONTROL_BYTES, callBytes, CALL_HEAD, CALL_TAIL, WORKER_SLEEPS, false, undefined);
    this.results = new ByteRing(control, memory, CONTROL_BYTES + callBytes, RESULT_RING_BYTES, RESULT_HEAD, RESULT_TAIL, HOST_SLEEPS, true, wakeHost);
  }

  /** The next call record (a call or a BY_MESSAGE placeholder), or undefined when none waits. */
  nextCall(): RecordHeader | undefined {
    return this.calls.next();
  }

  /** The call of a CALL record: its name and its input. */
  call(record: RecordHeader): RingCall {
    const payload = this.calls.view(record);
    let input = payload;
    let index = record.name;
    if ((index & NAME_SENT) !== 0 || index === NAME_UNLEARNT) {
      index = index === NAME_UNLEARNT ? NAME_UNLEARNT : index & ~NAME_SENT;
      const nameLength = new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0, true);
      const name = utf8Decoder.decode(payload.slice(4, 4 + nameLength));
      if (index !== NAME_UNLEARNT) this.names[index] = name;
      input = payload.subarray(4 + nameLength);
      return { record, id: record.id, name, input };
    }
    return { record, id: record.id, name: this.names[index]!, input };
  }

  releaseCall(record: RecordHeader): void {
    this.calls.release(record);
  }

  /** Going to sleep until the host thread writes a call (see ByteRing.sleep); false: one came, read on. */
  sleep(): boolean {
    return this.calls.sleep();
  }

  /** Whether a result of `length` output bytes goes in the ring (else as a message, with a BY_MESSAGE record). */
  static carries(length: number): boolean {
    return length <= RING_INLINE_BYTES;
  }

  /** Write the result of call `id`: `output` (null: none), or BY_MESSAGE when `output` is 'message'. */
  writeResult(id: number, output: ArrayBufferView | null | 'message', fuel: number): void {
    const kind = output === 'message' ? KIND.BY_MESSAGE : output === null ? KIND.NO_OUTPUT : KIND.OUTPUT;
    const payload = output === 'message' || output === null ? [] : [new Uint8Array(output.buffer, output.byteOffset, output.byteLength)];
    const length = payload[0]?.byteLength ?? 0;
    // Never full: it holds a largest record of every call in flight (see RESULT_RING_BYTES).
    if (!this.results.fits(length)) throw new Error(`internal: the results ring has no room for a record of ${length} bytes`);
    this.results.write(kind, id, 0, fuel, payload, length);
  }
}

/**
 * @internal For tests: write a result record into `memory`'s results ring as a faulty worker
 * might, its header as given (`length` may lie about `payload`), and leave the host thread's
 * sleeps flag as it was.
 */
export function forgeResult(memory: SharedArrayBuffer, kind: number, id: number, length: number, payload: Uint8Array = new Uint8Array(0)): void {
  const control = new Int32Array(memory, 0, CONTROL_BYTES / 4);
  const { callBytes } = ringOffsets(memory);
  const sleeps = Atomics.load(control, CONTROL.HOST_SLEEPS);
  const { RESULT_HEAD, RESULT_TAIL, HOST_SLEEPS } = CONTROL;
  const ring = new ByteRing(control, memory, CONTROL_BYTES + callBytes, RESULT_RING_BYTES, RESULT_HEAD, RESULT_TAIL, HOST_SLEEPS, true, undefined);
  ring.write(kind, id, 0, 0, [payload], length);
  Atomics.store(control, CONTROL.HOST_SLEEPS, sleeps);
}
