// Clocks, poll_oneoff (sleeping through the host's sleep) and random_get.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { E, type Guest, startGuest } from './guest.js';

/** Lay out subscriptions (48 bytes each) and room for as many events; returns [in, out, nevents]. */
function subscriptions(
  g: Guest,
  subs: ({ clock: number; timeoutNs: bigint; abstime?: boolean } | { fdRead: number })[],
  userdataBase = 100n,
): [number, number, number] {
  const inPtr = g.alloc(48 * subs.length);
  const outPtr = g.alloc(32 * subs.length);
  const nevents = g.alloc(4);
  const v = g.view();
  subs.forEach((s, i) => {
    const p = inPtr + i * 48;
    v.setBigUint64(p, userdataBase + BigInt(i), true);
    if ('clock' in s) {
      v.setUint8(p + 8, 0);
      v.setUint32(p + 16, s.clock, true);
      v.setBigUint64(p + 24, s.timeoutNs, true);
      v.setBigUint64(p + 32, 0n, true);
      v.setUint16(p + 40, s.abstime ? 1 : 0, true);
    } else {
      v.setUint8(p + 8, 1);
      v.setUint32(p + 16, s.fdRead, true);
    }
  });
  return [inPtr, outPtr, nevents];
}

function events(g: Guest, outPtr: number, nevents: number): { userdata: bigint; error: number; type: number }[] {
  return Array.from({ length: g.u32(nevents) }, (_, i) => {
    const p = outPtr + i * 32;
    return { userdata: g.u64(p), error: g.view().getUint16(p + 8, true), type: g.view().getUint8(p + 10) };
  });
}

describe('clocks', () => {
  test('clock_time_get writes realtime and monotonic nanoseconds as u64', async () => {
    const g = await startGuest();
    const out = g.alloc(8);
    assert.equal(g.call('clock_time_get', 0, 1, out), E.SUCCESS);
    const realtime = g.u64(out);
    assert.ok(realtime - BigInt(Date.now()) * 1_000_000n < 1_000_000_000n);
    assert.equal(g.call('clock_time_get', 1, 0, out), E.SUCCESS);
    const first = g.u64(out);
    assert.equal(g.call('clock_time_get', 1, 0, out), E.SUCCESS);
    assert.ok(g.u64(out) >= first);
    assert.equal(g.call('clock_time_get', 2, 0, out), E.SUCCESS);
    assert.equal(g.call('clock_time_get', 9, 0, out), E.EINVAL);
    assert.equal(g.call('clock_res_get', 1, out), E.SUCCESS);
    assert.ok(g.u64(out) > 0n);
    assert.equal(g.call('clock_res_get', 9, out), E.EINVAL);
  });
});

describe('poll_oneoff', () => {
  test('a relative clock subscription sleeps through the host sleep for its timeout in milliseconds', async () => {
    const sleeps: number[] = [];
    const g = await startGuest({ sleep: (ms) => sleeps.push(ms) });
    const [inPtr, outPtr, nevents] = subscriptions(g, [{ clock: 1, timeoutNs: 250_000_000n }]);
    assert.equal(g.call('poll_oneoff', inPtr, outPtr, 1, nevents), E.SUCCESS);
    assert.deepEqual(sleeps, [250]);
    assert.deepEqual(events(g, outPtr, nevents), [{ userdata: 100n, error: 0, type: 0 }]);
  });

  test('an absolute clock subscription sleeps until its deadline and the earliest of several clocks wins', async () => {
    const sleeps: number[] = [];
    const g = await startGuest({ sleep: (ms) => sleeps.push(ms) });
    const now = g.alloc(8);
    g.call('clock_time_get', 1, 0, now);
    const [inPtr, outPtr, nevents] = subscriptions(g, [
      { clock: 1, timeoutNs: g.u64(now) + 100_000_000n, abstime: true },
      { clock: 1, timeoutNs: 20_000_000n },
    ]);
    assert.equal(g.call('poll_oneoff', inPtr, outPtr, 2, nevents), E.SUCCESS);
    assert.deepEqual(sleeps, [20]);
    assert.deepEqual(events(g, outPtr, nevents), [{ userdata: 101n, error: 0, type: 0 }]);
    sleeps.length = 0;
    const [in2, out2, n2] = subscriptions(g, [{ clock: 1, timeoutNs: g.u64(now) + 100_000_000n, abstime: true }]);
    g.call('poll_oneoff', in2, out2, 1, n2);
    assert.equal(sleeps.length, 1);
    assert.ok(sleeps[0]! > 50 && sleeps[0]! <= 100, `slept ${sleeps[0]} ms`);
  });

  test('fd subscriptions are ready at once, without sleeping', async () => {
    const sleeps: number[] = [];
    const g = await startGuest({ sleep: (ms) => sleeps.push(ms) });
    const [inPtr, outPtr, nevents] = subscriptions(g, [{ clock: 1, timeoutNs: 1_000_000_000n }, { fdRead: 0 }, { fdRead: 77 }]);
    assert.equal(g.call('poll_oneoff', inPtr, outPtr, 3, nevents), E.SUCCESS);
    assert.deepEqual(sleeps, []);
    assert.deepEqual(events(g, outPtr, nevents), [
      { userdata: 101n, error: 0, type: 1 },
      { userdata: 102n, error: E.EBADF, type: 1 },
    ]);
  });

  test('an exception from the host sleep (a call timeout) propagates out of the guest', async () => {
    class TimeoutError extends Error {
      readonly code = 'PLUGHOST_TIMEOUT';
    }
    const timeout = new TimeoutError('deadline');
    const g = await startGuest({
      sleep: () => {
        throw timeout;
      },
    });
    const [inPtr, outPtr, nevents] = subscriptions(g, [{ clock: 1, timeoutNs: 5_000_000_000n }]);
    assert.throws(
      () => g.call('poll_oneoff', inPtr, outPtr, 1, nevents),
      (error) => error === timeout,
    );
  });

  test('the default sleep really blocks, and zero subscriptions are invalid', async () => {
    const g = await startGuest();
    const [inPtr, outPtr, nevents] = subscriptions(g, [{ clock: 1, timeoutNs: 30_000_000n }]);
    const start = performance.now();
    assert.equal(g.call('poll_oneoff', inPtr, outPtr, 1, nevents), E.SUCCESS);
    assert.ok(performance.now() - start >= 25);
    assert.equal(g.call('poll_oneoff', inPtr, outPtr, 0, nevents), E.EINVAL);
    assert.equal(g.call('sched_yield'), E.SUCCESS);
  });
});

describe('random_get', () => {
  test('random_get fills the buffer, including ones larger than one 64 KiB chunk', async () => {
    const g = await startGuest();
    const size = 200_000;
    g.call('grow', 3);
    const ptr = g.alloc(size);
    assert.equal(g.call('random_get', ptr, size), E.SUCCESS);
    const bytes = g.bytes(ptr, size);
    for (const start of [0, 65_536, 131_072, size - 1000]) {
      assert.ok(
        bytes.subarray(start, start + 1000).some((b) => b !== 0),
        `bytes at ${start}`,
      );
    }
    assert.equal(g.call('random_get', ptr, 0), E.SUCCESS);
  });
});
