// The cross-runtime tests both suites run: suite.ts on Node 20-26, Deno and Bun (plug-ins by
// path), test/browser/suite.ts in a Chromium page (plug-ins by URL and as bytes). Each gets what
// differs from an environment; the bodies use only the shipped bundle's API, check.ts, fetch and
// timers, so they run wherever JavaScript does. The runner is here too: one protocol for
// scripts/test-runtimes.mjs and scripts/test-browser.mjs to read.
import type * as Plughost from '../../src/index.js';
import type { CallContext, Plugin, PluginOptions } from '../../src/index.js';
import * as assert from './check.js';

/** What a plug-in is created from: a path, a URL, a manifest... */
export type Source = Parameters<typeof Plughost.createPlugin>[0];

/** What differs between the runtimes' suites. */
export interface CasesEnvironment {
  /** The bundle under test. */
  api: typeof Plughost;
  /** The modes to run each test in, by name: `main` always, `worker` where worker mode runs. */
  modes: readonly (readonly [string, PluginOptions])[];
  /** Whether the engine has JSPI (`WebAssembly.Suspending`). */
  jspi: boolean;
  /** For request paths that must differ between runtimes sharing one server. */
  runtimeName: string;
  /** An AssemblyScript plug-in of build/plugins. */
  plugin(name: string): Source;
  /** A WAT fixture of build/fixtures. */
  fixture(name: string): Source;
  /** A WAT fixture's bytes. */
  fixtureBytes(name: string): Promise<Uint8Array>;
  /** The HTTP endpoint the HTTP tests talk to: /hello?mode=M answers `hello M`; /seen?path=P counts the requests for P. */
  httpBase: string | undefined;
}

/** A test: its name starts with its area in brackets, which the scripts' tables read. */
export interface Test {
  name: string;
  run: () => Promise<void>;
}

/** The rejection of `promise`, which must reject. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected the call to fail');
}

/** `using(source, options, body)`: open a plug-in, run `body`, and close it even when `body` fails (a failure must not leave a worker running). */
export function scoped(createPlugin: typeof Plughost.createPlugin) {
  return async function using(source: Source, options: PluginOptions, body: (p: Plugin) => Promise<void>): Promise<void> {
    const p = await createPlugin(source, options);
    try {
      await body(p);
    } finally {
      await p.close();
    }
  };
}

