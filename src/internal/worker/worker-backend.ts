// The host-thread proxy of a plug-in that runs in a worker (`runInWorker: true`). It queues
// calls (one runs at a time, as on the host thread; the next one is posted ahead, so the
// worker starts it without waiting for this thread), serves the worker's host-function
// requests, enforces what the worker cannot enforce alone (a guest that is not instrumented and
// will not stop), and replaces a worker that died. Plug-in state lives in the worker: a
// replacement starts afresh (memory, globals and vars).
import { AbortError, PluginClosedError, ReentrantCallError, TimeoutError, WorkerError } from '../../errors.js';
import type { HostFunctionCallback, Logger, LogLevel } from '../../options.js';
import { PluginOutput } from '../../plugin-output.js';
import type { CallOptions, PluginBackend, PluginInput } from '../backend.js';
import type { EngineOptions } from '../engine.js';
import type { LoadedModule } from '../module-loader.js';
import type { HttpRequest, HttpResponse } from '../host-env.js';
import { epochNow } from '../http/perform-request.js';
import { lineWriter, type OutputTarget } from '../line-sink.js';
import { createSyncChannel, startWorker, type WorkerThread } from '../platform/node-worker.js';
import { asBytes } from '../bytes.js';
import { fromWire } from '../error-codec.js';
import { remoteCallContext, runHostFunction, SyncLine, type HostCallRecord } from './host-call-server.js';
import { CTRL, CTRL_SLOTS, HTTP_INDEX, type FromWorker, type HostFunctionSlot, type HostRequest, type ToWorker, type WasiOutput, type WorkerInit, type CallRequest, type StagedInput } from './protocol.js';

/** After its deadline, how long a call may still take to report its own timeout before its worker is ended. */
const WATCHDOG_GRACE_MS = 30;
/**
 * The same for an initialization (first or after a reset): more generous, since its deadline
 * runs from before the worker links the plug-in, which a loaded machine may take a while to do.
 */
const INIT_GRACE_MS = 1000;
/** After an abort, how long an instrumented guest has to stop on its own before its worker is ended. */
const ABORT_GRACE_MS = 100;
/**
 * How long close() waits for ended workers to be gone. A worker ends within milliseconds,
 * unless its thread does not take the termination (Node 20's V8 misses it in some wasm loops
 * of bulk memory instructions): close() must settle all the same.
 */
const CLOSE_WAIT_MS = 5000;

const WORKER_ENTRY = new URL('./worker-main.js', import.meta.url);

/** The plug-in's `http_request` on the host thread; `deadline` is the running call's (epoch ms). */
export type WorkerHttpFactory = (deadline: () => number) => (request: HttpRequest) => Promise<HttpResponse>;

/** Everything needed to start (and restart) workers for one compiled plug-in. */
export interface WorkerSpec {
  init: Omit<WorkerInit, 'ctrl' | 'port'>;
  /** The user's host functions, index-aligned with `init.hostFunctions`. */
  callbacks: HostFunctionCallback[];
  logger: Logger;
  /** Where guest output lines go, when to the application's targets (not this process's streams). */
  stdout: ((line: string) => void) | undefined;
  stderr: ((line: string) => void) | undefined;
  http: WorkerHttpFactory | undefined;
  main: LoadedModule;
  /** Whether the guest checks in periodically (timeout or fuel set): then it can stop without its worker being ended. */
  instrumented: boolean;
}

function outputMode(target: OutputTarget | 'process' | undefined): WasiOutput {
  return target === undefined || target === 'process' ? target : 'lines';
}

