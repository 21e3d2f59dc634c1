// Host functions called from wasm without a BigInt per call: a generated trampoline module
// (wasm/trampoline.ts) converts i64 arguments to f64 when they are exact and calls the "fast"
// JS adapter; otherwise it calls the "slow" adapter with BigInts. One trampoline instance
// serves a whole batch of functions.
import type { CallContext } from '../call-context.js';
import type { HostFunctionCallback } from '../options.js';
import type { SuspensionGuard } from './jspi.js';
import { type FuncType, formatFuncType } from './wasm/reader.js';
import { buildTrampolineModule } from './wasm/trampoline.js';

type JsFunction = (...args: any[]) => any;

/** How to run an asynchronous host function, for the errors of one that returns a promise unannounced. */
const ASYNC_HINT = 'declare it async (awaited where the engine has JS promise integration, Node.js 24+), or use runInWorker: true';

const I64_SAFE = 2 ** 53;
const isSafe = (v: bigint) => v > -I64_SAFE && v < I64_SAFE;

/** Result conversions at the JS boundary, by wasm type. */
function fromJsResult(type: string | undefined): ((r: any) => any) | undefined {
  if (type === 'i64') return (r: any) => (typeof r === 'bigint' ? r : BigInt(Math.trunc(Number(r ?? 0))));
  if (type === 'i32' || type === 'f32' || type === 'f64') return (r: any) => (typeof r === 'bigint' ? Number(r) : r);
  return undefined;
}

/**
 * A host function's result for an import whose type is unknown. Wasm converts a JS result to
 * an i64 with ToBigInt, which refuses numbers, and to i32/f32/f64 with ToNumber, which refuses
 * BigInts; both accept the decimal text of an integer. So an integer goes back as its text:
 * exact as an i64 at any width (what the trampoline gives for a known i64 result), the same
 * number as an i32 (wrapped alike) or a float. A missing result is 0, as on the fast path; a
 * fraction or NaN goes back as it is (right for a float result; an i64 result refuses it,
 * which only a declared signature can avoid).
 */
function anyResult(r: any): any {
  if (typeof r === 'number') return Number.isSafeInteger(r) ? String(r) : Number.isInteger(r) ? BigInt(r).toString() : r;
  if (typeof r === 'bigint') return r.toString();
  if (r === undefined || r === null) return '0';
  if (typeof r === 'object' && typeof r.then === 'function') {
    (r as Promise<unknown>).then(undefined, () => {}); // its rejection has nowhere to go
    throw new TypeError(
      `a host function returned a promise: on the main thread a host function not declared async must return its result synchronously; ${ASYNC_HINT}`,
    );
  }
  return r;
}

/** A JS function with the exact wasm signature (i64 as bigint), used directly or as a trampoline's slow path. */
export function exactAdapter(fn: HostFunctionCallback, ctx: CallContext, type: FuncType | undefined): JsFunction {
  if (type === undefined) {
    // Signature unknown (a module given compiled, a host function given without one):
    // arguments as numbers where exact, as on the fast path; the result as a value every
    // result type accepts (see anyResult).
    return (...args: any[]) => anyResult(fn(ctx, ...args.map((a) => (typeof a === 'bigint' && isSafe(a) ? Number(a) : a))));
  }
  const paramsAreI64 = type.params.map((p) => p === 'i64');
  const convertArgs = (args: any[]) => args.map((a, i) => (paramsAreI64[i] && isSafe(a) ? Number(a) : a));
  if (type.results.length > 1) {
    const converters = type.results.map(fromJsResult);
    return (...args: any[]) => {
      const r = fn(ctx, ...convertArgs(args));
      return Array.from(r as ArrayLike<any>, (v, i) => (converters[i] ? converters[i]!(v) : v));
    };
  }
  const convert = fromJsResult(type.results[0]);
  return convert ? (...args: any[]) => convert(fn(ctx, ...convertArgs(args))) : (...args: any[]) => fn(ctx, ...convertArgs(args));
}

/**
 * An async host function as a JSPI import (see jspi.ts): called with the exact wasm signature
 * (no trampoline: it suspends the guest anyway, so a BigInt costs nothing worth saving), it
 * resolves to the result converted as {@link exactAdapter} converts it. `guard` is called as it
 * starts and told when the function has handed back its promise and when that settled (see
 * SuspensionGuard).
 */
export function asyncAdapter(
  fn: HostFunctionCallback,
  ctx: CallContext,
  type: FuncType | undefined,
  guard: () => SuspensionGuard,
): (...args: any[]) => Promise<unknown> {
  let convert: (r: any) => any;
  if (type === undefined) convert = anyResult;
  else if (type.results.length > 1) {
    const converters = type.results.map(fromJsResult);
    convert = (r: any) => Array.from(r as ArrayLike<any>, (v, i) => (converters[i] ? converters[i]!(v) : v));
  } else convert = fromJsResult(type.results[0]) ?? ((r: any) => r);
  const paramsAreI64 = type?.params.map((p) => p === 'i64');
  return async (...args: any[]) => {
    const converted = args.map((a, i) => ((paramsAreI64 === undefined ? typeof a === 'bigint' : paramsAreI64[i]) && isSafe(a) ? Number(a) : a));
    const guarded = guard();
    let result: unknown;
    try {
      let pending: unknown;
      try {
        pending = fn(ctx, ...converted);
      } finally {
        guarded.returned();
      }
      result = await pending;
    } finally {
      guarded.settled();
    }
    return convert(result);
  };
}

