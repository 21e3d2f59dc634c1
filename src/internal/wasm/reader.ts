/**
 * A one-pass reader of a WebAssembly module's header sections: types, imports, functions,
 * memories, exports and start. Code bodies are never decoded, so reading an 8 MiB module
 * costs well under a millisecond; this sits on the plug-in creation path.
 *
 * @module
 */
import { MODULE_HEADER, TypeCode } from './opcodes.js';

/** A value type that may appear in a plug-in's signatures. */
export type ValueType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref';

/** A function signature. */
export interface FuncType {
  params: ValueType[];
  results: ValueType[];
}

/** Limits of a memory or table, in pages or elements. */
export interface Limits {
  min: number;
  max?: number;
  shared: boolean;
  memory64: boolean;
}

/** One import of a module, with its resolved type. */
export type ImportDesc =
  | { module: string; name: string; kind: 'function'; typeIndex: number; type: FuncType }
  | { module: string; name: string; kind: 'memory'; limits: Limits }
  | { module: string; name: string; kind: 'table'; elementType: ValueType; limits: Limits }
  | { module: string; name: string; kind: 'global'; valueType: ValueType; mutable: boolean }
  | { module: string; name: string; kind: 'tag' };

/** One export of a module; `type` is set for functions only. */
export interface ExportDesc {
  name: string;
  kind: 'function' | 'table' | 'memory' | 'global' | 'tag';
  index: number;
  type?: FuncType;
}

/** What a host needs to know about a module before instantiating it. */
export interface ModuleInfo {
  types: FuncType[];
  imports: ImportDesc[];
  /** Type index of every function, imported ones first. */
  functionTypeIndices: number[];
  /** Defined (not imported) memories. */
  memories: Limits[];
  exports: ExportDesc[];
  startFunction?: number;
}

/** The bytes are not a well-formed WebAssembly module (or use a feature plughost does not read). */
export class WasmFormatError extends Error {
  /** Byte offset in the module where the problem was found. */
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`malformed WebAssembly module: ${message} at byte offset ${offset}`);
    this.offset = offset;
  }

  override get name(): string {
    return 'WasmFormatError';
  }
}

/** Section ids of the binary format. */
export const SectionId = {
  custom: 0,
  type: 1,
  import: 2,
  function: 3,
  table: 4,
  memory: 5,
  global: 6,
  export: 7,
  start: 8,
  element: 9,
  code: 10,
  data: 11,
  dataCount: 12,
  tag: 13,
} as const;

const exportKinds = ['function', 'table', 'memory', 'global', 'tag'] as const;

/** Decodes a value type byte; undefined for anything outside {@link ValueType}. */
function valueTypeOf(byte: number): ValueType | undefined {
  switch (byte) {
    case TypeCode.i32:
      return 'i32';
    case TypeCode.i64:
      return 'i64';
    case TypeCode.f32:
      return 'f32';
    case TypeCode.f64:
      return 'f64';
    case TypeCode.v128:
      return 'v128';
    case TypeCode.funcref:
      return 'funcref';
    case TypeCode.externref:
      return 'externref';
    default:
      return undefined;
  }
}

// Module and field names are nearly always ASCII; building those by hand avoids a
// TextDecoder call and a subarray per name.
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A cursor over module bytes. Every read checks bounds against `end` so that a truncated
 * module fails with a {@link WasmFormatError} rather than reading `undefined` as zero.
 */
export class ByteReader {
  /** Offset of the next byte to read. */
  pos: number;
  /** Offset reads may not reach (the end of the current section or body). */
  end: number;
  constructor(
    readonly bytes: Uint8Array,
    pos = 0,
    end = bytes.length,
  ) {
    this.pos = pos;
    this.end = end;
  }

  /** Throws a {@link WasmFormatError} located at `offset` (default: the cursor). */
  fail(message: string, offset = this.pos): never {
    throw new WasmFormatError(message, offset);
  }

