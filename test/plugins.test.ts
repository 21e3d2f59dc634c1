// Our AssemblyScript plug-ins (the official @extism/as-pdk) through the public API.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type CallContext, createPlugin, type Logger } from '../src/index.js';
import { pluginPath } from './helpers.js';

describe('the vowel counter', () => {
  it('counts, keeps its total in a var, and reads its vowels from config', async () => {
    const plugin = await createPlugin(pluginPath('count-vowels'));
    assert.deepEqual((await plugin.call('count_vowels', 'Hello, World!'))?.json(), { count: 3, total: 3, vowels: 'aeiouAEIOU' });
    assert.equal((await plugin.call('count_vowels', 'Hello, World!'))?.text(), '{"count":3,"total":6,"vowels":"aeiouAEIOU"}');
    assert.equal((await plugin.call('count_vowels', 'Hello, World!'))?.json().total, 9);
    const yellow = await createPlugin({ wasm: [{ path: pluginPath('count-vowels') }], config: { vowels: 'aeiouyAEIOUY' } });
    assert.equal((await yellow.call('count_vowels', 'Yellow, World!'))?.json().count, 4);
  });

  it('counts a 1 MiB input and multi-byte UTF-8', async () => {
    const plugin = await createPlugin(pluginPath('count-vowels'));
    assert.equal((await plugin.call('count_vowels', 'a'.repeat(1 << 20)))?.json().count, 1 << 20);
    assert.equal((await plugin.call('count_vowels', 'héllo wörld ü'))?.json().count, 1, 'only ASCII vowels count');
  });
});

describe('the kv-store plug-in', () => {
  it('reads and writes through host functions', async () => {
    const store = new Map<string, Uint8Array>();
    const plugin = await createPlugin(pluginPath('count-vowels-kvstore'), {
      functions: {
        'extism:host/user': {
          kv_read: (ctx: CallContext, key: number) => ctx.store(store.get(ctx.read(key)!.text()) ?? new Uint8Array(4)),
          kv_write: (ctx: CallContext, key: number, value: number) => void store.set(ctx.read(key)!.text(), ctx.read(value)!.bytes().slice()),
        },
      },
    });
    assert.equal((await plugin.call('count_vowels', 'Hello, World!'))?.json().total, 3);
    assert.equal((await plugin.call('count_vowels', 'Hello, World!'))?.json().total, 6);
    assert.equal(new DataView(store.get('count-vowels')!.buffer).getUint32(0, true), 6);
  });
});

describe('the failing plug-in', () => {
  it('fails with its own message, its exit code, or a trap — and keeps working', async () => {
    const plugin = await createPlugin(pluginPath('fail'));
    await assert.rejects(plugin.call('fail', 'why'), { message: 'this plug-in always fails: why', exitCode: 1, functionName: 'fail' });
    await assert.rejects(plugin.call('fail_with_code', '42'), { exitCode: 42 });
    await assert.rejects(plugin.call('trap'), { message: /unreachable/ });
    assert.equal(await plugin.call('fail_with_code', '0'), null);
  });
});

describe('the logging plug-in', () => {
  it('logs at every level through the logger', async () => {
    const lines: string[] = [];
    const logger: Logger = {
      trace: (m) => lines.push(m),
      debug: (m) => lines.push(m),
      info: (m) => lines.push(m),
      warn: (m) => lines.push(m),
      error: (m) => lines.push(m),
    };
    const plugin = await createPlugin(pluginPath('log'), { logger, logLevel: 'trace' });
    assert.equal((await plugin.call('log_all', 'x'))?.text(), 'logged');
    assert.deepEqual([...lines].sort(), ['debug: x', 'error: x', 'info: x', 'trace: x', 'warn: x']);
  });
});

