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
 * single fill or copy runs long without a check. `memory.atomic.wait32/64` wait a millisecond at
 * a time (charged one unit a nanosecond) until their own timeout is spent, so a wait forever
 * reaches a check every millisecond. Every other instruction of the original module counts one unit, statically.
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

import { BulkHelpers } from './bulk-charges.js';
import { ByteWriter, writeSections } from './encoder.js';
import { planFunctions } from './instrument/plan.js';
import { Rewriter } from './instrument/rewrite.js';
import { survey } from './instrument/survey.js';
import { SectionId, sectionSpans } from './reader.js';

export { BUDGET_EXPORT, START_EXPORT, TICK_MODULE, TICK_NAME, UNCHECKED_LOOP_LIMIT } from './instrument/names.js';

/**
 * Returns an instrumented copy of a module: it imports `"plughost" "tick"` (after the
 * existing function imports, so defined functions move up by one index) and exports a
 * mutable i32 global `"__plughost_budget"`. Check sites (see the module documentation)
 * subtract their static cost from the budget and call `tick` when it goes below 0. `tick`
 * must raise the budget or throw; the same module and input always consume the same budget.
 * A start function no longer runs inside the instantiation, where no budget could be
 * refilled yet: it is exported as `"__plughost_start"`, for the host to call first.
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
 * budget.value = 100_000;
 * instance.exports.__plughost_start?.();
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
  writeSections(out, bytes, spans, [SectionId.type, SectionId.import, SectionId.global, SectionId.export], {
    section: (id, span) => ctx.section(id, span),
    custom: (span) => ctx.customSection(span),
  });
  return out.finish().slice();
}
