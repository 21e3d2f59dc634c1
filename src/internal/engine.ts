// The synchronous heart of a plug-in: one linked instance, its kernel, and the call sequence of
// ABI.md ("A call, step by step"). Synchronous, so the same engine runs on the main thread and
// inside a worker; only a plug-in that imports something asynchronous where the engine has JSPI
// (see jspi.ts) is called through a promise, with the same steps before and after the guest.
import { CallContext, type CallContextHost } from '../call-context.js';
import {
  AbortError,
  FuelExhaustedError,
  FunctionNotFoundError,
  LinkError,
  PlughostError,
  PluginCallError,
  PluginClosedError,
  ReentrantCallError,
  TimeoutError,
} from '../errors.js';
import type { HostFunction } from '../host-function.js';
import type { HostFunctionMap, Logger, LogLevel } from '../options.js';
import type { PluginOutput } from '../plugin-output.js';
import { Deadline } from './deadline.js';
import { acquireEnvSlot, discardEnvSlot, type EnvSlot, releaseEnvSlot } from './env-slot.js';
import { thrownText } from './error-codec.js';
import { createAsyncHttpRequest, type HostEnvState, type HttpHandler } from './host-env.js';
import { type AsyncHttpHandler, HttpDeadlineExceeded } from './http/index.js';
import { hasJspi, promising, type SuspensionGuard } from './jspi.js';
import { CALL_HAS_ERROR, CALL_HAS_OUTPUT, type Kernel } from './kernel/kernel.js';
import { createLineSink, type LineSink, type OutputTarget } from './line-sink.js';
import { type Instantiated, instantiate, type LinkPlan, link, WASI_NAMESPACE } from './linker.js';
import { releaseMemory } from './memory-pool.js';
import type { LoadedModule } from './module-loader.js';
import type { Platform } from './platform/platform.js';
import { VarStore } from './vars.js';
import { createWasi, type HostFileSystem, type Wasi, WasiExit, type WasiMount } from './wasi/index.js';
import { threadSleep } from './wasi/poll.js';
import { BUDGET_EXPORT, START_EXPORT } from './wasm/instrument.js';

/**
 * What configures an engine, plain data (structured-cloneable: no function, nothing tied to a
 * thread): a worker receives exactly this and builds the same engine from it.
 */
export interface EngineConfig {
  modules: LoadedModule[];
  mainIndex: number;
  config: Record<string, string>;
  maxVarBytes: number;
  maxPages: number | undefined;
  logLevel: LogLevel;
  allowResponseHeaders: boolean;
  wasi: { mounts: WasiMount[]; args: string[]; env: Record<string, string> } | undefined;
  timeoutMs: number | null;
  fuel: number | undefined;
}

/** What stays on the engine's own thread: its platform, and the application's callbacks and sinks. */
export interface EngineHooks {
  /** What the engine runs on: guest output let through, WASI's file system, whether this thread may block. */
  platform: Platform;
  logger: Logger;
  functions: HostFunctionMap;
  hostFunctions: readonly HostFunction[];
  /** Makes the plug-in's `http_request` handler, bound to the running call's deadline; undefined: no HTTP. */
  http: ((deadline: () => Deadline) => HttpHandler) | undefined;
  /**
   * Where the engine has JSPI: makes the awaited `http_request` handler used instead of `http`
   * (the guest suspends while the request runs; no thread blocks). Unset: `http` serves.
   */
  asyncHttp?: ((deadline: () => Deadline) => AsyncHttpHandler) | undefined;
  /** Where a WASI guest's stdout goes: a target, `'process'` (the platform's output, bytes as they come), or nowhere. */
  stdout: OutputTarget | 'process' | undefined;
  stderr: OutputTarget | 'process' | undefined;
  /** What WASI's mounts name when the application handed in its own (`wasiFileSystem`); default: the platform's. */
  wasiFileSystem?: HostFileSystem;
}

/** Everything an engine is made from, in one flat object (the engine reads its fields on hot paths). */
export type EngineOptions = EngineConfig & EngineHooks;

