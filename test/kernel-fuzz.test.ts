// The kernel against a model: thousands of random guest and host operations, good and bad
// handles mixed (double frees, frees of blocks the host freed, handle 0), with fixed seeds.
// Nothing may throw, live blocks never overlap, their bytes stay what was written, every answer
// about a handle matches the model's, and a block the host freed is not handed out again before
// fresh space ran out.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryLimitError } from '../src/errors.js';
import { Kernel } from '../src/internal/kernel/kernel.js';
import { type GuestFunctions, mergedGuestFunctions, mergedGuestModule } from './merged-kernel.js';

type Fn = (...args: bigint[]) => bigint | number | undefined;

/** How a guest reaches a kernel's functions: linked to its instance, or merged into the guest's module (where the engine can). */
type GuestOf = (kernel: Kernel) => GuestFunctions;
const merged = await mergedGuestModule();
const placements: [string, GuestOf][] = [['a kernel instance', (kernel) => kernel.guestFunctions() as unknown as GuestFunctions]];
if (merged !== undefined) {
  placements.push(['the kernel merged into the guest', (kernel) => mergedGuestFunctions(merged, kernel)]);
  placements.push(['the kernel merged, called from guest code', (kernel) => mergedGuestFunctions(merged, kernel, true)]);
}

/** xorshift32: the same sequence for the same seed, so a failure can be replayed. */
function random(seed: number) {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
  return { next, below: (n: number) => next() % n };
}

const HOSTILE = [0n, 1n, 15n, 16n, 255n, 256n, 0xffff_ffffn, 0x1_0000_0000n, 2n ** 63n - 1n, 2n ** 64n - 1n, 2n ** 64n - 8n];

