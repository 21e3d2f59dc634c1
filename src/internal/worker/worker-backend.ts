// The host-thread proxy of a plug-in that runs in a worker (`runInWorker: true`). It queues
// calls (one runs at a time, as on the host thread; the next ones are posted ahead, so the
// worker starts each without waiting for this thread: small ones through the worker's calls
// ring, their results through its results ring, so a steady stream of them costs neither thread
// a message (rings.ts); the others as messages, those posted in one turn of the event loop as
// one), serves the worker's host-function
// requests, enforces what the worker cannot enforce alone (a guest that is not instrumented and
// will not stop), and replaces a worker that died. Plug-in state lives in the worker: a
// replacement starts afresh (memory, globals and vars).
import { AbortError, PluginClosedError, ReentrantCallError, TimeoutError, WorkerError } from '../../errors.js';
import type { LogLevel } from '../../options.js';
import { PluginOutput } from '../../plugin-output.js';
import { type CallOptions, type PluginBackend, type PluginInput, unsupportedInput } from '../backend.js';
import { CallQueue } from '../call-queue.js';
import { Deadline } from '../deadline.js';
import { fromWire } from '../error-codec.js';
import type { HttpRequest, HttpResponse } from '../host-env.js';
import type { LoadedModule } from '../module-loader.js';
import { type HostCallRecord, remoteCallContext, runHostFunction } from './host-call-server.js';
import {
  type CapturedInput,
  captureInput,
  keepSent,
  needsStaging,
  OwnedInput,
  ringInput,
  SharedInput,
  type StagingIndex,
  type WireInput,
} from './input-staging.js';
import {
  CALL_ID_WRAP,
  type CallFailed,
  type CallResult,
  type FromWorker,
  FS_INDEX,
  type HostRequest,
  HTTP_INDEX,
  MAX_AHEAD,
  type ToWorker,
} from './protocol.js';
import { serveFileSystem } from './remote-fs.js';
import { type HostRings, KIND } from './rings.js';
import { INIT_GRACE_MS, settleWithin, WorkerSlot } from './worker-slot.js';
import type { WorkerSpec } from './worker-spec.js';

export { type CapturedInput, captureInput, isSmallInput } from './input-staging.js';
export { type WorkerHttpFactory, type WorkerSpec, workerSpec } from './worker-spec.js';

/** After its deadline, how long a call may still take to report its own timeout before its worker is ended. */
const WATCHDOG_GRACE_MS = 30;
/**
 * After an abort, how long a guest that can be stopped from inside (instrumented, or waiting for
 * a host function) has to stop before its worker is ended. Stopping needs the worker's thread to
 * be scheduled: 100 ms was sometimes too short on a loaded 2-core machine, and a worker ended
 * for that loses the plug-in's state for nothing.
 */
const ABORT_GRACE_MS = 250;
/**
 * How long close() waits for ended workers to be gone. A worker ends within milliseconds,
 * unless its thread does not take the termination (Node 20's V8 misses it in some wasm loops
 * of bulk memory instructions): close() must settle all the same.
 */
const CLOSE_WAIT_MS = 5000;

interface CallJob {
  kind: 'call';
  id: number;
  name: string;
  /** Raw until the call is either sent (at once) or queued (then captured, see {@link captureInput}). */
  input: PluginInput | CapturedInput;
  /** A call posted ahead keeps what it sent, to send it again if its worker is replaced first. */
  sent: WireInput['sent'];
  /** Which staging memory its input went through, if any (two calls in flight may use one each). */
  staging: StagingIndex | null;
  /** Aborted after it was posted ahead: already rejected, the worker skips or stops it. */
  aborted: boolean;
  hostContext: unknown;
  signal: AbortSignal | undefined;
  resolve(output: PluginOutput | null): void;
  reject(error: unknown): void;
}
interface ResetJob {
  kind: 'reset';
  name: 'reset';
  signal: undefined;
  resolve(done: boolean): void;
  reject(error: unknown): void;
}
type Job = CallJob | ResetJob;

