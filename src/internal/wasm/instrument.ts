/**
 * Instrumentation that lets the host interrupt a running plug-in: the basis of timeouts
 * (the tick checks the clock) and of deterministic fuel (the tick charges a budget).
 *
 * The instrumented module imports `plughost.tick` and exports a mutable i32 global, the
 * budget. Check sites subtract a static cost from the budget and call `tick` once it is
 * negative. Code that runs forever must loop or recurse, so checks go only where that can
 * happen:
 *
 * - at the head of every loop that is not provably bounded (see below);
 * - at the entry of every function that can be part of a recursion: one in a cycle of the
 *   call graph, where an indirect call (`call_indirect`, `call_ref`) or a call of an import
 *   (which may call back through an export) can reach any function that is exported, in an
 *   element segment, named by `ref.func`, or the start function;
 * - at the entry of every function entered from outside (exports, tables, the start), so
 *   that each entry from the host is charged.
 *
 * A loop is bounded when a local set to a constant right before it (only `block`s between)
 * changes inside it only by a constant step (`local.get x; const k; add|sub; local.set|tee x`),
 * the same on every path back to the head, outside nested loops, and every branch back to
 * its head is dominated by a comparison of that local with a constant (a `br_if` to the head,
 * an `if` around the branch, or a `br_if` that leaves) that must fail within a few thousand
 * iterations without overflow. Such a loop gets no check when all its iterations cost at
 * most {@link UNCHECKED_LOOP_LIMIT}: its bound times its cost is charged where it starts.
 * Anything else (other writes of the local, `br_table` to the head, exception handlers in the
 * loop, unknown bounds) keeps its check.
 *
 * ## The fuel unit
 *
 * Fuel counts work, not instructions: a unit is one simple instruction or 16 bytes filled,
 * copied or initialized (see bulk-charges.ts).
 *
 * Instructions whose work depends on an operand (`memory.fill/copy/init`, `table.fill/copy/init`,
 * `memory.grow`, `table.grow`) are each replaced by a call of a helper that charges the budget
 * in proportion to the length operand — one unit per 16 bytes, per table element, per 16 bytes
 * of pages grown, plus a fixed charge per grow — and checks it *before* the instruction runs,
 * so an instruction the budget cannot pay never starts. Fills and copies longer than 1 MiB
 * (65536 table elements) run in pieces of that size, each charged and checked first, so no
 * single fill or copy runs long without a check. Every other instruction of the original module counts one unit, statically.
 *
 * A check charges every instruction of its region (a function body outside its loops, or one loop body
 * outside its nested loops) whatever branches run, plus the work that has no check of its
 * own: for each direct call of a function without an entry check, that function's entry
 * charge, and for each unchecked bounded loop, its charge times its bound. A function entered
 * from the host is charged at its entry check. The count depends only on the module and the
 * path taken through its checks, so the same module and input always consume the same fuel.
 *
 * ## What the host can rely on
 *
 * The host's `tick` (engine.ts) reads the clock whenever the budget runs out, and hands out at
 * most 10^6 units at a time, fewer after a slice that took over a millisecond. So, on the main
 * thread, whatever the mix of instructions, a timeout fires within the deadline plus 100 ms
 * (the margin measured on a loaded 2-core machine, with room to spare; the guests of
 * test/wasm/runaway-guests.test.ts hold it to that), and a fuel budget stops the guest at the
 * first check past it. What no check can split, and so what the margin excludes: one
 * `memory.grow` or `table.grow`, which the engine runs whole (V8 caps tables at ten million
 * entries, but growing a funcref table by that many is slow), one host function call, and a
 * guest that catches the interrupt's exception (`catch_all`).
 *
 * ## Where the budget lives
 *
 * Functions with loop checks keep the budget in an added local: loaded from the global at
 * entry, written back before every call that can reach a check (and every call in a function
 * with `try`), before `return`, `return_call*`, `throw`, `rethrow`, the function's end and
 * `tick`, and reloaded after those calls, after `tick` and at the start of `catch` handlers.
 * Branches that leave the function are routed through one write-back by wrapping the body in
 * a block. Functions with only an entry check, or with `try_table` (whose handlers are labels
 * that normal paths share), subtract from the global directly. A trap may lose the charge of
 * the frames it unwinds since their last write-back.
 *
 * @module
 */
import { ByteWriter } from './encoder.js';
import { ByteReader, SectionId, WasmFormatError, forEachImport, sectionRank, sectionSpans, skipLimits, skipRefType, type SectionSpan } from './reader.js';
import { BulkHelpers, isChargedInstruction } from './bulk-charges.js';
import { Op, TypeCode } from './opcodes.js';

/** Module name of the imported tick function. */
export const TICK_MODULE = 'plughost';
/** Field name of the imported tick function, of type `() -> ()`. */
export const TICK_NAME = 'tick';
/** Export name of the mutable i32 budget global (initially 0, so the first check ticks). */
export const BUDGET_EXPORT = '__plughost_budget';

/** The most a bounded loop may cost over all its iterations and go without a check (units). */
export const UNCHECKED_LOOP_LIMIT = 10_000;
/** Costs are capped so that subtracting one from any refilled budget cannot overflow i32. */
const COST_CAP = 0x3fffffff;

/**
 * Returns an instrumented copy of a module: it imports `"plughost" "tick"` (after the
 * existing function imports, so defined functions move up by one index) and exports a
 * mutable i32 global `"__plughost_budget"`. Check sites (see the module documentation)
 * subtract their static cost from the budget and call `tick` when it goes below 0. `tick`
 * must raise the budget or throw; the same module and input always consume the same budget.
 *
 * Throws a {@link WasmFormatError} on malformed code or opcodes outside the supported
 * proposals (MVP, sign extension, saturating conversions, bulk memory, reference types,
 * tail calls, SIMD, threads, exception handling).
 *
 * ```ts
 * const { instance } = await WebAssembly.instantiate(instrumentForInterrupts(wasm), {
 *   ...imports,
 *   plughost: { tick: () => { if (Date.now() > deadline) throw new Error('timeout'); budget.value = 100_000; } },
 * });
 * const budget = instance.exports.__plughost_budget;
 * ```
 */
export function instrumentForInterrupts(bytes: Uint8Array): Uint8Array {
  const spans = sectionSpans(bytes);
  const facts = survey(bytes, spans);
  const edits: number[] = [];
  const helpers = new BulkHelpers();
  const plans = planFunctions(bytes, spans, facts, edits, helpers);
  const ctx = new Rewriter(bytes, facts, plans, edits, helpers);

  const out = new ByteWriter(bytes.length + (bytes.length >> 3) + 256).slice(bytes, 0, 8);
  const required = new Set<number>([SectionId.type, SectionId.import, SectionId.global, SectionId.export]);
  const emitMissingBefore = (rank: number): void => {
    for (const id of [...required]) {
      if (sectionRank(id) < rank) {
        out.section(id, ctx.section(id, undefined)!);
        required.delete(id);
      }
    }
  };

  for (const span of spans) {
    if (span.id === SectionId.custom) {
      const custom = ctx.customSection(span);
      if (custom) out.section(SectionId.custom, custom);
      continue;
    }
    emitMissingBefore(sectionRank(span.id));
    required.delete(span.id);
    const body = ctx.section(span.id, span);
    if (body) out.section(span.id, body);
    else out.slice(bytes, span.start, span.end);
  }
  emitMissingBefore(Infinity);
  return out.finish().slice();
}

// ---------------------------------------------------------------------------- survey

interface FuncSig {
  params: number;
  /** The encoded result types (a vector's contents, without its count). */
  results: Uint8Array;
  resultCount: number;
}

interface Facts {
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
}

