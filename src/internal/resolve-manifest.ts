// ManifestLike (everything createPlugin accepts) → a validated manifest.
import { ManifestError, WasmSourceError } from '../errors.js';
import { isFetchResponse, normalizeManifest, type ManifestLike, type NormalizedManifest } from '../manifest.js';
import * as platform from './platform/node.js';

function fromJsonText(text: string, where: string, baseDir?: string): NormalizedManifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ManifestError('(root)', `${where} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return normalizeManifest(parsed, baseDir);
}

async function fromUrl(url: URL, fetchImpl: typeof fetch): Promise<NormalizedManifest> {
  let response: Response;
  try {
    response = await fetchImpl(url);
  } catch (err) {
    throw new WasmSourceError(url.href, `cannot fetch ${url.href}: ${(err as Error).message}`, { cause: err });
  }
  return fromResponse(response, url.href);
}

async function fromResponse(response: Response, where: string): Promise<NormalizedManifest> {
  const type = response.headers.get('content-type') ?? '';
  if (/\b(application|text)\/json\b/.test(type)) {
    if (!response.ok) throw new WasmSourceError(where, `cannot fetch manifest from ${where}: HTTP ${response.status}`);
    return fromJsonText(await response.text(), where);
  }
  return normalizeManifest({ wasm: [{ response }] });
}

/**
 * Turn anything createPlugin accepts into a validated manifest: at once when no fetch is
 * needed (creating a plug-in is cheap enough that a needless promise shows).
 */
export function resolveManifest(like: ManifestLike, fetchImpl: typeof fetch): NormalizedManifest | Promise<NormalizedManifest> {
  if (typeof like === 'string') {
    const text = like.trim();
    if (text.startsWith('{')) return fromJsonText(text, 'the manifest string');
    if (/^https?:\/\//i.test(text)) return resolveManifest(new URL(text), fetchImpl);
    if (/^file:\/\//i.test(text)) return resolveManifest(platform.fileUrlToPath(text), fetchImpl);
    if (text.toLowerCase().endsWith('.json')) {
      let json: string;
      try {
        json = new TextDecoder().decode(platform.readFileBytes(text));
      } catch (err) {
        throw new WasmSourceError(text, `cannot read manifest file ${text}: ${platform.fileErrorReason(err)}`, { cause: err });
      }
      return fromJsonText(json, text, platform.directoryOf(text));
    }
    return normalizeManifest({ wasm: [{ path: text }] });
  }
  if (like instanceof URL) {
    if (like.protocol === 'file:') return resolveManifest(platform.fileUrlToPath(like), fetchImpl);
    return fromUrl(like, fetchImpl);
  }
  if (isFetchResponse(like)) return fromResponse(like, like.url || 'the response');
  if (like instanceof WebAssembly.Module) return normalizeManifest({ wasm: [{ module: like }] });
  if (like instanceof ArrayBuffer || ArrayBuffer.isView(like)) return normalizeManifest({ wasm: [{ data: like }] });
  return normalizeManifest(like);
}
