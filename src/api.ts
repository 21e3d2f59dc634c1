// Every public name that does not depend on the platform: the classes, errors and types an
// entry point (index.ts for Node, a browser entry) exports as they are, beside the functions it
// binds to its platform (bind.ts).
export { CallContext, CallContext as CurrentPlugin } from './call-context.js';
export type { Capabilities } from './capabilities.js';
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
export { CompiledPlugin, Plugin } from './plugin.js';
export { PluginOutput } from './plugin-output.js';
export type { PoolOptions } from './pool.js';
export { Pool } from './pool.js';
