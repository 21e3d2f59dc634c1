/**
 * Charges for the instructions whose work depends on an operand: `memory.fill`, `memory.copy`,
 * `memory.init`, `memory.grow`, `table.fill`, `table.copy`, `table.init` and `table.grow`, and
 * `memory.atomic.wait32/64`, whose timeout operand says how long they block.
 *
 * The instrumentation replaces each of them by a call of a helper function it adds to the
 * module, one per distinct instruction (opcode and immediates). The helper has the
 * instruction's own signature: it subtracts a charge computed from the length operand from
 * the budget global, calls `tick` when the budget goes negative, and only then runs the
 * instruction, so a budget that cannot pay stops it before it starts.
 *
 * `memory.fill` and `memory.copy` longer than {@link CHUNK_BYTES}, and `table.fill` and
 * `table.copy` longer than {@link CHUNK_ELEMENTS}, run in chunks of that size, each charged and
 * checked before it runs, so even one instruction that moves 4 GiB reaches a check after every
 * chunk. The whole range is bounds-checked first (an out-of-bounds instruction traps before
 * writing anything, as the original does), and an overlapping copy runs backwards when the
 * destination lies above the source, as a copy must. `memory.init` and `table.init` move at
 * most one segment of the module, so those run whole; so do grows, which cannot be split
 * without changing what a failed grow leaves behind.
 *
 * @module
 */

import { ByteWriter } from './encoder.js';
import { Op, OpFC, OpFE, TypeCode } from './opcodes.js';
import { ByteReader } from './reader.js';

/**
 * Writes `budget -= units; if (budget < 0) tick()`, the charge every instrumented place makes;
 * `emitUnits` pushes the i32 units (a constant, or computed from an operand).
 */
export function emitCharge(w: ByteWriter, budget: number, tick: number, emitUnits: () => void): void {
  w.byte(Op.globalGet).u32(budget);
  emitUnits();
  w.byte(Op.i32Sub)
    .byte(Op.globalSet)
    .u32(budget)
    .byte(Op.globalGet)
    .u32(budget)
    .byte(Op.i32Const)
    .byte(0)
    .byte(Op.i32LtS)
    .byte(Op.if)
    .byte(TypeCode.void)
    .byte(Op.call)
    .u32(tick)
    .byte(Op.end);
}

/** A fuel unit pays for 2^BYTE_SHIFT bytes filled, copied or initialized. */
export const BYTE_SHIFT = 4;
/** Longest `memory.fill`/`memory.copy` that runs in one piece; longer ones are split. */
export const CHUNK_BYTES = 1 << 20;
/** Longest `table.fill`/`table.copy` that runs in one piece, in elements; longer ones are split. */
export const CHUNK_ELEMENTS = 1 << 16;
/** A grow also pays this much whatever its size: the engine's work to resize. */
export const GROW_BASE_COST = 10_000;
/** Table lengths are charged one unit an element, up to this many (more fails anyway). */
const ELEMENT_CAP = 1 << 24;
/** Pages above this in one `memory.grow` fail anyway (4 GiB); the charge stops growing there. */
const PAGE_CAP = 65536;

/**
 * `memory.atomic.wait32/64` wait at most this long at a time (ns), charged one unit a
 * nanosecond, and wait again until their own timeout is spent: a wait of any length, or
 * forever, reaches a check every slice.
 */
export const WAIT_SLICE_NS = 1_000_000;

type HelperKind =
  | 'atomicWait32'
  | 'atomicWait64'
  | 'memoryFill'
  | 'memoryCopy'
  | 'memoryInit'
  | 'memoryGrow'
  | 'tableFill'
  | 'tableCopy'
  | 'tableInit'
  | 'tableGrow';

interface Helper {
  kind: HelperKind;
  /** The instruction as it appears in the module (opcode and immediates). */
  instruction: Uint8Array;
  /** Its index immediates: memory, table, segment (in encoding order). */
  indices: number[];
}

