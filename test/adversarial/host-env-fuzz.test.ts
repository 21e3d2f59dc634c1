// Random handles and lengths to every extism:host/env function, from inside a real plug-in:
// a guest that runs a list of (function, argument, argument) records, where an argument may
// also be the previous call's result (so live handles, just freed ones and garbage mix).
// Whatever it passes, a call ends with an output or a PlughostError, the host never crashes
// or hangs, and the plug-in answers afterwards. Runs in a child bounded in time and memory.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HOST_ENV_SIGNATURES } from '../../src/internal/host-env.js';
import { KERNEL_SIGNATURES } from '../../src/internal/kernel/kernel.js';
import { assemble, libraryUrl, runBounded } from '../helpers.js';

type Signature = { readonly params: readonly ('i32' | 'i64')[]; readonly results: readonly ('i32' | 'i64')[] };
const FUNCTIONS = Object.entries({ ...KERNEL_SIGNATURES, ...HOST_ENV_SIGNATURES }) as [string, Signature][];
/** An argument with this value is replaced by the previous call's result. */
const PREVIOUS = 0xffff_ffff_ffff_fff0n;

/** The guest: copies its input (24-byte records) to memory, then dispatches each record. */
function fuzzGuestWat(): string {
  const imports = FUNCTIONS.map(([name, s]) => {
    const params = s.params.length ? ` (param ${s.params.join(' ')})` : '';
    const results = s.results.length ? ` (result ${s.results.join(' ')})` : '';
    return `(import "extism:host/env" "${name}" (func $${name}${params}${results}))`;
  });
  const hasOwn = new Set(FUNCTIONS.map(([name]) => name));
  for (const [name, sig] of [
    ['input_length', '(result i64)'],
    ['input_load_u64', '(param i64) (result i64)'],
  ] as const) {
    if (!hasOwn.has(name)) imports.push(`(import "extism:host/env" "${name}" (func $${name} ${sig}))`);
  }
  const arg = (type: string, local: string) => (type === 'i64' ? `(local.get ${local})` : `(i32.wrap_i64 (local.get ${local}))`);
  const calls = FUNCTIONS.map(([name, s]) => {
    const args = s.params.map((t, i) => arg(t, i === 0 ? '$a' : '$b')).join(' ');
    const call = `(call $${name} ${args})`;
    if (s.results.length === 0) return call;
    return s.results[0] === 'i64' ? `(local.set $last ${call})` : `(local.set $last (i64.extend_i32_u ${call}))`;
  });
  let dispatch = `(br_table ${FUNCTIONS.map((_, i) => `$c${i}`).join(' ')} $c0 (i32.wrap_i64 (i64.rem_u (local.get $op) (i64.const ${FUNCTIONS.length}))))`;
  for (let i = 0; i < FUNCTIONS.length; i++) dispatch = `(block $c${i} ${dispatch}) ${calls[i]} (br $next)`;
  return `(module
    ${imports.join('\n    ')}
    (memory (export "memory") 2)
    (func (export "fuzz") (result i32)
      (local $n i64) (local $i i64) (local $p i32) (local $op i64) (local $a i64) (local $b i64) (local $last i64)
      (local.set $n (call $input_length))
      (if (i64.gt_u (local.get $n) (i64.const 65536)) (then (return (i32.const 2))))
      (block $copied (loop $copy
        (br_if $copied (i64.ge_u (local.get $i) (local.get $n)))
        (i64.store (i32.wrap_i64 (local.get $i)) (call $input_load_u64 (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 8)))
        (br $copy)))
      (block $done (loop $next
        (br_if $done (i64.gt_u (i64.add (i64.extend_i32_u (local.get $p)) (i64.const 24)) (local.get $n)))
        (local.set $op (i64.load (local.get $p)))
        (local.set $a (i64.load offset=8 (local.get $p)))
        (local.set $b (i64.load offset=16 (local.get $p)))
        (local.set $p (i32.add (local.get $p) (i32.const 24)))
        (if (i64.eq (local.get $a) (i64.const ${BigInt.asIntN(64, PREVIOUS)})) (then (local.set $a (local.get $last))))
        (if (i64.eq (local.get $b) (i64.const ${BigInt.asIntN(64, PREVIOUS)})) (then (local.set $b (local.get $last))))
        ${dispatch}))
      (i32.const 0)))`;
}

