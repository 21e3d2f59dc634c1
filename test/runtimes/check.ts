// The few assertions the cross-runtime tests use, named as node:assert/strict names them, in
// plain JavaScript: the same test bodies run on Node, Deno and Bun (suite.ts) and in a
// browser page (test/browser/suite.ts), which has no node:assert.

/** A failed check. */
export class CheckError extends Error {
  override name = 'CheckError';
}

const show = (value: unknown): string => {
  if (value instanceof Uint8Array) return `Uint8Array(${value.length})`;
  try {
    return typeof value === 'bigint' ? `${value}n` : (JSON.stringify(value) ?? String(value));
  } catch {
    return String(value);
  }
};

/** Whether `a` and `b` are alike all the way down: primitives by Object.is, arrays and byte arrays element by element, plain objects key by key. */
function alike(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (ArrayBuffer.isView(a)) {
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const y = new Uint8Array((b as ArrayBufferView).buffer, (b as ArrayBufferView).byteOffset, (b as ArrayBufferView).byteLength);
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  }
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  return keysA.every((key) => Object.hasOwn(b, key) && alike((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

export function ok(value: unknown, message?: string): asserts value {
  if (!value) throw new CheckError(message ?? `expected a truthy value, got ${show(value)}`);
}

export function equal<T>(actual: unknown, expected: T, message?: string): asserts actual is T {
  if (!Object.is(actual, expected)) throw new CheckError(`${message ? `${message}: ` : ''}${show(actual)} !== ${show(expected)}`);
}

export function deepEqual<T>(actual: unknown, expected: T, message?: string): asserts actual is T {
  if (!alike(actual, expected)) throw new CheckError(`${message ? `${message}: ` : ''}${show(actual)} is not like ${show(expected)}`);
}

export function match(actual: string, pattern: RegExp, message?: string): void {
  if (!pattern.test(actual)) throw new CheckError(message ?? `${show(actual)} does not match ${pattern}`);
}

export function fail(message: string): never {
  throw new CheckError(message);
}
