import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModuleBuilder } from '../../src/internal/wasm/encoder.js';
import { BUDGET_EXPORT, instrumentForInterrupts, START_EXPORT } from '../../src/internal/wasm/instrument.js';
import { readModule, WasmFormatError } from '../../src/internal/wasm/reader.js';
import { assemble } from '../helpers.js';
import { type WasmExports, type WasmGlobal, wasm } from './engine.js';
import { assembleFull } from './wat.js';

type Imports = Record<string, Record<string, unknown>>;
type Fn = (...args: number[]) => unknown;

interface Loaded {
  exports: WasmExports;
  call(name: string, ...args: number[]): unknown;
  budget: WasmGlobal;
  ticks: number;
  /** Runs `name` with a budget too large to run out; returns the result and what it cost. */
  measure(name: string, ...args: number[]): { result: unknown; consumed: number };
}

const FULL = 1_000_000_000;

/**
 * Instruments and instantiates a module. `onTick` runs on every tick; by default it
 * refills the budget to a value no test exhausts.
 */
async function load(bytes: Uint8Array, imports: Imports = {}, onTick?: (l: Loaded) => void): Promise<Loaded> {
  const instrumented = instrumentForInterrupts(bytes);
  assert.ok(wasm.validate(instrumented), 'instrumented module is valid');
  const loaded = {} as Loaded;
  loaded.ticks = 0;
  const tick = (): void => {
    loaded.ticks++;
    if (onTick) onTick(loaded);
    else loaded.budget.value = FULL;
  };
  const { instance } = await wasm.instantiate(instrumented, { ...imports, plughost: { tick } });
  loaded.exports = instance.exports;
  loaded.budget = instance.exports[BUDGET_EXPORT] as WasmGlobal;
  // the module's start function, which an instrumented module leaves to its host to call
  const start = instance.exports[START_EXPORT];
  if (typeof start === 'function') (start as Fn)();
  loaded.call = (name, ...args) => (instance.exports[name] as Fn)(...args);
  loaded.measure = (name, ...args) => {
    loaded.budget.value = FULL;
    const result = loaded.call(name, ...args);
    return { result, consumed: FULL - (loaded.budget.value as number) };
  };
  return loaded;
}

async function plain(bytes: Uint8Array, imports: Imports = {}): Promise<WasmExports> {
  return (await wasm.instantiate(bytes, imports)).instance.exports;
}

const counter = `
(module
  (func (export "count") (param $n i32) (result i32) (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_s (local.get $i) (local.get $n))))
    (local.get $i)))`;

const fib = `
(module
  (import "env" "seen" (func $seen (param i32)))
  (func $fib (export "fib") (param $n i32) (result i32)
    (call $seen (local.get $n))
    (if (result i32) (i32.lt_s (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2))))))))`;

const collatz = `
(module
  (func (export "steps") (param $n i32) (result i32) (local $steps i32)
    (block $done
      (loop $next
        (br_if $done (i32.le_u (local.get $n) (i32.const 1)))
        (local.set $steps (i32.add (local.get $steps) (i32.const 1)))
        (if (i32.and (local.get $n) (i32.const 1))
          (then (local.set $n (i32.add (i32.mul (local.get $n) (i32.const 3)) (i32.const 1))))
          (else (local.set $n (i32.shr_u (local.get $n) (i32.const 1)))))
        (br $next)))
    (local.get $steps)))`;

const noop = { env: { seen: () => {} } };

