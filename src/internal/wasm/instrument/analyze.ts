// Reads one function body: its regions, calls, features, and the loops whose trip count a
// constant bounds (see the module documentation of instrument.ts).

import { type BulkHelpers, isChargedInstruction } from '../bulk-charges.js';
import { Op } from '../opcodes.js';
import { ByteReader, skipRefType, WasmFormatError } from '../reader.js';
import { InstructionDecoder, MEMARG, NONE, shapes, skipLeb } from './decode.js';
import {
  EDIT_BULK,
  EDIT_CALL,
  EDIT_CATCH,
  EDIT_END,
  EDIT_INDIRECT,
  EDIT_LEAVE,
  EDIT_LOOP,
  EDIT_REF,
  EDIT_RETURN_CALL,
  type FunctionPlan,
  NO_CHECKS,
  type Region,
} from './model.js';
import { UNCHECKED_LOOP_LIMIT } from './names.js';

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

const I32_EQZ = Op.i32Eqz,
  I32_EQ = Op.i32Eq,
  I32_NE = Op.i32Ne,
  I32_LT_S = Op.i32LtS,
  I32_LT_U = Op.i32LtU,
  I32_GT_S = Op.i32GtS,
  I32_GT_U = Op.i32GtU,
  I32_LE_S = Op.i32LeS,
  I32_LE_U = Op.i32LeU,
  I32_GE_S = Op.i32GeS,
  I32_GE_U = Op.i32GeU;
const LOCAL_GET = Op.localGet,
  LOCAL_SET = Op.localSet,
  LOCAL_TEE = Op.localTee,
  I32_CONST = Op.i32Const,
  I64_CONST = Op.i64Const;

/** The comparison that holds when `op` fails. */
function negate(op: number): number {
  switch (op) {
    case I32_EQ:
      return I32_NE;
    case I32_NE:
      return I32_EQ;
    case I32_LT_S:
      return I32_GE_S;
    case I32_LT_U:
      return I32_GE_U;
    case I32_GT_S:
      return I32_LE_S;
    case I32_GT_U:
      return I32_LE_U;
    case I32_LE_S:
      return I32_GT_S;
    case I32_LE_U:
      return I32_GT_U;
    case I32_GE_S:
      return I32_LT_S;
    default:
      return I32_LT_U; // I32_GE_U
  }
}