/** The tests every runtime runs, for `env`. */
export function sharedCases(env: CasesEnvironment): Test[] {
  const {
    createPlugin,
    createMemoryFileSystem,
    AbortError,
    FuelExhaustedError,
    FunctionNotFoundError,
    HttpDeniedError,
    LinkError,
    PlughostError,
    PluginCallError,
    TimeoutError,
    WasmSourceError,
  } = env.api;
  const { plugin, fixture } = env;
  const tests: Test[] = [];
  const test = (name: string, run: () => Promise<void>) => void tests.push({ name, run });

  const using = scoped(createPlugin);
  /** input: an Extism HTTP request (JSON); output: the response body (test/fixtures/http-fetch.wat). */
  const httpGuest = () => env.fixtureBytes('http-fetch');

  for (const [mode, options] of env.modes) {
    // ---------------------------------------------------------------- plug-in calls

    test(`[${mode}] count-vowels: output, a var kept across calls, config`, () =>
      using(plugin('count-vowels'), options, async (p) => {
        assert.deepEqual((await p.call('count_vowels', 'Hello, World!'))?.json(), { count: 3, total: 3, vowels: 'aeiouAEIOU' });
        assert.equal((await p.call('count_vowels', 'Hello, World!'))?.json().total, 6);
        await using(plugin('count-vowels'), { ...options, config: { vowels: 'aeiouyAEIOUY' } }, async (yellow) => {
          assert.deepEqual((await yellow.call('count_vowels', 'Yellow, World!'))?.json(), { count: 4, total: 4, vowels: 'aeiouyAEIOUY' });
        });
      }));

    test(`[${mode}] a 1 MiB input and output round-trip intact`, () =>
      using(plugin('host-echo'), { ...options, functions: { 'extism:host/user': { echo: (_ctx: CallContext, h: number) => h } } }, async (p) => {
        const big = new Uint8Array(1 << 20).map((_, i) => (i * 7) & 0xff);
        assert.deepEqual((await p.call('echo_via_host', big))?.bytes(), big);
        assert.equal((await p.call('reverse', 'abc'))?.text(), 'cba');
      }));

    test(`[${mode}] state in linear memory survives calls; close ends the plug-in`, async () => {
      const p = await createPlugin(plugin('host-echo'), { ...options, functions: { 'extism:host/user': { echo: (_ctx: CallContext, h: number) => h } } });
      assert.equal((await p.call('stateful'))?.text(), '1');
      assert.equal((await p.call('stateful'))?.text(), '2');
      await p.close();
      assert.equal(((await rejection(p.call('stateful'))) as Plughost.PlughostError).code, 'PLUGHOST_CLOSED');
    });

    // ---------------------------------------------------------------- host functions, vars

    test(`[${mode}] a synchronous host function reads and writes the call's memory and vars`, () =>
      using(
        plugin('host-echo'),
        {
          ...options,
          functions: {
            'extism:host/user': {
              echo(ctx: CallContext, h: number) {
                const seen = Number(ctx.getVariable('seen')?.text() ?? '0') + 1;
                ctx.setVariable('seen', String(seen));
                return ctx.store(`${ctx.read(h)!.text()} #${seen} (${ctx.hostContext<string>()})`);
              },
            },
          },
        },
        async (p) => {
          assert.equal((await p.call('echo_via_host', 'hi', 'ctx-a'))?.text(), 'hi #1 (ctx-a)');
          assert.equal((await p.call('echo_via_host', 'ho', 'ctx-b'))?.text(), 'ho #2 (ctx-b)');
        },
      ));

    test(`[${mode}] errors: PluginCallError with its code, exit code and message; the plug-in goes on`, () =>
      using(plugin('fail'), options, async (p) => {
        const failed = await rejection(p.call('fail', 'why'));
        assert.ok(failed instanceof PluginCallError, `not a PluginCallError: ${String(failed)}`);
        assert.ok(failed instanceof PlughostError);
        assert.equal(failed.code, 'PLUGHOST_CALL');
        assert.equal(failed.exitCode, 1);
        assert.equal(failed.message, 'this plug-in always fails: why');
        assert.equal(((await rejection(p.call('fail_with_code', '42'))) as Plughost.PluginCallError).exitCode, 42);
        const trapped = await rejection(p.call('trap'));
        assert.ok(trapped instanceof PluginCallError);
        assert.match(trapped.message, /unreachable/i); // V8: "unreachable", JavaScriptCore: "Unreachable code should not be executed"
        // JavaScriptCore appends the JS that called the export, plughost's own ("(evaluating 'fn()')"): no part of the plug-in's failure.
        assert.ok(!/evaluating/.test(trapped.message), `the trap's message shows plughost's source: ${trapped.message}`);
        const missing = await rejection(p.call('no_such_export'));
        assert.ok(missing instanceof FunctionNotFoundError);
        assert.equal(missing.code, 'PLUGHOST_FUNCTION_NOT_FOUND');
        assert.equal(await p.call('fail_with_code', '0'), null);
      }));

    // Bun's JavaScriptCore and Node.js 20 have no memory64: the engine's own parse error said
    // neither what the module needs nor where it runs.
    test(`[${mode}] a module with 64-bit memory runs where the engine has memory64; elsewhere a WasmSourceError names memory64 and says where it runs`, async () => {
      const engineHasMemory64 = WebAssembly.validate(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 3, 1, 4, 0]));
      if (engineHasMemory64) {
        await using(fixture('memory64'), options, async (p) => assert.equal(await p.call('run'), null));
        return;
      }
      const refused = await rejection(createPlugin(fixture('memory64'), options));
      assert.ok(refused instanceof WasmSourceError, `not a WasmSourceError: ${String(refused)}`);
      assert.match(refused.message, /64-bit memory \(memory64\), which this JavaScript engine does not have/);
      assert.match(refused.message, /run it on .*, or build it for wasm32/);
    });

    // Node.js 20 has the legacy exception instructions only: V8's "Invalid opcode 0x1f" named
    // neither the proposal nor where the module runs.
    test(`[${mode}] a module using try_table runs where the engine has exnref; elsewhere a WasmSourceError names it and says where it runs`, async () => {
      const probe = [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0, 0x0a, 8, 1, 6, 0, 0x1f, 0x40, 0, 0x0b, 0x0b];
      if (WebAssembly.validate(new Uint8Array(probe))) {
        // the exception is caught: exit code 0
        await using(fixture('exnref'), options, async (p) => assert.equal(await p.call('run'), null));
        return;
      }
      const refused = await rejection(createPlugin(fixture('exnref'), options));
      assert.ok(refused instanceof WasmSourceError, `not a WasmSourceError: ${String(refused)}`);
      assert.match(refused.message, /exception references \(try_table, throw_ref/);
      assert.match(refused.message, /run it on .*, or build it with the legacy exception instructions/);
    });

    // ---------------------------------------------------------------- timeouts

    test(`[${mode}] timeoutMs stops a 'loop br 0' guest with a TimeoutError; the next call works`, () =>
      using(fixture('limits'), { ...options, timeoutMs: 200 }, async (p) => {
        const timedOut = await rejection(p.call('spin'));
        assert.ok(timedOut instanceof TimeoutError, `not a TimeoutError: ${String(timedOut)}`);
        assert.equal(timedOut.code, 'PLUGHOST_TIMEOUT');
        assert.ok(timedOut instanceof PluginCallError);
        const calls = new DataView((await p.call('ping'))!.bytes().slice().buffer).getBigUint64(0, true);
        assert.equal(calls, 1n, 'a fresh instance after the timeout');
      }));

    test(`[${mode}] [wasi] timeoutMs ends a WASI guest sleeping in poll_oneoff`, () =>
      using(fixture('sleep'), { ...options, useWasi: true, timeoutMs: 200 }, async (p) => {
        const timedOut = await rejection(p.call('sleep'));
        assert.ok(timedOut instanceof TimeoutError, `not a TimeoutError: ${String(timedOut)}`);
      }));

    test(`[${mode}] an AbortSignal fired while the guest runs stops the call`, async () => {
      const controller = new AbortController();
      await using(
        fixture('give-up'),
        { ...options, timeoutMs: 60_000, functions: { 'extism:host/user': { give_up: () => controller.abort() } } },
        async (p) => {
          const aborted = await rejection(p.call('run', '', undefined, { signal: controller.signal }));
          assert.ok(aborted instanceof AbortError, `not an AbortError: ${String(aborted)}`);
          assert.equal(aborted.code, 'PLUGHOST_ABORTED');
        },
      );
    });

    test(`[${mode}] fuel and memory.maxPages bound the guest`, async () => {
      await using(fixture('limits'), { ...options, fuel: 100_000 }, async (p) => {
        const exhausted = await rejection(p.call('spin'));
        assert.ok(exhausted instanceof FuelExhaustedError, `not a FuelExhaustedError: ${String(exhausted)}`);
      });
      await using(fixture('limits'), { ...options, memory: { maxPages: 5 } }, async (p) => {
        assert.equal(new DataView((await p.call('grow'))!.bytes().slice().buffer).getBigUint64(0, true), 5n);
      });
    });

    // ---------------------------------------------------------------- WASI without files

    test(`[${mode}] [wasi] wasiArgs and wasiEnv reach the guest; its stdout and stderr reach callbacks by lines`, async () => {
      const stdout: string[] = [];
      const stderr: string[] = [];
      await using(
        fixture('wasi-args-env'),
        {
          ...options,
          useWasi: true,
          wasiArgs: ['guest', 'two words', 'é'],
          wasiEnv: { GREETING: 'hello', EMPTY: '' },
          wasiStdout: (line: string) => void stdout.push(line),
          wasiStderr: (line: string) => void stderr.push(line),
        },
        async (p) => {
          assert.equal(await p.call('args_and_env'), null);
        },
      );
      assert.deepEqual(stdout, ['guest', 'two words', 'é']);
      assert.deepEqual(stderr.sort(), ['EMPTY=', 'GREETING=hello']);
    });

    test(`[${mode}] [wasi] an in-memory file system: reads, writes the host sees, read-only mounts and no way out`, async () => {
      const files = createMemoryFileSystem({ '/static/hello.txt': 'read me', '/secret.txt': 'outside', '/rw/': '' });
      const lines: string[] = [];
      const allowedPaths = { '/rw': '/data', 'ro:/static': '/static' };
      await using(
        plugin('wasi-files'),
        { ...options, useWasi: true, wasiFileSystem: files, allowedPaths, wasiStdout: (line: string) => void lines.push(line) },
        async (p) => {
          assert.equal((await p.call('read_file', '/static/hello.txt'))?.text(), 'read me');
          assert.equal((await p.call('write_file', JSON.stringify({ path: '/data/out.txt', content: 'written' })))?.text(), 'ok');
          assert.equal(new TextDecoder().decode(files.readFile('/rw/out.txt')), 'written');
          assert.equal((await p.call('list_dir', '/static'))?.text(), 'hello.txt');
          await rejection(p.call('write_file', JSON.stringify({ path: '/static/hello.txt', content: 'x' })));
          assert.equal(new TextDecoder().decode(files.readFile('/static/hello.txt')), 'read me');
          await rejection(p.call('read_file', '/data/../secret.txt'));
          assert.equal((await p.call('hello_stdout'))?.text(), 'done');
          assert.deepEqual(lines, ['hello from wasi']);
        },
      );
    });

    // ---------------------------------------------------------------- HTTP

    test(`[${mode}] [http] a request to an allowed 127.0.0.1 reaches the server; a denied host never does`, async () => {
      const httpBase = env.httpBase;
      assert.ok(httpBase !== undefined, 'no HTTP endpoint: run this suite through scripts/test-runtimes.mjs or scripts/test-browser.mjs');
      const wasm = await httpGuest();
      const url = (path: string) => `${httpBase}${path}`;
      await using({ wasm: [{ data: wasm }] }, { ...options, allowedHosts: ['127.0.0.1'] }, async (p) => {
        assert.equal((await p.call('fetch', JSON.stringify({ url: url(`/hello?mode=${mode}`) })))?.text(), `hello ${mode}`);
      });
      const deniedPath = `/denied?mode=${mode}&runtime=${encodeURIComponent(env.runtimeName)}`;
      await using({ wasm: [{ data: wasm }] }, { ...options, allowedHosts: ['example.com'] }, async (p) => {
        const denied = await rejection(p.call('fetch', JSON.stringify({ url: url(deniedPath) })));
        // The call fails (the host function threw), with the denial as its cause.
        assert.ok(denied instanceof PluginCallError, `not a PluginCallError: ${String(denied)}`);
        assert.ok(denied.cause instanceof HttpDeniedError, `not caused by an HttpDeniedError: ${String(denied.cause)}`);
        assert.equal(denied.cause.code, 'PLUGHOST_HTTP_DENIED');
      });
      const seen = await (await fetch(url(`/seen?path=${encodeURIComponent(deniedPath)}`))).text();
      assert.equal(seen, '0', 'the denied request reached the server');
    });

    // Chromium's URL parser spells `*` in a host as `%2A` where Node, Deno and Bun keep it: a
    // pattern normalized through it matched no host (go-sdk's and dotnet-sdk's http.wasm ask for `*`).
    test(`[${mode}] [http] allowedHosts patterns with * ("*", "127.0.0.*", "*.0.0.1") reach 127.0.0.1`, async () => {
      const httpBase = env.httpBase;
      assert.ok(httpBase !== undefined, 'no HTTP endpoint: run this suite through scripts/test-runtimes.mjs or scripts/test-browser.mjs');
      const wasm = await httpGuest();
      for (const pattern of ['*', '127.0.0.*', '*.0.0.1']) {
        await using({ wasm: [{ data: wasm }] }, { ...options, allowedHosts: [pattern] }, async (p) => {
          const url = `${httpBase}/hello?mode=${encodeURIComponent(`${mode} ${pattern}`)}`;
          assert.equal((await p.call('fetch', JSON.stringify({ url })))?.text(), `hello ${mode} ${pattern}`, `allowedHosts: [${JSON.stringify(pattern)}]`);
        });
      }
    });
  }

  // ---------------------------------------------------------------- JSPI on the main thread

  test('[main] [jspi] an async host function runs where JSPI exists, and a timer fires mid-call; elsewhere a LinkError names runInWorker', async () => {
    let timerFired = false;
    const options = {
      functions: {
        'extism:host/user': {
          echo: async (ctx: CallContext, h: number) => {
            // The guest is suspended here: a timer set before the call gets its turn.
            await new Promise<void>((resolve) => setTimeout(resolve, 1));
            return ctx.store(`${ctx.read(h)!.text()}, awaited${timerFired ? ' after the timer' : ''}`);
          },
        },
      },
    };
    if (!env.jspi) {
      const refused = await rejection(createPlugin(plugin('host-echo'), options));
      assert.ok(refused instanceof LinkError, `not a LinkError: ${String(refused)}`);
      assert.match(refused.message, /runInWorker: true/);
      return;
    }
    await using(plugin('host-echo'), options, async (p) => {
      setTimeout(() => {
        timerFired = true;
      }, 0);
      assert.equal((await p.call('echo_via_host', 'x'))?.text(), 'x, awaited after the timer');
    });
  });

  test('[main] [jspi] [http] http_request is awaited where JSPI exists (the user’s fetch serves it); elsewhere a custom fetch is refused', async () => {
    const wasm = await httpGuest();
    let timerFired = false;
    // answers only once a timer has run: the event loop turns while the guest waits
    const custom = async (input: string | URL | Request) => {
      await new Promise<void>((resolve) => setTimeout(resolve, 1));
      timerFired = true;
      return new Response(`fetched ${String(input)}`);
    };
    const options = { allowedHosts: ['127.0.0.1'], fetch: custom as typeof fetch };
    if (!env.jspi) {
      const refused = await rejection(createPlugin({ wasm: [{ data: wasm }] }, options));
      assert.ok(refused instanceof PlughostError && refused.code === 'PLUGHOST_MANIFEST', `not a ManifestError: ${String(refused)}`);
      return;
    }
    await using({ wasm: [{ data: wasm }] }, options, async (p) => {
      assert.equal((await p.call('fetch', JSON.stringify({ url: 'http://127.0.0.1/jspi' })))?.text(), 'fetched http://127.0.0.1/jspi');
      assert.equal(timerFired, true);
    });
  });

  return tests;
}

/** A call that has not settled by then has hung (worker mode; a hung main thread is the script's to kill). */
const TEST_BOUND_MS = 60_000;

/**
 * Run `tests` in order (those whose name contains `only`, when given), printing for the scripts
 * one line each: `start\t<name>` before it (so a hang names its test), then `ok\t<name>\t<ms>`
 * or `not ok\t<name>\t<message>`. Resolves with the number that failed.
 */
export async function runTests(tests: readonly Test[], print: (line: string) => void, only?: string): Promise<number> {
  let failed = 0;
  for (const { name, run } of tests) {
    if (only !== undefined && !name.includes(only)) continue;
    print(`start\t${name}`);
    const started = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        run(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no result after ${TEST_BOUND_MS} ms`)), TEST_BOUND_MS);
        }),
      ]);
      print(`ok\t${name}\t${Math.round(performance.now() - started)}`);
    } catch (err) {
      failed++;
      const message = err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err);
      print(`not ok\t${name}\t${message.replace(/\s+/g, ' ')}`);
    } finally {
      clearTimeout(timer);
    }
  }
  return failed;
}
