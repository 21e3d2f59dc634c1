/**
 * plughost in a browser: the same API as the Node entry (index.ts), bound to the web platform
 * (`internal/platform/web/`): plug-ins from URLs, Responses, bytes or modules (a page has no
 * files; a WASI guest gets an in-memory file system from createMemoryFileSystem), guest output
 * to the console or your callbacks, async host functions and HTTP through JSPI where the
 * browser has it. Bundled to dist/bundle/browser.js and chosen by the package's
 * `browser` export condition; its declarations are index.ts's (the package ships one set), so
 * this file exports the same names (test/browser-bundle.test.ts compares them): the bound
 * functions and everything of api.ts.
 *
 * @module
 */
import { bindPlatform } from './bind.js';
import type { Capabilities } from './capabilities.js';
import { webPlatform } from './internal/platform/web/index.js';
import type { ManifestLike } from './manifest.js';
import type { PluginOptions } from './options.js';
import type { CompiledPlugin, Plugin } from './plugin.js';
import type { Pool, PoolOptions } from './pool.js';

const web = bindPlatform(webPlatform);

/** Create a plug-in from a manifest, URL, Response, bytes or module; see index.ts. */
export function createPlugin(manifest: ManifestLike | PromiseLike<ManifestLike>, options?: PluginOptions): Promise<Plugin> {
  return web.createPlugin(manifest, options);
}

/** Validate, fetch and compile a plug-in once; see index.ts. */
export function compilePlugin(manifest: ManifestLike | PromiseLike<ManifestLike>, options?: PluginOptions): Promise<CompiledPlugin> {
  return web.compilePlugin(manifest, options);
}

/** A pool of plug-ins in workers; see index.ts. */
export function createPool(manifest: ManifestLike | PromiseLike<ManifestLike>, options?: PoolOptions): Promise<Pool> {
  return web.createPool(manifest, options);
}

/** The capabilities of plughost in this browser, as `@extism/extism`'s `CAPABILITIES`. */
export const CAPABILITIES: Readonly<Capabilities> = web.CAPABILITIES;

export * from './api.js';
export { createPlugin as newPlugin };

/** {@link createPlugin}, as the default export: `import createPlugin from 'plughost'`. */
export default createPlugin;
