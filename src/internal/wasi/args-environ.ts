/**
 * `args_*` and `environ_*`: the guest's argv and environment, empty unless the host gives them.
 *
 * @module
 */
import type { WasiContext, WasiFunction } from './context.js';
import { Errno } from './errno.js';

const encoder = new TextEncoder();

/** Encode strings as NUL-terminated UTF-8, as the guest's libc expects them; a NUL inside one is refused. */
export function encodeStrings(values: readonly string[], what: string): Uint8Array[] {
  return values.map((value) => {
    if (typeof value !== 'string') throw new TypeError(`WASI ${what} must be strings`);
    if (value.includes('\0')) throw new TypeError(`WASI ${what} must not contain NUL characters: ${JSON.stringify(value)}`);
    const bytes = new Uint8Array(encoder.encode(value).byteLength + 1);
    encoder.encodeInto(value, bytes);
    return bytes;
  });
}

/** The environment as `KEY=value` strings; a key with `=` or NUL, or an empty key, is refused. */
export function environStrings(env: Record<string, string>): string[] {
  return Object.entries(env).map(([key, value]) => {
    if (key === '' || key.includes('=')) throw new TypeError(`WASI environment variable name is invalid: ${JSON.stringify(key)}`);
    return `${key}=${value}`;
  });
}

function sizesGet(ctx: WasiContext, list: readonly Uint8Array[], countPtr: number, sizePtr: number): number {
  ctx.memory.check(countPtr, 4);
  ctx.memory.check(sizePtr, 4);
  let size = 0;
  for (const item of list) size += item.byteLength;
  ctx.memory.setU32(countPtr, list.length);
  ctx.memory.setU32(sizePtr, size);
  return Errno.SUCCESS;
}

function get(ctx: WasiContext, list: readonly Uint8Array[], pointersPtr: number, bufPtr: number): number {
  const { memory } = ctx;
  let size = 0;
  for (const item of list) size += item.byteLength;
  // Both areas are checked whole before the first byte is written.
  memory.check(pointersPtr, list.length * 4);
  memory.check(bufPtr, size);
  let offset = bufPtr >>> 0;
  list.forEach((item, i) => {
    memory.setU32((pointersPtr >>> 0) + i * 4, offset);
    memory.write(offset, item);
    offset += item.byteLength;
  });
  return Errno.SUCCESS;
}

/** The `args_*` and `environ_*` imports. */
export function argsEnvironFunctions(ctx: WasiContext): Record<string, WasiFunction> {
  return {
    args_sizes_get: (countPtr: number, sizePtr: number) => sizesGet(ctx, ctx.args, countPtr, sizePtr),
    args_get: (argvPtr: number, bufPtr: number) => get(ctx, ctx.args, argvPtr, bufPtr),
    environ_sizes_get: (countPtr: number, sizePtr: number) => sizesGet(ctx, ctx.environ, countPtr, sizePtr),
    environ_get: (environPtr: number, bufPtr: number) => get(ctx, ctx.environ, environPtr, bufPtr),
  };
}
