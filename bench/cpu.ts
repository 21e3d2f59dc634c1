// Thread CPU time: what decides how far the worker pool scales, and a figure the other
// engineers' load on a shared machine disturbs far less than wall time (a thread that waits
// for a core is not charged for the wait). Each clock is the best the runtime offers:
//   - `process.threadCpuUsage()` (Node 23.9+): the calling thread, in microseconds;
//   - Linux `/proc/thread-self/schedstat` (any Node): the calling thread's time on a CPU, in
//     nanoseconds, read synchronously, so by the thread that asks;
//   - Linux `/proc/self/task/<tid>/schedstat`: every thread of the process at once, which is how
//     the pool's workers are measured from outside (they run plughost's own worker code).
// Where none exists (Node 20 off Linux), the host thread falls back to its event loop's active
// time (`performance.eventLoopUtilization()`), which also counts time spent waiting for a core.
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** A clock of the calling thread's CPU time. */
export interface CpuClock {
  /** How it is read, for the report. */
  readonly what: string;
  /** CPU time this thread has used, in microseconds, from an arbitrary origin. */
  now(): number;
}

/** `process.threadCpuUsage`, where the runtime has it (Node 23.9+; @types/node 20 lacks it). */
const processWithThreadCpu: NodeJS.Process & { threadCpuUsage?: () => NodeJS.CpuUsage } = process;

/** Microseconds on a CPU from a schedstat line (`run_ns wait_ns timeslices`); NaN when unreadable. */
function schedstatMicros(path: string): number {
  try {
    return Number.parseInt(readFileSync(path, 'latin1'), 10) / 1000;
  } catch {
    return Number.NaN;
  }
}

/** The best clock of the calling thread's own CPU time here, or undefined when there is none. */
export function threadCpuClock(): CpuClock | undefined {
  const threadCpuUsage = processWithThreadCpu.threadCpuUsage;
  if (typeof threadCpuUsage === 'function') {
    return {
      what: 'process.threadCpuUsage()',
      now: () => {
        const usage = threadCpuUsage.call(process);
        return usage.user + usage.system;
      },
    };
  }
  if (Number.isFinite(schedstatMicros('/proc/thread-self/schedstat'))) {
    return { what: '/proc/thread-self/schedstat', now: () => schedstatMicros('/proc/thread-self/schedstat') };
  }
  return undefined;
}

/** The host thread's clock: its CPU time where measurable, else its event loop's active time. */
export function hostThreadClock(): CpuClock {
  const clock = threadCpuClock();
  if (clock !== undefined) return clock;
  return { what: 'event-loop active time (no thread CPU clock here)', now: () => performance.eventLoopUtilization().active * 1000 };
}

/** CPU time of every thread of this process, Linux thread id → microseconds; undefined off Linux. */
export function everyThreadCpu(): Map<number, number> | undefined {
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return undefined;
  }
  const times = new Map<number, number>();
  for (const tid of tids) {
    const micros = schedstatMicros(`/proc/self/task/${tid}/schedstat`);
    if (Number.isFinite(micros)) times.set(Number(tid), micros); // a thread may end while we read
  }
  return times.size > 0 ? times : undefined;
}

/** CPU time of the whole process (every thread, ended ones included), in microseconds. */
export function processCpu(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}
