// Real PDKs' call sequences, replayed byte for byte by the WAT fixtures test/fixtures/pdk-*.wat
// (docs/COMPATIBILITY.md says which source each one follows). Every expectation is what the
// reference host (the Rust runtime) gives for the same sequence. HTTP goes to the node:http
// server of http-test-server.ts on 127.0.0.1.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { CallContext, Plugin, PluginOptions, PluginOutput } from '../src/index.js';
import { fixturePlugins, recordingLogger, statusAndBody } from './helpers.js';
import { type TestServer, useTestServer } from './http-test-server.js';

/** pdk-rust imports the user host function of its #[host_fn] replay: by default, one that answers a copy. */
const RUST_HOST_FUNCTIONS = {
  'extism:host/user': { echo: (ctx: CallContext, handle: bigint) => ctx.store(ctx.read(handle)?.bytes() ?? new Uint8Array()) },
};

/** A fixture as a plug-in; closed after the test by `closeAll`. */
const fixtures = fixturePlugins();
const { closeAll } = fixtures;
function open(name: string, options: PluginOptions = {}, config?: Record<string, string>): Promise<Plugin> {
  const withFunctions = name === 'pdk-rust' && options.functions === undefined ? { ...options, functions: RUST_HOST_FUNCTIONS } : options;
  return fixtures.open(name, withFunctions, config === undefined ? {} : { config });
}

/** An output the reference host gives as empty: no output, or zero bytes. */
function assertEmpty(output: PluginOutput | null, what: string): void {
  assert.equal(output === null ? 0 : output.byteLength, 0, `${what}: expected an empty output, got ${JSON.stringify(output?.text())}`);
}

/** Inputs whose lengths hit every case of the 8-byte chunk + 1-byte tail loops. */
const ECHO_INPUTS = ['', 'a', 'abcdefg', 'abcdefgh', 'abcdefghi', 'x'.repeat(1000) + 'tail', 'héllo wörld ✓'];

let server: TestServer;
useTestServer((started) => {
  server = started;
});

const ALL_LEVELS = ['trace trace message', 'debug debug message', 'info info message', 'warn warn message', 'error error message'];

