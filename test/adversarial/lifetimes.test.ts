// Lifetimes a host function can get wrong: a call context used after its plug-in was closed
// (kept for later, or an async host function still running after its call timed out), a host
// function closing, resetting or calling plug-ins in the middle of a call, and calls queued by
// the thousand when their plug-in is closed. A closed plug-in's kernel goes back to a pool and
// serves the next plug-in created, so nothing that belonged to the first may reach it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CallContext, createPlugin, createPool, type Plugin, PluginClosedError, type PluginOptions, WorkerError } from '../../src/index.js';
import { assemble, runBounded } from '../helpers.js';

const JSPI =
  typeof (WebAssembly as unknown as { Suspending?: unknown }).Suspending === 'function' &&
  typeof (WebAssembly as unknown as { promising?: unknown }).promising === 'function';

/** "keep": hands its input's handle to host function `keep`; "echo": outputs its input. */
const GUEST = `(module
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/user" "keep" (func $keep (param i64)))
  (func (export "keep") (call $keep (call $input_offset)))
  (func (export "echo") (call $output_set (call $input_offset) (call $input_length))))`;

/** Every way a call context reaches its plug-in's kernel and vars, each caught. */
function everyUse(ctx: CallContext, handle: number): unknown[] {
  const uses: (() => unknown)[] = [
    () => ctx.read(handle),
    () => ctx.length(handle),
    () => ctx.store('written later'),
    () => ctx.alloc(16),
    () => ctx.free(handle),
    () => ctx.setError('set later'),
    () => ctx.getVariable('v'),
    () => ctx.setVariable('v', 'set later'),
    () => ctx.deleteVariable('v'),
  ];
  return uses.map((use) => {
    try {
      return use();
    } catch (err) {
      return err;
    }
  });
}

const noop = { 'extism:host/user': { keep() {} } };