describe('instrumentForInterrupts keeps behaviour', () => {
  const cases: { name: string; wat: string; imports?: Imports; run: (e: WasmExports) => unknown; full?: boolean }[] = [
    { name: 'a loop counting to N', wat: counter, run: (e) => (e.count as Fn)(1000) },
    { name: 'recursion through a shifted function index', wat: fib, imports: noop, run: (e) => (e.fib as Fn)(15) },
    { name: 'a loop with data-dependent branches', wat: collatz, run: (e) => (e.steps as Fn)(27) },
    {
      name: 'call_indirect through a table filled by element segments',
      wat: `(module
        (import "env" "seen" (func $seen (param i32)))
        (type $un (func (param i32) (result i32)))
        (table 4 funcref)
        (elem (i32.const 0) $double $square)
        (elem (i32.const 2) func $inc)
        (func $double (param i32) (result i32) (i32.add (local.get 0) (local.get 0)))
        (func $square (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))
        (func $inc (param i32) (result i32) (call $seen (local.get 0)) (i32.add (local.get 0) (i32.const 1)))
        (func (export "apply") (param i32 i32) (result i32)
          (call_indirect (type $un) (local.get 1) (local.get 0))))`,
      imports: noop,
      run: (e) => [0, 1, 2].map((i) => (e.apply as Fn)(i, 7)),
    },
    {
      name: 'ref.func in code, global initializers and expression element segments',
      wat: `(module
        (import "env" "seen" (func $seen (param i32)))
        (table $t 3 funcref)
        (elem (table $t) (i32.const 0) funcref (ref.func $a) (ref.null func) (ref.func $b))
        (elem $passive funcref (ref.func $b) (ref.func $a))
        (elem declare func $c)
        (global $g funcref (ref.func $b))
        (type $v (func (result i32)))
        (func $a (result i32) (i32.const 10))
        (func $b (result i32) (i32.const 20))
        (func $c (result i32) (i32.const 30))
        (func (export "run") (result i32)
          (table.set $t (i32.const 1) (ref.func $c))
          (i32.add (call_indirect (type $v) (i32.const 0))
            (i32.add (call_indirect (type $v) (i32.const 1)) (call_indirect (type $v) (i32.const 2)))))
        (func (export "passive") (result i32)
          (table.init $t $passive (i32.const 0) (i32.const 0) (i32.const 2))
          (i32.sub (call_indirect (type $v) (i32.const 0)) (call_indirect (type $v) (i32.const 1))))
        (func (export "viaGlobal") (result i32)
          (table.set $t (i32.const 2) (global.get $g))
          (call_indirect (type $v) (i32.const 2))))`,
      imports: noop,
      run: (e) => [(e.run as Fn)(), (e.passive as Fn)(), (e.viaGlobal as Fn)()],
    },
    {
      name: 'exports of defined and re-exported imported functions',
      wat: `(module
        (import "env" "id" (func $id (param i32) (result i32)))
        (func $twice (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
        (export "id" (func $id))
        (export "twice" (func $twice)))`,
      imports: { env: { id: (x: number) => x + 100 } },
      run: (e) => [(e.id as Fn)(1), (e.twice as Fn)(21)],
    },
    {
      name: 'a start function',
      wat: `(module
        (import "env" "seen" (func $seen (param i32)))
        (global $g (mut i32) (i32.const 0))
        (func $init (global.set $g (i32.const 42)))
        (start $init)
        (func (export "get") (result i32) (global.get $g)))`,
      imports: noop,
      run: (e) => (e.get as Fn)(),
    },
    {
      name: 'tail calls',
      wat: `(module
        (import "env" "seen" (func $seen (param i32)))
        (func $sum (export "sum") (param $n i32) (param $acc i32) (result i32)
          (if (result i32) (i32.eqz (local.get $n))
            (then (local.get $acc))
            (else (return_call $sum (i32.sub (local.get $n) (i32.const 1)) (i32.add (local.get $acc) (local.get $n)))))))`,
      imports: noop,
      run: (e) => (e.sum as Fn)(100000, 0),
      full: true,
    },
  ];
  for (const { name, wat, imports, run, full } of cases) {
    it(`leaves the results of ${name} unchanged`, async () => {
      const bytes = await (full ? assembleFull(wat) : assemble(wat));
      const expected = run(await plain(bytes, imports));
      const loaded = await load(bytes, imports);
      assert.deepEqual(run(loaded.exports), expected);
      assert.ok(loaded.ticks >= 1, 'the initial budget of 0 ticks at once');
    });
  }

  it('calls imported functions that keep their index', async () => {
    const seen: number[] = [];
    const loaded = await load(await assemble(fib), { env: { seen: (n: number) => seen.push(n) } });
    assert.equal(loaded.call('fib', 3), 2);
    assert.deepEqual(seen, [3, 2, 1, 0, 1]);
  });

  it('shifts function names in the name section', async () => {
    const loaded = await load(
      await assembleFull(`(module
      (import "env" "seen" (func $seen (param i32)))
      (func $helper (result i32) (i32.const 1))
      (func $boom (export "boom") (unreachable)))`),
      noop,
    );
    assert.throws(
      () => loaded.call('boom'),
      (err: Error) => /\$?boom\b/.test(err.stack ?? '') && !/helper/.test(err.stack ?? ''),
    );
  });
});

