import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type FuncType, readModule } from '../../src/internal/wasm/reader.js';
import { buildTrampolineModule } from '../../src/internal/wasm/trampoline.js';
import { type WasmGlobal, wasm } from './engine.js';

type Fn = (...args: unknown[]) => unknown;

/** Instantiates trampolines for `types`, recording which side each call took. */
async function setUp(types: FuncType[], fast: Fn[], slow: Fn[]) {
  const calls: string[] = [];
  const record = (side: string, fns: Fn[]) =>
    Object.fromEntries(
      fns.map((fn, i) => [
        String(i),
        (...args: unknown[]) => {
          calls.push(`${side}${i}(${args.map((a) => (typeof a === 'bigint' ? `${a}n` : String(a))).join(',')})`);
          return fn(...args);
        },
      ]),
    );
  const { instance } = await wasm.instantiate(buildTrampolineModule(types), { fast: record('fast', fast), slow: record('slow', slow) });
  const exports = instance.exports as Record<string, Fn> & { wide: WasmGlobal };
  return { exports, calls };
}

const SAFE = 2n ** 53n - 1n;

describe('buildTrampolineModule', () => {
  it('builds a valid module with the documented imports and exports', () => {
    const types: FuncType[] = [
      { params: ['i64', 'i32'], results: ['i64'] },
      { params: [], results: [] },
    ];
    const info = readModule(buildTrampolineModule(types));
    assert.deepEqual(
      info.imports.map((i) => `${i.module}.${i.name}`),
      ['fast.0', 'slow.0', 'fast.1', 'slow.1'],
    );
    const fast0 = info.imports[0]!;
    assert.ok(fast0.kind === 'function');
    assert.deepEqual(fast0.type, { params: ['f64', 'i32'], results: ['f64'] });
    assert.deepEqual(
      info.exports.map((e) => [e.name, e.kind, e.type]),
      [
        ['wide', 'global', undefined],
        ['0', 'function', types[0]],
        ['1', 'function', types[1]],
      ],
    );
  });

  const identity: FuncType = { params: ['i64'], results: ['i64'] };
  const paths: { name: string; arg: bigint; call: string; result: bigint }[] = [
    { name: 'takes the fast path for a small value', arg: 42n, call: 'fast0(42)', result: 42n },
    { name: 'takes the fast path for a negative value', arg: -7n, call: 'fast0(-7)', result: -7n },
    { name: 'takes the fast path at +(2^53-1)', arg: SAFE, call: `fast0(${SAFE})`, result: SAFE },
    { name: 'takes the fast path at -(2^53-1)', arg: -SAFE, call: `fast0(${-SAFE})`, result: -SAFE },
    { name: 'takes the slow path at 2^53', arg: SAFE + 1n, call: `slow0(${SAFE + 1n}n)`, result: SAFE + 1n },
    { name: 'takes the slow path at -2^53', arg: -SAFE - 1n, call: `slow0(${-SAFE - 1n}n)`, result: -SAFE - 1n },
    { name: 'takes the slow path at the i64 maximum', arg: 2n ** 63n - 1n, call: `slow0(${2n ** 63n - 1n}n)`, result: 2n ** 63n - 1n },
    { name: 'takes the slow path at the i64 minimum', arg: -(2n ** 63n), call: `slow0(${-(2n ** 63n)}n)`, result: -(2n ** 63n) },
  ];
  for (const { name, arg, call, result } of paths) {
    it(name, async () => {
      const { exports, calls } = await setUp([identity], [(x) => x], [(x) => x]);
      assert.equal(exports['0']!(arg), result);
      assert.deepEqual(calls, [call]);
    });
  }

  it('reads a NaN result from the wide global', async () => {
    const big = 2n ** 62n + 3n;
    let wide: WasmGlobal | undefined;
    const { exports } = await setUp(
      [identity],
      [
        () => {
          wide!.value = big;
          return NaN;
        },
      ],
      [(x) => x],
    );
    wide = exports.wide;
    assert.equal(exports['0']!(1n), big);
  });

  it('truncates a fractional fast result and saturates an infinite one', async () => {
    const results = [2.9, -2.9, Infinity, -Infinity];
    const { exports } = await setUp([identity], [() => results.shift()], [(x) => x]);
    assert.deepEqual(
      [1n, 1n, 1n, 1n].map((a) => exports['0']!(a)),
      [2n, -2n, 2n ** 63n - 1n, -(2n ** 63n)],
    );
  });

  it('passes i32, f32 and f64 parameters through unchanged', async () => {
    const type: FuncType = { params: ['i32', 'f32', 'f64', 'i64'], results: ['f64'] };
    const { exports, calls } = await setUp([type], [(a, b, c, d) => (a as number) + (b as number) + (c as number) + (d as number)], [() => -1]);
    assert.equal(exports['0']!(-3, 1.5, 0.25, 10n), 8.75);
    assert.deepEqual(calls, ['fast0(-3,1.5,0.25,10)']);
  });

  it('falls back when any one of several i64 parameters is wide', async () => {
    const type: FuncType = { params: ['i64', 'i32', 'i64'], results: ['i32'] };
    const { exports, calls } = await setUp([type], [() => 1], [() => 2]);
    assert.equal(exports['0']!(1n, 5, 2n), 1);
    assert.equal(exports['0']!(1n, 5, 2n ** 60n), 2);
    assert.equal(exports['0']!(-(2n ** 60n), 5, 2n), 2);
    assert.deepEqual(calls, ['fast0(1,5,2)', `slow0(1n,5,${2n ** 60n}n)`, `slow0(${-(2n ** 60n)}n,5,2n)`]);
  });

  it('converts an i64 result for functions without i64 parameters', async () => {
    const { exports, calls } = await setUp([{ params: [], results: ['i64'] }], [() => 123], [() => 0n]);
    assert.equal(exports['0']!(), 123n);
    assert.deepEqual(calls, ['fast0()']);
  });

  it('handles functions without results and keeps types apart by index', async () => {
    const seen: unknown[] = [];
    const types: FuncType[] = [
      { params: ['i64', 'i64'], results: [] },
      { params: ['i32'], results: ['i32'] },
    ];
    const { exports } = await setUp(
      types,
      [
        (a, b) => {
          seen.push(a, b);
        },
        (x) => (x as number) * 2,
      ],
      [
        (a, b) => {
          seen.push(a, b);
        },
        () => 0,
      ],
    );
    assert.equal(exports['0']!(5n, -(2n ** 55n)), undefined);
    assert.equal(exports['1']!(21), 42);
    assert.deepEqual(seen, [5n, -(2n ** 55n)]);
  });

  it('refuses a type with more than one result', () => {
    assert.throws(() => buildTrampolineModule([{ params: [], results: ['i32', 'i32'] }]), RangeError);
  });
});
