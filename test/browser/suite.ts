// The browser test module: the cross-runtime tests (test/runtimes/cases.ts) and the browser's
// own, in a page, against the browser bundle (dist/bundle/browser.js). scripts/test-browser.mjs
// serves the repo and opens it in headless Chromium on a cross-origin isolated origin and on one
// that is not; it reads the lines this module reports (the cross-runtime suite's protocol, then
// `done`). Plug-ins come by URL (a URL object, a manifest URL), as a fetch Response or as bytes,
// never by path: a page has no files. Opened by hand, the lines go to the console.
//
// The page's query: `http` is the HTTP tests' endpoint (another origin, with CORS), `only`
// runs the tests whose name contains it.
import type * as Plughost from '../../src/index.js';
import { rejection, runTests, scoped, sharedCases, type Test } from '../runtimes/cases.js';
import * as assert from '../runtimes/check.js';

const report: (line: string) => void = (globalThis as { __plughostReport?: (line: string) => void }).__plughostReport ?? ((line) => console.log(line));
const query = new URL(location.href).searchParams;

// Served from build/test/browser/: the bundle is at /dist/bundle/, the plug-ins at /build/plugins/.
const bundle = new URL('../../../dist/bundle/browser.js', import.meta.url);
const pluginUrl = (name: string) => new URL(`../../plugins/${name}.wasm`, import.meta.url);
const fixtureUrl = (name: string) => new URL(`../../fixtures/${name}.wasm`, import.meta.url);

const features = {
  jspi: typeof (WebAssembly as unknown as { Suspending?: unknown }).Suspending === 'function',
  crossOriginIsolated: globalThis.crossOriginIsolated === true,
  hardwareConcurrency: navigator.hardwareConcurrency,
};
report(`features\t${JSON.stringify(features)}`);

let api: typeof Plughost;
try {
  api = (await import(bundle.href)) as typeof Plughost;
} catch (err) {
  // Nothing can run: say why as a failed test, so the harness shows it.
  report(`start\t[main] the browser bundle loads`);
  report(`not ok\t[main] the browser bundle loads\t${String(err)}`);
  report('done');
  throw err;
}
const { CAPABILITIES, createPlugin, createPool, ManifestError, PluginCallError, WasmSourceError, WorkerError } = api;
const using = scoped(createPlugin);

