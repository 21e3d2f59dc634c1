import { hasJspi } from './internal/jspi.js';
import * as platform from './internal/platform/node.js';

/** What this runtime lets plughost do; the same fields as `@extism/extism`'s `CAPABILITIES`. */
export interface Capabilities {
  /** Async host functions without a worker (JS promise integration for WebAssembly). */
  supportsJSPromiseInterface: boolean;
  /** TextDecoder/TextEncoder accept shared memory directly. */
  allowSharedBufferCodec: boolean;
  /** Manifest `wasm` entries may be file paths. */
  manifestSupportsPaths: boolean;
  /** HTTP requests are subject to browser cross-origin checks. */
  crossOriginChecksEnforced: boolean;
  /** WASI guests can be given directories (`allowedPaths`). */
  fsAccess: boolean;
  /** `runInWorker` and pools are available. */
  hasWorkerCapability: boolean;
  /** `useWasi` is available. */
  supportsWasiPreview1: boolean;
  /** `timeoutMs` holds; in plughost also on the main thread. */
  supportsTimeouts: boolean;
  /** `EXTISM_ENABLE_WASI_OUTPUT` is set, so WASI output goes to this process by default. */
  extismStdoutEnvVarSet: boolean;
}

/**
 * The capabilities of plughost on this runtime (Node.js), for code written against
 * `@extism/extism`'s `CAPABILITIES`.
 *
 * ```ts
 * if (!CAPABILITIES.supportsJSPromiseInterface) options.runInWorker = true;
 * ```
 */
export const CAPABILITIES: Readonly<Capabilities> = Object.freeze({
  supportsJSPromiseInterface: hasJspi(),
  allowSharedBufferCodec: true,
  manifestSupportsPaths: true,
  crossOriginChecksEnforced: false,
  fsAccess: true,
  hasWorkerCapability: true,
  supportsWasiPreview1: true,
  supportsTimeouts: true,
  extismStdoutEnvVarSet: Boolean(platform.environmentVariable('EXTISM_ENABLE_WASI_OUTPUT')),
});