function survey(bytes: Uint8Array, spans: SectionSpan[]): Facts {
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
          if (r.name() === BUDGET_EXPORT) r.fail(`export "${BUDGET_EXPORT}" already exists (instrumented twice?)`, at);
          const kind = r.u8();
          const index = r.u32();
          if (kind === 0) facts.entered.add(index);
        }
        break;
      }
      case SectionId.start:
        facts.entered.add(r.u32());
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
    if (form !== 0x60) r.fail(form === 0x4e || form === 0x4f || form === 0x50 || form === 0x5e || form === 0x5f
      ? 'garbage-collection (rec/sub/struct/array) types are not supported'
      : `unknown type form 0x${form.toString(16)}`, at);
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
function elements(r: ByteReader, w: ByteWriter | undefined, tick: number, onFunc?: (index: number) => void): void {
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
function constExpr(bytes: Uint8Array, pos: number, end: number, w: ByteWriter | undefined, tick: number, onFunc?: (index: number) => void): number {
  let copyFrom = pos;
  let depth = 0;
  while (pos < end) {
    pos = decode(bytes, pos, end);
    switch (last.op) {
      case 0x0b:
        if (depth-- === 0) {
          w?.slice(bytes, copyFrom, pos);
          return pos;
        }
        break;
      case 0x02: case 0x03: case 0x04: case 0x06: case 0x1f:
        depth++;
        break;
      case 0x10: case 0x12: case 0xd2:
        onFunc?.(last.imm);
        if (w && last.imm >= tick) {
          w.slice(bytes, copyFrom, last.immAt).u32(last.imm + 1);
          copyFrom = pos;
        }
        break;
    }
  }
  throw new WasmFormatError('expression runs past its end', Math.min(pos, end));
}

// ---------------------------------------------------------------------------- decoding

// Immediate shapes of the one-byte opcodes; see decode().
const NONE = 0, LEB = 1, LEB2 = 2, BLOCK = 3, CONST32 = 4, CONST64 = 5, BR_TABLE = 6, MEMARG = 7,
  F32 = 8, F64 = 9, FUNC = 10, SELECT_T = 11, TRY_TABLE = 12, PREFIX_FC = 13, PREFIX_FD = 14,
  PREFIX_FE = 15, UNKNOWN = 255;

const shapes = (() => {
  const t = new Uint8Array(256).fill(UNKNOWN);
  const set = (from: number, to: number, shape: number): void => {
    for (let op = from; op <= to; op++) t[op] = shape;
  };
  set(0x00, 0x01, NONE); // unreachable nop
  t[0x02] = BLOCK; t[0x03] = BLOCK; t[0x04] = BLOCK; // block loop if
  t[0x05] = NONE; // else
  t[0x06] = BLOCK; t[0x07] = LEB; t[0x08] = LEB; t[0x09] = LEB; t[0x0a] = NONE; // try catch throw rethrow throw_ref
  t[0x0b] = NONE; // end
  t[0x0c] = LEB; t[0x0d] = LEB; t[0x0e] = BR_TABLE; t[0x0f] = NONE; // br br_if br_table return
  t[0x10] = FUNC; t[0x11] = LEB2; t[0x12] = FUNC; t[0x13] = LEB2; // call(_indirect), return_call(_indirect)
  t[0x14] = LEB; t[0x15] = LEB; // call_ref return_call_ref
  t[0x18] = LEB; t[0x19] = NONE; // delegate catch_all
  t[0x1a] = NONE; t[0x1b] = NONE; t[0x1c] = SELECT_T; t[0x1f] = TRY_TABLE; // drop select select_t try_table
  set(0x20, 0x26, LEB); // local.*, global.*, table.get/set
  set(0x28, 0x3e, MEMARG); // loads and stores
  t[0x3f] = LEB; t[0x40] = LEB; // memory.size memory.grow
  t[0x41] = CONST32; t[0x42] = CONST64; t[0x43] = F32; t[0x44] = F64; // consts
  set(0x45, 0xc4, NONE); // numeric, conversions, sign extension
  t[0xd0] = LEB; t[0xd1] = NONE; t[0xd2] = FUNC; // ref.null ref.is_null ref.func
  t[0xd3] = NONE; t[0xd4] = NONE; t[0xd5] = LEB; t[0xd6] = LEB; // ref.eq ref.as_non_null br_on_null br_on_non_null
  t[0xfc] = PREFIX_FC; t[0xfd] = PREFIX_FD; t[0xfe] = PREFIX_FE;
  return t;
})();

// What decode() read last: the opcode, its first immediate (a label or an index; not set for
// constants), where the immediates start; and the end of the last LEB128 read. dLabels: the targets of the last br_table (default last).
const last = { op: 0, imm: 0, immAt: 0, lebEnd: 0 };
const dLabels: number[] = [];

function skipLeb(bytes: Uint8Array, pos: number): number {
  // A read past the array yields undefined, which ends the loop; the caller's final
  // position check reports the truncation.
  while (bytes[pos++]! >= 0x80);
  return pos;
}

/** Reads a u32 LEB128 at `pos`, leaving the position after it in `last.lebEnd`. */
function readLeb(bytes: Uint8Array, pos: number): number {
  let result = 0;
  let shift = 0;
  for (;;) {
    const b = bytes[pos++];
    if (b === undefined) break;
    result += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) break;
    shift += 7;
  }
  last.lebEnd = pos;
  return result;
}

/** Reads a signed LEB128 at `pos` (NaN beyond 2^48 in size), leaving the position after it in `last.lebEnd`. */
function readSleb(bytes: Uint8Array, pos: number): number {
  let b = bytes[pos++];
  if (b !== undefined && b < 0x80) {
    last.lebEnd = pos;
    return b < 0x40 ? b : b - 0x80;
  }
  let result = 0;
  let scale = 1;
  while (b !== undefined) {
    result += (b & 0x7f) * scale;
    scale *= 128;
    if (b < 0x80) break;
    b = bytes[pos++];
  }
  last.lebEnd = pos;
  if (b !== undefined && b & 0x40) result -= scale;
  return result >= -(2 ** 48) && result <= 2 ** 48 ? result : NaN;
}

function skipMemarg(bytes: Uint8Array, pos: number): number {
  const align = readLeb(bytes, pos);
  pos = last.lebEnd;
  if (align & 0x40) pos = skipLeb(bytes, pos); // multi-memory: a memory index follows
  return skipLeb(bytes, pos);
}

function skipBlockType(bytes: Uint8Array, pos: number): number {
  const b = bytes[pos]!;
  if (b === 0x63 || b === 0x64) return skipLeb(bytes, pos + 1);
  if (b >= 0x40 && b < 0x80) return pos + 1;
  return skipLeb(bytes, pos); // a type index (s33)
}

