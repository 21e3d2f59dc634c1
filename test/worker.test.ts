// runInWorker: the plug-in in a worker thread, host functions on this thread (sync or async),
// and everything of the core working the same; timeouts, aborts, faults and closing.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  AbortError,
  type CallContext,
  compilePlugin,
  createPlugin,
  defineHostFunction,
  FuelExhaustedError,
  FunctionNotFoundError,
  LinkError,
  type Plugin,
  PluginCallError,
  type PluginOptions,
  ReentrantCallError,
  TimeoutError,
  WorkerError,
} from '../src/index.js';
import { runningWorkers } from '../src/internal/platform/node/index.js';
import { assemble, deferred, pluginPath, recordingLogger, repoRoot } from './helpers.js';

const ENV = `
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "var_get" (func $var_get (param i64) (result i64)))
  (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
  (import "extism:host/env" "error_get" (func $error_get (result i64)))
  (func $key (result i64) (local $h i64)
    (local.set $h (call $alloc (i64.const 1)))
    (call $store_u8 (local.get $h) (i32.const 107))
    (local.get $h))
  (func $output_block (param $h i64)
    (if (i64.ne (local.get $h) (i64.const 0)) (then (call $output_set (local.get $h) (call $length (local.get $h))))))
`;

/** `run` passes its input block to the host's `transform` and outputs the block it returns; `var` outputs var "k"; `err` outputs error_get. */
const TRANSFORM = `(module (import "extism:host/user" "transform" (func $transform (param i64) (result i64))) ${ENV}
  (func (export "run") (call $output_block (call $transform (call $input_offset))))
  (func (export "var") (call $output_block (call $var_get (call $key))))
  (func (export "err") (call $output_block (call $error_get))))`;

/**
 * `wait` calls the host's `wait` and returns; `spin` never returns, `wait_spin` neither, after
 * calling `wait`; `count` outputs how many times it was called since instantiation (a global);
 * `setvar` sets var "k" to the input, `var` outputs it.
 */
const WAITING = `(module (import "extism:host/user" "wait" (func $wait)) ${ENV}
  (global $n (mut i32) (i32.const 0))
  (func (export "wait") (call $wait))
  (func (export "spin") (loop $l (br $l)))
  (func (export "wait_spin") (call $wait) (loop $l (br $l)))
  (func (export "setvar") (call $var_set (call $key) (call $input_offset)))
  (func (export "var") (call $output_block (call $var_get (call $key))))
  (func (export "count") (local $h i64)
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    (local.set $h (call $alloc (i64.const 1)))
    (call $store_u8 (local.get $h) (i32.add (i32.const 48) (global.get $n)))
    (call $output_set (local.get $h) (i64.const 1))))`;

