// Plug-ins of js-pdk, python-pdk, dotnet-pdk and as-pdk, replayed: each fixture
// (test/fixtures/pdk-<pdk>.wat) makes the extism:host/env calls that PDK makes, in its order,
// with its allocations, frees and handle-0 habits (docs/COMPATIBILITY.md, its js/python/.NET/AssemblyScript part), and each test
// asserts what the reference runtime gives for that sequence.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CallContext, createPlugin, type Plugin, PluginCallError, type PluginOptions, type PluginOutput } from '../src/index.js';
import { assemble, fixturePath, recordingLogger } from './helpers.js';
import { type TestServer, useTestServer } from './http-test-server.js';

const utf8 = new TextEncoder();

function open(fixture: string, options: PluginOptions = {}): Promise<Plugin> {
  return createPlugin({ wasm: [{ path: fixturePath(fixture) }] }, options);
}

/** The output as text; '' for no output (the reference gives an empty output for both). */
function text(output: PluginOutput | null): string {
  return output === null ? '' : output.text();
}

function bytes(output: PluginOutput | null): number[] {
  return output === null ? [] : [...output.bytes()];
}

/** The request JSON as extism-manifest's HttpRequest serializes it (serde): url, headers (sorted), method. */
function serdeRequest(url: string, method: string | null, headers: Record<string, string> = {}): string {
  const sorted = Object.fromEntries(
    Object.keys(headers)
      .sort()
      .map((name) => [name, headers[name]]),
  );
  return `{"url":${JSON.stringify(url)},"headers":${JSON.stringify(sorted)},"method":${JSON.stringify(method)}}`;
}

/** Input of the js/python http exports: u32 JSON length, u8 1 when a body is passed, the JSON, the body. */
function rustHttpInput(json: string, body?: string): Uint8Array {
  const jsonBytes = utf8.encode(json);
  const bodyBytes = utf8.encode(body ?? '');
  const input = new Uint8Array(5 + jsonBytes.length + bodyBytes.length);
  new DataView(input.buffer).setUint32(0, jsonBytes.length, true);
  input[4] = body === undefined ? 0 : 1;
  input.set(jsonBytes, 5);
  input.set(bodyBytes, 5 + jsonBytes.length);
  return input;
}

/** Input of the dotnet http exports: u32 JSON length, the JSON, the body. */
function dotnetHttpInput(json: string, body = ''): Uint8Array {
  const jsonBytes = utf8.encode(json);
  const bodyBytes = utf8.encode(body);
  const input = new Uint8Array(4 + jsonBytes.length + bodyBytes.length);
  new DataView(input.buffer).setUint32(0, jsonBytes.length, true);
  input.set(jsonBytes, 4);
  input.set(bodyBytes, 4 + jsonBytes.length);
  return input;
}

/** "<status>\n<headers JSON>\n<body>", the fixtures' HTTP report, taken apart. */
function httpReport(output: PluginOutput | null): { status: number; headers: string; body: string } {
  const all = text(output);
  const first = all.indexOf('\n');
  const second = all.indexOf('\n', first + 1);
  assert.ok(first > 0 && second > first, `not a report: ${JSON.stringify(all)}`);
  return { status: Number(all.slice(0, first)), headers: all.slice(first + 1, second), body: all.slice(second + 1) };
}

/** The /echo route's answer: what the server saw. */
function echoed(body: string): { method: string; headers: Record<string, string>; body: string } {
  return JSON.parse(body) as { method: string; headers: Record<string, string>; body: string };
}

/** ASCII strings of the lengths around the 8-byte chunks PDKs move with the u64 functions. */
const CHUNK_EDGES = [1, 7, 8, 9, 15, 16, 17, 64].map((n) => 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(2).slice(0, n));

let server: TestServer;
useTestServer((started) => {
  server = started;
});

