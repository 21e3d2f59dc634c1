// Every field of the manifest, in both spellings, and every way creation can fail.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compilePlugin, createPlugin, ManifestError } from '../src/index.js';
import { normalizeManifest } from '../src/manifest.js';
import { assemble, pluginPath } from './helpers.js';

const ECHO = `(module
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func (export "echo") (call $output_set (call $input_offset) (call $input_length))))`;

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('manifest', () => {
  let wasm: Uint8Array;
  let dir: string;
  let wasmPath: string;
  let server: ReturnType<typeof createServer>;
  let baseUrl: string;
  const seenHeaders: Record<string, string | undefined>[] = [];

  before(async () => {
    wasm = await assemble(ECHO);
    dir = mkdtempSync(join(tmpdir(), 'plughost-manifest-'));
    wasmPath = join(dir, 'echo.wasm');
    writeFileSync(wasmPath, wasm);
    server = createServer((req, res) => {
      seenHeaders.push({ auth: req.headers.authorization, method: req.method });
      if (req.url === '/echo.wasm') {
        res.writeHead(200, { 'content-type': 'application/wasm' });
        res.end(wasm);
      } else if (req.url === '/manifest.json') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ wasm: [{ url: `${baseUrl}/echo.wasm` }], config: { from: 'url' } }));
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const echoes = async (manifest: Parameters<typeof createPlugin>[0], options = {}) => {
    const plugin = await createPlugin(manifest, options);
    try {
      assert.equal((await plugin.call('echo', 'ok'))?.text(), 'ok');
    } finally {
      await plugin.close();
    }
  };

  it('accepts wasm as a path string, a file: URL, bytes, an ArrayBuffer, a module and a Response', async () => {
    await echoes(wasmPath);
    await echoes(new URL(`file://${wasmPath}`));
    await echoes(wasm);
    await echoes(wasm.slice().buffer);
    await echoes(await WebAssembly.compile(wasm as Uint8Array<ArrayBuffer>));
    await echoes(new Response(wasm as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/wasm' } }));
    await echoes({ wasm: [{ module: await WebAssembly.compile(wasm as Uint8Array<ArrayBuffer>) }] });
    await echoes({ wasm: [{ response: new Response(wasm as Uint8Array<ArrayBuffer>) }] });
  });

  it('takes wasm data in a SharedArrayBuffer as a copy, so what is hashed is what compiles', async () => {
    const shared = new Uint8Array(new SharedArrayBuffer(wasm.byteLength + 8), 8);
    shared.set(wasm);
    const normalized = normalizeManifest({ wasm: [{ data: shared, hash: sha256(wasm) }] });
    const source = normalized.wasm[0]!.source;
    assert.equal(source.kind, 'data');
    if (source.kind !== 'data') return;
    assert.ok(source.bytes.buffer instanceof ArrayBuffer, 'the bytes were copied out of shared memory');
    assert.deepEqual(source.bytes, wasm);
    await echoes({ wasm: [{ data: shared, hash: sha256(wasm) }] });
  });

  it('does not load the fetch machinery (undici, ~35 ms) for a plug-in from a path, bytes or a module', () => {
    // Run in a fresh process: this one has loaded undici already (the test server, Responses).
    const script = `
      const { createPlugin } = await import(${JSON.stringify(new URL('../src/index.js', import.meta.url).href)});
      const wasm = new Uint8Array(${JSON.stringify([...wasm])});
      for (const source of [${JSON.stringify(wasmPath)}, wasm, { wasm: [{ module: new WebAssembly.Module(wasm) }] }]) {
        const plugin = await createPlugin(source);
        await plugin.call('echo', 'x');
        await plugin.close();
      }
      console.log(process.moduleLoadList.filter((m) => m.includes('undici')).join(',') || 'none');`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(result.stderr, '');
    assert.equal(result.stdout.trim(), 'none');
  });

  it('fetches wasm from a URL with the method and headers of the manifest', async () => {
    seenHeaders.length = 0;
    await echoes({ wasm: [{ url: `${baseUrl}/echo.wasm`, headers: { authorization: 'Bearer t' }, method: 'GET' }] });
    assert.deepEqual(seenHeaders[0], { auth: 'Bearer t', method: 'GET' });
    await echoes(`${baseUrl}/echo.wasm`);
    await echoes(`${baseUrl}/manifest.json`);
  });

  it('reads a canonical JSON manifest from a string and from a .json file, data as base64', async () => {
    const json = JSON.stringify({
      wasm: [{ data: Buffer.from(wasm).toString('base64'), name: 'main' }],
      config: { a: 'b' },
      memory: { max_pages: 4 },
      timeout_ms: 1000,
    });
    await echoes(json);
    const manifestPath = join(dir, 'manifest.json');
    writeFileSync(manifestPath, JSON.stringify({ wasm: [{ path: 'echo.wasm', hash: sha256(wasm) }] }));
    await echoes(manifestPath);
  });

  it('checks the sha256 hash and names both hashes on a mismatch', async () => {
    await echoes({ wasm: [{ data: wasm, hash: sha256(wasm) }] });
    const wrong = '0'.repeat(64);
    await assert.rejects(createPlugin({ wasm: [{ path: wasmPath, hash: wrong }] }), (err: Error & { code: string }) => {
      assert.equal(err.code, 'PLUGHOST_HASH_MISMATCH');
      assert.match(err.message, new RegExp(wrong));
      assert.match(err.message, new RegExp(sha256(wasm)));
      return true;
    });
  });

  it('names the path of a missing file', async () => {
    await assert.rejects(createPlugin(join(dir, 'missing.wasm')), { code: 'PLUGHOST_WASM_SOURCE', message: /missing\.wasm: no such file/ });
  });

  it('says so when the bytes are not WebAssembly', async () => {
    await assert.rejects(createPlugin(new TextEncoder().encode('hello world')), { code: 'PLUGHOST_WASM_SOURCE', message: /not a WebAssembly module/ });
  });

  const bad: [string, unknown, string][] = [
    ['no wasm', {}, 'wasm'],
    ['an empty wasm list', { wasm: [] }, 'wasm'],
    ['a wasm entry without a source', { wasm: [{ name: 'x' }] }, 'wasm[0]'],
    ['a malformed hash', { wasm: [{ path: 'x.wasm', hash: 'abc' }] }, 'wasm[0].hash'],
    ['a non-string config value', { wasm: [{ path: 'x.wasm' }], config: { n: 1 } }, 'config.n'],
    ['allowed_hosts that is not a list', { wasm: [{ path: 'x.wasm' }], allowed_hosts: 'example.com' }, 'allowed_hosts'],
    ['a negative max_pages', { wasm: [{ path: 'x.wasm' }], memory: { max_pages: -1 } }, 'memory.max_pages'],
    ['a zero timeout', { wasm: [{ path: 'x.wasm' }], timeout_ms: 0 }, 'timeout_ms'],
    [
      'duplicate module names',
      {
        wasm: [
          { path: 'a.wasm', name: 'x' },
          { path: 'b.wasm', name: 'x' },
        ],
      },
      'wasm[1].name',
    ],
    ['a url that is not a URL', { wasm: [{ url: 'not a url' }] }, 'wasm[0].url'],
    ['data that is not base64', { wasm: [{ data: '%%%' }] }, 'wasm[0].data'],
  ];
  for (const [what, manifest, field] of bad) {
    it(`names the field for ${what}`, async () => {
      await assert.rejects(createPlugin(manifest as never), (err: ManifestError) => {
        assert.ok(err instanceof ManifestError, String(err));
        assert.equal(err.field, field);
        return true;
      });
    });
  }

  it('picks the module named main, else the last one', async () => {
    const other = await assemble(`(module (func (export "other")))`);
    const main = await createPlugin({
      wasm: [
        { data: wasm, name: 'main' },
        { data: other, name: 'lib' },
      ],
    });
    assert.equal(await main.functionExists('echo'), true);
    const last = await createPlugin({ wasm: [{ data: wasm, name: 'lib' }, { data: other }] });
    assert.equal(await last.functionExists('other'), true);
  });

  it('links modules by name, circular imports included', async () => {
    const lib = await assemble(`(module
      (import "main" "twice" (func $twice (param i32) (result i32)))
      (func (export "add_one_then_twice") (param i32) (result i32) (call $twice (i32.add (local.get 0) (i32.const 1)))))`);
    const main = await assemble(`(module
      (import "lib" "add_one_then_twice" (func $f (param i32) (result i32)))
      (func (export "twice") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
      (func (export "run") (result i32) (i32.sub (call $f (i32.const 4)) (i32.const 10))))`);
    const plugin = await createPlugin({
      wasm: [
        { data: lib, name: 'lib' },
        { data: main, name: 'main' },
      ],
    });
    assert.equal(await plugin.call('run'), null, '(4 + 1) * 2 - 10 = 0: success');
  });

  it('links a library module that the main module imports functions from', async () => {
    const lib = await assemble(`(module (func (export "seven") (result i32) (i32.const 7)))`);
    const main = await assemble(`(module (import "math" "seven" (func $seven (result i32))) (func (export "run") (result i32) (call $seven)))`);
    const plugin = await createPlugin({ wasm: [{ data: lib, name: 'math' }, { data: main }] });
    await assert.rejects(plugin.call('run'), { exitCode: 7 });
  });

  it('names every missing import as module.name', async () => {
    const needy = await assemble(`(module
      (import "extism:host/user" "kv_read" (func (param i64) (result i64)))
      (import "env" "abort" (func (param i32 i32 i32 i32)))
      (import "extism:host/env" "no_such_function" (func)))`);
    await assert.rejects(createPlugin(needy), (err: Error & { code: string; missing: string[] }) => {
      assert.equal(err.code, 'PLUGHOST_LINK');
      assert.deepEqual(err.missing, ['extism:host/user.kv_read', 'env.abort', 'extism:host/env.no_such_function']);
      for (const name of err.missing) assert.ok(err.message.includes(name), name);
      return true;
    });
  });

  it('says to turn on WASI when a plug-in imports it without useWasi', async () => {
    const wasi = await assemble(`(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))))`);
    await assert.rejects(createPlugin(wasi), { message: /wasi_snapshot_preview1\.fd_write.*useWasi: true/ });
  });

  it('says the allowed_paths map looks reversed when the host side is missing but the guest side exists', async () => {
    await assert.rejects(createPlugin({ wasm: [{ data: wasm }], allowed_paths: { '/data-that-does-not-exist': dir } }, { useWasi: true }), {
      code: 'PLUGHOST_MANIFEST',
      message: /looks reversed/,
    });
  });

  it('takes options over manifest values (camelCase and snake_case alike)', async () => {
    const cfg = await assemble(`(module
      (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
      (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
      (import "extism:host/env" "config_get" (func $config_get (param i64) (result i64)))
      (import "extism:host/env" "length" (func $length (param i64) (result i64)))
      (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
      (func (export "get") (local $k i64) (local $v i64)
        (local.set $k (call $alloc (i64.const 1)))
        (call $store_u8 (local.get $k) (i32.const 107))
        (local.set $v (call $config_get (local.get $k)))
        (call $output_set (local.get $v) (call $length (local.get $v)))))`);
    const plugin = await createPlugin({ wasm: [{ data: cfg }], config: { k: 'manifest', other: 'x' } }, { config: { k: 'option' } });
    assert.equal((await plugin.call('get'))?.text(), 'option');
    const manifestOnly = await createPlugin({ wasm: [{ data: cfg }], config: { k: 'manifest' } });
    assert.equal((await manifestOnly.call('get'))?.text(), 'manifest');
  });

  it("merges options.memory over the manifest's memory limit by limit", async () => {
    // count-vowels keeps a 13-byte var: a 1-byte var cap fails its call
    const manifest = { wasm: [{ path: pluginPath('count-vowels') }], memory: { max_var_bytes: 1 } };
    const capped = await createPlugin(manifest, { memory: { maxPages: 100 } });
    await assert.rejects(capped.call('count_vowels', 'a'), /maxVarBytes 1\b/);
    const raised = await createPlugin(manifest, { memory: { maxVarBytes: 1024 } });
    assert.equal((await raised.call('count_vowels', 'a'))?.json().count, 1);
    await Promise.all([capped.close(), raised.close()]);
  });

  it('sees bytes changed in place since an earlier plug-in was made from the same array', async () => {
    const first = await assemble('(module (func (export "aaaa")))');
    const second = await assemble('(module (func (export "bbbb")))');
    assert.equal(first.byteLength, second.byteLength);
    const bytes = first.slice();
    const hashOfFirst = createHash('sha256').update(first).digest('hex');
    assert.equal(await (await createPlugin({ wasm: [{ data: bytes, hash: hashOfFirst }] })).functionExists('aaaa'), true);
    bytes.set(second);
    assert.equal(await (await createPlugin({ wasm: [{ data: bytes }] })).functionExists('bbbb'), true, 'the new module, not the cached one');
    await assert.rejects(createPlugin({ wasm: [{ data: bytes, hash: hashOfFirst }] }), { code: 'PLUGHOST_HASH_MISMATCH' });
    bytes.set(first);
    assert.equal(await (await createPlugin({ wasm: [{ data: bytes, hash: hashOfFirst }] })).functionExists('aaaa'), true);
  });
});

describe('every way creation can fail is a rejection, never a throw', () => {
  /** The promise `create` returns; a synchronous throw fails the test (creation from a module or known bytes runs without awaiting). */
  const settle = (create: () => Promise<unknown>): Promise<unknown> => {
    let promise: Promise<unknown>;
    try {
      promise = create();
    } catch (err) {
      assert.fail(`threw synchronously instead of rejecting: ${String(err)}`);
    }
    assert.ok(promise instanceof Promise);
    return promise;
  };

  it('from createPlugin and compilePlugin, for a bad manifest, a bad option, a missing import, a hash mismatch and a rejected manifest promise', async () => {
    const echo = await assemble(ECHO);
    const needy = new WebAssembly.Module((await assemble(`(module (import "env" "abort" (func)))`)) as Uint8Array<ArrayBuffer>);
    const cases: [string, () => Promise<unknown>, string][] = [
      ['a manifest without wasm', () => createPlugin({} as never), 'PLUGHOST_MANIFEST'],
      ['maxWasmBytes 0', () => createPlugin(echo, { maxWasmBytes: 0 }), 'PLUGHOST_MANIFEST'],
      ['a bad log level', () => createPlugin(echo, { logLevel: 'loud' as never }), 'PLUGHOST_MANIFEST'],
      ['a missing import of a compiled module', () => createPlugin(needy), 'PLUGHOST_LINK'],
      ['a hash mismatch', () => createPlugin({ wasm: [{ data: echo, hash: '0'.repeat(64) }] }), 'PLUGHOST_HASH_MISMATCH'],
      ['fuel on a compiled module', () => compilePlugin(needy, { fuel: 10 }), 'PLUGHOST_MANIFEST'],
      ['a bad option to compilePlugin', () => compilePlugin(echo, { timeoutMs: -1 }), 'PLUGHOST_MANIFEST'],
    ];
    for (const [what, create, code] of cases) await assert.rejects(settle(create), { code }, what);
    await assert.rejects(
      settle(() => createPlugin(Promise.reject(new Error('no manifest today')))),
      /no manifest today/,
    );
  });

  it('closing twice resolves both times', async () => {
    const plugin = await createPlugin(await assemble(ECHO));
    const first = plugin.close();
    const second = plugin.close();
    assert.ok(first instanceof Promise && second instanceof Promise);
    await Promise.all([first, second]);
    await assert.rejects(plugin.call('echo'), { code: 'PLUGHOST_CLOSED' });
  });
});

describe('CAPABILITIES', () => {
  it('has every field of @extism/extism, as booleans', async () => {
    const { CAPABILITIES } = await import('../src/index.js');
    const peer = (await import('@extism/extism')).CAPABILITIES as unknown as Record<string, unknown>;
    assert.deepEqual(Object.keys(CAPABILITIES).sort(), Object.keys(peer).sort());
    for (const value of Object.values(CAPABILITIES)) assert.equal(typeof value, 'boolean');
    assert.equal(CAPABILITIES.supportsTimeouts, true);
  });
});