async function workerPlugin(wat: string, options: PluginOptions = {}): Promise<Plugin> {
  return createPlugin({ wasm: [{ data: await assemble(wat) }] }, { ...options, runInWorker: true });
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('a plug-in in a worker', () => {
  it('runs calls with config and vars as on the main thread', async () => {
    const plugin = await createPlugin(pluginPath('count-vowels'), { runInWorker: true, config: { vowels: 'lo' } });
    try {
      assert.deepEqual((await plugin.call('count_vowels', 'Hello, World!'))?.json(), { count: 5, total: 5, vowels: 'lo' });
      assert.deepEqual((await plugin.call('count_vowels', new TextEncoder().encode('lol')))?.json(), { count: 3, total: 8, vowels: 'lo' });
      assert.equal(await plugin.reset(), true);
      assert.deepEqual((await plugin.call('count_vowels', 'l'))?.json(), { count: 1, total: 9, vowels: 'lo' }, 'vars survive a reset');
      assert.equal(await plugin.functionExists('count_vowels'), true);
      assert.equal(await plugin.functionExists('nope'), false);
      assert.ok((await plugin.getExports()).some((e) => e.name === 'count_vowels'));
    } finally {
      await plugin.close();
    }
  });

  it('never blocks the event loop, even while the guest spins', async () => {
    const plugin = await workerPlugin(WAITING, { functions: { 'extism:host/user': { wait() {} } }, timeoutMs: 300 });
    try {
      const call = plugin.call('spin');
      let turns = 0;
      while (turns < 3) {
        await nextTurn();
        turns++;
      }
      assert.equal(plugin.isActive(), true, 'the event loop turned while the call was running');
      await assert.rejects(call, TimeoutError);
    } finally {
      await plugin.close();
    }
  });

  it('runs an async host function that awaits a real timer, with the call context on this thread', async () => {
    const store = new Map<string, Uint8Array>();
    let seenContext: unknown;
    const plugin = await createPlugin(pluginPath('count-vowels-kvstore'), {
      runInWorker: true,
      functions: {
        'extism:host/user': {
          async kv_read(ctx: CallContext, key: number) {
            seenContext = ctx.hostContext();
            await new Promise((resolve) => setTimeout(resolve, 5));
            return ctx.store(store.get(ctx.read(key)!.text()) ?? new Uint8Array(4));
          },
          kv_write(ctx: CallContext, key: number, value: number) {
            store.set(ctx.read(key)!.text(), ctx.read(value)!.bytes());
          },
        },
      },
    });
    try {
      assert.deepEqual((await plugin.call('count_vowels', 'aaa', { user: 1 }))?.json(), { count: 3, total: 3, vowels: 'aeiouAEIOU' });
      assert.deepEqual((await plugin.call('count_vowels', 'ee'))?.json(), { count: 2, total: 5, vowels: 'aeiouAEIOU' });
      assert.deepEqual([...store.get('count-vowels')!], [5, 0, 0, 0]);
      assert.equal(seenContext, undefined, 'the second call had no host context');
    } finally {
      await plugin.close();
    }
  });

  it('fails the call with the message of a rejected host function, which stays the cause, and goes on', async () => {
    const failure = new RangeError('the store is down');
    let fail = true;
    const plugin = await workerPlugin(TRANSFORM, {
      functions: {
        'extism:host/user': {
          async transform(ctx: CallContext, h: number) {
            await nextTurn();
            if (fail) throw failure;
            return ctx.store(ctx.read(h)!.text().toUpperCase());
          },
        },
      },
    });
    try {
      await assert.rejects(plugin.call('run', 'x'), (err: PluginCallError) => {
        assert.ok(err instanceof PluginCallError);
        assert.equal(err.code, 'PLUGHOST_CALL');
        assert.equal(err.functionName, 'run');
        assert.match(err.message, /the store is down/);
        assert.equal(err.cause, failure);
        return true;
      });
      fail = false;
      assert.equal((await plugin.call('run', 'ok'))?.text(), 'OK');
    } finally {
      await plugin.close();
    }
  });

  it('gives host functions the whole call context: hostContext, memory, vars, errors, log level', async () => {
    const seen: unknown[] = [];
    const transform = defineHostFunction('transform', ['i64'], ['i64'], (ctx: CallContext, h: number) => {
      const text = ctx.read(h)!.text();
      seen.push(ctx.hostContext(), ctx.length(h), ctx.read(123456), ctx.getVariable('k'), ctx.logLevel);
      ctx.setVariable('k', `var:${text}`);
      if (ctx.hostContext() === 'fail') ctx.setError('host says no');
      ctx.logLevel = 'warn';
      const scratch = ctx.alloc(8);
      ctx.free(scratch);
      return ctx.store(new TextEncoder().encode(`<${text}>`));
    });
    const plugin = await workerPlugin(TRANSFORM, { hostFunctions: [transform], logLevel: 'info' });
    try {
      assert.equal((await plugin.call('run', 'abc', 'my context'))?.text(), '<abc>');
      assert.deepEqual(seen, ['my context', 3, null, null, 'info']);
      assert.equal((await plugin.call('var'))?.text(), 'var:abc', 'the guest sees the var the host set');
      seen.length = 0;
      await plugin.call('run', 'again');
      assert.equal((seen[3] as DataView | null)?.byteLength, 7);
      assert.equal(seen[4], 'warn');
      await assert.rejects(plugin.call('run', 'x', 'fail'), { code: 'PLUGHOST_CALL', message: 'host says no' });
    } finally {
      await plugin.close();
    }
  });

  it('moves large inputs and outputs intact and leaves the caller its bytes', async () => {
    const plugin = await createPlugin(pluginPath('host-echo'), {
      runInWorker: true,
      functions: { 'extism:host/user': { echo: (ctx: CallContext, h: number) => ctx.store(ctx.read(h)!.bytes()) } },
    });
    try {
      const big = new Uint8Array(4 << 20).map((_, i) => (i * 7) & 0xff);
      const echoed = await plugin.call('echo_via_host', big);
      assert.equal(big.byteLength, 4 << 20, 'the input was not transferred away');
      assert.deepEqual(echoed?.bytes(), big);
      const window = big.subarray(10, 20);
      assert.deepEqual((await plugin.call('reverse', window))?.bytes(), new Uint8Array(window as Uint8Array<ArrayBuffer>).reverse());
    } finally {
      await plugin.close();
    }
  });

  it('takes the input of a queued call at once: the caller may reuse its bytes', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const plugin = await createPlugin(pluginPath('host-echo'), {
      runInWorker: true,
      functions: { 'extism:host/user': { echo: async (_ctx: CallContext, h: number) => (await gate, h) } },
    });
    try {
      const first = plugin.call('echo_via_host', 'first');
      const large = new Uint8Array(64 * 1024).fill(1);
      const small = new Uint8Array([1, 2, 3]);
      const queued = [plugin.call('reverse', large), plugin.call('reverse', small)];
      large.fill(9);
      small.fill(9);
      open();
      assert.equal((await first)?.text(), 'first');
      const [a, b] = await Promise.all(queued);
      assert.ok(a?.bytes().every((x) => x === 1));
      assert.deepEqual(b?.bytes(), new Uint8Array([3, 2, 1]));
      const text = 'héllo wörld ✓ '.repeat(3000);
      assert.equal((await plugin.call('echo_via_host', text))?.text(), text, 'a large non-ASCII string arrives as UTF-8');
    } finally {
      await plugin.close();
    }
  });

  it('logs through the logger before the call resolves', async () => {
    const { lines, logger } = recordingLogger();
    const plugin = await createPlugin(pluginPath('log'), { runInWorker: true, logger, logLevel: 'info' });
    try {
      assert.equal((await plugin.call('log_all', 'x'))?.text(), 'logged');
      assert.deepEqual(lines, ['info info: x', 'warn warn: x', 'error error: x']);
    } finally {
      await plugin.close();
    }
  });

  it('runs WASI plug-ins, with their output sent to this thread line by line', async () => {
    const lines: string[] = [];
    const plugin = await createPlugin(pluginPath('wasi-files'), { runInWorker: true, useWasi: true, wasiStdout: (line) => lines.push(line) });
    try {
      assert.equal((await plugin.call('hello_stdout'))?.text(), 'done');
      assert.deepEqual(lines, ['hello from wasi']);
    } finally {
      await plugin.close();
    }
  });

  it('links the modules of a manifest', async () => {
    const lib = await assemble(`(module (func (export "seven") (result i32) (i32.const 7)))`);
    const main = await assemble(`(module (import "lib" "seven" (func $seven (result i32))) (func (export "f") (result i32) (call $seven)))`);
    const plugin = await createPlugin(
      {
        wasm: [
          { data: lib, name: 'lib' },
          { data: main, name: 'main' },
        ],
      },
      { runInWorker: true },
    );
    try {
      await assert.rejects(plugin.call('f'), { code: 'PLUGHOST_CALL', exitCode: 7 });
    } finally {
      await plugin.close();
    }
  });

  it('rebuilds errors as the same classes, with their fields', async () => {
    const plugin = await createPlugin(pluginPath('fail'), { runInWorker: true });
    try {
      await assert.rejects(plugin.call('fail', 'why'), (err: Error) => {
        assert.ok(err instanceof PluginCallError);
        assert.deepEqual([err.code, err.exitCode, err.functionName, err.message], ['PLUGHOST_CALL', 1, 'fail', 'this plug-in always fails: why']);
        return true;
      });
      await assert.rejects(
        plugin.call('trap'),
        (err: Error) => err instanceof PluginCallError && /unreachable/.test(err.message) && err.cause instanceof WebAssembly.RuntimeError,
      );
      await assert.rejects(plugin.call('nope'), (err: Error) => err instanceof FunctionNotFoundError && err.functionName === 'nope');
    } finally {
      await plugin.close();
    }
    await assert.rejects(
      workerPlugin(`(module (import "extism:host/user" "absent" (func)))`),
      (err: Error) => err instanceof LinkError && err.missing.includes('extism:host/user.absent'),
    );
  });

  it('applies limits: fuel and maxVarBytes', async () => {
    // timeoutMs: a worker that lost its fuel fails the test at this bound instead of spinning for ever
    const spinning = await workerPlugin(WAITING, { functions: { 'extism:host/user': { wait() {} } }, fuel: 10_000, timeoutMs: 60_000 });
    const vars = await createPlugin(pluginPath('count-vowels'), { runInWorker: true, memory: { maxVarBytes: 1 } });
    try {
      await assert.rejects(spinning.call('spin'), (err: Error) => err instanceof FuelExhaustedError && err.fuel === 10_000);
      assert.ok(spinning.fuelConsumed >= 10_000, `fuelConsumed ${spinning.fuelConsumed}`);
      await assert.rejects(vars.call('count_vowels', 'a'), { code: 'PLUGHOST_CALL', message: /maxVarBytes 1/ });
    } finally {
      await spinning.close();
      await vars.close();
    }
  });

  it('queues overlapping calls; each caller gets its own output', async () => {
    const plugin = await createPlugin(pluginPath('host-echo'), {
      runInWorker: true,
      functions: { 'extism:host/user': { echo: (_ctx: CallContext, h: number) => h } },
    });
    try {
      const words = Array.from({ length: 50 }, (_, i) => `word${i}`);
      const outputs = await Promise.all(words.map((w) => plugin.call('reverse', w)));
      assert.deepEqual(
        outputs.map((o) => o?.text()),
        words.map((w) => [...w].reverse().join('')),
      );
    } finally {
      await plugin.close();
    }
  });

  it('keeps large inputs of calls in flight apart: the running one and the one posted behind it', async () => {
    const plugin = await createPlugin(pluginPath('host-echo'), {
      runInWorker: true,
      functions: { 'extism:host/user': { echo: (_ctx: CallContext, h: number) => h } },
    });
    try {
      // The first two go out at once (one running, one posted behind it), the others wait in the
      // queue; sizes cross the staging threshold both ways; the caller reuses one buffer for all.
      const sizes = [256 << 10, 64 << 10, 100, 64 << 10, 20 << 10, 1 << 20, 70 << 10, 3];
      const shared = new Uint8Array(1 << 20);
      const expected: Uint8Array[] = [];
      const calls = sizes.map((size, n) => {
        const input = shared.subarray(0, size).fill(n + 1);
        input[0] = 200 + n;
        expected.push(input.slice());
        return plugin.call('echo_via_host', input);
      });
      shared.fill(0);
      const outputs = await Promise.all(calls);
      outputs.forEach((output, n) => {
        assert.deepEqual(output?.bytes(), expected[n], `call ${n} (${sizes[n]} bytes)`);
      });
    } finally {
      await plugin.close();
    }
  });

  it('refuses a call of its own plug-in from a host function, and callSync', async () => {
    let inner: Promise<unknown> | undefined;
    let plugin: Plugin | undefined;
    plugin = await workerPlugin(WAITING, {
      functions: {
        'extism:host/user': {
          wait() {
            inner = plugin!.call('count');
            inner.catch(() => {}); // asserted below
          },
        },
      },
    });
    try {
      await plugin.call('wait');
      await assert.rejects(inner!, ReentrantCallError);
      assert.throws(() => plugin!.callSync('count'), TypeError);
    } finally {
      await plugin.close();
    }
  });
});