/** The fields of {@link EngineConfig}: the compiler fails here when one is added there and not here. */
const CONFIG_FIELDS = {
  modules: true,
  mainIndex: true,
  config: true,
  maxVarBytes: true,
  maxPages: true,
  logLevel: true,
  allowResponseHeaders: true,
  wasi: true,
  timeoutMs: true,
  fuel: true,
} satisfies Record<keyof EngineConfig, true>;

/** The plain configuration part of `options`: what a worker is sent. */
export function engineConfig(options: EngineOptions): EngineConfig {
  const config: Partial<Record<keyof EngineConfig, unknown>> = {};
  for (const field of Object.keys(CONFIG_FIELDS) as (keyof EngineConfig)[]) config[field] = options[field];
  return config as EngineConfig;
}

/** Per-call limits beyond the plug-in's own. */
export interface CallLimits {
  signal?: AbortSignal;
  /** The call's deadline when its owner has set it already (a worker's call: the host thread reads the same one); default `timeoutMs` from the start. */
  deadline?: Deadline;
}

/** An export's result as an exit code: an integer (an i32, or an i64 as some compilers emit), else undefined. */
function exitCodeOf(returned: unknown): number | undefined {
  if (typeof returned === 'number') return Number.isInteger(returned) ? returned : undefined;
  return typeof returned === 'bigint' ? Number(returned) : undefined;
}

/** What an export returned that is no exit code, for a message: several values, a float, a reference. */
function returnedText(returned: unknown): string {
  if (Array.isArray(returned)) return `${returned.length} values`;
  if (typeof returned === 'number') return `the float ${returned}`;
  return returned === null ? 'a null reference' : `a ${typeof returned}`;
}

/** Why the guest was stopped from the outside; thrown through the guest by `tick`. */
class Interrupted extends Error {
  constructor(
    readonly reason: 'timeout' | 'fuel' | 'abort',
    readonly abortReason?: unknown,
  ) {
    super(reason);
  }
}

function outputSink(target: OutputTarget | 'process' | undefined, fd: 1 | 2, platform: Platform): LineSink | undefined {
  if (target === undefined) return undefined;
  if (target !== 'process') return createLineSink(target);
  const stream = platform.output(fd);
  // a copy: the stream may write later, and the guest reuses its buffer
  return { write: (chunk) => void stream.write(chunk.slice()), flush() {} };
}

/**
 * How long past its deadline a suspended call waits before it is given up: an HTTP request
 * ending at the same deadline reports itself first (its TimeoutError names the URL).
 */
const SUSPENDED_DEADLINE_GRACE_MS = 20;

/** The suffix JavaScriptCore adds to a trap's message: ` (evaluating '<the JS that made the call>')`. */
const JSC_CALLER_SUFFIX = / \(evaluating '.*'\)$/s;

/** Budget units between two looks at the clock: about a millisecond of guest work. */
const SLICE = 1_000_000;
/** The shortest slice: where it ends up while every unit is slow (grows, host calls). */
const MIN_SLICE = 1_000;

/**
 * What a plug-in's call context reaches: its kernel and vars, while it is open. Once released,
 * the kernel goes back to the pool and serves the next plug-in created, so a context used after
 * that (kept by a host function for later, or used by an async host function still running
 * after its call timed out) fails instead of reaching that plug-in. A class, not an object
 * literal with accessors: V8 makes such a literal slowly, and one is made per plug-in created.
 */
class OpenPluginContext implements CallContextHost {
  constructor(
    private readonly state: HostEnvState & { hostContext: unknown },
    private readonly engine: { readonly released: boolean },
  ) {}

  private checkOpen(): void {
    if (this.engine.released) {
      throw new PluginClosedError(
        "the plug-in this host function's call context belongs to is closed: its memory and vars are no longer reachable (use the context during the call, and keep copies of what is needed later)",
      );
    }
  }

  get kernel() {
    this.checkOpen();
    return this.state.kernel;
  }
  get vars() {
    this.checkOpen();
    return this.state.vars;
  }
  get hostContext() {
    return this.state.hostContext;
  }
  get logLevel(): LogLevel {
    return this.state.logLevel;
  }
  set logLevel(level: LogLevel) {
    this.state.logLevel = level;
  }
}

