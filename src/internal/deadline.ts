// Every deadline of the host (a call's, an initialization's, an HTTP request's, a helper's boot)
// on one clock: `performance.timeOrigin + performance.now()`, in milliseconds since the epoch.
//
// Why that clock: `performance.now()` is monotonic (unlike `Date.now()`, which jumps when the
// system clock is set), but it counts from its thread's `timeOrigin`: Node's workers share the
// process's, web-standard runtimes (Deno, browsers) give each worker its own, so the bare figure
// can mean another moment on a worker. Adding the origin (fixed for a thread's life) keeps each
// thread monotonic and puts every thread on the epoch axis, so a deadline sent to another thread
// (the HTTP helper, see platform/node/http) travels as the number it is. Sending milliseconds
// left instead would restart the count when the message is read, late by however long it
// queued. Origins taken at different moments agree to well within the slack of every bound here.
//
// A deadline is a plain number (Infinity for none), not an object: the engine keeps one per call,
// and a call without limits must not allocate for it.

declare const deadlineBrand: unique symbol;

/** A moment on this module's clock, or Infinity for none. Make one with {@link Deadline.fromTimeout}. */
export type Deadline = number & { readonly [deadlineBrand]: true };

/** Read once: a thread's time origin never changes. */
const ORIGIN = performance.timeOrigin;

function now(): number {
  return ORIGIN + performance.now();
}

function fromTimeout(ms: number | null): Deadline {
  return (ms === null ? Infinity : now() + ms) as Deadline;
}

function remaining(deadline: Deadline): number {
  return Math.max(0, deadline - now());
}

function expired(deadline: Deadline, at: number = now()): boolean {
  return at >= deadline;
}

function earliest(a: Deadline, b: Deadline): Deadline {
  return a < b ? a : b;
}

/** The longest delay a timer holds: past it, Node and browsers fire it after 1 ms. */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

function timerDelay(deadline: Deadline): number {
  return Math.min(remaining(deadline), MAX_TIMER_DELAY_MS);
}

/** Deadlines: functions over a {@link Deadline} number. */
export const Deadline = {
  /** No deadline. */
  none: Infinity as Deadline,
  /** The clock deadlines are on (epoch milliseconds, monotonic on each thread). */
  now,
  /** `ms` from now; `null` (no timeout) gives {@link Deadline.none}. */
  fromTimeout,
  /** Milliseconds left before `deadline`: 0 once it has passed, Infinity for none. */
  remaining,
  /** Whether `deadline` has passed (at `at`, a reading of {@link Deadline.now}, when the caller has one). */
  expired,
  /** The sooner of two deadlines. */
  earliest,
  /**
   * The delay to set a timer for `deadline` (0 once it has passed). A timer holds at most
   * about 24.8 days, so this is capped there: a callback that finds its deadline not yet
   * passed sets its timer again.
   */
  timerDelay,
} as const;
