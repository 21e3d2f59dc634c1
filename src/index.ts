/**
 * plughost: run Extism plug-ins from Node.js. A drop-in for `@extism/extism` 2.x:
 *
 * ```ts
 * import createPlugin from 'plughost';
 *
 * const plugin = await createPlugin('count-vowels.wasm', { config: { vowels: 'aeiou' } });
 * const out = await plugin.call('count_vowels', 'Hello, World!');
 * console.log(out?.json());
 * await plugin.close();
 * ```
 *
 * This file is the public entry for Node.js: it binds the core to Node's platform
 * (`internal/platform/node/`); everything under `internal/` may change freely.
 *
 * @module
 */
import { bindPlatform } from './bind.js';
import type { Capabilities } from './capabilities.js';
import { nodePlatform } from './internal/platform/node/index.js';
import type { ManifestLike } from './manifest.js';
import type { PluginOptions } from './options.js';
import type { CompiledPlugin, Plugin } from './plugin.js';
import type { Pool, PoolOptions } from './pool.js';

const node = bindPlatform(nodePlatform);

/**
 * Create a plug-in from a manifest (or a path, URL, bytes, module...) — the `@extism/extism`
 * entry point.
 *
 * ```ts
 * import createPlugin from 'plughost';
 * const plugin = await createPlugin('count-vowels.wasm', { config: { vowels: 'aeiouy' } });
 * ```
 *
 * Rejects with {@link ManifestError} (a bad manifest field or option), {@link WasmSourceError},
 * {@link HashMismatchError} or {@link LinkError} (naming every missing import) when the plug-in
 * cannot be created; with a {@link MemoryLimitError} when a module's initial memory is above
 * `memory.maxPages`, and a {@link WorkerError} when the worker of `runInWorker: true` cannot start.
 */
export function createPlugin(manifest: ManifestLike | PromiseLike<ManifestLike>, options?: PluginOptions): Promise<Plugin> {
  return node.createPlugin(manifest, options);
}

/**
 * Validate, fetch and compile a plug-in once; see {@link CompiledPlugin}. Options as
 * {@link createPlugin}'s; with `runInWorker: true`, each instance runs in a worker of its own.
 * Rejects as {@link createPlugin} does when the plug-in cannot be compiled (a missing import is
 * found when an instance is made).
 */
export function compilePlugin(manifest: ManifestLike | PromiseLike<ManifestLike>, options?: PluginOptions): Promise<CompiledPlugin> {
  return node.compilePlugin(manifest, options);
}

/**
 * Create a {@link Pool}: the plug-in is validated, fetched and compiled once, then started in
 * `size` workers. Options as {@link createPlugin}'s (`runInWorker` is implied), plus `size`
 * (default: the CPUs this process may use) and `maxQueue` (default 10,000).
 *
 * Rejects as {@link createPlugin} does, with a {@link ManifestError} for a `size` or `maxQueue`
 * that is not a whole number (`size` >= 1), and with a {@link WorkerError} where there are no
 * threads (a browser page that is not cross-origin isolated) or a worker cannot start.
 */
export function createPool(manifest: ManifestLike | PromiseLike<ManifestLike>, options?: PoolOptions): Promise<Pool> {
  return node.createPool(manifest, options);
}

/**
 * The capabilities of plughost on this runtime (Node.js), for code written against
 * `@extism/extism`'s `CAPABILITIES`.
 *
 * ```ts
 * if (!CAPABILITIES.supportsJSPromiseInterface) options.runInWorker = true;
 * ```
 */
export const CAPABILITIES: Readonly<Capabilities> = node.CAPABILITIES;

export * from './api.js';
export { createPlugin as newPlugin };

/** {@link createPlugin}, as the default export: `import createPlugin from 'plughost'`, as with `@extism/extism`. */
export default createPlugin;