/** Decodes the instruction at `pos` into last.op/last.imm/last.immAt/dLabels; returns the position after it. */
function decode(bytes: Uint8Array, pos: number, end: number): number {
  const opAt = pos;
  const op = bytes[pos++]!;
  last.op = op;
  last.immAt = pos;
  switch (shapes[op]) {
    case NONE:
      return pos;
    case LEB:
    case FUNC:
      last.imm = readLeb(bytes, pos);
      return last.lebEnd;
    case LEB2:
      last.imm = readLeb(bytes, pos);
      return skipLeb(bytes, last.lebEnd);
    case BLOCK:
      return skipBlockType(bytes, pos);
    case CONST32:
    case CONST64:
      return skipLeb(bytes, pos); // the window reads the value when it needs it
    case BR_TABLE: {
      const n = readLeb(bytes, pos);
      pos = last.lebEnd;
      dLabels.length = 0;
      for (let i = 0; i <= n && pos < end; i++) {
        dLabels.push(readLeb(bytes, pos));
        pos = last.lebEnd;
      }
      return pos;
    }
    case MEMARG:
      return skipMemarg(bytes, pos);
    case F32:
      return pos + 4;
    case F64:
      return pos + 8;
    case SELECT_T: {
      const n = readLeb(bytes, pos);
      pos = last.lebEnd;
      for (let i = 0; i < n && pos < end; i++) {
        const t = bytes[pos++]!;
        if (t === 0x63 || t === 0x64) pos = skipLeb(bytes, pos);
      }
      return pos;
    }
    case TRY_TABLE: {
      pos = skipBlockType(bytes, pos);
      const n = readLeb(bytes, pos);
      pos = last.lebEnd;
      for (let i = 0; i < n && pos < end; i++) {
        const kind = bytes[pos++]!;
        if (kind > 3) throw new WasmFormatError(`unknown try_table catch kind ${kind}`, pos - 1);
        if (kind < 2) pos = skipLeb(bytes, pos); // tag
        pos = skipLeb(bytes, pos); // label
      }
      return pos;
    }
    case PREFIX_FC: {
      const sub = readLeb(bytes, pos);
      pos = last.lebEnd;
      if (sub <= 7) return pos; // saturating truncations
      if (sub > 17) throw unknownOpcode(op, sub, opAt);
      // memory.init, memory.copy, table.init and table.copy take two indices
      pos = skipLeb(bytes, pos);
      if (sub === 8 || sub === 10 || sub === 12 || sub === 14) pos = skipLeb(bytes, pos);
      return pos;
    }
    case PREFIX_FD: {
      const sub = readLeb(bytes, pos);
      pos = last.lebEnd;
      if (sub <= 11 || sub === 92 || sub === 93) return skipMemarg(bytes, pos); // loads, store, load_zero
      if (sub <= 13) return pos + 16; // v128.const, i8x16.shuffle
      if (sub >= 21 && sub <= 34) return pos + 1; // extract/replace lane
      if (sub >= 84 && sub <= 91) return skipMemarg(bytes, pos) + 1; // load/store lane
      if (sub > 0x113) throw unknownOpcode(op, sub, opAt); // past relaxed SIMD
      return pos;
    }
    case PREFIX_FE: {
      const sub = readLeb(bytes, pos);
      pos = last.lebEnd;
      if (sub === 3) return pos + 1; // atomic.fence: a reserved 0 byte
      if (sub <= 2 || (sub >= 0x10 && sub <= 0x4e)) return skipMemarg(bytes, pos);
      throw unknownOpcode(op, sub, opAt);
    }
    default:
      throw unknownOpcode(op, undefined, opAt);
  }
}

function unknownOpcode(op: number, sub: number | undefined, at: number): WasmFormatError {
  const hex = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;
  const name = op === 0xfb ? ' (garbage-collection instructions are not supported)' : '';
  return new WasmFormatError(`unknown opcode ${hex(op)}${sub === undefined ? '' : ` ${sub}`}${name}`, at);
}

// ---------------------------------------------------------------------------- analysis

/** A function body outside its loops (region 0), or one loop body outside its nested loops. */
interface Region {
  parent: number;
  /** Instructions in the region itself. */
  own: number;
  /** Most times the loop body can start per entry into the loop; -1 when unknown. */
  bound: number;
}

// What the analysis leaves for the rewrite, as (kind, offset, offset after, immediate):
// a loop (immediate: its ordinal), a call or return_call (the callee), a ref.func (the
// function), call_indirect or call_ref, an instruction that leaves the function (return,
// return_call_indirect/ref, throw, rethrow, throw_ref), a catch clause, the final end.
// An instruction charged by its operand (immediate: its helper's ordinal, see bulk-charges.ts).
const EDIT_LOOP = 1, EDIT_CALL = 2, EDIT_RETURN_CALL = 3, EDIT_REF = 4, EDIT_INDIRECT = 5, EDIT_LEAVE = 6,
  EDIT_CATCH = 7, EDIT_END = 8, EDIT_BULK = 9;

/** How a function keeps its budget. */
const NO_CHECKS = 0, ON_GLOBAL = 1, IN_LOCAL = 2;

interface FunctionPlan {
  /** Offsets of the body, the first instruction after its locals, and its end. */
  start: number;
  code: number;
  end: number;
  /** Index of the first local past the parameters and declared locals. */
  freeLocal: number;
  regions: Region[];
  /** Direct calls of defined functions: pairs of region and defined function index. */
  calls: number[] | undefined;
  /** Calls of imports, or through tables or references. */
  unknownCalls: boolean;
  throws: boolean;
  hasTry: boolean;
  hasTryTable: boolean;
  /** A branch leaves the function through its outermost label. */
  exitBranch: boolean;
  /** Runs an instruction charged by its operand (through a helper that can tick). */
  bulk: boolean;
  /** Defined functions named by `ref.func` in the body. */
  refs: number[];
  /** This body's places to edit: `edits[editFrom..editTo)`, four numbers each (see EDIT_LOOP). */
  editFrom: number;
  editTo: number;
  // decided once the whole module is known
  mode: number;
  /** Charge of the entry check, -1 for none. */
  entryCost: number;
  /** Charge of each loop's check in order of appearance, -1 for none. */
  loopCosts: number[];
  /** A call of this function can reach a check or throw, so callers write their budget back. */
  touches: boolean;
}

/** A comparison `v op c` of an induction variable `v` offset by `g` from its value at the loop head. */
interface Guard {
  op: number;
  c: number;
  g: number;
}

/** A loop whose induction variable may bound it. Levels are the open frames from the loop's own. */
interface Candidate {
  local: number;
  wide: boolean;
  start: number;
  /** Frame index of the loop. */
  depth: number;
  /** Open loops nested in it. */
  inner: number;
  dead: boolean;
  /** Change of the variable per iteration (NaN before the first branch back). */
  step: number;
  trips: number;
  /** Per level: offset of the variable from its value at the head (NaN unknown), whether the level wrote it, its guards. */
  delta: number[];
  wrote: boolean[];
  guards: Guard[][];
  /** Per level: the condition of its `if`, for the `else` arm. */
  cond: (Guard | undefined)[];
}

const I32_EQZ = 0x45, I32_EQ = 0x46, I32_NE = 0x47, I32_LT_S = 0x48, I32_LT_U = 0x49, I32_GT_S = 0x4a,
  I32_GT_U = 0x4b, I32_LE_S = 0x4c, I32_LE_U = 0x4d, I32_GE_S = 0x4e, I32_GE_U = 0x4f;
const LOCAL_GET = 0x20, LOCAL_SET = 0x21, LOCAL_TEE = 0x22, I32_CONST = 0x41, I64_CONST = 0x42;

/** The comparison that holds when `op` fails. */
function negate(op: number): number {
  switch (op) {
    case I32_EQ: return I32_NE;
    case I32_NE: return I32_EQ;
    case I32_LT_S: return I32_GE_S;
    case I32_LT_U: return I32_GE_U;
    case I32_GT_S: return I32_LE_S;
    case I32_GT_U: return I32_LE_U;
    case I32_LE_S: return I32_GT_S;
    case I32_LE_U: return I32_GT_U;
    case I32_GE_S: return I32_LT_S;
    default: return I32_LT_U; // I32_GE_U
  }
}

/** `op` with its operands swapped: `c op v` as `v swapped c`. */
function swap(op: number): number {
  switch (op) {
    case I32_LT_S: return I32_GT_S;
    case I32_LT_U: return I32_GT_U;
    case I32_GT_S: return I32_LT_S;
    case I32_GT_U: return I32_LT_U;
    case I32_LE_S: return I32_GE_S;
    case I32_LE_U: return I32_GE_U;
    case I32_GE_S: return I32_LE_S;
    case I32_GE_U: return I32_LE_U;
    default: return op;
  }
}

function holds(op: number, v: number, c: number, wide: boolean): boolean {
  const unsigned = op === I32_LT_U || op === I32_GT_U || op === I32_LE_U || op === I32_GE_U;
  if (unsigned) {
    const wrap = wide ? 2 ** 64 : 2 ** 32;
    if (v < 0) v += wrap;
    if (c < 0) c += wrap;
  }
  switch (op) {
    case I32_EQ: return v === c;
    case I32_NE: return v !== c;
    case I32_LT_S: case I32_LT_U: return v < c;
    case I32_GT_S: case I32_GT_U: return v > c;
    case I32_LE_S: case I32_LE_U: return v <= c;
    default: return v >= c;
  }
}