describe('instrumentForInterrupts budget', () => {
  it('charges the function body once and the loop body per iteration', async () => {
    // count: loop, local.get, end = 3 outside the loop; 9 instructions inside it.
    const loaded = await load(await assemble(counter));
    for (const n of [1, 2, 10, 1000]) assert.deepEqual(loaded.measure('count', n), { result: n, consumed: 3 + 9 * n });
  });

  it('calls tick at every check while the budget stays negative', async () => {
    const loaded = await load(await assemble(fib), noop, () => {});
    assert.equal(loaded.call('fib', 10), 55);
    assert.equal(loaded.ticks, 177); // fib(10) makes 177 calls
  });

  it('calls tick when the budget runs out and runs on once it is refilled', async () => {
    const loaded = await load(await assemble(counter), {}, (l) => {
      l.budget.value = 1000;
    });
    assert.equal(loaded.call('count', 10_000), 10_000);
    // 3 + 9 * 10000 instructions in steps of 1000, plus the tick for the initial budget of 0.
    assert.ok(loaded.ticks >= 90 && loaded.ticks <= 92, `ticks: ${loaded.ticks}`);
  });

  it('stops an endless loop with a tick that throws', async () => {
    class Stop extends Error {}
    const loaded = await load(await assemble('(module (func (export "spin") (loop (br 0))))'), {}, (l) => {
      if (l.ticks > 100) throw new Stop('timeout');
      l.budget.value = 1000;
    });
    assert.throws(() => loaded.call('spin'), Stop);
    assert.equal(loaded.ticks, 101);
  });

  it('stops endless recursion without loops too', async () => {
    const loaded = await load(await assembleFull('(module (func $f (export "f") (return_call $f)))'), {}, (l) => {
      if (l.ticks > 10) throw new RangeError('stop');
    });
    assert.throws(() => loaded.call('f'), RangeError);
  });

  it('consumes the same budget on every run of the same input', async () => {
    const bytes = await assemble(collatz);
    const first = await load(bytes);
    const second = await load(bytes);
    const runs = [first.measure('steps', 27), first.measure('steps', 27), second.measure('steps', 27)];
    assert.equal(runs[0]!.result, 111);
    assert.deepEqual(runs[1], runs[0]);
    assert.deepEqual(runs[2], runs[0]);
    assert.notDeepEqual(first.measure('steps', 28).consumed, runs[0]!.consumed);
  });
});

/** Runs `name` with a budget that stays negative, so that every check it passes calls tick once. */
async function countChecks(bytes: Uint8Array, name: string, args: number[] = [], imports: Imports = {}): Promise<{ result: unknown; checks: number }> {
  const loaded = await load(bytes, imports, () => {});
  loaded.budget.value = -1;
  loaded.ticks = 0;
  const result = loaded.call(name, ...args);
  return { result, checks: loaded.ticks };
}

class Stop extends Error {}

/** Instruments `bytes` with a tick that refills `refill` units 100 times, then throws {@link Stop}. */
function stopping(bytes: Uint8Array, imports: Imports = {}, refill = 1000): Promise<Loaded> {
  return load(bytes, imports, (l) => {
    if (l.ticks > 100) throw new Stop('timeout');
    l.budget.value = refill;
  });
}

const runWith = (body: string, locals = '(local $i i32) (local $j i32) (local $s i32)') =>
  `(module (func (export "run") (param $n i32) (result i32) ${locals} ${body} (local.get $s)))`;