/** One plug-in instance and its call sequence; see the top of this file. */
export class PluginEngine {
  readonly kernel: Kernel;
  private readonly slot: EnvSlot;
  readonly vars: VarStore;
  readonly callContext: CallContext;
  private readonly state: HostEnvState & { hostContext: unknown };
  private readonly plan: LinkPlan;
  private readonly wasiModules: Set<number>;
  // unset only until the constructor's first instantiation
  private instance!: Instantiated;
  private wasis: Wasi[] = [];
  private readonly stdout: LineSink | undefined;
  private readonly stderr: LineSink | undefined;
  private budgets: WebAssembly.Global[] = [];
  /** Whether a call sets up deadlines and budgets: some instance is instrumented, or a timeout is set. */
  private guarded = false;
  /** Whether a call has anything to finish after the guest: {@link guarded}, or WASI output to flush. */
  private finishing = false;
  private readonly exportCache = new Map<string, (() => unknown) | null>();
  // The fields below serve only a plug-in whose imports suspend (JSPI), and are made on its first
  // call: creating any other plug-in costs nothing more.
  /** Exports wrapped by `WebAssembly.promising`. */
  private promisingCache: Map<string, () => Promise<unknown>> | undefined;
  /** A suspending plug-in's calls run one at a time: `busy` while one runs, the others wait here in order. */
  private busy = false;
  /** An async host function of this plug-in has started and not yet handed back its promise (see guardSuspension). */
  private hostFunctionStarting = false;
  private waiting: (() => void)[] | undefined;
  /** The suspending call in flight; `givenUp` once it timed out or was aborted while suspended. */
  private suspended: { givenUp: boolean } | undefined;
  private active = false;
  /** Set when the instance's state can no longer be trusted; the next call re-instantiates. */
  private stale = false;
  private closed = false;

  // interrupt bookkeeping of the running call
  private deadline = Deadline.none;
  private signal: AbortSignal | undefined;
  private fuelLeft = Infinity;
  private budgetSet = 0;
  /** Units handed out per tick: halved after a slice that took over a millisecond, so the clock is read about that often whatever the guest runs. */
  private slice = SLICE;
  private sliceStart = 0;
  private consumed = 0;
  /** Fuel used by the last call (instrumentation units), when fuel or a timeout is set. */
  lastFuelConsumed = 0;

  constructor(private readonly options: EngineOptions) {
    this.slot = acquireEnvSlot(options.maxPages);
    try {
      this.kernel = this.slot.kernel;
      this.vars = new VarStore(options.maxVarBytes);
      const asyncHttp = hasJspi() ? options.asyncHttp?.(() => this.deadline) : undefined;
      this.state = this.createState(options, asyncHttp !== undefined);
      this.slot.holder.state = this.state;
      this.callContext = new CallContext(new OpenPluginContext(this.state, this));
      this.stdout = outputSink(options.stdout, 1, options.platform);
      this.stderr = outputSink(options.stderr, 2, options.platform);
      this.plan = link({
        modules: options.modules,
        mainIndex: options.mainIndex,
        kernel: this.kernel,
        envFunctions: this.slot.envFunctions,
        functions: options.functions,
        hostFunctions: options.hostFunctions,
        callContext: this.callContext,
        useWasi: options.wasi !== undefined,
        tick: () => this.tick(),
        guard: () => this.guardSuspension(),
        asyncHttpRequest: asyncHttp && createAsyncHttpRequest(this.state, asyncHttp),
      });
      this.wasiModules = new Set();
      if (options.wasi !== undefined) {
        for (const [index, list] of this.plan.bindings) if (list.some((b) => b.module === WASI_NAMESPACE)) this.wasiModules.add(index);
      }
      this.setBudgets([]);
      this.instantiateNow();
    } catch (err) {
      releaseEnvSlot(this.slot);
      throw err;
    }
  }

  /** `httpAwaited`: http_request is the awaited import (JSPI), no synchronous handler is made. */
  private createState(options: EngineOptions, httpAwaited: boolean): HostEnvState & { hostContext: unknown } {
    return {
      kernel: this.kernel,
      vars: this.vars,
      config: options.config,
      logger: options.logger,
      logLevel: options.logLevel,
      http: httpAwaited ? undefined : options.http?.(() => this.deadline),
      allowResponseHeaders: options.allowResponseHeaders,
      lastStatus: 0,
      lastHeaders: undefined,
      hostContext: undefined,
    };
  }