/** Largest offset an induction variable may reach within one iteration. */
const MAX_DELTA = 2 ** 20;

/**
 * Most times the loop head can be reached when each branch back needs `guard`, with the
 * variable starting at `start` and changing by `step` per iteration; Infinity when that is
 * more than the unchecked limit or the variable could overflow on the way.
 */
function tripBound(guard: Guard, start: number, step: number, wide: boolean): number {
  const limit = wide ? 2 ** 53 : 2 ** 31;
  if (!Number.isFinite(guard.c) || Math.abs(guard.c) >= limit) return Infinity;
  for (let n = 0; n <= UNCHECKED_LOOP_LIMIT; n++) {
    const head = start + n * step;
    if (Math.abs(head) + MAX_DELTA >= limit) return Infinity;
    if (!holds(guard.op, head + guard.g, guard.c, wide)) return n + 1;
  }
  return Infinity;
}

/** Reads every function body once and decides where checks go and what they charge. */
function planFunctions(bytes: Uint8Array, spans: SectionSpan[], facts: Facts, edits: number[], helpers: BulkHelpers): FunctionPlan[] {
  const plans: FunctionPlan[] = [];
  const span = spans.find((s) => s.id === SectionId.code);
  if (span) {
    const r = new ByteReader(bytes, span.bodyStart, span.end);
    const count = r.u32();
    if (count !== facts.functionTypes.length) r.fail(`the code section has ${count} bodies for ${facts.functionTypes.length} functions`);
    const analyzer = new Analyzer(bytes, facts.importedFunctions, facts.importedFunctions + count, edits, helpers);
    for (let i = 0; i < count; i++) {
      const size = r.u32();
      const start = r.pos;
      const end = start + size;
      if (end > r.end) r.fail(`function body ${i} runs past the code section`, start);
      const params = facts.types[facts.functionTypes[i]!]!.params;
      plans.push(analyzer.run(start, end, params, i));
      r.pos = end;
    }
    if (r.pos !== r.end) r.fail('trailing bytes in the code section');
  }
  decide(plans, facts);
  return plans;
}

