// The bytes of a manifest's module (or of a manifest) from a file, a URL or a Response, read
// without blocking the event loop and never past `maxWasmBytes`: a path to /dev/zero, a FIFO or
// a server that streams for ever must fail, not hang the process or fill its memory.
import { ManifestError, WasmSourceError } from '../errors.js';
import type { WasmSource } from '../manifest.js';
import { concatBytes } from './bytes.js';
import type { BoundedRead, Platform, PlatformFiles } from './platform/platform.js';

/**
 * The default cap on one module's bytes, 256 MiB. The largest real plug-ins (language runtimes
 * such as the JS and Python PDKs' interpreters) are tens of MiB and V8 compiles nothing above
 * 1 GiB; a module's bytes are held several times over while it is rewritten and compiled, so
 * this keeps a runaway source to a few hundred MiB of memory while leaving real plug-ins
 * ample room.
 */
export const DEFAULT_MAX_WASM_BYTES = 256 * 1024 * 1024;

/** `maxWasmBytes` checked, with its default. */
export function wasmSizeLimit(maxWasmBytes: number | undefined): number {
  if (maxWasmBytes === undefined) return DEFAULT_MAX_WASM_BYTES;
  if (!(Number.isSafeInteger(maxWasmBytes) && maxWasmBytes > 0)) {
    throw new ManifestError('maxWasmBytes', `must be a whole number of bytes > 0, got ${maxWasmBytes}`);
  }
  return maxWasmBytes;
}

/**
 * The platform's file system, or a WasmSourceError naming the file and saying what to pass
 * instead where there is none (a browser). `what`: "wasm file", "manifest file".
 */
export function filesFor(platform: Platform, path: string, what: string): PlatformFiles {
  if (platform.files !== undefined) return platform.files;
  throw new WasmSourceError(path, `cannot read ${what} ${path}: ${platform.name} has no file system here; pass a URL, a Response or the bytes instead`);
}

/** A file's bytes, or a WasmSourceError naming it and why it cannot be read. `what`: "wasm file", "manifest file". */
export async function readFileBounded(platform: Platform, path: string, maxBytes: number, what: string): Promise<Uint8Array> {
  const files = filesFor(platform, path, what);
  let read: BoundedRead;
  try {
    read = await files.readRegularFile(path, maxBytes);
  } catch (err) {
    throw new WasmSourceError(path, `cannot read ${what} ${path}: ${files.fileErrorReason(err)}`, { cause: err });
  }
  if ('bytes' in read) return read.bytes;
  throw new WasmSourceError(path, `cannot read ${what} ${path}: ${read.refused}${read.tooLarge ? ' (maxWasmBytes; raise it for a larger module)' : ''}`);
}

/** The length a response declares, when it is the length of the bytes its body will give. */
function declaredLength(response: Response): number | undefined {
  const encoding = response.headers.get('content-encoding');
  if (encoding !== null && encoding.trim().toLowerCase() !== 'identity') return undefined; // decoded by fetch: sizes differ
  const value = response.headers.get('content-length')?.trim();
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

function tooLarge(where: string, from: string, maxBytes: number, seen: string): WasmSourceError {
  return new WasmSourceError(where, `${from} is larger than maxWasmBytes (${maxBytes} bytes): ${seen}; raise maxWasmBytes for a larger module`);
}

/**
 * A response's body, failing as soon as it passes `maxBytes` (the rest is never downloaded) or
 * at once when its Content-Length says it will. `from` names it in messages: its URL.
 */
export async function readResponseBounded(response: Response, where: string, from: string, maxBytes: number): Promise<Uint8Array> {
  const declared = declaredLength(response);
  const stream = response.body;
  if (declared !== undefined && declared > maxBytes) {
    await stream?.cancel().catch(() => {});
    throw tooLarge(where, from, maxBytes, `it declares ${declared} bytes`);
  }
  if (stream === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let length = 0;
  let reader: ReadableStreamDefaultReader<Uint8Array>;
  try {
    reader = stream.getReader();
  } catch (err) {
    throw new WasmSourceError(where, `cannot read ${from}: ${(err as Error).message}`, { cause: err });
  }
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (err) {
      throw new WasmSourceError(where, `cannot read ${from}: ${(err as Error).message}`, { cause: err });
    }
    if (chunk.done) break;
    const value = chunk.value;
    if (length + value.byteLength > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(where, from, maxBytes, `reading stopped at ${length + value.byteLength} bytes`);
    }
    chunks.push(value);
    length += value.byteLength;
  }
  return chunks.length === 1 ? chunks[0]! : concatBytes(chunks, length);
}

/** The bytes of a module source other than a compiled module, read within `maxBytes`. `where` names the source in errors. */
export async function readSourceBytes(
  platform: Platform,
  source: Exclude<WasmSource, { kind: 'module' }>,
  where: string,
  fetchImpl: typeof fetch,
  maxBytes: number,
): Promise<Uint8Array> {
  switch (source.kind) {
    case 'data':
      return source.bytes;
    case 'path':
      return readFileBounded(platform, source.path, maxBytes, 'wasm file');
    case 'url': {
      if (source.url.startsWith('file:')) {
        const path = filesFor(platform, source.url, 'wasm file').fileUrlToPath(source.url);
        return readFileBounded(platform, path, maxBytes, 'wasm file');
      }
      let response: Response;
      try {
        response = await fetchImpl(source.url, { method: source.method, headers: source.headers });
      } catch (err) {
        throw new WasmSourceError(where, `cannot fetch wasm from ${source.url}: ${(err as Error).message}`, { cause: err });
      }
      return readSourceBytes(platform, { kind: 'response', response }, where, fetchImpl, maxBytes);
    }
    case 'response': {
      const { response } = source;
      const from = response.url || 'a response';
      if (!response.ok) {
        await response.body?.cancel().catch(() => {});
        throw new WasmSourceError(where, `cannot fetch wasm from ${from}: HTTP ${response.status}`);
      }
      return readResponseBounded(response, where, `wasm from ${from}`, maxBytes);
    }
  }
}