/** Split engine options into what the worker gets (cloneable) and what stays on this thread (functions). */
export function workerSpec(engine: EngineOptions, http: WorkerHttpFactory | undefined): WorkerSpec {
  const hostFunctions: HostFunctionSlot[] = [];
  const callbacks: HostFunctionCallback[] = [];
  for (const [namespace, functions] of Object.entries(engine.functions)) {
    for (const [name, callback] of Object.entries(functions)) {
      if (typeof callback !== 'function') continue;
      hostFunctions.push({ namespace, name, typed: undefined });
      callbacks.push(callback);
    }
  }
  for (const f of engine.hostFunctions) {
    hostFunctions.push({ namespace: f.namespace, name: f.name, typed: { params: [...f.params], results: [...f.results] } });
    callbacks.push(f.callback);
  }
  return {
    init: {
      modules: engine.modules,
      mainIndex: engine.mainIndex,
      config: engine.config,
      maxVarBytes: engine.maxVarBytes,
      maxPages: engine.maxPages,
      logLevel: engine.logLevel,
      hostFunctions,
      http: http !== undefined,
      allowResponseHeaders: engine.allowResponseHeaders,
      wasi: engine.wasi === undefined
        ? undefined
        : { mounts: engine.wasi.mounts, args: engine.wasi.args, env: engine.wasi.env, stdout: outputMode(engine.wasi.stdout), stderr: outputMode(engine.wasi.stderr) },
      timeoutMs: engine.timeoutMs,
      fuel: engine.fuel,
    },
    callbacks,
    logger: engine.logger,
    // delivered as the engine's line sink would deliver them on this thread
    stdout: outputMode(engine.wasi?.stdout) === 'lines' ? lineWriter(engine.wasi!.stdout as OutputTarget) : undefined,
    stderr: outputMode(engine.wasi?.stderr) === 'lines' ? lineWriter(engine.wasi!.stderr as OutputTarget) : undefined,
    http,
    main: engine.modules[engine.mainIndex]!,
    instrumented: engine.modules.some((m) => m.instrumented),
  };
}

interface CallJob {
  kind: 'call';
  id: number;
  name: string;
  /** Raw until the call is either sent (at once) or queued (then captured, see {@link captureInput}). */
  input: PluginInput | OwnedInput;
  /** A call posted ahead keeps what it sent, to send it again if its worker is replaced first. */
  sent: string | Uint8Array | undefined;
  /** Which staging memory its input went through (calls in flight alternate). */
  staging: 0 | 1;
  /** Aborted after it was posted ahead: already rejected, the worker skips or stops it. */
  aborted: boolean;
  hostContext: unknown;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  resolve(output: PluginOutput | null): void;
  reject(error: unknown): void;
}
interface ResetJob {
  kind: 'reset';
  resolve(done: boolean): void;
  reject(error: unknown): void;
}
type Job = CallJob | ResetJob;

/** One worker thread and its lines; a replacement gets a new Slot, so late events of the old one are recognised and ignored. */
interface Slot {
  worker: WorkerThread;
  line: SyncLine;
  ready: boolean;
  /** Set when we end the worker ourselves: its exit is not a fault. */
  ending: boolean;
  lastError: Error | undefined;
  /** Where large inputs are copied for the worker to read (see wireInput), one per call in flight. */
  staging: [Uint8Array | null, Uint8Array | null];
  /** Whether the worker has each staging memory already (sent once, with the first call using it). */
  stagingSent: [boolean, boolean];
  settleStart(error?: unknown): void;
  /** Ends a worker whose initialization overruns its deadline and cannot be stopped from inside. */
  startWatchdog: ReturnType<typeof setTimeout> | undefined;
}

/** An input copied at call time, so the caller may reuse its bytes while the call waits in a queue. */
export class OwnedInput {
  constructor(readonly buffer: ArrayBuffer) {}
}

/**
 * What a queued call keeps of its input: strings as they are (immutable), bytes as a private
 * copy. A call that starts at once is not captured: its bytes go straight to the worker.
 */
export function captureInput(input: PluginInput | OwnedInput): string | OwnedInput {
  if (input instanceof OwnedInput || typeof input === 'string') return input;
  if (input === undefined || input === null) return '';
  if (typeof input === 'number' || !(input instanceof ArrayBuffer || ArrayBuffer.isView(input))) return String(input);
  const bytes = asBytes(input)!;
  const buffer = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(buffer).set(bytes);
  return new OwnedInput(buffer);
}

/**
 * Inputs from this size on go through the worker's staging memory (a SharedArrayBuffer reused
 * from call to call): one copy into memory already mapped, instead of a fresh buffer per call
 * (whose allocation and zeroing cost more than the copy on this thread).
 */
const STAGING_MIN = 16 * 1024;

function stagingFor(slot: Slot, index: 0 | 1, size: number): Uint8Array {
  const current = slot.staging[index];
  if (current !== null && current.byteLength >= size) return current;
  let capacity = 64 * 1024;
  while (capacity < size) capacity *= 2;
  slot.stagingSent[index] = false;
  return (slot.staging[index] = new Uint8Array(new SharedArrayBuffer(capacity)));
}

function staged(slot: Slot, index: 0 | 1, length: number): StagedInput {
  const buffer = slot.stagingSent[index] ? null : (slot.staging[index]!.buffer as SharedArrayBuffer);
  slot.stagingSent[index] = true;
  return { index, staged: buffer, length };
}

