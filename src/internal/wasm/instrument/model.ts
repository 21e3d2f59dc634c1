// What the analysis of one function body produces and the rewrite consumes.

/** A function body outside its loops (region 0), or one loop body outside its nested loops. */
export interface Region {
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
export const EDIT_LOOP = 1,
  EDIT_CALL = 2,
  EDIT_RETURN_CALL = 3,
  EDIT_REF = 4,
  EDIT_INDIRECT = 5,
  EDIT_LEAVE = 6,
  EDIT_CATCH = 7,
  EDIT_END = 8,
  EDIT_BULK = 9;

/** How a function keeps its budget. */
export const NO_CHECKS = 0,
  ON_GLOBAL = 1,
  IN_LOCAL = 2;

export interface FunctionPlan {
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