/** A {@link PluginBackend} whose plug-in runs in a worker thread; see the top of this file. */
export class WorkerBackend implements PluginBackend {
  private slot: WorkerSlot | null = null;
  /** Jobs not posted yet. A call's signal is listened to from its queuing until it is settled. */
  private readonly queue = new CallQueue<Job>({
    abortedOutside: (job) => {
      if (job.kind === 'call') this.abort(job);
    },
  });
  /** The job the worker runs (as far as this thread knows). */
  private current: Job | null = null;
  /** Calls posted behind `current`, in order: the worker starts each as soon as the one before it ends. */
  private readonly ahead: CallJob[] = [];
  /** Set while drainResults runs: settling a call posts the next ones, which must not drain again from inside. */
  private drainingResults = false;
  /** Whether calls posted ahead wait for the platform's afterEvents to be sent (see WorkerSlot.send). */
  private flushPending = false;
  private closed = false;
  private closing: Promise<void> | null = null;
  private readonly terminations = new Set<Promise<void>>();
  private nextCallId = 0;
  private watchdog: ReturnType<typeof setTimeout> | undefined;
  private abortTimer: ReturnType<typeof setTimeout> | undefined;
  /** Host calls of the running call (and of initialization), ended with it. */
  private readonly hostCalls = new Set<HostCallRecord>();
  /** Errors thrown by host functions during the running call, by host-call seq: they come back as the call error's cause. */
  private readonly hostErrors = new Map<number, unknown>();
  /** Set while a host function runs synchronously: a call of this plug-in from there would deadlock. */
  private inHostFunction = false;
  private logLevel: LogLevel;
  /**
   * The running call's deadline, as this thread knows it: the one its worker set when it started
   * the call once that is published (see WorkerSlot.deadlineOf), until then `timeoutMs` from when
   * this thread saw it begin. Read through {@link callDeadline}.
   */
  private deadline = Deadline.none;
  private readonly http: ((request: HttpRequest) => Promise<HttpResponse>) | undefined;
  private readonly exports: Set<string>;
  fuelConsumed = 0;

  private constructor(private readonly spec: WorkerSpec) {
    this.logLevel = spec.init.engine.logLevel;
    this.http = spec.http?.(() => this.callDeadline());
    this.exports = new Set(
      WebAssembly.Module.exports(spec.main.module)
        .filter((e) => e.kind === 'function')
        .map((e) => e.name),
    );
  }

  /** Start a worker for `spec`; resolves once the plug-in is instantiated there, rejects with its creation error. */
  static async start(spec: WorkerSpec): Promise<WorkerBackend> {
    const backend = new WorkerBackend(spec);
    try {
      await backend.spawn();
    } catch (err) {
      await backend.close();
      throw err;
    }
    return backend;
  }

  get main(): LoadedModule {
    return this.spec.main;
  }

  get isActive(): boolean {
    return this.current?.kind === 'call';
  }

  call(name: string, input: PluginInput | CapturedInput, hostContext: unknown, options: CallOptions | undefined): Promise<PluginOutput | null> {
    if (this.closed) return Promise.reject(new PluginClosedError());
    if (this.inHostFunction) return Promise.reject(new ReentrantCallError(name));
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(new AbortError(name, signal.reason));
    // a pool's queued call comes with its input already captured (checked when the pool took it)
    const unsupported = input instanceof OwnedInput || input instanceof SharedInput ? undefined : unsupportedInput(input);
    if (unsupported !== undefined) return Promise.reject(unsupported);
    return new Promise<PluginOutput | null>((resolve, reject) => {
      const job: CallJob = { kind: 'call', id: 0, name, input, sent: undefined, staging: null, aborted: false, hostContext, signal, resolve, reject };
      this.queue.push(job);
      this.pump();
      // Not posted (no id yet), so still waiting: the caller may change its bytes as soon as we return.
      if (job.id === 0) job.input = captureInput(job.input);
    });
  }

  callSync(): never {
    throw new TypeError(
      'callSync is not available for a plug-in created with runInWorker: true (its host functions run on this thread, which callSync would block); use call',
    );
  }

