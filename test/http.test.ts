// Plug-in HTTP: allowedHosts, redirects, body limits, deadlines; first the handler on its own,
// then plug-ins calling http_request. Every server here listens on 127.0.0.1 only, in a worker
// (the handler blocks this thread while a request runs).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { before, describe, it } from 'node:test';
import { createPlugin, HttpDeniedError, ManifestError, MemoryLimitError, PlughostError } from '../src/index.js';
import { Deadline } from '../src/internal/deadline.js';
import type { HttpRequest } from '../src/internal/host-env.js';
import {
  compileAllowedHosts,
  createAsyncHttpHandler,
  createHttpHandler,
  DEFAULT_HTTP_TIMEOUT_MS,
  HttpDeadlineExceeded,
  type HttpOptions,
  requestDeadline,
} from '../src/internal/http/index.js';
import { nodePlatform, openHttpHelperPort } from '../src/internal/platform/node/index.js';
import { assemble } from './helpers.js';
import { type TestServer, useTestServer } from './http-test-server.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

function get(url: string, headers: Record<string, string> = {}): HttpRequest {
  return { url, method: 'GET', headers, body: null };
}

function handler(allowedHosts: string[], overrides: Partial<HttpOptions> = {}) {
  return createHttpHandler({ allowedHosts, maxResponseBytes: 50 * MiB, deadline: () => Deadline.none, ...overrides }, nodePlatform.syncHttp);
}