describe('Rust PDK (rust-pdk 1.4)', () => {
  after(closeAll);

  it('reads the input in 8-byte chunks and a byte tail, and outputs a block of its own', async () => {
    const plugin = await open('pdk-rust');
    for (const input of ECHO_INPUTS) {
      const output = await plugin.call('input_output_echo', input);
      if (input === '') assertEmpty(output, 'empty input');
      else assert.equal(output?.text(), input);
    }
  });

  it('an error is a block given to error_set and the return code -1', async () => {
    const plugin = await open('pdk-rust');
    await assert.rejects(plugin.call('error_message'), { message: 'boom: the plug-in failed', exitCode: -1 });
  });

  it('config::get reads a value, and a missing key is None', async () => {
    const plugin = await open('pdk-rust', {}, { greeting: 'hello from config' });
    assert.equal((await plugin.call('config_get_value'))?.text(), 'hello from config');
    assertEmpty(await (await open('pdk-rust')).call('config_get_value'), 'missing key');
  });

  it('config::get("") hands the host key handle 0, which is the empty key', async () => {
    const plugin = await open('pdk-rust', {}, { '': 'value of the empty key' });
    assert.equal((await plugin.call('config_get_empty_key'))?.text(), 'value of the empty key');
  });

  it('var::set / var::get / var::remove keep a var across calls; an empty value deletes it', async () => {
    const plugin = await open('pdk-rust');
    assertEmpty(await plugin.call('var_get_output'), 'no var yet');
    assertEmpty(await plugin.call('var_set_from_input', 'forty-two and more bytes'), 'var::set outputs ()');
    assert.equal((await plugin.call('var_get_output'))?.text(), 'forty-two and more bytes');
    await plugin.call('var_remove');
    assertEmpty(await plugin.call('var_get_output'), 'removed');
    await plugin.call('var_set_from_input', 'again');
    await plugin.call('var_set_from_input', '');
    assertEmpty(await plugin.call('var_get_output'), 'an empty value is value handle 0, which deletes');
  });

  it('the empty var name is key handle 0: var_set(0, v), var_get(0), var_set(0, 0)', async () => {
    const plugin = await open('pdk-rust');
    await plugin.call('var_set_empty_key', 'under the empty name');
    assert.equal((await plugin.call('var_get_empty_key'))?.text(), 'under the empty name');
    await plugin.call('var_remove_empty_key');
    assertEmpty(await plugin.call('var_get_empty_key'), 'deleted');
  });

  it('the log macros ask get_log_level first and send only what passes', async () => {
    const all = recordingLogger();
    await (await open('pdk-rust', { logger: all.logger, logLevel: 'trace' })).call('log_all_levels');
    assert.deepEqual(all.lines, ALL_LEVELS);
    const some = recordingLogger();
    await (await open('pdk-rust', { logger: some.logger, logLevel: 'warn' })).call('log_all_levels');
    assert.deepEqual(some.lines, ALL_LEVELS.slice(3));
    const none = recordingLogger();
    await (await open('pdk-rust', { logger: none.logger, logLevel: 'silent' })).call('log_all_levels');
    assert.deepEqual(none.lines, []);
  });

  it('HTTP with "method": null is a GET: body and status reach the plug-in', async () => {
    const plugin = await open('pdk-rust', { allowedHosts: ['127.0.0.1'] });
    assert.deepEqual(statusAndBody(await plugin.call('http_get_null_method', server.url('/hello'))), { status: 200, body: 'hello' });
    const [seen] = await server.requests();
    assert.equal(seen?.method, 'GET');
  });

  it('HTTP with "method": null and response headers on: the headers block is read and freed', async () => {
    const plugin = await open('pdk-rust', { allowedHosts: ['127.0.0.1'], allowHttpResponseHeaders: true });
    assert.deepEqual(statusAndBody(await plugin.call('http_get_null_method', server.url('/status?code=418'))), { status: 418, body: 'status 418' });
  });

  it('HTTP POST with headers and a body block', async () => {
    const plugin = await open('pdk-rust', { allowedHosts: ['127.0.0.1'] });
    const { status, body } = statusAndBody(await plugin.call('http_post_with_body', server.url('/echo')));
    assert.equal(status, 200);
    const echoed = JSON.parse(body) as { method: string; headers: Record<string, string>; body: string };
    assert.equal(echoed.method, 'POST');
    assert.equal(echoed.headers['content-type'], 'text/plain');
    assert.equal(echoed.body, 'ping');
  });

  const echoFunctions = {
    functions: { 'extism:host/user': { echo: (_ctx: CallContext, handle: bigint) => handle } },
  };

  it('#[host_fn] with a new result block: read after the argument is freed', async () => {
    const plugin = await open('pdk-rust');
    assert.equal((await plugin.call('host_fn_echo', 'a value longer than eight bytes'))?.text(), 'a value longer than eight bytes');
  });

  // The reference host never reuses freed space while memory remains and its loads ignore block
  // status, so a result that is the freed argument itself still reads back; so must ours (the
  // kernel's loads reach up to its high-water mark).
  it('#[host_fn] whose host function returns its argument handle: the guest frees it, then reads it', async () => {
    const plugin = await open('pdk-rust', echoFunctions);
    assert.equal((await plugin.call('host_fn_echo', 'a value longer than eight bytes'))?.text(), 'a value longer than eight bytes');
  });

  it('HTTP with an empty response body: handle 0, length_unsafe(0) is 0', async () => {
    const plugin = await open('pdk-rust', { allowedHosts: ['127.0.0.1'] });
    assert.deepEqual(statusAndBody(await plugin.call('http_get_null_method', server.url('/status?code=204'))), { status: 204, body: '' });
  });
});

