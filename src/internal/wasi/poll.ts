/**
 * `poll_oneoff` and `sched_yield`.
 *
 * Clock subscriptions block the thread through the host's `sleep` (so a call deadline can cut
 * the wait short); fd subscriptions are ready at once, since every fd here is either a regular
 * file or stdio that never blocks.
 *
 * @module
 */
import type { WasiContext, WasiFunction } from './context.js';
import { FileDescriptor } from './descriptor.js';
import { Errno, WasiErrno } from './errno.js';

const SUBSCRIPTION_SIZE = 48;
const EVENT_SIZE = 32;
const EVENTTYPE_CLOCK = 0;
const EVENTTYPE_FD_READ = 1;
const EVENTTYPE_FD_WRITE = 2;
const SUBCLOCKFLAG_ABSTIME = 1;
/**
 * Most subscriptions one poll_oneoff takes (EINVAL past it, as Linux's poll past its fd limit):
 * room to poll every fd a guest may hold (1,024) for reading and writing, with a clock, twice over.
 */
export const MAX_SUBSCRIPTIONS = 4096;

interface Event {
  userdata: bigint;
  error: number;
  type: number;
  nbytes: bigint;
}

/** Sleep by blocking on an atomic that nobody notifies: the default when the host gives no `sleep`. */
export function atomicsSleep(): (ms: number) => void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  return (ms: number) => {
    if (ms > 0) Atomics.wait(cell, 0, 0, ms);
  };
}

/**
 * Sleep where the thread may not block (a browser's main thread): a guest's sleep is a
 * synchronous import, so the only way for it to take its time is to keep the thread busy
 * until the clock has moved on. The caller bounds it (the engine: by the call's deadline).
 */
function spinSleep(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // nothing to wait on: the time passing is the point
  }
}

/** One sleeper for every engine of the thread (a SharedArrayBuffer per engine would cost more than the rest of it). */
let blockingSleep: ((ms: number) => void) | undefined;

/** How a synchronous sleep is done on this thread: `Atomics.wait` where it may block, else a bounded spin. */
export function threadSleep(canBlock: boolean): (ms: number) => void {
  if (!canBlock) return spinSleep;
  blockingSleep ??= atomicsSleep();
  return blockingSleep;
}

/** The `poll_oneoff` and `sched_yield` imports; `now` reads a WASI clock (EINVAL for an unknown one). */
export function pollFunctions(ctx: WasiContext, now: (clock: number) => bigint): Record<string, WasiFunction> {
  const { memory, fds } = ctx;

  function fdEvent(userdata: bigint, type: number, fd: number): Event {
    let d: ReturnType<typeof fds.get>;
    try {
      d = fds.get(fd);
    } catch (error) {
      if (error instanceof WasiErrno) return { userdata, error: error.errno, type, nbytes: 0n };
      throw error;
    }
    let nbytes = 0n;
    if (type === EVENTTYPE_FD_READ && d instanceof FileDescriptor) {
      const left = d.stat().size - BigInt(d.position);
      nbytes = left > 0n ? left : 0n;
    }
    return { userdata, error: Errno.SUCCESS, type, nbytes };
  }

  return {
    poll_oneoff(inPtr: number, outPtr: number, nsubscriptions: number, neventsPtr: number): number {
      const n = nsubscriptions >>> 0;
      // Each subscription is decoded into objects: without a cap a guest with a large memory
      // had the host spend minutes and gigabytes on one call, beyond every limit.
      if (n === 0 || n > MAX_SUBSCRIPTIONS) return Errno.EINVAL;
      memory.check(inPtr, n * SUBSCRIPTION_SIZE);
      memory.check(outPtr, n * EVENT_SIZE);
      memory.check(neventsPtr, 4);

      const ready: Event[] = [];
      const clocks: { userdata: bigint; remaining: bigint }[] = [];
      for (let i = 0; i < n; i++) {
        const base = (inPtr >>> 0) + i * SUBSCRIPTION_SIZE;
        const userdata = memory.u64(base);
        const tag = memory.u8(base + 8);
        if (tag === EVENTTYPE_CLOCK) {
          const clock = memory.u32(base + 16);
          const timeout = memory.u64(base + 24);
          const flags = memory.u16(base + 40);
          let remaining = timeout;
          try {
            if (flags & SUBCLOCKFLAG_ABSTIME) remaining = timeout - now(clock);
            else now(clock); // validates the clock id
          } catch (error) {
            if (!(error instanceof WasiErrno)) throw error;
            ready.push({ userdata, error: error.errno, type: EVENTTYPE_CLOCK, nbytes: 0n });
            continue;
          }
          clocks.push({ userdata, remaining });
        } else if (tag === EVENTTYPE_FD_READ || tag === EVENTTYPE_FD_WRITE) {
          ready.push(fdEvent(userdata, tag, memory.u32(base + 16)));
        } else {
          return Errno.EINVAL;
        }
      }

      const events = ready;
      if (clocks.length > 0) {
        let wait = 0n;
        if (ready.length === 0) {
          wait = clocks.reduce((min, c) => (c.remaining < min ? c.remaining : min), clocks[0]!.remaining);
          if (wait > 0n) ctx.sleep(Number(wait) / 1e6);
        }
        for (const c of clocks) {
          if (c.remaining <= wait) events.push({ userdata: c.userdata, error: Errno.SUCCESS, type: EVENTTYPE_CLOCK, nbytes: 0n });
        }
      }

      const out = memory.bytes(outPtr, events.length * EVENT_SIZE);
      out.fill(0);
      events.forEach((e, i) => {
        const p = (outPtr >>> 0) + i * EVENT_SIZE;
        memory.setU64(p, e.userdata);
        memory.setU16(p + 8, e.error);
        memory.setU8(p + 10, e.type);
        memory.setU64(p + 16, e.nbytes);
      });
      memory.setU32(neventsPtr, events.length);
      return Errno.SUCCESS;
    },

    sched_yield(): number {
      // One thread per guest: there is nobody to yield to.
      return Errno.SUCCESS;
    },
  };
}