describe('compiled plug-ins in workers', () => {
  it('instantiate independent instances from one compilation', async () => {
    const compiled = await compilePlugin(pluginPath('host-echo'), {
      runInWorker: true,
      functions: { 'extism:host/user': { echo: (_ctx: CallContext, h: number) => h } },
    });
    const [a, b] = await Promise.all([compiled.instantiate(), compiled.instantiate()]);
    const local = await compiled.instantiate({ runInWorker: false });
    try {
      assert.equal((await a.call('stateful'))?.text(), '1');
      assert.equal((await a.call('stateful'))?.text(), '2');
      assert.equal((await b.call('stateful'))?.text(), '1', 'b has its own memory');
      assert.equal(local.callSync('stateful')?.text(), '1', 'and so does an instance on this thread');
    } finally {
      await Promise.all([a.close(), b.close(), local.close()]);
    }
  });
});

describe('timeouts in a worker', () => {
  it('hold a call posted ahead to the deadline its worker started it with, even when this thread hears of it late', async () => {
    // Compiled by the application, so not instrumented: only this thread's watchdog stops `spin`.
    const module = new WebAssembly.Module(
      (await assemble(`(module
        (import "extism:host/user" "h" (func $h))
        (func (export "quick") (call $h))
        (func (export "spin") (loop $l (br $l))))`)) as Uint8Array<ArrayBuffer>,
    );
    let busyFrom = 0;
    const plugin = await createPlugin(
      { wasm: [{ module }] },
      {
        runInWorker: true,
        timeoutMs: 1000,
        functions: {
          'extism:host/user': {
            h() {
              // Answered at once; then this thread is busy for 1.5 s, while the worker ends `quick` and starts `spin`.
              busyFrom = performance.now();
              queueMicrotask(() => {
                const until = performance.now() + 1500;
                while (performance.now() < until) {
                  // a blocked event loop, as a busy application has
                }
              });
            },
          },
        },
      },
    );
    try {
      const quick = plugin.call('quick');
      const spin = plugin.call('spin'); // posted ahead, behind quick
      await quick;
      await assert.rejects(spin, (err: Error) => err instanceof TimeoutError);
      // One deadline: 1000 ms from when the worker started `spin`, so the watchdog is due while this
      // thread is busy and fires once it is free (~1.5 s). A deadline of this thread's own would run
      // from when it is free and end the call at 2.5 s at the earliest.
      const took = performance.now() - busyFrom;
      assert.ok(took < 2400, `took ${took} ms: the call got more than its timeout from when it started`);
    } finally {
      await plugin.close();
    }
  });

  it('post the call next in line at once, so it starts on time even when this thread is then busy', async () => {
    // Compiled by the application, so not instrumented: only this thread's watchdog stops `spin`.
    const module = new WebAssembly.Module(
      (await assemble(`(module
        (func (export "quick"))
        (func (export "spin") (loop $l (br $l))))`)) as Uint8Array<ArrayBuffer>,
    );
    const plugin = await createPlugin({ wasm: [{ module }] }, { runInWorker: true, timeoutMs: 1000 });
    try {
      const started = performance.now();
      const quick = plugin.call('quick');
      const spin = plugin.call('spin'); // next in line, behind quick
      const until = started + 1500;
      while (performance.now() < until) {
        // this thread busy in the same task, as a busy application is
      }
      await quick;
      await assert.rejects(spin, (err: Error) => err instanceof TimeoutError);
      // `spin` reached the worker before this thread got busy: it ran out its 1000 ms meanwhile, and
      // the watchdog ends it as soon as this thread is free. Sent only when this thread was free
      // again, it would have had its 1000 ms from then: 2.5 s at the earliest.
      const took = performance.now() - started;
      assert.ok(took < 2400, `took ${took} ms: the call next in line was not posted at once`);
    } finally {
      await plugin.close();
    }
  });

  it('stop a spinning guest within the deadline, and the plug-in goes on', async () => {
    const plugin = await workerPlugin(WAITING, { functions: { 'extism:host/user': { wait() {} } }, timeoutMs: 100 });
    try {
      const started = performance.now();
      await assert.rejects(plugin.call('spin'), (err: Error) => err instanceof TimeoutError && err.timeoutMs === 100);
      assert.ok(performance.now() - started < 100 + 5000, `took ${performance.now() - started} ms: the deadline was missed`);
      assert.equal((await plugin.call('count'))?.text(), '1');
    } finally {
      await plugin.close();
    }
  });

  it('hold while the guest waits for a host function that never settles', async () => {
    let late: unknown;
    const never = deferred();
    const plugin = await workerPlugin(TRANSFORM, {
      timeoutMs: 100,
      functions: {
        'extism:host/user': {
          async transform(ctx: CallContext, h: number) {
            if (ctx.hostContext() === 'hang') {
              await never.promise;
              try {
                ctx.read(h);
              } catch (err) {
                late = err;
              }
            }
            return ctx.store(ctx.read(h)!.text());
          },
        },
      },
    });
    try {
      const started = performance.now();
      await assert.rejects(plugin.call('run', 'x', 'hang'), TimeoutError);
      assert.ok(performance.now() - started < 100 + 5000, `took ${performance.now() - started} ms: the deadline was missed`);
      assert.equal((await plugin.call('run', 'after'))?.text(), 'after');
      never.resolve();
      await nextTurn();
      assert.ok(late instanceof WorkerError, 'a host function that outlives its call cannot reach the memory');
    } finally {
      await plugin.close();
    }
  });

  it('hold for a guest that cannot be interrupted from inside (precompiled, not instrumented)', async () => {
    const module = new WebAssembly.Module(
      (await assemble(`(module (func (export "spin") (loop $l (br $l))) (func (export "ok")))`)) as Uint8Array<ArrayBuffer>,
    );
    const plugin = await createPlugin({ wasm: [{ module }] }, { runInWorker: true, timeoutMs: 100 });
    try {
      const started = performance.now();
      await assert.rejects(plugin.call('spin'), TimeoutError);
      assert.ok(performance.now() - started < 100 + 5000, `took ${performance.now() - started} ms: the deadline was missed`);
      assert.equal(await plugin.call('ok'), null, 'a fresh worker took over');
    } finally {
      await plugin.close();
    }
  });
});

