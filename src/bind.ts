// The public functions that need a platform, bound to one. An entry point (index.ts for Node, a
// browser entry for the web) binds them to its platform once and exports the result; nothing
// below it imports a platform.
import { type Capabilities, capabilitiesOf } from './capabilities.js';
import type { Platform } from './internal/platform/platform.js';
import type { ManifestLike } from './manifest.js';
import type { PluginOptions } from './options.js';
import { type CompiledPlugin, compilePluginOn, createPluginOn, type Plugin } from './plugin.js';
import { createPoolOn, type Pool, type PoolOptions } from './pool.js';

/** @internal What an entry point exports that depends on its platform. */
export interface PlatformApi {
  createPlugin(manifest: ManifestLike | PromiseLike<ManifestLike>, options?: PluginOptions): Promise<Plugin>;
  compilePlugin(manifest: ManifestLike | PromiseLike<ManifestLike>, options?: PluginOptions): Promise<CompiledPlugin>;
  createPool(manifest: ManifestLike | PromiseLike<ManifestLike>, options?: PoolOptions): Promise<Pool>;
  CAPABILITIES: Readonly<Capabilities>;
}

/** @internal createPlugin, compilePlugin, createPool and CAPABILITIES on `platform`. */
export function bindPlatform(platform: Platform): PlatformApi {
  return {
    createPlugin: (manifest, options) => createPluginOn(platform, manifest, options),
    compilePlugin: (manifest, options) => compilePluginOn(platform, manifest, options),
    createPool: (manifest, options) => createPoolOn(platform, manifest, options),
    CAPABILITIES: capabilitiesOf(platform),
  };
}