describe('Go PDK (go-pdk 1.1)', () => {
  after(closeAll);

  it('reads the input in 8-byte chunks and a byte tail, and outputs a block of its own', async () => {
    const plugin = await open('pdk-go');
    for (const input of ECHO_INPUTS) {
      const output = await plugin.call('input_output_echo', input);
      if (input === '') assertEmpty(output, 'empty input');
      else assert.equal(output?.text(), input);
    }
  });

  it('SetErrorString and return 1 fail the call with that message and code', async () => {
    const plugin = await open('pdk-go');
    await assert.rejects(plugin.call('error_message'), { message: 'boom: the plug-in failed', exitCode: 1 });
  });

  it('HTTP GET: Send frees the request again after http_request, and the response read afterwards is intact', async () => {
    const plugin = await open('pdk-go', { allowedHosts: ['127.0.0.1'] });
    assert.deepEqual(statusAndBody(await plugin.call('http_get_free_request_after', server.url('/hello'))), { status: 200, body: 'hello' });
    // a second call starts from a clean kernel: same answer
    assert.deepEqual(statusAndBody(await plugin.call('http_get_free_request_after', server.url('/hello'))), { status: 200, body: 'hello' });
  });

  it('HTTP GET with response headers on: headers block, then request, freed before the body is read', async () => {
    const plugin = await open('pdk-go', { allowedHosts: ['127.0.0.1'], allowHttpResponseHeaders: true });
    assert.deepEqual(statusAndBody(await plugin.call('http_get_free_request_after', server.url('/status?code=418'))), { status: 418, body: 'status 418' });
  });

  it('HTTP POST: the body and the request are freed again, and the response is intact', async () => {
    const plugin = await open('pdk-go', { allowedHosts: ['127.0.0.1'] });
    const { status, body } = statusAndBody(await plugin.call('http_post_free_body_and_request_after', server.url('/echo')));
    assert.equal(status, 200);
    const echoed = JSON.parse(body) as { method: string; headers: Record<string, string>; body: string };
    assert.deepEqual([echoed.method, echoed.headers['content-type'], echoed.body], ['POST', 'text/plain', 'ping']);
  });

  it('GetConfig frees the key again after reading the value', async () => {
    const plugin = await open('pdk-go', {}, { greeting: 'hello from config' });
    assert.equal((await plugin.call('config_get_then_free_key'))?.text(), 'hello from config');
    assertEmpty(await (await open('pdk-go')).call('config_get_then_free_key'), 'missing key');
  });

  it('SetVar (key block first) and GetVar (key freed again); an empty value deletes', async () => {
    const plugin = await open('pdk-go');
    await plugin.call('var_set_from_input', 'a value longer than eight bytes');
    assert.equal((await plugin.call('var_get_then_free_key'))?.text(), 'a value longer than eight bytes');
    await plugin.call('var_set_from_input', '');
    assertEmpty(await plugin.call('var_get_then_free_key'), 'deleted');
  });

  it('GetVarInt / SetVarInt count across calls', async () => {
    const plugin = await open('pdk-go');
    const counts: bigint[] = [];
    for (let i = 0; i < 3; i++) counts.push((await plugin.call('var_count_int'))!.getBigUint64(0, true));
    assert.deepEqual(counts, [1n, 2n, 3n]);
  });

  it('Log: allocates first, asks get_log_level, and LogTrace goes to log_error', async () => {
    const all = recordingLogger();
    await (await open('pdk-go', { logger: all.logger, logLevel: 'trace' })).call('log_all_levels');
    assert.deepEqual(all.lines, ['error trace message', ...ALL_LEVELS.slice(1)]);
    const some = recordingLogger();
    await (await open('pdk-go', { logger: some.logger, logLevel: 'warn' })).call('log_all_levels');
    assert.deepEqual(some.lines, ALL_LEVELS.slice(3));
  });
});

describe('Haskell PDK (haskell-pdk 1.2.0.0, and 1.0.0.x where it differs)', () => {
  after(closeAll);

  it('initialization: _initialize, then hs_init(0, 0), once, before the first export', async () => {
    const plugin = await open('pdk-haskell');
    assert.equal((await plugin.call('init_order'))?.text(), '_initialize;hs_init(0,0);');
    assert.equal((await plugin.call('init_order'))?.text(), '_initialize;hs_init(0,0);', 'not again on the next call');
  });

  it('setError and a non-zero return fail the call with that message', async () => {
    const plugin = await open('pdk-haskell');
    await assert.rejects(plugin.call('error_message'), { message: 'boom: the plug-in failed', exitCode: 1 });
  });

  it('getConfig (1.2): the value, read and freed by the plug-in', async () => {
    const plugin = await open('pdk-haskell', {}, { greeting: 'hello from config' });
    assert.equal((await plugin.call('config_get_value'))?.text(), 'hello from config');
    assertEmpty(await (await open('pdk-haskell')).call('config_get_value'), 'missing key');
  });

  it('getConfig (1.0): config_get(key), free(key) again, then length and load of the value — the config value', async () => {
    // a value longer than the key, and one that fits the key's block (where a host may put it)
    for (const value of ['hello from config', 'short']) {
      const plugin = await open('pdk-haskell', {}, { greeting: value });
      assert.equal((await plugin.call('config_get_then_free_key'))?.text(), value);
    }
  });

  it('setVar / getVar (1.2) keep a var across calls', async () => {
    const plugin = await open('pdk-haskell');
    assertEmpty(await plugin.call('var_get'), 'no var yet');
    await plugin.call('var_set', 'a value longer than eight bytes');
    assert.equal((await plugin.call('var_get'))?.text(), 'a value longer than eight bytes');
  });

  it('setVar / getVar (1.0): key and value freed again after var_set; key freed twice around reading the value', async () => {
    const plugin = await open('pdk-haskell');
    for (const value of ['a value longer than eight bytes', 'v']) {
      await plugin.call('var_set_then_free', value);
      assert.equal((await plugin.call('var_get_then_free_key'))?.text(), value);
    }
  });

  it('sendRequest (1.2): status, headers and body', async () => {
    const plugin = await open('pdk-haskell', { allowedHosts: ['127.0.0.1'], allowHttpResponseHeaders: true });
    assert.deepEqual(statusAndBody(await plugin.call('http_get', server.url('/hello'))), { status: 200, body: 'hello' });
  });

  it('sendRequest (1.0): the request is freed again right after http_request, the response read afterwards is intact', async () => {
    const plugin = await open('pdk-haskell', { allowedHosts: ['127.0.0.1'] });
    assert.deepEqual(statusAndBody(await plugin.call('http_get_then_free_request', server.url('/hello'))), { status: 200, body: 'hello' });
  });

  it('log (1.2): get_log_level first, then only what passes', async () => {
    const all = recordingLogger();
    await (await open('pdk-haskell', { logger: all.logger, logLevel: 'trace' })).call('log_all_levels');
    assert.deepEqual(all.lines, ALL_LEVELS);
    const some = recordingLogger();
    await (await open('pdk-haskell', { logger: some.logger, logLevel: 'error' })).call('log_all_levels');
    assert.deepEqual(some.lines, ALL_LEVELS.slice(4));
  });
});

