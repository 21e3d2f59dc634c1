import type { CallOptions, PluginInput } from './call-options.js';
import { ManifestError, PluginClosedError } from './errors.js';
import { engineBackend, type PluginBackend } from './internal/backend.js';
import { Deadline } from './internal/deadline.js';
import { type EngineOptions, PluginEngine } from './internal/engine.js';
import { thrownText } from './internal/error-codec.js';
import { LOG_LEVELS } from './internal/host-env.js';
import { createAsyncHttpHandler, createHttpHandler } from './internal/http/index.js';
import { hasJspi } from './internal/jspi.js';
import { mergesKernel } from './internal/kernel/placement.js';
import { wasmSizeLimit } from './internal/load-bytes.js';
import { isAddedExport, type LoadedModule, loadModules, visibleImports } from './internal/module-loader.js';
import type { Platform } from './internal/platform/platform.js';
import { resolveManifest } from './internal/resolve-manifest.js';
import type { HostFileType } from './internal/wasi/host-fs.js';
import type { HostFileSystem, WasiMount } from './internal/wasi/index.js';
import type { InMemoryFileSystem } from './internal/wasi/memory-fs.js';
import { WorkerBackend, type WorkerHttpFactory, type WorkerSpec, workerSpec } from './internal/worker/worker-backend.js';
import type { ManifestLike, NormalizedManifest } from './manifest.js';
import { mainModuleIndex } from './manifest.js';
import { wasiFileSystemOf } from './memory-file-system.js';
import type { PluginOptions } from './options.js';
import type { PluginOutput } from './plugin-output.js';

export type { CallOptions, PluginInput } from './call-options.js';

/** What closing a plug-in that is closed already resolves to: a settled promise can be shared. */
const CLOSED: Promise<void> = Promise.resolve();

/**
 * A running plug-in: call its exports with bytes in and bytes out. Its linear memory, globals
 * and vars persist across calls. Create one with {@link createPlugin}.
 *
 * With `runInWorker: true` the plug-in lives in a worker thread: `call` never blocks the event
 * loop, host functions still run on this thread (and may be async), and everything else works
 * the same. Close such a plug-in when done, to end its worker (an idle worker does not keep the
 * process alive).
 *
 * ```ts
 * const plugin = await createPlugin('count-vowels.wasm');
 * const out = await plugin.call('count_vowels', 'Hello, World!');
 * console.log(out?.json()); // { count: 3, total: 3, vowels: 'aeiouAEIOU' }
 * await plugin.close();
 * ```
 */
export class Plugin {
  #backend: PluginBackend | null;

  /** @internal */
  constructor(backend: PluginBackend) {
    this.#backend = backend;
  }

  #live(): PluginBackend {
    if (this.#backend === null) throw new PluginClosedError();
    return this.#backend;
  }

  /**
   * Call the export `name` with `input` (a string is sent as UTF-8). Resolves to the output,
   * or null when the plug-in set none. Rejects with a {@link PluginCallError} (the plug-in's
   * message, the export's name, the exit code) or one of its kinds ({@link FunctionNotFoundError},
   * {@link TimeoutError}, {@link AbortError}, {@link FuelExhaustedError}); with a
   * {@link MemoryLimitError} when kernel memory runs out, a {@link ReentrantCallError} when a host
   * function of this plug-in calls it, a {@link WorkerError} when its worker dies, and a
   * {@link PluginClosedError} once it is closed.
   * Calls on one plug-in never overlap: in a worker, later calls queue behind the running one.
   * In a worker, an input in a `SharedArrayBuffer` is read in place: see {@link PluginInput}.
   *
   * @param hostContext any value, handed to host functions through `callContext.hostContext()`.
   */
  call<T = unknown>(name: string, input?: PluginInput, hostContext?: T, options?: CallOptions): Promise<PluginOutput | null> {
    const backend = this.#backend;
    if (backend === null) return Promise.reject(new PluginClosedError());
    return backend.call(name, input, hostContext, options);
  }

