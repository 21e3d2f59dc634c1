/**
 * `clock_res_get` and `clock_time_get`.
 *
 * Realtime is the wall clock (`Date.now`, millisecond resolution, follows clock adjustments);
 * monotonic is `performance.now` (sub-microsecond). There is no portable CPU-time clock, so the
 * process and thread CPU-time clocks count monotonic time since the WASI instance was created:
 * an upper bound of the real CPU time, enough for `clock()`-style measurements.
 *
 * @module
 */
import { Clockid } from './constants.js';
import type { WasiContext, WasiFunction } from './context.js';
import { Errno, fail } from './errno.js';

/** Monotonic nanoseconds from an arbitrary origin. */
function monotonicNs(): bigint {
  return BigInt(Math.round(performance.now() * 1e6));
}

/** Wall-clock nanoseconds since the Unix epoch. */
function realtimeNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/** The clock functions, plus `now(id)` for poll_oneoff's absolute timeouts. */
export function clockFunctions(ctx: WasiContext): { imports: Record<string, WasiFunction>; now: (id: number) => bigint } {
  const { memory } = ctx;
  const created = monotonicNs();

  const now = (id: number): bigint => {
    switch (id) {
      case Clockid.REALTIME:
        return realtimeNs();
      case Clockid.MONOTONIC:
        return monotonicNs();
      case Clockid.PROCESS_CPUTIME:
      case Clockid.THREAD_CPUTIME:
        return monotonicNs() - created;
      default:
        return fail(Errno.EINVAL);
    }
  };

  const imports: Record<string, WasiFunction> = {
    clock_res_get(id: number, resolutionPtr: number): number {
      memory.check(resolutionPtr, 8);
      now(id); // validates the id
      memory.setU64(resolutionPtr, id === Clockid.REALTIME ? 1_000_000n : 1_000n);
      return Errno.SUCCESS;
    },

    clock_time_get(id: number, _precision: bigint, timePtr: number): number {
      memory.check(timePtr, 8);
      memory.setU64(timePtr, now(id));
      return Errno.SUCCESS;
    },
  };
  return { imports, now };
}
