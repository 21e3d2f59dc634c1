// Instruction decoding for the instrumentation: the immediate shape of every opcode of the
// supported proposals, and a decoder that steps over one instruction at a time.
import { WasmFormatError } from '../reader.js';

// Immediate shapes of the one-byte opcodes; see decode().
export const NONE = 0,
  LEB = 1,
  LEB2 = 2,
  BLOCK = 3,
  CONST32 = 4,
  CONST64 = 5,
  BR_TABLE = 6,
  MEMARG = 7,
  F32 = 8,
  F64 = 9,
  FUNC = 10,
  SELECT_T = 11,
  TRY_TABLE = 12,
  PREFIX_FC = 13,
  PREFIX_FD = 14,
  PREFIX_FE = 15,
  UNKNOWN = 255;

export const shapes = (() => {
  const t = new Uint8Array(256).fill(UNKNOWN);
  const set = (from: number, to: number, shape: number): void => {
    for (let op = from; op <= to; op++) t[op] = shape;
  };
  set(0x00, 0x01, NONE); // unreachable nop
  t[0x02] = BLOCK;
  t[0x03] = BLOCK;
  t[0x04] = BLOCK; // block loop if
  t[0x05] = NONE; // else
  t[0x06] = BLOCK;
  t[0x07] = LEB;
  t[0x08] = LEB;
  t[0x09] = LEB;
  t[0x0a] = NONE; // try catch throw rethrow throw_ref
  t[0x0b] = NONE; // end
  t[0x0c] = LEB;
  t[0x0d] = LEB;
  t[0x0e] = BR_TABLE;
  t[0x0f] = NONE; // br br_if br_table return
  t[0x10] = FUNC;
  t[0x11] = LEB2;
  t[0x12] = FUNC;
  t[0x13] = LEB2; // call(_indirect), return_call(_indirect)
  t[0x14] = LEB;
  t[0x15] = LEB; // call_ref return_call_ref
  t[0x18] = LEB;
  t[0x19] = NONE; // delegate catch_all
  t[0x1a] = NONE;
  t[0x1b] = NONE;
  t[0x1c] = SELECT_T;
  t[0x1f] = TRY_TABLE; // drop select select_t try_table
  set(0x20, 0x26, LEB); // local.*, global.*, table.get/set
  set(0x28, 0x3e, MEMARG); // loads and stores
  t[0x3f] = LEB;
  t[0x40] = LEB; // memory.size memory.grow
  t[0x41] = CONST32;
  t[0x42] = CONST64;
  t[0x43] = F32;
  t[0x44] = F64; // consts
  set(0x45, 0xc4, NONE); // numeric, conversions, sign extension
  t[0xd0] = LEB;
  t[0xd1] = NONE;
  t[0xd2] = FUNC; // ref.null ref.is_null ref.func
  t[0xd3] = NONE;
  t[0xd4] = NONE;
  t[0xd5] = LEB;
  t[0xd6] = LEB; // ref.eq ref.as_non_null br_on_null br_on_non_null
  t[0xfc] = PREFIX_FC;
  t[0xfd] = PREFIX_FD;
  t[0xfe] = PREFIX_FE;
  return t;
})();

export function skipLeb(bytes: Uint8Array, pos: number): number {
  // A read past the array yields undefined, which ends the loop; the caller's final
  // position check reports the truncation.
  while (bytes[pos++]! >= 0x80);
  return pos;
}

export function skipBlockType(bytes: Uint8Array, pos: number): number {
  const b = bytes[pos]!;
  if (b === 0x63 || b === 0x64) return skipLeb(bytes, pos + 1);
  if (b >= 0x40 && b < 0x80) return pos + 1;
  return skipLeb(bytes, pos); // a type index (s33)
}

function unknownOpcode(op: number, sub: number | undefined, at: number): WasmFormatError {
  const hex = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;
  const name = op === 0xfb ? ' (garbage-collection instructions are not supported)' : '';
  return new WasmFormatError(`unknown opcode ${hex(op)}${sub === undefined ? '' : ` ${sub}`}${name}`, at);
}

/**
 * Decodes instructions one at a time. What it read last stays in its fields: the opcode, its
 * first immediate (a label or an index; not set for constants), where the immediates start,
 * the end of the last LEB128 read, and the targets of the last `br_table` (default last).
 * One decoder per walk: nothing is shared between modules being instrumented.
 */
export class InstructionDecoder {
  op = 0;
  imm = 0;
  immAt = 0;
  lebEnd = 0;
  readonly labels: number[] = [];

