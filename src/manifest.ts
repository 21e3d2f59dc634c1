import { ManifestError } from './errors.js';
import { asBytes, isSharedMemory } from './internal/bytes.js';

/** Raw bytes of a wasm module. In JSON manifests, `data` is base64 text. */
export interface ManifestWasmData {
  /** The module's bytes, or base64 text of them. */
  data: Uint8Array | ArrayBuffer | string;
}
/** A wasm module fetched from a URL (`method` defaults to GET). */
export interface ManifestWasmUrl {
  /** An absolute URL (`http:`, `https:`, `file:`, ...). */
  url: URL | string;
  /** Request headers, e.g. an `Authorization` for a private registry. */
  headers?: Record<string, string>;
  /** The request method; default `GET`. */
  method?: string;
}
/** A wasm module read from a file. Relative paths resolve against the manifest file's folder (or the working directory). */
export interface ManifestWasmPath {
  /** The file's path (a regular file, at most `maxWasmBytes`). */
  path: string;
}
/** A wasm module taken from a fetch `Response`. */
export interface ManifestWasmResponse {
  /** The response whose body is the module (read at most `maxWasmBytes` of it). */
  response: Response;
}
/** An already compiled module (no `hash` check possible: its bytes are gone). */
export interface ManifestWasmModule {
  /** The compiled module; limits that need its bytes rewritten are refused for it. */
  module: WebAssembly.Module;
}
/**
 * One module of a manifest. `name` lets other modules import from it (module linking) and
 * picks the main module (`main`, else the last one); `hash` is the sha256 of its bytes, hex.
 */
export type ManifestWasm = (ManifestWasmUrl | ManifestWasmData | ManifestWasmPath | ManifestWasmResponse | ManifestWasmModule) & {
  /** The module's name, which other modules import from; `main` names the main module. */
  name?: string;
  /** The sha256 of the module's bytes, 64 hex digits; a mismatch fails creation with a {@link HashMismatchError}. */
  hash?: string;
};

/** Memory limits, camelCase or snake_case. */
export interface MemoryOptions {
  /** Cap on the plug-in's linear memory (and the kernel's), in 64 KiB pages. */
  maxPages?: number;
  /** Largest HTTP response body a plug-in may receive; default 50 MiB. */
  maxHttpResponseBytes?: number;
  /** Largest total size of a plug-in's vars (keys + values + 48 bytes a var, as the reference host counts); default 1 MiB; 0 disables vars. */
  maxVarBytes?: number;
  /** `maxPages`, snake_case. */
  max_pages?: number;
  /** `maxHttpResponseBytes`, snake_case. */
  max_http_response_bytes?: number;
  /** `maxVarBytes`, snake_case. */
  max_var_bytes?: number;
}

/**
 * The manifest: the plug-in's code and the limits it runs under. Accepted in the canonical
 * snake_case JSON shared by every Extism SDK and in the camelCase of `@extism/extism`.
 *
 * ```ts
 * const manifest: Manifest = {
 *   wasm: [{ path: 'count-vowels.wasm', hash: '…' }],
 *   config: { vowels: 'aeiouy' },
 *   allowed_hosts: ['*.example.com'],
 *   allowed_paths: { '/srv/data': '/data', 'ro:/srv/static': '/static' },
 *   memory: { max_pages: 16 },
 *   timeout_ms: 1000,
 * };
 * ```
 */
export interface Manifest {
  /** The modules; the main one is named `main`, else it is the last. */
  wasm: ManifestWasm[];
  /** Values the plug-in reads with `config_get`. */
  config?: Record<string, string>;
  /** Hosts `http_request` may reach: glob patterns (`*` matches any run of characters); none, nothing. */
  allowedHosts?: string[];
  /** `allowedHosts`, snake_case. */
  allowed_hosts?: string[];
  /** Host directory → guest path; a `ro:` prefix on the host side mounts read-only. */
  allowedPaths?: Record<string, string>;
  /** `allowedPaths`, snake_case. */
  allowed_paths?: Record<string, string>;
  /** Memory limits. */
  memory?: MemoryOptions;
  /** Bound on a whole call, in milliseconds; null or absent: none. */
  timeoutMs?: number | null;
  /** `timeoutMs`, snake_case. */
  timeout_ms?: number | null;
}

/**
 * Anything {@link createPlugin} accepts as a manifest: a {@link Manifest}; the bytes of a wasm
 * module; a compiled `WebAssembly.Module`; a fetch `Response`; a `URL`; or a string that is a
 * URL (`http:`, `https:`, `file:`), a JSON manifest (starts with `{`), the path of a `.json`
 * manifest, or the path of a `.wasm` file.
 */
