/**
 * Every error plughost throws is a {@link PlughostError}: it has a stable `code` to branch
 * on (messages may change, codes do not), the values that matter as properties, and the
 * underlying `cause` when there is one.
 *
 * ```ts
 * try {
 *   await plugin.call('count_vowels', input);
 * } catch (err) {
 *   if (err instanceof PluginCallError) console.error(err.functionName, err.exitCode, err.message);
 * }
 * ```
 *
 * @module
 */

/**
 * Stable codes of plughost errors: one per class, plus `PLUGHOST_HTTP`, the code of a plain
 * {@link PlughostError} for a plug-in's HTTP request that could not be made or completed.
 */
export type PlughostErrorCode =
  | 'PLUGHOST_MANIFEST'
  | 'PLUGHOST_WASM_SOURCE'
  | 'PLUGHOST_HASH_MISMATCH'
  | 'PLUGHOST_LINK'
  | 'PLUGHOST_CALL'
  | 'PLUGHOST_FUNCTION_NOT_FOUND'
  | 'PLUGHOST_TIMEOUT'
  | 'PLUGHOST_ABORTED'
  | 'PLUGHOST_FUEL_EXHAUSTED'
  | 'PLUGHOST_MEMORY_LIMIT'
  | 'PLUGHOST_HTTP_DENIED'
  | 'PLUGHOST_HTTP'
  | 'PLUGHOST_CLOSED'
  | 'PLUGHOST_REENTRANT_CALL'
  | 'PLUGHOST_WORKER'
  | 'PLUGHOST_POOL_FULL';

/** Base class of every error plughost throws. */
export class PlughostError extends Error {
  /** Stable machine-readable code; branch on this, not on the message. */
  readonly code: PlughostErrorCode;

  constructor(code: PlughostErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  /**
   * The class's name, from the code: a fixed string, so it survives a minifier that renames
   * classes (where `constructor.name` would be `e` or `t`).
   */
  override get name(): string {
    return CLASS_OF_CODE[this.code]?.name ?? 'PlughostError';
  }
}

/** The manifest (or an option) is malformed; `field` names the offending field, e.g. `wasm[0].hash`. */
export class ManifestError extends PlughostError {
  /** The offending field (or option), e.g. `wasm[0].hash`, `timeoutMs`. */
  readonly field: string;
  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super('PLUGHOST_MANIFEST', `manifest ${field}: ${message}`, options);
    this.field = field;
  }
}

/** A wasm source could not be read, fetched or compiled; `source` names the path or URL. */
export class WasmSourceError extends PlughostError {
  /** The path or URL (or a description of the bytes) the module was to come from. */
  readonly source: string;
  constructor(source: string, message: string, options?: { cause?: unknown }) {
    super('PLUGHOST_WASM_SOURCE', message, options);
    this.source = source;
  }
}

/** A module's bytes do not match the sha256 `hash` the manifest gave for them. */
export class HashMismatchError extends PlughostError {
  /** The path or URL (or a description of the bytes) of the module. */
  readonly source: string;
  /** The sha256 the manifest gave, lowercase hex. */
  readonly expected: string;
  /** The sha256 of the bytes, lowercase hex. */
  readonly actual: string;
  constructor(source: string, expected: string, actual: string) {
    super('PLUGHOST_HASH_MISMATCH', `hash mismatch for ${source}: the manifest expects sha256 ${expected}, the bytes have ${actual}`);
    this.source = source;
    this.expected = expected;
    this.actual = actual;
  }
}

/**
 * The plug-in's imports cannot be satisfied (missing functions, wrong signatures) or its
 * instantiation failed. `missing` lists each unresolved import as `module.name`.
 */
export class LinkError extends PlughostError {
  /** Each import nothing provides, as `module.name`; empty when the failure was something else. */
  readonly missing: readonly string[];
  constructor(message: string, missing: readonly string[] = [], options?: { cause?: unknown }) {
    super('PLUGHOST_LINK', message, options);
    this.missing = missing;
  }
}

/**
 * A call failed: the plug-in set an error, returned a non-zero code, trapped, or exited.
 * The message is the plug-in's own message when it set one.
 */
