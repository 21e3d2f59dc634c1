/**
 * Emitting WebAssembly binaries: a growable byte buffer with the format's encodings
 * (LEB128, names, vectors, sections) and a small {@link ModuleBuilder} for modules
 * generated from scratch.
 *
 * @module
 */
import { MODULE_HEADER, Op, TypeCode } from './opcodes.js';
import { type FuncType, SectionId, type SectionSpan, sectionRank, type ValueType } from './reader.js';

const utf8 = new TextEncoder();

/** Byte encoding of each {@link ValueType}. */
export const valueTypeCode: Readonly<Record<ValueType, number>> = {
  i32: TypeCode.i32,
  i64: TypeCode.i64,
  f32: TypeCode.f32,
  f64: TypeCode.f64,
  v128: TypeCode.v128,
  funcref: TypeCode.funcref,
  externref: TypeCode.externref,
};

/** A growable byte buffer; every method appends and returns `this`. */
export class ByteWriter {
  private buf: Uint8Array;
  /** Number of bytes written so far. */
  length = 0;

  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
  }

  private reserve(n: number): void {
    const need = this.length + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  /** Appends one byte. */
  byte(b: number): this {
    this.reserve(1);
    this.buf[this.length++] = b;
    return this;
  }

  /** Appends raw bytes. */
  bytes(data: ArrayLike<number>): this {
    this.reserve(data.length);
    this.buf.set(data, this.length);
    this.length += data.length;
    return this;
  }

  /** Appends `source[start..end)` (a copy of part of another module). */
  slice(source: Uint8Array, start: number, end: number): this {
    return this.bytes(source.subarray(start, end));
  }

  /** Appends an unsigned LEB128 (up to 2^53, which covers u32 and memory64 limits). */
  u32(value: number): this {
    if (!Number.isInteger(value) || value < 0) throw new RangeError(`not an unsigned integer: ${value}`);
    this.reserve(8);
    do {
      let b = value % 128;
      value = Math.floor(value / 128);
      if (value !== 0) b |= 0x80;
      this.buf[this.length++] = b;
    } while (value !== 0);
    return this;
  }

  /** Appends a signed 32-bit LEB128. */
  s32(value: number): this {
    this.reserve(5);
    value |= 0;
    for (;;) {
      const b = value & 0x7f;
      value >>= 7;
      if ((value === 0 && (b & 0x40) === 0) || (value === -1 && (b & 0x40) !== 0)) {
        this.buf[this.length++] = b;
        return this;
      }
      this.buf[this.length++] = b | 0x80;
    }
  }

  /** Appends a signed 32-bit LEB128 padded to exactly 5 bytes, so it can be patched later. */
  s32Padded(value: number): this {
    this.reserve(5);
    patchS32Padded(this.buf, this.length, value);
    this.length += 5;
    return this;
  }

  /** Appends a signed 64-bit LEB128. */
  s64(value: bigint): this {
    value = BigInt.asIntN(64, value);
    for (;;) {
      const b = Number(value & 0x7fn);
      value >>= 7n;
      if ((value === 0n && (b & 0x40) === 0) || (value === -1n && (b & 0x40) !== 0)) return this.byte(b);
      this.byte(b | 0x80);
    }
  }

  /** Appends an unsigned 64-bit LEB128. */
  u64(value: bigint): this {
    value = BigInt.asUintN(64, value);
    do {
      let b = Number(value & 0x7fn);
      value >>= 7n;
      if (value !== 0n) b |= 0x80;
      this.byte(b);
    } while (value !== 0n);
    return this;
  }

  /** Appends a length-prefixed UTF-8 name. */
  name(text: string): this {
    const encoded = utf8.encode(text);
    return this.u32(encoded.length).bytes(encoded);
  }

  /** Appends a vector: its length, then each item through `write`. */
  vec<T>(items: readonly T[], write: (w: this, item: T) => void): this {
    this.u32(items.length);
    for (const item of items) write(this, item);
    return this;
  }

  /** Appends a value type. */
  valueType(type: ValueType): this {
    return this.byte(valueTypeCode[type]);
  }

  /** Appends a function type (`func params results`). */
  funcType(type: FuncType): this {
    this.byte(TypeCode.func);
    this.vec(type.params, (w, t) => w.valueType(t));
    return this.vec(type.results, (w, t) => w.valueType(t));
  }

  /** Appends a section: id, byte size, then the contents. */
  section(id: number, contents: ByteWriter | Uint8Array): this {
    const data = contents instanceof ByteWriter ? contents.finish() : contents;
    return this.byte(id).u32(data.length).bytes(data);
  }

  /** Empties the buffer, keeping its capacity. */
  reset(): this {
    this.length = 0;
    return this;
  }

  /** The bytes written so far (a view, valid until the next write). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/** Writes `value` as a 5-byte signed LEB128 at `offset` (see {@link ByteWriter.s32Padded}). */
function patchS32Padded(target: Uint8Array, offset: number, value: number): void {
  target[offset] = (value & 0x7f) | 0x80;
  target[offset + 1] = ((value >> 7) & 0x7f) | 0x80;
  target[offset + 2] = ((value >> 14) & 0x7f) | 0x80;
  target[offset + 3] = ((value >> 21) & 0x7f) | 0x80;
  target[offset + 4] = (value >> 28) & 0x7f;
}

/** A function defined by a {@link ModuleBuilder}. */
export interface FunctionDef {
  type: FuncType;
  /** Extra locals after the parameters. */
  locals?: ValueType[];
  /** Instructions, without the final `end`. */
  body: ArrayLike<number>;
}

/**
 * Builds a module from scratch: function/global imports, functions, mutable or constant
 * globals and exports. Indices follow the binary format: imported functions come first.
 */
export class ModuleBuilder {
  private readonly types: FuncType[] = [];
  private readonly typeKeys = new Map<string, number>();
  private readonly imports: { module: string; name: string; kind: 'function' | 'global'; type: number; mutable?: boolean; valueType?: ValueType }[] = [];
  private readonly functions: { typeIndex: number; def: FunctionDef }[] = [];
  private readonly globals: { valueType: ValueType; mutable: boolean; init: ArrayLike<number> }[] = [];
  private readonly exportList: { name: string; kind: number; index: number }[] = [];
  private importedFunctions = 0;
  private importedGlobals = 0;

  /** Index of `type` in the type section, added once. */
  typeIndex(type: FuncType): number {
    const key = `${type.params.join(',')}:${type.results.join(',')}`;
    let index = this.typeKeys.get(key);
    if (index === undefined) {
      index = this.types.push(type) - 1;
      this.typeKeys.set(key, index);
    }
    return index;
  }

  /** Imports a function; returns its function index. Must precede {@link addFunction}. */
  importFunction(module: string, name: string, type: FuncType): number {
    if (this.functions.length > 0) throw new Error('import functions before defining any');
    this.imports.push({ module, name, kind: 'function', type: this.typeIndex(type) });
    return this.importedFunctions++;
  }

  /** Imports a global; returns its global index. Must precede {@link addGlobal}. */
  importGlobal(module: string, name: string, valueType: ValueType, mutable: boolean): number {
    if (this.globals.length > 0) throw new Error('import globals before defining any');
    this.imports.push({ module, name, kind: 'global', type: 0, valueType, mutable });
    return this.importedGlobals++;
  }

  /** Defines a function; returns its function index. */
  addFunction(def: FunctionDef): number {
    this.functions.push({ typeIndex: this.typeIndex(def.type), def });
    return this.importedFunctions + this.functions.length - 1;
  }

  /** Defines a global with a constant initializer (instruction bytes, without `end`). */
  addGlobal(valueType: ValueType, mutable: boolean, init: ArrayLike<number>): number {
    this.globals.push({ valueType, mutable, init });
    return this.importedGlobals + this.globals.length - 1;
  }

  /** Exports a function, table, memory or global by index. */
  export(name: string, kind: 'function' | 'table' | 'memory' | 'global', index: number): this {
    this.exportList.push({ name, kind: ['function', 'table', 'memory', 'global'].indexOf(kind), index });
    return this;
  }

  /** Encodes the module. */
  build(): Uint8Array {
    const out = new ByteWriter(1024).bytes(MODULE_HEADER);
    if (this.types.length)
      out.section(
        SectionId.type,
        new ByteWriter().vec(this.types, (w, t) => w.funcType(t)),
      );
    if (this.imports.length) {
      out.section(
        SectionId.import,
        new ByteWriter().vec(this.imports, (w, imp) => {
          w.name(imp.module).name(imp.name);
          if (imp.kind === 'function') w.byte(0).u32(imp.type);
          else
            w.byte(3)
              .valueType(imp.valueType!)
              .byte(imp.mutable ? 1 : 0);
        }),
      );
    }
    if (this.functions.length)
      out.section(
        SectionId.function,
        new ByteWriter().vec(this.functions, (w, f) => w.u32(f.typeIndex)),
      );
    if (this.globals.length) {
      out.section(
        SectionId.global,
        new ByteWriter().vec(this.globals, (w, g) =>
          w
            .valueType(g.valueType)
            .byte(g.mutable ? 1 : 0)
            .bytes(g.init)
            .byte(Op.end),
        ),
      );
    }
    if (this.exportList.length)
      out.section(
        SectionId.export,
        new ByteWriter().vec(this.exportList, (w, e) => w.name(e.name).byte(e.kind).u32(e.index)),
      );
    if (this.functions.length) {
      out.section(
        SectionId.code,
        new ByteWriter().vec(this.functions, (w, f) => {
          const body = new ByteWriter();
          const locals = f.def.locals ?? [];
          // Consecutive locals of one type share an entry, as compilers emit them.
          const runs: [number, ValueType][] = [];
          for (const t of locals) {
            const last = runs[runs.length - 1];
            if (last && last[1] === t) last[0]++;
            else runs.push([1, t]);
          }
          body.vec(runs, (b, [n, t]) => b.u32(n).valueType(t));
          body.bytes(f.def.body).byte(Op.end);
          w.u32(body.length).bytes(body.finish());
        }),
      );
    }
    return out.finish().slice();
  }
}

/** How a rewrite gives each section: its new contents, or undefined to keep it as it was (or, for a missing one, to leave it out). */
export interface SectionRewrite {
  /** A section's new contents; undefined keeps it as it is, null drops it. */
  section(id: number, span: SectionSpan | undefined): Uint8Array | undefined | null;
  /** A custom section's new contents, or undefined to drop it. */
  custom(span: SectionSpan): Uint8Array | undefined;
}

/**
 * Writes the sections of `bytes` (split into `spans`) after the module header already in `out`,
 * as `rewrite` gives them, and adds each section of `required` the module lacks (asking
 * `rewrite.section(id, undefined)` for it) where its rank puts it.
 */
export function writeSections(out: ByteWriter, bytes: Uint8Array, spans: readonly SectionSpan[], required: readonly number[], rewrite: SectionRewrite): void {
  const missing = new Set(required);
  const addMissingBefore = (rank: number): void => {
    for (const id of [...missing]) {
      if (sectionRank(id) >= rank) continue;
      const body = rewrite.section(id, undefined);
      if (body) out.section(id, body);
      missing.delete(id);
    }
  };
  for (const span of spans) {
    if (span.id === SectionId.custom) {
      const custom = rewrite.custom(span);
      if (custom) out.section(SectionId.custom, custom);
      continue;
    }
    addMissingBefore(sectionRank(span.id));
    missing.delete(span.id);
    const body = rewrite.section(span.id, span);
    if (body) out.section(span.id, body);
    else if (body === undefined) out.slice(bytes, span.start, span.end);
  }
  addMissingBefore(Infinity);
}
