// Writes the instrumented module: the added type, import, global and export, every index
// shifted past the tick import, checks and budget write-backs in the bodies, bulk helpers.

import { type BulkHelpers, emitCharge } from '../bulk-charges.js';
import { ByteWriter } from '../encoder.js';
import { Op, TypeCode } from '../opcodes.js';
import { ByteReader, SectionId, type SectionSpan, skipLimits, skipRefType, WasmFormatError } from '../reader.js';
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
  IN_LOCAL,
  NO_CHECKS,
  ON_GLOBAL,
} from './model.js';
import { BUDGET_EXPORT, START_EXPORT, TICK_MODULE, TICK_NAME } from './names.js';
import { constExpr, elements, type Facts } from './survey.js';

export class Rewriter {
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
  section(id: number, span: SectionSpan | undefined): Uint8Array | undefined | null {
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
        const startFunction = this.facts.start;
        const w = new ByteWriter(r ? r.end - r.pos + 64 : 64).u32(count + (startFunction === undefined ? 1 : 2));
        for (let i = 0; r && i < count; i++) {
          const start = r.pos;
          r.skip(r.u32());
          const kind = r.u8();
          w.slice(this.bytes, start, r.pos);
          const index = r.u32();
          w.u32(kind === 0 ? this.fn(index) : index);
        }
        w.name(BUDGET_EXPORT).byte(3).u32(this.budget);
        if (startFunction !== undefined) w.name(START_EXPORT).byte(0).u32(this.fn(startFunction));
        return w.finish();
      }
      case SectionId.start:
        return null; // exported instead (START_EXPORT)
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
    w.byte(Op.i32Const).s32(cost).byte(Op.i32Sub).byte(Op.localTee).u32(local).byte(Op.i32Const).byte(0).byte(Op.i32LtS).byte(Op.if).byte(TypeCode.void);
    this.writeBack(w, local);
    w.byte(Op.call).u32(this.tick);
    this.reload(w, local);
    w.byte(Op.end);
  }

  /** B -= cost; if B < 0: tick. */
  private globalCheck(w: ByteWriter, cost: number): void {
    emitCharge(w, this.budget, this.tick, () => w.byte(Op.i32Const).s32(cost));
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
      w.u32(r.u32() + 1)
        .slice(bytes, r.pos, plan.code)
        .byte(1)
        .byte(0x7f);
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
        case EDIT_CALL:
        case EDIT_RETURN_CALL: {
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
