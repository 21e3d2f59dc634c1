// ManifestLike (everything createPlugin accepts) → a validated manifest.
import { ManifestError, WasmSourceError } from '../errors.js';
import { isFetchResponse, type ManifestLike, type NormalizedManifest, normalizeManifest } from '../manifest.js';
import { filesFor, readFileBounded, readResponseBounded } from './load-bytes.js';
import type { Platform } from './platform/platform.js';

function fromJsonText(text: string, where: string, resolvePath?: (path: string) => string): NormalizedManifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ManifestError('(root)', `${where} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return normalizeManifest(parsed, resolvePath);
}

async function fromUrl(url: URL, fetchImpl: typeof fetch, maxBytes: number): Promise<NormalizedManifest> {
  let response: Response;
  try {
    response = await fetchImpl(url);
  } catch (err) {
    throw new WasmSourceError(url.href, `cannot fetch ${url.href}: ${(err as Error).message}`, { cause: err });
  }
  return fromResponse(response, url.href, maxBytes);
}

async function fromResponse(response: Response, where: string, maxBytes: number): Promise<NormalizedManifest> {
  const type = response.headers.get('content-type') ?? '';
  if (/\b(application|text)\/json\b/.test(type)) {
    if (!response.ok) throw new WasmSourceError(where, `cannot fetch manifest from ${where}: HTTP ${response.status}`);
    return fromJsonText(new TextDecoder().decode(await readResponseBounded(response, where, `the manifest from ${where}`, maxBytes)), where);
  }
  return normalizeManifest({ wasm: [{ response }] });
}

async function fromJsonFile(platform: Platform, path: string, maxBytes: number): Promise<NormalizedManifest> {
  const files = filesFor(platform, path, 'manifest file');
  const json = new TextDecoder().decode(await readFileBounded(platform, path, maxBytes, 'manifest file'));
  const folder = files.directoryOf(path);
  return fromJsonText(json, path, (relative) => files.resolvePath(relative, folder));
}

/**
 * Turn anything createPlugin accepts into a validated manifest: at once when no fetch or file
 * read is needed (creating a plug-in is cheap enough that a needless promise shows). A manifest
 * file or a JSON manifest response is read within `maxBytes` (maxWasmBytes), as modules are.
 */
export function resolveManifest(
  platform: Platform,
  like: ManifestLike,
  fetchImpl: typeof fetch,
  maxBytes: number,
): NormalizedManifest | Promise<NormalizedManifest> {
  if (typeof like === 'string') {
    const text = like.trim();
    if (text.startsWith('{')) return fromJsonText(text, 'the manifest string');
    if (/^https?:\/\//i.test(text)) return resolveManifest(platform, new URL(text), fetchImpl, maxBytes);
    if (/^file:\/\//i.test(text)) return resolveManifest(platform, filesFor(platform, text, 'manifest').fileUrlToPath(text), fetchImpl, maxBytes);
    if (text.toLowerCase().endsWith('.json')) return fromJsonFile(platform, text, maxBytes);
    return normalizeManifest({ wasm: [{ path: text }] });
  }
  if (like instanceof URL) {
    if (like.protocol === 'file:') return resolveManifest(platform, filesFor(platform, like.href, 'manifest').fileUrlToPath(like), fetchImpl, maxBytes);
    return fromUrl(like, fetchImpl, maxBytes);
  }
  if (isFetchResponse(like)) return fromResponse(like, like.url || 'the response', maxBytes);
  if (like instanceof WebAssembly.Module) return normalizeManifest({ wasm: [{ module: like }] });
  if (like instanceof ArrayBuffer || ArrayBuffer.isView(like)) return normalizeManifest({ wasm: [{ data: like }] });
  return normalizeManifest(like);
}