export type ManifestLike = Manifest | Response | WebAssembly.Module | ArrayBuffer | ArrayBufferView | string | URL;

/** @internal Where one module's code comes from, after normalization. */
export type WasmSource =
  | { kind: 'path'; path: string }
  | { kind: 'data'; bytes: Uint8Array }
  | { kind: 'url'; url: string; method: string; headers: Record<string, string> }
  | { kind: 'response'; response: Response }
  | { kind: 'module'; module: WebAssembly.Module };

/** @internal A manifest after validation: every field present, one spelling. */
export interface NormalizedManifest {
  wasm: { source: WasmSource; name: string | undefined; hash: string | undefined }[];
  config: Record<string, string>;
  allowedHosts: string[];
  allowedPaths: Record<string, string>;
  memory: { maxPages: number | undefined; maxHttpResponseBytes: number; maxVarBytes: number };
  timeoutMs: number | null;
}

const DEFAULT_MAX_HTTP_RESPONSE_BYTES = 50 * 1024 * 1024;
const DEFAULT_MAX_VAR_BYTES = 1024 * 1024;

/**
 * True for a fetch `Response`. The class tag is read first: on Node the global `Response` is
 * a lazy getter, and touching it loads undici (tens of milliseconds), which no other source needs.
 */
export function isFetchResponse(value: unknown): value is Response {
  return Object.prototype.toString.call(value) === '[object Response]' && value instanceof Response;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function pick(record: Record<string, unknown>, camel: string, snake: string): unknown {
  return record[camel] !== undefined ? record[camel] : record[snake];
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 60 ? value.slice(0, 57) + '...' : value)}`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

function stringMap(value: unknown, field: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) throw new ManifestError(field, `must be an object of strings, got ${describe(value)}`);
  // no prototype: a key such as "__proto__" is a key like any other (the reference host's map has none special)
  const out: Record<string, string> = Object.create(null);
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') throw new ManifestError(`${field}.${key}`, `must be a string, got ${describe(entry)}`);
    out[key] = entry;
  }
  return out;
}

function optionalLimit(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new ManifestError(field, `must be a whole number >= 0, got ${describe(value)}`);
  }
  return value;
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** Standard or URL-safe base64 to bytes (atob exists in every runtime plughost targets). */
function decodeBase64(text: string): Uint8Array {
  const standard = text.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  const binary = atob(standard + '='.repeat((4 - (standard.length % 4)) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function normalizeWasm(entry: unknown, index: number, resolvePath: ((path: string) => string) | undefined) {
  const field = `wasm[${index}]`;
  if (!isRecord(entry)) throw new ManifestError(field, `must be an object with one of path, data, url, response or module, got ${describe(entry)}`);
  const name = entry.name;
  if (name !== undefined && (typeof name !== 'string' || name === ''))
    throw new ManifestError(`${field}.name`, `must be a non-empty string, got ${describe(name)}`);
  const hash = entry.hash;
  if (hash !== undefined && (typeof hash !== 'string' || !/^[0-9a-fA-F]{64}$/.test(hash))) {
    throw new ManifestError(`${field}.hash`, `must be a sha256 digest as 64 hex digits, got ${describe(hash)}`);
  }
  let source: WasmSource;
  if (entry.path !== undefined) {
    if (typeof entry.path !== 'string' || entry.path === '')
      throw new ManifestError(`${field}.path`, `must be a non-empty string, got ${describe(entry.path)}`);
    source = { kind: 'path', path: resolvePath === undefined ? entry.path : resolvePath(entry.path) };
  } else if (entry.data !== undefined) {
    const data = entry.data;
    if (typeof data === 'string') {
      if (!BASE64.test(data)) throw new ManifestError(`${field}.data`, `must be base64 text (or bytes), and this is not base64: ${describe(data)}`);
      try {
        source = { kind: 'data', bytes: decodeBase64(data) };
      } catch (err) {
        throw new ManifestError(`${field}.data`, `must be base64 text (or bytes), and this is not valid base64: ${describe(data)}`, { cause: err });
      }
    } else {
      const bytes = asBytes(data);
      if (bytes === undefined) throw new ManifestError(`${field}.data`, `must be bytes or base64 text, got ${describe(data)}`);
      // Another thread may write shared memory at any time: what is hashed must be what compiles.
      source = { kind: 'data', bytes: isSharedMemory(bytes.buffer) ? bytes.slice() : bytes };
    }
  } else if (entry.url !== undefined) {
    const url = entry.url instanceof URL ? entry.url.href : entry.url;
    if (typeof url !== 'string' || !URL.canParse(url)) throw new ManifestError(`${field}.url`, `must be an absolute URL, got ${describe(entry.url)}`);
    const method = entry.method ?? 'GET';
    if (typeof method !== 'string') throw new ManifestError(`${field}.method`, `must be a string, got ${describe(method)}`);
    source = { kind: 'url', url, method: method.toUpperCase(), headers: stringMap(entry.headers, `${field}.headers`) };
  } else if (entry.response !== undefined) {
    if (!isFetchResponse(entry.response)) throw new ManifestError(`${field}.response`, `must be a fetch Response, got ${describe(entry.response)}`);
    source = { kind: 'response', response: entry.response };
  } else if (entry.module !== undefined) {
    if (!(entry.module instanceof WebAssembly.Module))
      throw new ManifestError(`${field}.module`, `must be a WebAssembly.Module, got ${describe(entry.module)}`);
    if (hash !== undefined)
      throw new ManifestError(
        `${field}.hash`,
        'cannot be checked against a compiled WebAssembly.Module (its bytes are gone); give the bytes instead, or drop the hash',
      );
    source = { kind: 'module', module: entry.module };
  } else {
    const keys = Object.keys(entry);
    throw new ManifestError(
      field,
      `needs one of path, data, url, response or module, got ${keys.length === 0 ? 'an empty object' : `an object with ${keys.join(', ')}`}`,
    );
  }
  return { source, name: name as string | undefined, hash: (hash as string | undefined)?.toLowerCase() };
}

/**
 * @internal Validate a manifest object (either spelling) and bring it to one shape.
 * `resolvePath` makes a module's `path` absolute (against a manifest file's folder); without it paths stay as given.
 */
export function normalizeManifest(manifest: unknown, resolvePath?: (path: string) => string): NormalizedManifest {
  if (!isRecord(manifest)) throw new ManifestError('(root)', `must be an object with a wasm array, got ${describe(manifest)}`);
  const wasm = manifest.wasm;
  if (!Array.isArray(wasm) || wasm.length === 0) throw new ManifestError('wasm', `must be a non-empty array of modules, got ${describe(wasm)}`);
  const modules = wasm.map((entry, i) => normalizeWasm(entry, i, resolvePath));
  const names = new Set<string>();
  modules.forEach((m, i) => {
    if (m.name === undefined) return;
    if (names.has(m.name)) throw new ManifestError(`wasm[${i}].name`, `"${m.name}" names two modules; module names must be unique`);
    names.add(m.name);
  });

  const hosts = pick(manifest, 'allowedHosts', 'allowed_hosts');
  if (hosts !== undefined && hosts !== null && (!Array.isArray(hosts) || hosts.some((h) => typeof h !== 'string'))) {
    throw new ManifestError('allowed_hosts', `must be an array of host patterns, got ${describe(hosts)}`);
  }
  const memory = manifest.memory ?? {};
  if (!isRecord(memory)) throw new ManifestError('memory', `must be an object, got ${describe(memory)}`);
  const maxPages = optionalLimit(pick(memory, 'maxPages', 'max_pages'), 'memory.max_pages');
  if (maxPages !== undefined && maxPages > 65536) throw new ManifestError('memory.max_pages', `must be at most 65536 (4 GiB), got ${maxPages}`);
  const timeout = pick(manifest, 'timeoutMs', 'timeout_ms');
  if (timeout !== undefined && timeout !== null && (typeof timeout !== 'number' || !(timeout > 0) || !Number.isFinite(timeout))) {
    throw new ManifestError('timeout_ms', `must be a number of milliseconds > 0, got ${describe(timeout)}`);
  }
  return {
    wasm: modules,
    config: stringMap(manifest.config, 'config'),
    allowedHosts: (hosts as string[] | undefined | null) ?? [],
    allowedPaths: stringMap(pick(manifest, 'allowedPaths', 'allowed_paths'), 'allowed_paths'),
    memory: {
      maxPages,
      maxHttpResponseBytes:
        optionalLimit(pick(memory, 'maxHttpResponseBytes', 'max_http_response_bytes'), 'memory.max_http_response_bytes') ?? DEFAULT_MAX_HTTP_RESPONSE_BYTES,
      maxVarBytes: optionalLimit(pick(memory, 'maxVarBytes', 'max_var_bytes'), 'memory.max_var_bytes') ?? DEFAULT_MAX_VAR_BYTES,
    },
    timeoutMs: (timeout as number | null | undefined) ?? null,
  };
}

/** @internal The main module's index: the one named `main`, else the last. */
export function mainModuleIndex(manifest: NormalizedManifest): number {
  const named = manifest.wasm.findIndex((m) => m.name === 'main');
  return named >= 0 ? named : manifest.wasm.length - 1;
}