describe('instrumentForInterrupts bounded loops', () => {
  const bounded: Record<string, string> = {
    'a counted loop in an if (AssemblyScript)': runWith(`
      (local.set $i (i32.const 0))
      (loop $l
        (if (i32.lt_s (local.get $i) (i32.const 8))
          (then
            (local.set $s (i32.add (local.get $s) (local.get $i)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $l))))`),
    'a do-while with local.tee and ne (clang)': runWith(`
      (local.set $i (i32.const 0))
      (loop $l
        (local.set $s (i32.add (local.get $s) (local.get $i)))
        (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 8))))`),
    'an i64 count down with an exit branch out of a block (binaryen)': runWith(
      `
      (local.set $k (i64.const 10))
      (block $done
        (loop $l
          (br_if $done (i64.eqz (local.get $k)))
          (local.set $s (i32.add (local.get $s) (i32.wrap_i64 (local.get $k))))
          (local.set $k (i64.sub (local.get $k) (i64.const 1)))
          (br $l)))`,
      '(local $k i64) (local $s i32)',
    ),
    'an unsigned bound on the left and a step of 7': runWith(`
      (local.set $i (i32.const 0))
      (loop $l
        (local.set $s (i32.add (local.get $s) (local.get $i)))
        (local.set $i (i32.add (i32.const 7) (local.get $i)))
        (br_if $l (i32.gt_u (i32.const 100) (local.get $i))))`),
    'nested counted loops': runWith(`
      (local.set $i (i32.const 0))
      (loop $outer
        (local.set $j (i32.const 0))
        (loop $inner
          (local.set $s (i32.add (local.get $s) (i32.mul (local.get $i) (local.get $j))))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br_if $inner (i32.lt_u (local.get $j) (i32.const 4))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $outer (i32.lt_u (local.get $i) (i32.const 4))))`),
    'a loop without a branch back': runWith(`(loop $once (local.set $s (i32.const 5)))`),
  };
  for (const [name, wat] of Object.entries(bounded)) {
    it(`runs ${name} without a check of its own, and charges all its iterations`, async () => {
      const bytes = await assemble(wat);
      const expected = ((await plain(bytes)).run as Fn)(0);
      const { result, checks } = await countChecks(bytes, 'run', [0]);
      assert.equal(result, expected);
      assert.equal(checks, 1, 'only the entry check of the export');
      const { consumed } = (await load(bytes)).measure('run', 0);
      const loopBody = wat.includes('$once') ? 1 : 8;
      assert.ok(consumed >= loopBody * 4, `consumed ${consumed}`);
    });
  }

  const checkedButEnding: Record<string, string> = {
    'more iterations than a check may go without': runWith(`
      (local.set $i (i32.const 0))
      (loop $l
        (local.set $s (i32.add (local.get $s) (local.get $i)))
        (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 100000))))`),
    'a count that ends by overflowing': runWith(`
      (local.set $i (i32.const 2147483640))
      (loop $l
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (br_if $l (i32.gt_s (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 0))))`),
    'a bound that is not a constant': runWith(`
      (local.set $i (i32.const 0))
      (loop $l
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.add (local.get $n) (i32.const 8)))))`),
  };
  for (const [name, wat] of Object.entries(checkedButEnding)) {
    it(`keeps the check of a loop with ${name}`, async () => {
      const bytes = await assemble(wat);
      const expected = ((await plain(bytes)).run as Fn)(0);
      const { result, checks } = await countChecks(bytes, 'run', [0]);
      assert.equal(result, expected);
      assert.ok(checks > 8, `checks: ${checks}`);
    });
  }

  const endless: Record<string, string> = {
    'a step that jumps over the bound': runWith(`
      (local.set $i (i32.const 0))
      (loop $l (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 2))) (i32.const 7))))`),
    'a step away from the bound': runWith(`
      (local.set $i (i32.const 0))
      (loop $l (br_if $l (i32.lt_s (local.tee $i (i32.sub (local.get $i) (i32.const 1))) (i32.const 8))))`),
    'a step taken only on some paths': runWith(`
      (local.set $i (i32.const 0))
      (loop $l
        (if (local.get $n) (then (local.set $i (i32.add (local.get $i) (i32.const 1)))))
        (br_if $l (i32.lt_s (local.get $i) (i32.const 8))))`),
    'a reset inside the loop': runWith(`
      (local.set $i (i32.const 0))
      (loop $l
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (if (i32.eq (local.get $i) (i32.const 5)) (then (local.set $i (i32.const 0))))
        (br_if $l (i32.lt_s (local.get $i) (i32.const 8))))`),
    'a step undone by a nested counted loop': runWith(`
      (local.set $i (i32.const 0))
      (loop $l
        (local.set $j (i32.const 0))
        (loop $in
          (local.set $i (i32.sub (local.get $i) (i32.const 1)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br_if $in (i32.lt_s (local.get $j) (i32.const 2))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_s (local.get $i) (i32.const 8))))`),
    'a br_table back to the head': runWith(`
      (local.set $i (i32.const 0))
      (loop $l
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_table $l $l (local.get $n)))`),
    'an unsigned count down past zero': runWith(`
      (local.set $i (i32.const 5))
      (loop $l (br_if $l (i32.ge_u (local.tee $i (i32.sub (local.get $i) (i32.const 2))) (i32.const 0))))`),
    'a guard on another variable': runWith(`
      (local.set $i (i32.const 0))
      (loop $l
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_s (local.get $j) (i32.const 8))))`),
    'a guard that does not dominate the branch back': runWith(`
      (local.set $i (i32.const 0))
      (loop $l
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (block $skip
          (br_if $skip (local.get $n))
          (br_if $l (i32.lt_s (local.get $i) (i32.const 8))))
        (br $l))`),
  };
  for (const [name, wat] of Object.entries(endless)) {
    it(`stops an endless loop with ${name}`, async () => {
      const loaded = await stopping(await assemble(wat));
      assert.throws(() => loaded.call('run', 0), Stop);
    });
  }
});

