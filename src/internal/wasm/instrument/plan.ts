// Module-wide planning: every body analyzed, then where entry checks go (functions in a cycle
// of the call graph or entered from outside), what each check charges, and how each function
// keeps its budget.

import { MemoryLimitError } from '../../../errors.js';
import type { BulkHelpers } from '../bulk-charges.js';
import { ByteReader, SectionId, type SectionSpan } from '../reader.js';
import { Analyzer } from './analyze.js';
import { type FunctionPlan, IN_LOCAL, NO_CHECKS, ON_GLOBAL } from './model.js';
import { COST_CAP, UNCHECKED_LOOP_LIMIT } from './names.js';
import type { Facts } from './survey.js';

/**
 * The most loops a module may have to be instrumented, and the most places to edit (loops,
 * calls, references, bulk instructions and the like, four numbers each). The plan holds every
 * one of them at once: an 80 MB module of empty loops took 3.5 GB and then ended the host
 * process (V8 cannot grow an array past 2^27 elements, and dies trying). Compilers' modules
 * stay far below: a loop or a call is one of many instructions.
 */
export const MAX_INSTRUMENTED_LOOPS = 2_000_000;
export const MAX_INSTRUMENTED_PLACES = 4_000_000;

function tooManyToInstrument(what: string, count: number, limit: number): MemoryLimitError {
  return new MemoryLimitError(
    `the module has ${count} ${what} or more, above the ${limit} that timeoutMs and fuel can instrument within bounded host memory; run it without timeoutMs and fuel, or give it less code`,
    limit,
    count,
  );
}

/** Reads every function body once and decides where checks go and what they charge. */
export function planFunctions(bytes: Uint8Array, spans: SectionSpan[], facts: Facts, edits: number[], helpers: BulkHelpers): FunctionPlan[] {
  const plans: FunctionPlan[] = [];
  const span = spans.find((s) => s.id === SectionId.code);
  if (span) {
    const r = new ByteReader(bytes, span.bodyStart, span.end);
    const count = r.u32();
    if (count !== facts.functionTypes.length) r.fail(`the code section has ${count} bodies for ${facts.functionTypes.length} functions`);
    const analyzer = new Analyzer(bytes, facts.importedFunctions, facts.importedFunctions + count, edits, helpers);
    let loops = 0;
    for (let i = 0; i < count; i++) {
      const size = r.u32();
      const start = r.pos;
      const end = start + size;
      if (end > r.end) r.fail(`function body ${i} runs past the code section`, start);
      const params = facts.types[facts.functionTypes[i]!]!.params;
      const plan = analyzer.run(start, end, params, i);
      plans.push(plan);
      loops += plan.regions.length - 1;
      // one body adds at most what its bytes can hold (a few million): checked between bodies
      if (loops > MAX_INSTRUMENTED_LOOPS) throw tooManyToInstrument('loops', loops, MAX_INSTRUMENTED_LOOPS);
      if (edits.length / 4 > MAX_INSTRUMENTED_PLACES)
        throw tooManyToInstrument('places to instrument (loops, calls, references)', edits.length / 4, MAX_INSTRUMENTED_PLACES);
      r.pos = end;
    }
    if (r.pos !== r.end) r.fail('trailing bytes in the code section');
  }
  decide(plans, facts);
  return plans;
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
      const caller = calls[i]!;
      if (callee < entryCheck.length && !entryCheck[callee]) extra[caller] = extra[caller]! + entryCharge[callee]!;
    }
  }
  plan.loopCosts = new Array<number>(regions.length - 1).fill(-1);
  for (let r = regions.length - 1; r >= 0; r--) {
    const region = regions[r]!;
    const cost = Math.min(region.own + extra[r]!, COST_CAP) | 0;
    if (r === 0) return cost;
    if (region.bound >= 1 && region.bound * cost <= UNCHECKED_LOOP_LIMIT) extra[region.parent] = extra[region.parent]! + region.bound * cost;
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
