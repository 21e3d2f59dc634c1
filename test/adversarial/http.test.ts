// Tricks against allowedHosts: URLs whose text mentions an allowed host while the URL goes
// elsewhere (userinfo, fragments, backslashes, suffixes), other spellings of a host, IPv6,
// lookalikes, and the same through redirects and from a plug-in. The host checks the
// hostname the URL parser gives, the same one fetch connects to: a URL is denied before any
// connection unless that hostname matches. Every request carries a deadline, so none can hang.
// Already covered in test/http.test.ts: redirect loops ("gives up after 10 redirects"),
// file:/data:/ftp: URLs and redirects to them, the body cap and a lying Content-Length.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPlugin, HttpDeniedError, PlughostError } from '../../src/index.js';
import { Deadline } from '../../src/internal/deadline.js';
import { createHttpHandler } from '../../src/internal/http/index.js';
import { nodePlatform } from '../../src/internal/platform/node/index.js';
import { assemble } from '../helpers.js';
import { type TestServer, useTestServer } from '../http-test-server.js';

let server: TestServer;
useTestServer((started) => {
  server = started;
});

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** A handler for `allowedHosts` whose requests give up after 10 s. */
function handler(allowedHosts: string[]) {
  return createHttpHandler({ allowedHosts, maxResponseBytes: 1 << 20, deadline: () => Deadline.fromTimeout(10_000) }, nodePlatform.syncHttp);
}

/** Runs the request; returns what it threw (or fails the test when it did not throw). */
function denied(allowedHosts: string[], url: string): HttpDeniedError {
  try {
    handler(allowedHosts)({ url, method: 'GET', headers: {}, body: null });
  } catch (err) {
    assert.ok(err instanceof HttpDeniedError, `${url}: expected an HttpDeniedError, got ${String(err)}`);
    return err;
  }
  assert.fail(`${url} was not denied`);
}

describe('allowedHosts against URL tricks', () => {
  it('denies URLs that name an allowed host but go to another one, before connecting', async () => {
    const port = server.port;
    const tricks = [
      `http://127.0.0.1@evil.invalid:${port}/hello`,
      `http://127.0.0.1:${port}@evil.invalid/hello`,
      `http://evil.invalid#@127.0.0.1:${port}/hello`,
      `http://evil.invalid?@127.0.0.1:${port}/hello`,
      `http://evil.invalid\\@127.0.0.1:${port}/hello`,
      `http://evil.invalid/@127.0.0.1:${port}/hello`,
      `http://127.0.0.1.evil.invalid:${port}/hello`,
      `http://127.0.0.1%2eevil.invalid:${port}/hello`,
      `http://[::1]:${port}/hello`,
      `http://[::ffff:127.0.0.1]:${port}/hello`,
      `http://localhost:${port}/hello`,
      `http://127.0.0.2:${port}/hello`,
    ];
    for (const url of tricks) {
      const err = denied(['127.0.0.1'], url);
      assert.match(err.message, /not in allowedHosts/, url);
    }
    assert.deepEqual(await server.requests(), [], 'no request reached the server');
  });

  it('denies lookalikes of an allowed name: suffixes, a trailing dot, other letters, other labels', async () => {
    const cases: [string[], string][] = [
      [['example.com'], 'http://example.com.evil.invalid/'],
      [['example.com'], 'http://example.com./'],
      [['example.com'], 'http://evilexample.com/'],
      [['example.com'], 'http://\u0435xample.com/'], // a Cyrillic "е"
      [['example.com'], 'http://example.co/'],
      [['*.example.com'], 'http://example.com/'],
      [['*.example.com'], 'http://example.com.evil.invalid/'],
      [['*.example.com'], 'http://evil.invalid/.example.com'],
      [['localhost'], `http://localhost.:${server.port}/hello`],
      [['localhost'], `http://localhost.localdomain:${server.port}/hello`],
    ];
    for (const [patterns, url] of cases) denied(patterns, url);
    assert.deepEqual(await server.requests(), []);
  });

  it('allows other spellings of an allowed host (case, hex, a 32-bit number), which connect to that host', async () => {
    const spellings: [string[], string][] = [
      [['localhost'], 'LOCALHOST'],
      [['127.0.0.1'], '0x7f.0.0.1'],
      [['127.0.0.1'], '2130706433'],
      [['127.0.0.1'], '127.1'],
    ];
    for (const [patterns, host] of spellings) {
      const response = handler(patterns)({ url: server.url('/hello', host), method: 'GET', headers: {}, body: null });
      assert.equal(text(response.body), 'hello', host);
    }
    assert.equal((await server.requests()).length, spellings.length);
  });

  it('fails credentials in the URL of an allowed host cleanly, with a PlughostError', () => {
    try {
      const response = handler(['127.0.0.1'])({ url: server.url('/hello', 'user:secret@127.0.0.1'), method: 'GET', headers: {}, body: null });
      assert.equal(text(response.body), 'hello');
    } catch (err) {
      assert.ok(err instanceof PlughostError, `expected a PlughostError, got ${String(err)}`);
    }
  });

  it('denies the same tricks as redirect targets, after only the first request', async () => {
    const port = server.port;
    const targets = [
      `http://127.0.0.1@evil.invalid:${port}/hello`,
      `http://evil.invalid\\@127.0.0.1:${port}/hello`,
      '//evil.invalid/hello',
      `http://[::1]:${port}/hello`,
      `http://localhost:${port}/hello`,
      'data:text/plain,hi',
    ];
    for (const target of targets) {
      await server.reset();
      const err = denied(['127.0.0.1'], server.url(`/redirect?to=${encodeURIComponent(target)}`));
      assert.match(err.message, /redirect/, target);
      assert.equal((await server.requests()).length, 1, target);
    }
  });

  it('denies a plug-in the tricks too', async () => {
    const wasm = await assemble(`(module
      (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
      (import "extism:host/env" "length" (func $length (param i64) (result i64)))
      (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
      (import "extism:host/env" "http_request" (func $http_request (param i64 i64) (result i64)))
      (func (export "fetch") (local $h i64)
        (local.set $h (call $http_request (call $input_offset) (i64.const 0)))
        (call $output_set (local.get $h) (call $length (local.get $h)))))`);
    for (const runInWorker of [false, true]) {
      const plugin = await createPlugin(wasm, { allowedHosts: ['127.0.0.1'], runInWorker, timeoutMs: 10_000 });
      try {
        for (const url of [`http://127.0.0.1@evil.invalid:${server.port}/hello`, `http://evil.invalid#@127.0.0.1:${server.port}/`]) {
          await assert.rejects(plugin.call('fetch', JSON.stringify({ url })), /denied: host "evil\.invalid" is not in allowedHosts/);
        }
        assert.equal((await plugin.call('fetch', JSON.stringify({ url: server.url('/hello') })))?.text(), 'hello', 'an allowed URL still works');
      } finally {
        await plugin.close();
      }
    }
    assert.deepEqual(
      (await server.requests()).map((r) => r.path),
      ['/hello', '/hello'],
    );
  });
});
