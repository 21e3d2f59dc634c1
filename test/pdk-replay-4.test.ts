// The PDKs audited last (MoonBit, C++) and what Extism's own test plug-ins (extism/pdk-test)
// and published plug-ins (extism/plugins) do: each export of the fixtures replays a call
// sequence read from their sources (docs/COMPATIBILITY.md says which). Each expectation is
// what the reference host gives, or, where it fails the call, the lenient answer the contract
// chose. HTTP goes to the node:http server of http-test-server.ts.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, describe, it } from 'node:test';
import { createPlugin, type Manifest, type Plugin, type PluginOptions } from '../src/index.js';
import { fixturePath, recordingLogger } from './helpers.js';
import { type TestServer, useTestServer } from './http-test-server.js';

const opened: Plugin[] = [];
async function open(name: string, options: PluginOptions = {}, manifest: Omit<Manifest, 'wasm'> = {}): Promise<Plugin> {
  const plugin = await createPlugin({ ...manifest, wasm: [{ data: await readFile(fixturePath(name)) }] }, options);
  opened.push(plugin);
  return plugin;
}
async function closeAll(): Promise<void> {
  for (const plugin of opened.splice(0)) await plugin.close();
}

interface Echo {
  method: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

let server: TestServer;
useTestServer((started) => {
  server = started;
});

describe('MoonBit PDK', () => {
  after(closeAll);

  it('greet: input_load_u8 per byte in, store_u8 per byte out; set_error and 1 for "Benjamin"', async () => {
    const plugin = await open('pdk-moonbit');
    assert.equal((await plugin.call('greet', 'Zach'))?.text(), 'Hello, Zach!');
    assert.equal((await plugin.call('greet', 'a name longer than eight bytes, é'))?.text(), 'Hello, a name longer than eight bytes, é!');
    assert.equal((await plugin.call('greet', ''))?.text(), 'Hello, !');
    await assert.rejects(plugin.call('greet', 'Benjamin'), { message: "Sorry, we don't greet Benjamins!", exitCode: 1 });
  });

  it('config.get frees the key before it reads the value: the value is intact; absent or empty is None', async () => {
    for (const user of ['Benjamin', 'a user name long enough to span several blocks of eight bytes']) {
      const plugin = await open('pdk-moonbit', {}, { config: { user } });
      assert.equal((await plugin.call('config_greet'))?.text(), `Hello, ${user}!`);
      assert.equal((await plugin.call('config_greet'))?.text(), `Hello, ${user}!`);
    }
    for (const config of [{}, { user: '' }] as Record<string, string>[]) {
      const plugin = await open('pdk-moonbit', {}, { config });
      await assert.rejects(plugin.call('config_greet'), { message: "This plug-in requires a 'user' key in the config", exitCode: 1 });
    }
  });

  it('the README count: get_int, set_int (key and value freed again after var_set), across calls', async () => {
    const plugin = await open('pdk-moonbit');
    for (let expected = 1; expected <= 12; expected++) assert.equal((await plugin.call('count'))?.text(), String(expected));
  });

  it('set_string then get_string (the key freed after var_get, before length): the value reads back', async () => {
    const plugin = await open('pdk-moonbit');
    for (const value of ['a', 'something', 'a value that is longer than the key and the other blocks', 'x'.repeat(3000)]) {
      assert.equal((await plugin.call('var_set_get', value))?.text(), value);
    }
    // set_string(k, "") is alloc(0) = 0: var_set(k, 0) deletes, then free(0)
    assert.equal((await plugin.call('var_set_get', ''))?.text(), 'none');
  });

  it('remove: var_set(key, 0), then free(key): the var is gone', async () => {
    const plugin = await open('pdk-moonbit');
    assert.equal((await plugin.call('var_set_get', 'kept'))?.text(), 'kept');
    assert.equal((await plugin.call('var_remove'))?.text(), 'none');
  });

  it('log_*_str free each message after log_*: all four are logged, the output allocated after them is intact', async () => {
    const log = recordingLogger();
    const plugin = await open('pdk-moonbit', { logger: log.logger, logLevel: 'trace' });
    assert.equal((await plugin.call('log_stuff'))?.text(), 'done');
    assert.deepEqual(log.lines, ['info An info log!', 'debug A debug log!', 'warn A warn log!', 'error An error log!']);
    // no get_log_level: the host filters
    log.lines.length = 0;
    const quiet = await open('pdk-moonbit', { logger: log.logger, logLevel: 'warn' });
    assert.equal((await quiet.call('log_stuff'))?.text(), 'done');
    assert.deepEqual(log.lines, ['warn A warn log!', 'error An error log!']);
  });

  // {"http_method":"GET","header":{...},"url":...}: the reference host fails it (unknown field
  // "http_method", and "header" is no longer an alias there); the method and the headers are
  // what the plug-in asked for, so they are sent.
  it('http_get: "http_method" and "header" are the method and the headers; the response block becomes the output', async () => {
    const plugin = await open('pdk-moonbit', { allowedHosts: ['127.0.0.1'] });
    const echoed = JSON.parse((await plugin.call('http_get', server.url('/echo')))?.text() ?? '') as Echo;
    assert.equal(echoed.method, 'GET');
    assert.equal(echoed.headers['some-name'], 'some-value');
    assert.equal(echoed.headers.another, 'again');
    // an empty body is handle 0: length(0) is 0, output_set(0, 0) an empty output
    assert.equal((await plugin.call('http_get', server.url('/status?code=204')))?.byteLength ?? 0, 0);
  });

  it('http_post: "http_method": "POST" is a POST, with the body (freed again by the plug-in after the request)', async () => {
    const plugin = await open('pdk-moonbit', { allowedHosts: ['127.0.0.1'] });
    for (let round = 0; round < 3; round++) {
      const echoed = JSON.parse((await plugin.call('http_post', server.url('/echo')))?.text() ?? '') as Echo;
      assert.equal(echoed.method, 'POST');
      assert.equal(echoed.body, 'a body from MoonBit');
      assert.equal(echoed.headers['content-type'], 'text/plain');
    }
  });

  it('before moonc v0.1.20241115: {"method":"GET","header":{...},"url":...}', async () => {
    const plugin = await open('pdk-moonbit', { allowedHosts: ['127.0.0.1'] });
    const echoed = JSON.parse((await plugin.call('http_get_before_2024_11', server.url('/echo')))?.text() ?? '') as Echo;
    assert.equal(echoed.method, 'GET');
    assert.equal(echoed.headers['some-name'], 'some-value');
  });

  it('kitchen_sink, as extism/pdk-test calls it: input "test" comes back, nothing logged at the error level but ERROR', async () => {
    const log = recordingLogger();
    const plugin = await open('pdk-moonbit', { allowedHosts: ['127.0.0.1'], logger: log.logger, logLevel: 'trace' }, { config: { url: server.url('/hello') } });
    assert.equal((await plugin.call('kitchen_sink', 'test'))?.text(), 'test');
    assert.deepEqual(log.lines, ['info INFO', 'debug DEBUG', 'warn WARN', 'error ERROR']);
  });
});
