// What the host thread and a plug-in's worker say to each other. Two lines, and rings:
//   - the worker's own port (asynchronous, in order): calls, results, host-function requests,
//     log lines, WASI output. Both event loops are free when these are read.
//   - where shared memory allows, small calls and results go through rings instead (rings.ts),
//     a record there standing for each call or result still sent on the port, so that both
//     sides take them in one order; the port then carries a wake-up for a side that sleeps.
//   - a sync channel plus a small shared Int32Array (`ctrl`): used while the worker is blocked
//     inside a guest waiting for a host function. Whoever posts on the sync channel then bumps
//     its counter in `ctrl` and notifies; the other side waits on that counter with
//     Atomics.wait and takes the message with receiveMessageOnPort. This is how the host thread
//     reaches the blocked worker's kernel memory and vars, and how it answers.

import type { ValueType } from '../../host-function.js';
import type { LogLevel } from '../../options.js';
import type { EngineConfig } from '../engine.js';
import type { WireError } from '../error-codec.js';
import type { SyncPort } from '../platform/platform.js';

/** Slots of `ctrl`. */
export const CTRL = {
  /** Bumped by the host thread after each message it posts to the worker on the sync channel. */
  TO_WORKER: 0,
  /** Bumped by the worker after each reply on the sync channel, and when it stops serving a host call. */
  TO_MAIN: 1,
  /** Sequence number of the host call the worker is blocked in, 0 when none. */
  SERVING: 2,
  /** Id of the call the host thread wants aborted. */
  ABORT: 3,
  /** Id of the last call whose result the worker has posted (so a watchdog spares it). */
  DONE: 4,
  /** Id of the last call the worker started. */
  STARTED: 5,
  /**
   * Log lines and WASI output posted by the worker that the host thread has not handled yet, in
   * {@link backlogUnits}: the worker waits while it is past {@link MAX_OUTPUT_BACKLOG}, so a
   * guest writing faster than the host takes its lines cannot queue them without end.
   */
  OUTPUT_BACKLOG: 6,
  /**
   * The first of {@link SKIP_SLOTS} slots, each holding the id of a call posted ahead (see
   * WorkerBackend) that was aborted before the host thread saw it start: call `id` in slot
   * {@link skipSlot}(id). The worker fails such a call at entry, or stops it as it would stop an
   * aborted one.
   */
  SKIP: 7,
} as const;

/** What one log line or output line of `length` characters counts in the output backlog: its KiB, at least 1 (an Int32 holds any number of them in flight). */
export const backlogUnits = (length: number): number => Math.ceil(length / 1024) + 1;
/** The output backlog past which the worker waits for the host thread: 16 Mi characters. */
export const MAX_OUTPUT_BACKLOG = backlogUnits(16 * 1024 * 1024);
/** Calls posted to one worker behind its running one, at most (see WorkerBackend). */
export const MAX_AHEAD = 8;
/**
 * More slots than the calls one worker holds at once (its running one and those posted ahead),
 * whose ids are consecutive: no two of them share a slot.
 */
export const SKIP_SLOTS = 16;
export const CTRL_SLOTS = CTRL.SKIP + SKIP_SLOTS;
/** Call ids run from 1 to this, a multiple of SKIP_SLOTS: consecutive ids keep consecutive skip slots across the wrap. */
export const CALL_ID_WRAP = 0x7ffffff0;

/** The slot of `ctrl` that says call `id` is to be skipped. */
export function skipSlot(id: number): number {
  return CTRL.SKIP + (id % SKIP_SLOTS);
}

/** Whether call id `later` was posted after call id `earlier` (ids wrap at CALL_ID_WRAP; calls in flight are few). */
export function isLaterCall(later: number, earlier: number): boolean {
  const distance = (later - earlier + CALL_ID_WRAP) % CALL_ID_WRAP;
  return distance !== 0 && distance < CALL_ID_WRAP / 2;
}

/** Special index of a host request: the plug-in's `http_request`, served on the host thread. */
export const HTTP_INDEX = -1;
/** Special index of a host request: a call of the WASI file system that lives on the host thread (remote-fs.ts). */
export const FS_INDEX = -2;

/** A user host function as the worker links it: where it is imported from, and its declared type if any. */
export interface HostFunctionSlot {
  namespace: string;
  name: string;
  typed: { params: readonly ValueType[]; results: readonly ValueType[] } | undefined;
}

export type WasiOutput = 'process' | 'lines' | undefined;