/** Reads one function body: its regions, calls, loop bounds and features. */
class Analyzer {
  // per body
  private plan!: FunctionPlan;
  private kinds: number[] = []; // 0 block, 1 loop, 2 if, 3 try
  private regionOf: number[] = []; // region of each open frame's contents
  private back: number[] = []; // 1 when a branch goes back to an open loop
  private cands: number[] = []; // index in candidates of each open loop's candidate, -1 none
  private candidates: Candidate[] = [];
  private active: Candidate[] = [];
  // The last three instructions of the current straight-line run (oldest first): where they
  // start (-1: none), and their opcodes and first immediates once loaded.
  private at0 = -1; private at1 = -1; private at2 = -1;
  private w0 = -1; private w1 = -1; private w2 = -1;
  private i0 = NaN; private i1 = NaN;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly imported: number,
    /** Imported plus defined functions: every valid function index is below. */
    private readonly functionCount: number,
    private readonly edits: number[],
    private readonly helpers: BulkHelpers,
  ) {}

  run(start: number, end: number, params: number, index: number): FunctionPlan {
    const bytes = this.bytes;
    const r = new ByteReader(bytes, start, end);
    const groups = r.u32();
    let locals = params;
    for (let j = 0; j < groups; j++) {
      locals += r.u32();
      skipRefType(r);
    }
    const regions: Region[] = [{ parent: -1, own: 0, bound: 1 }];
    const plan: FunctionPlan = this.plan = {
      start, code: r.pos, end, freeLocal: locals, regions, calls: undefined, unknownCalls: false, throws: false, hasTry: false,
      hasTryTable: false, exitBranch: false, bulk: false, refs: [], editFrom: this.edits.length, editTo: 0, mode: NO_CHECKS,
      entryCost: -1, loopCosts: [], touches: false,
    };
    const edits = this.edits;
    const kinds = this.kinds, regionOf = this.regionOf, back = this.back, cands = this.cands;
    kinds.length = regionOf.length = back.length = cands.length = this.active.length = this.candidates.length = 0;
    let region = 0;
    // An `i32|i64.const c; local.set x` followed by nothing but `block`s: a loop here starts x at c.
    let initLocal = -1;
    let initValue = 0;
    let initWide = false;
    let pos = r.pos;
    let own = 0; // instructions of the current region not yet added to it
    let a0 = -1, a1 = -1, a2 = -1; // the window, see at0..at2
    while (pos < end) {
      const at = pos;
      let op = bytes[pos]!;
      const shape = shapes[op];
      own++;
      // Most instructions matter only as the window's latest: numeric ones, loads and stores.
      if (shape === MEMARG || (shape === NONE && op >= 0x45) || op === LOCAL_GET || op === 0x23 || op === I32_CONST || op === I64_CONST) {
        // local.get, global.get and integer constants: one LEB128 immediate
        pos = shape === MEMARG ? skipMemarg(bytes, pos + 1) : shape === NONE ? pos + 1 : skipLeb(bytes, pos + 1);
        a0 = a1; a1 = a2; a2 = at;
        initLocal = -1;
        continue;
      }
      pos = decode(bytes, pos, end);
      op = last.op;
      let keepInit = false;
      if (op === 0x03 || op === 0x0b || op === 0x18) {
        // the region may change
        regions[region]!.own += own;
        own = 0;
      }
      switch (op) {
        case 0x02: case 0x04: case 0x06: case 0x1f: { // block if try try_table
          this.at0 = a0; this.at1 = a1; this.at2 = a2;
          const cond = op === 0x04 ? this.windowGuards() : undefined;
          kinds.push(op === 0x02 ? 0 : op === 0x04 ? 2 : 3);
          regionOf.push(region);
          back.push(0);
          cands.push(-1);
          if (op === 0x06) plan.hasTry = true;
          if (op === 0x1f) {
            // Its catch clauses may branch back to any open loop.
            plan.hasTryTable = true;
            for (let k = 0; k < kinds.length - 1; k++) if (kinds[k] === 1) back[k] = 1;
          }
          for (const c of this.active) {
            if (op === 0x06 || op === 0x1f) c.dead = true;
            else this.enter(c, cond?.get(c));
          }
          keepInit = op === 0x02;
          a0 = a1 = a2 = -1;
          break;
        }
        case 0x03: { // loop
          for (const c of this.active) {
            this.enter(c, undefined);
            c.inner++;
          }
          const loop = regions.length;
          regions.push({ parent: region, own: 0, bound: -1 });
          edits.push(EDIT_LOOP, at, pos, loop - 1);
          region = loop;
          kinds.push(1);
          regionOf.push(loop);
          back.push(0);
          if (initLocal >= 0) {
            const cand: Candidate = {
              local: initLocal, wide: initWide, start: initValue, depth: kinds.length - 1, inner: 0, dead: false,
              step: NaN, trips: 0, delta: [0], wrote: [false], guards: [[]], cond: [undefined],
            };
            this.active.push(cand);
            cands.push(this.candidates.length);
            this.candidates.push(cand);
          } else cands.push(-1);
          a0 = a1 = a2 = -1;
          break;
        }
        case 0x05: { // else
          const top = kinds.length - 1;
          for (const c of this.active) {
            if (c.dead || c.depth >= top) continue;
            const level = top - c.depth;
            c.delta[level] = c.delta[level - 1]!;
            const cond = c.cond[level];
            c.guards[level] = cond ? [{ op: negate(cond.op), c: cond.c, g: cond.g }] : [];
          }
          a0 = a1 = a2 = -1;
          break;
        }
        case 0x07: case 0x19: case 0x18: // catch catch_all delegate
          for (const c of this.active) c.dead = true;
          if (op !== 0x18) edits.push(EDIT_CATCH, at, pos, 0);
          if (op === 0x18) {
            if (kinds.length === 0) throw new WasmFormatError('delegate outside a try block', at);
            this.leave(region);
            region = kinds.length === 0 ? 0 : regionOf[kinds.length - 1]!;
          }
          a0 = a1 = a2 = -1;
          break;
        case 0x0b: // end
          if (kinds.length === 0) {
            if (pos !== end) throw new WasmFormatError(`function body ${index} does not end where its size says`, start);
            edits.push(EDIT_END, at, pos, 0);
            plan.editTo = edits.length;
            return plan;
          }
          this.leave(region);
          region = kinds.length === 0 ? 0 : regionOf[kinds.length - 1]!;
          a0 = a1 = a2 = -1;
          break;
        case 0x0c: case 0x0d: case 0xd5: case 0xd6: { // br br_if br_on_null br_on_non_null
          const label = last.imm;
          this.at0 = a0; this.at1 = a1; this.at2 = a2;
          const guards = op === 0x0d ? this.windowGuards() : undefined;
          const target = kinds.length - 1 - label;
          if (target < 0) plan.exitBranch = true;
          else if (kinds[target] === 1) {
            back[target] = 1;
            const c = cands[target]! >= 0 ? this.candidates[cands[target]!] : undefined;
            if (c && !c.dead) this.backEdge(c, op === 0x0c ? undefined : op === 0x0d ? guards?.get(c) ?? null : null);
          }
          if (guards) {
            // Past a br_if its condition is false.
            for (const [c, g] of guards) {
              if (c.depth === target) continue;
              c.guards[c.guards.length - 1]!.push({ op: negate(g.op), c: g.c, g: g.g });
            }
          }
          a0 = a1; a1 = a2; a2 = at;
          break;
        }
        case 0x0e: // br_table
          for (const label of dLabels) {
            const target = kinds.length - 1 - label;
            if (target < 0) plan.exitBranch = true;
            else if (kinds[target] === 1) {
              back[target] = 1;
              if (cands[target]! >= 0) this.candidates[cands[target]!]!.dead = true;
            }
          }
          a0 = a1; a1 = a2; a2 = at;
          break;
        case 0x10: case 0x12: // call return_call
          this.checkFunctionIndex(last.imm, at);
          if (last.imm < this.imported) plan.unknownCalls = true;
          else (plan.calls ??= []).push(region, last.imm - this.imported);
          edits.push(op === 0x10 ? EDIT_CALL : EDIT_RETURN_CALL, at, pos, last.imm);
          a0 = a1; a1 = a2; a2 = at;
          break;
        case 0x11: case 0x14: // call_indirect call_ref
          plan.unknownCalls = true;
          edits.push(EDIT_INDIRECT, at, pos, 0);
          a0 = a1; a1 = a2; a2 = at;
          break;
        case 0x13: case 0x15: // return_call_indirect return_call_ref
          plan.unknownCalls = true;
          edits.push(EDIT_LEAVE, at, pos, 0);
          a0 = a1; a1 = a2; a2 = at;
          break;
        case 0x08: case 0x09: case 0x0a: // throw rethrow throw_ref
          plan.throws = true;
          edits.push(EDIT_LEAVE, at, pos, 0);
          a0 = a1; a1 = a2; a2 = at;
          break;
        case 0x0f: // return
          edits.push(EDIT_LEAVE, at, pos, 0);
          a0 = a1; a1 = a2; a2 = at;
          break;
        case Op.memoryGrow: case Op.prefixFC:
          if (isChargedInstruction(op, op === Op.prefixFC ? readLeb(bytes, at + 1) : 0)) {
            plan.bulk = true;
            edits.push(EDIT_BULK, at, pos, this.helpers.ordinalFor(bytes, at, pos));
          }
          a0 = a1; a1 = a2; a2 = at;
          break;
        case 0xd2: // ref.func
          this.checkFunctionIndex(last.imm, at);
          if (last.imm >= this.imported) plan.refs.push(last.imm - this.imported);
          edits.push(EDIT_REF, at, pos, last.imm);
          a0 = a1; a1 = a2; a2 = at;
          break;
        case LOCAL_SET: case LOCAL_TEE: {
          const local = last.imm;
          for (const c of this.active) {
            if (c.local !== local || c.dead) continue;
            this.at0 = a0; this.at1 = a1; this.at2 = a2;
            this.loadWindow();
            this.write(c);
          }
          const before = a2 < 0 ? -1 : bytes[a2];
          if (op === LOCAL_SET && (before === I32_CONST || before === I64_CONST)) {
            const value = readSleb(bytes, a2 + 1);
            if (!Number.isNaN(value)) {
              initLocal = local;
              initValue = value;
              initWide = before === I64_CONST;
              keepInit = true;
            }
          }
          a0 = a1; a1 = a2; a2 = at;
          break;
        }
        default:
          a0 = a1; a1 = a2; a2 = at;
      }
      if (!keepInit) initLocal = -1;
    }
    throw new WasmFormatError('expression runs past its end', Math.min(pos, end));
  }

  private checkFunctionIndex(index: number, at: number): void {
    if (index >= this.functionCount) throw new WasmFormatError(`function index ${index} out of range (${this.functionCount} functions)`, at);
  }

  /** Decodes the window's instructions into w0..w2 (opcodes) and i0..i1 (local indices and constants; no check needs the last one's). */
  private loadWindow(): void {
    this.w0 = this.opAt(this.at0); this.i0 = this.immAt(this.at0);
    this.w1 = this.opAt(this.at1); this.i1 = this.immAt(this.at1);
    this.w2 = this.opAt(this.at2);
  }

  private opAt(at: number): number {
    return at < 0 ? -1 : this.bytes[at]!;
  }

  /** The local index of a local.*, the value of a constant (NaN when not exact), else 0. */
  private immAt(at: number): number {
    const op = at < 0 ? -1 : this.bytes[at]!;
    if (op === LOCAL_GET || op === LOCAL_SET || op === LOCAL_TEE) return readLeb(this.bytes, at + 1);
    if (op === I32_CONST || op === I64_CONST) return readSleb(this.bytes, at + 1);
    return 0;
  }

  /**
   * For a condition about to be consumed (by `if` or `br_if`): the comparison it makes of
   * each live candidate's variable with a constant, if it is one.
   */
  private windowGuards(): Map<Candidate, Guard> | undefined {
    if (this.active.length === 0) return undefined;
    this.loadWindow();
    let map: Map<Candidate, Guard> | undefined;
    for (const c of this.active) {
      if (c.dead) continue;
      const g = this.windowGuard(c);
      if (g) (map ??= new Map()).set(c, g);
    }
    return map;
  }

  private windowGuard(c: Candidate): Guard | undefined {
    const offset = c.delta[c.delta.length - 1]!;
    if (Number.isNaN(offset)) return undefined;
    const isVar = (op: number, imm: number): boolean => (op === LOCAL_GET || op === LOCAL_TEE) && imm === c.local;
    const constOp = c.wide ? I64_CONST : I32_CONST;
    const shift = c.wide ? 0x0b : 0; // i64 comparisons sit 0x0b above their i32 twins
    if (this.w2 === I32_EQZ + shift && isVar(this.w1, this.i1)) return { op: I32_EQ, c: 0, g: offset };
    const cmp = this.w2 - shift;
    if (cmp < I32_EQ || cmp > I32_GE_U) return undefined;
    if (isVar(this.w0, this.i0) && this.w1 === constOp && !Number.isNaN(this.i1)) return { op: cmp, c: this.i1, g: offset };
    if (this.w0 === constOp && !Number.isNaN(this.i0) && isVar(this.w1, this.i1)) return { op: swap(cmp), c: this.i0, g: offset };
    return undefined;
  }

  /** A new level for each candidate: a block, `if` (with its condition) or nested loop. */
  private enter(c: Candidate, cond: Guard | undefined): void {
    if (c.dead) return;
    c.delta.push(c.delta[c.delta.length - 1]!);
    c.wrote.push(false);
    c.guards.push(cond ? [cond] : []);
    c.cond.push(cond);
  }

  /** Closes the innermost frame. */
  private leave(region: number): void {
    const frame = this.kinds.length - 1;
    const kind = this.kinds.pop()!;
    const wentBack = this.back.pop() === 1;
    const candIndex = this.cands.pop()!;
    const cand = candIndex >= 0 ? this.candidates[candIndex] : undefined;
    this.regionOf.pop();
    if (kind === 1) {
      const r = this.plan.regions[region]!;
      if (!wentBack) r.bound = 1;
      else if (cand && !cand.dead && cand.trips > 0) r.bound = cand.trips;
      if (cand) this.active.pop();
      for (const c of this.active) c.inner--;
    }
    for (const c of this.active) {
      if (c.dead || c.depth >= frame) continue;
      c.delta.pop();
      c.guards.pop();
      c.cond.pop();
      if (c.wrote.pop()) {
        c.delta[c.delta.length - 1] = NaN;
        c.wrote[c.wrote.length - 1] = true;
      }
    }
  }

  /** A `local.set` or `local.tee` of a candidate's variable. */
  private write(c: Candidate): void {
    const level = c.delta.length - 1;
    const add = c.wide ? 0x7c : 0x6a;
    const constOp = c.wide ? I64_CONST : I32_CONST;
    let k = NaN;
    if (this.w2 === add || this.w2 === add + 1) {
      if (this.w0 === LOCAL_GET && this.i0 === c.local && this.w1 === constOp) k = this.w2 === add ? this.i1 : -this.i1;
      else if (this.w2 === add && this.w0 === constOp && this.w1 === LOCAL_GET && this.i1 === c.local) k = this.i0;
    }
    if (c.inner > 0 || Number.isNaN(k) || Math.abs(k) > 0xffff) {
      c.dead = true;
      return;
    }
    const delta = c.delta[level]! + k;
    c.delta[level] = Math.abs(delta) > MAX_DELTA ? NaN : delta;
    c.wrote[level] = true;
  }

  /** A branch back to a candidate's head; `own` is its own condition (null: a br_if whose condition is not one). */
  private backEdge(c: Candidate, own: Guard | null | undefined): void {
    const step = c.delta[c.delta.length - 1]!;
    if (Number.isNaN(step) || step === 0 || (!Number.isNaN(c.step) && c.step !== step)) {
      c.dead = true;
      return;
    }
    c.step = step;
    let best = own ? tripBound(own, c.start, step, c.wide) : Infinity;
    for (const level of c.guards) for (const g of level) best = Math.min(best, tripBound(g, c.start, step, c.wide));
    if (best === Infinity) c.dead = true;
    else c.trips = Math.max(c.trips, best);
  }
}

