import type { CallContext } from './call-context.js';

/**
 * A host function in the `@extism/extism` style: it receives the {@link CallContext} and the
 * plug-in's arguments. Arguments of wasm type i64 (handles, usually) arrive as numbers when
 * they fit in a double exactly (|v| < 2^53), as bigint otherwise; return either.
 */
export type HostFunctionCallback = (callContext: CallContext, ...args: any[]) => any;

/** Host functions by namespace then name: `{ 'extism:host/user': { kv_read(ctx, key) { … } } }`. */
export interface HostFunctionMap {
  [namespace: string]: { [name: string]: HostFunctionCallback };
}

/** A WebAssembly value type a host function can take or return. */
export type ValueType = 'i32' | 'i64' | 'f32' | 'f64';

/**
 * A host function declared with its wasm signature, in the spirit of the Go SDK's
 * `NewHostFunctionWithStack`. plughost checks the signature against the plug-in's import at
 * creation and fails with a {@link LinkError} naming both signatures when they differ.
 */
export interface HostFunction {
  /** The import module name, e.g. `extism:host/user`. */
  readonly namespace: string;
  /** The import name. */
  readonly name: string;
  /** Parameter types, as the plug-in must import them. */
  readonly params: readonly ValueType[];
  /** Result types, as the plug-in must import them. */
  readonly results: readonly ValueType[];
  /** Called with the call context and the plug-in's arguments. */
  readonly callback: HostFunctionCallback;
}

/** The namespace plug-ins import host functions from when they name none. */
export const DEFAULT_HOST_NAMESPACE = 'extism:host/user';

/**
 * Declare a host function with its signature.
 *
 * ```ts
 * const kvRead = defineHostFunction('kv_read', ['i64'], ['i64'], (ctx, key) => {
 *   const value = store.get(ctx.read(key)!.text()) ?? new Uint8Array(4);
 *   return ctx.store(value);
 * });
 * const plugin = await createPlugin('kv.wasm', { hostFunctions: [kvRead] });
 * ```
 *
 * Throws a `TypeError` when a type is not a wasm value type or `callback` is not a function.
 *
 * @param namespace the import module name; default `extism:host/user`.
 */
export function defineHostFunction(
  name: string,
  params: readonly ValueType[],
  results: readonly ValueType[],
  callback: HostFunctionCallback,
  namespace: string = DEFAULT_HOST_NAMESPACE,
): HostFunction {
  const valid = new Set<string>(['i32', 'i64', 'f32', 'f64']);
  for (const type of [...params, ...results]) {
    if (!valid.has(type)) throw new TypeError(`host function ${namespace}.${name}: "${type}" is not a wasm value type (i32, i64, f32, f64)`);
  }
  if (typeof callback !== 'function') throw new TypeError(`host function ${namespace}.${name}: callback must be a function, got ${typeof callback}`);
  return Object.freeze({ namespace, name, params: Object.freeze([...params]), results: Object.freeze([...results]), callback });
}