  /** Reads one byte. */
  u8(): number {
    if (this.pos >= this.end) this.fail('unexpected end');
    return this.bytes[this.pos++]!;
  }

  /** Reads an unsigned LEB128 of at most 32 bits. */
  u32(): number {
    const bytes = this.bytes;
    let pos = this.pos;
    if (pos < this.end) {
      const b = bytes[pos]!;
      if (b < 0x80) {
        this.pos = pos + 1;
        return b;
      }
    }
    const start = pos;
    let result = 0;
    let shift = 0;
    for (;;) {
      if (pos >= this.end) this.fail('unexpected end in LEB128', start);
      const b = bytes[pos++]!;
      if (shift === 28 && b > 0x0f) this.fail('LEB128 u32 out of range', start);
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
      shift += 7;
    }
    this.pos = pos;
    return result;
  }

  /** Reads an unsigned LEB128 of at most 64 bits as a number (exact below 2^53). */
  u64(): number {
    const start = this.pos;
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) this.fail('unexpected end in LEB128', start);
      const b = this.bytes[this.pos++]!;
      if (shift > 63) this.fail('LEB128 u64 too long', start);
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
    }
  }

  /** Skips any LEB128 (signed or unsigned) of at most 10 bytes. */
  skipLeb(): void {
    const start = this.pos;
    const limit = Math.min(this.end, start + 10);
    while (this.pos < limit) {
      if (this.bytes[this.pos++]! < 0x80) return;
    }
    this.fail(this.pos >= this.end ? 'unexpected end in LEB128' : 'LEB128 too long', start);
  }

  /** Skips `n` bytes. */
  skip(n: number): void {
    if (this.pos + n > this.end) this.fail('unexpected end');
    this.pos += n;
  }

  /** Reads a length-prefixed UTF-8 name. */
  name(): string {
    const length = this.u32();
    const start = this.pos;
    const end = start + length;
    if (end > this.end) this.fail('name runs past the end', start);
    const bytes = this.bytes;
    let ascii = '';
    let i = start;
    for (; i < end; i++) {
      const b = bytes[i]!;
      if (b >= 0x80) break;
      ascii += String.fromCharCode(b);
    }
    this.pos = end;
    if (i === end) return ascii;
    try {
      return utf8.decode(bytes.subarray(start, end));
    } catch {
      return this.fail('name is not valid UTF-8', start);
    }
  }

  /** Reads a value type, failing on types outside {@link ValueType}. */
  valueType(): ValueType {
    const at = this.pos;
    const byte = this.u8();
    return valueTypeOf(byte) ?? this.fail(`unsupported value type 0x${byte.toString(16)}`, at);
  }

  /** Reads memory or table limits (flags: 1 has max, 2 shared, 4 64-bit). */
  limits(): Limits {
    const at = this.pos;
    const flags = this.u8();
    if (flags > 7) this.fail(`unsupported limits flags 0x${flags.toString(16)}`, at);
    const memory64 = (flags & 4) !== 0;
    const min = memory64 ? this.u64() : this.u32();
    const limits: Limits = { min, shared: (flags & 2) !== 0, memory64 };
    if (flags & 1) limits.max = memory64 ? this.u64() : this.u32();
    return limits;
  }
}

/** Skips a value or reference type, including the typed `(ref null? ht)` forms. */
export function skipRefType(r: ByteReader): void {
  const b = r.u8();
  if (b === TypeCode.refNull || b === TypeCode.ref) r.skipLeb();
}

/** Heap types of exception references: `exn` and `noexn`, as their one-byte codes (s33 -23 and -12). */
const EXCEPTION_HEAP_TYPES = new Set([0x69, 0x74]);

/**
 * Skips the type of a global or the element type of a table, failing on an exception reference
 * (`exnref`, `(ref null? exn)`): an exception kept in a global or a table keeps its payload (up
 * to a thousand values) alive in the host's heap, where no memory limit reaches, so a module of a
 * few kilobytes could hold gigabytes. Compilers keep caught exceptions in locals only.
 */