describe('aborting a worker call', () => {
  it('stops an instrumented guest inside its worker: vars are kept', async () => {
    const entered = deferred();
    const plugin = await workerPlugin(WAITING, { functions: { 'extism:host/user': { wait: () => entered.resolve() } }, timeoutMs: 60_000 });
    try {
      await plugin.call('setvar', 'kept');
      const controller = new AbortController();
      const call = plugin.call('wait_spin', '', undefined, { signal: controller.signal });
      await entered.promise;
      controller.abort('enough');
      await assert.rejects(call, (err: Error) => err instanceof AbortError && err.cause === 'enough');
      await assert.rejects(plugin.call('count', '', undefined, { signal: AbortSignal.abort() }), AbortError);
      assert.equal((await plugin.call('var'))?.text(), 'kept', 'the same worker');
      assert.equal((await plugin.call('count'))?.text(), '1', 'the instance was re-created after the interrupt, as on the main thread');
    } finally {
      await plugin.close();
    }
  });

  it('stops a guest blocked in a host function inside its worker, and an uninstrumented spinning one by replacing its worker', async () => {
    const hang = deferred();
    const entered = deferred();
    const spinning = deferred();
    const wait = (ctx: CallContext) => {
      if (ctx.hostContext() === 'spin') return spinning.resolve();
      entered.resolve();
      return hang.promise;
    };
    const plugin = await workerPlugin(WAITING, { functions: { 'extism:host/user': { wait } } });
    try {
      await plugin.call('setvar', 'kept');
      const controller = new AbortController();
      const waiting = plugin.call('wait', '', undefined, { signal: controller.signal });
      const queued = new AbortController();
      const behind = plugin.call('count', '', undefined, { signal: queued.signal });
      queued.abort();
      await assert.rejects(behind, AbortError);
      await entered.promise;
      controller.abort();
      await assert.rejects(waiting, AbortError);
      assert.equal((await plugin.call('var'))?.text(), 'kept', 'the same worker');

      const spinner = new AbortController();
      const call = plugin.call('wait_spin', '', 'spin', { signal: spinner.signal });
      await spinning.promise;
      spinner.abort();
      await assert.rejects(call, AbortError);
      assert.equal(await plugin.call('var'), null, 'a fresh worker: vars start afresh');
      assert.equal((await plugin.call('count'))?.text(), '1');
    } finally {
      hang.resolve();
      await plugin.close();
    }
  });
});