describe('instrumentForInterrupts entry checks', () => {
  it('charges a helper outside any cycle at its call sites instead of checking its entry', async () => {
    const bytes = await assemble(`(module
      (func $triple (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3)))
      (func (export "run") (param i32) (result i32) (call $triple (call $triple (call $triple (local.get 0))))))`);
    const { result, checks } = await countChecks(bytes, 'run', [1]);
    assert.equal(result, 27);
    assert.equal(checks, 1);
    // run: local.get, 3 calls, end; $triple: local.get, i32.const, i32.mul, end, three times.
    assert.deepEqual((await load(bytes)).measure('run', 1), { result: 27, consumed: 5 + 3 * 4 });
  });

  it('checks the entry of functions that recurse through each other', async () => {
    const bytes = await assemble(`(module
      (func $even (param i32) (result i32) (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 1)) (else (call $odd (i32.sub (local.get 0) (i32.const 1))))))
      (func $odd (param i32) (result i32) (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0)) (else (call $even (i32.sub (local.get 0) (i32.const 1))))))
      (func (export "run") (param i32) (result i32) (call $even (local.get 0))))`);
    const { result, checks } = await countChecks(bytes, 'run', [10]);
    assert.equal(result, 1);
    assert.equal(checks, 1 + 11);
  });

  it('stops endless recursion through a table', async () => {
    const loaded = await stopping(
      await assemble(`(module
      (type $v (func))
      (table 1 funcref)
      (elem (i32.const 0) $f)
      (func $f (call_indirect (type $v) (i32.const 0)))
      (func (export "run") (call $f)))`),
      {},
      1,
    );
    assert.throws(() => loaded.call('run'), Stop);
  });

  it('stops endless recursion through an import that calls back', async () => {
    let run: Fn = () => undefined;
    const loaded = await stopping(
      await assemble(`(module
      (import "env" "back" (func $back))
      (func $g (call $back))
      (func (export "run") (call $g)))`),
      { env: { back: () => run() } },
      1,
    );
    run = loaded.exports.run as Fn;
    assert.throws(() => loaded.call('run'), Stop);
  });
});

describe('instrumentForInterrupts budget local', () => {
  const exits = `(module
    (import "env" "probe" (func $probe))
    (func (export "probe") (param $n i32) (local $i i32)
      (loop $l
        (call $probe)
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (local.get $n)))))
    (func (export "exit") (param $n i32) (local $i i32)
      (loop $l
        (br_if 1 (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (func (export "ret") (param $n i32) (result i32) (local $i i32)
      (loop $l
        (if (i32.ge_u (local.get $i) (local.get $n)) (then (return (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l))
      (unreachable))
    (func (export "pair") (param $n i32) (result i32 i32) (local $i i32)
      (loop $l
        (if (i32.ge_u (local.get $i) (local.get $n)) (then (br 2 (local.get $i) (i32.mul (local.get $i) (i32.const 2)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l))
      (unreachable)))`;

  it('writes the budget back before each call', async () => {
    const seen: number[] = [];
    let loaded: Loaded | undefined;
    loaded = await load(await assemble(exits), { env: { probe: () => seen.push(loaded!.budget.value as number) } });
    const { consumed } = loaded.measure('probe', 5);
    // probe: loop and end outside, 10 instructions inside; the import sees each iteration's charge.
    assert.deepEqual(
      seen.map((v) => FULL - v),
      [12, 22, 32, 42, 52],
    );
    assert.equal(consumed, 52);
  });

  it('writes the budget back on every way out of the function', async () => {
    const loaded = await load(await assemble(exits), { env: { probe: () => {} } });
    for (const n of [0, 1, 7]) {
      // a branch to the function's label; `return`; a branch with two values
      assert.deepEqual(loaded.measure('exit', n), { result: undefined, consumed: 2 + 10 * (n + 1) });
      assert.deepEqual(loaded.measure('ret', n), { result: n, consumed: 3 + 13 * (n + 1) });
      assert.deepEqual(loaded.measure('pair', n), { result: [n, 2 * n], consumed: 3 + 16 * (n + 1) });
    }
  });

  it('keeps charging and stops a loop whose calls throw into a handler', async () => {
    const bytes = await assembleFull(`(module
      (tag $e)
      (func $thrower (throw $e))
      (func (export "run") (param $n i32) (result i32) (local $i i32)
        (loop $l
          (try (do (call $thrower)) (catch_all))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
        (local.get $i))
      (func (export "forever")
        (loop $l
          (try (do (call $thrower)) (catch $e))
          (br $l))))`);
    const loaded = await load(bytes);
    const [ten, twenty, thirty] = [10, 20, 30].map((n) => loaded.measure('run', n));
    assert.equal(ten!.result, 10);
    assert.ok(twenty!.consumed > ten!.consumed);
    assert.equal(thirty!.consumed - twenty!.consumed, twenty!.consumed - ten!.consumed);
    const forever = await stopping(bytes);
    assert.throws(() => forever.call('forever'), Stop);
  });
});

