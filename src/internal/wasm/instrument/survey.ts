// The module-wide facts the instrumentation needs before it reads any body: types, imports,
// globals, tables, and the functions entered from outside the code.
import type { ByteWriter } from '../encoder.js';
import { ByteReader, forEachImport, SectionId, type SectionSpan, skipLimits, skipRefType, WasmFormatError } from '../reader.js';
import { InstructionDecoder } from './decode.js';
import { BUDGET_EXPORT, START_EXPORT } from './names.js';

interface FuncSig {
  params: number;
  /** The encoded result types (a vector's contents, without its count). */
  results: Uint8Array;
  resultCount: number;
}

export interface Facts {
  /** Entries of the type section, and so the index the tick's type gets. */
  types: FuncSig[];
  importedFunctions: number;
  /** Imported plus defined globals: the index the budget global gets. */
  globals: number;
  /** Type index of each defined function. */
  functionTypes: number[];
  /** Function indices (all, imports included) entered from outside the code: exports, tables, `ref.func` in constant expressions, the start. */
  entered: Set<number>;
  /** The encoded element type of each table, imported ones first. */
  tableTypes: Uint8Array[];
  /** The start function's index, if the module has one. */
  start?: number;
}

export function survey(bytes: Uint8Array, spans: SectionSpan[]): Facts {
  const facts: Facts = { types: [], importedFunctions: 0, globals: 0, functionTypes: [], entered: new Set(), tableTypes: [] };
  const onFunc = (index: number): void => void facts.entered.add(index);
  for (const span of spans) {
    const r = new ByteReader(bytes, span.bodyStart, span.end);
    switch (span.id) {
      case SectionId.type:
        facts.types = readTypes(r);
        break;
      case SectionId.import:
        forEachImport(r, (kind) => {
          if (kind === 0) facts.importedFunctions++;
          else if (kind === 3) facts.globals++;
          else if (kind === 1) facts.tableTypes.push(refTypeAt(bytes, r.pos, r.end));
          return false;
        });
        break;
      case SectionId.function: {
        const count = r.u32();
        for (let i = 0; i < count; i++) {
          const at = r.pos;
          const type = r.u32();
          if (type >= facts.types.length) r.fail(`type index ${type} out of range`, at);
          facts.functionTypes.push(type);
        }
        break;
      }
      case SectionId.table: {
        const count = r.u32();
        for (let i = 0; i < count; i++) {
          const withInit = bytes[r.pos] === 0x40;
          if (withInit) r.skip(2);
          facts.tableTypes.push(refTypeAt(bytes, r.pos, r.end));
          skipRefType(r);
          skipLimits(r);
          if (withInit) r.pos = constExpr(bytes, r.pos, r.end, undefined, 0, onFunc);
        }
        break;
      }
      case SectionId.global: {
        const count = r.u32();
        facts.globals += count;
        for (let i = 0; i < count; i++) {
          skipRefType(r);
          r.u8();
          r.pos = constExpr(bytes, r.pos, r.end, undefined, 0, onFunc);
        }
        break;
      }
      case SectionId.export: {
        const count = r.u32();
        for (let i = 0; i < count; i++) {
          const at = r.pos;
          const name = r.name();
          if (name === BUDGET_EXPORT || name === START_EXPORT) r.fail(`export "${name}" already exists (instrumented twice?)`, at);
          const kind = r.u8();
          const index = r.u32();
          if (kind === 0) facts.entered.add(index);
        }
        break;
      }
      case SectionId.start:
        facts.start = r.u32();
        facts.entered.add(facts.start);
        break;
      case SectionId.element:
        elements(r, undefined, 0, onFunc);
        break;
    }
  }
  return facts;
}

/** The encoded reference type at `pos`. */
function refTypeAt(bytes: Uint8Array, pos: number, end: number): Uint8Array {
  const r = new ByteReader(bytes, pos, end);
  skipRefType(r);
  return bytes.slice(pos, r.pos);
}

/** Reads the type section; only function types exist without the GC proposal. */
function readTypes(r: ByteReader): FuncSig[] {
  const count = r.u32();
  const types: FuncSig[] = [];
  for (let i = 0; i < count; i++) {
    const at = r.pos;
    const form = r.u8();
    if (form !== 0x60)
      r.fail(
        form === 0x4e || form === 0x4f || form === 0x50 || form === 0x5e || form === 0x5f
          ? 'garbage-collection (rec/sub/struct/array) types are not supported'
          : `unknown type form 0x${form.toString(16)}`,
        at,
      );
    const params = r.u32();
    for (let p = 0; p < params; p++) skipRefType(r);
    const resultCount = r.u32();
    const start = r.pos;
    for (let p = 0; p < resultCount; p++) skipRefType(r);
    types.push({ params, results: r.bytes.slice(start, r.pos), resultCount });
  }
  return types;
}

/**
 * Walks an element section; with `w`, copies it there with function indices at or above
 * `tick` moved up by one. `onFunc` sees every function index it names.
 */
export function elements(r: ByteReader, w: ByteWriter | undefined, tick: number, onFunc?: (index: number) => void): void {
  const bytes = r.bytes;
  const count = r.u32();
  w?.u32(count);
  for (let i = 0; i < count; i++) {
    const at = r.pos;
    const flags = r.u32();
    if (flags > 7) r.fail(`unknown element segment flags ${flags}`, at);
    w?.u32(flags);
    const start = r.pos;
    if (flags === 2 || flags === 6) r.u32(); // table index
    w?.slice(bytes, start, r.pos);
    if ((flags & 1) === 0) r.pos = constExpr(bytes, r.pos, r.end, w, tick, onFunc); // active: offset
    const kindStart = r.pos;
    if (flags & 3) {
      if (flags & 4) skipRefType(r);
      else r.u8(); // elemkind 0x00: funcref
    }
    w?.slice(bytes, kindStart, r.pos);
    const n = r.u32();
    w?.u32(n);
    for (let j = 0; j < n; j++) {
      if (flags & 4) r.pos = constExpr(bytes, r.pos, r.end, w, tick, onFunc);
      else {
        const index = r.u32();
        onFunc?.(index);
        if (w) w.u32(index >= tick ? index + 1 : index);
      }
    }
  }
  if (r.pos !== r.end) r.fail('trailing bytes in the element section');
}

/**
 * Walks a constant expression at `pos` (through its `end`); with `w`, copies it there with
 * function indices at or above `tick` moved up by one. Returns the position after it.
 */
export function constExpr(bytes: Uint8Array, pos: number, end: number, w: ByteWriter | undefined, tick: number, onFunc?: (index: number) => void): number {
  const d = new InstructionDecoder();
  let copyFrom = pos;
  let depth = 0;
  while (pos < end) {
    pos = d.decode(bytes, pos, end);
    switch (d.op) {
      case 0x0b:
        if (depth-- === 0) {
          w?.slice(bytes, copyFrom, pos);
          return pos;
        }
        break;
      case 0x02:
      case 0x03:
      case 0x04:
      case 0x06:
      case 0x1f:
        depth++;
        break;
      case 0x10:
      case 0x12:
      case 0xd2:
        onFunc?.(d.imm);
        if (w && d.imm >= tick) {
          w.slice(bytes, copyFrom, d.immAt).u32(d.imm + 1);
          copyFrom = pos;
        }
        break;
    }
  }
  throw new WasmFormatError('expression runs past its end', Math.min(pos, end));
}