function refuseHeldExceptions(r: ByteReader, where: string): void {
  const at = r.pos;
  const code = r.u8();
  let heap = code;
  if (code === TypeCode.refNull || code === TypeCode.ref) {
    heap = r.u8();
    if (heap & 0x80) r.skipLeb();
  }
  if (EXCEPTION_HEAP_TYPES.has(heap))
    r.fail(
      `${where} holds exception references (exnref), which plughost does not run: an exception kept there keeps its payload in the host's memory, past every limit`,
      at,
    );
}

/**
 * Skips a constant expression (a global's or a table's initial value) through its `end`: the
 * instructions the core spec and extended-const allow there.
 */
export function skipConstantExpression(r: ByteReader): void {
  for (;;) {
    const at = r.pos;
    const op = r.u8();
    switch (op) {
      case 0x0b: // end
        return;
      case 0x41: // i32.const
      case 0x42: // i64.const
      case 0xd0: // ref.null heap type
        r.skipLeb();
        break;
      case 0x43: // f32.const
        r.skip(4);
        break;
      case 0x44: // f64.const
        r.skip(8);
        break;
      case 0x23: // global.get
      case 0xd2: // ref.func
        r.u32();
        break;
      case 0x6a: // i32.add, i32.sub, i32.mul, i64.add, i64.sub, i64.mul (extended-const)
      case 0x6b:
      case 0x6c:
      case 0x7c:
      case 0x7d:
      case 0x7e:
        break;
      case 0xfd: // v128.const
        if (r.u32() !== 12) r.fail('unsupported SIMD instruction in a constant expression', at);
        r.skip(16);
        break;
      default:
        r.fail(`unsupported instruction 0x${op.toString(16)} in a constant expression`, at);
    }
  }
}

/** Skips memory or table limits, whatever their width. */
export function skipLimits(r: ByteReader): void {
  const flags = r.u8();
  r.skipLeb();
  if (flags & 1) r.skipLeb();
}

/** Skips the description of an import of `kind` (0 function … 4 tag), read just before at `at`. */
function skipImportDescription(r: ByteReader, kind: number, at: number): void {
  switch (kind) {
    case 0:
      r.u32();
      return;
    case 1:
      skipRefType(r);
      skipLimits(r);
      return;
    case 2:
      skipLimits(r);
      return;
    case 3:
      skipRefType(r);
      r.u8();
      return;
    case 4:
      r.u8();
      r.u32();
      return;
    default:
      r.fail(`unknown import kind ${kind}`, at);
  }
}

/**
 * Walks an import section's entries (`r` at the start of its body): `visit` gets each entry's
 * kind with `r` at its description. When it reads the description itself it returns true;
 * otherwise the description is skipped. Either way the walk goes on to the next entry.
 */
export function forEachImport(r: ByteReader, visit: (kind: number) => boolean | undefined): void {
  const count = r.u32();
  for (let i = 0; i < count; i++) {
    r.skip(r.u32());
    r.skip(r.u32());
    const at = r.pos;
    const kind = r.u8();
    if (visit(kind) !== true) skipImportDescription(r, kind, at);
  }
}

/** True when `bytes` starts with the WebAssembly magic and binary version 1. */
export function isWasm(bytes: Uint8Array): boolean {
  if (bytes.length < MODULE_HEADER.length) return false;
  for (let i = 0; i < MODULE_HEADER.length; i++) if (bytes[i] !== MODULE_HEADER[i]) return false;
  return true;
}

/** Where one section lies: `start` is its id byte, `bodyStart`..`end` its contents. */
export interface SectionSpan {
  id: number;
  start: number;
  bodyStart: number;
  end: number;
}

