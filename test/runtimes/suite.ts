// The cross-runtime suite: what a user of the published package does, on every JavaScript
// runtime we claim (Node 20-26, Deno, Bun). scripts/test-runtimes.mjs runs it once per
// runtime, each in its own process. It imports the bundle the package ships
// (dist/bundle/index.js), not the unbundled build, and uses only what every runtime has:
// node:assert, node:fs, node:os, node:path, fetch — no node:test, which Deno and Bun do not
// run the same way. Not named *.test.ts, so scripts/test.mjs does not run it with the rest.
//
// Output, one line per test, for the script to read: `ok\t<name>\t<ms>` or
// `not ok\t<name>\t<message>`; `start\t<name>` before each (so a hang names its test), and a
// `features\t<json>` line first. Exits 1 if any test failed. PLUGHOST_RUNTIMES_ONLY=<text>
// runs only the tests whose name contains it.
//
// HTTP tests need a server that is not on this thread (a main-thread plug-in blocks it while
// its request runs): the script serves one on 127.0.0.1 and passes its URL in
// PLUGHOST_RUNTIMES_HTTP.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import type * as Plughost from '../../src/index.js';
import type { CallContext, Plugin, PluginOptions } from '../../src/index.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const bundle = new URL('../../../dist/bundle/index.js', import.meta.url);
const {
  createPlugin,
  createPool,
  AbortError,
  FuelExhaustedError,
  FunctionNotFoundError,
  HttpDeniedError,
  LinkError,
  PlughostError,
  PluginCallError,
  TimeoutError,
} = (await import(bundle.href)) as typeof Plughost;

const plugin = (name: string) => join(repoRoot, 'build', 'plugins', `${name}.wasm`);
const fixture = (name: string) => join(repoRoot, 'build', 'fixtures', `${name}.wasm`);
const httpBase = process.env.PLUGHOST_RUNTIMES_HTTP;

/** Which runtime this is. Bun also fills process.versions.node (and .v8), so it is asked first. */
function runtimeName(): string {
  const versions = process.versions as Record<string, string | undefined>;
  if (versions.bun !== undefined) return `Bun ${versions.bun}`;
  if (versions.deno !== undefined) return `Deno ${versions.deno}`;
  return `Node ${versions.node}`;
}

/** What the runtime offers, as the first line of the output says. */
const features = {
  runtime: runtimeName(),
  jspi: typeof (WebAssembly as unknown as { Suspending?: unknown }).Suspending === 'function',
};

interface Test {
  name: string;
  run: () => Promise<void>;
}
const tests: Test[] = [];
/** Register a test; names start with their area in brackets, which the script's table reads. */
const test = (name: string, run: () => Promise<void>) => void tests.push({ name, run });

/** Open a plug-in, run `body`, and close it even when `body` fails (a failure must not leave a worker running). */
async function using(source: string | Plughost.Manifest, options: PluginOptions, body: (p: Plugin) => Promise<void>): Promise<void> {
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
  assert.fail('expected the call to fail');
}

const MODES = [
  ['main', {}],
  ['worker', { runInWorker: true }],
] as const satisfies readonly (readonly [string, PluginOptions])[];

// ------------------------------------------------------------------ plug-in calls