  /**
   * The same call, synchronously (main-thread plug-ins only: a worker plug-in throws a
   * TypeError, as does one that awaits an async host function or HTTP through JSPI). Blocks the event loop for the call's duration; throws what {@link call} rejects with.
   */
  callSync<T = unknown>(name: string, input?: PluginInput, hostContext?: T, options?: CallOptions): PluginOutput | null {
    return this.#live().callSync(name, input, hostContext, options);
  }

  /** Whether the plug-in exports a function called `name`. Rejects with {@link PluginClosedError} once closed. */
  functionExists(name: string): Promise<boolean> {
    const backend = this.#backend;
    if (backend === null) return Promise.reject(new PluginClosedError());
    return backend.functionExists(name);
  }

  /**
   * The main module's `WebAssembly.Instance`, as `@extism/extism` gives it: for reading its
   * exports or memory directly. After a trap or a timeout the plug-in is re-created, so ask again
   * rather than keeping it. Rejects with a `TypeError` for a plug-in in a worker (an instance
   * cannot leave its thread).
   */
  getInstance(): Promise<WebAssembly.Instance> {
    const backend = this.#backend;
    if (backend === null) return Promise.reject(new PluginClosedError());
    return backend.getInstance();
  }

  /** The main module's exports (without those plughost added). Rejects with {@link PluginClosedError} once closed. */
  async getExports(): Promise<WebAssembly.ModuleExportDescriptor[]> {
    const { main } = this.#live();
    return WebAssembly.Module.exports(main.module).filter((exp) => !isAddedExport(main, exp));
  }

  /** The main module's imports (without those plughost added). Rejects with {@link PluginClosedError} once closed. */
  async getImports(): Promise<WebAssembly.ModuleImportDescriptor[]> {
    const { main } = this.#live();
    return visibleImports(main);
  }

  /** Whether a call is running right now. */
  isActive(): boolean {
    return this.#backend?.isActive ?? false;
  }

  /**
   * Re-create the instance: linear memory and globals start afresh (vars are kept). Resolves
   * false while a call runs (nothing is reset), true otherwise; rejects with
   * {@link PluginClosedError} once closed.
   */
  async reset(): Promise<boolean> {
    return this.#live().reset();
  }

  /** Fuel units the last call consumed (see the `fuel` option), when `fuel` or `timeoutMs` is set; else 0. */
  get fuelConsumed(): number {
    return this.#backend?.fuelConsumed ?? 0;
  }

  /**
   * Release the plug-in; later calls reject with {@link PluginClosedError}. A worker plug-in's
   * worker is ended (calls still queued or running reject with PluginClosedError too); the
   * promise resolves once it is gone.
   */
  close(): Promise<void> {
    const backend = this.#backend;
    this.#backend = null;
    if (backend === null) return CLOSED;
    try {
      return backend.close();
    } catch (err) {
      return Promise.reject(err);
    }
  }
}

/** Options after merging with the manifest and applying defaults. */
interface ResolvedOptions {
  manifest: NormalizedManifest;
  /** Complete but for `modules` and `mainIndex`, which compilePlugin sets once the modules are loaded. */
  engine: EngineOptions;
}

