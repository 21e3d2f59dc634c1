/**
 * Instrumentation that lets the host interrupt a running plug-in: the basis of timeouts
 * (the tick checks the clock) and of deterministic fuel (the tick charges a budget).
 *
 * Every function entry and every loop iteration subtracts a static instruction count
 * from an exported i32 global and calls the imported `plughost.tick` once it is
 * negative. Code that runs forever must loop or recurse, so it keeps reaching a check.
 *
 * @module
 */
import { ByteWriter, patchS32Padded } from './encoder.js';
import { ByteReader, SectionId, WasmFormatError, sectionSpans, type SectionSpan } from './reader.js';

/** Module name of the imported tick function. */
export const TICK_MODULE = 'plughost';
/** Field name of the imported tick function, of type `() -> ()`. */
export const TICK_NAME = 'tick';
/** Export name of the mutable i32 budget global (initially 0, so the first check ticks). */
export const BUDGET_EXPORT = '__plughost_budget';

/**
 * Returns an instrumented copy of a module: it imports `"plughost" "tick"` (after the
 * existing function imports, so defined functions move up by one index) and exports a
 * mutable i32 global `"__plughost_budget"`. At each function entry and each loop head the
 * budget drops by the static instruction count of that function (or loop) body, nested
 * loops excluded, and `tick` is called when it goes below 0. `tick` must raise the budget
 * or throw; the same module and input always consume the same budget.
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
  const ctx = new Rewriter(bytes, facts.importedFunctions, facts.globals);

  const out = new ByteWriter(bytes.length + (bytes.length >> 3) + 256).slice(bytes, 0, 8);
  const required = new Set<number>([SectionId.type, SectionId.import, SectionId.global, SectionId.export]);
  const emitMissingBefore = (rank: number): void => {
    for (const id of [...required]) {
      if (sectionRank(id) < rank) {
        out.section(id, ctx.section(id, undefined, facts)!);
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
    const body = ctx.section(span.id, span, facts);
    if (body) out.section(span.id, body);
    else out.slice(bytes, span.start, span.end);
  }
  emitMissingBefore(Infinity);
  return out.finish().slice();
}

/** Position of each section id in the order the binary format requires. */
function sectionRank(id: number): number {
  // type import function table memory tag global export start element datacount code data
  const order = [1, 2, 3, 4, 5, 13, 6, 7, 8, 9, 12, 10, 11];
  const rank = order.indexOf(id);
  return rank < 0 ? Infinity : rank;
}

interface Facts {
  types: number;
  importedFunctions: number;
  /** Imported plus defined globals: the index the budget global gets. */
  globals: number;
}

function survey(bytes: Uint8Array, spans: SectionSpan[]): Facts {
  const facts: Facts = { types: 0, importedFunctions: 0, globals: 0 };
  for (const span of spans) {
    const r = new ByteReader(bytes, span.bodyStart, span.end);
    if (span.id === SectionId.type) facts.types = r.u32();
    else if (span.id === SectionId.global) facts.globals += r.u32();
    else if (span.id === SectionId.import) {
      const count = r.u32();
      for (let i = 0; i < count; i++) {
        r.skip(r.u32());
        r.skip(r.u32());
        const at = r.pos;
        const kind = r.u8();
        if (kind === 0) {
          facts.importedFunctions++;
          r.u32();
        } else if (kind === 1) {
          skipRefType(r);
          skipLimits(r);
        } else if (kind === 2) skipLimits(r);
        else if (kind === 3) {
          facts.globals++;
          skipRefType(r);
          r.u8();
        } else if (kind === 4) {
          r.u8();
          r.u32();
        } else r.fail(`unknown import kind ${kind}`, at);
      }
    } else if (span.id === SectionId.export) {
      const count = r.u32();
      for (let i = 0; i < count; i++) {
        const at = r.pos;
        if (r.name() === BUDGET_EXPORT) r.fail(`export "${BUDGET_EXPORT}" already exists (instrumented twice?)`, at);
        r.u8();
        r.u32();
      }
    }
  }
  return facts;
}

/** Skips a value or reference type, including the typed `(ref null? ht)` forms. */
function skipRefType(r: ByteReader): void {
  const b = r.u8();
  if (b === 0x63 || b === 0x64) r.skipLeb();
}

function skipLimits(r: ByteReader): void {
  const flags = r.u8();
  r.skipLeb();
  if (flags & 1) r.skipLeb();
}

// Immediate shapes of the one-byte opcodes; see Rewriter.expr.
const NONE = 0, LEB = 1, LEB2 = 2, BLOCK = 3, LOOP = 4, END = 5, BR_TABLE = 6, MEMARG = 7,
  F32 = 8, F64 = 9, FUNC = 10, SELECT_T = 11, TRY_TABLE = 12, PREFIX_FC = 13, PREFIX_FD = 14,
  PREFIX_FE = 15, DELEGATE = 16, UNKNOWN = 255;