export class PluginCallError extends PlughostError {
  /** The export that was called. */
  readonly functionName: string;
  /**
   * The export's return value (also when it set an error message), or its WASI exit code;
   * -1 when it trapped, was stopped, or a host function failed.
   */
  readonly exitCode: number;
  constructor(functionName: string, exitCode: number, message: string, options?: { cause?: unknown; code?: PlughostErrorCode }) {
    super(options?.code ?? 'PLUGHOST_CALL', message, options);
    this.functionName = functionName;
    this.exitCode = exitCode;
  }
}

/** `PluginError` is the name @extism/extism users look for; it is the same class. */
export { PluginCallError as PluginError };

/** `call()` named an export that the plug-in does not have. */
export class FunctionNotFoundError extends PluginCallError {
  constructor(functionName: string) {
    super(functionName, -1, `plug-in has no exported function "${functionName}"`, { code: 'PLUGHOST_FUNCTION_NOT_FOUND' });
  }
}

/**
 * A call (or initialization) ran past its `timeoutMs`, or one of its HTTP requests past
 * `httpTimeoutMs`; the plug-in stays usable.
 */
export class TimeoutError extends PluginCallError {
  /** The `timeoutMs` (or `httpTimeoutMs`) that ran out. */
  readonly timeoutMs: number;
  /** `reason` says what was running out of time (an HTTP request and its URL, say). */
  constructor(functionName: string, timeoutMs: number, options?: { reason?: string; cause?: unknown }) {
    const reason = options?.reason === undefined ? '' : `: ${options.reason}`;
    // "call canceled due to timeout" is @extism/extism's text, which its users' code tests for
    super(functionName, -1, `call to "${functionName}" timed out after ${timeoutMs} ms${reason} (call canceled due to timeout)`, {
      code: 'PLUGHOST_TIMEOUT',
      cause: options?.cause,
    });
    this.timeoutMs = timeoutMs;
  }
}

/** A call was cancelled through its `AbortSignal`; `cause` is the signal's reason. */
export class AbortError extends PluginCallError {
  constructor(functionName: string, reason?: unknown) {
    super(functionName, -1, `call to "${functionName}" was aborted`, { code: 'PLUGHOST_ABORTED', cause: reason });
  }
}

/** A call used up its `fuel` budget (instructions, as counted by plughost's instrumentation). */
export class FuelExhaustedError extends PluginCallError {
  /** The `fuel` budget that ran out. */
  readonly fuel: number;
  constructor(functionName: string, fuel: number) {
    super(functionName, -1, `call to "${functionName}" ran out of fuel (budget ${fuel})`, { code: 'PLUGHOST_FUEL_EXHAUSTED' });
    this.fuel = fuel;
  }
}

/**
 * A memory limit (`memory.maxPages`, `maxVarBytes`, `maxHttpResponseBytes`) was hit. A call
 * whose input, allocations or host-function results do not fit in kernel memory rejects with
 * it; when the plug-in's own `var_set` or HTTP request passes a limit, the call rejects with
 * a {@link PluginCallError} whose `cause` is this error.
 */
export class MemoryLimitError extends PlughostError {
  /** The limit that was hit, in bytes (in pages for a module whose initial memory is above `maxPages`). */
  readonly limit: number;
  /** What was asked for, in the same unit (for an HTTP body: its declared length, or what was read). */
  readonly requested: number;
  constructor(message: string, limit: number, requested: number) {
    super('PLUGHOST_MEMORY_LIMIT', message);
    this.limit = limit;
    this.requested = requested;
  }
}

/**
 * A plug-in's HTTP request (or one of its redirects) was refused before connecting: its host is
 * not in `allowedHosts`, or it is not an absolute `http:`/`https:` URL.
 */
export class HttpDeniedError extends PlughostError {
  /** The URL that was refused. */
  readonly url: string;
  constructor(url: string, message?: string) {
    super('PLUGHOST_HTTP_DENIED', message ?? `HTTP request to ${url} denied: its host is not in allowedHosts`);
    this.url = url;
  }
}

/** The plug-in was closed; create a new one. Also thrown by a host function's call context used once its plug-in is closed. */
export class PluginClosedError extends PlughostError {
  constructor(message = 'plug-in is closed') {
    super('PLUGHOST_CLOSED', message);
  }
}

