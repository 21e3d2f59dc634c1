// The functions of `extism:host/env` that need the host: config, vars, logging, HTTP. The
// byte-moving ones are the kernel's (kernel.wat). These receive handles as numbers (through a
// trampoline, see linker.ts), so no BigInt is made on their path either.
import { HttpDeniedError, PluginCallError } from '../errors.js';
import type { Logger, LogLevel } from '../options.js';
import { type Kernel, TextTooLongError } from './kernel/kernel.js';
import type { VarStore } from './vars.js';

/** Numeric levels as plug-ins see them through `get_log_level`. */
export const LOG_LEVEL_PRIORITY: Record<LogLevel, number> = {
  trace: 0,
  debug: 1,
  info: 2,
  warn: 3,
  error: 4,
  silent: 2147483647,
};

/** Every log level, lowest first: what `logLevel` (and the CLI's `--log-level`) accepts. */
export const LOG_LEVELS = Object.keys(LOG_LEVEL_PRIORITY) as readonly LogLevel[];

/**
 * An HTTP request as the guest's JSON gave it. Only the URL is known to be a string here:
 * `method` and `headers` are checked by the HTTP policy after the URL has passed
 * `allowedHosts` (`prepareRequest` in http/perform-request.ts), so a request to a denied host
 * is reported as a denial whatever else is wrong with it.
 */
export interface HttpRequest {
  url: string;
  method: unknown;
  headers: unknown;
  body: Uint8Array | null;
}
/** A request that passed the policy's checks: what is sent. */
export interface PreparedHttpRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: Uint8Array | null;
}
/** What the host answers to a plug-in's HTTP request. */
export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}
/** Performs a plug-in's HTTP request synchronously (the guest is blocked meanwhile). */
export type HttpHandler = (request: HttpRequest) => HttpResponse;

/** The state host-env functions read and write; one per plug-in instance. */
export interface HostEnvState {
  readonly kernel: Kernel;
  readonly vars: VarStore;
  readonly config: Record<string, string>;
  readonly logger: Logger;
  logLevel: LogLevel;
  /** undefined: the plug-in has no HTTP (no allowedHosts and no handler). */
  readonly http: HttpHandler | undefined;
  readonly allowResponseHeaders: boolean;
  lastStatus: number;
  lastHeaders: Record<string, string> | undefined;
}

/** Signatures of the host-env functions, for the trampoline that converts their i64s. */
export const HOST_ENV_SIGNATURES = {
  config_get: { params: ['i64'], results: ['i64'] },
  var_get: { params: ['i64'], results: ['i64'] },
  var_set: { params: ['i64', 'i64'], results: [] },
  http_request: { params: ['i64', 'i64'], results: ['i64'] },
  http_status_code: { params: [], results: ['i32'] },
  http_headers: { params: [], results: ['i64'] },
  log_trace: { params: ['i64'], results: [] },
  log_debug: { params: ['i64'], results: [] },
  log_info: { params: ['i64'], results: [] },
  log_warn: { params: ['i64'], results: [] },
  log_error: { params: ['i64'], results: [] },
  get_log_level: { params: [], results: ['i32'] },
} as const satisfies Record<string, { params: readonly ('i64' | 'i32')[]; results: readonly ('i64' | 'i32')[] }>;

export type HostEnvFunctionName = keyof typeof HOST_ENV_SIGNATURES;

/** Thrown inside a host-env function to fail the call with a clear message. */
function fail(functionName: string, message: string): never {
  throw new PluginCallError(functionName, 1, message);
}

/** The plug-in whose call is running; swapped when a pooled kernel serves another plug-in. */
export interface HostEnvHolder {
  state: HostEnvState;
}

function logger(holder: HostEnvHolder, level: Exclude<LogLevel, 'silent'>) {
  const priority = LOG_LEVEL_PRIORITY[level];
  return (handle: number): void => {
    const state = holder.state;
    // Below the level the message is not decoded at all: a guest logging hundreds of MiB that
    // no one reads costs nothing.
    const text = priority >= LOG_LEVEL_PRIORITY[state.logLevel] ? readText(state.kernel, handle, `log_${level}`) : null;
    state.kernel.free(handle);
    if (text !== null) state.logger[level](text);
  };
}

