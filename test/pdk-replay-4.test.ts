// The PDKs audited last (MoonBit, C++) and what Extism's own test plug-ins (extism/pdk-test)
// and published plug-ins (extism/plugins) do: each export of the fixtures replays a call
// sequence read from their sources (docs/COMPATIBILITY.md says which). Each expectation is
// what the reference host gives, or, where it fails the call, the lenient answer the contract
// chose. HTTP goes to the node:http server of http-test-server.ts.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, describe, it } from 'node:test';
import {
  type CallContext,
  createPlugin,
  LinkError,
  type Manifest,
  MemoryLimitError,
  type Plugin,
  PluginCallError,
  type PluginOptions,
  WasmSourceError,
} from '../src/index.js';
import { assemble, fixturePath, fixturePlugins, recordingLogger } from './helpers.js';
import { type TestServer, useTestServer } from './http-test-server.js';

const { open, keep, closeAll } = fixturePlugins();

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

  // On the reference host the output survives (freed space is not reused while memory remains)
  // and the error loses its message (its length reads 0 once freed: "Encountered an unknown
  // error" in the PDK's comment); plughost keeps both blocks while they hold the result.
  it('v0.11 to v0.18: output() frees its block after output_set, then a log line is allocated: the output is intact', async () => {
    const log = recordingLogger();
    const plugin = await open('pdk-moonbit', { logger: log.logger, logLevel: 'info' });
    for (const name of ['Zach', 'a', 'a name longer than the log line that follows it']) {
      assert.equal((await plugin.call('greet_output_then_free', name))?.text(), `Hello, ${name}!`);
    }
    assert.deepEqual(log.lines, ['info An info log!', 'info An info log!', 'info An info log!']);
  });

  it('v0.17: set_error frees its block after error_set, then a log line is allocated: the message is intact', async () => {
    const plugin = await open('pdk-moonbit');
    await assert.rejects(plugin.call('greet_output_then_free', 'Benjamin'), { message: "Sorry, we don't greet Benjamins!", exitCode: 1 });
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

  it('http_post: "http_method": "POST" is a POST, with the body (freed again by the plug-in after the request); in a worker too', async () => {
    for (const [round, runInWorker] of [false, false, true].entries()) {
      const plugin = await open('pdk-moonbit', { allowedHosts: ['127.0.0.1'], runInWorker });
      const echoed = JSON.parse((await plugin.call('http_post', server.url(`/echo?round=${round}`)))?.text() ?? '') as Echo;
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

describe('MoonBit output (moon build --target wasm, --target wasm-gc)', () => {
  after(closeAll);

  // What moonc's linear-memory backend emits around the PDK's calls: a start function running
  // the top-level lets (here one calls config_get, as `let greeting = @config.get("g")` does),
  // `fn main` exported as `_start` (never called: the exports are the plug-in's functions),
  // functions with several results, a funcref table, and no memory export unless moon.pkg
  // sets export-memory-name.
  const MOONBIT_SHAPE = `(module
    (type $pair (func (result i32 i32)))
    (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
    (import "extism:host/env" "config_get" (func $config_get (param i64) (result i64)))
    (import "extism:host/env" "load_u8" (func $load_u8 (param i64) (result i32)))
    (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
    (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
    (memory 1)
    (table 2 2 funcref)
    (elem (i32.const 0) $one_two $three_four)
    (global $from_config (mut i32) (i32.const 45))
    (global $calls (mut i32) (i32.const 0))
    (func $one_two (type $pair) (i32.const 1) (i32.const 2))
    (func $three_four (type $pair) (i32.const 3) (i32.const 4))
    (func $top_level_lets
      (local $key i64) (local $value i64)
      (local.set $key (call $alloc (i64.const 1)))
      (call $store_u8 (local.get $key) (i32.const 103))
      (local.set $value (call $config_get (local.get $key)))
      (if (i64.ne (local.get $value) (i64.const 0)) (then (global.set $from_config (call $load_u8 (local.get $value))))))
    (start $top_level_lets)
    (func (export "_start"))
    (func (export "shape") (result i32)
      (local $h i64)
      (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
      (local.set $h (call $alloc (i64.const 3)))
      (call $store_u8 (local.get $h) (i32.add (i32.const 48) (global.get $calls)))
      (call $store_u8 (i64.add (local.get $h) (i64.const 1)) (global.get $from_config))
      (call $store_u8 (i64.add (local.get $h) (i64.const 2)) (i32.add (i32.const 48) (i32.add (call_indirect (type $pair) (i32.const 1)))))
      (call $output_set (local.get $h) (i64.const 3))
      (i32.const 0)))`;

  for (const [mode, options] of [
    ['on this thread', {}],
    ['instrumented (timeoutMs)', { timeoutMs: 60_000 }],
    ['in a worker', { runInWorker: true }],
  ] as [string, PluginOptions][]) {
    it(`a start function that calls the host, _start beside the exports, multi-value, a table, no memory export: runs ${mode}`, async () => {
      const wasm = await assemble(MOONBIT_SHAPE);
      const plugin = await createPlugin({ wasm: [{ data: wasm }], config: { g: 'X' } }, options);
      keep(plugin);
      // the start function ran once, with the config; the instance (its globals) lives on
      assert.equal((await plugin.call('shape'))?.text(), '1X7');
      assert.equal((await plugin.call('shape'))?.text(), '2X7');
      const unconfigured = await createPlugin({ wasm: [{ data: wasm }] }, options);
      keep(unconfigured);
      assert.equal((await unconfigured.call('shape'))?.text(), '1-7');
    });
  }

  // println in a MoonBit plug-in imports spectest.print_char (a UTF-16 code unit at a time),
  // which neither the reference host nor plughost provides: the module does not link unless the
  // host application defines the function.
  it('println: spectest.print_char is a missing import, named; a host function of that name satisfies it', async () => {
    const wasm = await assemble(
      '(module (import "spectest" "print_char" (func $print_char (param i32))) (func (export "hi") (result i32) (call $print_char (i32.const 104)) (i32.const 0)))',
    );
    await assert.rejects(createPlugin({ wasm: [{ data: wasm }] }), (err: unknown) => {
      assert.ok(err instanceof LinkError, String(err));
      assert.match(err.message, /missing import spectest\.print_char/);
      return true;
    });
    const printed: number[] = [];
    const plugin = await createPlugin(
      { wasm: [{ data: wasm }] },
      { functions: { spectest: { print_char: (_ctx: CallContext, c: number) => void printed.push(c) } } },
    );
    keep(plugin);
    assert.equal(await plugin.call('hi'), null);
    assert.deepEqual(printed, [104]);
  });

  it('a --target wasm-gc module (struct and array types) is refused at creation, saying why', async () => {
    const name = [...new TextEncoder().encode('greet')];
    // types: (struct (field i32)), (func (result i32)); one function of the second; exported
    const types = [0x02, 0x5f, 0x01, 0x7f, 0x00, 0x60, 0x00, 0x01, 0x7f];
    const wasm = new Uint8Array([
      ...[0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
      ...[1, types.length, ...types],
      ...[3, 2, 1, 1],
      ...[7, 4 + name.length, 1, name.length, ...name, 0, 0],
      ...[0x0a, 6, 1, 4, 0, 0x41, 0, 0x0b],
    ]);
    await assert.rejects(createPlugin({ wasm: [{ data: wasm }] }), (err: unknown) => {
      assert.ok(err instanceof WasmSourceError, String(err));
      assert.match(err.message, /garbage-collection \(rec\/sub\/struct\/array\) types are not supported/);
      return true;
    });
  });
});

describe('C++ PDK', () => {
  after(closeAll);

  /** examples/host-functions' host: hello_world returns a new block with its argument's bytes (the reference test's), or the argument itself. */
  const HELLO_WORLD_COPY = {
    'extism:host/user': { hello_world: (ctx: CallContext, handle: bigint) => ctx.store(ctx.read(handle)?.bytes() ?? new Uint8Array()) },
  };
  const HELLO_WORLD_SAME = { 'extism:host/user': { hello_world: (_ctx: CallContext, handle: bigint) => handle } };

  function openCpp(options: PluginOptions = {}, manifest: Omit<Manifest, 'wasm'> = {}): Promise<Plugin> {
    return open('pdk-cpp', { functions: HELLO_WORLD_COPY, ...options }, manifest);
  }

  it('tests/input.cpp: input_offset, length_unsafe, loads at handle + 5 (unaligned u64 too)', async () => {
    const plugin = await openCpp();
    assert.equal((await plugin.call('input_test', 'this is a test'))?.text(), 'this is a test|is|is a tes');
    assert.equal((await plugin.call('input_test', 'tiny'))?.text(), 'tiny||');
    // empty input: input_offset() is 0, length_unsafe(0) is 0
    assert.equal((await plugin.call('input_test', ''))?.text(), '||');
  });

  it('tests/config.cpp: four config_get of one key, each value read and freed by the guest; a missing key is 0', async () => {
    const plugin = await openCpp({}, { config: { key: 'this is a test' } });
    for (let round = 0; round < 3; round++) assert.equal((await plugin.call('config_test'))?.text(), 'this is a test|3');
  });

  it('tests/var.cpp: `--loop 100` ends at 100 (a u32 var read with four load_u8, freed, set again)', async () => {
    const plugin = await openCpp();
    let last = '';
    for (let i = 0; i < 100; i++) last = (await plugin.call('var_test'))?.text() ?? '';
    assert.equal(last, '100');
  });

  it('tests/strvar.cpp: `--loop 5` ends at "aaaaa"', async () => {
    const plugin = await openCpp();
    let last = '';
    for (let i = 0; i < 5; i++) last = (await plugin.call('strvar_test'))?.text() ?? '';
    assert.equal(last, 'aaaaa');
  });

  it('tests/log.cpp: at each --log-level, that level and the ones above, trace through log_trace', async () => {
    const levels = ['trace', 'debug', 'info', 'warn', 'error'] as const;
    for (const [index, level] of levels.entries()) {
      const log = recordingLogger();
      const plugin = await openCpp({ logger: log.logger, logLevel: level });
      await plugin.call('log_test');
      assert.deepEqual(
        log.lines,
        levels.slice(index).map((l) => `${l} ${l}`),
      );
    }
  });

  it('tests/fail.cpp: error_set and 1 is "Some error message"', async () => {
    const plugin = await openCpp();
    await assert.rejects(plugin.call('fail_test'), { message: 'Some error message', exitCode: 1 });
  });

  // The test's request: a raw string literal with newlines and indentation, "method" first, no headers.
  const cppRequest = (url: string) => `\n  {\n    "method": "GET",\n    "url":"${url}"\n  }\n  `;

  it('tests/http.cpp (--enable-http-response-headers): the headers JSON is read through length_unsafe, freed, logged', async () => {
    const log = recordingLogger();
    const plugin = await openCpp({ allowedHosts: ['127.0.0.1'], allowHttpResponseHeaders: true, logger: log.logger, logLevel: 'debug' });
    const headers = JSON.parse((await plugin.call('http_test', cppRequest(server.url('/hello'))))?.text() ?? '') as Record<string, string>;
    assert.equal(headers['x-test'], 'yes');
    assert.equal(log.lines.length, 1);
    assert.match(log.lines[0]!, /^debug \{.*"x-test":"yes"/);
  });

  it('tests/http.cpp without response headers: http_headers() is 0, length_unsafe(0) is 0, the test fails with 1', async () => {
    const plugin = await openCpp({ allowedHosts: ['127.0.0.1'] });
    await assert.rejects(plugin.call('http_test', cppRequest(server.url('/hello'))), { exitCode: 1 });
    // an empty body is handle 0: "no response" to the PDK
    const headersOn = await openCpp({ allowedHosts: ['127.0.0.1'], allowHttpResponseHeaders: true });
    await assert.rejects(headersOn.call('http_test', cppRequest(server.url('/status?code=204'))), { exitCode: 1 });
  });

  it('before 2024-09: the key freed by the guest after config_get and length_unsafe(value), before the read', async () => {
    for (const key of ['v', 'a value longer than the key and its block', 'x'.repeat(3000)]) {
      const plugin = await openCpp({}, { config: { key } });
      assert.equal((await plugin.call('config_before_2024_09'))?.text(), key);
    }
  });

  it('before 2024-09: the request freed by the guest after http_request, before the body is read', async () => {
    const plugin = await openCpp({ allowedHosts: ['127.0.0.1'] });
    for (const path of ['/hello', '/echo']) {
      const body = (await plugin.call('http_before_2024_09', cppRequest(server.url(path))))?.text() ?? '';
      if (path === '/hello') assert.equal(body, 'hello');
      else assert.equal((JSON.parse(body) as Echo).method, 'GET');
    }
  });

  it('examples/host-functions: the result goes to output_set, then the argument is freed', async () => {
    const plugin = await openCpp();
    assert.equal((await plugin.call('count_vowels', 'Hello, World!'))?.text(), '{"count": 3}');
  });

  it('examples/host-functions with a host function that returns its argument: freed after output_set, the output stays', async () => {
    const plugin = await openCpp({ functions: HELLO_WORLD_SAME });
    for (const input of ['Hello, World!', 'a'.repeat(5000)]) {
      assert.equal((await plugin.call('count_vowels', input))?.text(), `{"count": ${input === 'Hello, World!' ? 3 : 5000}}`);
    }
  });
});

describe('extism/plugins', () => {
  after(closeAll);

  it('echo.wat: output_set before the bytes are stored: the output is what the block holds when the call ends', async () => {
    const plugin = await open('pdk-plugins');
    for (const input of ['abcdefgh', 'hello, world: more than one chunk', 'x'.repeat(70_000)]) {
      assert.equal((await plugin.call('echo', input))?.text(), input);
    }
    // shorter than 8 bytes: its one input_load_u64(0) would pass the input's end, so it reads 0
    // (as on the reference host), and those are the bytes echoed
    assert.deepEqual([...((await plugin.call('echo', 'abc'))?.bytes() ?? [])], [0, 0, 0]);
  });

  it('consume.wat: output_set(alloc(0), 0) is an empty output; the input is read after it', async () => {
    const plugin = await open('pdk-plugins');
    for (const input of ['abcdefghijk', 'y'.repeat(70_000)]) assert.equal((await plugin.call('consume', input))?.byteLength ?? 0, 0);
  });

  it('input_offset.wat: length(input_offset()) is the input length (0 for no input)', async () => {
    const plugin = await open('pdk-plugins');
    for (const n of [0, 1, 13, 4096, 70_000]) {
      const out = (await plugin.call('input_offset_length', 'z'.repeat(n)))?.bytes();
      assert.ok(out !== undefined && out.byteLength === 8);
      assert.equal(new DataView(out.buffer, out.byteOffset, 8).getBigUint64(0, true), BigInt(n));
    }
  });

  it('memory alloc_memory: alloc of more than the memory can hold answers 0, and the plug-in says so', async () => {
    const ask = (n: bigint) => {
      const input = new Uint8Array(8);
      new DataView(input.buffer).setBigUint64(0, n, true);
      return input;
    };
    const plugin = await open('pdk-plugins', { memory: { maxPages: 4 } });
    assert.equal(await plugin.call('alloc_memory', ask(1000n)), null);
    for (const n of [1n << 20n, 1n << 40n, (1n << 64n) - 1n]) {
      // a MemoryLimitError: which allocation was refused and the cap, then the plug-in's message
      await assert.rejects(plugin.call('alloc_memory', ask(n)), (err: unknown) => {
        assert.ok(err instanceof MemoryLimitError, String(err));
        assert.match(err.message, /refused \d+ bytes.*The plug-in's error: Failed to allocate memory$/);
        return true;
      });
    }
    assert.equal(await plugin.call('alloc_memory', ask(1000n)), null);
  });

  // runtime/examples/linking.rs: upper.wasm under the manifest name "extism:host/user" is the
  // main module's host function; it returns the handle it was given, upper-cased in place.
  it('a module named "extism:host/user" provides the host functions (upper.wat for reflect)', async () => {
    const plugin = await createPlugin({
      wasm: [
        { data: await readFile(fixturePath('pdk-plugins-upper')), name: 'extism:host/user' },
        { data: await readFile(fixturePath('pdk-plugins-reflect')), name: 'main' },
      ],
    });
    keep(plugin);
    for (let round = 0; round < 5; round++) assert.equal((await plugin.call('reflect', 'Hello, world!'))?.text(), 'HELLO, WORLD!');
    for (const input of ['a', 'abcdefgh', 'abcdefghi', 'mixed Case `text` ~{}', 'q'.repeat(65_536), 'r'.repeat(65_545)]) {
      assert.equal(
        (await plugin.call('reflect', input))?.text(),
        input.replace(/[`a-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) & 0xdf)),
      );
    }
  });

  // runtime/src/tests/runtime.rs test_fuzz_reflect_plugin: a host function answering a new
  // block with the argument's bytes, inputs of every size from 1 to 65539 there (a sample here)
  it('reflect with a host function answering a new block: the output is the input, at every size class', async () => {
    const copy = { 'extism:host/user': { host_reflect: (ctx: CallContext, handle: bigint) => ctx.store(ctx.read(handle)?.bytes() ?? new Uint8Array()) } };
    const plugin = await open('pdk-plugins-reflect', { functions: copy });
    for (const size of [1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 255, 4095, 4096, 4097, 65_535, 65_536, 65_539]) {
      const input = 'a'.repeat(size);
      assert.equal((await plugin.call('reflect', input))?.text(), input);
    }
  });
});

describe('"http_method" from an untrusted guest (through pdk-cpp http_test, whose input is the request JSON)', () => {
  after(closeAll);

  const options: PluginOptions = {
    allowedHosts: ['127.0.0.1'],
    allowHttpResponseHeaders: true,
    functions: { 'extism:host/user': { hello_world: (_ctx: CallContext, handle: bigint) => handle } },
  };

  it('is checked as "method" is: not a method name fails the call before anything is sent', async () => {
    const plugin = await open('pdk-cpp', options);
    const url = server.url('/echo');
    for (const bad of ['"GET /admin HTTP/1.1"', '5', '{"a":1}', '["POST"]']) {
      await assert.rejects(plugin.call('http_test', `{"http_method":${bad},"url":"${url}"}`), (err: unknown) => {
        assert.ok(err instanceof PluginCallError, String(err));
        assert.match(err.message, /failed: "method" must be null or an HTTP method name/);
        return true;
      });
    }
    assert.deepEqual(await server.requests(), []);
  });

  it('"method" wins over "http_method" when both are there; a lower-case one is upper-cased', async () => {
    const plugin = await open('pdk-cpp', options);
    const url = server.url('/echo');
    for (const [json, method] of [
      [`{"method":"PUT","http_method":"POST","url":"${url}"}`, 'PUT'],
      [`{"method":null,"http_method":"POST","url":"${url}"}`, 'GET'],
      [`{"http_method":"delete","url":"${url}"}`, 'DELETE'],
    ]) {
      await plugin.call('http_test', json!);
      const seen = await server.requests();
      assert.equal(seen.at(-1)?.method, method, json);
    }
  });
});