describe('call contexts after their plug-in is closed', () => {
  it('a context kept past close reaches nothing: PluginClosedError, and the plug-in that took the kernel is untouched', async () => {
    const wasm = await assemble(GUEST);
    let kept: { ctx: CallContext; handle: number } | undefined;
    const first = await createPlugin(wasm, {
      functions: { 'extism:host/user': { keep: (ctx: CallContext, handle: number) => void (kept = { ctx, handle }) } },
    });
    await first.call('keep', 'input of the first plug-in');
    assert.ok(kept);
    await first.close();
    // the next plug-in takes the pooled kernel the first one gave back
    const second = await createPlugin(wasm, { functions: noop });
    try {
      // its input stays in the kernel after the call: the old context must not read it
      assert.equal((await second.call('echo', 'SECRET OF THE SECOND'))?.text(), 'SECRET OF THE SECOND');
      for (const [i, outcome] of everyUse(kept.ctx, kept.handle).entries()) {
        assert.ok(outcome instanceof PluginClosedError, `use ${i}: ${String(outcome)}`);
        assert.match(outcome.message, /closed/);
        assert.match(outcome.message, /during the call/);
      }
      assert.equal((await second.call('echo', 'still mine'))?.text(), 'still mine');
    } finally {
      await second.close();
    }
  });

  it('in a worker, a context kept past its call reaches nothing (WorkerError)', async () => {
    const wasm = await assemble(GUEST);
    let kept: { ctx: CallContext; handle: number } | undefined;
    const plugin = await createPlugin(wasm, {
      runInWorker: true,
      functions: { 'extism:host/user': { keep: (ctx: CallContext, handle: number) => void (kept = { ctx, handle }) } },
    });
    try {
      await plugin.call('keep', 'input');
      assert.ok(kept);
      for (const [i, outcome] of everyUse(kept.ctx, kept.handle).entries()) assert.ok(outcome instanceof WorkerError, `use ${i}: ${String(outcome)}`);
    } finally {
      await plugin.close();
    }
  });

  it('an async host function still running after its call timed out and its plug-in closed cannot read the next plug-in (JSPI)', {
    skip: JSPI ? false : 'this engine has no JSPI (WebAssembly.Suspending / promising)',
  }, async () => {
    const wasm = await assemble(GUEST);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let later: Promise<unknown[]> | undefined;
    const first = await createPlugin(wasm, {
      timeoutMs: 50,
      functions: {
        'extism:host/user': {
          async keep(ctx: CallContext, handle: number) {
            later = released.then(() => everyUse(ctx, handle));
            await later;
          },
        },
      },
    });
    await assert.rejects(first.call('keep', 'input of the first plug-in'), { code: 'PLUGHOST_TIMEOUT' });
    await first.close();
    const second = await createPlugin(wasm, { functions: noop });
    try {
      assert.equal((await second.call('echo', 'SECRET OF THE SECOND'))?.text(), 'SECRET OF THE SECOND');
      release();
      assert.ok(later);
      for (const [i, outcome] of (await later).entries()) assert.ok(outcome instanceof PluginClosedError, `use ${i}: ${String(outcome)}`);
      assert.equal((await second.call('echo', 'still mine'))?.text(), 'still mine');
    } finally {
      await second.close();
    }
  });

  it('a guest given up while suspended (JSPI) that catches the error it resumes with never reaches the kernel of the plug-in created after its own closed', {
    skip: JSPI ? false : 'this engine has no JSPI (WebAssembly.Suspending / promising)',
  }, async () => {
    // "run" waits in an async host function past its timeout; when that settles, the call
    // is given up and the guest resumes with an error, which it catches: from there on it is
    // a zombie, running on its plug-in's kernel. It reports the kernel's input length, and
    // logs the first block of the heap (where a call's input goes).
    const wasm = await assemble(
      `(module
          (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
          (import "extism:host/env" "input_length" (func $input_length (result i64)))
          (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
          (import "extism:host/env" "log_warn" (func $log_warn (param i64)))
          (import "extism:host/user" "wait" (func $wait))
          (import "extism:host/user" "report" (func $report (param i64)))
          (func (export "run")
            (try (do (call $wait)) (catch_all))
            (call $report (call $input_length))
            (call $log_warn (i64.const 272)))
          (func (export "echo") (call $output_set (call $input_offset) (call $input_length))))`,
      { all: true },
    );
    let resume!: () => void;
    const resumed = new Promise<void>((resolve) => (resume = resolve));
    let zombieDone!: (length: number) => void;
    const zombieReport = new Promise<number>((resolve) => (zombieDone = resolve));
    const logged: string[] = [];
    const logger = { trace() {}, debug() {}, info() {}, warn: (m: string) => void logged.push(m), error() {} };
    const first = await createPlugin(wasm, {
      timeoutMs: 50,
      logLevel: 'warn',
      logger: { ...logger, warn() {} },
      functions: {
        'extism:host/user': {
          async wait() {
            await resumed;
          },
          report: (_ctx: CallContext, length: number) => void zombieDone(length),
        },
      },
    });
    await assert.rejects(first.call('run', 'input of the first'), { code: 'PLUGHOST_TIMEOUT' });
    await first.close();
    const second = await createPlugin(wasm, { logLevel: 'warn', logger, functions: { 'extism:host/user': { wait() {}, report() {} } } });
    try {
      assert.equal((await second.call('echo', 'SECRET OF THE SECOND'))?.text(), 'SECRET OF THE SECOND');
      resume();
      const length = await zombieReport;
      assert.notEqual(length, 'SECRET OF THE SECOND'.length, "the zombie saw the second plug-in's input");
      assert.deepEqual(logged, [], "the zombie logged into the second plug-in's logger");
      assert.equal((await second.call('echo', 'still mine'))?.text(), 'still mine');
    } finally {
      await second.close();
    }
  });
});

/** "go": calls host function `h`, then keeps using the kernel and outputs what `h` stored; "echo". */
const REENTRANT = `(module
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/user" "h" (func $h (result i64)))
  (func (export "go") (local $stored i64)
    (local.set $stored (call $h))
    (drop (call $alloc (i64.const 100000)))
    (call $output_set (local.get $stored) (i64.const 2)))
  (func (export "echo") (call $output_set (call $input_offset) (call $input_length))))`;

type Action = 'close' | 'reset' | 'call' | 'closeOther' | 'resetOther' | 'callOther';

describe('a guest given up while suspended (JSPI)', () => {
  it('that catches the error it resumes with is stopped at its next check, not left spinning on the main thread (in a bounded child)', {
    skip: JSPI ? false : 'this engine has no JSPI (WebAssembly.Suspending / promising)',
  }, async () => {
    const library = new URL('../../src/index.js', import.meta.url).href;
    const helpers = new URL('../helpers.js', import.meta.url).href;
    // "run" waits past its timeout in an async host function, catches the error it resumes
    // with once the call is given up, then loops for ever: with no call running, no deadline
    // was left to stop it, and the host's event loop never turned again.
    const script = `
        const { createPlugin } = await import(${JSON.stringify(library)});
        const { assemble } = await import(${JSON.stringify(helpers)});
        const wasm = await assemble(\`(module
          (import "extism:host/user" "wait" (func $wait))
          (import "extism:host/user" "resumed" (func $resumed))
          (func (export "run")
            (try (do (call $wait)) (catch_all))
            (call $resumed)
            (loop $forever (br $forever))))\`, { all: true });
        let resumed = false;
        const plugin = await createPlugin(wasm, {
          timeoutMs: 50,
          functions: {
            'extism:host/user': {
              async wait() { await new Promise((resolve) => setTimeout(resolve, 200)); },
              resumed() { resumed = true; },
            },
          },
        });
        await plugin.call('run').then(() => console.log('returned'), (err) => console.log(err.code));
        await new Promise((resolve) => setTimeout(resolve, 400));
        console.log(resumed ? 'resumed, and the event loop turns' : 'never resumed');
        await plugin.close();
      `;
    const run = await runBounded(script, { timeoutMs: 30_000, maxRssMb: 512 });
    assert.equal(run.stdout, 'PLUGHOST_TIMEOUT\nresumed, and the event loop turns\n');
  });
});