/** Module-wide decisions: entry checks, charges, how each function keeps its budget. */
function decide(plans: FunctionPlan[], facts: Facts): void {
  const n = plans.length;
  const imported = facts.importedFunctions;
  // Functions entered from outside the code or through references.
  const entered = new Uint8Array(n);
  for (const index of facts.entered) if (index >= imported && index - imported < n) entered[index - imported] = 1;
  for (const plan of plans) for (const ref of plan.refs) if (ref < n) entered[ref] = 1;

  // The call graph, with node n standing for "anything outside or indirect": it calls every
  // entered function. Edges of node v: list[start[v]..start[v + 1]).
  const start = new Int32Array(n + 2);
  for (let f = 0; f < n; f++) {
    const plan = plans[f]!;
    start[f + 1] = start[f]! + (plan.calls ? plan.calls.length >> 1 : 0) + (plan.unknownCalls ? 1 : 0);
  }
  let enteredCount = 0;
  for (let f = 0; f < n; f++) enteredCount += entered[f]!;
  start[n + 1] = start[n]! + enteredCount;
  const list = new Int32Array(start[n + 1]!);
  for (let f = 0, e = 0; f <= n; f++) {
    if (f === n) {
      for (let g = 0; g < n; g++) if (entered[g]) list[e++] = g;
      break;
    }
    const plan = plans[f]!;
    const calls = plan.calls;
    if (calls) for (let i = 1; i < calls.length; i += 2) list[e++] = calls[i]!;
    if (plan.unknownCalls) list[e++] = n;
  }
  const cyclic = inCycle(start, list);

  const entryCheck = new Uint8Array(n);
  for (let f = 0; f < n; f++) entryCheck[f] = entered[f] || cyclic[f] ? 1 : 0;

  // Charges, callees without an entry check first (they form a DAG: any cycle has checks).
  const entryCharge = new Int32Array(n);
  const state = new Uint8Array(n);
  const stack: number[] = [];
  for (let root = 0; root < n; root++) {
    if (state[root] === 2) continue;
    stack.push(root);
    while (stack.length > 0) {
      const f = stack[stack.length - 1]!;
      if (state[f] === 0) {
        state[f] = 1;
        for (let e = start[f]!; e < start[f + 1]!; e++) {
          const g = list[e]!;
          if (g < n && !entryCheck[g] && state[g] === 0) stack.push(g);
        }
        continue;
      }
      stack.pop();
      if (state[f] === 2) continue;
      state[f] = 2;
      entryCharge[f] = charge(plans[f]!, entryCheck, entryCharge);
    }
  }

  const touches = new Uint8Array(n);
  const work: number[] = [];
  for (let f = 0; f < n; f++) {
    const plan = plans[f]!;
    if (entryCheck[f]) plan.entryCost = entryCharge[f]!;
    let loopChecks = false;
    for (const cost of plan.loopCosts) if (cost >= 0) loopChecks = true;
    if (!loopChecks && !entryCheck[f]) plan.mode = plan.bulk ? ON_GLOBAL : NO_CHECKS;
    else if (loopChecks && !plan.hasTryTable) plan.mode = IN_LOCAL;
    else plan.mode = ON_GLOBAL;
    if (plan.mode !== NO_CHECKS || plan.unknownCalls || plan.throws || plan.bulk) {
      touches[f] = 1;
      work.push(f);
    }
  }

  // A call must write the budget back when the callee can reach a check, an import or a throw.
  const callerStart = new Int32Array(n + 1);
  for (let e = 0; e < start[n]!; e++) if (list[e]! < n) callerStart[list[e]! + 1]!++;
  for (let f = 0; f < n; f++) callerStart[f + 1]! += callerStart[f]!;
  const callers = new Int32Array(callerStart[n]!);
  const fill = callerStart.slice(0, n);
  for (let f = 0; f < n; f++) {
    for (let e = start[f]!; e < start[f + 1]!; e++) {
      const g = list[e]!;
      if (g < n) callers[fill[g]!++] = f;
    }
  }
  while (work.length > 0) {
    const g = work.pop()!;
    for (let e = callerStart[g]!; e < callerStart[g + 1]!; e++) {
      const caller = callers[e]!;
      if (!touches[caller]) {
        touches[caller] = 1;
        work.push(caller);
      }
    }
  }
  for (let f = 0; f < n; f++) plans[f]!.touches = touches[f] === 1;
}

/**
 * Fills `plan.loopCosts` and returns the charge of the function's body outside its checked
 * loops, given the entry charges of the callees without an entry check.
 */
function charge(plan: FunctionPlan, entryCheck: Uint8Array, entryCharge: Int32Array): number {
  const regions = plan.regions;
  const calls = plan.calls;
  // Costs stay small integers (COST_CAP), which keeps them V8 small integers.
  if (regions.length === 1 && !calls) return Math.min(regions[0]!.own, COST_CAP) | 0;
  const extra: number[] = new Array<number>(regions.length).fill(0);
  if (calls) {
    for (let i = 0; i < calls.length; i += 2) {
      const callee = calls[i + 1]!;
      if (callee < entryCheck.length && !entryCheck[callee]) extra[calls[i]!] += entryCharge[callee]!;
    }
  }
  plan.loopCosts = new Array<number>(regions.length - 1).fill(-1);
  for (let r = regions.length - 1; r >= 0; r--) {
    const region = regions[r]!;
    const cost = Math.min(region.own + extra[r]!, COST_CAP) | 0;
    if (r === 0) return cost;
    if (region.bound >= 1 && region.bound * cost <= UNCHECKED_LOOP_LIMIT) extra[region.parent] += region.bound * cost;
    else plan.loopCosts[r - 1] = cost;
  }
  return 0;
}

