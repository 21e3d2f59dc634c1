// Random but terminating WAT programs from a seed, for the differential test: arithmetic,
// loads and stores, bounded and data-dependent loops, if/else, br_if, br_table, direct,
// recursive and indirect calls, globals, bulk memory (including fills and copies longer than
// the instrumentation's chunk, overlapping and out of bounds), memory.grow and traps.
import { prng } from './mutations.js';

const MEMORY_PAGES = 48; // 3 MiB: room for copies over the 1 MiB chunk
const BINOPS = [
  'i32.add',
  'i32.sub',
  'i32.mul',
  'i32.and',
  'i32.or',
  'i32.xor',
  'i32.shl',
  'i32.shr_u',
  'i32.shr_s',
  'i32.rotl',
  'i32.eq',
  'i32.lt_s',
  'i32.gt_u',
];

/** A module of `functions` exported functions `f0..`, each `(param i32 i32) (result i32)`, and `init`, which fills the memory with a pattern. */
export function generateProgram(seed: number, functions = 6): string {
  const random = prng(seed);
  const pick = (n: number): number => Math.floor(random() * n);
  const chance = (p: number): boolean => random() < p;
  let labels = 0;
  // Calls only outside loops and at most two a function, so that the call tree stays small.
  let callsLeft = 0;

  const expr = (fn: number, depth: number, loops: number): string => {
    const locals = ['$a', '$b', '$x', ...Array.from({ length: loops }, (_, i) => `$i${i}`)];
    if (depth <= 0 || chance(0.3)) {
      switch (pick(4)) {
        case 0:
          return `(i32.const ${pick(2) ? pick(256) : pick(2 ** 32) | 0})`;
        case 1:
          return '(global.get $g)';
        default:
          return `(local.get ${locals[pick(locals.length)]})`;
      }
    }
    switch (pick(6)) {
      case 0:
        return `(i32.load (i32.and ${expr(fn, depth - 1, loops)} (i32.const 0xfffc)))`;
      case 1:
        return '(memory.size)';
      case 2:
        return `(i32.eqz ${expr(fn, depth - 1, loops)})`;
      default:
        return `(${BINOPS[pick(BINOPS.length)]} ${expr(fn, depth - 1, loops)} ${expr(fn, depth - 1, loops)})`;
    }
  };

  const statements = (fn: number, count: number, loops: number, nesting: number): string => {
    const out: string[] = [];
    for (let s = 0; s < count; s++) out.push(statement(fn, loops, nesting));
    return out.join('\n');
  };

  const statement = (fn: number, loops: number, nesting: number): string => {
    const e = (d = 2): string => expr(fn, d, loops);
    const kind = pick(nesting > 2 ? 8 : 14);
    switch (kind) {
      case 0:
      case 1:
        return `(local.set $x ${e(3)})`;
      case 2:
        return `(global.set $g ${e()})`;
      case 3:
        return `(i32.store (i32.and ${e()} (i32.const 0xfffc)) ${e()})`;
      case 4:
        return `(if ${e()} (then ${statements(fn, 1 + pick(3), loops, nesting + 1)}) (else ${statements(fn, pick(3), loops, nesting + 1)}))`;
      case 5: {
        // a call down the chain (no cycles), or a bounded recursion
        if (loops > 0 || callsLeft === 0) return `(local.set $x ${e()})`;
        callsLeft--;
        if (fn + 1 < functions && chance(0.7)) return `(local.set $x (call $f${fn + 1 + pick(functions - fn - 1)} ${e()} ${e()}))`;
        return `(if (i32.gt_s (local.get $a) (i32.const 0)) (then (local.set $x (i32.add (local.get $x) (call $f${fn} (i32.sub (local.get $a) (i32.const 1)) ${e()})))))`;
      }
      case 6: {
        // small bulk memory, anywhere
        const len = `(i32.and ${e()} (i32.const 0x3ff))`;
        return chance(0.5)
          ? `(memory.fill (i32.and ${e()} (i32.const 0xffff)) ${e()} ${len})`
          : `(memory.copy (i32.and ${e()} (i32.const 0xffff)) (i32.and ${e()} (i32.const 0xffff)) ${len})`;
      }
      case 7: {
        // a trap now and then
        return chance(0.3) ? `(drop (i32.div_s ${e()} ${e()}))` : `(local.set $x (i32.rem_u ${e()} (i32.or ${e()} (i32.const 1))))`;
      }
      case 8:
      case 9: {
        // a loop with a constant trip count
        const i = `$i${loops}`;
        const label = `$l${labels++}`;
        return `(local.set ${i} (i32.const 0))
          (loop ${label} ${statements(fn, 1 + pick(3), loops + 1, nesting + 1)}
            (local.set ${i} (i32.add (local.get ${i}) (i32.const 1)))
            (br_if ${label} (i32.lt_s (local.get ${i}) (i32.const ${1 + pick(8)}))))`;
      }
      case 10: {
        // a loop bounded by data
        const i = `$i${loops}`;
        const exit = `$b${labels}`;
        const label = `$l${labels++}`;
        return `(local.set ${i} (i32.and ${e()} (i32.const 7)))
          (block ${exit} (loop ${label}
            (br_if ${exit} (i32.eqz (local.get ${i})))
            ${statements(fn, 1 + pick(3), loops + 1, nesting + 1)}
            (local.set ${i} (i32.sub (local.get ${i}) (i32.const 1)))
            (br ${label})))`;
      }
      case 11: {
        // br_table
        const a = `$t${labels++}`;
        const b = `$t${labels++}`;
        return `(block ${a} (block ${b} (br_table ${a} ${b} ${a} ${e()}) ) ${statement(fn, loops, nesting + 1)})`;
      }
      case 12: {
        // large bulk memory or a grow, outside loops only
        if (loops > 0) return `(local.set $x ${e()})`;
        switch (pick(4)) {
          case 0:
            return `(memory.fill (i32.and ${e()} (i32.const 0x1fffff)) ${e()} (i32.and ${e()} (i32.const 0x1fffff)))`;
          case 1:
            return `(memory.copy (i32.and ${e()} (i32.const 0x1fffff)) (i32.and ${e()} (i32.const 0x1fffff)) (i32.and ${e()} (i32.const 0x1fffff)))`;
          case 2:
            return `(memory.copy (i32.const ${pick(0x1000)}) (i32.const ${pick(0x1000)}) (i32.const ${0x100000 + pick(0x100000)}))`;
          default:
            return `(local.set $x (memory.grow (i32.and ${e()} (i32.const 1))))`;
        }
      }
      default: {
        // an indirect call further down the chain
        if (fn + 1 >= functions || loops > 0 || callsLeft === 0) return `(local.set $x ${e()})`;
        callsLeft--;
        return `(local.set $x (call_indirect (type $sig) ${e()} ${e()} (i32.const ${fn + 1 + pick(functions - fn - 1)})))`;
      }
    }
  };

  const bodies: string[] = [];
  for (let fn = 0; fn < functions; fn++) {
    callsLeft = 2;
    bodies.push(`(func $f${fn} (export "f${fn}") (type $sig) (param $a i32) (param $b i32) (result i32) (local $x i32) (local $i0 i32) (local $i1 i32) (local $i2 i32) (local $i3 i32)
      (local.set $a (i32.and (local.get $a) (i32.const 3)))
      ${statements(fn, 3 + pick(6), 0, 0)}
      (i32.add (local.get $x) (global.get $g)))`);
  }
  return `(module
    (type $sig (func (param $a i32) (param $b i32) (result i32)))
    (memory (export "memory") ${MEMORY_PAGES})
    (global $g (export "global") (mut i32) (i32.const 0))
    (table ${functions} funcref)
    (elem (i32.const 0) ${Array.from({ length: functions }, (_, i) => `$f${i}`).join(' ')})
    ;; memory that is not all zeros, so that a copy in the wrong order shows
    (func (export "init") (local $i i32)
      (loop $l
        (i32.store (local.get $i) (i32.mul (local.get $i) (i32.const 0x9e3779b1)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br_if $l (i32.lt_u (local.get $i) (i32.const ${MEMORY_PAGES * 65536})))))
    ${bodies.join('\n')})`;
}
