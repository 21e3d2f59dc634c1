// Errors crossing between a worker and the host thread. Structured clone keeps only the message
// of an Error, so each error travels as `{name, message, fields, cause}` and is rebuilt as the
// same class on the other side: `instanceof TimeoutError` and `err.code` hold in worker mode.
// Classes are found by their stable `code` (plughost's) or a fixed name (the standard ones),
// never by `constructor.name`, which a user's minifier renames.
import { errorClassOfCode, PlughostError } from '../errors.js';
import { HttpDeadlineExceeded } from './http/http-errors.js';

/** An error as it travels. `ref` names an original the receiving side may still hold. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  /** Own enumerable properties that clone as they are: `code`, `functionName`, `exitCode`... */
  fields: Record<string, unknown>;
  cause?: { error: WireError } | { value: unknown };
  ref?: number;
}

type ErrorClass = new (...args: never[]) => Error;

/** plughost errors that share a code with a public class, told apart by their (fixed) name. */
const INTERNAL_CLASSES: Readonly<Record<string, ErrorClass>> = { HttpDeadlineExceeded };

/** Errors without a plughost code, by their standard names. */
const STANDARD_CLASSES: Readonly<Record<string, ErrorClass>> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  RuntimeError: WebAssembly.RuntimeError,
  CompileError: WebAssembly.CompileError,
};

function classOf(wire: WireError): ErrorClass {
  const code = wire.fields.code;
  if (typeof code === 'string' && code.startsWith('PLUGHOST_')) {
    if (Object.hasOwn(INTERNAL_CLASSES, wire.name)) return INTERNAL_CLASSES[wire.name]!;
    return errorClassOfCode(code) ?? PlughostError;
  }
  return Object.hasOwn(STANDARD_CLASSES, wire.name) ? STANDARD_CLASSES[wire.name]! : Error;
}

/** The property by which a rebuilt error remembers which original it stands for. */
const REF = Symbol('plughost.errorRef');

function isPlain(value: unknown, depth = 0): boolean {
  if (value === null || value === undefined) return true;
  const t = typeof value;
  if (t === 'string' || t === 'number' || t === 'boolean' || t === 'bigint') return true;
  if (Array.isArray(value) && depth === 0) return value.every((v) => isPlain(v, 1));
  return false;
}

const WasmException = (WebAssembly as { Exception?: abstract new (...args: never[]) => object }).Exception;

/**
 * The text of any thrown value, never throwing itself: an Error's message; a WebAssembly
 * exception, said so (what a plug-in throws and does not catch shows only as "[object
 * WebAssembly.Exception]"); anything else as String gives it, or its type where even String
 * throws (an object without a prototype: `String` threw inside the error path, on a worker
 * plug-in's host thread uncaught).
 */
export function thrownText(value: unknown): string {
  try {
    if (value instanceof Error) return value.message;
    if (WasmException !== undefined && value instanceof WasmException) {
      return 'the plug-in threw a WebAssembly exception that nothing caught (an exception of its source language, uncaught)';
    }
    return String(value);
  } catch {
    return `a thrown ${typeof value} that has no text`;
  }
}

/** Encode any thrown value (non-errors become an Error with its string form). */
export function toWire(err: unknown, depth = 0): WireError {
  if (!(err instanceof Error)) {
    return { name: 'Error', message: thrownText(err), fields: {} };
  }
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(err)) {
    if (isPlain(value)) fields[key] = value;
  }
  const wire: WireError = { name: err.name, message: err.message, stack: err.stack, fields };
  const ref = (err as { [REF]?: number })[REF];
  if (ref !== undefined) wire.ref = ref;
  if (err.cause !== undefined && depth < 4) {
    wire.cause = err.cause instanceof Error || !isPlain(err.cause) ? { error: toWire(err.cause, depth + 1) } : { value: err.cause };
  }
  return wire;
}

/**
 * Rebuild an error of the same class without running its constructor (constructors compose
 * their messages from arguments we no longer have). `originals` maps refs to errors this side
 * still holds: those come back as themselves.
 */
export function fromWire(wire: WireError, originals?: ReadonlyMap<number, unknown>): Error {
  if (wire.ref !== undefined && originals?.has(wire.ref)) {
    const original = originals.get(wire.ref);
    if (original instanceof Error) return original;
  }
  const err = Reflect.construct(Error, [wire.message], classOf(wire)) as Error;
  Object.assign(err, wire.fields);
  if (wire.stack !== undefined) Object.defineProperty(err, 'stack', { value: wire.stack, writable: true, configurable: true });
  if (err.name !== wire.name) Object.defineProperty(err, 'name', { value: wire.name, writable: true, configurable: true });
  if (wire.cause !== undefined) {
    const cause = 'error' in wire.cause ? fromWire(wire.cause.error, originals) : wire.cause.value;
    Object.defineProperty(err, 'cause', { value: cause, writable: true, configurable: true });
  }
  return err;
}

/** Rebuild `wire` and mark it as standing for the sender's error `ref`, so it can be swapped back later. */
export function fromWireWithRef(wire: WireError, ref: number): Error {
  const err = fromWire(wire);
  Object.defineProperty(err, REF, { value: ref });
  return err;
}
