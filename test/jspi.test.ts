// JS promise integration (JSPI): where the engine has WebAssembly.Suspending/promising (Node 24+,
// Deno, Bun), async host functions and http_request are awaited on the main thread while the
// event loop turns; elsewhere (Node 20/22) an async host function is refused with a LinkError
// saying what is needed. `npm test` (Node 20) runs the refusals; the JSPI behaviours run under
// an engine that has it: runtimes/node_modules/node26/bin/node --test build/test/jspi.test.js
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import {
  AbortError,
  CAPABILITIES,
  type CallContext,
  createPlugin,
  defineHostFunction,
  HttpDeniedError,
  LinkError,
  PlughostError,
  type Plugin,
  PluginCallError,
  type PluginOptions,
  TimeoutError,
} from '../src/index.js';
import { assemble, pluginPath } from './helpers.js';

const JSPI =
  typeof (WebAssembly as unknown as { Suspending?: unknown }).Suspending === 'function' &&
  typeof (WebAssembly as unknown as { promising?: unknown }).promising === 'function';
const withJspi = { skip: JSPI ? false : 'this engine has no JSPI (WebAssembly.Suspending / promising)' };
const withoutJspi = { skip: JSPI ? 'this engine has JSPI' : false };

/** A guest whose exports all go through `extism:host/user.wait` (block in, block out). */
const GUEST = `(module
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "error_set" (func $error_set (param i64)))
  (import "extism:host/user" "wait" (func $wait (param i64) (result i64)))
  (memory 1)
  (func $out (param $h i64)
    (if (i64.ne (local.get $h) (i64.const 0)) (then (call $output_set (local.get $h) (call $length (local.get $h))))))
  (func (export "echo") (result i32)
    (call $out (call $wait (call $input_offset)))
    (i32.const 0))
  (func (export "twice") (result i32)
    (drop (call $wait (call $input_offset)))
    (call $out (call $wait (call $input_offset)))
    (i32.const 0))
  (func (export "fail") (result i32)
    (call $error_set (call $wait (call $input_offset)))
    (i32.const 7))
  (func (export "trap")
    (drop (call $wait (call $input_offset)))
    unreachable)
  (func (export "spin")
    (drop (call $wait (call $input_offset)))
    (loop $l (br $l))))`;

let guest: Uint8Array;
before(async () => {
  guest = await assemble(GUEST);
});

/** Open a plug-in, run `body`, close it even when `body` fails. */
async function using(source: Parameters<typeof createPlugin>[0], options: PluginOptions, body: (p: Plugin) => Promise<void>): Promise<void> {
  const p = await createPlugin(source, options);
  try {
    await body(p);
  } finally {
    await p.close();
  }
}

/** The rejection of `promise`, which must reject. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected a rejection');
}

/** A promise and the function that settles it, for host functions a test releases by hand. */
function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

const userFunctions = (wait: (ctx: CallContext, h: number) => unknown) => ({ functions: { 'extism:host/user': { wait } } });

describe('without JSPI (Node 20/22)', () => {
  it('an async host function on the main thread is refused at creation, naming what it needs', withoutJspi, async () => {
    const err = await rejection(
      createPlugin(
        { wasm: [{ data: guest }] },
        userFunctions(async (_ctx, h) => h),
      ),
    );
    assert.ok(err instanceof LinkError, String(err));
    assert.match(err.message, /extism:host\/user\.wait: the host function is async/);
    assert.match(err.message, /runInWorker: true/);
    assert.match(err.message, /Node\.js 24\+/);
    assert.equal(CAPABILITIES.supportsJSPromiseInterface, false);
  });

  it('the same async host function works with runInWorker: true', withoutJspi, () =>
    using({ wasm: [{ data: guest }] }, { runInWorker: true, ...userFunctions(async (_ctx, h) => h) }, async (p) => {
      assert.equal((await p.call('echo', 'worker'))?.text(), 'worker');
    }),
  );
});