describe('instrumentForInterrupts decoding', () => {
  it('decodes SIMD, atomics, bulk memory, saturating and sign-extension opcodes, exceptions and br_table', async () => {
    const bytes = await assembleFull(`(module
      (import "env" "seen" (func $seen (param i32)))
      (memory 1 1)
      (data $d "\\01\\02\\03\\04\\05\\06\\07\\08\\09\\0a\\0b\\0c\\0d\\0e\\0f\\10")
      (tag $oops (param i32))
      (func $simd (export "simd") (result i32)
        (v128.store (i32.const 0) (i8x16.shuffle 15 14 13 12 11 10 9 8 7 6 5 4 3 2 1 0
          (v128.const i32x4 0x04030201 0x08070605 0x0c0b0a09 0x100f0e0d) (v128.load offset=16 align=4 (i32.const 0))))
        (drop (v128.load32_zero (i32.const 0)))
        (drop (v128.load8_lane 3 (i32.const 0) (v128.const i64x2 0 0)))
        (v128.store16_lane 1 (i32.const 64) (i16x8.splat (i32.const 7)))
        (drop (f32x4.extract_lane 2 (f32x4.splat (f32.const 1.5))))
        (drop (i64x2.replace_lane 1 (v128.const i64x2 1 2) (i64.const 3)))
        (i32.add (i8x16.extract_lane_u 0 (v128.load (i32.const 0)))
          (i32x4.extract_lane 0 (i32x4.add (v128.load (i32.const 0)) (i32x4.splat (i32.const 1))))))
      (func $atomics (export "atomics") (result i32)
        (drop (i32.atomic.rmw.add offset=8 (i32.const 0) (i32.const 5)))
        (atomic.fence)
        (drop (memory.atomic.notify (i32.const 0) (i32.const 0)))
        (drop (i64.atomic.rmw.cmpxchg (i32.const 16) (i64.const 0) (i64.const 1)))
        (i32.atomic.load offset=8 (i32.const 0)))
      (func $bulk (export "bulk") (result i32)
        (memory.init $d (i32.const 100) (i32.const 0) (i32.const 16))
        (memory.copy (i32.const 200) (i32.const 100) (i32.const 16))
        (memory.fill (i32.const 300) (i32.const 9) (i32.const 4))
        (data.drop $d)
        (i32.add (i32.load8_u (i32.const 215)) (i32.load8_u (i32.const 303))))
      (func $conv (export "conv") (param f64) (result i32)
        (i32.add (i32.trunc_sat_f64_s (local.get 0)) (i32.extend8_s (i32.const 0xff))))
      (func $exceptions (export "exceptions") (param i32) (result i32)
        (try (result i32)
          (do
            (try (result i32)
              (do (if (local.get 0) (then (throw $oops (i32.const 7)))) (i32.const 1))
              (delegate 0)))
          (catch $oops (i32.add (i32.const 100)))
          (catch_all (i32.const -1))))
      (func $branches (export "branches") (param i32) (result i32)
        (block $c (block $b (block $a
          (br_table $a $b $c (local.get 0)))
          (return (i32.const 10)))
          (return (select (result i32) (i32.const 20) (i32.const 21) (local.get 0))))
        (i32.const 30)))`);
    const expected = await plain(bytes, noop);
    const loaded = await load(bytes, noop);
    const run = (e: WasmExports) => [
      (e.simd as Fn)(),
      (e.atomics as Fn)(),
      (e.bulk as Fn)(),
      (e.conv as Fn)(1e12),
      (e.conv as Fn)(-3.7),
      (e.exceptions as Fn)(0),
      (e.exceptions as Fn)(1),
      [0, 1, 2, 9].map((i) => (e.branches as Fn)(i)),
    ];
    assert.deepEqual(run(loaded.exports), run(expected));
  });

  it('passes the new try_table form through', () => {
    // try_table (empty) with `catch_all 0` and `catch_ref 0 1` clauses, then end; end.
    const m = new ModuleBuilder();
    m.addFunction({ type: { params: [], results: [] }, body: [0x1f, 0x40, 2, 0x02, 0, 0x01, 0, 1, 0x0b] });
    const out = instrumentForInterrupts(m.build());
    const code = [...out].join(',');
    assert.ok(code.includes([0x1f, 0x40, 2, 0x02, 0, 0x01, 0, 1, 0x0b, 0x0b].join(',')));
  });

  it('adds type, import, global and export sections to a module that has none', () => {
    const m = new ModuleBuilder();
    m.addFunction({ type: { params: [], results: [] }, body: [] });
    const out = instrumentForInterrupts(m.build());
    assert.ok(wasm.validate(out));
    const info = readModule(out);
    assert.deepEqual(info.imports, [{ module: 'plughost', name: 'tick', kind: 'function', typeIndex: 1, type: { params: [], results: [] } }]);
    assert.deepEqual(info.exports, [{ name: BUDGET_EXPORT, kind: 'global', index: 0 }]);
  });

  it('places tick after the existing function imports and the budget after the existing globals', async () => {
    const out = instrumentForInterrupts(
      await assemble(`(module
      (import "a" "f" (func)) (import "a" "g" (global i32)) (import "a" "h" (func))
      (global i64 (i64.const 0)) (func (export "x")))`),
    );
    const info = readModule(out);
    assert.deepEqual(
      info.imports.map((i) => `${i.module}.${i.name}`),
      ['a.f', 'a.g', 'a.h', 'plughost.tick'],
    );
    assert.deepEqual(
      info.exports.map((e) => [e.name, e.index]),
      [
        ['x', 3],
        [BUDGET_EXPORT, 2],
      ],
    );
  });

  it('refuses to instrument a module twice', async () => {
    const once = instrumentForInterrupts(await assemble(counter));
    assert.throws(() => instrumentForInterrupts(once), WasmFormatError);
  });

  const unknown: { name: string; body: number[] }[] = [
    { name: 'an unassigned one-byte opcode', body: [0x27] },
    { name: 'a garbage-collection opcode', body: [0xfb, 0x00] },
    { name: 'an unassigned 0xfc opcode', body: [0xfc, 18] },
    { name: 'an unassigned 0xfe opcode', body: [0xfe, 0x04] },
    { name: 'an opcode past relaxed SIMD', body: [0xfd, 0x80, 0x04] },
  ];
  for (const { name, body } of unknown) {
    it(`fails on ${name} with its offset`, () => {
      const m = new ModuleBuilder();
      m.addFunction({ type: { params: [], results: [] }, body: [0x01, ...body] });
      const bytes = m.build();
      assert.throws(
        () => instrumentForInterrupts(bytes),
        (err: unknown) => {
          assert.ok(err instanceof WasmFormatError);
          assert.match(err.message, /unknown opcode/);
          assert.equal(bytes[err.offset], body[0]);
          return true;
        },
      );
    });
  }

  it('fails on a body that runs past its size', () => {
    const m = new ModuleBuilder();
    m.addFunction({ type: { params: [], results: [] }, body: [0x41] }); // i32.const without its immediate
    assert.throws(() => instrumentForInterrupts(m.build()), WasmFormatError);
  });
});

