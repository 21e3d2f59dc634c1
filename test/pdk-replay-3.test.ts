// Sequences found when docs/COMPATIBILITY.md was checked again against the PDKs' newest
// sources and their history: request JSON that deployed plug-ins send and the first audit did
// not replay. Each expectation is what the reference host gives, or, where it fails the call,
// the lenient answer the contract chose. HTTP goes to the node:http server of http-test-server.ts.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, describe, it } from 'node:test';
import { createPlugin, type Plugin, type PluginOptions } from '../src/index.js';
import { fixturePath, fixturePlugins, recordingLogger, statusAndBody } from './helpers.js';
import { type TestServer, useTestServer } from './http-test-server.js';

const { open, keep, closeAll } = fixturePlugins();

interface Echo {
  method: string;
  headers: Record<string, string | string[] | undefined>;
}

let server: TestServer;
useTestServer((started) => {
  server = started;
});

/** Calls `fn` of fixture `name` with the test server's echo URL: the GET went out and came back 200; what the server saw. */
async function echoedGet(name: string, fn: string): Promise<Echo> {
  const plugin = await open(name, { allowedHosts: ['127.0.0.1'] });
  const { status, body } = statusAndBody(await plugin.call(fn, server.url('/echo')));
  assert.equal(status, 200);
  const echoed = JSON.parse(body) as Echo;
  assert.equal(echoed.method, 'GET');
  return echoed;
}

describe('Go PDK up to v1.1.2', () => {
  after(closeAll);

  // The reference host fails this call ("invalid type: null"); go-pdk v1.1.3 stopped sending
  // it, but plug-ins built before are deployed, and `null` has only one sensible reading.
  it('Send() of a request without SetHeader: "headers": null is no headers, and the GET goes out', async () => {
    const echoed = await echoedGet('pdk-go', 'http_get_headers_null');
    assert.equal(echoed.headers['x-tag'], undefined);
  });
});

describe('Go PDK v1.0.3 to v1.0.5 (frees after output_set, error_set, var_set)', () => {
  after(closeAll);

  const INPUTS = ['a', 'abcdefgh', 'an output longer than a few chunks of eight bytes', 'x'.repeat(5000)];

  it('Output frees its block after output_set, then allocates a log message: the output is intact', async () => {
    const log = recordingLogger();
    const plugin = await open('pdk-go', { logger: log.logger, logLevel: 'info' });
    for (const input of INPUTS) assert.equal((await plugin.call('output_then_free', input))?.text(), input);
    assert.deepEqual(
      log.lines,
      INPUTS.map(() => 'info info message'),
    );
  });

  it('SetErrorString frees its block after error_set, then allocates a log message: the error is intact', async () => {
    const log = recordingLogger();
    const plugin = await open('pdk-go', { logger: log.logger, logLevel: 'info' });
    await assert.rejects(plugin.call('error_then_free'), { message: 'boom: the plug-in failed', exitCode: 1 });
    assert.deepEqual(log.lines, ['error error message']);
  });

  it('Output in a loop: each output block, freed while it held the output, is freed once the next one replaces it', async () => {
    // 64 outputs of 1 MiB in a kernel capped at 5 MiB: it fits only if each block's space is
    // reused once the output moved off it (the input, the output and the next block: 3 MiB).
    const plugin = await open('pdk-go', { memory: { maxPages: 80 } });
    const input = new Uint8Array(1 << 20);
    for (let call = 0; call < 3; call++) {
      const out = await plugin.call('output_in_a_loop', input);
      assert.equal(out?.byteLength, input.byteLength);
      assert.equal(out?.getUint8(0), 63);
    }
  });

  it('SetVar frees the key and value var_set took: the var is stored, and reads back', async () => {
    const plugin = await open('pdk-go');
    for (const input of INPUTS) assert.equal((await plugin.call('var_set_then_free', input))?.text(), input);
  });
});

describe('Haskell PDK (extism-manifest headers)', () => {
  after(closeAll);

  it('withHeaders with a repeated name: one JSON object with the name twice; the last value is sent, once', async () => {
    const echoed = await echoedGet('pdk-haskell', 'http_get_repeated_header');
    assert.equal(echoed.headers['x-tag'], 'two');
  });
});

describe('Rust PDK runtime linking (#[shared_fn])', () => {
  after(closeAll);

  async function linked(options: PluginOptions = {}): Promise<Plugin> {
    const plugin = await createPlugin(
      {
        wasm: [
          { data: await readFile(fixturePath('pdk-rust-shared-lib')), name: 'lib' },
          { data: await readFile(fixturePath('pdk-rust-shared-main')), name: 'main' },
        ],
      },
      options,
    );
    keep(plugin);
    return plugin;
  }

  it('the main module hands a block to the library, the library answers a block of its own: one kernel for both', async () => {
    const plugin = await linked();
    assert.equal((await plugin.call('greet_through_lib', 'Ferris, a name longer than eight bytes'))?.text(), 'Hello, Ferris, a name longer than eight bytes');
    assert.equal((await plugin.call('greet_through_lib', 'Bo'))?.text(), 'Hello, Bo');
  });

  it('in a worker too', async () => {
    const plugin = await linked({ runInWorker: true });
    assert.equal((await plugin.call('greet_through_lib', 'Ferris'))?.text(), 'Hello, Ferris');
  });
});

describe('.NET PDK v1.0.0 to v1.0.2 ("header" for "headers")', () => {
  after(closeAll);

  // SendRequest wrote its headers under "header" until 95c173e (v1.0.3) and only when there
  // were some: {"url","method"[,"header":{...}]}. The JSON goes through pdk-dotnet.wat's
  // SendRequest replay (input: u32 JSON length, the JSON, the body); the v1.0 sequence differs
  // from it only in the frees and the http_headers call after the request, none of which
  // touch the JSON.
  function dotnetHttpInput(json: string): Uint8Array {
    const jsonBytes = new TextEncoder().encode(json);
    const input = new Uint8Array(4 + jsonBytes.length);
    new DataView(input.buffer).setUint32(0, jsonBytes.length, true);
    input.set(jsonBytes, 4);
    return input;
  }

  it('the headers under "header" are sent', async () => {
    const plugin = await open('pdk-dotnet', { allowedHosts: ['127.0.0.1'] });
    const json = `{"url":"${server.url('/echo')}","method":"GET","header":{"X-Tag":"one"}}`;
    const report = (await plugin.call('send_request_read_body', dotnetHttpInput(json)))?.text() ?? '';
    // "<status>\n<headers JSON>\n<body>"
    const [status, , ...body] = report.split('\n');
    assert.equal(status, '200');
    const echoed = JSON.parse(body.join('\n')) as Echo;
    assert.equal(echoed.method, 'GET');
    assert.equal(echoed.headers['x-tag'], 'one');
  });
});
