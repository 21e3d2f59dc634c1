// Fuzzing the reader, the memory rewrites and the instrumentation: thousands of mutations
// (bit flips, inserted, deleted and overwritten bytes, truncations, swapped sections, edited
// LEB128 numbers) of real modules, from a fixed seed and within a time budget. Each one must
// either come out as a module that still validates (when the mutated input did) or fail with
// a typed error; never another exception, never a hang (the loop runs in a child process
// killed at a hard bound).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createPlugin } from '../../src/index.js';
import { assemble, repoRoot } from '../helpers.js';
import { assembleFull } from './wat.js';

const child = join(dirname(fileURLToPath(import.meta.url)), 'fuzz-child.js');
const scratch = mkdtempSync(join(tmpdir(), 'plughost-fuzz-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const SEED = 20261204;
const MUTATIONS = 12_000;
const TIME_BUDGET_MS = 20_000;
const HARD_BOUND_MS = 120_000;

// Every construct the instrumentation treats specially, so mutations land near them.
const FEATURES = `
(module
  (type $pair (func (result i32 i32)))
  (import "env" "host" (func $host (param i32) (result i32)))
  (memory 1 10)
  (table $t 4 funcref)
  (table $e 2 externref)
  (global $g (mut i32) (i32.const 0))
  (tag $oops (param i32))
  (data $d "hello")
  (elem $el func $leaf $pair)
  (func $leaf (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func $pair (type $pair) (i32.const 1) (i32.const 2))
  (func $rec (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
      (else (call $rec (i32.sub (local.get 0) (i32.const 1))))))
  (func (export "bulk") (param i32)
    (memory.fill (i32.const 0) (i32.const 1) (local.get 0))
    (memory.copy (i32.const 10) (i32.const 0) (local.get 0))
    (memory.init $d (i32.const 0) (i32.const 0) (i32.const 5))
    (data.drop $d)
    (table.init $t $el (i32.const 0) (i32.const 0) (i32.const 2))
    (table.copy $t $t (i32.const 2) (i32.const 0) (i32.const 2))
    (table.fill $t (i32.const 0) (ref.null func) (i32.const 1))
    (drop (table.grow $e (ref.null extern) (i32.const 1)))
    (drop (memory.grow (i32.const 1))))
  (func (export "loops") (param $n i32) (result i32) (local $i i32) (local $s i32)
    (local.set $i (i32.const 0))
    (block $done (loop $l
      (br_if $done (i32.ge_s (local.get $i) (i32.const 100)))
      (local.set $s (i32.add (local.get $s) (call $leaf (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (loop $m (local.set $n (i32.sub (local.get $n) (i32.const 1))) (br_if $m (i32.gt_s (local.get $n) (i32.const 0))))
    (block $a (block $b (br_table $a $b (local.get $s))))
    (drop (call_indirect (param i32) (result i32) (i32.const 7) (i32.const 0)))
    (i32.add (local.get $s) (call $rec (i32.const 3))))
  (func (export "exceptions") (param i32) (result i32)
    (try (result i32)
      (do (if (local.get 0) (then (throw $oops (i32.const 5)))) (i32.const 1))
      (catch $oops)
      (catch_all (i32.const 2))))
  (func (export "tail") (param i32) (result i32) (return_call $leaf (local.get 0)))
  (func (export "multi") (param i32) (result i32 i32)
    (loop $l (if (local.get 0) (then (br 2 (call $pair)))) (local.set 0 (i32.const 1)) (br $l))
    (unreachable))
  (start $start)
  (func $start (global.set $g (call $host (i32.const 1)))))
`;

function modulePaths(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.wasm'))
      .map((f) => join(dir, f));
  } catch {
    return [];
  }
}

// The merge of the kernel is checked against the engine (does a merged module validate
// exactly when its input did) only where the engine has multi-memory.
const node26 = join(repoRoot, 'runtimes/node_modules/node26/bin/node');

async function fuzz(node: string) {
  const features = join(scratch, 'features.wasm');
  writeFileSync(features, await assembleFull(FEATURES));
  const corpus = [features, ...modulePaths(join(repoRoot, 'build/plugins')), ...modulePaths(join(repoRoot, 'build/fixtures'))];
  assert.ok(corpus.length > 5, 'the build made the plug-ins and fixtures');
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      node,
      [child, String(SEED), String(MUTATIONS), String(TIME_BUDGET_MS), ...corpus],
      { timeout: HARD_BOUND_MS, killSignal: 'SIGKILL', maxBuffer: 16 << 20 },
      (err, out, stderr) => (err ? reject(new Error(`the fuzz loop did not finish within ${HARD_BOUND_MS} ms: ${err.message} ${stderr}`)) : resolve(out)),
    );
  });
  const result = JSON.parse(stdout) as { ran: number; instrumented: number; merged: number; multiMemory: boolean; failures: string[]; failureCount: number };
  assert.deepEqual(result.failures, [], `${result.failureCount} failures`);
  assert.ok(result.ran >= 1000, `only ${result.ran} mutations ran`);
  assert.ok(result.instrumented > 100, `only ${result.instrumented} mutations were instrumented`);
  assert.ok(result.merged > 100, `only ${result.merged} mutations had the kernel merged in`);
  return result;
}

describe('fuzzed modules', () => {
  it(`give a valid module or a typed error, never a crash or a hang, nor a merged kernel the plug-in reaches (seed ${SEED})`, async () => {
    await fuzz(process.execPath);
  });

  it('merged with the kernel, validate exactly when they did before (Node 26: multi-memory)', {
    skip: existsSync(node26) ? false : 'runtimes/ has no Node 26',
  }, async () => {
    const result = await fuzz(node26);
    assert.equal(result.multiMemory, true);
  });
});

describe('a malformed module through the public API', () => {
  it('is a WasmSourceError with timeoutMs set (the instrumented path), not a TypeError from the rewriter', async () => {
    const wasm = await assemble('(module (func (export "f") (call 0) (call 0)))');
    // the second `call 0` made a call of function 5, which does not exist
    const at = wasm.lastIndexOf(0x10);
    assert.equal(wasm[at + 1], 0);
    wasm[at + 1] = 5;
    for (const options of [{ timeoutMs: 1000 }, { fuel: 1000 }, {}]) {
      await assert.rejects(createPlugin(wasm, options), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'PLUGHOST_WASM_SOURCE', `${JSON.stringify(options)}: ${err.stack}`);
        return true;
      });
    }
  });
});