describe('instrumentForInterrupts bulk memory, tables and grows', () => {
  const bulk = `
  (module
    (memory (export "memory") 40)
    (table $t 1 funcref)
    (func (export "fill") (param i32) (memory.fill (i32.const 0) (i32.const 1) (local.get 0)))
    (func (export "copy") (param i32) (memory.copy (i32.const 0) (i32.const 16) (local.get 0)))
    (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
    (func (export "tableFill") (param i32) (table.fill $t (i32.const 0) (ref.null func) (local.get 0))))`;

  it('charges fills and copies one unit per 16 bytes, table elements one unit each, grows by their size', async () => {
    const l = await load(await assemble(bulk));
    const cost = (name: string, n: number): number => l.measure(name, n).consumed;
    assert.equal(cost('fill', 16_000) - cost('fill', 0), 1000);
    assert.equal(cost('copy', 32_000) - cost('copy', 0), 2000);
    // a fill over the 1 MiB chunk costs the same in pieces
    assert.equal(cost('fill', 2_000_000) - cost('fill', 0), 125_000);
    assert.equal(cost('tableFill', 1) - cost('tableFill', 0), 1);
    assert.equal(cost('grow', 1) - cost('grow', 0), 4096);
  });

  it('stops a fill the budget cannot pay before it writes a byte', async () => {
    const stop = new Error('out of budget');
    const l = await load(await assemble(bulk), {}, (loaded) => {
      if ((loaded.budget.value as number) < 0) throw stop;
    });
    l.budget.value = 100; // far less than 1 MiB / 16
    assert.throws(() => l.call('fill', 1 << 20), stop);
    const memory = new Uint8Array((l.exports.memory as { buffer: ArrayBuffer }).buffer);
    assert.equal(memory.indexOf(1), -1, 'nothing was filled');
  });

  it('checks between the chunks of a long fill, so a tick can stop it part way', async () => {
    let ticks = 0;
    const stop = new Error('enough');
    const l = await load(await assemble(bulk), {}, (loaded) => {
      if (++ticks === 2) throw stop;
      loaded.budget.value = 40_000; // less than one 1 MiB chunk: every chunk ticks
    });
    l.budget.value = 40_000;
    assert.throws(() => l.call('fill', 40 * 65536), stop);
    const memory = new Uint8Array((l.exports.memory as { buffer: ArrayBuffer }).buffer);
    assert.equal(memory[0], 1, 'the first chunks ran');
    assert.equal(memory[memory.length - 1], 0, 'the last did not');
  });

  it('keeps an out-of-bounds fill a trap that writes nothing, chunked or not', async () => {
    const l = await load(await assemble(bulk));
    const memory = new Uint8Array((l.exports.memory as { buffer: ArrayBuffer }).buffer);
    assert.throws(() => l.call('fill', memory.length + 1), /out of bounds/);
    assert.equal(memory.indexOf(1), -1);
  });
});