/** `op` with its operands swapped: `c op v` as `v swapped c`. */
function swap(op: number): number {
  switch (op) {
    case I32_LT_S:
      return I32_GT_S;
    case I32_LT_U:
      return I32_GT_U;
    case I32_GT_S:
      return I32_LT_S;
    case I32_GT_U:
      return I32_LT_U;
    case I32_LE_S:
      return I32_GE_S;
    case I32_LE_U:
      return I32_GE_U;
    case I32_GE_S:
      return I32_LE_S;
    case I32_GE_U:
      return I32_LE_U;
    default:
      return op;
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
    case I32_EQ:
      return v === c;
    case I32_NE:
      return v !== c;
    case I32_LT_S:
    case I32_LT_U:
      return v < c;
    case I32_GT_S:
    case I32_GT_U:
      return v > c;
    case I32_LE_S:
    case I32_LE_U:
      return v <= c;
    default:
      return v >= c;
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

/** Reads one function body: its regions, calls, loop bounds and features. */
export class Analyzer {
  private readonly decoder = new InstructionDecoder();
  // per body
  private plan!: FunctionPlan;
  private kinds: number[] = []; // 0 block, 1 loop, 2 if, 3 try
  private regionOf: number[] = []; // region of each open frame's contents
  private back: number[] = []; // 1 when a branch goes back to an open loop
  private loopCandidate: number[] = []; // index in candidates of each open loop's candidate, -1 none
  private candidates: Candidate[] = [];
  private active: Candidate[] = [];
  // The last three instructions of the current straight-line run (oldest first): where they
  // start (-1: none), and their opcodes and first immediates once loaded.
  private oldestAt = -1;
  private middleAt = -1;
  private latestAt = -1;
  private oldestOp = -1;
  private middleOp = -1;
  private latestOp = -1;
  private oldestImm = NaN;
  private middleImm = NaN;

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
    const plan: FunctionPlan = (this.plan = {
      start,
      code: r.pos,
      end,
      freeLocal: locals,
      regions,
      calls: undefined,
      unknownCalls: false,
      throws: false,
      hasTry: false,
      hasTryTable: false,
      exitBranch: false,
      bulk: false,
      refs: [],
      editFrom: this.edits.length,
      editTo: 0,
      mode: NO_CHECKS,
      entryCost: -1,
      loopCosts: [],
      touches: false,
    });
    const edits = this.edits;
    const kinds = this.kinds,
      regionOf = this.regionOf,
      back = this.back,
      loopCandidate = this.loopCandidate;
    kinds.length = regionOf.length = back.length = loopCandidate.length = this.active.length = this.candidates.length = 0;
    let region = 0;
    // An `i32|i64.const c; local.set x` followed by nothing but `block`s: a loop here starts x at c.
    let initLocal = -1;
    let initValue = 0;
    let initWide = false;
    let pos = r.pos;
    let own = 0; // instructions of the current region not yet added to it
    this.clearWindow();
    while (pos < end) {
      const at = pos;
      let op = bytes[pos]!;
      const shape = shapes[op];
      own++;
      // Most instructions matter only as the window's latest: numeric ones, loads and stores.
      if (shape === MEMARG || (shape === NONE && op >= Op.i32Eqz) || op === LOCAL_GET || op === Op.globalGet || op === I32_CONST || op === I64_CONST) {
        // local.get, global.get and integer constants: one LEB128 immediate
        pos = shape === MEMARG ? this.decoder.skipMemarg(bytes, pos + 1) : shape === NONE ? pos + 1 : skipLeb(bytes, pos + 1);
        this.shiftWindow(at);
        initLocal = -1;
        continue;
      }
      pos = this.decoder.decode(bytes, pos, end);
      op = this.decoder.op;
      let keepInit = false;
      if (op === Op.loop || op === Op.end || op === Op.delegate) {
        // the region may change
        regions[region]!.own += own;
        own = 0;
      }
      switch (op) {
        case Op.block:
        case Op.if:
        case Op.try:
        case Op.tryTable: {
          // block if try try_table
          const cond = op === Op.if ? this.windowGuards() : undefined;
          kinds.push(op === Op.block ? 0 : op === Op.if ? 2 : 3);
          regionOf.push(region);
          back.push(0);
          loopCandidate.push(-1);
          if (op === Op.try) plan.hasTry = true;
          if (op === Op.tryTable) {
            // Its catch clauses may branch back to any open loop.
            plan.hasTryTable = true;
            for (let k = 0; k < kinds.length - 1; k++) if (kinds[k] === 1) back[k] = 1;
          }
          for (const c of this.active) {
            if (op === Op.try || op === Op.tryTable) c.dead = true;
            else this.enter(c, cond?.get(c));
          }
          keepInit = op === Op.block;
          this.clearWindow();
          break;
        }
        case Op.loop: {
          // loop
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
              local: initLocal,
              wide: initWide,
              start: initValue,
              depth: kinds.length - 1,
              inner: 0,
              dead: false,
              step: NaN,
              trips: 0,
              delta: [0],
              wrote: [false],
              guards: [[]],
              cond: [undefined],
            };
            this.active.push(cand);
            loopCandidate.push(this.candidates.length);
            this.candidates.push(cand);
          } else loopCandidate.push(-1);
          this.clearWindow();
          break;
        }
        case Op.else: {
          // else
          const top = kinds.length - 1;
          for (const c of this.active) {
            if (c.dead || c.depth >= top) continue;
            const level = top - c.depth;
            c.delta[level] = c.delta[level - 1]!;
            const cond = c.cond[level];
            c.guards[level] = cond ? [{ op: negate(cond.op), c: cond.c, g: cond.g }] : [];
          }
          this.clearWindow();
          break;
        }
        case Op.catch:
        case Op.catchAll:
        case Op.delegate: // catch catch_all delegate
          for (const c of this.active) c.dead = true;
          if (op !== Op.delegate) edits.push(EDIT_CATCH, at, pos, 0);
          if (op === Op.delegate) {
            if (kinds.length === 0) throw new WasmFormatError('delegate outside a try block', at);
            this.leave(region);
            region = kinds.length === 0 ? 0 : regionOf[kinds.length - 1]!;
          }
          this.clearWindow();
          break;
        case Op.end: // end
          if (kinds.length === 0) {
            if (pos !== end) throw new WasmFormatError(`function body ${index} does not end where its size says`, start);
            edits.push(EDIT_END, at, pos, 0);
            plan.editTo = edits.length;
            return plan;
          }
          this.leave(region);
          region = kinds.length === 0 ? 0 : regionOf[kinds.length - 1]!;
          this.clearWindow();
          break;
        case Op.br:
        case Op.brIf:
        case Op.brOnNull:
        case Op.brOnNonNull: {
          // br br_if br_on_null br_on_non_null
          const label = this.decoder.imm;
          const guards = op === Op.brIf ? this.windowGuards() : undefined;
          const target = kinds.length - 1 - label;
          if (target < 0) plan.exitBranch = true;
          else if (kinds[target] === 1) {
            back[target] = 1;
            const c = loopCandidate[target]! >= 0 ? this.candidates[loopCandidate[target]!] : undefined;
            if (c && !c.dead) this.backEdge(c, op === Op.br ? undefined : op === Op.brIf ? (guards?.get(c) ?? null) : null);
          }
          if (guards) {
            // Past a br_if its condition is false.
            for (const [c, g] of guards) {
              if (c.depth === target) continue;
              c.guards[c.guards.length - 1]!.push({ op: negate(g.op), c: g.c, g: g.g });
            }
          }
          this.shiftWindow(at);
          break;
        }
        case Op.brTable: // br_table
          for (const label of this.decoder.labels) {
            const target = kinds.length - 1 - label;
            if (target < 0) plan.exitBranch = true;
            else if (kinds[target] === 1) {
              back[target] = 1;
              if (loopCandidate[target]! >= 0) this.candidates[loopCandidate[target]!]!.dead = true;
            }
          }
          this.shiftWindow(at);
          break;
        case Op.call:
        case Op.returnCall: // call return_call
          this.checkFunctionIndex(this.decoder.imm, at);
          if (this.decoder.imm < this.imported) plan.unknownCalls = true;
          else (plan.calls ??= []).push(region, this.decoder.imm - this.imported);
          edits.push(op === Op.call ? EDIT_CALL : EDIT_RETURN_CALL, at, pos, this.decoder.imm);
          this.shiftWindow(at);
          break;
        case Op.callIndirect:
        case Op.callRef: // call_indirect call_ref
          plan.unknownCalls = true;
          edits.push(EDIT_INDIRECT, at, pos, 0);
          this.shiftWindow(at);
          break;
        case Op.returnCallIndirect:
        case Op.returnCallRef: // return_call_indirect return_call_ref
          plan.unknownCalls = true;
          edits.push(EDIT_LEAVE, at, pos, 0);
          this.shiftWindow(at);
          break;
        case Op.throw:
        case Op.rethrow:
        case Op.throwRef: // throw rethrow throw_ref
          plan.throws = true;
          edits.push(EDIT_LEAVE, at, pos, 0);
          this.shiftWindow(at);
          break;
        case Op.return: // return
          edits.push(EDIT_LEAVE, at, pos, 0);
          this.shiftWindow(at);
          break;
        case Op.memoryGrow:
        case Op.prefixFC:
        case Op.prefixFE:
          if (isChargedInstruction(op, op === Op.memoryGrow ? 0 : this.decoder.readLeb(bytes, at + 1))) {
            plan.bulk = true;
            edits.push(EDIT_BULK, at, pos, this.helpers.ordinalFor(bytes, at, pos));
          }
          this.shiftWindow(at);
          break;
        case Op.refFunc: // ref.func
          this.checkFunctionIndex(this.decoder.imm, at);
          if (this.decoder.imm >= this.imported) plan.refs.push(this.decoder.imm - this.imported);
          edits.push(EDIT_REF, at, pos, this.decoder.imm);
          this.shiftWindow(at);
          break;
        case LOCAL_SET:
        case LOCAL_TEE: {
          const local = this.decoder.imm;
          for (const c of this.active) {
            if (c.local !== local || c.dead) continue;
            this.loadWindow();
            this.write(c);
          }
          const before = this.opAt(this.latestAt);
          if (op === LOCAL_SET && (before === I32_CONST || before === I64_CONST)) {
            const value = this.decoder.readSleb(bytes, this.latestAt + 1);
            if (!Number.isNaN(value)) {
              initLocal = local;
              initValue = value;
              initWide = before === I64_CONST;
              keepInit = true;
            }
          }
          this.shiftWindow(at);
          break;
        }
        default:
          this.shiftWindow(at);
      }
      if (!keepInit) initLocal = -1;
    }
    throw new WasmFormatError('expression runs past its end', Math.min(pos, end));
  }

  /** Moves the window on by one instruction: the one at `at` becomes the latest. */
  private shiftWindow(at: number): void {
    this.oldestAt = this.middleAt;
    this.middleAt = this.latestAt;
    this.latestAt = at;
  }

  /** Empties the window: what comes next starts a new straight-line run. */
  private clearWindow(): void {
    this.oldestAt = this.middleAt = this.latestAt = -1;
  }

  private checkFunctionIndex(index: number, at: number): void {
    if (index >= this.functionCount) throw new WasmFormatError(`function index ${index} out of range (${this.functionCount} functions)`, at);
  }

  /** Decodes the window's instructions into oldestOp..latestOp (opcodes) and oldestImm..middleImm (local indices and constants; no check needs the latest one's). */
  private loadWindow(): void {
    this.oldestOp = this.opAt(this.oldestAt);
    this.oldestImm = this.immAt(this.oldestAt);
    this.middleOp = this.opAt(this.middleAt);
    this.middleImm = this.immAt(this.middleAt);
    this.latestOp = this.opAt(this.latestAt);
  }

  private opAt(at: number): number {
    return at < 0 ? -1 : this.bytes[at]!;
  }

  /** The local index of a local.*, the value of a constant (NaN when not exact), else 0. */
  private immAt(at: number): number {
    const op = at < 0 ? -1 : this.bytes[at]!;
    if (op === LOCAL_GET || op === LOCAL_SET || op === LOCAL_TEE) return this.decoder.readLeb(this.bytes, at + 1);
    if (op === I32_CONST || op === I64_CONST) return this.decoder.readSleb(this.bytes, at + 1);
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
    const shift = c.wide ? Op.i64LtS - Op.i32LtS : 0; // i64 comparisons sit as far above their i32 twins
    if (this.latestOp === I32_EQZ + shift && isVar(this.middleOp, this.middleImm)) return { op: I32_EQ, c: 0, g: offset };
    const cmp = this.latestOp - shift;
    if (cmp < I32_EQ || cmp > I32_GE_U) return undefined;
    if (isVar(this.oldestOp, this.oldestImm) && this.middleOp === constOp && !Number.isNaN(this.middleImm)) return { op: cmp, c: this.middleImm, g: offset };
    if (this.oldestOp === constOp && !Number.isNaN(this.oldestImm) && isVar(this.middleOp, this.middleImm))
      return { op: swap(cmp), c: this.oldestImm, g: offset };
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
    const candIndex = this.loopCandidate.pop()!;
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
    const add = c.wide ? Op.i64Add : Op.i32Add;
    const constOp = c.wide ? I64_CONST : I32_CONST;
    let k = NaN;
    if (this.latestOp === add || this.latestOp === add + 1) {
      if (this.oldestOp === LOCAL_GET && this.oldestImm === c.local && this.middleOp === constOp) k = this.latestOp === add ? this.middleImm : -this.middleImm;
      else if (this.latestOp === add && this.oldestOp === constOp && this.middleOp === LOCAL_GET && this.middleImm === c.local) k = this.oldestImm;
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