describe('js-pdk (extism-pdk 1.4.1 under QuickJS)', () => {
  it('Host.inputString → Host.outputString: u64 chunks and u8 tails both ways', async () => {
    const plugin = await open('pdk-js');
    for (const input of [...CHUNK_EDGES, 'héllo wörld — ✓ 😀']) assert.equal(text(await plugin.call('host_output_string', input)), input);
    await plugin.close();
  });

  it('Host.outputString(""): output_set(0, 0) is an empty output', async () => {
    const plugin = await open('pdk-js');
    assert.equal(text(await plugin.call('host_output_string', '')), '');
    await plugin.close();
  });

  it('Config.get: the value, null when absent or empty (length 0 is None)', async () => {
    const plugin = await open('pdk-js', { config: { name: 'Benjamin', accents: 'élan', empty: '' } });
    assert.equal(text(await plugin.call('config_get', 'name')), 'Benjamin');
    assert.equal(text(await plugin.call('config_get', 'accents')), 'élan');
    assert.equal(text(await plugin.call('config_get', 'missing')), 'null');
    assert.equal(text(await plugin.call('config_get', 'empty')), 'null');
    await plugin.close();
  });

  it('Config.get(""): the key "" travels as handle 0 and is looked up', async () => {
    const plugin = await open('pdk-js', { config: { '': 'the empty key' } });
    assert.equal(text(await plugin.call('config_get', '')), 'the empty key');
    await plugin.close();
  });

  it('Var.set / Var.getString: value block first, then the key; an empty value (handle 0) deletes', async () => {
    const plugin = await open('pdk-js');
    assert.equal(text(await plugin.call('var_get_string', 'counter')), 'null');
    await plugin.call('var_set', 'counter=1');
    assert.equal(text(await plugin.call('var_get_string', 'counter')), '1');
    await plugin.call('var_set', 'counter=a value longer than eight bytes');
    assert.equal(text(await plugin.call('var_get_string', 'counter')), 'a value longer than eight bytes');
    await plugin.call('var_set', 'counter=');
    assert.equal(text(await plugin.call('var_get_string', 'counter')), 'null');
    await plugin.close();
  });

  it('Var.set("", v): the key "" travels as handle 0 and names the var ""', async () => {
    const plugin = await open('pdk-js');
    await plugin.call('var_set', '=anonymous');
    assert.equal(text(await plugin.call('var_get_string', '')), 'anonymous');
    await plugin.close();
  });

  it('console.*: get_log_level first, nothing allocated below it, then log_<level>', async () => {
    const { lines, logger } = recordingLogger();
    const plugin = await open('pdk-js', { logger, logLevel: 'info' });
    await plugin.call('console_log', 'hello');
    await plugin.call('console_trace', 'filtered');
    await plugin.call('console_debug', 'filtered');
    await plugin.call('console_warn', 'careful');
    await plugin.call('console_error', 'bad');
    assert.deepEqual(lines, ['info hello', 'warn careful', 'error bad']);
    const verbose = recordingLogger();
    const tracing = await open('pdk-js', { logger: verbose.logger, logLevel: 'trace' });
    await tracing.call('console_trace', 'seen');
    assert.deepEqual(verbose.lines, ['trace seen']);
    await plugin.close();
    await tracing.close();
  });

  it('console.log(""): the empty message travels as handle 0 and is logged', async () => {
    const { lines, logger } = recordingLogger();
    const plugin = await open('pdk-js', { logger, logLevel: 'info' });
    await plugin.call('console_log', '');
    assert.deepEqual(lines, ['info ']);
    await plugin.close();
  });

  it('Http.request GET: status, body; http_headers gives 0 unless enabled', async () => {
    const plugin = await open('pdk-js', { allowedHosts: ['127.0.0.1'] });
    const report = httpReport(await plugin.call('http_request', rustHttpInput(serdeRequest(server.url('/hello'), 'GET'))));
    assert.deepEqual(report, { status: 200, headers: '', body: 'hello' });
    await plugin.close();
  });

  it('Http.request answered with no body: handle 0, length_unsafe(0) is 0, the body is ""', async () => {
    const plugin = await open('pdk-js', { allowedHosts: ['127.0.0.1'] });
    const report = httpReport(await plugin.call('http_request', rustHttpInput(serdeRequest(server.url('/status?code=204'), 'GET'))));
    assert.deepEqual(report, { status: 204, headers: '', body: '' });
    const failing = httpReport(await plugin.call('http_request', rustHttpInput(serdeRequest(server.url('/status?code=503'), 'GET'))));
    assert.deepEqual(failing, { status: 503, headers: '', body: 'status 503' });
    await plugin.close();
  });

  it('Http.request with response headers enabled: the headers block is read, then freed', async () => {
    const plugin = await open('pdk-js', { allowedHosts: ['127.0.0.1'], allowHttpResponseHeaders: true });
    const report = httpReport(await plugin.call('http_request', rustHttpInput(serdeRequest(server.url('/hello'), 'GET'))));
    assert.equal(report.status, 200);
    assert.equal(report.body, 'hello');
    assert.equal((JSON.parse(report.headers) as Record<string, string>)['x-test'], 'yes');
    // the same plug-in goes on working after the guest freed a host-made block
    assert.equal(httpReport(await plugin.call('http_request', rustHttpInput(serdeRequest(server.url('/hello'), 'GET')))).body, 'hello');
    await plugin.close();
  });

  it('Http.request with a body and the method as the plug-in wrote it ("patch"): sent upper-cased', async () => {
    const plugin = await open('pdk-js', { allowedHosts: ['127.0.0.1'] });
    const json = serdeRequest(server.url('/echo'), 'patch', { 'x-custom': 'one', accept: 'text/plain' });
    const report = httpReport(await plugin.call('http_request', rustHttpInput(json, '{"a":1} and more than eight bytes')));
    assert.equal(report.status, 200);
    const seen = echoed(report.body);
    assert.equal(seen.method, 'PATCH');
    assert.equal(seen.body, '{"a":1} and more than eight bytes');
    assert.equal(seen.headers['x-custom'], 'one');
    assert.equal(seen.headers.accept, 'text/plain');
    await plugin.close();
  });

  it('Http.request with body "": Some("") is alloc(0), so the body handle is 0', async () => {
    const plugin = await open('pdk-js', { allowedHosts: ['127.0.0.1'] });
    const report = httpReport(await plugin.call('http_request', rustHttpInput(serdeRequest(server.url('/echo'), 'PUT'), '')));
    const seen = echoed(report.body);
    assert.equal(seen.method, 'PUT');
    assert.equal(seen.body, '');
    await plugin.close();
  });

  it('Http.request to a host not allowed fails the call naming the URL', async () => {
    const plugin = await open('pdk-js', { allowedHosts: ['example.com'] });
    const url = server.url('/hello');
    await assert.rejects(plugin.call('http_request', rustHttpInput(serdeRequest(url, 'GET'))), (err: Error) => err.message.includes(url));
    assert.deepEqual(await server.requests(), []);
    await plugin.close();
  });

  it('an exception in an I32 export: error_set, then -1; the message is the error', async () => {
    const plugin = await open('pdk-js');
    const message = 'Exception: I am a JS exception shibboleth\n    at greet (script.js:2)\n';
    await assert.rejects(plugin.call('throw_in_i32_export', message), (err: unknown) => {
      assert.ok(err instanceof PluginCallError);
      assert.equal(err.message, message);
      assert.equal(err.exitCode, -1);
      return true;
    });
    assert.equal(text(await plugin.call('host_output_string', 'still usable')), 'still usable');
    await plugin.close();
  });

  it('an exception in a void export: error_set, then a trap (panic = abort); both are reported', async () => {
    const plugin = await open('pdk-js');
    await assert.rejects(plugin.call('throw_in_void_export', 'Exception: shibboleth'), (err: unknown) => {
      assert.ok(err instanceof PluginCallError);
      assert.match(err.message, /unreachable/);
      assert.match(err.message, /Exception: shibboleth/);
      return true;
    });
    assert.equal(text(await plugin.call('host_output_string', 'after the trap')), 'after the trap');
    await plugin.close();
  });
});

