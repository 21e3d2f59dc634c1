// The names and limits the instrumented module and its host agree on.

/** Module name of the imported tick function. */
export const TICK_MODULE = 'plughost';
/** Field name of the imported tick function, of type `() -> ()`. */
export const TICK_NAME = 'tick';
/** Export name of the mutable i32 budget global (initially 0, so the first check ticks). */
export const BUDGET_EXPORT = '__plughost_budget';
/**
 * Export name of the module's start function, which the instrumented module no longer starts
 * itself: a start function runs inside the instantiation, before the host holds the budget it
 * must refill, so the host calls it right after, as the first initializer.
 */
export const START_EXPORT = '__plughost_start';

/** The most a bounded loop may cost over all its iterations and go without a check (units). */
export const UNCHECKED_LOOP_LIMIT = 10_000;
/** Costs are capped so that subtracting one from any refilled budget cannot overflow i32. */
export const COST_CAP = 0x3fffffff;