  /** Whether an import suspends the guest (JSPI): calls must go through {@link callAsync} (the backend refuses callSync). */
  get suspends(): boolean {
    return this.plan.suspends;
  }

  get isActive(): boolean {
    return this.active;
  }

  /** The main module as loaded. */
  get main(): LoadedModule {
    return this.options.modules[this.options.mainIndex]!;
  }

  /** Give back the memories of the current instances, which will never run again. */
  private releaseMemories(): void {
    const instance = this.instance as Instantiated | undefined;
    if (instance === undefined) return;
    const memories = instance.ownMemories;
    // emptied first: a memory given back twice would be handed to two plug-ins
    instance.ownMemories = [];
    for (const { memory, limits } of memories) releaseMemory(memory, limits);
  }

  private instantiateNow(): void {
    for (const wasi of this.wasis) wasi.close();
    this.wasis = [];
    this.releaseMemories();
    const wasiOptions = this.options.wasi;
    // The old instance's budgets are not the new one's, which exist once it does (no guest code
    // runs before: an instrumented module's start function is deferred, see START_EXPORT).
    this.setBudgets([]);
    this.beginGuarded();
    try {
      this.instance = instantiate(this.plan, this.options.modules, this.options.mainIndex, (index) => {
        if (wasiOptions === undefined || !this.wasiModules.has(index)) return undefined;
        const wasi = createWasi({
          mounts: wasiOptions.mounts,
          args: wasiOptions.args,
          env: wasiOptions.env,
          stdout: this.stdout && ((chunk: Uint8Array) => this.stdout!.write(chunk)),
          stderr: this.stderr && ((chunk: Uint8Array) => this.stderr!.write(chunk)),
          sleep: (ms: number) => this.sleep(ms),
          checkInterrupt: () => void this.checkInterrupt(),
          fs: this.options.wasiFileSystem ?? this.options.platform.wasiFileSystem,
        });
        this.wasis.push(wasi);
        return wasi;
      });
      this.setBudgets(this.instance.all.map((i) => i.exports[BUDGET_EXPORT]).filter((g): g is WebAssembly.Global => g instanceof WebAssembly.Global));
      // filled now, as startGuard would have filled them had they existed then
      if (this.guarded) this.refill();
      this.exportCache.clear();
      this.promisingCache?.clear();
      this.lastExportName = undefined;
      this.initialize();
    } catch (err) {
      throw this.instantiationError(err);
    } finally {
      this.endGuarded();
    }
    this.stale = false;
  }

  private instantiationError(err: unknown): Error {
    if (err instanceof Interrupted) return this.interruptError(err, 'initialization');
    if (err instanceof HttpDeadlineExceeded) return this.httpTimeoutError('initialization', err);
    if (err instanceof PlughostError) return err;
    if (err instanceof WasiExit) return new PluginCallError('initialization', err.code, `the plug-in exited with code ${err.code} while initializing`);
    return new LinkError(`cannot instantiate the plug-in: ${thrownText(err)}`, [], { cause: err });
  }

  /**
   * Every instance, dependencies first (link order), before any call: hs_init for Haskell
   * (after its `_initialize`), else the reactor or C++ constructors. A side module is
   * initialized like the main one: a WASI reactor's `_initialize` sets up its libc, which its
   * exports need whoever calls them.
   */
  private initialize(): void {
    for (const instance of this.instance.all) {
      const exports = instance.exports;
      const fn = (name: string) => (typeof exports[name] === 'function' ? (exports[name] as (...a: number[]) => unknown) : undefined);
      // an instrumented module's start function, deferred to here (see START_EXPORT)
      fn(START_EXPORT)?.();
      const hsInit = fn('hs_init');
      if (hsInit !== undefined) {
        fn('_initialize')?.();
        hsInit(0, 0);
        continue;
      }
      (fn('_initialize') ?? fn('__wasm_call_ctors'))?.();
    }
  }

  private lastExportName: string | undefined;
  private lastExport: (() => unknown) | null = null;