const fixtureBytes = async (name: string) => {
  const response = await fetch(fixtureUrl(name));
  assert.ok(response.ok, `cannot fetch the fixture ${name}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
};

const tests: Test[] = sharedCases({
  api,
  // Worker mode needs shared memory, so a cross-origin isolated page (the other gets a WorkerError naming COOP/COEP, below).
  modes: features.crossOriginIsolated
    ? [
        ['main', {}],
        ['worker', { runInWorker: true }],
      ]
    : [['main', {}]],
  jspi: features.jspi,
  runtimeName: `Chromium${features.crossOriginIsolated ? ' (isolated)' : ''}`,
  // A URL object for the plug-ins, the manifest's `url` for the fixtures: both are fetched.
  plugin: pluginUrl,
  fixture: (name) => ({ wasm: [{ url: fixtureUrl(name).href }] }),
  fixtureBytes,
  httpBase: query.get('http') ?? undefined,
});
const test = (name: string, run: () => Promise<void>) => void tests.push({ name, run });

// ------------------------------------------------------------------ what only a browser shows

test('[main] a plug-in from a fetch Response, from bytes and from a URL string runs the same', async () => {
  const expected = { count: 3, total: 3, vowels: 'aeiouAEIOU' };
  const response = await fetch(pluginUrl('count-vowels'));
  await using(response, {}, async (p) => assert.deepEqual((await p.call('count_vowels', 'Hello, World!'))?.json(), expected));
  const bytes = new Uint8Array(await (await fetch(pluginUrl('count-vowels'))).arrayBuffer());
  await using(bytes, {}, async (p) => assert.deepEqual((await p.call('count_vowels', 'Hello, World!'))?.json(), expected));
  await using(pluginUrl('count-vowels').href, {}, async (p) => assert.deepEqual((await p.call('count_vowels', 'Hello, World!'))?.json(), expected));
});

test('[main] a path, or a manifest naming one, is refused: a WasmSourceError names the path and says to pass a URL, a Response or bytes', async () => {
  for (const source of ['plugins/count-vowels.wasm', { wasm: [{ path: 'plugins/count-vowels.wasm' }] }]) {
    const refused = await rejection(createPlugin(source));
    assert.ok(refused instanceof WasmSourceError, `not a WasmSourceError: ${String(refused)}`);
    assert.equal(refused.code, 'PLUGHOST_WASM_SOURCE');
    assert.match(refused.message, /plugins\/count-vowels\.wasm/);
    assert.match(refused.message, /URL/);
    assert.match(refused.message, /Response/);
    assert.match(refused.message, /bytes/);
  }
});

// go-sdk's fs.wasm, dotnet-sdk's and php-sdk's fs.wasm mount a host folder: a page has none to give.
test('[main] [wasi] allowedPaths without wasiFileSystem is refused: a ManifestError names the mount and says to pass wasiFileSystem', async () => {
  const refused = await rejection(
    createPlugin({ wasm: [{ data: await fixtureBytes('wasi-args-env') }], allowed_paths: { '/srv/data': '/mnt' } }, { useWasi: true }),
  );
  assert.ok(refused instanceof ManifestError, `not a ManifestError: ${String(refused)}`);
  assert.equal(refused.field, 'allowed_paths["/srv/data"]');
  assert.match(refused.message, /no file system/);
  assert.match(refused.message, /wasiFileSystem: createMemoryFileSystem/);
});

test('[main] CAPABILITIES says what a browser page gives: no paths, cross-origin checks, JSPI where present, workers where isolated', async () => {
  assert.equal(CAPABILITIES.manifestSupportsPaths, false);
  assert.equal(CAPABILITIES.crossOriginChecksEnforced, true);
  assert.equal(CAPABILITIES.fsAccess, false);
  assert.equal(CAPABILITIES.extismStdoutEnvVarSet, false);
  assert.equal(CAPABILITIES.supportsJSPromiseInterface, features.jspi);
  assert.equal(CAPABILITIES.hasWorkerCapability, features.crossOriginIsolated);
});

test('[main] [wasi] enableWasiOutput sends guest stdout to console.log and stderr to console.error, by lines', async () => {
  const logged: string[] = [];
  const errored: string[] = [];
  const { log, error } = console;
  console.log = (...args: unknown[]) => void logged.push(args.join(' '));
  console.error = (...args: unknown[]) => void errored.push(args.join(' '));
  try {
    await using(
      { wasm: [{ data: await fixtureBytes('wasi-args-env') }] },
      { useWasi: true, enableWasiOutput: true, wasiArgs: ['one', 'two'], wasiEnv: { KEY: 'value' } },
      async (p) => {
        assert.equal(await p.call('args_and_env'), null);
      },
    );
    // a last line without its newline comes once the guest lets the page run
    await Promise.resolve();
  } finally {
    console.log = log;
    console.error = error;
  }
  assert.deepEqual(logged, ['one', 'two']);
  assert.deepEqual(errored, ['KEY=value']);
});

if (features.crossOriginIsolated) {
  test('[worker] a pool of Web Workers shares the calls; a host function on the page answers each', async () => {
    const seen: string[] = [];
    const pool = await createPool(pluginUrl('host-echo'), {
      size: 2,
      functions: {
        'extism:host/user': {
          echo(ctx: Plughost.CallContext, h: number) {
            const text = ctx.read(h)!.text();
            seen.push(text);
            return ctx.store(text.toUpperCase());
          },
        },
      },
    });
    try {
      const outputs = await Promise.all(['a', 'b', 'c', 'd'].map(async (input) => (await pool.call('echo_via_host', input))?.text()));
      assert.deepEqual(outputs, ['A', 'B', 'C', 'D']);
      assert.deepEqual(seen.sort(), ['a', 'b', 'c', 'd']);
    } finally {
      await pool.close();
    }
  });

  test('[worker] an input in a SharedArrayBuffer is read in place by the worker, also when the call waits in the queue', async () => {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    await using(
      pluginUrl('host-echo'),
      { runInWorker: true, functions: { 'extism:host/user': { echo: async (_ctx: Plughost.CallContext, h: number) => (await opened, h) } } },
      async (p) => {
        const running = p.call('echo_via_host', 'first');
        const shared = new Uint8Array(new SharedArrayBuffer(100_000));
        const calls = [
          p.call('echo_via_host', shared.subarray(10, 60_010)),
          p.call('reverse', shared.subarray(0, 3)),
          p.call('reverse', new Uint8Array(shared.buffer, 0, 0)),
        ];
        shared.fill(7, 0, 60_010);
        shared.set([1, 2, 3]);
        open();
        assert.equal((await running)?.text(), 'first');
        const [posted, queued, empty] = await Promise.all(calls);
        assert.ok(posted?.bytes().length === 60_000 && posted.bytes().every((x) => x === 7), 'the call posted ahead read the bytes as they were when it ran');
        assert.deepEqual([...(queued?.bytes() ?? [])], [3, 2, 1]);
        assert.equal(empty, null);
      },
    );
  });
} else {
  test('[main] off a cross-origin isolated page, runInWorker and createPool fail with a WorkerError naming COOP/COEP and the two headers', async () => {
    const refused = await rejection(createPlugin(pluginUrl('count-vowels'), { runInWorker: true }));
    assert.ok(refused instanceof WorkerError, `not a WorkerError: ${String(refused)}`);
    assert.match(refused.message, /COOP\/COEP/);
    assert.match(refused.message, /Cross-Origin-Opener-Policy: same-origin/);
    assert.match(refused.message, /Cross-Origin-Embedder-Policy: require-corp/);
    assert.match(refused.message, /runInWorker: false/);
    const pool = await rejection(createPool(pluginUrl('count-vowels'), { size: 1 }));
    assert.ok(pool instanceof WorkerError, `not a WorkerError: ${String(pool)}`);
    assert.match(pool.message, /Cross-Origin-Embedder-Policy: require-corp/);
    assert.match(pool.message, /createPlugin/);
  });
}

test('[main] [http] a plug-in request carries none of the page’s cookies, even to the page’s own origin (from a worker too)', async () => {
  // biome-ignore lint/suspicious/noDocumentCookie: the test plants a cookie as a page's own code would
  document.cookie = 'plughost-page-cookie=secret; path=/';
  try {
    const probe = new URL('/cookie-seen', location.href).href;
    // the page's own fetch sends it, so the probe can see a cookie
    assert.match(await (await fetch(probe)).text(), /plughost-page-cookie=secret/);
    for (const runInWorker of features.crossOriginIsolated ? [false, true] : [false]) {
      await using({ wasm: [{ data: await fixtureBytes('http-fetch') }] }, { allowedHosts: ['127.0.0.1'], runInWorker }, async (p) => {
        assert.equal((await p.call('fetch', JSON.stringify({ url: probe })))?.text(), '', runInWorker ? 'in a worker' : 'on the page');
      });
    }
  } finally {
    // biome-ignore lint/suspicious/noDocumentCookie: and removes it
    document.cookie = 'plughost-page-cookie=; path=/; max-age=0';
  }
});

test('[main] [http] a redirect, which a page cannot inspect, fails the call saying so and what to do; its target is never reached', async () => {
  const httpBase = query.get('http');
  assert.ok(httpBase !== null, 'no HTTP endpoint: run this page through scripts/test-browser.mjs');
  const targetPath = `/hello?mode=redirected-${features.crossOriginIsolated ? 'isolated' : 'plain'}`;
  const redirect = `${httpBase}/redirect?to=${encodeURIComponent(`${httpBase}${targetPath}`)}`;
  await using({ wasm: [{ data: await fixtureBytes('http-fetch') }] }, { allowedHosts: ['127.0.0.1'] }, async (p) => {
    const failed = await rejection(p.call('fetch', JSON.stringify({ url: redirect })));
    assert.ok(failed instanceof PluginCallError, `not a PluginCallError: ${String(failed)}`);
    assert.match(failed.message, /redirect/);
    // and what to do about it
    assert.match(failed.message, /request the URL it redirects to/);
  });
  assert.equal(await (await fetch(`${httpBase}/seen?path=${encodeURIComponent(targetPath)}`)).text(), '0', 'the redirect was followed');
});

// ------------------------------------------------------------------ the run

const failed = await runTests(tests, report, query.get('only') ?? undefined);
report(`done\t${failed}`);