// js-pdk and python-pdk merge their engine with a generated shim (wasm-merge): the user's host
// functions sit in a second funcref table, filled by an element segment with an explicit
// table index, and are called through call_indirect on that table; wasm-opt leaves bulk
// memory instructions around. This module has that shape.
const SHIM_SHAPE = `(module
  (import "extism:host/user" "greet_host" (func $greet_host (param i64) (result i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "load_u8" (func $load_u8 (param i64) (result i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (type $host_i64_i64 (func (param i64) (result i64)))
  (memory 1)
  (data (i32.const 0) "Benjamin")
  (table $core 1 funcref)
  (table $imports 1 funcref)
  (elem (table $core) (i32.const 0) func $to_block)
  (elem (table $imports) (i32.const 0) func $greet_host)
  (func $to_block (param $p i32) (param $n i32) (result i64) (local $h i64) (local $i i32)
    (local.set $h (call $alloc (i64.extend_i32_u (local.get $n))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (call $store_u8 (i64.add (local.get $h) (i64.extend_i32_u (local.get $i))) (i32.load8_u (i32.add (local.get $p) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (local.get $h))
  ;; js-pdk: __conv_<name> reinterprets the i64s and calls through the imports table
  (func $conv_greet_host (param $idx i32) (param $a0 i64) (result i64)
    (call_indirect $imports (type $host_i64_i64) (local.get $a0) (local.get $idx)))
  ;; js-pdk: __invokeHostFunc routes by index, five i64 arguments
  (func $invoke_host_func (export "__invokeHostFunc") (param $idx i32) (param $a0 i64) (param $a1 i64) (param $a2 i64) (param $a3 i64) (param $a4 i64) (result i64)
    (if (i32.eq (local.get $idx) (i32.const 0)) (then (return (call $conv_greet_host (local.get $idx) (local.get $a0)))))
    (i64.const 0))
  ;; python-pdk: __invokeHostFunc_1_1 pushes the arguments, then the index, and calls through the table
  (func $invoke_host_func_1_1 (export "__invokeHostFunc_1_1") (param $idx i32) (param $a0 i64) (result i64)
    (call_indirect $imports (type $host_i64_i64) (local.get $a0) (local.get $idx)))
  ;; Memory.fromString("Benjamin") (through the core table), the host function, Memory.find(h).readString(), output
  (func $greet (param $python i32) (result i32) (local $arg i64) (local $res i64) (local $n i32) (local $i i32)
    (memory.fill (i32.const 0x1000) (i32.const 0) (i32.const 256))
    (memory.copy (i32.const 0x800) (i32.const 0) (i32.const 8))
    (local.set $arg (call_indirect $core (param i32 i32) (result i64) (i32.const 0x800) (i32.const 8) (i32.const 0)))
    (local.set $res (if (result i64) (local.get $python)
      (then (call $invoke_host_func_1_1 (i32.const 0) (local.get $arg)))
      (else (call $invoke_host_func (i32.const 0) (local.get $arg) (i64.const 0) (i64.const 0) (i64.const 0) (i64.const 0)))))
    (local.set $n (i32.wrap_i64 (call $length (local.get $res))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (i32.store8 (i32.add (i32.const 0x1000) (local.get $i)) (call $load_u8 (i64.add (local.get $res) (i64.extend_i32_u (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (call $output_set (call $to_block (i32.const 0x1000) (local.get $n)) (i64.extend_i32_u (local.get $n)))
    (i32.const 0))
  (func (export "greet_js") (result i32) (call $greet (i32.const 0)))
  (func (export "greet_python") (result i32) (call $greet (i32.const 1))))`;