const utf8 = new TextEncoder();

interface WireInput {
  input: CallRequest['input'];
  transfer: Transferable[];
  /** What was sent, still readable here (only when asked to keep it). */
  sent: string | Uint8Array | undefined;
}

/** A buffer of ours as the input: transferred, or, to `keep` it, cloned (it is small). */
function ownBuffer(buffer: ArrayBuffer, keep: boolean): WireInput {
  return keep ? { input: buffer, transfer: [], sent: new Uint8Array(buffer) } : { input: buffer, transfer: [buffer], sent: undefined };
}

/**
 * The input as the worker receives it (see {@link CallRequest.input}), through staging memory
 * `index`. With `keep`, nothing is transferred, so the input can be sent again.
 */
function wireInput(slot: Slot, index: 0 | 1, input: PluginInput | OwnedInput, keep: boolean): WireInput {
  const captured = input instanceof OwnedInput || typeof input === 'string' || input instanceof ArrayBuffer || ArrayBuffer.isView(input) ? input : captureInput(input as PluginInput);
  // A large input kept for sending again goes through staging below, like any bytes: cloning
  // it would copy it once more on this thread.
  if (captured instanceof OwnedInput && (!keep || captured.buffer.byteLength < STAGING_MIN)) return ownBuffer(captured.buffer, keep);
  if (typeof captured === 'string') {
    if (captured.length < STAGING_MIN) return { input: captured, transfer: [], sent: captured };
    // ASCII fits in as many bytes as characters; anything else in at most three per character
    let staging = stagingFor(slot, index, captured.length);
    let { read, written } = utf8.encodeInto(captured, staging);
    if (read < captured.length) {
      staging = stagingFor(slot, index, captured.length * 3);
      ({ written } = utf8.encodeInto(captured, staging));
    }
    return { input: staged(slot, index, written), transfer: [], sent: captured };
  }
  const bytes = captured instanceof OwnedInput ? new Uint8Array(captured.buffer) : asBytes(captured)!;
  if (bytes.byteLength < STAGING_MIN) return ownBuffer(bytes.slice().buffer, keep);
  const staging = stagingFor(slot, index, bytes.byteLength);
  staging.set(bytes);
  return { input: staged(slot, index, bytes.byteLength), transfer: [], sent: staging.subarray(0, bytes.byteLength) };
}

/** `done`, or after `ms` whatever becomes of it. */
function settleWithin(done: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([done.then(() => undefined), late]).finally(() => clearTimeout(timer));
}

/** A {@link PluginBackend} whose plug-in runs in a worker thread; see the top of this file. */
export class WorkerBackend implements PluginBackend {
  private slot: Slot | null = null;
  private readonly queue: Job[] = [];
  /** The job the worker runs (as far as this thread knows). */
  private current: Job | null = null;
  /** A call posted behind `current`, which the worker starts as soon as `current` ends. */
  private ahead: CallJob | null = null;
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
  private deadline = Infinity;
  private readonly http: ((request: HttpRequest) => Promise<HttpResponse>) | undefined;
  private readonly exports: Set<string>;
  fuelConsumed = 0;

  private constructor(private readonly spec: WorkerSpec) {
    this.logLevel = spec.init.logLevel;
    this.http = spec.http?.(() => this.deadline);
    this.exports = new Set(WebAssembly.Module.exports(spec.main.module).filter((e) => e.kind === 'function').map((e) => e.name));
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

  call(name: string, input: PluginInput | OwnedInput, hostContext: unknown, options: CallOptions | undefined): Promise<PluginOutput | null> {
    if (this.closed) return Promise.reject(new PluginClosedError());
    if (this.inHostFunction) return Promise.reject(new ReentrantCallError(name));
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(new AbortError(name, signal.reason));
    return new Promise<PluginOutput | null>((resolve, reject) => {
      const job: CallJob = { kind: 'call', id: 0, name, input, sent: undefined, staging: 0, aborted: false, hostContext, signal, onAbort: undefined, resolve, reject };
      if (signal !== undefined) {
        job.onAbort = () => this.abort(job);
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.queue.push(job);
      this.pump();
      // Still waiting: the caller may change its bytes as soon as we return.
      if (this.current !== job && this.ahead !== job) job.input = captureInput(job.input);
    });
  }

  callSync(): never {
    throw new TypeError('callSync is not available for a plug-in created with runInWorker: true (its host functions run on this thread, which callSync would block); use call');
  }

  getInstance(): Promise<WebAssembly.Instance> {
    // A WebAssembly.Instance cannot cross threads: it lives in the worker.
    return Promise.reject(new TypeError('getInstance is not available for a plug-in created with runInWorker: true (its instance lives in the worker, and an instance cannot be sent to another thread)'));
  }

  functionExists(name: string): Promise<boolean> {
    if (this.closed) return Promise.reject(new PluginClosedError());
    return Promise.resolve(this.exports.has(name));
  }

  reset(): Promise<boolean> {
    if (this.closed) return Promise.reject(new PluginClosedError());
    if (this.isActive) return Promise.resolve(false);
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({ kind: 'reset', resolve, reject });
      this.pump();
    });
  }