describe('instrumentForInterrupts long table operations', () => {
  const tables = `
  (module
    (table $e (export "table") 200000 externref)
    (func (export "copy") (param i32 i32 i32) (table.copy $e $e (local.get 0) (local.get 1) (local.get 2)))
    (func (export "fill") (param i32 i32) (table.fill $e (local.get 0) (ref.null extern) (local.get 1))))`;

  it('copy and fill in chunks exactly like the originals: overlapping both ways, out of bounds', async () => {
    const bytes = await assemble(tables);
    const plainExports = await plain(bytes);
    const l = await load(bytes);
    type Table = { length: number; get(i: number): unknown; set(i: number, v: unknown): void };
    const ids = (exports: Record<string, unknown>): number[] => {
      const table = exports.table as Table;
      return Array.from({ length: table.length }, (_, i) => (table.get(i) as { id: number } | null)?.id ?? -1);
    };
    for (const exports of [plainExports, l.exports]) {
      const table = exports.table as Table;
      for (let i = 0; i < table.length; i++) table.set(i, { id: i });
    }
    const steps: [string, number[]][] = [
      ['copy', [10, 0, 150_000]], // destination above the source: backwards
      ['copy', [0, 7, 150_000]], // below: forwards
      ['fill', [1000, 100_000]],
      ['copy', [100_000, 0, 100_001]], // one past the end: traps, copies nothing
      ['fill', [199_999, 70_000]], // past the end: traps, fills nothing
    ];
    for (const [name, args] of steps) {
      const expected = describeRun(() => (plainExports[name] as Fn)(...args));
      const actual = describeRun(() => l.call(name, ...args));
      assert.equal(actual, expected, `${name}(${args})`);
      assert.deepEqual(ids(l.exports), ids(plainExports), `${name}(${args}): table contents`);
    }
    assert.equal(l.measure('fill', 0, 150_000).consumed > 150_000, true, 'charged per element');
  });
});

function describeRun(run: () => unknown): string {
  try {
    return `ok ${String(run())}`;
  } catch (err) {
    return `threw ${(err as Error).message}`;
  }
}

describe('instrumentForInterrupts atomic waits', () => {
  const shared = async (source: string): Promise<Uint8Array> => {
    const wasm = await assembleFull(source);
    const at = Buffer.from(wasm).indexOf(Buffer.from([0x05, 0x04, 0x01, 0x01, 0x01, 0x01]));
    wasm[at + 3] = 0x03; // the memory made shared: the WAT assembler here refuses `shared`
    return wasm;
  };
  const waits = `(module (memory 1 1)
    (func (export "wait32") (param i32 i64) (result i32) (memory.atomic.wait32 (i32.const 0) (local.get 0) (local.get 1)))
    (func (export "wait64") (param i64 i64) (result i32) (memory.atomic.wait64 (i32.const 8) (local.get 0) (local.get 1))))`;

  it('answer as the originals: not equal, timed out (at once, within a slice, over several)', async () => {
    const bytes = await shared(waits);
    const original = await plain(bytes);
    const l = await load(bytes);
    const cases: [string, unknown[]][] = [
      ['wait32', [1, 5_000_000n]], // not equal: 1
      ['wait32', [0, 0n]], // timed out at once: 2
      ['wait32', [0, 300_000n]],
      ['wait32', [0, 2_500_000n]], // three slices
      ['wait64', [7n, 1n]],
      ['wait64', [0n, 1_200_000n]],
    ];
    for (const [name, args] of cases) {
      const expected = describeRun(() => (original[name] as (...a: unknown[]) => unknown)(...args));
      const actual = describeRun(() => (l.exports[name] as (...a: unknown[]) => unknown)(...args));
      assert.equal(actual, expected, `${name}(${args})`);
    }
  });

  it('charge a wait by its slices and tick between them, so a wait forever can be stopped', async () => {
    const stop = new Error('stop waiting');
    let ticks = 0;
    const l = await load(await shared(waits), {}, (loaded) => {
      if (++ticks === 3) throw stop;
      loaded.budget.value = 10;
    });
    l.budget.value = 10;
    assert.throws(() => (l.exports.wait32 as (a: number, b: bigint) => number)(0, -1n), stop);
  });
});