/** Which instruction needs a helper, given its first byte and, for 0xfc, its sub-opcode. */
export function isChargedInstruction(op: number, sub: number): boolean {
  if (op === Op.memoryGrow) return true;
  if (op === Op.prefixFE) return sub === OpFE.memoryAtomicWait32 || sub === OpFE.memoryAtomicWait64;
  if (op !== Op.prefixFC) return false;
  return (
    sub === OpFC.memoryInit ||
    sub === OpFC.memoryCopy ||
    sub === OpFC.memoryFill ||
    sub === OpFC.tableInit ||
    sub === OpFC.tableCopy ||
    sub === OpFC.tableGrow ||
    sub === OpFC.tableFill
  );
}

/** The helpers one module needs, in the order they were first asked for. */
export class BulkHelpers {
  private readonly byInstruction = new Map<string, number>();
  readonly helpers: Helper[] = [];

  /**
   * The ordinal of the helper for the charged instruction at `bytes[at..next)`, added on
   * first use. The caller has checked {@link isChargedInstruction}.
   */
  ordinalFor(bytes: Uint8Array, at: number, next: number): number {
    const instruction = bytes.subarray(at, next);
    const key = instruction.join(',');
    const known = this.byInstruction.get(key);
    if (known !== undefined) return known;
    const r = new ByteReader(bytes, at, next);
    const op = r.u8();
    let kind: HelperKind;
    if (op === Op.memoryGrow) kind = 'memoryGrow';
    else if (op === Op.prefixFE) kind = r.u32() === OpFE.memoryAtomicWait32 ? 'atomicWait32' : 'atomicWait64';
    else {
      switch (r.u32()) {
        case OpFC.memoryInit:
          kind = 'memoryInit';
          break;
        case OpFC.memoryCopy:
          kind = 'memoryCopy';
          break;
        case OpFC.memoryFill:
          kind = 'memoryFill';
          break;
        case OpFC.tableInit:
          kind = 'tableInit';
          break;
        case OpFC.tableCopy:
          kind = 'tableCopy';
          break;
        case OpFC.tableGrow:
          kind = 'tableGrow';
          break;
        default:
          kind = 'tableFill';
      }
    }
    const indices: number[] = [];
    while (r.pos < next) indices.push(r.u32());
    const ordinal = this.helpers.length;
    this.helpers.push({ kind, instruction: instruction.slice(), indices });
    this.byInstruction.set(key, ordinal);
    return ordinal;
  }

  /**
   * The function type of each helper, encoded (`0x60 params results`). `tableTypes` holds the
   * encoded reference type of each table (imported first), for `table.fill` and `table.grow`.
   */
  types(tableTypes: readonly Uint8Array[]): Uint8Array[] {
    return this.helpers.map((helper) => {
      const w = new ByteWriter(16).byte(TypeCode.func);
      const i32 = TypeCode.i32;
      switch (helper.kind) {
        case 'memoryGrow':
          return w.u32(1).byte(i32).u32(1).byte(i32).finish().slice();
        case 'atomicWait32':
        case 'atomicWait64':
          return w
            .u32(3)
            .byte(i32)
            .byte(helper.kind === 'atomicWait32' ? i32 : TypeCode.i64)
            .byte(TypeCode.i64)
            .u32(1)
            .byte(i32)
            .finish()
            .slice();
        case 'tableGrow':
          return w.u32(2).bytes(tableType(tableTypes, helper.indices[0]!)).byte(i32).u32(1).byte(i32).finish().slice();
        case 'tableFill':
          return w.u32(3).byte(i32).bytes(tableType(tableTypes, helper.indices[0]!)).byte(i32).u32(0).finish().slice();
        default:
          return w.u32(3).byte(i32).byte(i32).byte(i32).u32(0).finish().slice();
      }
    });
  }