// Handle 0 is the empty block wherever a handle is taken (ABI.md): var_set(0, 0) deletes the var
// named "", log_info(0) logs an empty message. The kernel reads it so itself once its
// host_length/host_take of 0 give 0; until then these two say it here.
function takeKey(kernel: Kernel, handle: number, functionName: string): string | null {
  if (handle === 0) return '';
  try {
    return kernel.takeKey(handle);
  } catch (err) {
    throw tooLongForText(functionName, err);
  }
}
function readText(kernel: Kernel, handle: number, functionName: string): string | null {
  if (handle === 0) return '';
  try {
    return kernel.readText(handle);
  } catch (err) {
    throw tooLongForText(functionName, err);
  }
}

/** A block the engine cannot make a string of (V8 stops at 2^29 − 24 characters): the call fails naming its size, not with the engine's bare error. */
function tooLongForText(functionName: string, err: unknown): unknown {
  if (!(err instanceof TextTooLongError)) return err;
  const { length } = err;
  const why = err.message;
  return new PluginCallError(
    functionName,
    1,
    `${functionName} was given a block of ${length} bytes, more text than the host can hold in one string (${why}); the plug-in must pass less`,
    { cause: err },
  );
}

/** The longest request JSON `http_request` parses: far more than any URL and headers take. */
export const MAX_REQUEST_JSON_BYTES = 1024 * 1024;

/**
 * The request JSON as the PDKs write it: Rust (and the JS PDK through it) sends
 * `{"url", "headers": {...}, "method": null}` when no method is set, Go `{"url", "method",
 * "headers"}` (headers possibly null), Haskell `{"url"}` alone. The reference host also took
 * `header` for `headers` (.NET PDK v1.0.0-v1.0.2 and the MoonBit PDK send it). The MoonBit PDK
 * names the method `http_method` (since moonc v0.1.20241115): the reference host fails such a
 * request and other hosts send a GET whatever was asked, so a POST would go out as a GET
 * without its body; the method asked for is sent instead. Only the URL is checked here; see
 * {@link HttpRequest}.
 */