/**
 * For each node of a directed graph (edges of node v: list[start[v]..start[v + 1])), whether
 * it lies on a cycle: Tarjan's strongly connected components, iteratively.
 */
function inCycle(start: Int32Array, list: Int32Array): Uint8Array {
  const n = start.length - 1;
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const result = new Uint8Array(n);
  const stack: number[] = [];
  const work: number[] = []; // the DFS path
  const edge: number[] = []; // next edge of each node on the path
  let counter = 0;
  for (let root = 0; root < n; root++) {
    if (index[root] !== -1) continue;
    index[root] = low[root] = counter++;
    stack.push(root);
    onStack[root] = 1;
    work.push(root);
    edge.push(start[root]!);
    while (work.length > 0) {
      const top = work.length - 1;
      const v = work[top]!;
      const e = edge[top]!;
      if (e < start[v + 1]!) {
        edge[top] = e + 1;
        const w = list[e]!;
        if (index[w] === -1) {
          index[w] = low[w] = counter++;
          stack.push(w);
          onStack[w] = 1;
          work.push(w);
          edge.push(start[w]!);
        } else if (onStack[w]) {
          low[v] = Math.min(low[v]!, index[w]!);
          if (w === v) result[v] = 1;
        }
        continue;
      }
      work.pop();
      edge.pop();
      if (work.length > 0) {
        const u = work[work.length - 1]!;
        low[u] = Math.min(low[u]!, low[v]!);
      }
      if (low[v] === index[v]) {
        const from = stack.lastIndexOf(v);
        if (stack.length - from > 1) for (let i = from; i < stack.length; i++) result[stack[i]!] = 1;
        for (let i = from; i < stack.length; i++) onStack[stack[i]!] = 0;
        stack.length = from;
      }
    }
  }
  return result;
}

// ---------------------------------------------------------------------------- rewriting

class Rewriter {
  private readonly tick: number;
  private readonly budget: number;
  /** Result types of multi-value functions that need a wrapper block, and the types added for them. */
  private readonly blockTypes = new Map<number, number>();
  private readonly added: Uint8Array[] = [];
  private readonly scratch = new ByteWriter(1 << 16);
  /** Function index of the first bulk helper, and the type index of each. */
  private readonly helperBase: number;
  private readonly helperTypes: number[] = [];

  constructor(
    private readonly bytes: Uint8Array,
    private readonly facts: Facts,
    private readonly plans: FunctionPlan[],
    private readonly edits: number[],
    private readonly helpers: BulkHelpers,
  ) {
    this.tick = facts.importedFunctions;
    this.budget = facts.globals;
    const byResults = new Map<string, number>();
    plans.forEach((plan, i) => {
      const sig = facts.types[facts.functionTypes[i]!]!;
      if (plan.mode !== IN_LOCAL || !plan.exitBranch || sig.resultCount < 2) return;
      const key = `${sig.resultCount}:${sig.results.join(',')}`;
      let index = byResults.get(key);
      if (index === undefined) {
        index = facts.types.length + 1 + this.added.length;
        byResults.set(key, index);
        this.added.push(new ByteWriter(sig.results.length + 8).byte(0x60).byte(0).u32(sig.resultCount).bytes(sig.results).finish().slice());
      }
      this.blockTypes.set(i, index);
    });
    this.helperBase = this.tick + 1 + plans.length;
    const byEncoding = new Map<string, number>();
    for (const type of helpers.types(facts.tableTypes)) {
      const key = type.join(',');
      let index = byEncoding.get(key);
      if (index === undefined) {
        index = facts.types.length + 1 + this.added.length;
        byEncoding.set(key, index);
        this.added.push(type);
      }
      this.helperTypes.push(index);
    }
  }

  private fn(index: number): number {
    return index >= this.tick ? index + 1 : index;
  }

  /** New contents of a section, or undefined to copy it unchanged. `span` is absent for a section to create. */
  section(id: number, span: SectionSpan | undefined): Uint8Array | undefined {
    const r = span ? new ByteReader(this.bytes, span.bodyStart, span.end) : undefined;
    switch (id) {
      case SectionId.type: {
        const w = new ByteWriter().u32(this.facts.types.length + 1 + this.added.length);
        if (r) {
          r.u32();
          w.slice(this.bytes, r.pos, r.end);
        }
        w.byte(0x60).byte(0).byte(0);
        for (const type of this.added) w.bytes(type);
        return w.finish();
      }
      case SectionId.import: {
        const count = r ? r.u32() : 0;
        const w = new ByteWriter().u32(count + 1);
        if (r) w.slice(this.bytes, r.pos, r.end);
        return w.name(TICK_MODULE).name(TICK_NAME).byte(0).u32(this.facts.types.length).finish();
      }
      case SectionId.global: {
        const count = r ? r.u32() : 0;
        const w = new ByteWriter(r ? r.end - r.pos + 16 : 16).u32(count + 1);
        for (let i = 0; r && i < count; i++) {
          const start = r.pos;
          skipRefType(r);
          r.u8();
          w.slice(this.bytes, start, r.pos);
          r.pos = constExpr(this.bytes, r.pos, r.end, w, this.tick);
        }
        if (r && r.pos !== r.end) r.fail('trailing bytes in the global section');
        return w.byte(0x7f).byte(1).byte(0x41).byte(0).byte(0x0b).finish();
      }
      case SectionId.export: {
        const count = r ? r.u32() : 0;
        const w = new ByteWriter(r ? r.end - r.pos + 32 : 32).u32(count + 1);
        for (let i = 0; r && i < count; i++) {
          const start = r.pos;
          r.skip(r.u32());
          const kind = r.u8();
          w.slice(this.bytes, start, r.pos);
          const index = r.u32();
          w.u32(kind === 0 ? this.fn(index) : index);
        }
        return w.name(BUDGET_EXPORT).byte(3).u32(this.budget).finish();
      }
      case SectionId.start:
        return new ByteWriter(8).u32(this.fn(r!.u32())).finish();
      case SectionId.table:
        return this.tableSection(r!);
      case SectionId.element: {
        const w = new ByteWriter(r!.end - r!.pos + 16);
        elements(r!, w, this.tick);
        return w.finish();
      }
      case SectionId.function: {
        if (this.helperTypes.length === 0) return undefined;
        const count = r!.u32();
        const w = new ByteWriter(r!.end - r!.pos + 8 + this.helperTypes.length * 4).u32(count + this.helperTypes.length);
        w.slice(this.bytes, r!.pos, r!.end);
        for (const type of this.helperTypes) w.u32(type);
        return w.finish();
      }
      case SectionId.code:
        return this.codeSection(r!);
      default:
        return undefined;
    }
  }

  /** New contents of a custom section, undefined to drop it. */
  customSection(span: SectionSpan): Uint8Array | undefined {
    const r = new ByteReader(this.bytes, span.bodyStart, span.end);
    const name = r.name();
    // DWARF and code metadata address code by byte offset, which instrumentation moves.
    if (name.startsWith('.debug_') || name.startsWith('metadata.code.')) return undefined;
    const whole = this.bytes.subarray(span.bodyStart, span.end);
    if (name !== 'name') return whole;
    try {
      const w = new ByteWriter(whole.length + 16).slice(this.bytes, span.bodyStart, r.pos);
      this.nameSection(r, w);
      return w.finish();
    } catch (err) {
      // A name section is only for debuggers; a wrong one is worse than none.
      if (err instanceof WasmFormatError) return undefined;
      throw err;
    }
  }