  private exportFunction(name: string): (() => unknown) | null {
    // Applications call the same export over and over: skip the map for a repeat.
    if (name === this.lastExportName) return this.lastExport;
    let fn = this.exportCache.get(name);
    if (fn === undefined) {
      const value = this.exportedFunction(name);
      // one taking parameters is no Extism export: calling it would fail on its missing arguments
      fn = value !== undefined && value.length === 0 ? (value as () => unknown) : null;
      this.exportCache.set(name, fn);
    }
    this.lastExportName = name;
    this.lastExport = fn;
    return fn;
  }

  private exportedFunction(name: string): ((...args: never[]) => unknown) | undefined {
    const exports = this.instance.main.exports;
    const value = Object.hasOwn(exports, name) && name !== START_EXPORT ? exports[name] : undefined;
    return typeof value === 'function' ? (value as (...args: never[]) => unknown) : undefined;
  }

  /** Why `name` cannot be called: no such function, or one that takes parameters. */
  private notCallable(name: string): PluginCallError {
    const parameters = this.exportedFunction(name)?.length;
    if (parameters === undefined) return new FunctionNotFoundError(name);
    return new PluginCallError(
      name,
      -1,
      `"${name}" takes ${parameters} parameter${parameters === 1 ? '' : 's'}, so it is not an Extism export (those take none and read their input with input_load_*): call one of the plug-in's Extism functions`,
    );
  }

  functionExists(name: string): boolean {
    if (this.stale) this.instantiateNow();
    return this.exportedFunction(name) !== undefined;
  }

  /** The main module's instance as it stands (re-created first if the last one is stale). */
  mainInstance(): WebAssembly.Instance {
    if (this.stale) this.instantiateNow();
    return this.instance.main;
  }

  /** Call an export with `input`; returns a private copy of the output, or null for none. */
  call(name: string, input: Uint8Array | string, hostContext: unknown, limits?: CallLimits): PluginOutput | null {
    try {
      return this.run(name, input, hostContext, limits);
    } catch (err) {
      throw this.callFailure(name, err);
    } finally {
      // closed by a host function during the call (see close)
      if (this.closed) this.release();
    }
  }

  /** The guest's failure, when the kernel memory limit refused it memory: that is the cause. */
  private callFailure(name: string, err: unknown): unknown {
    if (err instanceof PluginCallError && err.code === 'PLUGHOST_CALL' && err.functionName === name) return this.kernel.memoryLimitFailure(name, err) ?? err;
    return err;
  }

  private run(name: string, input: Uint8Array | string, hostContext: unknown, limits?: CallLimits): PluginOutput | null {
    const fn = this.startCall(name, input, hostContext, limits);
    let returned: unknown;
    let failure: unknown;
    let failed = false;
    this.beginGuarded(limits?.deadline);
    try {
      returned = fn();
    } catch (err) {
      failed = true;
      failure = err;
    } finally {
      this.endCall();
    }
    return this.settle(name, returned, failed, failure);
  }

  // The steps of a call keep their common case short and their rare ones in methods of their
  // own: V8 inlines the whole call path into `call` only while it fits its inlining budget,
  // and each step left out of line cost a no-op call several percent (Node 20).

  /** The steps before the guest runs (ABI.md): a fresh instance if stale, the export, the input, the call's state. */
  private startCall(name: string, input: Uint8Array | string, hostContext: unknown, limits: CallLimits | undefined): () => unknown {
    if (this.active || this.stale) this.prepareInstance(name);
    const fn = name === this.lastExportName ? this.lastExport : this.exportFunction(name);
    if (fn === null) throw this.notCallable(name);
    this.kernel.begin(input);
    const state = this.state;
    state.hostContext = hostContext;
    state.lastStatus = 0;
    state.lastHeaders = undefined;
    if (limits?.signal !== undefined) this.takeSignal(name, limits.signal);
    return fn;
  }

  /** A call while one runs is refused; a stale instance is made afresh. */
  private prepareInstance(name: string): void {
    if (this.active) throw new ReentrantCallError(name);
    this.instantiateNow();
  }

  /** The call's signal, which the guest's ticks look at; one aborted already fails the call now. */
  private takeSignal(name: string, signal: AbortSignal): void {
    if (signal.aborted) throw new AbortError(name, signal.reason);
    this.signal = signal;
  }

