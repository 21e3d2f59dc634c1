// Shapes of real plug-ins, found by running modules nobody here built (docs/COMPATIBILITY.md,
// "Real plug-ins from the Extism SDKs' own test suites"), replayed as small WAT modules.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run } from '../src/cli/run.js';
import { type CallContext, createPlugin, LinkError, type Plugin, PluginCallError } from '../src/index.js';
import { assemble, Capture } from './helpers.js';
import { E, startGuest } from './wasi/guest.js';

// The imports of a TinyGo or Rust plug-in built with an Extism PDK before 1.0 (as
// extism/extism-sqlite3, extism/automator-demo and mhmd-azeez/extism-space-commander still ship
// them): the ABI in namespace "env" with an `extism_` prefix, next to one of the application's
// own host functions, also in "env".
const PRE_1_0_PLUGIN = `(module
  (import "env" "extism_input_length" (func (result i64)))
  (import "env" "extism_alloc" (func (param i64) (result i64)))
  (import "env" "extism_output_set" (func (param i64 i64)))
  (import "env" "host_function" (func (param i64) (result i64)))
  (func (export "count_vowels") (result i32) (i32.const 0)))`;

// A standard Go (GOOS=wasip1) plug-in can export only `_start`, so its `main` runs every function
// (mhmd-azeez/extism_std_go_module_closed_repro): one sets an error, a later one sets the output,
// then `main` returns and the Go runtime exits with code 0. The reference host fails such a call
// with the error: an exit code of 0 is a success only when no error is set.
const STD_GO_COMMAND = `(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "error_set" (func $error_set (param i64)))
  (memory 1)
  (data (i32.const 0) "invalid character 'H'")
  (global $runs (mut i32) (i32.const 0))
  (func $message (result i64) (local $h i64) (local $i i32)
    (local.set $h (call $alloc (i64.const 21)))
    (block $done (loop $copy
      (br_if $done (i32.ge_u (local.get $i) (i32.const 21)))
      (call $store_u8 (i64.add (local.get $h) (i64.extend_i32_u (local.get $i))) (i32.load8_u (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $copy)))
    (local.get $h))
  (func (export "_start")
    (global.set $runs (i32.add (global.get $runs) (i32.const 1)))
    ;; "Hello" (5 bytes) is no JSON: the first function sets an error, the last one an output
    (if (i64.eq (call $input_length) (i64.const 5)) (then (call $error_set (call $message))))
    (call $output_set (call $input_offset) (call $input_length))
    (call $proc_exit (i32.const 0)))
  (func (export "runs") (result i32) (global.get $runs)))`;

// A plug-in that tests another (dylibso/xtp-test-js, xtp-test-go): its `xtp:test/harness` host
// functions are async, call the plug-in under test from inside the test plug-in's call, and
// `reset` closes that plug-in and makes a new one while the test plug-in waits.
const COUNTER = `(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (global $count (mut i32) (i32.const 0))
  (func (export "count") (local $h i64)
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (local.set $h (call $alloc (i64.const 1)))
    (call $store_u8 (local.get $h) (i32.add (i32.const 48) (global.get $count)))
    (call $output_set (local.get $h) (i64.const 1))))`;
const TESTER = `(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "load_u8" (func $load_u8 (param i64) (result i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "xtp:test/harness" "call" (func $call (param i64 i64) (result i64)))
  (import "xtp:test/harness" "reset" (func $reset))
  (memory 1)
  (data (i32.const 0) "count")
  (func $count (result i32) (local $name i64) (local $i i32)
    (local.set $name (call $alloc (i64.const 5)))
    (block $done (loop $copy
      (br_if $done (i32.ge_u (local.get $i) (i32.const 5)))
      (call $store_u8 (i64.add (local.get $name) (i64.extend_i32_u (local.get $i))) (i32.load8_u (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $copy)))
    (call $load_u8 (call $call (local.get $name) (i64.const 0))))
  (func (export "test") (result i32) (local $out i64)
    (local.set $out (call $alloc (i64.const 3)))
    (call $store_u8 (local.get $out) (call $count))
    (call $store_u8 (i64.add (local.get $out) (i64.const 1)) (call $count))
    (call $reset)
    (call $store_u8 (i64.add (local.get $out) (i64.const 2)) (call $count))
    (call $output_set (local.get $out) (i64.const 3))
    (i32.const 0)))`;
const JSPI =
  typeof (WebAssembly as unknown as { Suspending?: unknown }).Suspending === 'function' &&
  typeof (WebAssembly as unknown as { promising?: unknown }).promising === 'function';