const shapes = (() => {
  const t = new Uint8Array(256).fill(UNKNOWN);
  const set = (from: number, to: number, shape: number): void => {
    for (let op = from; op <= to; op++) t[op] = shape;
  };
  set(0x00, 0x01, NONE); // unreachable nop
  t[0x02] = BLOCK; t[0x03] = LOOP; t[0x04] = BLOCK; // block loop if
  t[0x05] = NONE; // else
  t[0x06] = BLOCK; t[0x07] = LEB; t[0x08] = LEB; t[0x09] = LEB; t[0x0a] = NONE; // try catch throw rethrow throw_ref
  t[0x0b] = END;
  t[0x0c] = LEB; t[0x0d] = LEB; t[0x0e] = BR_TABLE; t[0x0f] = NONE; // br br_if br_table return
  t[0x10] = FUNC; t[0x11] = LEB2; t[0x12] = FUNC; t[0x13] = LEB2; // call(_indirect), return_call(_indirect)
  t[0x14] = LEB; t[0x15] = LEB; // call_ref return_call_ref
  t[0x18] = DELEGATE; t[0x19] = NONE; // delegate catch_all
  t[0x1a] = NONE; t[0x1b] = NONE; t[0x1c] = SELECT_T; t[0x1f] = TRY_TABLE; // drop select select_t try_table
  set(0x20, 0x26, LEB); // local.*, global.*, table.get/set
  set(0x28, 0x3e, MEMARG); // loads and stores
  t[0x3f] = LEB; t[0x40] = LEB; // memory.size memory.grow
  t[0x41] = LEB; t[0x42] = LEB; t[0x43] = F32; t[0x44] = F64; // consts
  set(0x45, 0xc4, NONE); // numeric, conversions, sign extension
  t[0xd0] = LEB; t[0xd1] = NONE; t[0xd2] = FUNC; // ref.null ref.is_null ref.func
  t[0xd3] = NONE; t[0xd4] = NONE; t[0xd5] = LEB; t[0xd6] = LEB; // ref.eq ref.as_non_null br_on_null br_on_non_null
  t[0xfc] = PREFIX_FC; t[0xfd] = PREFIX_FD; t[0xfe] = PREFIX_FE;
  return t;
})();

function skipLeb(bytes: Uint8Array, pos: number): number {
  // A read past the array yields undefined, which ends the loop; the caller's final
  // position check reports the truncation.
  while (bytes[pos++]! >= 0x80);
  return pos;
}

let lebEnd = 0;
/** Reads a u32 LEB128 at `pos`, leaving the position after it in `lebEnd`. */
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
  lebEnd = pos;
  return result;
}

function skipMemarg(bytes: Uint8Array, pos: number): number {
  const align = readLeb(bytes, pos);
  pos = lebEnd;
  if (align & 0x40) pos = skipLeb(bytes, pos); // multi-memory: a memory index follows
  return skipLeb(bytes, pos);
}

function skipBlockType(bytes: Uint8Array, pos: number): number {
  const b = bytes[pos]!;
  if (b === 0x63 || b === 0x64) return skipLeb(bytes, pos + 1);
  if (b >= 0x40 && b < 0x80) return pos + 1;
  return skipLeb(bytes, pos); // a type index (s33)
}

class Rewriter {
  private readonly tick: number;
  private readonly budget: number;
  /** The check's bytes before and after its 5-byte cost. */
  private readonly checkHead: Uint8Array;
  private readonly checkTail: Uint8Array;
  private readonly scratch = new ByteWriter(1 << 16);

  constructor(private readonly bytes: Uint8Array, importedFunctions: number, globals: number) {
    this.tick = importedFunctions;
    this.budget = globals;
    this.checkHead = new ByteWriter(8).byte(0x23).u32(globals).byte(0x41).finish().slice();
    this.checkTail = new ByteWriter(24)
      .byte(0x6b) // i32.sub
      .byte(0x24).u32(globals) // global.set
      .byte(0x23).u32(globals) // global.get
      .byte(0x41).byte(0x00).byte(0x48) // i32.const 0; i32.lt_s
      .byte(0x04).byte(0x40) // if
      .byte(0x10).u32(importedFunctions) // call tick
      .byte(0x0b)
      .finish().slice();
  }

  private fn(index: number): number {
    return index >= this.tick ? index + 1 : index;
  }