for (const [mode, modeOptions] of [
  ['on the main thread', {}],
  ['in a worker', { runInWorker: true }],
] as const) {
  describe(`the WASI files plug-in ${mode}`, () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'plughost-wasi-plugin-'));
      mkdirSync(join(dir, 'rw'));
      mkdirSync(join(dir, 'ro'));
      writeFileSync(join(dir, 'ro', 'hello.txt'), 'read me');
      writeFileSync(join(dir, 'secret.txt'), 'outside');
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    const open = () =>
      createPlugin(pluginPath('wasi-files'), {
        ...modeOptions,
        useWasi: true,
        allowedPaths: { [join(dir, 'rw')]: '/data', [`ro:${join(dir, 'ro')}`]: '/static' },
      });

    it('reads and writes files in its mounts', async () => {
      const plugin = await open();
      assert.equal((await plugin.call('read_file', '/static/hello.txt'))?.text(), 'read me');
      assert.equal((await plugin.call('write_file', JSON.stringify({ path: '/data/out.txt', content: 'written' })))?.text(), 'ok');
      assert.equal(readFileSync(join(dir, 'rw', 'out.txt'), 'utf8'), 'written');
      assert.equal((await plugin.call('list_dir', '/static'))?.text(), 'hello.txt');
    });

    it('cannot write to a read-only mount, nor reach outside its mounts', async () => {
      const plugin = await open();
      await assert.rejects(plugin.call('write_file', JSON.stringify({ path: '/static/hello.txt', content: 'x' })), /69|rofs/i);
      assert.equal(readFileSync(join(dir, 'ro', 'hello.txt'), 'utf8'), 'read me');
      await assert.rejects(plugin.call('read_file', '/data/../secret.txt'));
      await assert.rejects(plugin.call('read_file', '/secret.txt'));
    });

    it('sees no file system at all without mounts', async () => {
      const plugin = await createPlugin(pluginPath('wasi-files'), { ...modeOptions, useWasi: true });
      await assert.rejects(plugin.call('read_file', '/static/hello.txt'));
    });

    it('sends stdout nowhere by default, and line by line to a callback or stream when given', async () => {
      const quiet = await createPlugin(pluginPath('wasi-files'), { ...modeOptions, useWasi: true });
      assert.equal((await quiet.call('hello_stdout'))?.text(), 'done');
      const lines: string[] = [];
      const loud = await createPlugin(pluginPath('wasi-files'), { ...modeOptions, useWasi: true, wasiStdout: (line) => lines.push(line) });
      await loud.call('hello_stdout');
      await loud.call('hello_stdout');
      assert.deepEqual(lines, ['hello from wasi', 'hello from wasi']);
      let written = '';
      const streamed = await createPlugin(pluginPath('wasi-files'), {
        ...modeOptions,
        useWasi: true,
        wasiStdout: { write: (chunk: string) => (written += chunk) },
      });
      await streamed.call('hello_stdout');
      assert.equal(written, 'hello from wasi\n');
    });
  });
}

describe('the host-echo plug-in', () => {
  it('round-trips bytes through a host function and keeps state in its memory', async () => {
    const plugin = await createPlugin(pluginPath('host-echo'), {
      functions: { 'extism:host/user': { echo: (ctx: CallContext, h: number) => ctx.store(ctx.read(h)!.bytes()) } },
    });
    const big = new Uint8Array(1 << 20).map((_, i) => (i * 7) & 0xff);
    assert.deepEqual((await plugin.call('echo_via_host', big))?.bytes(), big);
    assert.equal((await plugin.call('reverse', 'abc'))?.text(), 'cba');
    assert.equal(await plugin.call('noop'), null);
    assert.equal((await plugin.call('stateful'))?.text(), '1');
    assert.equal((await plugin.call('stateful'))?.text(), '2');
  });

  it('survives 20,000 calls without growing', async () => {
    const plugin = await createPlugin(pluginPath('host-echo'), { functions: { 'extism:host/user': { echo: (_ctx: CallContext, h: number) => h } } });
    for (let i = 0; i < 20_000; i++) await plugin.call('reverse', 'hello');
    assert.equal((await plugin.call('reverse', 'still here'))?.text(), 'ereh llits');
  });
});