describe('real plug-in shapes', () => {
  let dir: string;
  let preOnePath: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'plughost-real-shapes-'));
    preOnePath = join(dir, 'pre-1.0.wasm');
    await writeFile(preOnePath, await assemble(PRE_1_0_PLUGIN));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('says a plug-in built for the Extism ABI before 1.0 needs rebuilding with a 1.x PDK, naming its imports', async () => {
    const bytes = await assemble(PRE_1_0_PLUGIN);
    await assert.rejects(createPlugin(bytes), (err: unknown) => {
      assert.ok(err instanceof LinkError, String(err));
      assert.deepEqual(err.missing, ['env.extism_input_length', 'env.extism_alloc', 'env.extism_output_set', 'env.host_function']);
      assert.match(err.message, /missing import env\.extism_input_length; .*missing import env\.host_function/);
      assert.match(err.message, /env\.extism_\* .*before 1\.0.*rebuild the plug-in with a 1\.x PDK/);
      return true;
    });
  });

  it('gives no such hint when no import is of the ABI before 1.0', async () => {
    const bytes = await assemble(`(module (import "env" "host_function" (func (param i64) (result i64))))`);
    await assert.rejects(createPlugin(bytes), (err: unknown) => {
      assert.ok(err instanceof LinkError, String(err));
      assert.doesNotMatch(err.message, /before 1\.0/);
      return true;
    });
  });

  it('fails a _start that set an error and exited with 0, with that error; the next _start runs on a new instance', async () => {
    const plugin = await createPlugin(await assemble(STD_GO_COMMAND), { useWasi: true });
    await assert.rejects(plugin.call('_start', 'Hello'), (err: unknown) => {
      assert.ok(err instanceof PluginCallError, String(err));
      assert.equal(err.message, "invalid character 'H'");
      return true;
    });
    assert.equal((await plugin.call('_start', '{"input":"x"}'))?.text(), '{"input":"x"}');
    // `runs` returns how many _start calls its instance saw (non-zero fails the call): none
    assert.equal(await plugin.call('runs'), null);
    await plugin.close();
  });

  // extism/lean4-sdk's extproc.wasm reads /proc/self/status and /proc/meminfo through
  // allowed_paths { "/proc": "/proc" }: files whose size is 0 and whose text is made on reading.
  it('reads a /proc file, whose size says 0, to its end', { skip: process.platform !== 'linux' }, async () => {
    const guest = await startGuest({ mounts: [{ hostPath: '/proc', guestPath: '/proc', readOnly: true }] });
    const [errno, fd] = guest.open(3, 'self/status');
    assert.equal(errno, E.SUCCESS);
    const stat = guest.alloc(64);
    assert.equal(guest.call('fd_filestat_get', fd, stat), E.SUCCESS);
    assert.equal(guest.u64(stat + 32), 0n, 'the size /proc reports');
    const [readErrno, text] = guest.readAll(fd);
    assert.equal(readErrno, E.SUCCESS);
    assert.match(text, /^Name:\t.+\n/);
    assert.match(text, /\nVmRSS:/);
  });

  for (const [where, runInWorker, skip] of [
    ['on this thread', false, JSPI ? false : 'this engine has no JSPI (WebAssembly.Suspending / promising)'],
    ['in a worker', true, false],
  ] as const) {
    it(`runs a plug-in whose async host functions call, then reset, another plug-in, ${where}`, { skip }, async () => {
      const counterBytes = await assemble(COUNTER);
      let underTest: Plugin = await createPlugin(counterBytes);
      const harness = {
        async call(context: CallContext, name: bigint, input: bigint) {
          const output = await underTest.call(context.read(name)?.text() ?? '', context.read(input)?.bytes());
          return context.store(output?.bytes() ?? '');
        },
        async reset() {
          await underTest.close();
          underTest = await createPlugin(counterBytes);
        },
      };
      const tester = await createPlugin(await assemble(TESTER), { runInWorker, functions: { 'xtp:test/harness': harness } });
      try {
        // the counter counted 1, 2, then 1 again after the reset
        assert.equal((await tester.call('test'))?.text(), '121');
        assert.equal((await tester.call('test'))?.text(), '231');
      } finally {
        await tester.close();
        await underTest.close();
      }
    });
  }

  it('on the command line, says it once, as a hint of its own', async () => {
    const stdout = new Capture();
    const stderr = new Capture();
    const status = await run(['call', preOnePath, 'count_vowels'], { stdout, stderr });
    assert.equal(status, 3);
    const lines = stderr.text().split('\n');
    assert.match(lines[0] ?? '', /^Error: cannot link the plug-in: missing import env\.extism_input_length; .*env\.host_function$/);
    assert.equal(stderr.text().match(/before 1\.0|pre-1\.0/g)?.length, 1, stderr.text());
    assert.match(stderr.text(), /\nhint: env\.extism_input_length, .*pre-1\.0 Extism ABI; rebuild it with a current PDK\n/);
  });
});