describe('C PDK (c-pdk, October 2024, and its README)', () => {
  after(closeAll);

  it('a wasi-sdk reactor: _initialize runs once before the first export', async () => {
    const plugin = await open('pdk-c');
    assert.equal((await plugin.call('constructors_ran'))?.text(), 'yes');
    assert.equal((await plugin.call('constructors_ran'))?.text(), 'yes');
  });

  it('reads the input through input_offset, length_unsafe and load_u64/load_u8', async () => {
    const plugin = await open('pdk-c');
    for (const input of ECHO_INPUTS) {
      const output = await plugin.call('input_via_input_offset', input);
      if (input === '') assertEmpty(output, 'empty input');
      else assert.equal(output?.text(), input);
    }
  });

  it('loads the input from an offset that is not a multiple of 8', async () => {
    const plugin = await open('pdk-c');
    assert.equal((await plugin.call('input_unaligned_load', '123abcdefghijklmnopqrstuvwxyz'))?.text(), 'abcdefghijklmnopqrstuvwxyz');
  });

  it('outputs a range inside a block: output_set(handle + 7, 5)', async () => {
    const plugin = await open('pdk-c');
    assert.equal((await plugin.call('output_part_of_block'))?.text(), 'world');
  });

  it('the README greet: config value, or the error "Invalid key" and -1', async () => {
    assert.equal((await (await open('pdk-c', {}, { user: 'Benjamin' })).call('config_greet'))?.text(), 'Hello, Benjamin');
    await assert.rejects((await open('pdk-c')).call('config_greet'), { message: 'Invalid key', exitCode: -1 });
  });

  // No branch changes empty values yet: plughost returns a live block of length 0.
  it('an empty config value is handle 0, as the reference host returns it: the README greet says "Invalid key"', async () => {
    await assert.rejects((await open('pdk-c', {}, { user: '' })).call('config_greet'), { message: 'Invalid key', exitCode: -1 });
  });

  it('greet as built before September 2024: the key freed again right after config_get', async () => {
    const plugin = await open('pdk-c', {}, { user: 'Benjamin' });
    assert.equal((await plugin.call('config_get_then_free_key'))?.text(), 'Hello, Benjamin');
  });

  it('extism_var_set_buf / extism_var_get_buf across calls', async () => {
    const plugin = await open('pdk-c');
    assertEmpty(await plugin.call('var_get_output'), 'no var yet');
    await plugin.call('var_set_from_input', 'a value longer than eight bytes');
    assert.equal((await plugin.call('var_get_output'))?.text(), 'a value longer than eight bytes');
  });

  it('extism_log_sz: get_log_level first, then only what passes', async () => {
    const all = recordingLogger();
    await (await open('pdk-c', { logger: all.logger, logLevel: 'trace' })).call('log_sz_all_levels');
    assert.deepEqual(all.lines, ALL_LEVELS);
    const some = recordingLogger();
    await (await open('pdk-c', { logger: some.logger, logLevel: 'info' })).call('log_sz_all_levels');
    assert.deepEqual(some.lines, ALL_LEVELS.slice(2));
  });

  it('an empty log message is log_info(0): logged as an empty line', async () => {
    const { lines, logger } = recordingLogger();
    await (await open('pdk-c', { logger, logLevel: 'info' })).call('log_empty_message');
    assert.deepEqual(lines, ['info ']);
  });

  it('extism_error_set_buf_from_sz and return 1', async () => {
    await assert.rejects((await open('pdk-c')).call('error_message'), { message: 'boom: the plug-in failed', exitCode: 1 });
  });

  it('the README call_http: a request JSON without "headers", output straight from the response handle', async () => {
    const plugin = await open('pdk-c', { allowedHosts: ['127.0.0.1'] });
    assert.equal((await plugin.call('http_readme_no_headers', server.url('/hello')))?.text(), 'hello');
    await assert.rejects(plugin.call('http_readme_no_headers', server.url('/status?code=404')), { exitCode: -1 });
  });
});

