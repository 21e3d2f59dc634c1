// The platform seam: the core reaches its runtime only through the Platform an entry hands in
// (bindPlatform). A platform that lacks a part (a browser's: no files, no threads, no blocking)
// gets an error naming what is missing and what to use instead; the parts it has are the ones
// used.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { describe, it } from 'node:test';
import { bindPlatform } from '../src/bind.js';
import { type CallContext, createPlugin, ManifestError, type PlughostError, WasmSourceError, WorkerError } from '../src/index.js';
import { bytesToOverwrite } from '../src/internal/bytes.js';
import { hasJspi } from '../src/internal/jspi.js';
import { nodeFileSystem, nodePlatform, nodeThreads } from '../src/internal/platform/node/index.js';
import type { Platform, SyncPort } from '../src/internal/platform/platform.js';
import { assemble, fixturePath, pluginPath, runBounded } from './helpers.js';

/** Node's platform without the parts a browser's main thread lacks. */
const bare: Platform = {
  ...nodePlatform,
  name: 'a bare test platform',
  files: undefined,
  wasiFileSystem: undefined,
  syncHttp: undefined,
  threads: undefined,
  crossOriginChecksEnforced: true,
};
const onBare = bindPlatform(bare);
const noop = () => assemble('(module (func (export "run")))');

const refusal =
  (type: new (...args: never[]) => PlughostError, ...patterns: RegExp[]) =>
  (err: unknown): boolean => {
    assert.ok(err instanceof type, `expected a ${type.name}, got ${err}`);
    for (const pattern of patterns) assert.match(err.message, pattern);
    return true;
  };

describe('a platform without a file system', () => {
  it('refuses a wasm path, naming it and saying to pass a URL or the bytes', async () => {
    await assert.rejects(onBare.createPlugin('/plugins/count-vowels.wasm'), refusal(WasmSourceError, /\/plugins\/count-vowels\.wasm/, /pass a URL/));
    await assert.rejects(onBare.createPlugin({ wasm: [{ path: 'x.wasm' }] }), refusal(WasmSourceError, /x\.wasm/, /no file system/));
  });

  it('refuses a manifest file and a file: URL the same way', async () => {
    await assert.rejects(onBare.createPlugin('plugin.json'), refusal(WasmSourceError, /manifest file plugin\.json/, /pass a URL/));
    await assert.rejects(onBare.createPlugin(new URL('file:///srv/plugin.wasm')), refusal(WasmSourceError, /file:\/\/\/srv\/plugin\.wasm/, /pass a URL/));
    await assert.rejects(onBare.createPlugin({ wasm: [{ url: 'file:///srv/x.wasm' }] }), refusal(WasmSourceError, /file:\/\/\/srv\/x\.wasm/));
  });

  it('still creates a plug-in from bytes', async () => {
    const plugin = await onBare.createPlugin(await noop());
    assert.equal(await plugin.call('run'), null);
    await plugin.close();
  });

  it('refuses allowedPaths without a WASI file system, naming the entry', async () => {
    await assert.rejects(
      onBare.createPlugin(await noop(), { useWasi: true, allowedPaths: { '/tmp': '/data' } }),
      refusal(ManifestError, /allowed_paths\["\/tmp"\]/, /no file system/),
    );
  });
});

describe('a platform with a WASI file system but no files of its own (an in-memory one)', () => {
  it('checks allowedPaths against the WASI file system', async () => {
    const memoryLike = bindPlatform({ ...bare, wasiFileSystem: nodeFileSystem });
    await assert.rejects(
      memoryLike.createPlugin(await noop(), { useWasi: true, allowedPaths: { '/no/such/plughost/dir': '/data' } }),
      refusal(ManifestError, /allowed_paths\["\/no\/such\/plughost\/dir"\]/, /does not exist/),
    );
    const plugin = await memoryLike.createPlugin(await noop(), { useWasi: true, allowedPaths: { [tmpdir()]: '/data' } });
    await plugin.close();
  });
});

describe('a platform without threads', () => {
  it('refuses runInWorker and createPool with a WorkerError saying what to do instead', async () => {
    await assert.rejects(onBare.createPlugin(await noop(), { runInWorker: true }), refusal(WorkerError, /needs threads/, /runInWorker: false/));
    await assert.rejects(onBare.createPool(await noop(), { size: 1 }), refusal(WorkerError, /needs threads/, /createPlugin instead/));
  });
});

describe('a platform that cannot block for HTTP', () => {
  it('refuses http_request on this thread at creation, naming JSPI and runInWorker', {
    skip: hasJspi() && 'this engine serves HTTP through JSPI',
  }, async () => {
    await assert.rejects(
      onBare.createPlugin(await readFile(fixturePath('http-fetch')), { allowedHosts: ['127.0.0.1'] }),
      refusal(ManifestError, /allowedHosts/, /JSPI/, /runInWorker: true/),
    );
  });
});