function parseRequest(state: HostEnvState, requestHandle: number): { url: string; method: unknown; headers: unknown } {
  // JSON.parse cannot be interrupted, and 96 MB of `[{},{},…]` took it 50 s and 3 GB.
  const length = requestHandle === 0 ? 0 : state.kernel.length(requestHandle);
  if (length > MAX_REQUEST_JSON_BYTES) {
    fail(
      'http_request',
      `http_request was given a request JSON of ${length} bytes; at most ${MAX_REQUEST_JSON_BYTES} are taken (the URL, method and headers; the body goes in its own block)`,
    );
  }
  const text = readText(state.kernel, requestHandle, 'http_request');
  if (text === null) fail('http_request', `http_request was given ${requestHandle}, which is not a live block`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    fail('http_request', `http_request expects a JSON request, got ${JSON.stringify(text.slice(0, 80))}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    fail('http_request', `http_request expects a JSON object {"url", "method"?, "headers"?}, got ${JSON.stringify(text.slice(0, 80))}`);
  const { url, method, http_method, headers, header } = parsed as Record<string, unknown>;
  if (typeof url !== 'string') fail('http_request', `http_request: "url" must be a string holding an absolute URL, got ${JSON.stringify(url)?.slice(0, 80)}`);
  return { url, method: method === undefined ? http_method : method, headers: headers ?? header };
}

/** The guest's request from its blocks (freed once read); `reachable` false: denied, allowedHosts is empty. */
function takeHttpRequest(state: HostEnvState, requestHandle: number, bodyHandle: number, reachable: boolean): HttpRequest {
  const { url, method, headers } = parseRequest(state, requestHandle);
  if (!reachable) throw new HttpDeniedError(url, `HTTP request to ${url} denied: allowedHosts is empty, so no host may be reached`);
  const body = bodyHandle === 0 ? null : (state.kernel.read(bodyHandle)?.bytes() ?? null);
  if (bodyHandle !== 0 && body === null) fail('http_request', `http_request was given body handle ${bodyHandle}, which is not a live block`);
  state.kernel.free(requestHandle);
  if (bodyHandle !== 0) state.kernel.free(bodyHandle);
  return { url, method, headers, body };
}

/** Keep the status (and headers) for http_status_code/http_headers; the body's handle, 0 for none. */
function storeHttpResponse(state: HostEnvState, response: HttpResponse): number {
  state.lastStatus = response.status;
  state.lastHeaders = state.allowResponseHeaders ? response.headers : undefined;
  return response.body.byteLength === 0 ? 0 : state.kernel.write(response.body);
}

/**
 * `http_request` for a guest that can wait (JSPI, see jspi.ts): the same request checks and
 * response handling, the exchange awaited with `perform` instead of blocking the thread.
 */
export function createAsyncHttpRequest(
  state: HostEnvState,
  perform: (request: HttpRequest) => Promise<HttpResponse>,
): (requestHandle: number, bodyHandle: number) => Promise<number> {
  return async (requestHandle, bodyHandle) => storeHttpResponse(state, await perform(takeHttpRequest(state, requestHandle, bodyHandle, true)));
}

const utf8 = new TextEncoder();
/** Config values encoded once per config object (a plug-in's config never changes). */
const encodedConfigs = new WeakMap<Record<string, string>, Map<string, Uint8Array>>();

function configBytes(config: Record<string, string>, key: string): Uint8Array | undefined {
  let encoded = encodedConfigs.get(config);
  if (encoded === undefined) encodedConfigs.set(config, (encoded = new Map()));
  let value = encoded.get(key);
  if (value === undefined && Object.hasOwn(config, key)) encoded.set(key, (value = utf8.encode(config[key]!)));
  return value;
}

/** The JS side of `extism:host/env`, bound to the state in `holder`. */
export function createHostEnv(holder: HostEnvHolder): Record<HostEnvFunctionName, (...args: number[]) => number | void> {
  return {
    config_get(keyHandle: number): number {
      const state = holder.state;
      const key = takeKey(state.kernel, keyHandle, 'config_get');
      if (key === null) return 0;
      const value = configBytes(state.config, key);
      // An empty value is handle 0, the empty block, as on the reference host (its blocks of
      // zero bytes are handle 0): PDKs read 0 as "absent", and the C PDK's README relies on it.
      return value === undefined || value.length === 0 ? 0 : state.kernel.write(value);
    },
    var_get(keyHandle: number): number {
      const state = holder.state;
      const key = takeKey(state.kernel, keyHandle, 'var_get');
      if (key === null) return 0;
      const value = state.vars.get(key);
      return value === undefined || value.length === 0 ? 0 : state.kernel.write(value);
    },
    var_set(keyHandle: number, valueHandle: number): void {
      const state = holder.state;
      // Taking a block frees it; one block given as both key and value is taken once, as the value.
      const key = keyHandle === valueHandle ? readText(state.kernel, keyHandle, 'var_set') : takeKey(state.kernel, keyHandle, 'var_set');
      // The old value's bytes are the store's own (readers get copies): a same-sized new value reuses them.
      const value = valueHandle === 0 ? undefined : state.kernel.takeToKeep(valueHandle, key === null ? undefined : state.vars.get(key));
      if (key === null) fail('var_set', `var_set was given key handle ${keyHandle}, which is not a live block`);
      if (valueHandle !== 0 && value === null) fail('var_set', `var_set was given value handle ${valueHandle}, which is not a live block`);
      state.vars.set(key, value ?? undefined);
    },
    http_request(requestHandle: number, bodyHandle: number): number {
      const state = holder.state;
      const request = takeHttpRequest(state, requestHandle, bodyHandle, state.http !== undefined);
      return storeHttpResponse(state, state.http!(request));
    },
    http_status_code(): number {
      const state = holder.state;
      return state.lastStatus;
    },
    http_headers(): number {
      const state = holder.state;
      return state.lastHeaders === undefined ? 0 : state.kernel.write(JSON.stringify(state.lastHeaders));
    },
    log_trace: logger(holder, 'trace'),
    log_debug: logger(holder, 'debug'),
    log_info: logger(holder, 'info'),
    log_warn: logger(holder, 'warn'),
    log_error: logger(holder, 'error'),
    get_log_level(): number {
      const state = holder.state;
      return LOG_LEVEL_PRIORITY[state.logLevel];
    },
  };
}