describe('Zig PDK (zig-pdk, May 2025, and before 1.2.0 where it differs)', () => {
  after(closeAll);

  it('getInput and output: input_load_u64 while 8 bytes are left, then input_load_u8', async () => {
    const plugin = await open('pdk-zig');
    for (const input of ECHO_INPUTS) {
      const output = await plugin.call('input_output_echo', input);
      if (input === '') assertEmpty(output, 'empty input');
      else assert.equal(output?.text(), input);
    }
  });

  it('an empty output is output_set(0, 0)', async () => {
    assertEmpty(await (await open('pdk-zig')).call('output_empty'), 'output("")');
  });

  it('setError and return 1', async () => {
    await assert.rejects((await open('pdk-zig')).call('error_message'), { message: 'boom: the plug-in failed', exitCode: 1 });
  });

  it('getConfig: length(0) for a missing key, the value freed after reading', async () => {
    assert.equal((await (await open('pdk-zig', {}, { greeting: 'hello from config' })).call('config_get_value'))?.text(), 'hello from config');
    assertEmpty(await (await open('pdk-zig')).call('config_get_value'), 'missing key');
  });

  it('getVarInt / setVarInt count across calls', async () => {
    const plugin = await open('pdk-zig');
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) counts.push((await plugin.call('var_count'))!.getUint32(0, true));
    assert.deepEqual(counts, [1, 2, 3]);
  });

  it('request(): body handle from alloc(0), length_unsafe of 0 handles, deinit frees both', async () => {
    const plugin = await open('pdk-zig', { allowedHosts: ['127.0.0.1'] });
    assert.deepEqual(statusAndBody(await plugin.call('http_get', server.url('/hello'))), { status: 200, body: 'hello' });
    assert.deepEqual(statusAndBody(await plugin.call('http_get', server.url('/status?code=204'))), { status: 204, body: '' });
    const withHeaders = await open('pdk-zig', { allowedHosts: ['127.0.0.1'], allowHttpResponseHeaders: true });
    assert.deepEqual(statusAndBody(await withHeaders.call('http_get', server.url('/hello'))), { status: 200, body: 'hello' });
  });

  it('request() before 1.2.0: body and request freed again when request() returns, the response read afterwards is intact', async () => {
    const plugin = await open('pdk-zig', { allowedHosts: ['127.0.0.1'] });
    assert.deepEqual(statusAndBody(await plugin.call('http_get_free_request_after', server.url('/hello'))), { status: 200, body: 'hello' });
  });

  it('logging: off at 2147483647, else level >= get_log_level', async () => {
    const all = recordingLogger();
    await (await open('pdk-zig', { logger: all.logger, logLevel: 'trace' })).call('log_all_levels');
    assert.deepEqual(all.lines, ALL_LEVELS);
    const none = recordingLogger();
    await (await open('pdk-zig', { logger: none.logger, logLevel: 'silent' })).call('log_all_levels');
    assert.deepEqual(none.lines, []);
  });
});

describe('the three sequences that broke real plug-ins, in worker mode', () => {
  after(closeAll);

  it('Rust: HTTP with "method": null', async () => {
    const plugin = await open('pdk-rust', { runInWorker: true, allowedHosts: ['127.0.0.1'] });
    assert.deepEqual(statusAndBody(await plugin.call('http_get_null_method', server.url('/hello'))), { status: 200, body: 'hello' });
  });

  it('Go: the request freed again after http_request', async () => {
    const plugin = await open('pdk-go', { runInWorker: true, allowedHosts: ['127.0.0.1'] });
    assert.deepEqual(statusAndBody(await plugin.call('http_get_free_request_after', server.url('/hello'))), { status: 200, body: 'hello' });
  });

  it('Haskell 1.0: the config key freed again after config_get', async () => {
    const plugin = await open('pdk-haskell', { runInWorker: true }, { greeting: 'hello from config' });
    assert.equal((await plugin.call('config_get_then_free_key'))?.text(), 'hello from config');
  });
});