function wasiMounts(platform: Platform, allowedPaths: Record<string, string>, memory: InMemoryFileSystem | undefined): WasiMount[] {
  const entries = Object.entries(allowedPaths);
  if (entries.length === 0) return [];
  if (memory !== undefined) return entries.map(([key, guestPath]) => memoryMount(memory, key, guestPath, key.startsWith('ro:')));
  const fs = platform.wasiFileSystem;
  if (fs === undefined) {
    throw new ManifestError(
      `allowed_paths["${entries[0]![0]}"]`,
      `${platform.name} gives WASI no file system of its own: pass wasiFileSystem: createMemoryFileSystem({...}) with the files to mount, or leave allowedPaths empty`,
    );
  }
  // Without a host file system of its own (a browser), the platform's WASI file system answers.
  const files = platform.files ?? {
    resolvePath: (path: string) => path,
    isDirectory: (path: string) => lookUp(fs, path) === 'directory',
    pathExists: (path: string) => lookUp(fs, path) !== undefined,
  };
  return entries.map(([key, guestPath]) => {
    const readOnly = key.startsWith('ro:');
    const hostPath = files.resolvePath(readOnly ? key.slice(3) : key);
    if (!files.isDirectory(hostPath)) {
      const field = `allowed_paths["${key}"]`;
      let exists: boolean;
      try {
        exists = files.pathExists(hostPath);
      } catch (err) {
        // The runtime would not even look (Deno without read access to it).
        throw new ManifestError(field, `cannot check host directory ${hostPath}: ${thrownText(err)}`, { cause: err });
      }
      if (exists) throw new ManifestError(field, `host path ${hostPath} is not a directory`);
      // A guest path such as /mnt or /data often exists on the host too, so only a deeper or
      // relative one (a host directory's shape) suggests keys and values were swapped.
      const reversed = files.isDirectory(guestPath) && !/^\/[^/]*\/?$/.test(guestPath);
      throw new ManifestError(
        field,
        reversed
          ? `host directory ${hostPath} does not exist, but ${guestPath} does: the map looks reversed (keys are host directories, values are guest paths)`
          : `host directory ${hostPath} does not exist`,
      );
    }
    return { hostPath, guestPath, readOnly };
  });
}

/** A mount of a directory of the `wasiFileSystem` option. */
function memoryMount(memory: InMemoryFileSystem, key: string, guestPath: string, readOnly: boolean): WasiMount {
  const path = readOnly ? key.slice(3) : key;
  const type = memory.typeOf(path);
  if (type !== 'directory') {
    const problem = type === undefined ? 'does not exist' : `is a ${type}, not a directory`;
    throw new ManifestError(`allowed_paths["${key}"]`, `${path} ${problem} in the wasiFileSystem (make it with makeDirectory(), or a "${path}/" entry)`);
  }
  return { hostPath: path, guestPath, readOnly };
}

/** What is at `path` (symlinks followed), or undefined when nothing is. */
function lookUp(fs: HostFileSystem, path: string): HostFileType | undefined {
  try {
    return fs.lstat(fs.realpath(path)).type;
  } catch {
    return undefined;
  }
}

/**
 * Refuses a `functions` option that is not the map `@extism/extism` takes (namespace → name →
 * function), which would otherwise leave every import it meant to provide missing: a list (a
 * shape other libraries use), or an entry that is not a function (`{ send: undefined }`).
 */
function checkFunctionMap(functions: unknown): void {
  const shape = "map namespaces to host functions by name ({ 'extism:host/user': { kv_read(ctx, key) { ... } } })";
  if (typeof functions !== 'object' || functions === null || Array.isArray(functions)) {
    const hint = Array.isArray(functions) ? '; a list of declared host functions goes in hostFunctions (defineHostFunction)' : '';
    throw new ManifestError('functions', `must ${shape}, got ${Array.isArray(functions) ? 'an array' : typeof functions}${hint}`);
  }
  for (const namespace of Object.keys(functions)) {
    const names: unknown = (functions as Record<string, unknown>)[namespace];
    if (typeof names !== 'object' || names === null || Array.isArray(names)) {
      throw new ManifestError(`functions["${namespace}"]`, `must map names to host functions, got ${Array.isArray(names) ? 'an array' : String(names)}`);
    }
    for (const name of Object.keys(names)) {
      const callback: unknown = (names as Record<string, unknown>)[name];
      if (typeof callback !== 'function')
        throw new ManifestError(`functions["${namespace}"].${name}`, `must be a function, got ${callback === null ? 'null' : typeof callback}`);
    }
  }
}

