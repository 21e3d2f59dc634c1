// The functions of `extism:host/env` that need the host: config, vars, logging, HTTP. The
// byte-moving ones are the kernel's (kernel.wat). These receive handles as numbers (through a
// trampoline, see linker.ts), so no BigInt is made on their path either.
import { PluginCallError } from '../errors.js';
import type { Logger, LogLevel } from '../options.js';
import type { Kernel } from './kernel/kernel.js';
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

/** One HTTP exchange as the guest asked for it. */
export interface HttpRequest {
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
    const text = state.kernel.readText(handle);
    state.kernel.free(handle);
    if (text !== null && priority >= LOG_LEVEL_PRIORITY[state.logLevel]) state.logger[level](text);
  };
}

function parseRequest(state: HostEnvState, requestHandle: number, bodyHandle: number): HttpRequest {
  const text = state.kernel.readText(requestHandle);
  if (text === null) fail('http_request', `http_request was given ${requestHandle}, which is not a live block`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    fail('http_request', `http_request expects a JSON request, got ${JSON.stringify(text.slice(0, 80))}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail('http_request', `http_request expects a JSON object {"url", "method"?, "headers"?}, got ${JSON.stringify(text.slice(0, 80))}`);
  const { url, method = 'GET', headers = {} } = parsed as Record<string, unknown>;
  if (typeof url !== 'string' || !URL.canParse(url)) fail('http_request', `http_request: "url" must be an absolute URL, got ${JSON.stringify(url)}`);
  if (typeof method !== 'string') fail('http_request', `http_request: "method" must be a string, got ${JSON.stringify(method)}`);
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) fail('http_request', `http_request: "headers" must be an object of strings, got ${JSON.stringify(headers).slice(0, 80)}`);
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string') fail('http_request', `http_request: header "${name}" must be a string, got ${JSON.stringify(value).slice(0, 80)}`);
    flat[name] = value;
  }
  const body = bodyHandle === 0 ? null : state.kernel.read(bodyHandle)?.bytes() ?? null;
  if (bodyHandle !== 0 && body === null) fail('http_request', `http_request was given body handle ${bodyHandle}, which is not a live block`);
  return { url, method: method.toUpperCase(), headers: flat, body };
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
      const key = state.kernel.takeKey(keyHandle);
      if (key === null) return 0;
      const value = configBytes(state.config, key);
      return value === undefined ? 0 : state.kernel.write(value);
    },
    var_get(keyHandle: number): number {
      const state = holder.state;
      const key = state.kernel.takeKey(keyHandle);
      if (key === null) return 0;
      const value = state.vars.get(key);
      return value === undefined ? 0 : state.kernel.write(value);
    },
    var_set(keyHandle: number, valueHandle: number): void {
      const state = holder.state;
      // Taking a block frees it; one block given as both key and value is taken once, as the value.
      const key = keyHandle === valueHandle ? state.kernel.readText(keyHandle) : state.kernel.takeKey(keyHandle);
      // The old value's bytes are the store's own (readers get copies): a same-sized new value reuses them.
      const value = valueHandle === 0 ? undefined : state.kernel.takeToKeep(valueHandle, key === null ? undefined : state.vars.get(key));
      if (key === null) fail('var_set', `var_set was given key handle ${keyHandle}, which is not a live block`);
      if (valueHandle !== 0 && value === null) fail('var_set', `var_set was given value handle ${valueHandle}, which is not a live block`);
      state.vars.set(key, value ?? undefined);
    },
    http_request(requestHandle: number, bodyHandle: number): number {
      const state = holder.state;
      const request = parseRequest(state, requestHandle, bodyHandle);
      state.kernel.free(requestHandle);
      if (bodyHandle !== 0) state.kernel.free(bodyHandle);
      if (state.http === undefined) fail('http_request', `HTTP request to ${request.url} denied: no host is in allowedHosts`);
      const response = state.http(request);
      state.lastStatus = response.status;
      state.lastHeaders = state.allowResponseHeaders ? response.headers : undefined;
      return response.body.byteLength === 0 ? 0 : state.kernel.write(response.body);
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