describe('the js-pdk / python-pdk module shape: host functions in a second table', () => {
  for (const [label, options] of [
    ['plain', {}],
    ['instrumented (timeoutMs)', { timeoutMs: 5000 }],
    ['in a worker', { runInWorker: true }],
  ] as const) {
    it(`calls the host function through call_indirect on the imports table (${label})`, async () => {
      const wasm = await assemble(SHIM_SHAPE);
      const plugin = await createPlugin(
        { wasm: [{ data: wasm }] },
        {
          ...options,
          functions: {
            'extism:host/user': {
              greet_host: (ctx: CallContext, handle: bigint) => ctx.store(`Hello, ${ctx.read(handle)?.text() ?? '?'}!`),
            },
          },
        },
      );
      assert.equal(text(await plugin.call('greet_js')), 'Hello, Benjamin!');
      assert.equal(text(await plugin.call('greet_python')), 'Hello, Benjamin!');
      await plugin.close();
    });
  }
});

describe('python-pdk (extism-pdk 1.3.0 under CPython)', () => {
  it('extism.input_str → extism.output_str, and the empty output', async () => {
    const plugin = await open('pdk-python');
    for (const input of [...CHUNK_EDGES, 'naïve café ☕']) assert.equal(text(await plugin.call('output_str', input)), input);
    assert.equal(text(await plugin.call('output_str', '')), '');
    await plugin.close();
  });

  it('Config.get_str: the value, None when absent', async () => {
    const plugin = await open('pdk-python', { config: { greeting: 'hi there, more than 8' } });
    assert.equal(text(await plugin.call('config_get_str', 'greeting')), 'hi there, more than 8');
    assert.equal(text(await plugin.call('config_get_str', 'nope')), 'None');
    await plugin.close();
  });

  it('Var.set with bytes; b"" is handle 0 and deletes', async () => {
    const plugin = await open('pdk-python');
    await plugin.call('var_set', 'k=v1');
    assert.equal(text(await plugin.call('var_get_str', 'k')), 'v1');
    await plugin.call('var_set', 'k=');
    assert.equal(text(await plugin.call('var_get_str', 'k')), 'None');
    await plugin.close();
  });

  it('extism.log: filtered by get_log_level before any allocation', async () => {
    const { lines, logger } = recordingLogger();
    const plugin = await open('pdk-python', { logger, logLevel: 'info' });
    await plugin.call('log_debug', 'hidden');
    await plugin.call('log_info', 'shown');
    await plugin.call('log_error', 'also shown');
    assert.deepEqual(lines, ['info shown', 'error also shown']);
    await plugin.close();
  });

  it('Http.request: the response block is freed by the guest once read', async () => {
    const plugin = await open('pdk-python', { allowedHosts: ['127.0.0.1'], allowHttpResponseHeaders: true });
    for (let round = 0; round < 3; round++) {
      const report = httpReport(await plugin.call('http_request', rustHttpInput(serdeRequest(server.url('/hello'), 'GET'))));
      assert.equal(report.status, 200);
      assert.equal(report.body, 'hello');
      assert.equal((JSON.parse(report.headers) as Record<string, string>)['x-test'], 'yes');
    }
    const post = httpReport(
      await plugin.call('http_request', rustHttpInput(serdeRequest(server.url('/echo'), 'POST', { 'content-type': 'text/plain' }), 'body bytes')),
    );
    assert.equal(echoed(post.body).body, 'body bytes');
    assert.equal(echoed(post.body).method, 'POST');
    // no body: the response handle is 0, and free(0) is nothing
    const empty = httpReport(await plugin.call('http_request', rustHttpInput(serdeRequest(server.url('/status?code=204'), 'GET'))));
    assert.equal(empty.status, 204);
    assert.equal(empty.body, '');
    await plugin.close();
  });

  it('HttpRequest(url, None): "method": null is a GET', async () => {
    const plugin = await open('pdk-python', { allowedHosts: ['127.0.0.1'] });
    const report = httpReport(await plugin.call('http_request', rustHttpInput(serdeRequest(server.url('/echo'), null))));
    assert.equal(report.status, 200);
    assert.equal(echoed(report.body).method, 'GET');
    await plugin.close();
  });

  it('an exception: error_set twice (invoke.py, then wrap_gil), -1; the last message is the error', async () => {
    const plugin = await open('pdk-python');
    const first = 'division by zero:\n  File "<source>", line 7, in count\n';
    const second = 'division by zero\nTraceback (most recent call last):\n  File "<source>", line 7, in count\n';
    await assert.rejects(plugin.call('raise_exception', `${first}|${second}`), (err: unknown) => {
      assert.ok(err instanceof PluginCallError);
      assert.equal(err.message, second);
      assert.equal(err.exitCode, -1);
      return true;
    });
    await plugin.close();
  });

  it('set_error(""): error_set(0) is no error', async () => {
    const plugin = await open('pdk-python');
    assert.equal(text(await plugin.call('set_error', '')), '');
    await assert.rejects(plugin.call('set_error', 'real'), { message: 'real' });
    await plugin.close();
  });
});