/** A host function tried to call back into the plug-in that is calling it. */
export class ReentrantCallError extends PlughostError {
  /** The export the host function tried to call. */
  readonly functionName: string;
  constructor(functionName: string) {
    super(
      'PLUGHOST_REENTRANT_CALL',
      `cannot call "${functionName}" from a host function of the same plug-in while it is running: calls on one plug-in never nest`,
    );
    this.functionName = functionName;
  }
}

/**
 * The worker thread running a plug-in (`runInWorker: true`, or a pool's) died: out of memory,
 * a crash in native code, an exit from outside. Only the calls that were running in it fail
 * with this error; the next call gets a fresh worker (plug-in state and vars start afresh).
 * Also thrown when a host function uses its call context after its call has ended.
 */
export class WorkerError extends PlughostError {
  /** The worker's exit code, when it exited. */
  readonly exitCode: number | undefined;
  constructor(message: string, options?: { cause?: unknown; exitCode?: number }) {
    super('PLUGHOST_WORKER', message, options);
    this.exitCode = options?.exitCode;
  }
}

/** A pool's queue is full: `maxQueue` calls are already waiting for an idle instance. */
export class PoolFullError extends PlughostError {
  /** The pool's `maxQueue`. */
  readonly maxQueue: number;
  constructor(maxQueue: number) {
    super('PLUGHOST_POOL_FULL', `pool queue is full: ${maxQueue} calls are already waiting for an idle instance (raise maxQueue or add instances)`);
    this.maxQueue = maxQueue;
  }
}

/** A constructor of a plughost error, whatever its arguments. */
type PlughostErrorClass = new (...args: never[]) => PlughostError;

/**
 * Each code's class and that class's name, the one table both `name` and the errors that cross
 * threads (`internal/error-codec.ts`) read. The names are written out, not taken from
 * `constructor.name`, which a user's minifier renames. `PLUGHOST_HTTP` has no class of its own.
 */
const CLASS_OF_CODE: { readonly [Code in PlughostErrorCode]: { readonly name: string; readonly errorClass: PlughostErrorClass } } = {
  PLUGHOST_MANIFEST: { name: 'ManifestError', errorClass: ManifestError },
  PLUGHOST_WASM_SOURCE: { name: 'WasmSourceError', errorClass: WasmSourceError },
  PLUGHOST_HASH_MISMATCH: { name: 'HashMismatchError', errorClass: HashMismatchError },
  PLUGHOST_LINK: { name: 'LinkError', errorClass: LinkError },
  PLUGHOST_CALL: { name: 'PluginCallError', errorClass: PluginCallError },
  PLUGHOST_FUNCTION_NOT_FOUND: { name: 'FunctionNotFoundError', errorClass: FunctionNotFoundError },
  PLUGHOST_TIMEOUT: { name: 'TimeoutError', errorClass: TimeoutError },
  PLUGHOST_ABORTED: { name: 'AbortError', errorClass: AbortError },
  PLUGHOST_FUEL_EXHAUSTED: { name: 'FuelExhaustedError', errorClass: FuelExhaustedError },
  PLUGHOST_MEMORY_LIMIT: { name: 'MemoryLimitError', errorClass: MemoryLimitError },
  PLUGHOST_HTTP_DENIED: { name: 'HttpDeniedError', errorClass: HttpDeniedError },
  PLUGHOST_HTTP: { name: 'PlughostError', errorClass: PlughostError },
  PLUGHOST_CLOSED: { name: 'PluginClosedError', errorClass: PluginClosedError },
  PLUGHOST_REENTRANT_CALL: { name: 'ReentrantCallError', errorClass: ReentrantCallError },
  PLUGHOST_WORKER: { name: 'WorkerError', errorClass: WorkerError },
  PLUGHOST_POOL_FULL: { name: 'PoolFullError', errorClass: PoolFullError },
};

/**
 * The class of a plughost error `code`; undefined for a string that is no code.
 *
 * @internal
 */
export function errorClassOfCode(code: string): PlughostErrorClass | undefined {
  return Object.hasOwn(CLASS_OF_CODE, code) ? CLASS_OF_CODE[code as PlughostErrorCode].errorClass : undefined;
}