  private endCall(): void {
    this.endGuarded();
    this.state.hostContext = undefined;
    this.signal = undefined;
  }

  /** The steps after the guest returned or threw: the outcome in ABI order, then the output. */
  private settle(name: string, returned: unknown, failed: boolean, failure: unknown): PluginOutput | null {
    if (name === '_start') this.stale = true;
    const outcome = this.kernel.outcome();
    // The common case: the guest returned 0 or nothing and set no error; an output or none.
    if (!failed && (outcome & ~CALL_HAS_OUTPUT) === 0 && (returned === 0 || returned === undefined)) {
      return outcome === 0 ? null : this.output(name, outcome);
    }
    return this.settleOtherwise(name, outcome, returned, failed, failure);
  }

  private settleOtherwise(name: string, outcome: number, returned: unknown, failed: boolean, failure: unknown): PluginOutput | null {
    // An empty error message is no error, as in the reference runtime.
    const pluginMessage = (outcome & CALL_HAS_ERROR) !== 0 ? this.kernel.errorMessage() || undefined : undefined;
    if (failed) {
      if (failure instanceof WasiExit) {
        this.stale = true;
        if (failure.code === 0 && pluginMessage === undefined) return this.output(name, outcome);
        throw new PluginCallError(name, failure.code, pluginMessage ?? `"${name}" exited with code ${failure.code}`);
      }
      this.stale = true;
      throw this.failureError(name, failure, pluginMessage);
    }
    if (pluginMessage !== undefined) {
      throw new PluginCallError(name, returned === undefined ? 0 : (exitCodeOf(returned) ?? -1), pluginMessage);
    }
    const code = returned === undefined ? 0 : exitCodeOf(returned);
    if (code === undefined) {
      throw new PluginCallError(
        name,
        -1,
        `"${name}" returned ${returnedText(returned)}, which is no exit code: an Extism export returns an i32 (0 for success) or nothing`,
      );
    }
    if (code !== 0) throw new PluginCallError(name, code, `"${name}" returned exit code ${code}`);
    return this.output(name, outcome);
  }

  /**
   * The call of a plug-in whose imports suspend (JSPI): the export runs through
   * `WebAssembly.promising`, so the event loop turns while an async import is pending. Calls
   * queue and run one at a time; each is bounded by the plug-in's timeout and the signal even
   * while suspended (a host promise that never settles included).
   */
  callAsync(name: string, input: Uint8Array | string, hostContext: unknown, limits?: CallLimits): Promise<PluginOutput | null> {
    if (this.hostFunctionStarting) return Promise.reject(new ReentrantCallError(name));
    if (this.busy) {
      return new Promise<void>((resolve) => (this.waiting ??= []).push(resolve)).then(() => this.runSuspending(name, input, hostContext, limits));
    }
    this.busy = true;
    return this.runSuspending(name, input, hostContext, limits);
  }

  private async runSuspending(name: string, input: Uint8Array | string, hostContext: unknown, limits: CallLimits | undefined): Promise<PluginOutput | null> {
    try {
      // closed while this call waited its turn
      if (this.closed) throw new PluginClosedError();
      const fn = this.startCall(name, input, hostContext, limits);
      const call = (this.suspended = { givenUp: false });
      let returned: unknown;
      let failure: unknown;
      let failed = false;
      this.beginGuarded(limits?.deadline);
      try {
        returned = await this.bounded(this.promisingExport(name, fn)(), call);
      } catch (err) {
        failed = true;
        failure = err;
      } finally {
        this.endCall();
      }
      // The given-up guest may still be suspended on its memory and its kernel, and may run on
      // once its host function settles (a guest that catches the error it resumes with): neither
      // may go to another plug-in.
      if (call.givenUp) {
        this.instance.ownMemories = [];
        this.kernelAbandoned = true;
      }
      return this.settle(name, returned, failed, failure);
    } catch (err) {
      throw this.callFailure(name, err);
    } finally {
      if (this.closed) this.release();
      // the turn goes straight to the next waiting call, so a new call cannot overtake it
      const next = this.waiting?.shift();
      if (next !== undefined) next();
      else this.busy = false;
    }
  }