/** Holder of a trampoline's `wide` global, filled once the trampoline is instantiated. */
export interface WideSlot {
  global: WebAssembly.Global | undefined;
}

/**
 * A host function on this thread that hands back a promise (without being declared `async`,
 * which the linker refuses up front) would let the guest go on with garbage: fail instead.
 */
function refusePromise(result: object, label: string): never {
  if (typeof (result as { then?: unknown }).then === 'function') {
    (result as Promise<unknown>).then(undefined, () => {}); // its rejection has nowhere to go
    throw new TypeError(
      `host function ${label} returned a promise: on the main thread a host function not declared async must return its result synchronously; ${ASYNC_HINT}`,
    );
  }
  throw new TypeError(`host function ${label} returned an object where the plug-in expects a number`);
}

/** The fast path: i64 as plain numbers. One closure per host function, made at link time; `label` names it in errors. */
export function fastAdapter(fn: HostFunctionCallback | JsFunction, ctx: CallContext | undefined, type: FuncType, wide: WideSlot, label: string): JsFunction {
  const call = ctx === undefined ? (fn as JsFunction) : (fn as HostFunctionCallback).bind(null, ctx);
  if (type.results[0] !== 'i64') {
    const checked = (r: any) => (typeof r === 'object' && r !== null ? refusePromise(r, label) : r);
    switch (type.params.length) {
      case 0:
        return () => checked(call());
      case 1:
        return (a: any) => checked(call(a));
      case 2:
        return (a: any, b: any) => checked(call(a, b));
      default:
        return (...args: any[]) => checked(call(...args));
    }
  }
  // NaN is the trampoline's signal to read `wide`: a NaN the host function produced itself
  // (or anything that is not a number) must become 0, never a stale wide value.
  const toF64 = (r: any): number => {
    if (typeof r === 'number') return Number.isNaN(r) ? 0 : r;
    if (typeof r === 'bigint') {
      if (isSafe(r)) return Number(r);
      wide.global!.value = r;
      return NaN;
    }
    if (typeof r === 'object' && r !== null) refusePromise(r, label);
    const n = Number(r ?? 0);
    return Number.isNaN(n) ? 0 : n;
  };
  switch (type.params.length) {
    case 0:
      return () => toF64(call());
    case 1:
      return (a: any) => toF64(call(a));
    case 2:
      return (a: any, b: any) => toF64(call(a, b));
    default:
      return (...args: any[]) => toF64(call(...args));
  }
}

/** Whether calls of this signature go through a trampoline: an i64 to convert, and at most one result. */
export const needsTrampoline = (type: FuncType) => type.results.length <= 1 && (type.params.includes('i64') || type.results.includes('i64'));

const trampolineCache = new Map<string, WebAssembly.Module>();

function trampolineModule(types: FuncType[]): WebAssembly.Module {
  const key = types.map(formatFuncType).join(';');
  let module = trampolineCache.get(key);
  if (module === undefined) {
    module = new WebAssembly.Module(buildTrampolineModule(types) as Uint8Array<ArrayBuffer>);
    if (trampolineCache.size > 256) trampolineCache.clear();
    trampolineCache.set(key, module);
  }
  return module;
}

/** Pending trampoline entries; one trampoline instance serves every function of a plug-in. */
export class TrampolineBatch {
  private readonly types: FuncType[] = [];
  private readonly fast: Record<string, JsFunction> = {};
  private readonly slow: Record<string, JsFunction> = {};
  private readonly wide: WideSlot = { global: undefined };
  private exports: WebAssembly.Exports | undefined;

  /** Queue a function; returns a thunk that yields its wasm-side export after {@link finish}. */
  add(type: FuncType, fast: (wide: WideSlot) => JsFunction, slow: JsFunction): () => WebAssembly.ImportValue {
    const index = String(this.types.length);
    this.types.push(type);
    this.fast[index] = fast(this.wide);
    this.slow[index] = slow;
    return () => this.exports![index] as WebAssembly.ImportValue;
  }

  /** Instantiate the trampoline for every queued function; the thunks from {@link add} work from then on. */
  finish(): void {
    if (this.types.length === 0) return;
    const instance = new WebAssembly.Instance(trampolineModule(this.types), { fast: this.fast, slow: this.slow });
    this.exports = instance.exports;
    this.wide.global = instance.exports.wide as WebAssembly.Global;
  }
}