describe('with JSPI: async host functions on the main thread', () => {
  it('CAPABILITIES says so', withJspi, () => {
    assert.equal(CAPABILITIES.supportsJSPromiseInterface, true);
  });

  it('the event loop turns while an async host function is pending: a timer fires mid-call', withJspi, async () => {
    const timerFired = gate();
    let pendingWhileActive = false;
    const wait = async (ctx: CallContext, h: number) => {
      const text = ctx.read(h)!.text();
      // resolves only if the timer below runs while the guest is suspended
      await timerFired.promise;
      return ctx.store(`${text}, after the timer`);
    };
    await using({ wasm: [{ data: guest }] }, userFunctions(wait), async (p) => {
      const call = p.call('echo', 'hello');
      setTimeout(() => {
        pendingWhileActive = p.isActive();
        timerFired.open();
      }, 0);
      assert.equal((await call)?.text(), 'hello, after the timer');
      assert.equal(pendingWhileActive, true);
      assert.equal(p.isActive(), false);
    });
  });

  it('results are the sync path’s: output, plug-in error, trap, memory kept across calls', withJspi, async () => {
    const syncWait = (_ctx: CallContext, h: number) => h;
    const asyncWait = async (_ctx: CallContext, h: number) => {
      await new Promise<void>((resolve) => setImmediate(resolve));
      return h;
    };
    const sync = await createPlugin({ wasm: [{ data: guest }] }, userFunctions(syncWait));
    const awaited = await createPlugin({ wasm: [{ data: guest }] }, userFunctions(asyncWait));
    try {
      for (const input of ['', 'a', 'é∑ bytes', 'x'.repeat(100_000)]) {
        assert.equal((await awaited.call('echo', input))?.text(), (await sync.call('echo', input))?.text());
        assert.equal((await awaited.call('twice', input))?.text(), (await sync.call('twice', input))?.text());
      }
      for (const name of ['fail', 'trap']) {
        const expected = await rejection(sync.call(name, 'the plug-in failed'));
        const actual = await rejection(awaited.call(name, 'the plug-in failed'));
        assert.ok(actual instanceof PluginCallError && expected instanceof PluginCallError);
        assert.equal(actual.constructor, expected.constructor);
        assert.equal(actual.message, expected.message);
        assert.equal(actual.exitCode, expected.exitCode);
      }
      // after a trap the instance is re-created and answers again
      assert.equal((await awaited.call('echo', 'again'))?.text(), 'again');
    } finally {
      await sync.close();
      await awaited.close();
    }
    // the AssemblyScript plug-in, whose state lives in its linear memory
    const echo = async (ctx: CallContext, h: number) => ctx.store(`${ctx.read(h)!.text()}!`);
    await using(pluginPath('host-echo'), { functions: { 'extism:host/user': { echo } } }, async (p) => {
      assert.equal((await p.call('echo_via_host', 'as'))?.text(), 'as!');
      assert.equal((await p.call('reverse', 'abcdefghij'))?.text(), 'jihgfedcba');
      assert.equal((await p.call('stateful'))?.text(), '1');
      assert.equal((await p.call('stateful'))?.text(), '2');
    });
  });

  it('a declared async host function (defineHostFunction) gets and returns i64 values', withJspi, async () => {
    const wait = defineHostFunction('wait', ['i64'], ['i64'], async (ctx, h) => {
      await Promise.resolve();
      return ctx.store(
        ctx
          .read(h as number)!
          .text()
          .toUpperCase(),
      );
    });
    await using({ wasm: [{ data: guest }] }, { hostFunctions: [wait] }, async (p) => {
      assert.equal((await p.call('echo', 'declared'))?.text(), 'DECLARED');
    });
  });

  it('errors thrown or rejected by the async host function fail the call with their message', withJspi, async () => {
    let mode: 'throw' | 'reject' | 'ok' = 'throw';
    const wait = async (_ctx: CallContext, h: number) => {
      if (mode === 'throw') throw new Error('thrown at once');
      if (mode === 'reject') {
        await new Promise<void>((resolve) => setImmediate(resolve));
        throw new RangeError('rejected later');
      }
      return h;
    };
    await using({ wasm: [{ data: guest }] }, userFunctions(wait), async (p) => {
      const thrown = await rejection(p.call('echo', 'x'));
      assert.ok(thrown instanceof PluginCallError, String(thrown));
      assert.match(thrown.message, /thrown at once/);
      mode = 'reject';
      const rejected = await rejection(p.call('echo', 'x'));
      assert.ok(rejected instanceof PluginCallError, String(rejected));
      assert.match(rejected.message, /rejected later/);
      assert.ok((rejected as PluginCallError).cause instanceof RangeError);
      mode = 'ok';
      assert.equal((await p.call('echo', 'fine'))?.text(), 'fine');
    });
  });

  it('overlapping calls queue: one runs at a time, each with its own input and output', withJspi, async () => {
    const events: string[] = [];
    const wait = async (ctx: CallContext, h: number) => {
      const text = ctx.read(h)!.text();
      events.push(`enter ${text}`);
      await new Promise<void>((resolve) => setTimeout(resolve, 1));
      events.push(`leave ${text}`);
      return ctx.store(`${text}.`);
    };
    await using({ wasm: [{ data: guest }] }, userFunctions(wait), async (p) => {
      const outputs = await Promise.all(['a', 'b', 'c', 'd'].map((input) => p.call('echo', input)));
      assert.deepEqual(
        outputs.map((o) => o?.text()),
        ['a.', 'b.', 'c.', 'd.'],
      );
      assert.deepEqual(events, ['enter a', 'leave a', 'enter b', 'leave b', 'enter c', 'leave c', 'enter d', 'leave d']);
      // a failing call in the queue does not stop the ones behind it
      const [missing, next] = await Promise.allSettled([p.call('nope'), p.call('echo', 'e')]);
      assert.equal(missing.status, 'rejected');
      assert.equal(next.status === 'fulfilled' && next.value?.text(), 'e.');
    });
  });

  it('an async host function calling its own plug-in is refused at once (it would queue behind itself), with no timeout set', withJspi, async () => {
    let plugin!: Plugin;
    const wait = async (ctx: CallContext, h: number) => {
      const text = ctx.read(h)!.text();
      if (text !== 'again') return ctx.store(text);
      // As a user writes it: the call starts before the function's first await.
      const inner = await rejection(plugin.call('echo', 'inner'));
      return ctx.store(`${(inner as PlughostError).code}: ${(inner as Error).message}`);
    };
    await using({ wasm: [{ data: guest }] }, userFunctions(wait), async (p) => {
      plugin = p;
      const out = await p.call('echo', 'again');
      assert.match(out!.text(), /^PLUGHOST_REENTRANT_CALL: cannot call "echo" .* calls on one plug-in never nest$/);
      // A call from outside while one is suspended still queues and runs.
      const held = gate();
      const slow = async (ctx: CallContext, h: number) => {
        await held.promise;
        return ctx.store(ctx.read(h)!.text());
      };
      await using({ wasm: [{ data: guest }] }, userFunctions(slow), async (q) => {
        const first = q.call('echo', 'one');
        const second = q.call('echo', 'two');
        held.open();
        assert.deepEqual([(await first)?.text(), (await second)?.text()], ['one', 'two']);
      });
      assert.equal((await p.call('echo', 'after'))?.text(), 'after');
    });
  });

  it('a timeoutMs longer than a timer holds does not give up a suspended call at once', withJspi, async () => {
    const wait = async (ctx: CallContext, h: number) => {
      await new Promise<void>((resolve) => setTimeout(resolve, 20));
      return ctx.store(ctx.read(h)!.text());
    };
    await using({ wasm: [{ data: guest }] }, { ...userFunctions(wait), timeoutMs: 2 ** 31 + 1000 }, async (p) => {
      assert.equal((await p.call('echo', 'still here'))?.text(), 'still here');
    });
  });

  it('timeoutMs bounds a call whose host promise never settles; the plug-in answers afterwards', withJspi, async () => {
    const late = gate<number>();
    const inSecondCall = gate<CallContext>();
    const releaseSecondCall = gate();
    let phase: 'hang' | 'second' = 'hang';
    const wait = async (ctx: CallContext, h: number) => {
      if (phase === 'hang') return late.promise;
      inSecondCall.open(ctx);
      await releaseSecondCall.promise;
      return h;
    };
    await using({ wasm: [{ data: guest }] }, { timeoutMs: 200, ...userFunctions(wait) }, async (p) => {
      const started = performance.now();
      const err = await rejection(p.call('fail', 'x'));
      assert.ok(err instanceof TimeoutError, String(err));
      assert.ok(performance.now() - started < 20_000, 'the timeout did not hold');
      phase = 'second';
      const second = p.call('echo', 'after');
      // The given-up call's host promise settles while the next call is suspended: its guest
      // must not resume (it would set this call's error through the shared kernel).
      const ctx = await inSecondCall.promise;
      late.open(ctx.store('the given-up guest resumed'));
      await new Promise<void>((resolve) => setImmediate(resolve));
      releaseSecondCall.open();
      assert.equal((await second)?.text(), 'after');
    });
  });

  it('a guest looping after an awaited host call still times out (the instrumented path)', withJspi, async () => {
    const wait = async (_ctx: CallContext, h: number) => h;
    await using({ wasm: [{ data: guest }] }, { timeoutMs: 200, ...userFunctions(wait) }, async (p) => {
      assert.ok((await rejection(p.call('spin'))) instanceof TimeoutError);
      assert.equal((await p.call('echo', 'ok'))?.text(), 'ok');
    });
  });

  it('an AbortSignal stops a call suspended in a host function', withJspi, async () => {
    const entered = gate();
    const wait = async (_ctx: CallContext, _h: number) => {
      entered.open();
      return new Promise<number>(() => {});
    };
    await using({ wasm: [{ data: guest }] }, userFunctions(wait), async (p) => {
      const controller = new AbortController();
      const call = p.call('echo', 'x', undefined, { signal: controller.signal });
      await entered.promise;
      controller.abort('enough');
      const err = await rejection(call);
      assert.ok(err instanceof AbortError, String(err));
    });
  });

  it('closed while a call is suspended: that call finishes, the calls queued behind it reject with PluginClosedError', withJspi, async () => {
    const entered = gate();
    const release = gate();
    const wait = async (ctx: CallContext, h: number) => {
      entered.open();
      await release.promise;
      return h;
    };
    const p = await createPlugin({ wasm: [{ data: guest }] }, userFunctions(wait));
    const running = p.call('echo', 'first');
    const queued = p.call('echo', 'second');
    await entered.promise;
    await p.close();
    release.open();
    assert.equal((await running)?.text(), 'first');
    const err = await rejection(queued);
    assert.ok(err instanceof PlughostError && err.code === 'PLUGHOST_CLOSED', String(err));
    assert.ok((await rejection(p.call('echo', 'third'))) instanceof PlughostError);
  });

  it('callSync is refused with a TypeError saying to use call; a plug-in without async imports is unaffected', withJspi, async () => {
    await using(
      { wasm: [{ data: guest }] },
      userFunctions(async (_ctx, h) => h),
      async (p) => {
        assert.throws(
          () => p.callSync('echo', 'x'),
          (err: unknown) => err instanceof TypeError && /use call/.test(err.message),
        );
      },
    );
    await using(
      { wasm: [{ data: guest }] },
      userFunctions((_ctx, h) => h),
      async (p) => {
        assert.equal(p.callSync('echo', 'sync')?.text(), 'sync');
      },
    );
  });
});

