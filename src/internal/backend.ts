// The seam between the public layer (plugin.ts, pool.ts) and where calls run: PluginBackend,
// with its two implementations, the engine on this thread (EngineBackend, here) and the worker
// proxy (worker/worker-backend.ts). The public layer sits on top of this module, the worker
// below it; neither imports the other.
import type { CallOptions, PluginInput } from '../call-options.js';
import type { PluginOutput } from '../plugin-output.js';
import { asBytes, isSharedMemory } from './bytes.js';
import type { PluginEngine } from './engine.js';
import type { LoadedModule } from './module-loader.js';

export type { CallOptions, PluginInput };

const EMPTY = new Uint8Array(0);

function toInput(input: PluginInput): Uint8Array | string {
  if (input === undefined || input === null) return EMPTY;
  if (typeof input === 'string') return input;
  const bytes = asBytes(input) ?? (isSharedMemory(input) ? new Uint8Array(input) : undefined);
  if (bytes !== undefined) return bytes;
  const unsupported = unsupportedInput(input);
  if (unsupported !== undefined) throw unsupported;
  return String(input);
}

/**
 * A TypeError for an input a call does not take (an object that holds no bytes, a function, a
 * symbol), which would otherwise reach the plug-in as its text, "[object Object]"; undefined
 * for every input a call takes. Checked before a call goes anywhere.
 */
export function unsupportedInput(input: unknown): TypeError | undefined {
  const type = typeof input;
  if (type !== 'object' && type !== 'function' && type !== 'symbol') return undefined;
  if (input === null || ArrayBuffer.isView(input) || input instanceof ArrayBuffer || isSharedMemory(input)) return undefined;
  const kind = Object.prototype.toString.call(input).slice(8, -1);
  return new TypeError(
    `a call's input must be a string, a number or bytes (a Uint8Array or another view, an ArrayBuffer, a SharedArrayBuffer), got ${type === 'object' ? `an object (${kind})` : `a ${type}`}: pass JSON.stringify(value) to send a value as JSON`,
  );
}

/**
 * @internal Where a {@link Plugin}'s calls go: an engine on this thread, or a worker proxy
 * (worker/worker-backend.ts). Plugin only checks that it is open and delegates.
 */
export interface PluginBackend {
  call(name: string, input: PluginInput, hostContext: unknown, options: CallOptions | undefined): Promise<PluginOutput | null>;
  callSync(name: string, input: PluginInput, hostContext: unknown, options: CallOptions | undefined): PluginOutput | null;
  functionExists(name: string): Promise<boolean>;
  /** The main module's instance; only a plug-in on this thread has one to give. */
  getInstance(): Promise<WebAssembly.Instance>;
  /** The main module as loaded (its imports include those plughost added; see isAddedImport). */
  readonly main: LoadedModule;
  readonly isActive: boolean;
  readonly fuelConsumed: number;
  reset(): Promise<boolean>;
  close(): Promise<void>;
}

const NO_OUTPUT: Promise<PluginOutput | null> = Promise.resolve(null);

/** The plug-in runs on this thread: every call is the engine's synchronous call. */
export class EngineBackend implements PluginBackend {
  constructor(private readonly engine: PluginEngine) {}

  // Kept as cheap as calling the engine directly: no closure, no extra promise.
  call(name: string, input: PluginInput, hostContext: unknown, options: CallOptions | undefined): Promise<PluginOutput | null> {
    try {
      const output = this.engine.call(name, toInput(input), hostContext, options);
      // a settled promise is immutable, so every call without output can share one
      return output === null ? NO_OUTPUT : Promise.resolve(output);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  callSync(name: string, input: PluginInput, hostContext: unknown, options: CallOptions | undefined): PluginOutput | null {
    return this.engine.call(name, toInput(input), hostContext, options);
  }

  functionExists(name: string): Promise<boolean> {
    try {
      return Promise.resolve(this.engine.functionExists(name));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  getInstance(): Promise<WebAssembly.Instance> {
    try {
      return Promise.resolve(this.engine.mainInstance());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  get main(): LoadedModule {
    return this.engine.main;
  }

  get isActive(): boolean {
    return this.engine.isActive;
  }

  get fuelConsumed(): number {
    return this.engine.lastFuelConsumed;
  }

  async reset(): Promise<boolean> {
    if (this.engine.isActive) return false;
    this.engine.reset();
    return true;
  }

  async close(): Promise<void> {
    this.engine.close();
  }
}

/**
 * A plug-in on this thread whose imports suspend (an async host function, or HTTP, where the
 * engine has JSPI): calls are awaited and queue; `callSync` cannot wait for them.
 */
export class SuspendingEngineBackend extends EngineBackend {
  constructor(private readonly suspendingEngine: PluginEngine) {
    super(suspendingEngine);
  }

  override call(name: string, input: PluginInput, hostContext: unknown, options: CallOptions | undefined): Promise<PluginOutput | null> {
    return this.suspendingEngine.callAsync(name, toInput(input), hostContext, options);
  }

  override callSync(name: string): never {
    throw new TypeError(
      `callSync cannot call "${name}": the plug-in imports an async host function or http_request, which it awaits through JS promise integration (JSPI) while the event loop turns; use call`,
    );
  }
}

/** The backend for an engine on this thread. */
export function engineBackend(engine: PluginEngine): PluginBackend {
  return engine.suspends ? new SuspendingEngineBackend(engine) : new EngineBackend(engine);
}