for (const [mode, options] of MODES) {
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
      const missing = await rejection(p.call('no_such_export'));
      assert.ok(missing instanceof FunctionNotFoundError);
      assert.equal(missing.code, 'PLUGHOST_FUNCTION_NOT_FOUND');
      assert.equal(await p.call('fail_with_code', '0'), null);
    }));

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
    const wasm = await assembleWat(`(module (import "extism:host/user" "give_up" (func $give_up))
      (func (export "run") (call $give_up) (loop $l (br $l))))`);
    await using(
      { wasm: [{ data: wasm }] },
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

  // ---------------------------------------------------------------- WASI

  test(`[${mode}] [wasi] reads and writes a mounted temp dir, and cannot leave it`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plughost-runtimes-'));
    try {
      mkdirSync(join(dir, 'rw'));
      mkdirSync(join(dir, 'ro'));
      writeFileSync(join(dir, 'ro', 'hello.txt'), 'read me');
      writeFileSync(join(dir, 'secret.txt'), 'outside');
      const lines: string[] = [];
      const allowedPaths = { [join(dir, 'rw')]: '/data', [`ro:${join(dir, 'ro')}`]: '/static' };
      await using(plugin('wasi-files'), { ...options, useWasi: true, allowedPaths, wasiStdout: (line: string) => void lines.push(line) }, async (p) => {
        assert.equal((await p.call('read_file', '/static/hello.txt'))?.text(), 'read me');
        assert.equal((await p.call('write_file', JSON.stringify({ path: '/data/out.txt', content: 'written' })))?.text(), 'ok');
        assert.equal(readFileSync(join(dir, 'rw', 'out.txt'), 'utf8'), 'written');
        assert.equal((await p.call('list_dir', '/static'))?.text(), 'hello.txt');
        await rejection(p.call('write_file', JSON.stringify({ path: '/static/hello.txt', content: 'x' })));
        assert.equal(readFileSync(join(dir, 'ro', 'hello.txt'), 'utf8'), 'read me');
        await rejection(p.call('read_file', '/data/../secret.txt'));
        assert.equal((await p.call('hello_stdout'))?.text(), 'done');
        assert.deepEqual(lines, ['hello from wasi']);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // ---------------------------------------------------------------- HTTP

  test(`[${mode}] [http] a request to an allowed 127.0.0.1 reaches the server; a denied host never does`, async () => {
    assert.ok(httpBase !== undefined, 'PLUGHOST_RUNTIMES_HTTP is not set: run this suite through scripts/test-runtimes.mjs');
    const wasm = await httpGuest();
    const url = (path: string) => `${httpBase}${path}`;
    await using({ wasm: [{ data: wasm }] }, { ...options, allowedHosts: ['127.0.0.1'] }, async (p) => {
      assert.equal((await p.call('fetch', JSON.stringify({ url: url(`/hello?mode=${mode}`) })))?.text(), `hello ${mode}`);
    });
    const deniedPath = `/denied?mode=${mode}&runtime=${encodeURIComponent(runtimeName())}`;
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
}

// ---------------------------------------------------------------- main-thread and worker-only behaviour

test('[main] [jspi] an async host function runs where JSPI exists; elsewhere a LinkError names runInWorker', async () => {
  const options = { functions: { 'extism:host/user': { echo: async (ctx: CallContext, h: number) => ctx.store(`${ctx.read(h)!.text()}, awaited`) } } };
  if (!features.jspi) {
    const refused = await rejection(createPlugin(plugin('host-echo'), options));
    assert.ok(refused instanceof LinkError, `not a LinkError: ${String(refused)}`);
    assert.match(refused.message, /runInWorker: true/);
    return;
  }
  await using(plugin('host-echo'), options, async (p) => {
    assert.equal((await p.call('echo_via_host', 'x'))?.text(), 'x, awaited');
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
  if (!features.jspi) {
    const refused = await rejection(createPlugin({ wasm: [{ data: wasm }] }, options));
    assert.ok(refused instanceof PlughostError && refused.code === 'PLUGHOST_MANIFEST', `not a ManifestError: ${String(refused)}`);
    return;
  }
  await using({ wasm: [{ data: wasm }] }, options, async (p) => {
    assert.equal((await p.call('fetch', JSON.stringify({ url: 'http://127.0.0.1/jspi' })))?.text(), 'fetched http://127.0.0.1/jspi');
    assert.equal(timerFired, true);
  });
});

test('[worker] an async host function awaits this thread’s event loop while the guest waits', () =>
  using(
    plugin('host-echo'),
    {
      runInWorker: true,
      functions: {
        'extism:host/user': {
          async echo(ctx: CallContext, h: number) {
            const text = ctx.read(h)!.text();
            await new Promise<void>((resolve) => setTimeout(resolve, 0));
            ctx.setVariable('last', text);
            return ctx.store(`${text}, awaited`);
          },
        },
      },
    },
    async (p) => {
      assert.equal((await p.call('echo_via_host', 'one'))?.text(), 'one, awaited');
      assert.equal((await p.call('echo_via_host', 'two'))?.text(), 'two, awaited');
    },
  ));

test('[worker] a pool of two workers answers overlapping calls, each with its own output', async () => {
  const pool = await createPool(plugin('count-vowels'), { size: 2 });
  try {
    const inputs = ['a', 'aa', 'aaa', 'aaaa', 'aaaaa', 'aaaaaa'];
    const outputs = await Promise.all(inputs.map((input) => pool.call('count_vowels', input)));
    assert.deepEqual(
      outputs.map((out) => out?.json().count),
      inputs.map((input) => input.length),
    );
  } finally {
    await pool.close();
  }
});

interface WabtModule {
  parseWat(name: string, source: string): { toBinary(options: object): { buffer: Uint8Array }; destroy(): void };
}
let wabt: Promise<WabtModule> | undefined;
/** WebAssembly text to bytes, with wabt (itself wasm, so it runs wherever the suite does). */
async function assembleWat(source: string): Promise<Uint8Array> {
  wabt ??= import('wabt').then((m: { default: () => Promise<WabtModule> }) => m.default());
  const parsed = (await wabt).parseWat('inline.wat', source);
  try {
    return parsed.toBinary({}).buffer;
  } finally {
    parsed.destroy();
  }
}
/** input: an Extism HTTP request (JSON); output: the response body (test/fixtures/http-fetch.wat). */
const httpGuest = () => readFileSync(fixture('http-fetch'));

// ------------------------------------------------------------------ the runner

/** A call that has not settled by then has hung (worker mode; a hung main thread is the script's to kill). */
const TEST_BOUND_MS = 60_000;

console.log(`features\t${JSON.stringify(features)}`);

let failed = 0;
const only = process.env.PLUGHOST_RUNTIMES_ONLY;
for (const { name, run } of tests) {
  if (only !== undefined && !name.includes(only)) continue;
  console.log(`start\t${name}`);
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      run(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no result after ${TEST_BOUND_MS} ms`)), TEST_BOUND_MS);
      }),
    ]);
    console.log(`ok\t${name}\t${Math.round(performance.now() - started)}`);
  } catch (err) {
    failed++;
    const message = err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err);
    console.log(`not ok\t${name}\t${message.replace(/\s+/g, ' ')}`);
  } finally {
    clearTimeout(timer);
  }
}
// Explicitly: an idle helper worker or timer must not decide when (or whether) this process ends.
process.exit(failed === 0 ? 0 : 1);