  getInstance(): Promise<WebAssembly.Instance> {
    // A WebAssembly.Instance cannot cross threads: it lives in the worker.
    return Promise.reject(
      new TypeError(
        'getInstance is not available for a plug-in created with runInWorker: true (its instance lives in the worker, and an instance cannot be sent to another thread)',
      ),
    );
  }

  functionExists(name: string): Promise<boolean> {
    if (this.closed) return Promise.reject(new PluginClosedError());
    return Promise.resolve(this.exports.has(name));
  }

  reset(): Promise<boolean> {
    if (this.closed) return Promise.reject(new PluginClosedError());
    if (this.isActive) return Promise.resolve(false);
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({ kind: 'reset', name: 'reset', signal: undefined, resolve, reject });
      this.pump();
    });
  }

  /** End the worker now: queued and running calls reject with {@link PluginClosedError}. */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closed = true;
    const error = new PluginClosedError();
    for (const job of this.queue.drain()) this.settle(job, { error });
    for (const job of this.ahead.splice(0)) this.settle(job, { error });
    if (this.current !== null) this.finish(this.current, { error });
    if (this.slot !== null) this.end(this.slot);
    this.spec.fs?.closeAll();
    this.closing = settleWithin(Promise.all(this.terminations), CLOSE_WAIT_MS);
    return this.closing;
  }

  // ------------------------------------------------------------------ workers

  private spawn(): Promise<void> {
    const slot = new WorkerSlot(this.spec, {
      message: (from, message) => this.onMessage(from, message),
      exit: (from, code) => this.onExit(from, code),
    });
    this.slot = slot;
    return slot.started.then(
      () => this.pump(),
      (error: unknown) => {
        if (this.slot === slot) this.end(slot);
        // Nobody can run the queued calls: they get the reason.
        for (const job of this.queue.drain()) this.settle(job, { error });
        throw error;
      },
    );
  }

  /** Start a replacement (after a fault, or after ending a worker to stop a call). */
  private respawn(): void {
    if (this.closed || this.slot !== null) return;
    // Failures reach the queued calls (see spawn); there is no one else to tell.
    this.spawn().catch(() => {});
  }

  /**
   * The calls posted ahead to a worker that is going away go back to the head of the queue, in
   * order, for its replacement (but those aborted: they are settled already).
   */
  private takeBackAhead(): void {
    const jobs = this.ahead.splice(0);
    for (let at = jobs.length - 1; at >= 0; at--) {
      const job = jobs[at]!;
      if (job.aborted) continue;
      job.input = keepSent(job.sent);
      job.sent = undefined;
      job.staging = null;
      this.queue.unshift(job);
    }
  }

  /** End a worker on purpose; its exit is then not a fault. */
  private end(slot: WorkerSlot): void {
    if (this.slot === slot) {
      this.slot = null;
      this.takeBackAhead();
    }
    this.endHostCalls();
    const startError = this.closed ? new PluginClosedError() : new WorkerError('the plug-in worker was ended while starting');
    const done = slot.terminate(startError).finally(() => this.terminations.delete(done));
    this.terminations.add(done);
  }

  private onExit(slot: WorkerSlot, code: number): void {
    const error = slot.exited(code);
    if (error === undefined) return;
    if (this.slot === slot) this.slot = null;
    if (!slot.ready) {
      slot.failStart(error);
      return;
    }
    this.endHostCalls();
    // Only the call that was running in it fails; queued calls go to the replacement.
    this.takeBackAhead();
    if (this.current !== null) this.finish(this.current, { error }, false);
    this.respawn();
  }

  private onMessage(slot: WorkerSlot, message: FromWorker): void {
    if (slot !== this.slot) return;
    if (slot.rings !== null) {
      // What the worker wrote in the results ring before posting this came first.
      if (message.type === 'result' || message.type === 'failed') {
        slot.messageResults.set(message.id, message);
        this.drainResults(slot);
        return;
      }
      this.drainResults(slot);
      if (slot !== this.slot) return;
    }
    switch (message.type) {
      case 'wake':
        return;
      case 'initializing':
        slot.watchInitialization(this.spec.init.engine.timeoutMs, (error) => {
          if (this.slot !== slot) return;
          slot.failStart(error);
          this.end(slot);
        });
        return;
      case 'ready':
        slot.markReady();
        this.endHostCalls();
        this.pump();
        return;
      case 'init-failed':
        slot.failStart(fromWire(message.error, this.hostErrors));
        this.hostErrors.clear();
        return;
      case 'result':
      case 'failed': {
        const job = this.current;
        if (job?.kind !== 'call' || job.id !== message.id) return;
        this.settleFromMessage(job, message);
        return;
      }
      case 'reset-done': {
        const job = this.current;
        if (job?.kind !== 'reset') return;
        this.finish(job, message.error === undefined ? { value: true } : { error: fromWire(message.error) });
        return;
      }
      case 'host':
        this.runHost(slot, message);
        return;
      case 'log':
        slot.outputHandled(message.message.length);
        try {
          this.spec.logger[message.level](message.message);
        } catch {
          // a failing logger must not take the host down; on the host thread it would fail the call, here the call is elsewhere
        }
        return;
      case 'stdout':
      case 'stderr': {
        // off the backlog once the target took it (a stream: once it drains), as output-bytes below
        const length = message.line.length;
        const deliver = message.type === 'stdout' ? this.spec.stdout : this.spec.stderr;
        if (deliver === undefined) slot.outputHandled(length);
        else deliver(message.line, () => slot.outputHandled(length));
        return;
      }
      case 'output-bytes': {
        // Off the backlog once flushed, not once queued: a slow reader of this process's output
        // slows the guest down instead of filling this process's memory.
        const length = message.bytes.byteLength;
        this.spec.processOutput(message.fd, message.bytes, () => slot.outputHandled(length));
        return;
      }
    }
  }

  /** Settle the running call `job` with the result its worker posted. */
  private settleFromMessage(job: CallJob, message: CallResult | CallFailed): void {
    this.fuelConsumed = message.fuel;
    if (message.type === 'result') {
      this.finish(job, { value: message.output === null ? null : new PluginOutput(message.output) });
      return;
    }
    let error = fromWire(message.error, this.hostErrors);
    // The worker could not carry the signal's reason; the abort is ours, so is the reason.
    if (error instanceof AbortError) error = new AbortError(job.name, job.signal?.reason);
    this.finish(job, { error });
  }

  /**
   * Settle every call whose result is in `slot`'s results ring, in order (one whose result
   * came as a message once that message is here), then sleep on the ring while calls are in
   * flight (the worker's next result then comes with a wake-up message). A record that cannot
   * be (not the running call's, a bad kind or length) is the worker's fault: it is ended, the
   * running call fails with a WorkerError and the calls posted ahead go to its replacement.
   */
  private drainResults(slot: WorkerSlot): void {
    const rings = slot.rings!;
    if (this.drainingResults) return;
    this.drainingResults = true;
    try {
      for (;;) {
        if (this.slot !== slot) return;
        const job = this.current;
        let record: ReturnType<HostRings['nextResult']>;
        try {
          record = rings.nextResult();
          if (record !== undefined && (job?.kind !== 'call' || job.id !== record.id)) {
            throw new WorkerError(
              `the plug-in's worker wrote a bad record in its results ring (the result of call ${record.id}, where call ${job?.kind === 'call' ? job.id : 'none'} runs); the worker is replaced`,
            );
          }
        } catch (error) {
          this.workerFault(slot, error);
          return;
        }
        if (record === undefined) {
          // Nothing in flight, nothing to come; else the worker wakes this thread with its next result.
          if (job?.kind !== 'call' || rings.sleep()) return;
          continue;
        }
        const call = job as CallJob;
        if (record.kind === KIND.BY_MESSAGE) {
          const message = slot.messageResults.get(record.id);
          // Its message is on its way: its arrival drains again.
          if (message === undefined) return;
          slot.messageResults.delete(record.id);
          rings.releaseResult(record);
          this.settleFromMessage(call, message);
          continue;
        }
        const output = record.kind === KIND.OUTPUT ? rings.output(record) : null;
        rings.releaseResult(record);
        this.fuelConsumed = record.fuel;
        this.finish(call, { value: output === null ? null : new PluginOutput(output) });
      }
    } finally {
      this.drainingResults = false;
    }
  }

  /** `slot`'s worker broke the protocol: end it, fail the running call, and start a replacement for the rest. */
  private workerFault(slot: WorkerSlot, error: unknown): void {
    const job = this.current;
    this.end(slot);
    if (job !== null) this.finish(job, { error }, false);
    this.respawn();
  }

  private runHost(slot: WorkerSlot, request: HostRequest): void {
    const record: HostCallRecord = { seq: request.seq, ended: false };
    this.hostCalls.add(record);
    const job = this.current;
    const hostContext = job?.kind === 'call' ? job.hostContext : undefined;
    const remember = (seq: number, error: unknown) => {
      if (!record.ended) this.hostErrors.set(seq, error);
    };
    if (request.index === FS_INDEX) {
      // Answered now: the worker is blocked until it is, and the file system is synchronous.
      let outcome: { value: unknown } | { error: unknown };
      try {
        outcome = { value: this.spec.fs === undefined ? undefined : serveFileSystem(this.spec.fs, request.args) };
      } catch (error) {
        outcome = { error };
      }
      slot.line.answer(record, outcome);
      return;
    }
    if (request.index === HTTP_INDEX) {
      const wire = request.args[0] as HttpRequest & { body: ArrayBuffer | null };
      const perform = this.http!;
      perform({ ...wire, body: wire.body === null ? null : new Uint8Array(wire.body) }).then(
        (response) => {
          const body = response.body.slice().buffer;
          slot.line.answer(record, { value: { status: response.status, headers: response.headers, body } }, [body]);
        },
        (error: unknown) => slot.line.answer(record, { error }),
      );
      return;
    }
    const logLevel = { get: () => this.logLevel, set: (level: LogLevel) => void (this.logLevel = level) };
    const ctx = remoteCallContext(slot.line, record, hostContext, logLevel);
    this.inHostFunction = true;
    try {
      runHostFunction(slot.line, record, this.spec.callbacks[request.index]!, ctx, request.args, remember);
    } finally {
      this.inHostFunction = false;
    }
  }

  private endHostCalls(): void {
    if (this.hostCalls.size === 0) return;
    for (const record of this.hostCalls) record.ended = true;
    this.hostCalls.clear();
  }

  // ------------------------------------------------------------------ the queue

  private pump(): void {
    this.startNext();
    // An idle worker must not keep the process alive: a script that forgets close() still ends.
    this.slot?.worker.keepAlive(this.current !== null || this.queue.length > 0 || !this.slot.ready);
  }

  private startNext(): void {
    if (this.closed) return;
    const slot = this.slot;
    if (slot === null) {
      if (this.current === null && this.queue.length > 0) this.respawn();
      return;
    }
    if (!slot.ready) return;
    if (this.current === null && this.ahead.length > 0) {
      // already posted: the worker has started it, or is about to (once sent: now, if it is held)
      const job = (this.current = this.ahead.shift()!);
      if (slot.holds(job.id)) slot.flush();
      this.begin(slot, job);
    }
    if (this.current === null) {
      const job = this.queue.shift();
      if (job === undefined) return;
      this.current = job;
      if (job.kind === 'reset') {
        slot.worker.postMessage({ type: 'reset' } satisfies ToWorker);
        this.watchReset(slot, job);
        return;
      }
      // An empty calls ring has room for any call it takes.
      if (!this.post(slot, job, 0, false)) throw new Error('internal: a call found no room in an empty calls ring');
      // The worker is idle: it gets the call now.
      slot.flush();
      this.begin(slot, job);
    }
    if (this.current.kind !== 'call') return;
    // Posting the next calls now hides this thread's part (the copy of an input, the messages)
    // behind the running one; it is the worker that would otherwise wait for it. The call next in
    // line leaves at once (this thread may be busy for long once this task ends, and the worker
    // must not wait for it); those behind it, posted in this turn of the event loop, are sent
    // together once its events are handled.
    let posted = false;
    while (this.ahead.length < MAX_AHEAD && this.queue.head?.kind === 'call') {
      const job = this.queue.head as CallJob;
      let staging: StagingIndex | null = null;
      if (needsStaging(job.input, true)) {
        staging = this.freeStaging();
        if (staging === null) break;
      }
      // A full calls ring: the call waits at the head of the queue until a result frees room.
      if (!this.post(slot, job, staging, true)) break;
      this.queue.shift();
      this.ahead.push(job);
      posted = true;
    }
    if (slot.rings !== null) this.drainResults(slot);
    if (!posted || !slot.holding) return;
    if (slot.holds(this.ahead[0]!.id)) slot.flush();
    else if (!this.flushPending) {
      this.flushPending = true;
      this.spec.threads.afterEvents(() => {
        this.flushPending = false;
        this.slot?.flush();
      });
    }
  }

  /** A staging memory no call in flight uses, or null when both are in use. */
  private freeStaging(): StagingIndex | null {
    const { current } = this;
    let used = current?.kind === 'call' && current.staging !== null ? 1 << current.staging : 0;
    for (const job of this.ahead) if (job.staging !== null) used |= 1 << job.staging;
    return (used & 1) === 0 ? 0 : (used & 2) === 0 ? 1 : null;
  }

  /**
   * Send `job` to the worker: through the calls ring if it is small and the worker has one,
   * else as a message (with a record in the ring saying so). Returns false, sending nothing,
   * when the ring has no room now.
   */
  private post(slot: WorkerSlot, job: CallJob, staging: StagingIndex | null, ahead: boolean): boolean {
    const id = (this.nextCallId % CALL_ID_WRAP) + 1;
    const { rings } = slot;
    if (rings !== null) {
      const small = ringInput(job.input);
      if (small !== undefined) {
        const written = rings.writeCall(id, job.name, small);
        if (written === 'full') return false;
        if (written === 'written') {
          job.id = this.nextCallId = id;
          // The ring's copy is the worker's; a call posted ahead keeps its own, to send again.
          job.sent = ahead ? (typeof small === 'string' || job.input instanceof OwnedInput ? small : small.slice()) : undefined;
          job.input = undefined;
          job.staging = null;
          return true;
        }
      }
      if (!rings.placeholderFits) return false;
      rings.writeByMessage(id);
    }
    job.id = this.nextCallId = id;
    const wired = slot.staging.wire(staging, job.input, ahead);
    job.staging = wired.staging;
    job.input = undefined; // nothing of it is needed any more
    job.sent = ahead ? wired.sent : undefined;
    slot.send({ type: 'call', id: job.id, name: job.name, input: wired.input }, wired.transfer);
    return true;
  }

  /** The job is now the worker's running one (a call posted ahead may have started there already). */
  private begin(slot: WorkerSlot, job: CallJob): void {
    job.sent = undefined;
    const timeoutMs = this.spec.init.engine.timeoutMs;
    if (timeoutMs !== null) {
      this.deadline = Deadline.fromTimeout(timeoutMs);
      // The worker stops its own call at the deadline; this is for a guest that cannot be
      // stopped from inside (not instrumented), so that the bound holds whatever the guest does.
      this.armWatchdog(slot, job);
    }
    // Aborted while posted ahead: the worker fails it at entry (its skip slot), or, if it had
    // started it already, stops it like any aborted call. Either way it gets the grace period:
    // the worker may be between starting it and reporting it failed right now.
    if (job.aborted) this.interrupt(slot, job, true);
  }

  /** A reset initializes the plug-in again: the same bound as a first initialization. */
  private watchReset(slot: WorkerSlot, job: ResetJob): void {
    const timeoutMs = this.spec.init.engine.timeoutMs;
    if (timeoutMs === null) return;
    const due = Deadline.fromTimeout(timeoutMs + INIT_GRACE_MS);
    const arm = () => {
      this.watchdog = setTimeout(() => {
        this.watchdog = undefined;
        if (this.current !== job || this.slot !== slot) return;
        if (!Deadline.expired(due)) return arm();
        this.end(slot);
        this.finish(job, { error: new TimeoutError('initialization', timeoutMs) });
      }, Deadline.timerDelay(due));
    };
    arm();
  }

  /** The running call's deadline: its worker's once published, else this thread's estimate (see {@link deadline}). */
  private callDeadline(): Deadline {
    const { slot, current } = this;
    if (slot !== null && current?.kind === 'call') this.deadline = slot.deadlineOf(current.id) ?? this.deadline;
    return this.deadline;
  }

  /** Milliseconds until `WATCHDOG_GRACE_MS` past the call's deadline (0 or less: it is time). */
  private untilWatchdog(): number {
    return this.callDeadline() + WATCHDOG_GRACE_MS - Deadline.now();
  }

  /** End the worker `WATCHDOG_GRACE_MS` past the call's deadline, unless it has stopped the call itself by then. */
  private armWatchdog(slot: WorkerSlot, job: CallJob): void {
    this.watchdog = setTimeout(() => this.onWatchdog(slot, job), Deadline.timerDelay((this.callDeadline() + WATCHDOG_GRACE_MS) as Deadline));
  }

  private onWatchdog(slot: WorkerSlot, job: CallJob): void {
    this.watchdog = undefined;
    if (this.current !== job || this.slot !== slot) return;
    // The result is already on its way: let it arrive.
    if (slot.hasFinished(job.id)) return;
    // The worker started the call later than this thread's estimate: hold it to its own deadline.
    if (this.untilWatchdog() > 0) {
      this.armWatchdog(slot, job);
      return;
    }
    this.end(slot);
    this.finish(job, { error: new TimeoutError(job.name, this.spec.init.engine.timeoutMs ?? 0) });
  }

  /** `job`'s signal fired after it left the queue (the queue handles those still in it). */
  private abort(job: CallJob): void {
    const slot = this.slot;
    if (slot === null) return;
    if (this.ahead.includes(job)) {
      // Its caller hears at once; the worker skips it, or stops it if it has started already.
      if (job.aborted) return;
      job.aborted = true;
      slot.skip(job.id);
      this.settle(job, { error: new AbortError(job.name, job.signal?.reason) });
      return;
    }
    if (this.current === job) this.interrupt(slot, job);
  }

  /**
   * Stop the running call `job`: from inside the worker if the guest can be stopped there, else
   * by ending the worker (after a grace period when `graceful`, or when it may stop itself).
   */
  private interrupt(slot: WorkerSlot, job: CallJob, graceful = false): void {
    // Without instrumentation the guest can only be stopped from inside where it waits for us
    // (see raiseAbort).
    const stopsItself = slot.raiseAbort(job.id) || this.spec.instrumented;
    const stop = () => {
      this.abortTimer = undefined;
      if (this.current !== job || this.slot !== slot || slot.hasFinished(job.id)) return;
      this.end(slot);
      this.finish(job, { error: new AbortError(job.name, job.signal?.reason) });
    };
    if (stopsItself || graceful) this.abortTimer = setTimeout(stop, ABORT_GRACE_MS);
    else stop();
  }

  private settle(job: Job, outcome: { value: unknown } | { error: unknown }): void {
    this.queue.release(job);
    if ('error' in outcome) job.reject(outcome.error);
    else (job.resolve as (value: unknown) => void)(outcome.value);
  }

  /** Settle the running job, then start the next one (`next` false: the caller decides, after a fault). */
  private finish(job: Job, outcome: { value: unknown } | { error: unknown }, next = true): void {
    if (this.current === job) {
      this.current = null;
      if (this.watchdog !== undefined) clearTimeout(this.watchdog);
      if (this.abortTimer !== undefined) clearTimeout(this.abortTimer);
      this.watchdog = this.abortTimer = undefined;
      this.deadline = Deadline.none;
      this.endHostCalls();
      if (this.hostErrors.size > 0) this.hostErrors.clear();
    }
    this.settle(job, outcome);
    if (next) {
      if (this.slot === null) this.respawn();
      else this.pump();
    }
  }
}
