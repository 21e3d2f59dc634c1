import type { LogLevel } from './call-context.js';
import type { HostFunction, HostFunctionMap } from './host-function.js';
import type { MemoryOptions } from './manifest.js';
import type { MemoryFileSystem } from './memory-file-system.js';

// Their home is with what they describe; here too, where the options that take them are.
export type { LogLevel } from './call-context.js';
export type { HostFunctionCallback, HostFunctionMap } from './host-function.js';

/** Where guest output goes: a function called once per line (without its newline), or a stream. */
export type OutputTarget =
  | ((line: string) => void)
  | {
      /** Receives each line, with its newline. */
      write(chunk: string): unknown;
    };

/** Where plug-in log messages go: any object with the five level methods (`console` fits). */
export interface Logger {
  /** Receives the plug-in's `log_trace` messages. */
  trace(message: string): void;
  /** Receives the plug-in's `log_debug` messages. */
  debug(message: string): void;
  /** Receives the plug-in's `log_info` messages. */
  info(message: string): void;
  /** Receives the plug-in's `log_warn` messages. */
  warn(message: string): void;
  /** Receives the plug-in's `log_error` messages. */
  error(message: string): void;
}

/**
 * Options of {@link createPlugin}, named as in `@extism/extism` 2.x. Where a manifest sets the
 * same thing, the option wins (`config` keys and `memory` limits are merged, the option's winning).
 */
export interface PluginOptions {
  /** Give the plug-in WASI preview 1 (files through `allowedPaths`, clocks, random). */
  useWasi?: boolean;
  /** Host functions by namespace; the default namespace of plug-ins is `extism:host/user`. */
  functions?: HostFunctionMap;
  /** Host functions declared with their signatures ({@link defineHostFunction}); checked against the plug-in's imports at creation. */
  hostFunctions?: HostFunction[];
  /** Config values the plug-in reads with `config_get`. */
  config?: Record<string, string>;
  /** Hosts the plug-in may reach with `http_request` (glob patterns; none = nothing allowed). */
  allowedHosts?: string[];
  /** Host directory → guest path mounts for WASI; `ro:` on the host side mounts read-only. */
  allowedPaths?: Record<string, string>;
  /**
   * Files in memory for the WASI guest ({@link createMemoryFileSystem}): `allowedPaths` then
   * name directories of this file system instead of the host's, so the guest never sees the
   * disk. With `runInWorker` the files stay on this thread and the worker's guest reaches them
   * through it; the host reads back what the guest wrote, and may share one between plug-ins.
   */
  wasiFileSystem?: MemoryFileSystem;
  /** Memory limits, merged over the manifest's limit by limit. */
  memory?: MemoryOptions;
  /**
   * Bound on a whole call (and on initialization), in milliseconds; past it the call fails with
   * a {@link TimeoutError} and the plug-in stays usable. `null` or absent: the manifest's
   * `timeout_ms`, else no bound. Not a number > 0: creation fails with a {@link ManifestError}.
   */
  timeoutMs?: number | null;
  /**
   * Budget of work per call, in fuel units (one simple instruction of the module, or 16 bytes
   * moved by a bulk instruction); exceeding it fails the call with a {@link FuelExhaustedError}.
   * A whole number > 0; `plugin.fuelConsumed` tells what the last call used.
   */
  fuel?: number;
  /** Receives plug-in log messages; default `console`. */
  logger?: Logger;
  /** Lowest level passed to the logger; default `silent`. */
  logLevel?: LogLevel;
  /**
   * Let a WASI guest's stdout and stderr through to this process's (default: discarded, unless
   * the `EXTISM_ENABLE_WASI_OUTPUT` environment variable is set, as in `@extism/extism`).
   */
  enableWasiOutput?: boolean;
  /** Where a WASI guest's stdout goes, line by line: a function per line, or a stream. Wins over `enableWasiOutput`. */
  wasiStdout?: OutputTarget;
  /** Same, for stderr. */
  wasiStderr?: OutputTarget;
  /** The WASI guest's argv (default: none). */
  wasiArgs?: string[];
  /** The WASI guest's environment (default: empty). */
  wasiEnv?: Record<string, string>;
  /**
   * The `fetch` used for wasm URLs and for `http_request` (still checked against `allowedHosts`).
   * Without JS promise integration (JSPI: Node 20 and 22), a plug-in on this thread cannot use
   * it for `http_request` (its thread is blocked while the request runs): combined with
   * `allowedHosts` and without `runInWorker`, creation fails with a {@link ManifestError}.
   */
  fetch?: typeof fetch;
  /** Let plug-ins read response headers with `http_headers` (default: they get none). */
  allowHttpResponseHeaders?: boolean;
  /**
   * Bound on each `http_request`, in milliseconds (default 30 000); the call's `timeoutMs`
   * still applies when it is sooner. A plug-in on this thread blocks it (event loop included)
   * for the whole request, so this is what stops a server that trickles bytes from freezing
   * the process. Past it the call fails with a `TimeoutError` naming the URL.
   */
  httpTimeoutMs?: number;
  /**
   * Largest module (or manifest file) read from a path, URL or `Response`, in bytes; default
   * 256 MiB. Anything larger fails creation with a `WasmSourceError` before it is read whole;
   * paths must name regular files (not a device, FIFO or directory).
   */
  maxWasmBytes?: number;
  /** Run the plug-in in a worker thread, so calls never block the event loop. */
  runInWorker?: boolean;
}

/** A plug-in's config: string values by key (the name `@extism/extism` uses). */
export type PluginConfig = Record<string, string>;

/** Anything accepted as a config (the name `@extism/extism` uses). */
export type PluginConfigLike = Record<string, string>;