/** Merge options over the manifest, validate, and fill defaults. */
function resolveOptions(platform: Platform, manifest: NormalizedManifest, options: PluginOptions): ResolvedOptions {
  const memory = options.memory ?? {};
  const maxPages = memory.maxPages ?? memory.max_pages ?? manifest.memory.maxPages;
  const logLevel = options.logLevel ?? 'silent';
  if (!LOG_LEVELS.includes(logLevel)) throw new ManifestError('logLevel', `must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);
  const timeoutMs = options.timeoutMs !== undefined && options.timeoutMs !== null ? options.timeoutMs : manifest.timeoutMs;
  if (timeoutMs !== null && !(timeoutMs > 0)) throw new ManifestError('timeoutMs', `must be a number of milliseconds > 0, got ${timeoutMs}`);
  if (options.httpTimeoutMs !== undefined && !(options.httpTimeoutMs > 0)) {
    throw new ManifestError('httpTimeoutMs', `must be a number of milliseconds > 0, got ${options.httpTimeoutMs}`);
  }
  if (options.fuel !== undefined && !(Number.isInteger(options.fuel) && options.fuel > 0)) {
    throw new ManifestError('fuel', `must be a whole number > 0, got ${options.fuel}`);
  }
  if (options.functions !== undefined) checkFunctionMap(options.functions);
  const merged: NormalizedManifest = {
    ...manifest,
    // the manifest's own object is fresh from normalizeManifest: copied only to merge the option in
    config: options.config === undefined ? manifest.config : { ...manifest.config, ...options.config },
    allowedHosts: options.allowedHosts ?? manifest.allowedHosts,
    allowedPaths: options.allowedPaths ?? manifest.allowedPaths,
    memory: {
      maxPages,
      maxHttpResponseBytes: memory.maxHttpResponseBytes ?? memory.max_http_response_bytes ?? manifest.memory.maxHttpResponseBytes,
      maxVarBytes: memory.maxVarBytes ?? memory.max_var_bytes ?? manifest.memory.maxVarBytes,
    },
    timeoutMs,
  };
  // read only for WASI plug-ins: a look into process.env costs ~0.2 µs
  const memoryFs = options.wasiFileSystem === undefined ? undefined : wasiFileSystemOf(options.wasiFileSystem);
  const wasiOutput = () => options.enableWasiOutput ?? Boolean(platform.environmentVariable('EXTISM_ENABLE_WASI_OUTPUT'));
  return {
    manifest: merged,
    engine: {
      platform,
      // Set in place once loaded: on V8 11, spreading this object into a new one with two
      // more properties takes the slow path (~2.5 µs, a tenth of creating a plug-in).
      modules: [],
      mainIndex: 0,
      config: merged.config,
      maxVarBytes: merged.memory.maxVarBytes,
      maxPages,
      logger: options.logger ?? console,
      logLevel,
      functions: options.functions ?? {},
      hostFunctions: options.hostFunctions ?? [],
      // Made per engine, for its deadline. A custom fetch fails here (ManifestError): it cannot run on
      // the thread a main-thread plug-in blocks; worker plug-ins get their HTTP from workerHttp instead.
      http:
        merged.allowedHosts.length === 0
          ? undefined
          : (deadline) =>
              createHttpHandler(
                {
                  allowedHosts: merged.allowedHosts,
                  maxResponseBytes: merged.memory.maxHttpResponseBytes,
                  fetch: options.fetch,
                  deadline,
                  requestTimeoutMs: options.httpTimeoutMs,
                },
                platform.syncHttp,
              ),
      // Where the engine has JSPI, the guest awaits the request instead (the user's fetch included).
      asyncHttp:
        merged.allowedHosts.length === 0 || !hasJspi()
          ? undefined
          : (deadline) =>
              createAsyncHttpHandler({
                allowedHosts: merged.allowedHosts,
                maxResponseBytes: merged.memory.maxHttpResponseBytes,
                fetch: options.fetch,
                deadline,
                requestTimeoutMs: options.httpTimeoutMs,
              }),
      allowResponseHeaders: options.allowHttpResponseHeaders ?? false,
      wasi: options.useWasi
        ? { mounts: wasiMounts(platform, merged.allowedPaths, memoryFs), args: options.wasiArgs ?? [], env: options.wasiEnv ?? {} }
        : undefined,
      wasiFileSystem: options.useWasi ? memoryFs : undefined,
      stdout: options.useWasi ? (options.wasiStdout ?? (wasiOutput() ? 'process' : undefined)) : undefined,
      stderr: options.useWasi ? (options.wasiStderr ?? (wasiOutput() ? 'process' : undefined)) : undefined,
      timeoutMs,
      fuel: options.fuel,
    },
  };
}

/** The manifest's modules loaded and compiled for these options (at once when nothing needs waiting for). */
function loadFor(resolved: ResolvedOptions, fetchImpl: typeof fetch, maxWasmBytes: number): LoadedModule[] | Promise<LoadedModule[]> {
  const variant = {
    maxPages: resolved.engine.maxPages,
    instrument: resolved.engine.timeoutMs !== null || resolved.engine.fuel !== undefined,
    mergeKernel: mergesKernel(resolved.engine.platform),
  };
  return loadModules(resolved.engine.platform, resolved.manifest, variant, fetchImpl, maxWasmBytes);
}

const isPromiseLike = (value: unknown): value is PromiseLike<unknown> =>
  (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';

/** @internal createPlugin on `platform` (the public one is bound to its entry's platform, see bind.ts). */
export function createPluginOn(platform: Platform, manifest: ManifestLike | PromiseLike<ManifestLike>, options: PluginOptions = {}): Promise<Plugin> {
  // No async function: a plug-in from a module or from bytes compiled before is made without
  // waiting, and each needless promise (and the garbage it leaves) shows in its cost.
  try {
    const compiled = compileNow(platform, manifest, options);
    if (compiled instanceof Promise) return compiled.then((done) => instantiateFor(done, options));
    return instantiateFor(compiled, options);
  } catch (err) {
    return Promise.reject(err);
  }
}

function instantiateFor(compiled: CompiledPlugin, options: PluginOptions): Promise<Plugin> {
  return options.runInWorker === true ? compiled.instantiate() : Promise.resolve(compiled.instantiateSync());
}

/**
 * A plug-in validated, fetched and compiled once (hash checked once), from which independent
 * {@link Plugin}s are made quickly: each has its own memory, vars and state. The Go SDK's
 * `CompiledPlugin`.
 *
 * ```ts
 * const compiled = await compilePlugin('count-vowels.wasm', { config: { vowels: 'aeiou' } });
 * const [a, b] = await Promise.all([compiled.instantiate(), compiled.instantiate()]);
 * ```
 */
export class CompiledPlugin {
  readonly #engineOptions: EngineOptions;
  readonly #runInWorker: boolean;
  readonly #http: WorkerHttpFactory | undefined;
  #workerSpec: WorkerSpec | undefined;

  /** @internal */
  constructor(engineOptions: EngineOptions, runInWorker: boolean, http: WorkerHttpFactory | undefined) {
    this.#engineOptions = engineOptions;
    this.#runInWorker = runInWorker;
    this.#http = http;
  }

  /**
   * A new, independent plug-in instance: on this thread, or in a worker of its own when the
   * plug-in was compiled with `runInWorker: true` (or `options.runInWorker` says so). The
   * compiled modules go to the worker as they are: nothing is compiled again. Rejects with a
   * {@link LinkError} when an instance cannot be made (its start code fails), a
   * {@link ManifestError} for `timeoutMs` on this thread with a `WebAssembly.Module` you
   * compiled, a {@link WorkerError} when a worker cannot start.
   *
   * @param options.runInWorker overrides the `runInWorker` the plug-in was compiled with.
   */
  async instantiate(options: { runInWorker?: boolean } = {}): Promise<Plugin> {
    if (options.runInWorker ?? this.#runInWorker) return new Plugin(await this.startWorker());
    return this.instantiateSync();
  }

  /** @internal A plug-in on this thread. */
  instantiateSync(): Plugin {
    if (this.#engineOptions.timeoutMs !== null)
      refuseOpaque(
        this.#engineOptions.modules,
        'timeoutMs',
        'on this thread only a module plughost rewrote can be stopped; or pass runInWorker: true, where the worker is ended at the deadline',
      );
    return new Plugin(engineBackend(new PluginEngine(this.#engineOptions)));
  }

  /** @internal A plug-in instance in a new worker (the pool's members). */
  async startWorker(): Promise<WorkerBackend> {
    this.#workerSpec ??= workerSpec(this.#engineOptions, this.#http);
    return WorkerBackend.start(this.#workerSpec);
  }
}

/**
 * A `WebAssembly.Module` the application compiled has no bytes plughost could rewrite, so a limit
 * that needs the rewrite would silently not hold: refuse it, naming the limit and what to do.
 */
function refuseOpaque(modules: readonly LoadedModule[], limit: string, why: string): void {
  const opaque = modules.findIndex((module) => module.info === null);
  if (opaque === -1) return;
  const name = modules[opaque]!.name;
  throw new ManifestError(
    limit,
    `cannot be enforced for ${name === undefined ? `wasm[${opaque}]` : `module "${name}"`}, a WebAssembly.Module compiled by the application: ${why}. Give plughost the module's bytes (a path, URL or data) instead`,
  );
}