describe('host functions that close, reset or call plug-ins in the middle of a call', () => {
  for (const runInWorker of [false, true]) {
    it(`leave every call settled once with its own answer, and nothing touching a freed kernel (${runInWorker ? 'worker' : 'main thread'})`, async () => {
      const wasm = await assemble(REENTRANT);
      const actions: Action[] = ['close', 'reset', 'call', 'closeOther', 'resetOther', 'callOther'];
      for (const action of actions) {
        let self: Plugin | undefined;
        let actionOutcome: Promise<string> | undefined;
        const other = await createPlugin(wasm, { runInWorker, functions: { 'extism:host/user': { h: () => 0 } } });
        self = await createPlugin(wasm, {
          runInWorker,
          functions: {
            'extism:host/user': {
              h(ctx: CallContext) {
                const target = action.endsWith('Other') ? other : self!;
                const started = action.startsWith('close') ? target.close() : action.startsWith('reset') ? target.reset() : target.call('echo', 'x');
                actionOutcome = Promise.resolve(started).then(
                  () => 'done',
                  (err: { code?: string }) => String(err.code),
                );
                return ctx.store('OK');
              },
            },
          },
        });
        const outcome = await self.call('go').then(
          (out) => out?.text(),
          (err: { code?: string }) => String(err.code),
        );
        const expected = action === 'close' && runInWorker ? 'PLUGHOST_CLOSED' : 'OK';
        assert.equal(outcome, expected, action);
        assert.equal(await actionOutcome, action === 'call' ? 'PLUGHOST_REENTRANT_CALL' : 'done', action);
        const selfAfter = await self.call('echo', 'again').then(
          (out) => out?.text(),
          (err: { code?: string }) => String(err.code),
        );
        assert.equal(selfAfter, action === 'close' ? 'PLUGHOST_CLOSED' : 'again', action);
        const otherAfter = await other.call('echo', 'o').then(
          (out) => out?.text(),
          (err: { code?: string }) => String(err.code),
        );
        assert.equal(otherAfter, action === 'closeOther' ? 'PLUGHOST_CLOSED' : 'o', action);
        await self.close();
        await other.close();
      }
    });
  }
});

describe('10,000 calls queued, then close()', () => {
  const modes: [string, PluginOptions][] = [
    ['main thread', {}],
    ['worker', { runInWorker: true }],
  ];
  for (const [mode, options] of modes) {
    it(`settles each once: with its own output or PluginClosedError (${mode})`, async () => {
      const plugin = await createPlugin(await assemble(GUEST), { ...options, functions: noop });
      const settled = new Array<number>(10_000).fill(0);
      const outcomes = new Map<string, number>();
      const calls = settled.map((_, i) =>
        plugin.call('echo', String(i)).then(
          (out) => {
            settled[i]!++;
            const key = out?.text() === String(i) ? 'own output' : `wrong output ${out?.text()}`;
            outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
          },
          (err: { code?: string }) => {
            settled[i]!++;
            outcomes.set(String(err.code), (outcomes.get(String(err.code)) ?? 0) + 1);
          },
        ),
      );
      await plugin.close();
      await Promise.all(calls);
      assert.ok(
        settled.every((n) => n === 1),
        'every call settled once',
      );
      assert.deepEqual(
        [...outcomes.keys()].filter((k) => k !== 'own output' && k !== 'PLUGHOST_CLOSED'),
        [],
      );
    });
  }

  it('a pool drains them all, each settled once with its own output', async () => {
    const pool = await createPool(await assemble(GUEST), { size: 2, maxQueue: 20_000, functions: noop });
    const calls = Array.from({ length: 10_000 }, (_, i) => pool.call('echo', String(i)).then((out) => out?.text()));
    const closed = pool.close();
    const texts = await Promise.all(calls);
    await closed;
    assert.ok(texts.every((text, i) => text === String(i)));
  });
});
