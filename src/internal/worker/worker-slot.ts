// One worker thread running a plug-in, as the host thread sees it: starting it, the deadline of
// its initialization, the shared flags that ask it to stop a call, and ending it. A worker that
// is replaced gets a new WorkerSlot, so late events of the old one are recognised and ignored.
import { TimeoutError, WorkerError } from '../../errors.js';
import { Deadline } from '../deadline.js';
import { thrownText } from '../error-codec.js';
import type { WorkerThread } from '../platform/platform.js';
import { SyncLine } from './host-call-server.js';
import { InputStaging } from './input-staging.js';
import {
  backlogUnits,
  type CallFailed,
  type CallRequest,
  type CallResult,
  CTRL,
  CTRL_SLOTS,
  type FromWorker,
  isLaterCall,
  skipSlot,
  type ToWorker,
  type WorkerInit,
} from './protocol.js';
import { createRingMemory, DEFAULT_CALL_RING_BYTES, HostRings } from './rings.js';
import type { WorkerSpec } from './worker-spec.js';

/**
 * After its deadline, how long an initialization (first or after a reset) may still take to
 * report its own timeout before its worker is ended. Generous, since the deadline runs from
 * before the worker links the plug-in, which a loaded machine may take a while to do.
 */
export const INIT_GRACE_MS = 1000;

/** What the owner of a slot hears from its worker. */
export interface WorkerSlotEvents {
  message(slot: WorkerSlot, message: FromWorker): void;
  exit(slot: WorkerSlot, code: number): void;
}

let callRingBytes = DEFAULT_CALL_RING_BYTES;

/** @internal For tests: the size of the calls ring of workers started from now on (a power of two, 1 KiB or more); undefined: the default. */
export function setCallRingBytes(bytes: number | undefined): void {
  callRingBytes = bytes ?? DEFAULT_CALL_RING_BYTES;
}

let ringMemoryMade: ((memory: SharedArrayBuffer) => void) | undefined;

/** @internal For tests: hear of the ring memory of every worker started from now on; undefined: stop. */
export function onRingMemory(listener: ((memory: SharedArrayBuffer) => void) | undefined): void {
  ringMemoryMade = listener;
}

/** `done`, or after `ms` whatever becomes of it. */
export function settleWithin(done: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([done.then(() => undefined), late]).finally(() => clearTimeout(timer));
}

/** One worker thread and its lines (see the top of this file). */
export class WorkerSlot {
  readonly worker: WorkerThread;
  readonly line: SyncLine;
  /** See WorkerInit.deadline. */
  private readonly deadlineCell: Float64Array;
  /** Where large inputs are copied for this worker to read. */
  readonly staging = new InputStaging();
  /** Whether the plug-in is instantiated there and takes calls. */
  ready = false;
  /** Set when we end the worker ourselves: its exit is not a fault. */
  ending = false;
  /** The worker's uncaught error, reported with its exit. */
  private lastError: Error | undefined;
  /** Settles once the plug-in is instantiated in the worker, or with why it is not. */
  readonly started: Promise<void>;
  private settleStarted!: (error?: unknown) => void;
  /** Ends a worker whose initialization overruns its deadline and cannot be stopped from inside. */
  private initWatchdog: ReturnType<typeof setTimeout> | undefined;
  /** Small calls and their results, when this worker has rings (see rings.ts); null: messages only. */
  readonly rings: HostRings | null;
  /** Under rings, results that came as messages, by call id, until the results ring reaches their turn. */
  readonly messageResults = new Map<number, CallResult | CallFailed>();
  /** Calls given to {@link send} and not sent yet, with what their messages transfer. */
  private outbox: CallRequest[] = [];
  private outboxTransfer: Transferable[] = [];

  constructor({ init, threads, canBlock, rings }: Pick<WorkerSpec, 'init' | 'threads' | 'canBlock' | 'rings'>, events: WorkerSlotEvents) {
    const ctrlBuffer = new SharedArrayBuffer(CTRL_SLOTS * Int32Array.BYTES_PER_ELEMENT);
    const { local, remote } = threads.createSyncChannel();
    const deadline = new SharedArrayBuffer(Float64Array.BYTES_PER_ELEMENT);
    this.deadlineCell = new Float64Array(deadline);
    const ringMemory = rings ? createRingMemory(callRingBytes) : undefined;
    if (ringMemory !== undefined) ringMemoryMade?.(ringMemory);
    this.rings = ringMemory === undefined ? null : new HostRings(ringMemory, () => this.worker.postMessage({ type: 'wake' } satisfies ToWorker));
    const data: WorkerInit = { ...init, ctrl: ctrlBuffer, deadline, port: remote };
    if (ringMemory !== undefined) data.rings = ringMemory;
    try {
      this.worker = threads.startWorker(threads.pluginWorkerEntry, data, [remote]);
    } catch (err) {
      // The runtime refused to start it (Deno without read access to the entry module...).
      throw new WorkerError(`cannot start a worker for runInWorker or createPool: ${thrownText(err)}`, { cause: err });
    }
    this.line = new SyncLine(new Int32Array(ctrlBuffer), local, threads, canBlock);
    this.started = new Promise<void>((resolve, reject) => {
      let settled = false;
      this.settleStarted = (error?: unknown) => {
        if (settled) return;
        settled = true;
        if (error === undefined) resolve();
        else reject(error);
      };
    });
    this.worker.onMessage((message) => events.message(this, message as FromWorker));
    this.worker.onError((error) => {
      this.lastError = error;
    });
    this.worker.onExit((code) => events.exit(this, code));
  }