  private promisingExport(name: string, fn: () => unknown): () => Promise<unknown> {
    const cache = (this.promisingCache ??= new Map());
    let wrapped = cache.get(name);
    if (wrapped === undefined) cache.set(name, (wrapped = promising(fn)));
    return wrapped;
  }

  /**
   * The guest's promise, or an interrupt when the deadline passes or the signal aborts first:
   * `tick` cannot run while the guest is suspended. The call is then given up (see
   * {@link guardSuspension}).
   */
  private bounded(guest: Promise<unknown>, call: { givenUp: boolean }): Promise<unknown> {
    const signal = this.signal;
    if (this.deadline === Deadline.none && signal === undefined) return guest;
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const giveUp = (interrupt: Interrupted) => {
        call.givenUp = true;
        done();
        reject(interrupt);
      };
      const onAbort = () => giveUp(new Interrupted('abort', signal!.reason));
      if (this.deadline !== Deadline.none) {
        const due = (this.deadline + SUSPENDED_DEADLINE_GRACE_MS) as Deadline;
        const arm = () => {
          timer = setTimeout(() => (Deadline.expired(due) ? giveUp(new Interrupted('timeout')) : arm()), Deadline.timerDelay(due));
        };
        arm();
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      guest.then(
        (value) => {
          done();
          resolve(value);
        },
        (err) => {
          done();
          reject(err);
        },
      );
    });
  }

  /**
   * Called as an async import starts. Its `settled` runs when the import's promise settles,
   * before the guest resumes, and throws if the call was given up meanwhile: the abandoned guest
   * unwinds instead of running on into a kernel that serves the next call.
   */
  private guardSuspension(): SuspensionGuard {
    const call = this.suspended;
    // Until the host function hands back its promise the guest is on the stack under it: a call
    // of this plug-in made now comes from that function, and would queue behind the very call
    // that waits for it. Once the guest is suspended, a call may come from anywhere, and queues.
    this.hostFunctionStarting = true;
    return {
      returned: () => {
        this.hostFunctionStarting = false;
      },
      settled: () => {
        if (call?.givenUp) throw new Error('the call this host function belonged to was given up (timeout or abort)');
      },
    };
  }

  private output(name: string, outcome: number): PluginOutput | null {
    try {
      return this.kernel.takeOutput(outcome);
    } catch (err) {
      throw new PluginCallError(name, -1, (err as Error).message);
    }
  }

  private failureError(name: string, failure: unknown, pluginMessage: string | undefined): Error {
    if (failure instanceof Interrupted) return this.interruptError(failure, name);
    if (failure instanceof HttpDeadlineExceeded) return this.httpTimeoutError(name, failure);
    if (failure instanceof PluginCallError) return new PluginCallError(name, failure.exitCode, failure.message, { cause: failure });
    const isTrap = failure instanceof WebAssembly.RuntimeError || failure instanceof RangeError;
    // JavaScriptCore ends a trap's message with the JS expression that called into wasm
    // (plughost's own, "(evaluating 'fn()')"), which says nothing about the plug-in.
    const message = isTrap ? thrownText(failure).replace(JSC_CALLER_SUFFIX, '') : thrownText(failure);
    if (isTrap && pluginMessage !== undefined) {
      // The trap's message first (ABI.md), the plug-in's own message beside it.
      return new PluginCallError(name, -1, `${message} (the plug-in had set the error: ${pluginMessage})`, { cause: failure });
    }
    return new PluginCallError(name, -1, message, { cause: failure });
  }

  /** A request that ran out of time: the call's timeoutMs, or its own httpTimeoutMs; the message names the URL. */
  private httpTimeoutError(name: string, failure: HttpDeadlineExceeded): TimeoutError {
    return new TimeoutError(name, failure.httpTimeoutMs ?? this.options.timeoutMs ?? 0, { reason: failure.message, cause: failure });
  }

  private interruptError(interrupt: Interrupted, name: string): Error {
    switch (interrupt.reason) {
      case 'timeout':
        return new TimeoutError(name, this.options.timeoutMs ?? 0);
      case 'fuel':
        return new FuelExhaustedError(name, this.options.fuel ?? 0);
      case 'abort':
        return new AbortError(name, interrupt.abortReason);
    }
  }

  // ------------------------------------------------------------------ interrupts

  private setBudgets(budgets: WebAssembly.Global[]): void {
    this.budgets = budgets;
    this.guarded = budgets.length > 0 || this.options.timeoutMs !== null || this.options.fuel !== undefined;
    this.finishing = this.guarded || this.stdout !== undefined || this.stderr !== undefined;
  }

  private beginGuarded(deadline?: Deadline): void {
    this.active = true;
    if (this.guarded) this.startGuard(deadline);
  }

  private startGuard(deadline: Deadline | undefined): void {
    this.deadline = deadline ?? Deadline.fromTimeout(this.options.timeoutMs);
    this.fuelLeft = this.options.fuel ?? Infinity;
    this.consumed = 0;
    this.sliceStart = Deadline.now();
    this.refill();
  }

  private endGuarded(): void {
    this.active = false;
    if (this.finishing || this.deadline !== Deadline.none) this.finishGuard();
  }

  private finishGuard(): void {
    this.stdout?.flush();
    this.stderr?.flush();
    if (this.budgets.length > 0) {
      this.account();
      this.lastFuelConsumed = this.consumed;
    }
    this.deadline = Deadline.none;
  }

  private account(): void {
    for (const budget of this.budgets) this.consumed += this.budgetSet - (budget.value as number);
  }

  private refill(): void {
    this.budgetSet = Math.max(1, Math.min(this.slice, this.fuelLeft - this.consumed));
    for (const budget of this.budgets) budget.value = this.budgetSet;
  }

  /** Called by instrumented guests when their budget runs out. */
  private tick(): void {
    // No call is running: the guest ticking is one given up while suspended (JSPI) that caught
    // the error it resumed with. Nothing bounds it any more but this.
    if (!this.active) throw new Interrupted('timeout');
    this.account();
    if (this.consumed >= this.fuelLeft) throw new Interrupted('fuel');
    const now = Deadline.now();
    if (Deadline.expired(this.deadline, now)) throw new Interrupted('timeout');
    this.slice = now - this.sliceStart > 1 ? Math.max(MIN_SLICE, this.slice >> 1) : Math.min(SLICE, this.slice * 2);
    this.sliceStart = now;
    if (this.signal?.aborted) throw new Interrupted('abort', this.signal.reason);
    this.refill();
  }

  /**
   * For code that blocks outside the guest, where `tick` never runs (a worker waiting for a
   * main-thread host function): throws the running call's timeout or abort when it is due,
   * else returns the milliseconds left before the deadline (Infinity without one).
   */
  checkInterrupt(): number {
    const left = Deadline.remaining(this.deadline);
    if (left <= 0) throw new Interrupted('timeout');
    if (this.signal?.aborted) throw new Interrupted('abort', this.signal.reason);
    return left;
  }

  /** WASI sleeps end at the call's deadline at the latest. */
  private sleep(ms: number): void {
    const wake = Deadline.fromTimeout(ms);
    const until = Deadline.earliest(wake, this.deadline);
    threadSleep(this.options.platform.canBlock)(Deadline.remaining(until));
    if (until < wake) throw new Interrupted('timeout');
  }

  /** Drop every kernel block and re-create the instance (state lost, vars kept). */
  reset(): void {
    if (this.active) return;
    try {
      this.kernel.releaseAll();
      this.instantiateNow();
    } finally {
      if (this.closed) this.release();
    }
  }

  /**
   * Release everything. Closed from inside its own call (by a host function), the plug-in
   * keeps its kernel and memory until that call returns: they must not go to another plug-in
   * while its guest still runs on them.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.active) this.release();
  }

  /** Closed: its kernel and memories are given back (see {@link release}). */
  released = false;
  /** A call was given up while its guest was suspended: the kernel may still be in its hands, so it is never pooled. */
  private kernelAbandoned = false;

  private release(): void {
    if (this.active || this.released) return;
    this.released = true;
    for (const wasi of this.wasis) wasi.close();
    this.wasis = [];
    this.vars.clear();
    this.releaseMemories();
    if (this.kernelAbandoned) discardEnvSlot(this.slot);
    else releaseEnvSlot(this.slot);
  }
}