/** The child: many calls of random records on one plug-in per set of options. */
const CHILD = (wasmPath: string, calls: number, options: string) => `
  const { createPlugin, PlughostError } = await import(${JSON.stringify(libraryUrl)});
  const { readFileSync } = await import('node:fs');
  const wasm = readFileSync(${JSON.stringify(wasmPath)});
  const PREVIOUS = ${PREVIOUS}n;
  const HOSTILE = [0n, 1n, 7n, 8n, 16n, 24n, 0xffffn, 0x10000n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n,
    2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 64n - 16n, PREVIOUS, PREVIOUS, PREVIOUS];
  let state = 0x2545f491;
  const next = () => { state ^= state << 13; state >>>= 0; state ^= state >>> 17; state ^= state << 5; state >>>= 0; return state; };
  const value = () => {
    const roll = next() % 4;
    if (roll === 0) return BigInt(next()) << 32n | BigInt(next());
    if (roll === 1) return BigInt(next() % 4096);
    return HOSTILE[next() % HOSTILE.length];
  };
  const seen = {};
  const lines = [];
  const plugin = await createPlugin(wasm, { config: { key: 'value' }, logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {} }, logLevel: 'trace', ...${options} });
  for (let c = 0; c < ${calls}; c++) {
    const records = 1 + (next() % 40);
    const input = new DataView(new ArrayBuffer(records * 24));
    for (let r = 0; r < records; r++) {
      input.setBigUint64(r * 24, BigInt(next()), true);
      input.setBigUint64(r * 24 + 8, value(), true);
      input.setBigUint64(r * 24 + 16, value(), true);
    }
    try {
      await plugin.call('fuzz', new Uint8Array(input.buffer));
      seen.ok = (seen.ok ?? 0) + 1;
    } catch (err) {
      if (!(err instanceof PlughostError)) throw new Error('call ' + c + ' failed with a ' + err?.constructor?.name + ', not a PlughostError: ' + err?.stack);
      seen[err.constructor.name] = (seen[err.constructor.name] ?? 0) + 1;
    }
  }
  const again = await plugin.call('fuzz', new Uint8Array(0));
  if (again !== null) throw new Error('the plug-in does not answer as before after the fuzzing');
  await plugin.close();
  console.log(JSON.stringify(seen));`;

describe('random handles to every extism:host/env function', () => {
  const dir = mkdtempSync(join(tmpdir(), 'plughost-env-fuzz-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const wasmPath = join(dir, 'fuzz.wasm');
  const variants: [string, number, string][] = [
    ['on the main thread', 1500, '{}'],
    ['with memory capped at 64 pages and small vars', 1500, '{ memory: { maxPages: 64, maxVarBytes: 4096 } }'],
    ['instrumented for a timeout', 800, '{ timeoutMs: 5000 }'],
    ['in a worker', 400, '{ runInWorker: true }'],
  ];
  for (const [label, calls, options] of variants) {
    it(`end in an output or a PlughostError ${label}, and the plug-in answers afterwards`, async (t) => {
      writeFileSync(wasmPath, await assemble(fuzzGuestWat()));
      const run = await runBounded(CHILD(wasmPath, calls, options), { timeoutMs: 120_000, maxRssMb: 1024 });
      const seen = JSON.parse(run.stdout) as Record<string, number>;
      t.diagnostic(`outcomes: ${run.stdout.trim()}`);
      const total = Object.values(seen).reduce((a, b) => a + b, 0);
      if (total !== calls) throw new Error(`ran ${total} of ${calls} calls: ${run.stdout}`);
    });
  }
});