/** Everything a worker needs to build its engine; sent once, as workerData. */
export interface WorkerInit {
  /** The engine's configuration, as the host thread's engine would have it. */
  engine: EngineConfig;
  /** The user's host functions, answered on the host thread. */
  hostFunctions: HostFunctionSlot[];
  /** Whether `http_request` is served (on the host thread). */
  http: boolean;
  /** Guest output: `'process'` to the host thread's platform output, as bytes (a worker's own streams would queue without bound); `'lines'` to the host thread's target. */
  stdout: WasiOutput;
  stderr: WasiOutput;
  /** WASI's mounts name the host thread's `wasiFileSystem`, reached through host calls (FS_INDEX). */
  hostFs: boolean;
  ctrl: SharedArrayBuffer;
  /**
   * 8 bytes, a Float64Array's [0]: the deadline of the call `ctrl[STARTED]` names, written by the
   * worker before it publishes STARTED. A call has one deadline, set where it starts (the worker)
   * and read by the host thread (its watchdog, its HTTP for the call).
   */
  deadline: SharedArrayBuffer;
  port: SyncPort;
  /** The calls and results rings (rings.ts); absent: every call and result is a message. */
  rings?: SharedArrayBuffer;
}

// ---- host thread -> worker, on the worker's port

export interface CallRequest {
  type: 'call';
  id: number;
  name: string;
  /**
   * A short string goes as is (the kernel encodes it in place); bytes as an owned buffer,
   * transferred; a large input in the worker's staging memory (`length` bytes from its start);
   * a Uint8Array is the caller's own shared memory, read in place.
   */
  input: string | ArrayBuffer | StagedInput | Uint8Array;
}
export interface StagedInput {
  /** Which of the worker's two staging memories (one per call in flight). */
  index: 0 | 1;
  /**
   * The staging memory, sent with the first call that uses it; null: the one sent last at `index`.
   * (Posting a SharedArrayBuffer costs tens of µs, on the thread that hands out the calls.)
   */
  staged: SharedArrayBuffer | null;
  length: number;
}
/** Calls posted in one turn of the host thread's event loop, sent as one message: the worker runs them in order. */
export interface CallBatch {
  type: 'calls';
  calls: CallRequest[];
}
export interface ResetRequest {
  type: 'reset';
}
/** Under rings, a sleeping side is woken by this where it sleeps until a message (see rings.ts). */
export interface WakeMessage {
  type: 'wake';
}
export type ToWorker = CallRequest | CallBatch | ResetRequest | WakeMessage;

// ---- worker -> host thread, on the worker's port

/** Sent as the worker starts instantiating the plug-in: initialization's deadline starts there. */
export interface InitializingMessage {
  type: 'initializing';
}
export interface ReadyMessage {
  type: 'ready';
}
export interface InitFailedMessage {
  type: 'init-failed';
  error: WireError;
}
export interface CallResult {
  type: 'result';
  id: number;
  /** Transferred, never copied; null when the plug-in set no output. */
  output: ArrayBuffer | null;
  fuel: number;
}
export interface CallFailed {
  type: 'failed';
  id: number;
  error: WireError;
  fuel: number;
}
export interface ResetDone {
  type: 'reset-done';
  error?: WireError;
}
export interface HostRequest {
  type: 'host';
  /** Sequence number of this host call; replies and memory requests carry it. */
  seq: number;
  /** Index into the host's host functions, or {@link HTTP_INDEX}. */
  index: number;
  args: unknown[];
}
export interface LogMessage {
  type: 'log';
  level: Exclude<LogLevel, 'silent'>;
  message: string;
}
export interface OutputLine {
  type: 'stdout' | 'stderr';
  line: string;
}
/** Guest output for this process's own stdout (1) or stderr (2) (`enableWasiOutput`), bytes as the guest wrote them. */
export interface OutputBytes {
  type: 'output-bytes';
  fd: 1 | 2;
  bytes: Uint8Array;
}
export type FromWorker =
  | WakeMessage
  | InitializingMessage
  | ReadyMessage
  | InitFailedMessage
  | CallResult
  | CallFailed
  | ResetDone
  | HostRequest
  | LogMessage
  | OutputLine
  | OutputBytes;

// ---- the sync channel: host thread -> worker, while the worker serves host call `seq`

/** What a host function's call context asks of the worker's kernel and vars. */
export type MemoryOp =
  | { op: 'read'; handle: number | bigint }
  | { op: 'length'; handle: number | bigint }
  | { op: 'write'; data: string | ArrayBuffer }
  | { op: 'alloc'; size: number }
  | { op: 'free'; handle: number | bigint }
  | { op: 'setError'; message: string | null }
  | { op: 'getVar'; name: string }
  | { op: 'setVar'; name: string; value: ArrayBuffer | undefined }
  | { op: 'setLogLevel'; level: LogLevel };

export type SyncToWorker =
  | ({ kind: 'op'; seq: number; opId: number } & MemoryOp)
  | { kind: 'return'; seq: number; value: unknown }
  | { kind: 'throw'; seq: number; error: WireError };

// ---- the sync channel: worker -> host thread

export interface OpReply {
  opId: number;
  value?: unknown;
  error?: WireError;
}