describe("the platform's parts are the ones used", () => {
  it('CAPABILITIES says what the platform has', () => {
    const node = bindPlatform(nodePlatform).CAPABILITIES;
    assert.deepEqual([node.manifestSupportsPaths, node.fsAccess, node.hasWorkerCapability, node.crossOriginChecksEnforced], [true, true, true, false]);
    const { CAPABILITIES } = onBare;
    assert.deepEqual(
      [CAPABILITIES.manifestSupportsPaths, CAPABILITIES.fsAccess, CAPABILITIES.hasWorkerCapability, CAPABILITIES.crossOriginChecksEnforced],
      [false, false, false, true],
    );
  });

  it("sends guest output to the platform's output when its environment turns it on", async () => {
    const written: [number, string][] = [];
    const platform: Platform = {
      ...bare,
      environmentVariable: (name) => (name === 'EXTISM_ENABLE_WASI_OUTPUT' ? '1' : undefined),
      output: (fd) => ({ write: (chunk: Uint8Array) => written.push([fd, new TextDecoder().decode(chunk)]) }),
    };
    const wasm = await assemble(`(module
      (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 16) "out\\n")
      (func (export "run") (result i32)
        (i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 4))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
        (i32.const 0)))`);
    const plugin = await bindPlatform(platform).createPlugin(wasm, { useWasi: true });
    await plugin.call('run');
    await plugin.close();
    assert.deepEqual(written, [
      [1, 'out\n'],
      [2, 'out\n'],
    ]);
    assert.equal(bindPlatform(platform).CAPABILITIES.extismStdoutEnvVarSet, true);
  });

  it("makes large outputs with Node's unfilled allocator, small ones zero-filled on the JS heap", async () => {
    // importing the Node platform wires its allocator in; a large output skips the zero-fill
    const plugin = await createPlugin({ wasm: [{ path: pluginPath('count-vowels') }] });
    await plugin.close();
    assert.ok(Buffer.isBuffer(bytesToOverwrite(8192)), 'from Buffer.allocUnsafeSlow');
    assert.equal(bytesToOverwrite(8192).buffer.byteLength, 8192);
    assert.ok(!Buffer.isBuffer(bytesToOverwrite(100)));
  });

  it("checks a module's hash with the platform's sha256", async () => {
    // A digest no real module has, so the compiled-module cache entry it makes is this test's alone.
    const digest = `${'0'.repeat(56)}5ea11e55`;
    const platform: Platform = { ...bare, sha256Hex: () => digest };
    const wasm = await assemble('(module (func (export "hashed_by_the_platform")))');
    const plugin = await bindPlatform(platform).createPlugin({ wasm: [{ data: wasm, hash: digest }] });
    assert.ok(await plugin.functionExists('hashed_by_the_platform'));
    await plugin.close();
  });

  it("runs a worker whose input arrives late and whose sync channel arrives as plain data, as a Web Worker's do", async () => {
    const loop = new URL('../src/internal/worker/worker-loop.js', import.meta.url).href;
    const node = new URL('../src/internal/platform/node/index.js', import.meta.url).href;
    // The worker side: its input a turn late, its port unwrapped by adoptPort (unusable without it).
    const entry = `
      import { runPluginWorker } from ${JSON.stringify(loop)};
      import { nodePlatform, nodeWorkerSide } from ${JSON.stringify(node)};
      const late = () => new Promise((resolve) => setImmediate(() => resolve(nodeWorkerSide.workerInput())));
      await runPluginWorker(nodePlatform, { ...nodeWorkerSide, workerInput: late, adoptPort: (received) => received.wrapped });`;
    type Wrapped = { wrapped: SyncPort };
    const platform: Platform = {
      ...nodePlatform,
      threads: {
        ...nodeThreads,
        pluginWorkerEntry: new URL(`data:text/javascript,${encodeURIComponent(entry)}`),
        createSyncChannel: () => {
          const { local, remote } = nodeThreads.createSyncChannel();
          return { local, remote: { wrapped: remote } as unknown as SyncPort };
        },
        startWorker: (url, data, transfer) =>
          nodeThreads.startWorker(
            url,
            data,
            transfer.map((item) => (item as Partial<Wrapped>).wrapped ?? item),
          ),
      },
    };
    const plugin = await bindPlatform(platform).createPlugin(pluginPath('host-echo'), {
      runInWorker: true,
      functions: { 'extism:host/user': { echo: (ctx: CallContext, h: number) => ctx.store(ctx.read(h)!.text().toUpperCase()) } },
    });
    try {
      // the host function's read and store go over the sync channel
      assert.equal((await plugin.call('echo_via_host', 'late and plain'))?.text(), 'LATE AND PLAIN');
    } finally {
      await plugin.close();
    }
  });
});

describe('a thread that may not block (canBlock: false)', () => {
  // Atomics.wait made to throw, as on a browser's main thread; in a child, so that a sleep that
  // ignored its deadline would fail the test at the bound instead of holding this process.
  const bind = new URL('../src/bind.js', import.meta.url).href;
  const node = new URL('../src/internal/platform/node/index.js', import.meta.url).href;
  const preamble = `
    import { bindPlatform } from ${JSON.stringify(bind)};
    import { nodePlatform } from ${JSON.stringify(node)};
    Atomics.wait = () => { throw new Error('Atomics.wait on a thread that may not block'); };
    const api = bindPlatform({ ...nodePlatform, canBlock: false });`;

  it('ends a WASI sleep at the call deadline without Atomics.wait', async () => {
    const { stdout } = await runBounded(
      `${preamble}
      const plugin = await api.createPlugin(${JSON.stringify(fixturePath('sleep'))}, { useWasi: true, timeoutMs: 150 });
      const err = await plugin.call('sleep').then(() => undefined, (e) => e);
      console.log(err?.code);`,
      { timeoutMs: 30_000, maxRssMb: 400 },
    );
    assert.equal(stdout.trim(), 'PLUGHOST_TIMEOUT');
  });

  it("serves a worker plug-in's host function memory requests without Atomics.wait", async () => {
    const { stdout } = await runBounded(
      `${preamble}
      const plugin = await api.createPlugin(${JSON.stringify(pluginPath('host-echo'))}, {
        runInWorker: true,
        functions: { 'extism:host/user': { echo: (ctx, h) => ctx.store(ctx.read(h).text().toUpperCase()) } },
      });
      console.log((await plugin.call('echo_via_host', 'spin, do not wait')).text());
      await plugin.close();`,
      { timeoutMs: 30_000, maxRssMb: 400 },
    );
    assert.equal(stdout.trim(), 'SPIN, DO NOT WAIT');
  });
});