function run(seed: number, operations: number, guestOf: GuestOf): void {
  const kernel = new Kernel(64);
  const k: Record<string, Fn> = guestOf(kernel);
  const rng = random(seed);
  kernel.begin(new Uint8Array(0));
  /** live blocks: handle → [size, fill byte] */
  const live = new Map<bigint, [number, number]>();
  /** blocks freed by the guest or the host and not handed out since: the double frees */
  const freed: bigint[] = [];
  /** blocks freed by the host → the kernel's sweep count at that moment */
  const hostFreed = new Map<bigint, number>();
  /** the call's result: the error block, the output range (always inside one live block, or empty) */
  let errorBlock = 0n;
  let output = { offset: 0n, length: 0n };
  /** blocks the guest freed while they held the result: live until it moves off them */
  const kept = new Set<bigint>();
  const holdsResult = (h: bigint) =>
    h !== 0n && (h === errorBlock || (output.length > 0n && output.offset < h + BigInt(live.get(h)![0]) && output.offset + output.length > h));
  /** The guest frees `h`: a live block goes, unless it holds the result. */
  const guestFrees = (h: bigint) => {
    if (!live.has(h)) return;
    if (holdsResult(h)) kept.add(h);
    else {
      live.delete(h);
      freed.push(h);
    }
  };
  /** The result moved: kept blocks that no longer hold it are freed. */
  const resultMoved = () => {
    for (const h of kept) {
      if (holdsResult(h)) continue;
      kept.delete(h);
      live.delete(h);
      freed.push(h);
    }
  };
  /** A block was handed out (by alloc or a host write): the model's checks and bookkeeping. */
  const handedOut = (h: bigint, size: number, fill: number, where: string) => {
    assert.ok(!live.has(h), `${where}: handle ${h} handed out twice`);
    const freedAt = hostFreed.get(h);
    if (freedAt !== undefined) {
      assert.ok(kernel.sweeps > freedAt, `${where}: block ${h}, freed by the host, handed out again before fresh space ran out`);
      hostFreed.delete(h);
    }
    live.set(h, [size, fill]);
    const at = freed.indexOf(h);
    if (at >= 0) freed.splice(at, 1);
  };
  /** The host freed (or took) `h`: live blocks go to the quarantine. */
  const hostFrees = (h: bigint) => {
    kept.delete(h);
    if (!live.delete(h)) return;
    freed.push(h);
    hostFreed.set(h, kernel.sweeps);
  };
  const expectFill = (bytes: Uint8Array, h: bigint, where: string) => {
    const [size, fill] = live.get(h)!;
    assert.equal(bytes.length, size, `${where}: length of ${h}`);
    assert.ok(
      bytes.every((b) => b === fill),
      `${where}: bytes of ${h}`,
    );
  };
  const pick = (): bigint => {
    const roll = rng.below(10);
    if (roll < 5 && live.size > 0) return [...live.keys()][rng.below(live.size)]!;
    if (roll < 7 && freed.length > 0) return freed[rng.below(freed.length)]!;
    if (roll < 9) return HOSTILE[rng.below(HOSTILE.length)]!;
    return BigInt(rng.next());
  };

  for (let op = 0; op < operations; op++) {
    const where = `seed ${seed}, operation ${op}`;
    switch (rng.below(12)) {
      case 0: {
        const size = rng.below(10) === 0 ? rng.below(300_000) : rng.below(200);
        const h = k.alloc!(BigInt(size)) as bigint;
        if (size === 0) {
          assert.equal(h, 0n, where);
          break;
        }
        if (h === 0n) break; // out of kernel memory (64 pages): allowed
        const fill = rng.below(256);
        handedOut(h, size, fill, where);
        // the first and last bytes through the guest's own store, the rest directly
        k.store_u8!(h, fill as never);
        k.store_u8!(h + BigInt(size - 1), fill as never);
        kernel.view().fill(fill, Number(h), Number(h) + size);
        break;
      }
      case 1: {
        const h = pick();
        k.free!(h);
        guestFrees(h);
        break;
      }
      case 2:
      case 3: {
        const h = pick();
        const expected = live.get(h)?.[0] ?? 0;
        assert.equal(k.length!(h), BigInt(expected), `${where}: length(${h})`);
        assert.equal(k.length_unsafe!(h), BigInt(expected), `${where}: length_unsafe(${h})`);
        break;
      }
      case 4: {
        // every live block still holds its fill: nothing overlapped or scribbled on it
        for (const [h, [size, fill]] of live) {
          if (size === 0) continue; // an empty result of a host function
          const probe = BigInt(rng.below(size));
          assert.equal(k.load_u8!(h + probe), fill, `${where}: block ${h} byte ${probe}`);
        }
        break;
      }
      case 5: {
        // stores and loads outside the heap never throw, write nothing and read 0 (stores
        // inside it, over headers, are the scribbling test's business below)
        const outside = [0n, 1n, 15n, 16n, 255n, 0x1_0000_0000n, 2n ** 63n - 1n, 2n ** 64n - 1n, 2n ** 64n - 8n];
        const p = outside[rng.below(outside.length)]!;
        k.store_u64!(p, 0x1122334455667788n);
        k.store_u8!(p, 7 as never);
        assert.equal(k.load_u64!(p), 0n, `${where}: load_u64(${p})`);
        break;
      }
      case 6: {
        // input functions with wild offsets
        const offset = pick();
        assert.equal(k.input_load_u8!(offset), 0, where);
        assert.equal(k.input_load_u64!(offset), 0n, where);
        break;
      }
      case 7: {
        // a host function's result (config_get, var_get, http_request, CallContext.store)
        if (rng.below(4) === 0) {
          // a short string that is not ASCII: the kernel tries it as ASCII first, then discards that block
          const text = `é${'x'.repeat(rng.below(40))}`;
          const h = BigInt(kernel.write(text));
          handedOut(h, 0, 0, where);
          assert.equal(kernel.readText(h), text, where);
          k.free!(h);
          live.delete(h);
          freed.push(h);
          break;
        }
        const size = rng.below(10) === 0 ? rng.below(300_000) : rng.below(200);
        const fill = rng.below(256);
        let h: bigint;
        try {
          h = BigInt(kernel.write(new Uint8Array(size).fill(fill)));
        } catch (err) {
          assert.ok(err instanceof MemoryLimitError, `${where}: ${err}`);
          break;
        }
        handedOut(h, size, fill, where);
        break;
      }
      case 8: {
        // a host function takes its argument: reads it and frees it (config_get, var_*)
        const h = pick();
        const bytes = kernel.takeToKeep(h);
        if (live.has(h)) expectFill(bytes!, h, where);
        else if (h === 0n) assert.equal(bytes?.length, 0, `${where}: take(0) is empty`);
        else assert.equal(bytes, null, `${where}: take(${h})`);
        hostFrees(h);
        break;
      }
      case 9: {
        // a host function frees its argument after reading it (http_request, log_*, CallContext.free)
        const h = pick();
        const copy = kernel.read(h);
        if (live.has(h)) expectFill(new Uint8Array(copy!.buffer), h, where);
        else if (h === 0n) assert.equal(copy?.byteLength, 0, `${where}: read(0) is empty`);
        else assert.equal(copy, null, `${where}: read(${h})`);
        kernel.free(h);
        hostFrees(h);
        break;
      }
      case 10: {
        // the guest frees again what was freed already, by the host or by itself
        if (freed.length === 0) break;
        k.free!(freed[rng.below(freed.length)]!);
        break;
      }
      case 11: {
        // the result moves (go-pdk 1.0.3–1.0.5 free the output or error block right after
        // setting it): the output on part of a live block, or empty, or out of range; or the error
        const roll = rng.below(4);
        const h = pick();
        if (roll === 0) {
          // a dead handle too: a block handed out later at that address holds the error
          k.error_set!(h);
          errorBlock = h;
        } else if (roll === 1 || !live.has(h) || live.get(h)![0] === 0) {
          k.output_set!(0n, 0n);
          output = { offset: 0n, length: 0n };
        } else {
          const size = live.get(h)![0];
          const start = rng.below(size);
          const length = 1 + rng.below(size - start);
          k.output_set!(h + BigInt(start), BigInt(length));
          output = { offset: h + BigInt(start), length: BigInt(length) };
        }
        resultMoved();
        break;
      }
    }
  }
  // the next call releases everything: no handle of this one is live any more
  kernel.begin(new Uint8Array(8));
  const input = k.input_offset!() as bigint;
  for (const h of live.keys()) {
    if (h !== input) assert.equal(k.length!(h), 0n, `seed ${seed}: stale handle ${h} after begin`);
  }
  kernel.releaseAll();
  assert.equal(k.length!(input), 0n, `seed ${seed}: the input after releaseAll`);
  assert.equal(kernel.heapBytes, 0);
}

