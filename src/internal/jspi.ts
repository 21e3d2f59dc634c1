// JS promise integration for WebAssembly (JSPI), where the engine has it: a guest on this thread
// can call an async host function and wait for its promise while the event loop turns. Detected
// at run time: Node 24+, Deno and Bun have it, Node 20/22 do not. A `promising` export costs
// more per call than a plain one even when it never suspends (BENCHMARKS.md), so only plug-ins
// that import something asynchronous are called through it.

/** What JSPI adds to `WebAssembly`; TypeScript's lib for Node 20 does not declare it. */
interface JspiWebAssembly {
  Suspending: new (fn: (...args: any[]) => unknown) => object;
  promising: (fn: (...args: any[]) => unknown) => (...args: any[]) => Promise<unknown>;
}

// Typed, not cast: on an engine without JSPI the two members are simply absent.
const wasm: typeof WebAssembly & Partial<JspiWebAssembly> = WebAssembly;

/** Whether this engine has JSPI (`WebAssembly.Suspending` and `WebAssembly.promising`). */
export function hasJspi(): boolean {
  return typeof wasm.Suspending === 'function' && typeof wasm.promising === 'function';
}

/** `fn` as an import the guest waits on: the guest's stack is suspended until its promise settles. Needs {@link hasJspi}. */
export function suspending(fn: (...args: any[]) => Promise<unknown>): WebAssembly.ImportValue {
  return new wasm.Suspending!(fn) as WebAssembly.ImportValue;
}

/** An export callable from JS as a promise, so that the imports it reaches may suspend. Needs {@link hasJspi}. */
export function promising(fn: (...args: any[]) => unknown): () => Promise<unknown> {
  return wasm.promising!(fn);
}

/** What an async import tells its engine once it has started (the linker's `guard`). */
export interface SuspensionGuard {
  /** The host function handed back its promise: the guest suspends and is off the stack until it settles. */
  returned(): void;
  /** The promise settled, before the guest resumes: throws when the call was given up (timed out, aborted), so the abandoned guest unwinds. */
  settled(): void;
}

/** Whether a host function is declared `async` (what the linker routes through JSPI, or refuses without it). */
export function isAsyncFunction(fn: unknown): boolean {
  return (fn as { constructor?: { name?: string } } | null)?.constructor?.name === 'AsyncFunction';
}

/** What the LinkError says where an async host function cannot run on this thread. */
export const NO_JSPI_HINT =
  'which needs runInWorker: true, or an engine with JS promise integration for WebAssembly (WebAssembly.Suspending and WebAssembly.promising), such as Node.js 24+, Deno or Bun';
