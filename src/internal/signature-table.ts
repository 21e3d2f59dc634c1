// The kernel's and host-env's signature tables are `as const` (readonly tuples, so each entry's
// exact type is checked where it is declared); code that takes a FuncType gets its own copy.
import type { FuncType, ValueType } from './wasm/reader.js';

/** A function signature as the constant tables declare it. */
export interface ConstFuncType {
  readonly params: readonly ValueType[];
  readonly results: readonly ValueType[];
}

/** `type` as a FuncType of its own (fresh arrays). */
export function toFuncType(type: ConstFuncType): FuncType {
  return { params: [...type.params], results: [...type.results] };
}

/** Every entry of `table` as a FuncType, by name. */
export function funcTypeTable(table: Readonly<Record<string, ConstFuncType>>): Readonly<Record<string, FuncType>> {
  return Object.fromEntries(Object.entries(table).map(([name, type]) => [name, toFuncType(type)]));
}