  /** Writes helper `ordinal`'s body (locals included) to `w`. */
  body(ordinal: number, w: ByteWriter, tick: number, budget: number): void {
    const helper = this.helpers[ordinal]!;
    const charge = (emitUnits: () => void): void => emitCharge(w, budget, tick, emitUnits);
    const get = (local: number): ByteWriter => w.byte(Op.localGet).u32(local);
    const run = (...locals: number[]): void => {
      for (const local of locals) get(local);
      w.bytes(helper.instruction);
    };
    /** min(local, cap), unsigned. */
    const capped = (local: number, cap: number): void => {
      get(local).byte(Op.i32Const).s32(cap);
      get(local).byte(Op.i32Const).s32(cap).byte(Op.i32LtU).byte(Op.select);
    };
    const bytesOf = (local: number) => (): void => void get(local).byte(Op.i32Const).u32(BYTE_SHIFT).byte(Op.i32ShrU);

    if (helper.kind === 'atomicWait32' || helper.kind === 'atomicWait64') {
      this.waitInSlices(helper, w, charge);
      return;
    }
    w.u32(0); // no locals beyond the parameters
    switch (helper.kind) {
      case 'memoryFill':
      case 'memoryCopy':
        this.chunked(helper, w, charge);
        charge(bytesOf(2));
        run(0, 1, 2);
        break;
      case 'tableFill':
      case 'tableCopy':
        this.chunked(helper, w, charge);
        charge(() => void get(2));
        run(0, 1, 2);
        break;
      case 'memoryInit':
        charge(bytesOf(2));
        run(0, 1, 2);
        break;
      case 'memoryGrow':
        charge(() => {
          capped(0, PAGE_CAP);
          w.byte(Op.i32Const)
            .u32(16 - BYTE_SHIFT)
            .byte(Op.i32Shl)
            .byte(Op.i32Const)
            .s32(GROW_BASE_COST)
            .byte(Op.i32Add);
        });
        run(0);
        break;
      case 'tableGrow':
        charge(() => {
          capped(1, ELEMENT_CAP);
          w.byte(Op.i32Const).s32(GROW_BASE_COST).byte(Op.i32Add);
        });
        run(0, 1);
        break;
      default: // table.init: (i32, i32, i32 length)
        charge(() => capped(2, ELEMENT_CAP));
        run(0, 1, 2);
    }
    w.byte(Op.end);
  }

  /**
   * For `memory.atomic.wait32/64` (address, expected, timeout ns; negative: forever): waits a
   * slice at a time, each charged first, until woken, not equal, or the timeout is spent.
   * Only a notify that comes between two slices is missed, and nothing else runs on a
   * plug-in's thread to send one.
   */
  private waitInSlices(helper: Helper, w: ByteWriter, charge: (emitUnits: () => void) => void): void {
    const get = (local: number): ByteWriter => w.byte(Op.localGet).u32(local);
    const slice = (): ByteWriter => w.byte(Op.i64Const).s32(WAIT_SLICE_NS);
    const forever = (): ByteWriter => get(2).byte(Op.i64Const).byte(0).byte(Op.i64LtS);
    const result = 3;
    w.u32(1).u32(1).byte(TypeCode.i32); // one local: the wait's result
    w.byte(Op.loop).byte(TypeCode.void);
    charge(() => void w.byte(Op.i32Const).s32(WAIT_SLICE_NS));
    get(0);
    get(1);
    forever().byte(Op.if).byte(TypeCode.i64);
    slice();
    w.byte(Op.else);
    get(2);
    slice();
    get(2);
    slice().byte(Op.i64LtS).byte(Op.select); // min(timeout, slice)
    w.byte(Op.end);
    w.bytes(helper.instruction).byte(Op.localTee).u32(result);
    // 0 woken, 1 not equal: done; 2 timed out: the slice is over
    w.byte(Op.i32Const).byte(2).byte(Op.i32Ne).byte(Op.if).byte(TypeCode.void);
    get(result).byte(Op.return).byte(Op.end);
    forever().byte(Op.brIf).u32(0);
    get(2);
    slice().byte(Op.i64LeS).byte(Op.if).byte(TypeCode.void);
    w.byte(Op.i32Const).byte(2).byte(Op.return).byte(Op.end);
    get(2);
    slice().byte(Op.i64Sub).byte(Op.localSet).u32(2);
    w.byte(Op.br).u32(0);
    w.byte(Op.end).byte(Op.unreachable).byte(Op.end);
  }