/** Position of a section id in the order the binary format requires; Infinity for custom sections and unknown ids. */
export function sectionRank(id: number): number {
  const rank = SECTION_ORDER.indexOf(id);
  return rank < 0 ? Infinity : rank;
}
const SECTION_ORDER: readonly number[] = [
  SectionId.type,
  SectionId.import,
  SectionId.function,
  SectionId.table,
  SectionId.memory,
  SectionId.tag,
  SectionId.global,
  SectionId.export,
  SectionId.start,
  SectionId.element,
  SectionId.dataCount,
  SectionId.code,
  SectionId.data,
];

/** Lists a module's sections without decoding them; fails on a bad header or size, or a known section repeated or out of place. */
export function sectionSpans(bytes: Uint8Array): SectionSpan[] {
  if (!isWasm(bytes)) {
    throw new WasmFormatError(
      bytes.length >= 4 && MODULE_HEADER.slice(0, 4).every((b, i) => bytes[i] === b) ? 'unsupported binary version' : 'missing \\0asm magic',
      0,
    );
  }
  const r = new ByteReader(bytes, 8);
  const spans: SectionSpan[] = [];
  let lastRank = -1;
  while (r.pos < r.end) {
    const start = r.pos;
    const id = r.u8();
    const size = r.u32();
    const bodyStart = r.pos;
    const end = bodyStart + size;
    if (end > bytes.length) r.fail(`section ${id} runs past the end of the module`, start);
    const rank = sectionRank(id);
    // Unknown ids are left for the engine to judge; a known one twice or out of place would
    // make every survey of the module ambiguous.
    if (rank !== Infinity) {
      if (rank <= lastRank) r.fail(`section ${id} is repeated or out of order`, start);
      lastRank = rank;
    }
    spans.push({ id, start, bodyStart, end });
    r.pos = end;
  }
  return spans;
}

function readFuncTypes(r: ByteReader): FuncType[] {
  const count = r.u32();
  const types: FuncType[] = [];
  for (let i = 0; i < count; i++) {
    const at = r.pos;
    const form = r.u8();
    if (form !== TypeCode.func) {
      const what =
        form === TypeCode.rec || form === TypeCode.subFinal || form === TypeCode.sub || form === TypeCode.array || form === TypeCode.struct
          ? 'garbage-collection (rec/sub/struct/array) types are not supported'
          : `unknown type form 0x${form.toString(16)}`;
      r.fail(what, at);
    }
    const paramCount = r.u32();
    const params: ValueType[] = new Array(paramCount);
    for (let p = 0; p < paramCount; p++) params[p] = r.valueType();
    const resultCount = r.u32();
    const results: ValueType[] = new Array(resultCount);
    for (let p = 0; p < resultCount; p++) results[p] = r.valueType();
    types.push({ params, results });
  }
  return types;
}

function typeAt(r: ByteReader, types: FuncType[], index: number, at: number): FuncType {
  return types[index] ?? r.fail(`type index ${index} out of range (${types.length} types)`, at);
}

/**
 * Reads the signature-level facts of a module (it does not validate function bodies;
 * `WebAssembly.compile` does that). Fails with a {@link WasmFormatError} naming the offset.
 */