  private nameSection(r: ByteReader, w: ByteWriter): void {
    while (r.pos < r.end) {
      const kind = r.u8();
      const size = r.u32();
      const end = r.pos + size;
      if (end > r.end) r.fail('name subsection runs past its section');
      // 1: function names, 2: local names, 3: label names: all keyed by function index.
      if (kind < 1 || kind > 3) {
        w.byte(kind).u32(size).slice(this.bytes, r.pos, end);
        r.pos = end;
        continue;
      }
      const sub = new ByteReader(this.bytes, r.pos, end);
      const body = new ByteWriter(size + 8);
      const count = sub.u32();
      body.u32(count);
      for (let i = 0; i < count; i++) {
        body.u32(this.fn(sub.u32()));
        const start = sub.pos;
        if (kind === 1) sub.skip(sub.u32());
        else {
          const inner = sub.u32();
          for (let j = 0; j < inner; j++) {
            sub.u32();
            sub.skip(sub.u32());
          }
        }
        body.slice(this.bytes, start, sub.pos);
      }
      if (sub.pos !== end) sub.fail('trailing bytes in a name subsection');
      w.byte(kind).u32(body.length).bytes(body.finish());
      r.pos = end;
    }
  }

  private tableSection(r: ByteReader): Uint8Array | undefined {
    const count = r.u32();
    const w = new ByteWriter(r.end - r.pos + 8).u32(count);
    let changed = false;
    for (let i = 0; i < count; i++) {
      const start = r.pos;
      const withInit = this.bytes[r.pos] === 0x40;
      if (withInit) r.skip(2); // 0x40 0x00 prefix of a table with an initializer
      skipRefType(r);
      skipLimits(r);
      w.slice(this.bytes, start, r.pos);
      if (withInit) {
        r.pos = constExpr(this.bytes, r.pos, r.end, w, this.tick);
        changed = true;
      }
    }
    return changed ? w.finish() : undefined;
  }

  private codeSection(r: ByteReader): Uint8Array {
    const count = r.u32();
    const helpers = this.helperTypes.length;
    const w = new ByteWriter(Math.ceil((r.end - r.pos) * 1.15) + 64 + helpers * 256).u32(count + helpers);
    const body = this.scratch;
    for (let i = 0; i < count; i++) {
      const plan = this.plans[i]!;
      body.reset();
      this.body(i, plan, body);
      w.u32(body.length).bytes(body.finish());
    }
    for (let k = 0; k < helpers; k++) {
      body.reset();
      this.helpers.body(k, body, this.tick, this.budget);
      w.u32(body.length).bytes(body.finish());
    }
    return w.finish();
  }

  // Budget sequences: `b` is the function's budget local, `B` the global.
  private writeBack(w: ByteWriter, local: number): void {
    w.byte(Op.localGet).u32(local).byte(Op.globalSet).u32(this.budget);
  }

  private reload(w: ByteWriter, local: number): void {
    w.byte(Op.globalGet).u32(this.budget).byte(Op.localSet).u32(local);
  }

  /** b = (fromGlobal ? B : b) - cost; if b < 0: write back, tick, reload. */
  private localCheck(w: ByteWriter, local: number, cost: number, fromGlobal: boolean): void {
    if (fromGlobal) w.byte(Op.globalGet).u32(this.budget);
    else w.byte(Op.localGet).u32(local);
    w.byte(Op.i32Const).s32(cost).byte(Op.i32Sub).byte(Op.localTee).u32(local)
      .byte(Op.i32Const).byte(0).byte(Op.i32LtS).byte(Op.if).byte(TypeCode.void);
    this.writeBack(w, local);
    w.byte(Op.call).u32(this.tick);
    this.reload(w, local);
    w.byte(Op.end);
  }

  /** B -= cost; if B < 0: tick. */
  private globalCheck(w: ByteWriter, cost: number): void {
    const b = this.budget;
    w.byte(Op.globalGet).u32(b).byte(Op.i32Const).s32(cost).byte(Op.i32Sub).byte(Op.globalSet).u32(b)
      .byte(Op.globalGet).u32(b).byte(Op.i32Const).byte(0).byte(Op.i32LtS).byte(Op.if).byte(TypeCode.void)
      .byte(Op.call).u32(this.tick).byte(Op.end);
  }

  /** Writes function `index`'s instrumented body (locals included) to `w`. */
  private body(index: number, plan: FunctionPlan, w: ByteWriter): void {
    const bytes = this.bytes;
    const tick = this.tick;
    const plans = this.plans;
    const inLocal = plan.mode === IN_LOCAL;
    const b = plan.freeLocal;
    const wrap = inLocal && plan.exitBranch;
    // Every call writes back in a function with handlers: a callee's throw skips the reload.
    const syncAll = plan.hasTry;

    if (inLocal) {
      const r = new ByteReader(bytes, plan.start, plan.code);
      w.u32(r.u32() + 1).slice(bytes, r.pos, plan.code).byte(1).byte(0x7f);
      if (plan.entryCost >= 0) this.localCheck(w, b, plan.entryCost, true);
      else this.reload(w, b);
      if (wrap) {
        w.byte(0x02);
        const sig = this.facts.types[this.facts.functionTypes[index]!]!;
        if (sig.resultCount === 0) w.byte(0x40);
        else if (sig.resultCount === 1) w.bytes(sig.results);
        else w.s32(this.blockTypes.get(index)!);
      }
    } else {
      w.slice(bytes, plan.start, plan.code);
      if (plan.mode === ON_GLOBAL && plan.entryCost >= 0) this.globalCheck(w, plan.entryCost);
    }

    const edits = this.edits;
    let copyFrom = plan.code;
    for (let e = plan.editFrom; e < plan.editTo; e += 4) {
      const at = edits[e + 1]!;
      const next = edits[e + 2]!;
      const imm = edits[e + 3]!;
      switch (edits[e]) {
        case EDIT_LOOP: {
          const cost = plan.loopCosts[imm]!;
          if (cost >= 0 && plan.mode !== NO_CHECKS) {
            w.slice(bytes, copyFrom, next);
            copyFrom = next;
            if (inLocal) this.localCheck(w, b, cost, false);
            else this.globalCheck(w, cost);
          }
          break;
        }
        case EDIT_CALL: case EDIT_RETURN_CALL: {
          const returns = edits[e] === EDIT_RETURN_CALL;
          const sync = inLocal && (returns || syncAll || imm < tick || plans[imm - tick]!.touches);
          if (sync) {
            w.slice(bytes, copyFrom, at);
            copyFrom = at;
            this.writeBack(w, b);
          }
          if (imm >= tick) {
            w.slice(bytes, copyFrom, at + 1).u32(imm + 1);
            copyFrom = next;
          }
          if (sync && !returns) {
            w.slice(bytes, copyFrom, next);
            copyFrom = next;
            this.reload(w, b);
          }
          break;
        }
        case EDIT_REF:
          if (imm >= tick) {
            w.slice(bytes, copyFrom, at + 1).u32(imm + 1);
            copyFrom = next;
          }
          break;
        case EDIT_INDIRECT:
          if (inLocal) {
            w.slice(bytes, copyFrom, at);
            this.writeBack(w, b);
            w.slice(bytes, at, next);
            copyFrom = next;
            this.reload(w, b);
          }
          break;
        case EDIT_LEAVE:
          if (inLocal) {
            w.slice(bytes, copyFrom, at);
            copyFrom = at;
            this.writeBack(w, b);
          }
          break;
        case EDIT_BULK:
          w.slice(bytes, copyFrom, at);
          if (inLocal) this.writeBack(w, b);
          w.byte(Op.call).u32(this.helperBase + imm);
          if (inLocal) this.reload(w, b);
          copyFrom = next;
          break;
        case EDIT_CATCH:
          if (inLocal) {
            w.slice(bytes, copyFrom, next);
            copyFrom = next;
            this.reload(w, b);
          }
          break;
        case EDIT_END:
          if (inLocal) {
            w.slice(bytes, copyFrom, at);
            copyFrom = at;
            if (wrap) w.byte(0x0b);
            this.writeBack(w, b);
          }
          break;
      }
    }
    w.slice(bytes, copyFrom, plan.end);
  }
}