  /**
   * For `memory.fill`/`table.fill` (d, value, n) and `memory.copy`/`table.copy` (d, s, n):
   * while more than a chunk is left, move one chunk, charged first. Leaves the rest (at most a
   * chunk) in the parameters.
   */
  private chunked(helper: Helper, w: ByteWriter, charge: (emitUnits: () => void) => void): void {
    const copy = helper.kind === 'memoryCopy' || helper.kind === 'tableCopy';
    const table = helper.kind === 'tableFill' || helper.kind === 'tableCopy';
    // memory.copy and table.copy name the destination first
    const destination = helper.indices[0]!;
    const source = copy ? helper.indices[1]! : destination;
    const chunkSize = table ? CHUNK_ELEMENTS : CHUNK_BYTES;
    const get = (local: number): ByteWriter => w.byte(Op.localGet).u32(local);
    const chunk = (): ByteWriter => w.byte(Op.i32Const).s32(chunkSize);
    const chunkCharge = (): void => void w.byte(Op.i32Const).s32(table ? CHUNK_ELEMENTS : CHUNK_BYTES >>> BYTE_SHIFT);
    /** Pushes whether `address + n` lies past the end of memory or table `index`. */
    const pastEnd = (address: number, index: number): void => {
      get(address).byte(Op.i64ExtendI32U);
      get(2).byte(Op.i64ExtendI32U).byte(Op.i64Add);
      if (table) w.byte(Op.prefixFC).u32(OpFC.tableSize).u32(index).byte(Op.i64ExtendI32U);
      else w.byte(Op.memorySize).u32(index).byte(Op.i64ExtendI32U).byte(Op.i64Const).byte(16).byte(Op.i64Shl);
      w.byte(Op.i64GtU);
    };
    const step = (local: number, op: number): void => {
      get(local);
      chunk().byte(op).byte(Op.localSet).u32(local);
    };

    get(2);
    chunk().byte(Op.i32GtU).byte(Op.if).byte(TypeCode.void);
    // Out of bounds: the instruction itself traps, having written nothing.
    pastEnd(0, destination);
    if (copy) {
      pastEnd(1, source);
      w.byte(Op.i32Or);
    }
    w.byte(Op.if).byte(TypeCode.void);
    get(0);
    get(1);
    get(2);
    w.bytes(helper.instruction).byte(Op.return).byte(Op.end);
    if (copy) {
      // A destination above the source is copied from the end, so an overlap is read before it is overwritten.
      get(0);
      get(1);
      w.byte(Op.i32GtU).byte(Op.if).byte(TypeCode.void);
      w.byte(Op.loop).byte(TypeCode.void);
      charge(chunkCharge);
      step(2, Op.i32Sub);
      get(0);
      get(2);
      w.byte(Op.i32Add);
      get(1);
      get(2);
      w.byte(Op.i32Add);
      chunk().bytes(helper.instruction);
      get(2);
      chunk().byte(Op.i32GtU).byte(Op.brIf).u32(0).byte(Op.end);
      w.byte(Op.else);
    }
    w.byte(Op.loop).byte(TypeCode.void);
    charge(chunkCharge);
    get(0);
    get(1);
    chunk().bytes(helper.instruction);
    step(0, Op.i32Add);
    if (copy) step(1, Op.i32Add);
    step(2, Op.i32Sub);
    get(2);
    chunk().byte(Op.i32GtU).byte(Op.brIf).u32(0).byte(Op.end);
    if (copy) w.byte(Op.end);
    w.byte(Op.end);
  }
}

function tableType(tableTypes: readonly Uint8Array[], table: number): Uint8Array {
  // An index past the tables makes the instruction invalid; funcref keeps the helper well
  // formed so that the engine reports the original error.
  return tableTypes[table] ?? Uint8Array.of(0x70);
}