describe('dotnet-pdk (Interop.cs over native/extism.c)', () => {
  it('GetInputString → SetOutput, and SetOutput of nothing (alloc(0), output_set(0, 0))', async () => {
    const plugin = await open('pdk-dotnet');
    for (const input of [...CHUNK_EDGES, 'Ünïcödé ✓']) assert.equal(text(await plugin.call('echo', input)), input);
    assert.equal(text(await plugin.call('echo', '')), '');
    await plugin.close();
  });

  it('TryGetConfig (the KitchenSink greeter): length(0) when absent, the value freed after reading', async () => {
    const plugin = await open('pdk-dotnet', { config: { name: 'Benjamin', blank: '' } });
    assert.equal(text(await plugin.call('greeter', 'name')), 'Greetings, Benjamin!');
    assert.equal(text(await plugin.call('greeter', 'missing')), 'Greetings, Anonymous!');
    assert.equal(text(await plugin.call('greeter', 'blank')), 'Greetings, Anonymous!');
    await plugin.close();
  });

  it('TryGetVar / SetVar (the KitchenSink counter) and RemoveVar', async () => {
    const plugin = await open('pdk-dotnet');
    assert.equal(text(await plugin.call('counter')), '1');
    assert.equal(text(await plugin.call('counter')), '2');
    assert.equal(text(await plugin.call('counter')), '3');
    await plugin.call('remove_var', 'counter');
    assert.equal(text(await plugin.call('counter')), '1');
    await plugin.close();
  });

  it('Pdk.Log: get_log_level twice, then log_<level>', async () => {
    const { lines, logger } = recordingLogger();
    const plugin = await open('pdk-dotnet', { logger, logLevel: 'info' });
    await plugin.call('log_trace', 'hidden');
    await plugin.call('log_info', 'Failed to deserialize input.');
    await plugin.call('log_error', 'worse');
    assert.deepEqual(lines, ['info Failed to deserialize input.', 'error worse']);
    await plugin.close();
  });

  it('Pdk.Log(level, ""): the empty message travels as handle 0 and is logged', async () => {
    const { lines, logger } = recordingLogger();
    const plugin = await open('pdk-dotnet', { logger, logLevel: 'info' });
    await plugin.call('log_info', '');
    assert.deepEqual(lines, ['info ']);
    await plugin.close();
  });

  it('an exception: PrintException sets ex.ToString(), the export returns 1', async () => {
    const plugin = await open('pdk-dotnet');
    const message = 'System.InvalidOperationException: Something bad happened.\n   at Functions.Functions.Throw()';
    await assert.rejects(plugin.call('throw', message), (err: unknown) => {
      assert.ok(err instanceof PluginCallError);
      assert.equal(err.message, message);
      assert.equal(err.exitCode, 1);
      return true;
    });
    await plugin.close();
  });

  it('SendRequest, then SetOutput(response.Body) (get_todo): the request block freed again must not free the response', async () => {
    const plugin = await open('pdk-dotnet', { allowedHosts: ['127.0.0.1'] });
    const json = `{"url":"${server.url('/hello')}","headers":{"Authorization":"Basic dG9rZW4="},"method":"GET"}`;
    assert.equal(text(await plugin.call('send_request_output_body', dotnetHttpInput(json))), 'hello');
    await plugin.close();
  });

  it('SendRequest with a body and System.Text.Json escapes, then Body.ReadString(): request and body freed again', async () => {
    const plugin = await open('pdk-dotnet', { allowedHosts: ['127.0.0.1'], allowHttpResponseHeaders: true });
    // System.Text.Json's default encoder writes & as \u0026 and + as \u002B
    const json = `{"url":"${server.url('/echo')}?a=1\\u0026b=2","headers":{"Authorization":"Basic dG9r\\u002B/w=="},"method":"POST"}`;
    const report = httpReport(await plugin.call('send_request_read_body', dotnetHttpInput(json, '{"title":"delectus aut autem"}')));
    assert.equal(report.status, 200);
    assert.equal((JSON.parse(report.headers) as Record<string, string>)['content-type'], 'application/json');
    const seen = echoed(report.body);
    assert.equal(seen.method, 'POST');
    assert.equal(seen.body, '{"title":"delectus aut autem"}');
    assert.equal(seen.headers.authorization, 'Basic dG9r+/w==');
    const [request] = await server.requests();
    assert.equal(request?.path, '/echo?a=1&b=2');
    await plugin.close();
  });

  it('SendRequest of an empty response: handle 0 throws "Failed to send HTTP request." after freeing its blocks again', async () => {
    const plugin = await open('pdk-dotnet', { allowedHosts: ['127.0.0.1'] });
    const json = `{"url":"${server.url('/status?code=204')}","headers":{},"method":"DELETE"}`;
    await assert.rejects(plugin.call('send_request_output_body', dotnetHttpInput(json, 'gone')), (err: unknown) => {
      assert.ok(err instanceof PluginCallError);
      assert.match(err.message, /Failed to send HTTP request\./);
      assert.equal(err.exitCode, 1);
      return true;
    });
    assert.equal((await server.requests())[0]?.method, 'DELETE');
    await plugin.close();
  });
});