/** The host-thread `http_request` of worker plug-ins: the same policy, awaited, with the user's fetch if any. */
function workerHttp(resolved: ResolvedOptions, fetchImpl: typeof fetch | undefined, requestTimeoutMs: number | undefined): WorkerHttpFactory | undefined {
  const allowedHosts = resolved.manifest.allowedHosts;
  if (allowedHosts.length === 0) return undefined;
  const maxResponseBytes = resolved.manifest.memory.maxHttpResponseBytes;
  const factory: WorkerHttpFactory = (deadline) => createAsyncHttpHandler({ allowedHosts, maxResponseBytes, fetch: fetchImpl, deadline, requestTimeoutMs });
  factory(() => Deadline.none); // validates the patterns and the limit now, at creation
  return factory;
}

/** @internal compilePlugin on `platform` (the public one is bound to its entry's platform, see bind.ts). */
export function compilePluginOn(platform: Platform, manifest: ManifestLike | PromiseLike<ManifestLike>, options: PluginOptions = {}): Promise<CompiledPlugin> {
  try {
    const compiled = compileNow(platform, manifest, options);
    return compiled instanceof Promise ? compiled : Promise.resolve(compiled);
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * The compiled plug-in, at once when nothing needs waiting for (the manifest, the module's
 * bytes, their compile), else a promise; throws what it would reject with.
 */
function compileNow(platform: Platform, manifest: ManifestLike | PromiseLike<ManifestLike>, options: PluginOptions): CompiledPlugin | Promise<CompiledPlugin> {
  const fetchImpl = options.fetch ?? fetch;
  const maxWasmBytes = wasmSizeLimit(options.maxWasmBytes);
  if (isPromiseLike(manifest)) {
    return Promise.resolve(manifest as PromiseLike<ManifestLike>).then((like) =>
      compileManifest(platform, resolveManifest(platform, like, fetchImpl, maxWasmBytes), options, fetchImpl, maxWasmBytes),
    );
  }
  return compileManifest(platform, resolveManifest(platform, manifest, fetchImpl, maxWasmBytes), options, fetchImpl, maxWasmBytes);
}

function compileManifest(
  platform: Platform,
  manifest: NormalizedManifest | Promise<NormalizedManifest>,
  options: PluginOptions,
  fetchImpl: typeof fetch,
  maxWasmBytes: number,
): CompiledPlugin | Promise<CompiledPlugin> {
  if (manifest instanceof Promise) return manifest.then((normalized) => compileManifest(platform, normalized, options, fetchImpl, maxWasmBytes));
  const resolved = resolveOptions(platform, manifest, options);
  const loading = loadFor(resolved, fetchImpl, maxWasmBytes);
  if (loading instanceof Promise) return loading.then((modules) => compiledPlugin(resolved, modules, options));
  return compiledPlugin(resolved, loading, options);
}

function compiledPlugin(resolved: ResolvedOptions, modules: LoadedModule[], options: PluginOptions): CompiledPlugin {
  resolved.engine.modules = modules;
  resolved.engine.mainIndex = mainModuleIndex(resolved.manifest);
  if (resolved.engine.fuel !== undefined) refuseOpaque(modules, 'fuel', 'fuel is counted by code plughost adds to the module');
  if (resolved.engine.maxPages !== undefined) refuseOpaque(modules, 'memory.maxPages', "the cap is written into the module's memory limits");
  return new CompiledPlugin(resolved.engine, options.runInWorker === true, workerHttp(resolved, options.fetch, options.httpTimeoutMs));
}
