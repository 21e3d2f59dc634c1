// What a call takes beyond its export's name: the input and per-call options. Public types,
// kept apart from internal/backend.ts so the shipped declarations never reach internal/.

/** Per-call options beyond the drop-in `call(name, input, hostContext)`. */
export interface CallOptions {
  /** Cancels the call: it fails with an `AbortError`. */
  signal?: AbortSignal;
}

/** What a call accepts as input: strings are sent as UTF-8, numbers as their decimal text. */
export type PluginInput = string | number | Uint8Array | ArrayBuffer | undefined | null;