describe('as-pdk (@extism/as-pdk 1.0.0)', () => {
  it('Host.input → Host.output: u64 while 8 or more bytes are left, u8 after; empty too', async () => {
    const plugin = await open('pdk-as');
    for (const input of [...CHUNK_EDGES, '']) assert.equal(text(await plugin.call('output_bytes', input)), input);
    await plugin.close();
  });

  it('Host.outputString of ASCII: s.length is the byte length', async () => {
    const plugin = await open('pdk-as');
    for (const input of CHUNK_EDGES) assert.equal(text(await plugin.call('output_string', input)), input);
    await plugin.close();
  });

  it('Host.outputString of non-ASCII: s.length (UTF-16) bytes are output, as the reference runtime gives them', async () => {
    const plugin = await open('pdk-as');
    // "héllo": 5 UTF-16 units, 6 UTF-8 bytes; the stores run one byte past the block
    assert.equal(text(await plugin.call('output_string', 'héllo')), 'héll');
    // "😀!": 3 UTF-16 units; the output cuts the emoji
    assert.deepEqual(bytes(await plugin.call('output_string', '😀!')), [0xf0, 0x9f, 0x98]);
    // 12 three-byte characters: 36 bytes stored into a 12-byte block
    assert.deepEqual(bytes(await plugin.call('output_string', '✓'.repeat(12))), [...utf8.encode('✓'.repeat(4))]);
    assert.equal(text(await plugin.call('output_string', 'plain again')), 'plain again');
    await plugin.close();
  });

  it('Var.set (key block first, store_u8 only), Var.getString, Var.remove; an empty value deletes', async () => {
    const plugin = await open('pdk-as');
    await plugin.call('var_set', 'name=a value of more than eight bytes');
    assert.equal(text(await plugin.call('var_get_string', 'name')), 'a value of more than eight bytes');
    await plugin.call('var_remove', 'name');
    assert.equal(text(await plugin.call('var_get_string', 'name')), 'null');
    await plugin.call('var_set', 'name=x');
    await plugin.call('var_set', 'name=');
    assert.equal(text(await plugin.call('var_get_string', 'name')), 'null');
    await plugin.close();
  });

  it('Config.get: the value, null when absent', async () => {
    const plugin = await open('pdk-as', { config: { thing: 'a config value' } });
    assert.equal(text(await plugin.call('config_get', 'thing')), 'a config value');
    assert.equal(text(await plugin.call('config_get', 'other')), 'null');
    await plugin.close();
  });

  it('Host.log: log_* without get_log_level; the host filters', async () => {
    const { lines, logger } = recordingLogger();
    const plugin = await open('pdk-as', { logger, logLevel: 'info' });
    await plugin.call('log_debug', 'hidden');
    await plugin.call('log_info', 'shown');
    await plugin.call('log_error', 'bad');
    assert.deepEqual(lines, ['info shown', 'error bad']);
    await plugin.close();
  });

  it('Host.log(level, ""): the empty message travels as handle 0 and is logged', async () => {
    const { lines, logger } = recordingLogger();
    const plugin = await open('pdk-as', { logger, logLevel: 'info' });
    await plugin.call('log_info', '');
    assert.deepEqual(lines, ['info ']);
    await plugin.close();
  });

  it("the PDK's example.ts count_vowels: Var.set, Config.get, Var.get, outputString, Var.remove", async () => {
    const plugin = await open('pdk-as', { config: { thing: 'from config' } });
    assert.equal(text(await plugin.call('count_vowels', 'Hello, World!')), '{"count": 3, "config": "from config", "a": "this is var a"}');
    assert.equal(text(await plugin.call('var_get_string', 'a')), 'null', 'Var.remove ran');
    const bare = await open('pdk-as');
    assert.equal(text(await bare.call('count_vowels', 'aeiou AEIOU xyz')), '{"count": 10, "config": "null", "a": "this is var a"}');
    await plugin.close();
    await bare.close();
  });
});
