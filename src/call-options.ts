// What a call takes beyond its export's name: the input and per-call options. Public types,
// kept apart from internal/backend.ts so the shipped declarations never reach internal/.

/** Per-call options beyond the drop-in `call(name, input, hostContext)`. */
export interface CallOptions {
  /** Cancels the call: it fails with an `AbortError`. */
  signal?: AbortSignal;
}

/**
 * What a call accepts as input: strings are sent as UTF-8, numbers as their decimal text, bytes
 * (a Uint8Array or any other view, an ArrayBuffer, a SharedArrayBuffer) as they are. Any other
 * object fails the call with a `TypeError`: send a value as JSON with `JSON.stringify(value)`.
 *
 * A plug-in in a worker (`runInWorker`, `createPool`) takes other inputs when the call is made, so
 * the caller may reuse its bytes at once; bytes in a `SharedArrayBuffer` (the buffer itself, or a
 * view of part of it) it reads in place, without a copy, while the call runs, also when the call
 * first waits in a queue. Leave them unchanged until the call settles: bytes changed earlier
 * may reach the plug-in changed. What this saves: the copy of a large input on the calling
 * thread, which is most of what a pooled call of a megabyte costs that thread.
 */
export type PluginInput = string | number | Uint8Array | ArrayBufferView | ArrayBuffer | SharedArrayBuffer | undefined | null;
