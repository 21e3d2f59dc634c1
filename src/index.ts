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
 * This file is the one public entry; everything under `internal/` may change freely.
 *
 * @module
 */
import { createPlugin } from './plugin.js';

export { CallContext, CallContext as CurrentPlugin } from './call-context.js';
export type { Capabilities } from './capabilities.js';
export { CAPABILITIES } from './capabilities.js';
export type { PlughostErrorCode } from './errors.js';
export {
  AbortError,
  FuelExhaustedError,
  FunctionNotFoundError,
  HashMismatchError,
  HttpDeniedError,
  LinkError,
  ManifestError,
  MemoryLimitError,
  PlughostError,
  PluginCallError,
  PluginClosedError,
  PluginError,
  PoolFullError,
  ReentrantCallError,
  TimeoutError,
  WasmSourceError,
  WorkerError,
} from './errors.js';
export type { HostFunction, ValueType } from './host-function.js';
export { DEFAULT_HOST_NAMESPACE, defineHostFunction } from './host-function.js';
export type {
  Manifest,
  ManifestLike,
  ManifestWasm,
  ManifestWasmData,
  ManifestWasmModule,
  ManifestWasmPath,
  ManifestWasmResponse,
  ManifestWasmUrl,
  MemoryOptions,
} from './manifest.js';
export type { MemoryFileSystem, MemoryFileSystemOptions } from './memory-file-system.js';
export { createMemoryFileSystem } from './memory-file-system.js';
export type {
  HostFunctionCallback,
  HostFunctionMap,
  Logger,
  LogLevel,
  OutputTarget,
  PluginConfig,
  PluginConfigLike,
  PluginOptions,
  PluginOptions as ExtismPluginOptions,
} from './options.js';
export type { CallOptions, PluginInput } from './plugin.js';
export { CompiledPlugin, compilePlugin, createPlugin, createPlugin as newPlugin, Plugin } from './plugin.js';
export { PluginOutput } from './plugin-output.js';
export type { PoolOptions } from './pool.js';
export { createPool, Pool } from './pool.js';

/** {@link createPlugin}, as the default export: `import createPlugin from 'plughost'`, as with `@extism/extism`. */
export default createPlugin;