export function readModule(bytes: Uint8Array): ModuleInfo {
  const info: ModuleInfo = { types: [], imports: [], functionTypeIndices: [], memories: [], exports: [] };
  const r = new ByteReader(bytes);
  for (const span of sectionSpans(bytes)) {
    r.pos = span.bodyStart;
    r.end = span.end;
    switch (span.id) {
      case SectionId.type:
        info.types = readFuncTypes(r);
        break;
      case SectionId.import: {
        const count = r.u32();
        for (let i = 0; i < count; i++) {
          const module = r.name();
          const name = r.name();
          const at = r.pos;
          const kind = r.u8();
          switch (kind) {
            case 0: {
              const typeIndex = r.u32();
              info.imports.push({ module, name, kind: 'function', typeIndex, type: typeAt(r, info.types, typeIndex, at + 1) });
              info.functionTypeIndices.push(typeIndex);
              break;
            }
            case 1: {
              const elementType = r.valueType();
              info.imports.push({ module, name, kind: 'table', elementType, limits: r.limits() });
              break;
            }
            case 2:
              info.imports.push({ module, name, kind: 'memory', limits: r.limits() });
              break;
            case 3: {
              const valueType = r.valueType();
              const mutability = r.u8();
              if (mutability > 1) r.fail('bad global mutability', r.pos - 1);
              info.imports.push({ module, name, kind: 'global', valueType, mutable: mutability === 1 });
              break;
            }
            case 4:
              r.u8(); // attribute: always 0 (exception)
              r.u32();
              info.imports.push({ module, name, kind: 'tag' });
              break;
            default:
              r.fail(`unknown import kind ${kind}`, at);
          }
        }
        break;
      }
      case SectionId.function: {
        const count = r.u32();
        for (let i = 0; i < count; i++) {
          const at = r.pos;
          const index = r.u32();
          if (index >= info.types.length) typeAt(r, info.types, index, at);
          info.functionTypeIndices.push(index);
        }
        break;
      }
      case SectionId.memory: {
        const count = r.u32();
        for (let i = 0; i < count; i++) info.memories.push(r.limits());
        break;
      }
      case SectionId.export: {
        const count = r.u32();
        for (let i = 0; i < count; i++) {
          const name = r.name();
          const at = r.pos;
          const kindByte = r.u8();
          const kind = exportKinds[kindByte] ?? r.fail(`unknown export kind ${kindByte}`, at);
          const index = r.u32();
          const desc: ExportDesc = { name, kind, index };
          if (kind === 'function') {
            const typeIndex = info.functionTypeIndices[index] ?? r.fail(`exported function index ${index} out of range`, at + 1);
            desc.type = info.types[typeIndex]!;
          }
          info.exports.push(desc);
        }
        break;
      }
      case SectionId.start:
        info.startFunction = r.u32();
        break;
      case SectionId.table: {
        const count = r.u32();
        for (let i = 0; i < count; i++) {
          // 0x40 0x00: a table with an initial value (typed function references), after its limits
          const withInit = bytes[r.pos] === 0x40;
          if (withInit) r.skip(2);
          refuseHeldExceptions(r, 'a table');
          skipLimits(r);
          if (withInit) skipConstantExpression(r);
        }
        break;
      }
      case SectionId.global: {
        const count = r.u32();
        for (let i = 0; i < count; i++) {
          refuseHeldExceptions(r, 'a global');
          r.u8();
          skipConstantExpression(r);
        }
        break;
      }
      default:
        // Elements, code, data, data count, tags, custom and unknown sections carry nothing
        // the host needs before instantiation.
        continue;
    }
    if (r.pos !== span.end) r.fail(`section ${span.id} has ${span.end - r.pos} unexpected trailing bytes`);
  }
  return info;
}

/** A signature as read from a module or declared by a host function (whose lists are readonly). */
type AnyFuncType = { readonly params: readonly string[]; readonly results: readonly string[] };

/** Renders a signature the way error messages show it: `(i64, i64) -> i64`, `() -> ()`. */
export function formatFuncType(type: AnyFuncType): string {
  const params = `(${type.params.join(', ')})`;
  const results = type.results.length === 1 ? type.results[0]! : `(${type.results.join(', ')})`;
  return `${params} -> ${results}`;
}

/** Whether two signatures have the same parameter and result types. */
export function sameFuncType(a: AnyFuncType, b: AnyFuncType): boolean {
  return (
    a.params.length === b.params.length &&
    a.results.length === b.results.length &&
    a.params.every((p, i) => p === b.params[i]) &&
    a.results.every((r, i) => r === b.results[i])
  );
}