describe('with JSPI: http_request on the main thread', () => {
  const HTTP_GUEST = `(module
    (import "extism:host/env" "length" (func $length (param i64) (result i64)))
    (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
    (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
    (import "extism:host/env" "http_request" (func $http_request (param i64 i64) (result i64)))
    (memory 1)
    (func (export "fetch") (local $h i64)
      (local.set $h (call $http_request (call $input_offset) (i64.const 0)))
      (if (i64.ne (local.get $h) (i64.const 0)) (then (call $output_set (local.get $h) (call $length (local.get $h)))))))`;
  let wasm: Uint8Array;
  let server: Server;
  let base: string;
  /** Opened by the test to let `/slow` answer. */
  let release = gate();

  // A server on this very thread: it can only answer because the call does not block the thread.
  before(async () => {
    wasm = await assemble(HTTP_GUEST);
    server = createServer((req, res) => {
      if (req.url === '/slow') void release.promise.then(() => res.end('slow answer'));
      else if (req.url === '/hang') req.on('close', () => res.destroy());
      else res.end(`hello from ${req.url}`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  const request = (path: string) => JSON.stringify({ url: `${base}${path}` });

  it('the event loop turns while a request to a slow server is in flight', withJspi, async () => {
    release = gate();
    await using({ wasm: [{ data: wasm }] }, { allowedHosts: ['127.0.0.1'] }, async (p) => {
      const call = p.call('fetch', request('/slow'));
      let timerRan = false;
      setTimeout(() => {
        timerRan = true;
        release.open();
      }, 0);
      assert.equal((await call)?.text(), 'slow answer');
      assert.equal(timerRan, true);
      assert.throws(() => p.callSync('fetch', request('/fast')), TypeError);
    });
  });

  it('the user’s fetch serves the request, after allowedHosts', withJspi, async () => {
    const seen: string[] = [];
    const custom: typeof fetch = (input, init) => {
      seen.push(String(input));
      return fetch(input, init);
    };
    await using({ wasm: [{ data: wasm }] }, { allowedHosts: ['127.0.0.1'], fetch: custom }, async (p) => {
      assert.equal((await p.call('fetch', request('/custom')))?.text(), 'hello from /custom');
      const denied = await rejection(p.call('fetch', JSON.stringify({ url: 'http://example.com/' })));
      assert.ok(denied instanceof HttpDeniedError || (denied instanceof PluginCallError && denied.cause instanceof HttpDeniedError), String(denied));
    });
    assert.deepEqual(seen, [`${base}/custom`]);
  });

  it('timeoutMs ends a request the server never answers', withJspi, async () => {
    await using({ wasm: [{ data: wasm }] }, { allowedHosts: ['127.0.0.1'], timeoutMs: 300 }, async (p) => {
      const err = await rejection(p.call('fetch', request('/hang')));
      assert.ok(err instanceof TimeoutError, String(err));
      // as on the blocking path, the message names the request
      assert.match(err.message, /HTTP request to http:\/\/127\.0\.0\.1:\d+\/hang/);
      assert.equal((await p.call('fetch', request('/after')))?.text(), 'hello from /after');
    });
  });
});