/** The error `fn` throws (fails the test if it returns). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  assert.fail('expected a throw');
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let server: TestServer;
useTestServer((started) => {
  server = started;
});

describe('allowedHosts patterns', () => {
  const cases: [patterns: string[], hostname: string, allowed: boolean][] = [
    [[], 'example.com', false],
    [['example.com'], 'example.com', true],
    [['example.com'], 'api.example.com', false],
    [['example.com'], 'example.com.evil.net', false],
    [['API.Example.COM'], 'api.example.com', true],
    [['*.example.com'], 'api.example.com', true],
    [['*.example.com'], 'a.b.example.com', true],
    [['*.example.com'], 'example.com', false],
    [['*.example.com'], 'evilexample.com', false],
    [['*'], 'anything.at.all', true],
    [['127.0.0.*'], '127.0.0.1', true],
    [['127.0.0.*'], '127.0.1.1', false],
    [['127.*'], '127.1.2.3', true],
    [['api.*.com'], 'api.example.com', true],
    [['bücher.de'], 'xn--bcher-kva.de', true],
    [['a?c'], 'abc', false],
    [['a.c'], 'abc', false],
    [['localhost:8080'], 'localhost', false],
    [['[::1]'], '[::1]', true],
    [['nope.org', 'local*'], 'localhost', true],
  ];
  for (const [patterns, hostname, allowed] of cases) {
    it(`${JSON.stringify(patterns)} ${allowed ? 'allows' : 'denies'} ${hostname}`, () => {
      assert.equal(compileAllowedHosts(patterns)(hostname), allowed);
    });
  }
});

describe('the HTTP handler', () => {
  it('fetches from an allowed host and returns the status, lowercase headers and body', () => {
    const response = handler(['127.0.0.1'])(get(server.url('/hello')));
    assert.equal(response.status, 200);
    assert.equal(text(response.body), 'hello');
    assert.equal(response.headers['x-test'], 'yes');
    assert.equal(response.headers['content-type'], 'text/plain');
    for (const name of Object.keys(response.headers)) assert.equal(name, name.toLowerCase());
  });

  it('denies a host not in allowedHosts before connecting, naming the URL', async () => {
    const url = server.url('/hello');
    const err = thrown(() => handler(['example.com'])(get(url)));
    assert.ok(err instanceof HttpDeniedError);
    assert.equal(err.code, 'PLUGHOST_HTTP_DENIED');
    assert.equal(err.url, url);
    assert.match(err.message, new RegExp(url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    assert.deepEqual(await server.requests(), []);
  });

  it('allows nothing when allowedHosts is empty', async () => {
    const err = thrown(() => handler([])(get(server.url('/hello'))));
    assert.ok(err instanceof HttpDeniedError);
    assert.deepEqual(await server.requests(), []);
  });

  it('refuses URLs that are not http: or https:', () => {
    for (const url of ['file:///etc/passwd', `ftp://127.0.0.1:${server.port}/`, 'data:text/plain,hi']) {
      const err = thrown(() => handler(['*'])(get(url)));
      assert.ok(err instanceof HttpDeniedError, url);
      assert.match(err.message, /only http: and https:/);
    }
  });

  it('matches IP addresses and host names by glob', async () => {
    const cases: [patterns: string[], host: string][] = [
      [['127.0.0.*'], '127.0.0.1'],
      [['127.*'], '127.0.0.1'],
      [['*'], '127.0.0.1'],
      [['localhost'], 'localhost'],
      [['LOCAL*'], 'localhost'],
      [['*host'], 'localhost'],
    ];
    for (const [patterns, host] of cases) {
      const response = handler(patterns)(get(server.url('/hello', host)));
      assert.equal(text(response.body), 'hello', `${patterns} for ${host}`);
    }
    assert.equal((await server.requests()).length, cases.length);
  });

  it('forwards the method, headers and body', () => {
    const response = handler(['127.0.0.1'])({
      url: server.url('/echo'),
      method: 'POST',
      headers: { 'X-Custom': 'one', 'Content-Type': 'text/plain' },
      body: new TextEncoder().encode('ping'),
    });
    const echoed = JSON.parse(text(response.body)) as { method: string; headers: Record<string, string>; body: string };
    assert.equal(echoed.method, 'POST');
    assert.equal(echoed.headers['x-custom'], 'one');
    assert.equal(echoed.headers['content-type'], 'text/plain');
    assert.equal(echoed.body, 'ping');
  });

  it('returns error statuses as responses, not failures', () => {
    const http = handler(['127.0.0.1']);
    for (const code of [201, 204, 404, 500, 503]) {
      const response = http(get(server.url(`/status?code=${code}`)));
      assert.equal(response.status, code);
      assert.equal(text(response.body), code === 204 ? '' : `status ${code}`);
    }
  });

  it('follows a redirect to an allowed host', async () => {
    const response = handler(['127.0.0.1'])(get(server.url('/redirect?to=/hello')));
    assert.equal(response.status, 200);
    assert.equal(text(response.body), 'hello');
    assert.deepEqual(
      (await server.requests()).map((r) => r.path),
      ['/redirect?to=/hello', '/hello'],
    );
  });

  it('follows a redirect to another allowed host by name', async () => {
    const target = server.url('/hello', 'localhost');
    const response = handler(['127.0.0.1', 'localhost'])(get(server.url(`/redirect?to=${encodeURIComponent(target)}`)));
    assert.equal(text(response.body), 'hello');
    assert.equal((await server.requests()).length, 2);
  });

  it('refuses a redirect to a host not in allowedHosts, naming the redirect URL', async () => {
    const target = server.url('/hello', 'localhost');
    const err = thrown(() => handler(['127.0.0.1'])(get(server.url(`/redirect?to=${encodeURIComponent(target)}`))));
    assert.ok(err instanceof HttpDeniedError);
    assert.equal(err.url, target);
    assert.match(err.message, /redirect/);
    assert.deepEqual(
      (await server.requests()).map((r) => r.path),
      [`/redirect?to=${encodeURIComponent(target)}`],
    );
  });

  it('refuses a redirect to a scheme other than http: or https:', () => {
    const err = thrown(() => handler(['*'])(get(server.url(`/redirect?to=${encodeURIComponent('file:///etc/passwd')}`))));
    assert.ok(err instanceof HttpDeniedError);
    assert.equal(err.url, 'file:///etc/passwd');
  });

  it('turns a POST into a GET on a 303 and resends it with its body on a 307', async () => {
    const http = handler(['127.0.0.1']);
    const post = (status: number): { method: string; body: string; headers: Record<string, string> } =>
      JSON.parse(
        text(
          http({
            url: server.url(`/redirect?status=${status}&to=/echo`),
            method: 'POST',
            headers: { 'Content-Type': 'text/plain' },
            body: new TextEncoder().encode('ping'),
          }).body,
        ),
      );
    const changed = post(303);
    assert.equal(changed.method, 'GET');
    assert.equal(changed.body, '');
    assert.equal(changed.headers['content-type'], undefined);
    const kept = post(307);
    assert.equal(kept.method, 'POST');
    assert.equal(kept.body, 'ping');
    assert.equal(kept.headers['content-type'], 'text/plain');
  });

  it('gives up after 10 redirects', async () => {
    const err = thrown(() => handler(['127.0.0.1'])(get(server.url('/loop'))));
    assert.ok(err instanceof PlughostError);
    assert.equal(err.code, 'PLUGHOST_HTTP');
    assert.match(err.message, /more than 10 redirects/);
    assert.equal((await server.requests()).length, 11);
  });

  it('fails a body larger than maxResponseBytes and stops reading it early', async () => {
    const path = `/stream?bytes=${1024 * MiB}`;
    const err = thrown(() => handler(['127.0.0.1'], { maxResponseBytes: 64 * KiB })(get(server.url(path))));
    assert.ok(err instanceof MemoryLimitError);
    assert.equal(err.code, 'PLUGHOST_MEMORY_LIMIT');
    assert.equal(err.limit, 64 * KiB);
    assert.match(err.message, /maxHttpResponseBytes \(65536 bytes\)/);
    const end = await server.closed(path);
    assert.equal(end.clientClosedEarly, true);
    assert.ok(end.written < 64 * MiB, `the server wrote ${end.written} bytes before the client hung up`);
  });

  it('fails a declared Content-Length over the limit without reading the body', async () => {
    const path = `/declared?bytes=${10 * MiB}`;
    const err = thrown(() => handler(['127.0.0.1'], { maxResponseBytes: KiB })(get(server.url(path))));
    assert.ok(err instanceof MemoryLimitError);
    assert.equal(err.requested, 10 * MiB);
    assert.equal((await server.closed(path)).clientClosedEarly, true);
  });

  it('accepts a body exactly as large as the limit', () => {
    const response = handler(['127.0.0.1'], { maxResponseBytes: 32 * KiB })(get(server.url(`/stream?bytes=${32 * KiB}`)));
    assert.equal(response.body.byteLength, 32 * KiB);
  });

  it('stops waiting at the deadline when the server never answers, and aborts the request', async () => {
    const start = Deadline.now();
    const deadline = Deadline.fromTimeout(300);
    const err = thrown(() => handler(['127.0.0.1'], { deadline: () => deadline })(get(server.url('/hang'))));
    const elapsed = Deadline.now() - start;
    assert.ok(err instanceof HttpDeadlineExceeded);
    assert.equal(err.code, 'PLUGHOST_TIMEOUT');
    assert.ok(elapsed >= 299 && elapsed < 2300, `threw after ${elapsed} ms`);
    assert.equal((await server.closed('/hang')).clientClosedEarly, true);
  });

  it('stops waiting at the deadline when the body stalls', async () => {
    const deadline = Deadline.fromTimeout(200);
    const err = thrown(() => handler(['127.0.0.1'], { deadline: () => deadline })(get(server.url('/hang-body'))));
    assert.ok(err instanceof HttpDeadlineExceeded);
    await server.closed('/hang-body');
  });

  it('sends nothing when the deadline has already passed', async () => {
    const err = thrown(() => handler(['127.0.0.1'], { deadline: () => Deadline.fromTimeout(-1) })(get(server.url('/hello'))));
    assert.ok(err instanceof HttpDeadlineExceeded);
    assert.deepEqual(await server.requests(), []);
  });

  it('fails with the reason when the connection is refused', async () => {
    const port = await closedPort();
    const err = thrown(() => handler(['127.0.0.1'])(get(`http://127.0.0.1:${port}/`)));
    assert.ok(err instanceof PlughostError);
    assert.equal(err.code, 'PLUGHOST_HTTP');
    assert.match(err.message, /ECONNREFUSED/);
  });

  it('serves many requests in a row, from several handlers', () => {
    const a = handler(['127.0.0.1']);
    const b = handler(['127.*'], { maxResponseBytes: KiB });
    for (let i = 0; i < 20; i++) assert.equal(text((i % 2 === 0 ? a : b)(get(server.url('/hello'))).body), 'hello');
  });

  it('refuses a custom fetch, which could not run while this thread is blocked', () => {
    const custom: typeof fetch = async () => new Response('hi');
    const err = thrown(() => handler(['127.0.0.1'], { fetch: custom }));
    assert.ok(err instanceof ManifestError);
    assert.equal(err.field, 'fetch');
    assert.doesNotThrow(() => handler(['127.0.0.1'], { fetch: globalThis.fetch }));
  });
});

describe('the asynchronous HTTP handler with a custom fetch', () => {
  const options = (fetchImpl: typeof fetch, overrides: Partial<HttpOptions> = {}): HttpOptions => ({
    allowedHosts: ['api.example.com'],
    maxResponseBytes: 50 * MiB,
    fetch: fetchImpl,
    deadline: () => Deadline.none,
    ...overrides,
  });

  it('calls the given fetch, and checks each redirect against allowedHosts', async () => {
    const calls: { url: string; redirect: RequestRedirect | undefined }[] = [];
    const fake: typeof fetch = async (input, init) => {
      calls.push({ url: String(input), redirect: init?.redirect });
      return new Response(null, { status: 302, headers: { location: 'https://evil.example.net/steal' } });
    };
    const http = createAsyncHttpHandler(options(fake));
    await assert.rejects(
      http(get('https://api.example.com/data')),
      (err: unknown) => err instanceof HttpDeniedError && err.url === 'https://evil.example.net/steal',
    );
    assert.deepEqual(calls, [{ url: 'https://api.example.com/data', redirect: 'manual' }]);
  });

  it('cancels the body as soon as it passes maxResponseBytes', async () => {
    let pulls = 0;
    let cancelled = false;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls++;
        controller.enqueue(new Uint8Array(KiB));
      },
      cancel() {
        cancelled = true;
      },
    });
    const http = createAsyncHttpHandler(options(async () => new Response(endless), { maxResponseBytes: 4 * KiB }));
    await assert.rejects(http(get('https://api.example.com/big')), MemoryLimitError);
    assert.equal(cancelled, true);
    assert.ok(pulls <= 7, `pulled ${pulls} chunks`);
  });

  it('aborts the fetch at the deadline', async () => {
    let aborted = false;
    const never: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => {
          aborted = true;
          reject(init.signal?.reason);
        });
      });
    const http = createAsyncHttpHandler(options(never, { deadline: () => Deadline.fromTimeout(50) }));
    await assert.rejects(http(get('https://api.example.com/slow')), HttpDeadlineExceeded);
    assert.equal(aborted, true);
  });
});

const GUEST = `(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "http_request" (func $http_request (param i64 i64) (result i64)))
  (import "extism:host/env" "http_status_code" (func $http_status_code (result i32)))
  (import "extism:host/env" "http_headers" (func $http_headers (result i64)))
  (memory 1)
  (func $output_block (param $h i64)
    (if (i64.ne (local.get $h) (i64.const 0)) (then (call $output_set (local.get $h) (call $length (local.get $h))))))
  ;; input: the request JSON; output: the response body
  (func (export "fetch")
    (call $output_block (call $http_request (call $input_offset) (i64.const 0))))
  ;; output: the status code as a little-endian u64
  (func (export "status") (local $out i64)
    (drop (call $http_request (call $input_offset) (i64.const 0)))
    (local.set $out (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $out) (i64.extend_i32_u (call $http_status_code)))
    (call $output_set (local.get $out) (i64.const 8)))
  ;; output: the response headers as JSON (none unless the host allows them)
  (func (export "headers")
    (drop (call $http_request (call $input_offset) (i64.const 0)))
    (call $output_block (call $http_headers)))
  ;; sends the body "ping"; output: the response body
  (func (export "send") (local $body i64)
    (local.set $body (call $alloc (i64.const 4)))
    (call $store_u8 (local.get $body) (i32.const 112))
    (call $store_u8 (i64.add (local.get $body) (i64.const 1)) (i32.const 105))
    (call $store_u8 (i64.add (local.get $body) (i64.const 2)) (i32.const 110))
    (call $store_u8 (i64.add (local.get $body) (i64.const 3)) (i32.const 103))
    (call $output_block (call $http_request (call $input_offset) (local.get $body)))))`;

describe('plug-ins making HTTP requests', () => {
  let wasm: Uint8Array;
  before(async () => {
    wasm = await assemble(GUEST);
  });
  const request = (url: string, extra: Record<string, unknown> = {}) => JSON.stringify({ url, ...extra });

  it('a plug-in reads the body and status of a response from an allowed host', async () => {
    const plugin = await createPlugin({ wasm: [{ data: wasm }] }, { allowedHosts: ['127.0.0.*'] });
    assert.equal((await plugin.call('fetch', request(server.url('/hello'))))?.text(), 'hello');
    const status = await plugin.call('status', request(server.url('/status?code=418')));
    assert.equal(status?.getUint32(0, true), 418);
    await plugin.close();
  });

  it('a plug-in is denied a host outside allowedHosts, and the call fails naming the URL', async () => {
    const plugin = await createPlugin({ wasm: [{ data: wasm }] }, { allowedHosts: ['example.com'] });
    const url = server.url('/hello');
    await assert.rejects(plugin.call('fetch', request(url)), (err: Error) => err.message.includes(url));
    assert.deepEqual(await server.requests(), []);
    await plugin.close();
  });

  it('a plug-in without allowedHosts can reach nothing', async () => {
    const plugin = await createPlugin({ wasm: [{ data: wasm }] });
    await assert.rejects(plugin.call('fetch', request(server.url('/hello'))), /denied/);
    assert.deepEqual(await server.requests(), []);
    await plugin.close();
  });

  it('allowed_hosts in the manifest is honoured', async () => {
    const plugin = await createPlugin({ wasm: [{ data: wasm }], allowed_hosts: ['127.0.0.1'] } as never);
    assert.equal((await plugin.call('fetch', request(server.url('/hello'))))?.text(), 'hello');
    await plugin.close();
  });

  it('response headers reach a plug-in only with allowHttpResponseHeaders', async () => {
    const withHeaders = await createPlugin({ wasm: [{ data: wasm }] }, { allowedHosts: ['127.0.0.1'], allowHttpResponseHeaders: true });
    const headers = (await withHeaders.call('headers', request(server.url('/hello'))))?.json() as Record<string, string>;
    assert.equal(headers['x-test'], 'yes');
    const without = await createPlugin({ wasm: [{ data: wasm }] }, { allowedHosts: ['127.0.0.1'] });
    assert.equal(await without.call('headers', request(server.url('/hello'))), null);
    await withHeaders.close();
    await without.close();
  });

  it('a response header named __proto__ reaches the plug-in like any other', async () => {
    // (the other way, Node's fetch itself does not send a request header of that name)
    const plugin = await createPlugin({ wasm: [{ data: wasm }] }, { allowedHosts: ['127.0.0.1'], allowHttpResponseHeaders: true });
    const received = JSON.parse((await plugin.call('headers', request(server.url('/odd-headers'))))!.text()) as Record<string, string>;
    assert.equal(Object.getOwnPropertyDescriptor(received, '__proto__')?.value, 'kept');
    assert.equal(Object.getOwnPropertyDescriptor(received, 'constructor')?.value, 'too');
    await plugin.close();
  });

  it('a plug-in sends a body with its method and headers', async () => {
    const plugin = await createPlugin({ wasm: [{ data: wasm }] }, { allowedHosts: ['127.0.0.1'] });
    const out = await plugin.call('send', request(server.url('/echo'), { method: 'put', headers: { 'X-Custom': 'two' } }));
    const echoed = out?.json() as { method: string; headers: Record<string, string>; body: string };
    assert.equal(echoed.method, 'PUT');
    assert.equal(echoed.headers['x-custom'], 'two');
    assert.equal(echoed.body, 'ping');
    await plugin.close();
  });

  it('a response over maxHttpResponseBytes fails the call, and the plug-in can be called again', async () => {
    const plugin = await createPlugin({ wasm: [{ data: wasm }] }, { allowedHosts: ['127.0.0.1'], memory: { maxHttpResponseBytes: KiB } });
    await assert.rejects(plugin.call('fetch', request(server.url(`/stream?bytes=${MiB}`))), /maxHttpResponseBytes \(1024 bytes\)/);
    assert.equal((await plugin.call('fetch', request(server.url('/hello'))))?.text(), 'hello');
    await plugin.close();
  });

  // Where the engine has JSPI the request is awaited instead, with the custom fetch (test/jspi.test.ts).
  const noJspi = typeof (WebAssembly as unknown as { Suspending?: unknown }).Suspending !== 'function';
  it('a custom fetch with allowedHosts is refused at creation for a plug-in on the main thread', {
    skip: !noJspi && 'JSPI: the custom fetch is honoured',
  }, async () => {
    const custom: typeof fetch = async () => new Response('never used');
    await assert.rejects(
      createPlugin({ wasm: [{ data: wasm }] }, { allowedHosts: ['127.0.0.1'], fetch: custom }),
      (err: unknown) => err instanceof ManifestError && err.field === 'fetch',
    );
    const withoutHttp = await createPlugin({ wasm: [{ data: wasm }] }, { fetch: custom });
    await withoutHttp.close();
  });

  it('a request still running at timeoutMs fails the call with a timeout', async () => {
    const plugin = await createPlugin({ wasm: [{ data: wasm }] }, { allowedHosts: ['127.0.0.1'], timeoutMs: 300 });
    const start = Deadline.now();
    await assert.rejects(plugin.call('fetch', request(server.url('/hang'))), (err: PlughostError) => err.code === 'PLUGHOST_TIMEOUT');
    assert.ok(Deadline.now() - start < 2300);
    await server.closed('/hang');
    assert.equal((await plugin.call('fetch', request(server.url('/hello'))))?.text(), 'hello');
    await plugin.close();
  });
});

describe('plug-ins in a worker making HTTP requests', () => {
  let wasm: Uint8Array;
  before(async () => {
    wasm = await assemble(GUEST);
  });
  const request = (url: string) => JSON.stringify({ url });

  it('a worker plug-in makes its requests with a custom fetch, still checked against allowedHosts', async () => {
    const seen: string[] = [];
    const custom: typeof fetch = (input, init) => {
      seen.push(String(input));
      return fetch(input, init);
    };
    const plugin = await createPlugin({ wasm: [{ data: wasm }] }, { runInWorker: true, allowedHosts: ['127.0.0.1'], fetch: custom });
    assert.equal((await plugin.call('fetch', request(server.url('/hello'))))?.text(), 'hello');
    await assert.rejects(plugin.call('fetch', request(server.url('/hello', 'localhost'))), /denied/);
    assert.deepEqual(seen, [server.url('/hello')]);
    await plugin.close();
  });

  it('a worker plug-in whose request outlives timeoutMs times out, and the request is aborted', async () => {
    const plugin = await createPlugin({ wasm: [{ data: wasm }] }, { runInWorker: true, allowedHosts: ['127.0.0.1'], timeoutMs: 300 });
    await assert.rejects(plugin.call('fetch', request(server.url('/hang'))), (err: PlughostError) => err.code === 'PLUGHOST_TIMEOUT');
    assert.equal((await server.closed('/hang')).clientClosedEarly, true);
    await plugin.close();
  });
});

describe('the HTTP handler inside a worker', () => {
  // The handler module, compiled; the worker imports it and makes one request.
  const moduleUrl = new URL('../src/internal/http/index.js', import.meta.url).href;
  const nodeUrl = new URL('../src/internal/platform/node/index.js', import.meta.url).href;
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    Promise.all([import(workerData.moduleUrl), import(workerData.nodeUrl)]).then(([http, node]) => {
      if (workerData.port) node.useHttpHelperPort(workerData.port);
      const handler = http.createHttpHandler({ allowedHosts: ['127.0.0.1'], maxResponseBytes: 1024, deadline: () => Infinity }, node.nodePlatform.syncHttp);
      const response = handler({ url: workerData.url, method: 'GET', headers: {}, body: null });
      parentPort.postMessage({ status: response.status, body: new TextDecoder().decode(response.body) });
    });`;

  async function inWorker(port?: import('node:worker_threads').MessagePort): Promise<{ status: number; body: string }> {
    const { Worker } = await import('node:worker_threads');
    const worker = new Worker(code, { eval: true, workerData: { moduleUrl, nodeUrl, url: server.url('/hello'), port }, transferList: port ? [port] : [] });
    try {
      return await new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
    } finally {
      await worker.terminate();
    }
  }

  it('works with a helper of its own', async () => {
    assert.deepEqual(await inWorker(), { status: 200, body: 'hello' });
  });

  it("works through this thread's helper, shared by a port", async () => {
    assert.deepEqual(await inWorker(openHttpHelperPort()), { status: 200, body: 'hello' });
  });
});

describe('the request JSON as each PDK writes it', () => {
  let wasm: Uint8Array;
  before(async () => {
    wasm = await assemble(GUEST);
  });
  type Echo = { method: string; headers: Record<string, string>; body: string };

  // What each PDK's request-building code puts in the JSON (url first, then in its own order).
  const shapes: [who: string, json: (url: string) => unknown, method: string, custom: string | undefined][] = [
    ['Rust, no method set (method: null)', (url) => ({ url, headers: {}, method: null }), 'GET', undefined],
    ['Rust, with a method and a header', (url) => ({ url, headers: { 'X-Custom': 'rust' }, method: 'POST' }), 'POST', 'rust'],
    ['JS (through the Rust PDK), method always set', (url) => ({ url, headers: { 'x-custom': 'js' }, method: 'GET' }), 'GET', 'js'],
    ['Go', (url) => ({ url, method: 'PUT', headers: { 'X-Custom': 'go' } }), 'PUT', 'go'],
    ['Go, headers null', (url) => ({ url, method: 'DELETE', headers: null }), 'DELETE', undefined],
    ['Haskell, no method nor headers (both left out)', (url) => ({ url }), 'GET', undefined],
    ['Haskell, with both', (url) => ({ url, headers: { 'X-Custom': 'hs' }, method: 'PATCH' }), 'PATCH', 'hs'],
    ['the reference host\'s "header" alias', (url) => ({ url, header: { 'X-Custom': 'alias' } }), 'GET', 'alias'],
    ['a lowercase method', (url) => ({ url, method: 'post' }), 'POST', undefined],
    // net/http means GET by an empty method; go-pdk's transport sends it as it is (the reference host fails it)
    ['Go net/http, a request without a method (method: "")', (url) => ({ url, method: '' }), 'GET', undefined],
  ];

  for (const [who, json, method, custom] of shapes) {
    it(`${who}: reaches the server with its method and headers`, async () => {
      const plugin = await createPlugin({ wasm: [{ data: wasm }] }, { allowedHosts: ['127.0.0.1'] });
      const echoed = (await plugin.call('fetch', JSON.stringify(json(server.url('/echo')))))?.json() as Echo;
      assert.equal(echoed.method, method);
      assert.equal(echoed.headers['x-custom'], custom);
      assert.equal(echoed.body, '');
      const seen = await server.requests();
      assert.deepEqual(
        seen.map((r) => r.method),
        [method],
      );
      await plugin.close();
    });

    it(`${who}: a host outside allowedHosts is denied, naming the URL`, async () => {
      const plugin = await createPlugin({ wasm: [{ data: wasm }] }, { allowedHosts: ['example.com'] });
      const url = server.url('/echo');
      await assert.rejects(
        plugin.call('fetch', JSON.stringify(json(url))),
        (err: PlughostError) => err.cause instanceof HttpDeniedError && err.message.includes(url) && /denied/.test(err.message),
      );
      assert.deepEqual(await server.requests(), []);
      await plugin.close();
    });
  }

  it('sends the body block when there is one, and no body for handle 0', async () => {
    const plugin = await createPlugin({ wasm: [{ data: wasm }] }, { allowedHosts: ['127.0.0.1'] });
    const request = JSON.stringify({ url: server.url('/echo'), headers: { 'Content-Type': 'text/plain' }, method: 'POST' });
    assert.equal(((await plugin.call('send', request))!.json() as Echo).body, 'ping');
    const empty = (await plugin.call('fetch', request))?.json() as Echo;
    assert.equal(empty.method, 'POST');
    assert.equal(empty.body, '');
    await plugin.close();
  });

  const bad: [what: string, json: (url: string) => unknown, message: RegExp][] = [
    ['a method that is a number', (url) => ({ url, method: 5 }), /"method" must be null or an HTTP method name.*got 5/],
    ['a method with a space', (url) => ({ url, method: 'GET /x' }), /"method" must be/],
    ['headers that are an array', (url) => ({ url, headers: [['a', 'b']] }), /"headers" must be null or an object of string values/],
    ['headers that are a string', (url) => ({ url, headers: 'a: b' }), /"headers" must be null or an object/],
    ['a header value that is a number', (url) => ({ url, headers: { 'X-Count': 3 } }), /header "X-Count" must be a string, got 3/],
    ['a header value that is null', (url) => ({ url, headers: { 'X-None': null } }), /header "X-None" must be a string, got null/],
    ['a header name that is not a token', (url) => ({ url, headers: { 'Bad Name': 'x' } }), /header name "Bad Name" is not a valid HTTP header name/],
  ];
  for (const [what, json, message] of bad) {
    it(`${what}: fails the call naming it, before connecting; denied first for a host outside allowedHosts`, async () => {
      const allowed = await createPlugin({ wasm: [{ data: wasm }] }, { allowedHosts: ['127.0.0.1'] });
      const url = server.url('/echo');
      await assert.rejects(allowed.call('fetch', JSON.stringify(json(url))), (err: PlughostError) => message.test(err.message) && err.message.includes(url));
      const denied = await createPlugin({ wasm: [{ data: wasm }] }, { allowedHosts: ['example.com'] });
      await assert.rejects(
        denied.call('fetch', JSON.stringify(json(url))),
        (err: PlughostError) => err.cause instanceof HttpDeniedError && err.message.includes(url),
      );
      assert.deepEqual(await server.requests(), []);
      await allowed.close();
      await denied.close();
    });
  }

  it('in a worker too: method null is GET, and a bad method to a denied host is reported as the denial', async () => {
    const plugin = await createPlugin({ wasm: [{ data: wasm }] }, { runInWorker: true, allowedHosts: ['127.0.0.1'] });
    const echoed = (await plugin.call('fetch', JSON.stringify({ url: server.url('/echo'), headers: { 'X-Custom': 'w' }, method: null })))?.json() as Echo;
    assert.equal(echoed.method, 'GET');
    assert.equal(echoed.headers['x-custom'], 'w');
    const elsewhere = server.url('/echo', 'localhost');
    await assert.rejects(
      plugin.call('fetch', JSON.stringify({ url: elsewhere, method: 5 })),
      (err: PlughostError) => /denied/.test(err.message) && err.message.includes(elsewhere),
    );
    await assert.rejects(plugin.call('fetch', JSON.stringify({ url: server.url('/echo'), headers: { 'X-Count': 3 } })), /header "X-Count" must be a string/);
    assert.equal((await server.requests()).length, 1);
    await plugin.close();
  });
});

describe('httpTimeoutMs: the deadline of each request', () => {
  let wasm: Uint8Array;
  before(async () => {
    wasm = await assemble(GUEST);
  });

  // A plug-in on the calling thread blocks it for the whole request: run it on a thread of its
  // own, so that a missed deadline fails this test at `bound` instead of freezing the runner.
  const indexUrl = new URL('../src/index.js', import.meta.url).href;
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(workerData.indexUrl).then(async ({ createPlugin }) => {
      // a first request boots this thread's HTTP helper, so the deadline below times the request alone
      const warm = await createPlugin({ wasm: [{ data: workerData.wasm }] }, { allowedHosts: ['127.0.0.1'] });
      await warm.call('fetch', JSON.stringify({ url: workerData.warmUrl }));
      const plugin = await createPlugin({ wasm: [{ data: workerData.wasm }] }, workerData.options);
      const start = performance.now();
      try {
        const out = await plugin.call('fetch', JSON.stringify({ url: workerData.url }));
        parentPort.postMessage({ ok: true, body: out?.text(), elapsed: performance.now() - start });
      } catch (err) {
        parentPort.postMessage({ ok: false, name: err.name, code: err.code, message: err.message, timeoutMs: err.timeoutMs, elapsed: performance.now() - start });
      }
    });`;
  type Outcome = { ok: boolean; body?: string; name?: string; code?: string; message?: string; timeoutMs?: number; elapsed: number };

  async function callOnItsOwnThread(url: string, options: Record<string, unknown>, bound: number): Promise<Outcome> {
    const { Worker } = await import('node:worker_threads');
    const worker = new Worker(code, { eval: true, workerData: { indexUrl, wasm, url, options, warmUrl: server.url('/hello') } });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await new Promise<Outcome>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
        timer = setTimeout(() => reject(new Error(`the call was still blocking its thread after ${bound} ms`)), bound);
      });
    } finally {
      clearTimeout(timer);
      await worker.terminate();
    }
  }

  /** How the response to `path` ended, failing (not hanging) if it has not after `ms`. */
  async function closedWithin(path: string, ms: number) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`the response to ${path} was still open after ${ms} ms`)), ms);
    });
    try {
      return await Promise.race([server.closed(path), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  it('ends a request to a server that trickles bytes for ever, with a TimeoutError naming the URL', async () => {
    const url = server.url('/trickle');
    const outcome = await callOnItsOwnThread(url, { allowedHosts: ['127.0.0.1'], httpTimeoutMs: 300 }, 20_000);
    assert.equal(outcome.ok, false);
    assert.equal(outcome.name, 'TimeoutError');
    assert.equal(outcome.code, 'PLUGHOST_TIMEOUT');
    assert.equal(outcome.timeoutMs, 300);
    assert.ok(outcome.message?.includes(url), outcome.message);
    assert.match(outcome.message!, /httpTimeoutMs \(300 ms\)/);
    assert.ok(outcome.elapsed >= 295, `ended after ${outcome.elapsed} ms, before the deadline`);
    assert.equal((await closedWithin('/trickle', 20_000)).clientClosedEarly, true);
  });

  it('lets a request that finishes in time through, and the call deadline wins when it is sooner', async () => {
    const fine = await callOnItsOwnThread(server.url('/hello'), { allowedHosts: ['127.0.0.1'], httpTimeoutMs: 10_000 }, 20_000);
    assert.deepEqual({ ok: fine.ok, body: fine.body }, { ok: true, body: 'hello' });
    const url = server.url('/hang');
    const outcome = await callOnItsOwnThread(url, { allowedHosts: ['127.0.0.1'], httpTimeoutMs: 60_000, timeoutMs: 300 }, 20_000);
    assert.equal(outcome.name, 'TimeoutError');
    assert.equal(outcome.timeoutMs, 300);
    assert.ok(outcome.message?.includes(url) && /before the call's deadline/.test(outcome.message), outcome.message);
    await closedWithin('/hang', 20_000);
  });

  it('bounds a request of a worker plug-in too', async () => {
    const plugin = await createPlugin({ wasm: [{ data: wasm }] }, { runInWorker: true, allowedHosts: ['127.0.0.1'], httpTimeoutMs: 300 });
    const url = server.url('/trickle');
    // the signal only ends the call if the deadline is missed (an AbortError then fails the assertion)
    const call = plugin.call('fetch', JSON.stringify({ url }), undefined, { signal: AbortSignal.timeout(20_000) });
    await assert.rejects(
      call,
      (err: PlughostError) => err.code === 'PLUGHOST_TIMEOUT' && err.message.includes(url) && (err as { timeoutMs?: number }).timeoutMs === 300,
    );
    assert.equal((await closedWithin('/trickle', 20_000)).clientClosedEarly, true);
    await plugin.close();
  });

  it('defaults to 30 s from the start of the request, or the call deadline when that is sooner', () => {
    assert.equal(DEFAULT_HTTP_TIMEOUT_MS, 30_000);
    const before = Deadline.now();
    const { deadline, own } = requestDeadline({ deadline: () => Deadline.none });
    assert.equal(own, 30_000);
    assert.ok(deadline >= before + 30_000 && deadline <= Deadline.now() + 30_000, `deadline ${deadline - before} ms away`);
    const call = Deadline.fromTimeout(1_000);
    assert.deepEqual(requestDeadline({ deadline: () => call }), { deadline: call, own: undefined });
    assert.equal(requestDeadline({ deadline: () => Deadline.none, requestTimeoutMs: 50 }).own, 50);
  });

  it('refuses an httpTimeoutMs that is not a number of milliseconds > 0', async () => {
    for (const httpTimeoutMs of [0, -1, Number.NaN]) {
      await assert.rejects(
        createPlugin({ wasm: [{ data: wasm }] }, { httpTimeoutMs }),
        (err: unknown) => err instanceof ManifestError && err.field === 'httpTimeoutMs',
      );
    }
  });
});