  /** End the worker now: queued and running calls reject with {@link PluginClosedError}. */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closed = true;
    const error = new PluginClosedError();
    for (const job of this.queue.splice(0)) this.settle(job, { error });
    if (this.ahead !== null) this.settle(this.ahead, { error });
    this.ahead = null;
    if (this.current !== null) this.finish(this.current, { error });
    if (this.slot !== null) this.end(this.slot);
    this.closing = settleWithin(Promise.all(this.terminations), CLOSE_WAIT_MS);
    return this.closing;
  }

  // ------------------------------------------------------------------ workers

  private spawn(): Promise<void> {
    const ctrlBuffer = new SharedArrayBuffer(CTRL_SLOTS * Int32Array.BYTES_PER_ELEMENT);
    const { local, remote } = createSyncChannel();
    const init: WorkerInit = { ...this.spec.init, ctrl: ctrlBuffer, port: remote };
    const worker = startWorker(WORKER_ENTRY, init, [remote as unknown as Transferable]);
    let settleStart!: (error?: unknown) => void;
    const started = new Promise<void>((resolve, reject) => {
      let settled = false;
      settleStart = (error?: unknown) => {
        if (settled) return;
        settled = true;
        if (error === undefined) resolve();
        else reject(error);
      };
    });
    const slot: Slot = {
      worker,
      line: new SyncLine(new Int32Array(ctrlBuffer), local),
      ready: false,
      ending: false,
      lastError: undefined,
      staging: [null, null],
      stagingSent: [false, false],
      settleStart,
      startWatchdog: undefined,
    };
    this.slot = slot;
    worker.onMessage((message) => this.onMessage(slot, message as FromWorker));
    worker.onError((error) => {
      slot.lastError = error;
    });
    worker.onExit((code) => this.onExit(slot, code));
    return started.then(
      () => this.pump(),
      (error: unknown) => {
        if (this.slot === slot) this.end(slot);
        // Nobody can run the queued calls: they get the reason.
        for (const job of this.queue.splice(0)) this.settle(job, { error });
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
   * The call posted ahead to a worker that is going away goes back to the head of the queue,
   * for its replacement (unless it was aborted: then it is settled already).
   */
  private takeBackAhead(): void {
    const job = this.ahead;
    if (job === null) return;
    this.ahead = null;
    if (job.aborted) return;
    job.input = captureInput(job.sent);
    job.sent = undefined;
    this.queue.unshift(job);
  }

  /** End a worker on purpose; its exit is then not a fault. */
  private end(slot: Slot): void {
    slot.ending = true;
    slot.line.dead = true;
    clearTimeout(slot.startWatchdog);
    // A worker that does not take the termination must not keep the process waiting for it.
    slot.worker.keepAlive(false);
    if (this.slot === slot) {
      this.slot = null;
      this.takeBackAhead();
    }
    this.endHostCalls();
    const done = slot.worker.terminate().catch(() => {}).finally(() => {
      slot.line.port.close();
      this.terminations.delete(done);
    });
    this.terminations.add(done);
    slot.settleStart(this.closed ? new PluginClosedError() : new WorkerError('the plug-in worker was ended while starting'));
  }

  private onExit(slot: Slot, code: number): void {
    slot.line.dead = true;
    clearTimeout(slot.startWatchdog);
    if (slot.ending) return;
    if (this.slot === slot) this.slot = null;
    const why = slot.lastError === undefined ? '' : `: ${slot.lastError.message}`;
    const error = new WorkerError(`the plug-in's worker stopped unexpectedly (exit code ${code})${why}`, { cause: slot.lastError, exitCode: code });
    slot.line.port.close();
    if (!slot.ready) {
      slot.settleStart(error);
      return;
    }
    this.endHostCalls();
    // Only the call that was running in it fails; queued calls go to the replacement.
    this.takeBackAhead();
    if (this.current !== null) this.finish(this.current, { error }, false);
    this.respawn();
  }

  private onMessage(slot: Slot, message: FromWorker): void {
    if (slot !== this.slot) return;
    switch (message.type) {
      case 'initializing':
        this.watchInitialization(slot);
        return;
      case 'ready':
        clearTimeout(slot.startWatchdog);
        slot.ready = true;
        this.endHostCalls();
        slot.settleStart();
        this.pump();
        return;
      case 'init-failed':
        clearTimeout(slot.startWatchdog);
        slot.settleStart(fromWire(message.error, this.hostErrors));
        this.hostErrors.clear();
        return;
      case 'result': {
        const job = this.current;
        if (job?.kind !== 'call' || job.id !== message.id) return;
        this.fuelConsumed = message.fuel;
        this.finish(job, { value: message.output === null ? null : new PluginOutput(message.output) });
        return;
      }
      case 'failed': {
        const job = this.current;
        if (job?.kind !== 'call' || job.id !== message.id) return;
        this.fuelConsumed = message.fuel;
        let error = fromWire(message.error, this.hostErrors);
        // The worker could not carry the signal's reason; the abort is ours, so is the reason.
        if (error instanceof AbortError) error = new AbortError(job.name, job.signal?.reason);
        this.finish(job, { error });
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
        try {
          this.spec.logger[message.level](message.message);
        } catch {
          // a failing logger must not take the host down; on the host thread it would fail the call, here the call is elsewhere
        }
        return;
      case 'stdout':
        this.spec.stdout?.(message.line);
        return;
      case 'stderr':
        this.spec.stderr?.(message.line);
        return;
    }
  }

  private runHost(slot: Slot, request: HostRequest): void {
    const record: HostCallRecord = { seq: request.seq, ended: false };
    this.hostCalls.add(record);
    const job = this.current;
    const hostContext = job?.kind === 'call' ? job.hostContext : undefined;
    const remember = (seq: number, error: unknown) => {
      if (!record.ended) this.hostErrors.set(seq, error);
    };
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
    if (this.current === null && this.ahead !== null) {
      // already posted: the worker has started it, or is about to
      const job = (this.current = this.ahead);
      this.ahead = null;
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
      this.post(slot, job, 0, false);
      this.begin(slot, job);
    }
    // Posting the next call now hides this thread's part (the copy of its input, the messages)
    // behind the running one; it is the worker that would otherwise wait for it.
    const { current } = this;
    if (this.ahead === null && current.kind === 'call' && this.queue[0]?.kind === 'call') {
      const job = this.queue.shift() as CallJob;
      this.ahead = job;
      this.post(slot, job, current.staging === 0 ? 1 : 0, true);
    }
  }

  private post(slot: Slot, job: CallJob, staging: 0 | 1, ahead: boolean): void {
    job.id = this.nextCallId = (this.nextCallId % 0x7ffffffe) + 1;
    job.staging = staging;
    const { input, transfer, sent } = wireInput(slot, staging, job.input, ahead);
    job.input = undefined; // nothing of it is needed any more
    job.sent = ahead ? sent : undefined;
    slot.worker.postMessage({ type: 'call', id: job.id, name: job.name, input } satisfies ToWorker, transfer);
  }

  /** The job is now the worker's running one: its deadline starts. */
  private begin(slot: Slot, job: CallJob): void {
    job.sent = undefined;
    const timeoutMs = this.spec.init.timeoutMs;
    if (timeoutMs !== null) {
      this.deadline = epochNow() + timeoutMs;
      // The worker stops its own call at the deadline; this is for a guest that cannot be
      // stopped from inside (not instrumented), so that the bound holds whatever the guest does.
      this.watchdog = setTimeout(() => this.onWatchdog(slot, job), timeoutMs + WATCHDOG_GRACE_MS);
    }
    // Aborted while posted ahead: the worker fails it at entry (CTRL.SKIP), or, if it had
    // started it already, stops it like any aborted call. Either way it gets the grace period:
    // the worker may be between starting it and reporting it failed right now.
    if (job.aborted) this.interrupt(slot, job, true);
  }

  /**
   * The plug-in's initialization (its start function, `_initialize`...) runs under the call
   * deadline; a guest that cannot be stopped from inside gets its worker ended past it.
   */
  private watchInitialization(slot: Slot): void {
    const timeoutMs = this.spec.init.timeoutMs;
    if (timeoutMs === null || slot.ready) return;
    slot.startWatchdog = setTimeout(() => {
      slot.startWatchdog = undefined;
      if (slot.ready || slot.ending || this.slot !== slot) return;
      slot.settleStart(new TimeoutError('initialization', timeoutMs));
      this.end(slot);
    }, timeoutMs + INIT_GRACE_MS);
  }

  /** A reset initializes the plug-in again: the same bound as a first initialization. */
  private watchReset(slot: Slot, job: ResetJob): void {
    const timeoutMs = this.spec.init.timeoutMs;
    if (timeoutMs === null) return;
    this.watchdog = setTimeout(() => {
      this.watchdog = undefined;
      if (this.current !== job || this.slot !== slot) return;
      this.end(slot);
      this.finish(job, { error: new TimeoutError('initialization', timeoutMs) });
    }, timeoutMs + INIT_GRACE_MS);
  }

  private onWatchdog(slot: Slot, job: CallJob): void {
    this.watchdog = undefined;
    if (this.current !== job || this.slot !== slot) return;
    // The result is already on its way: let it arrive.
    if (Atomics.load(slot.line.ctrl, CTRL.DONE) === job.id) return;
    this.end(slot);
    this.finish(job, { error: new TimeoutError(job.name, this.spec.init.timeoutMs ?? 0) });
  }

  private abort(job: CallJob): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.settle(job, { error: new AbortError(job.name, job.signal?.reason) });
      return;
    }
    const slot = this.slot;
    if (slot === null) return;
    if (this.ahead === job) {
      // Its caller hears at once; the worker skips it, or stops it if it has started already.
      if (job.aborted) return;
      job.aborted = true;
      Atomics.store(slot.line.ctrl, CTRL.SKIP, job.id);
      this.settle(job, { error: new AbortError(job.name, job.signal?.reason) });
      return;
    }
    if (this.current === job) this.interrupt(slot, job);
  }

  /**
   * Stop the running call `job`: from inside the worker if the guest can be stopped there, else
   * by ending the worker (after a grace period when `graceful`, or when it may stop itself).
   */
  private interrupt(slot: Slot, job: CallJob, graceful = false): void {
    const { ctrl } = slot.line;
    Atomics.store(ctrl, CTRL.ABORT, job.id);
    // wakes the worker if it is waiting for a host function
    Atomics.add(ctrl, CTRL.TO_WORKER, 1);
    Atomics.notify(ctrl, CTRL.TO_WORKER);
    // Without instrumentation the guest can only be stopped from inside where it waits for us:
    // in a host function, or before it starts (the engine checks the flag on entry; the flag
    // was raised before we look, so a call starting now sees it).
    const stopsItself =
      this.spec.instrumented || Atomics.load(ctrl, CTRL.SERVING) !== 0 || Atomics.load(ctrl, CTRL.STARTED) !== job.id;
    const stop = () => {
      this.abortTimer = undefined;
      if (this.current !== job || this.slot !== slot || Atomics.load(ctrl, CTRL.DONE) === job.id) return;
      this.end(slot);
      this.finish(job, { error: new AbortError(job.name, job.signal?.reason) });
    };
    if (stopsItself || graceful) this.abortTimer = setTimeout(stop, ABORT_GRACE_MS);
    else stop();
  }

  private settle(job: Job, outcome: { value: unknown } | { error: unknown }): void {
    if (job.kind === 'call' && job.onAbort !== undefined) job.signal!.removeEventListener('abort', job.onAbort);
    if ('error' in outcome) job.reject(outcome.error);
    else (job.resolve as (value: unknown) => void)(outcome.value);
  }

  /** Settle the running job, then start the next one (`next` false: the caller decides, after a fault). */
  private finish(job: Job, outcome: { value: unknown } | { error: unknown }, next = true): void {
    if (this.current === job) {
      this.current = null;
      clearTimeout(this.watchdog);
      clearTimeout(this.abortTimer);
      this.watchdog = this.abortTimer = undefined;
      this.deadline = Infinity;
      this.endHostCalls();
      this.hostErrors.clear();
    }
    this.settle(job, outcome);
    if (next) {
      if (this.slot === null) this.respawn();
      else this.pump();
    }
  }
}