  /** New contents of a section, or undefined to copy it unchanged. `span` is absent for a section to create. */
  section(id: number, span: SectionSpan | undefined, facts: Facts): Uint8Array | undefined {
    const r = span ? new ByteReader(this.bytes, span.bodyStart, span.end) : undefined;
    switch (id) {
      case SectionId.type: {
        const w = new ByteWriter().u32(facts.types + 1);
        if (r) w.slice(this.bytes, skipCount(r), r.end);
        return w.byte(0x60).byte(0).byte(0).finish();
      }
      case SectionId.import: {
        const count = r ? r.u32() : 0;
        const w = new ByteWriter().u32(count + 1);
        if (r) w.slice(this.bytes, r.pos, r.end);
        return w.name(TICK_MODULE).name(TICK_NAME).byte(0).u32(facts.types).finish();
      }
      case SectionId.global: {
        const count = r ? r.u32() : 0;
        const w = new ByteWriter(r ? r.end - r.pos + 16 : 16).u32(count + 1);
        for (let i = 0; r && i < count; i++) {
          const start = r.pos;
          skipRefType(r);
          r.u8();
          w.slice(this.bytes, start, r.pos);
          r.pos = this.expr(r.pos, r.end, w, false);
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
      case SectionId.element:
        return this.elementSection(r!);
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
        r.pos = this.expr(r.pos, r.end, w, false);
        changed = true;
      }
    }
    return changed ? w.finish() : undefined;
  }

  private elementSection(r: ByteReader): Uint8Array {
    const count = r.u32();
    const w = new ByteWriter(r.end - r.pos + 16).u32(count);
    for (let i = 0; i < count; i++) {
      const at = r.pos;
      const flags = r.u32();
      if (flags > 7) r.fail(`unknown element segment flags ${flags}`, at);
      w.u32(flags);
      const start = r.pos;
      if (flags === 2 || flags === 6) r.u32(); // table index
      w.slice(this.bytes, start, r.pos);
      if ((flags & 1) === 0) r.pos = this.expr(r.pos, r.end, w, false); // active: offset
      const kindStart = r.pos;
      if (flags & 3) {
        if (flags & 4) skipRefType(r);
        else r.u8(); // elemkind 0x00: funcref
      }
      w.slice(this.bytes, kindStart, r.pos);
      const n = r.u32();
      w.u32(n);
      for (let j = 0; j < n; j++) {
        if (flags & 4) r.pos = this.expr(r.pos, r.end, w, false);
        else w.u32(this.fn(r.u32()));
      }
    }
    if (r.pos !== r.end) r.fail('trailing bytes in the element section');
    return w.finish();
  }

  private codeSection(r: ByteReader): Uint8Array {
    const count = r.u32();
    const w = new ByteWriter(Math.ceil((r.end - r.pos) * 1.15) + 64).u32(count);
    const body = this.scratch;
    for (let i = 0; i < count; i++) {
      const size = r.u32();
      const start = r.pos;
      const end = start + size;
      if (end > r.end) r.fail(`function body ${i} runs past the code section`, start);
      const locals = new ByteReader(this.bytes, start, end);
      const groups = locals.u32();
      for (let j = 0; j < groups; j++) {
        locals.u32();
        skipRefType(locals);
      }
      body.reset().slice(this.bytes, start, locals.pos);
      const after = this.expr(locals.pos, end, body, true);
      if (after !== end) r.fail(`function body ${i} does not end where its size says`, start);
      w.u32(body.length).bytes(body.finish());
      r.pos = end;
    }
    if (r.pos !== r.end) r.fail('trailing bytes in the code section');
    return w.finish();
  }

  private check(w: ByteWriter): number {
    w.bytes(this.checkHead);
    const at = w.length;
    w.s32Padded(1).bytes(this.checkTail);
    return at;
  }

  /**
   * Copies the expression at `pos` (up to and including its final `end`, which must come
   * before `end`) into `w`, renumbering defined functions; with `instrument`, also inserts
   * the budget checks. Returns the position after the expression.
   */
  private expr(pos: number, end: number, w: ByteWriter, instrument: boolean): number {
    const bytes = this.bytes;
    const tick = this.tick;
    // Bytes from copyFrom to the current instruction have not been written yet: most
    // code needs no change, so it is copied in runs.
    let copyFrom = pos;
    // Control frames: 1 for a loop, 0 for any other block; cost of the enclosing
    // regions and where each region's cost goes once counted.
    const frames: number[] = [];
    const outerCosts: number[] = [];
    const patches: number[] = [];
    let cost = 0;
    let patch = instrument ? this.check(w) : 0;

    while (pos < end) {
      const opAt = pos;
      const op = bytes[pos++]!;
      cost++;
      switch (shapes[op]) {
        case NONE:
          break;
        case LEB:
          pos = skipLeb(bytes, pos);
          break;
        case LEB2:
          pos = skipLeb(bytes, skipLeb(bytes, pos));
          break;
        case BLOCK:
          frames.push(0);
          pos = skipBlockType(bytes, pos);
          break;
        case LOOP:
          frames.push(1);
          pos = skipBlockType(bytes, pos);
          if (instrument) {
            w.slice(bytes, copyFrom, pos);
            copyFrom = pos;
            outerCosts.push(cost);
            patches.push(patch);
            patch = this.check(w);
            cost = 0;
          }
          break;
        case END: {
          if (frames.length === 0) {
            w.slice(bytes, copyFrom, pos);
            if (instrument) patchS32Padded(w.finish(), patch, Math.min(cost, 0x7fffffff));
            return pos;
          }
          if (frames.pop() === 1 && instrument) {
            patchS32Padded(w.finish(), patch, Math.min(cost, 0x7fffffff));
            patch = patches.pop()!;
            cost = outerCosts.pop()!;
          }
          break;
        }
        case DELEGATE: // ends a `try` block in place of its `end`
          if (frames.pop() === undefined) throw new WasmFormatError('delegate outside a try block', opAt);
          pos = skipLeb(bytes, pos);
          break;
        case BR_TABLE: {
          const n = readLeb(bytes, pos);
          pos = lebEnd;
          for (let i = 0; i <= n && pos < end; i++) pos = skipLeb(bytes, pos);
          break;
        }
        case MEMARG:
          pos = skipMemarg(bytes, pos);
          break;
        case F32:
          pos += 4;
          break;
        case F64:
          pos += 8;
          break;
        case FUNC: {
          const index = readLeb(bytes, pos);
          if (index >= tick) {
            w.slice(bytes, copyFrom, pos);
            w.u32(index + 1);
            copyFrom = lebEnd;
          }
          pos = lebEnd;
          break;
        }
        case SELECT_T: {
          const n = readLeb(bytes, pos);
          pos = lebEnd;
          for (let i = 0; i < n && pos < end; i++) {
            const t = bytes[pos++]!;
            if (t === 0x63 || t === 0x64) pos = skipLeb(bytes, pos);
          }
          break;
        }
        case TRY_TABLE: {
          frames.push(0);
          pos = skipBlockType(bytes, pos);
          const n = readLeb(bytes, pos);
          pos = lebEnd;
          for (let i = 0; i < n && pos < end; i++) {
            const kind = bytes[pos++]!;
            if (kind > 3) throw new WasmFormatError(`unknown try_table catch kind ${kind}`, pos - 1);
            if (kind < 2) pos = skipLeb(bytes, pos); // tag
            pos = skipLeb(bytes, pos); // label
          }
          break;
        }
        case PREFIX_FC: {
          const sub = readLeb(bytes, pos);
          pos = lebEnd;
          if (sub <= 7) break; // saturating truncations
          if (sub > 17) throw unknownOpcode(op, sub, opAt);
          // memory.init, memory.copy, table.init and table.copy take two indices
          pos = skipLeb(bytes, pos);
          if (sub === 8 || sub === 10 || sub === 12 || sub === 14) pos = skipLeb(bytes, pos);
          break;
        }
        case PREFIX_FD: {
          const sub = readLeb(bytes, pos);
          pos = lebEnd;
          if (sub <= 11 || sub === 92 || sub === 93) pos = skipMemarg(bytes, pos); // loads, store, load_zero
          else if (sub <= 13) pos += 16; // v128.const, i8x16.shuffle
          else if (sub >= 21 && sub <= 34) pos += 1; // extract/replace lane
          else if (sub >= 84 && sub <= 91) pos = skipMemarg(bytes, pos) + 1; // load/store lane
          else if (sub > 0x113) throw unknownOpcode(op, sub, opAt); // past relaxed SIMD
          break;
        }
        case PREFIX_FE: {
          const sub = readLeb(bytes, pos);
          pos = lebEnd;
          if (sub === 3) pos += 1; // atomic.fence: a reserved 0 byte
          else if (sub <= 2 || (sub >= 0x10 && sub <= 0x4e)) pos = skipMemarg(bytes, pos);
          else throw unknownOpcode(op, sub, opAt);
          break;
        }
        default:
          throw unknownOpcode(op, undefined, opAt);
      }
    }
    throw new WasmFormatError('expression runs past its end', Math.min(pos, end));
  }
}

function skipCount(r: ByteReader): number {
  r.u32();
  return r.pos;
}

function unknownOpcode(op: number, sub: number | undefined, at: number): WasmFormatError {
  const hex = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;
  const name = op === 0xfb ? ' (garbage-collection instructions are not supported)' : '';
  return new WasmFormatError(`unknown opcode ${hex(op)}${sub === undefined ? '' : ` ${sub}`}${name}`, at);
}