  /** Reads a u32 LEB128 at `pos`, leaving the position after it in `lebEnd`. */
  readLeb(bytes: Uint8Array, pos: number): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[pos++];
      if (b === undefined) break;
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
      shift += 7;
    }
    this.lebEnd = pos;
    return result;
  }

  /** Reads a signed LEB128 at `pos` (NaN beyond 2^48 in size), leaving the position after it in `lebEnd`. */
  readSleb(bytes: Uint8Array, pos: number): number {
    let b = bytes[pos++];
    if (b !== undefined && b < 0x80) {
      this.lebEnd = pos;
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
    this.lebEnd = pos;
    if (b !== undefined && b & 0x40) result -= scale;
    return result >= -(2 ** 48) && result <= 2 ** 48 ? result : NaN;
  }

  skipMemarg(bytes: Uint8Array, pos: number): number {
    const align = this.readLeb(bytes, pos);
    pos = this.lebEnd;
    if (align & 0x40) pos = skipLeb(bytes, pos); // multi-memory: a memory index follows
    return skipLeb(bytes, pos);
  }

  /** Decodes the instruction at `pos` into op/imm/immAt/labels; returns the position after it. */
  decode(bytes: Uint8Array, pos: number, end: number): number {
    const opAt = pos;
    const op = bytes[pos++]!;
    this.op = op;
    this.immAt = pos;
    switch (shapes[op]) {
      case NONE:
        return pos;
      case LEB:
      case FUNC:
        this.imm = this.readLeb(bytes, pos);
        return this.lebEnd;
      case LEB2:
        this.imm = this.readLeb(bytes, pos);
        return skipLeb(bytes, this.lebEnd);
      case BLOCK:
        return skipBlockType(bytes, pos);
      case CONST32:
      case CONST64:
        return skipLeb(bytes, pos); // the window reads the value when it needs it
      case BR_TABLE: {
        const n = this.readLeb(bytes, pos);
        pos = this.lebEnd;
        this.labels.length = 0;
        for (let i = 0; i <= n && pos < end; i++) {
          this.labels.push(this.readLeb(bytes, pos));
          pos = this.lebEnd;
        }
        return pos;
      }
      case MEMARG:
        return this.skipMemarg(bytes, pos);
      case F32:
        return pos + 4;
      case F64:
        return pos + 8;
      case SELECT_T: {
        const n = this.readLeb(bytes, pos);
        pos = this.lebEnd;
        for (let i = 0; i < n && pos < end; i++) {
          const t = bytes[pos++]!;
          if (t === 0x63 || t === 0x64) pos = skipLeb(bytes, pos);
        }
        return pos;
      }
      case TRY_TABLE: {
        pos = skipBlockType(bytes, pos);
        const n = this.readLeb(bytes, pos);
        pos = this.lebEnd;
        for (let i = 0; i < n && pos < end; i++) {
          const kind = bytes[pos++]!;
          if (kind > 3) throw new WasmFormatError(`unknown try_table catch kind ${kind}`, pos - 1);
          if (kind < 2) pos = skipLeb(bytes, pos); // tag
          pos = skipLeb(bytes, pos); // label
        }
        return pos;
      }
      case PREFIX_FC: {
        const sub = this.readLeb(bytes, pos);
        pos = this.lebEnd;
        if (sub <= 7) return pos; // saturating truncations
        if (sub > 17) throw unknownOpcode(op, sub, opAt);
        // memory.init, memory.copy, table.init and table.copy take two indices
        pos = skipLeb(bytes, pos);
        if (sub === 8 || sub === 10 || sub === 12 || sub === 14) pos = skipLeb(bytes, pos);
        return pos;
      }
      case PREFIX_FD: {
        const sub = this.readLeb(bytes, pos);
        pos = this.lebEnd;
        if (sub <= 11 || sub === 92 || sub === 93) return this.skipMemarg(bytes, pos); // loads, store, load_zero
        if (sub <= 13) return pos + 16; // v128.const, i8x16.shuffle
        if (sub >= 21 && sub <= 34) return pos + 1; // extract/replace lane
        if (sub >= 84 && sub <= 91) return this.skipMemarg(bytes, pos) + 1; // load/store lane
        if (sub > 0x113) throw unknownOpcode(op, sub, opAt); // past relaxed SIMD
        return pos;
      }
      case PREFIX_FE: {
        const sub = this.readLeb(bytes, pos);
        pos = this.lebEnd;
        if (sub === 3) return pos + 1; // atomic.fence: a reserved 0 byte
        if (sub <= 2 || (sub >= 0x10 && sub <= 0x4e)) return this.skipMemarg(bytes, pos);
        throw unknownOpcode(op, sub, opAt);
      }
      default:
        throw unknownOpcode(op, undefined, opAt);
    }
  }
}