for (const [placement, guestOf] of placements) {
  describe(`the kernel under random guest operations (${placement})`, () => {
    for (const seed of [1, 2, 3, 42, 1234, 99991]) {
      it(`keeps its model for seed ${seed}`, () => run(seed, 4000, guestOf));
    }
  });

  describe(`a block whose header the guest scribbled over (${placement})`, () => {
    it('is no longer live, so no length the host trusts can reach past the heap', () => {
      const kernel = new Kernel(64);
      const k: Record<string, Fn> = guestOf(kernel);
      kernel.begin(new Uint8Array(0));
      const a = k.alloc!(32n) as bigint;
      const b = k.alloc!(32n) as bigint;
      // the guest writes a huge length into a's header (it sits in the heap, so the store lands)
      k.store_u64!(a - 16n, 0x7fff_ffffn);
      assert.equal(k.length!(a), 0n);
      assert.equal(kernel.read(a), null);
      assert.equal(kernel.readText(a), null);
      // b is untouched
      assert.equal(k.length!(b), 32n);
      // a capacity reaching past the heap is refused the same way
      k.store_u64!(b - 16n, (0x10_0000n << 32n) | 8n);
      assert.equal(k.length!(b), 0n);
    });
  });

  describe(`a guest scribbling over the heap while the host frees and sweeps run (${placement})`, () => {
    for (const seed of [7, 77, 777]) {
      it(`never makes the kernel trap or vouch for a length past the heap (seed ${seed})`, () => {
        const kernel = new Kernel(64);
        const k: Record<string, Fn> = guestOf(kernel);
        const rng = random(seed);
        kernel.begin(new Uint8Array(0));
        const handles: bigint[] = [];
        for (let op = 0; op < 3000; op++) {
          const where = `seed ${seed}, operation ${op}`;
          const roll = rng.below(10);
          if (roll < 3) {
            const h = k.alloc!(BigInt(rng.below(10) === 0 ? rng.below(200_000) : 1 + rng.below(100))) as bigint;
            if (h !== 0n) handles.push(h);
          } else if (roll < 5 && handles.length > 0) {
            // host functions take their arguments: quarantined, swept later
            kernel.takeToKeep(handles[rng.below(handles.length)]!);
          } else if (roll < 6 && handles.length > 0) {
            k.free!(handles[rng.below(handles.length)]!);
          } else if (roll < 8) {
            // anything over anything inside the heap, block headers above all (lengths,
            // capacities, tags, free-list links), freed blocks' included
            const at =
              handles.length > 0 && rng.below(2) === 0
                ? handles[rng.below(handles.length)]! - 16n + 8n * BigInt(rng.below(2))
                : 256n + BigInt(rng.below(Math.max(1, kernel.heapBytes)));
            const value = rng.below(3) === 0 ? BigInt(rng.next()) : (BigInt(rng.next()) << 32n) | BigInt(rng.next());
            k.store_u64!(at & ~7n, value);
          } else {
            for (const h of handles.slice(-20)) {
              const n = kernel.length(h);
              assert.ok(n === -1 || Number(h) + n <= 256 + kernel.heapBytes, `${where}: ${h} + ${n} past the heap end ${256 + kernel.heapBytes}`);
              kernel.read(h);
            }
          }
        }
      });
    }
  });
}
