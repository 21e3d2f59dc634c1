// The tests' view of the WebAssembly JS API. tsconfig's lib (ES2022, no DOM) declares no
// WebAssembly types, so the few members used here are typed locally.

/** A mutable or constant wasm global as seen from JS. */
export interface WasmGlobal {
  value: unknown;
}

/** An instance's exports. */
export type WasmExports = Record<string, unknown>;

interface Engine {
  validate(bytes: Uint8Array): boolean;
  instantiate(bytes: Uint8Array, imports?: Record<string, Record<string, unknown>>): Promise<{ instance: { exports: WasmExports } }>;
}

/** `globalThis.WebAssembly`, typed. */
export const wasm = (globalThis as unknown as { WebAssembly: Engine }).WebAssembly;