  /** Settle {@link started} with `error` (once; later outcomes are ignored). */
  failStart(error: unknown): void {
    clearTimeout(this.initWatchdog);
    this.settleStarted(error);
  }

  /** The plug-in is instantiated: the worker takes calls. */
  markReady(): void {
    clearTimeout(this.initWatchdog);
    this.ready = true;
    this.settleStarted();
  }

  /**
   * The plug-in's initialization (its start function, `_initialize`...) runs under the call
   * deadline; a guest that cannot be stopped from inside gets `onOverrun` past it.
   */
  watchInitialization(timeoutMs: number | null, onOverrun: (error: TimeoutError) => void): void {
    if (timeoutMs === null || this.ready) return;
    const due = Deadline.fromTimeout(timeoutMs + INIT_GRACE_MS);
    const arm = () => {
      this.initWatchdog = setTimeout(() => {
        this.initWatchdog = undefined;
        if (this.ready || this.ending) return;
        if (!Deadline.expired(due)) arm();
        else onOverrun(new TimeoutError('initialization', timeoutMs));
      }, Deadline.timerDelay(due));
    };
    arm();
  }

  /**
   * Whether the worker has posted the result of call `id` (it is on its way: a watchdog spares
   * it). Asked of the oldest call in flight: if the worker has started a later one, it is done.
   */
  hasFinished(id: number): boolean {
    const { ctrl } = this.line;
    const started = Atomics.load(ctrl, CTRL.STARTED);
    return Atomics.load(ctrl, CTRL.DONE) === id || (started !== 0 && isLaterCall(started, id));
  }

  /**
   * The deadline the worker set for call `id` when it started it; undefined until it has (a call
   * posted ahead may start there before this thread hears of it, or after).
   */
  deadlineOf(id: number): Deadline | undefined {
    const { ctrl } = this.line;
    if (Atomics.load(ctrl, CTRL.STARTED) !== id) return undefined;
    const deadline = this.deadlineCell[0] as Deadline;
    // Started the next call meanwhile? Then the cell may hold that call's deadline.
    return Atomics.load(ctrl, CTRL.STARTED) === id ? deadline : undefined;
  }

  /** The host thread has handled a log or output line of `length` characters: off the worker's backlog (see CTRL.OUTPUT_BACKLOG). */
  outputHandled(length: number): void {
    const { ctrl } = this.line;
    Atomics.sub(ctrl, CTRL.OUTPUT_BACKLOG, backlogUnits(length));
    Atomics.notify(ctrl, CTRL.OUTPUT_BACKLOG);
  }

  /** Ask the worker to fail call `id` at entry, if it was posted ahead and has not started. */
  skip(id: number): void {
    Atomics.store(this.line.ctrl, skipSlot(id), id);
  }

  /** Whether calls are held by {@link send}, not sent yet. */
  get holding(): boolean {
    return this.outbox.length > 0;
  }

  /** Whether call `id` is held by {@link send}, not sent yet. */
  holds(id: number): boolean {
    return this.outbox.some((call) => call.id === id);
  }

  /** Hold `call` for the next {@link flush}: the calls held then go to the worker as one message. */
  send(call: CallRequest, transfer: readonly Transferable[]): void {
    this.outbox.push(call);
    for (const item of transfer) this.outboxTransfer.push(item);
  }

  /** Post the calls held by {@link send}, in order, as one message (nothing when none are). */
  flush(): void {
    const calls = this.outbox;
    if (calls.length === 0 || this.ending) return;
    const transfer = this.outboxTransfer;
    this.outbox = [];
    this.outboxTransfer = [];
    this.worker.postMessage((calls.length === 1 ? calls[0]! : { type: 'calls', calls }) satisfies ToWorker, transfer);
  }

  /**
   * Ask the worker to stop call `id`, and wake it if it waits for a host function. Returns
   * whether it can stop from inside without instrumentation: it is in a host function, or has
   * not started the call yet (the engine checks the flag on entry; the flag was raised before
   * we look, so a call starting now sees it).
   */
  raiseAbort(id: number): boolean {
    const { ctrl } = this.line;
    Atomics.store(ctrl, CTRL.ABORT, id);
    Atomics.add(ctrl, CTRL.TO_WORKER, 1);
    Atomics.notify(ctrl, CTRL.TO_WORKER);
    return Atomics.load(ctrl, CTRL.SERVING) !== 0 || Atomics.load(ctrl, CTRL.STARTED) !== id;
  }

  /**
   * End the worker on purpose (its exit is then not a fault); {@link started}, if pending,
   * fails with `startError`. Resolves once the thread is gone, or never if it does not take
   * the termination (Node 20's V8 misses it in some wasm loops): await it with a bound.
   */
  terminate(startError: Error): Promise<void> {
    this.ending = true;
    this.line.dead = true;
    clearTimeout(this.initWatchdog);
    // A worker that does not take the termination must not keep the process waiting for it.
    this.worker.keepAlive(false);
    const gone = this.worker
      .terminate()
      .catch(() => {})
      .finally(() => this.line.port.close());
    this.settleStarted(startError);
    return gone;
  }

  /** The worker has exited: the fault to report, or undefined when we ended it ourselves. */
  exited(code: number): WorkerError | undefined {
    this.line.dead = true;
    clearTimeout(this.initWatchdog);
    if (this.ending) return undefined;
    const why = this.lastError === undefined ? '' : `: ${this.lastError.message}`;
    const error = new WorkerError(`the plug-in's worker stopped unexpectedly (exit code ${code})${why}`, { cause: this.lastError, exitCode: code });
    this.line.port.close();
    return error;
  }
}