describe('faults and closing', () => {
  it('fails only the running call with WorkerError when the worker dies, and replaces the worker', async () => {
    const plugin = await workerPlugin(WAITING, { functions: { 'extism:host/user': { wait() {} } } });
    try {
      assert.equal((await plugin.call('count'))?.text(), '1');
      const spinning = plugin.call('spin');
      const queued = plugin.call('count');
      // Tests of this file run one at a time and close their plug-ins: the running worker is this plug-in's.
      const workers = runningWorkers();
      assert.equal(workers.length, 1);
      await workers[0]!.terminate();
      await assert.rejects(spinning, (err: Error) => err instanceof WorkerError && err.code === 'PLUGHOST_WORKER' && /exit code/.test(err.message));
      assert.equal((await queued)?.text(), '1', 'the queued call ran in the replacement, which starts afresh');
      assert.equal(runningWorkers().length, 1);
    } finally {
      await plugin.close();
    }
  });

  it('ends its worker on close; pending calls reject, later ones too', async () => {
    const before = runningWorkers().length;
    const plugin = await workerPlugin(WAITING, { functions: { 'extism:host/user': { wait() {} } } });
    assert.equal(runningWorkers().length, before + 1);
    const spinning = assert.rejects(plugin.call('spin'), { code: 'PLUGHOST_CLOSED' });
    await plugin.close();
    await spinning;
    await assert.rejects(plugin.call('count'), { code: 'PLUGHOST_CLOSED' });
    assert.equal(runningWorkers().length, before);
  });

  it('lets a script that forgets to close its plug-ins exit too: idle workers do not hold the process', async () => {
    const script = join(tmpdir(), `plughost-forget-${process.pid}.mjs`);
    const index = join(repoRoot, 'build', 'src', 'index.js');
    writeFileSync(
      script,
      `import { createPlugin, createPool } from ${JSON.stringify(index)};
const plugin = await createPlugin(${JSON.stringify(pluginPath('count-vowels'))}, { runInWorker: true });
const pool = await createPool(${JSON.stringify(pluginPath('count-vowels'))}, { size: 2 });
await pool.call('count_vowels', 'abc');
console.log((await plugin.call('count_vowels', 'aeiou')).json().count);
`,
    );
    try {
      const { stdout } = await promisify(execFile)(process.execPath, [script], { timeout: 20_000 });
      assert.equal(stdout.trim(), '5');
    } finally {
      rmSync(script, { force: true });
    }
  });

  it('lets a script that closes its plug-ins exit on its own', async () => {
    const script = join(tmpdir(), `plughost-exit-${process.pid}.mjs`);
    const index = join(repoRoot, 'build', 'src', 'index.js');
    writeFileSync(
      script,
      `import { createPlugin, createPool } from ${JSON.stringify(index)};
const plugin = await createPlugin(${JSON.stringify(pluginPath('count-vowels'))}, { runInWorker: true, timeoutMs: 5000 });
const out = await plugin.call('count_vowels', 'aeiou', undefined, { signal: new AbortController().signal });
const pool = await createPool(${JSON.stringify(pluginPath('count-vowels'))}, { size: 2, timeoutMs: 5000 });
await Promise.all([1, 2, 3].map(() => pool.call('count_vowels', 'abc')));
await plugin.close();
await pool.close();
console.log(out.json().count);
`,
    );
    try {
      // killed after 20 s: a script whose workers outlive close() would never exit
      const { stdout } = await promisify(execFile)(process.execPath, [script], { timeout: 20_000 });
      assert.equal(stdout.trim(), '5');
    } finally {
      rmSync(script, { force: true });
    }
  });
});
