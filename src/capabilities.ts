import { hasJspi } from './internal/jspi.js';
import type { Platform } from './internal/platform/platform.js';

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

/** @internal What plughost can do on `platform` (the public CAPABILITIES is bound to its entry's platform, see bind.ts). */
export function capabilitiesOf(platform: Platform): Readonly<Capabilities> {
  return Object.freeze({
    supportsJSPromiseInterface: hasJspi(),
    allowSharedBufferCodec: sharedBufferCodec(),
    manifestSupportsPaths: platform.files !== undefined,
    crossOriginChecksEnforced: platform.crossOriginChecksEnforced ?? false,
    fsAccess: platform.wasiFileSystem !== undefined,
    hasWorkerCapability: platform.threads !== undefined,
    supportsWasiPreview1: true,
    supportsTimeouts: true,
    extismStdoutEnvVarSet: Boolean(platform.environmentVariable('EXTISM_ENABLE_WASI_OUTPUT')),
  });
}

/** Whether TextDecoder reads a view of shared memory (Node's does; browsers' refuse it). */
function sharedBufferCodec(): boolean {
  if (typeof SharedArrayBuffer !== 'function') return false;
  try {
    new TextDecoder().decode(new Uint8Array(new SharedArrayBuffer(1)));
    return true;
  } catch {
    return false;
  }
}
