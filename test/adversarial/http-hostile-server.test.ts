// An allowed host that is hostile (a node:http server on 127.0.0.1 in this process; the policy
// under test is the asynchronous one every path shares, performHttpRequest): compression bombs
// (gzip, deflate, br: small on the wire, far past the cap decoded), thousands of response
// headers and one huge one, Content-Length lies, a redirect carrying a body; and header values
// with CR, LF or NUL from the guest. All held when tried: each ends in a typed error, or in the
// redirect's target, without reading past the cap.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { brotliCompressSync, constants, deflateSync, gzipSync } from 'node:zlib';
import { MemoryLimitError, PlughostError } from '../../src/index.js';
import { Deadline } from '../../src/internal/deadline.js';
import { compileAllowedHosts } from '../../src/internal/http/allowed-hosts.js';
import { performHttpRequest } from '../../src/internal/http/perform-request.js';

const LIMIT = 1 << 20;
const BOMB_MIB = 64;

let server: Server;
let base: string;
const seenHeaders: Record<string, string | string[] | undefined>[] = [];
const bombs: Record<string, Uint8Array> = {};

before(async () => {
  const zeros = new Uint8Array(1 << 20);
  const gzipMember = gzipSync(zeros);
  // gzip members may follow one another: 64 of 1 MiB each
  bombs.gzip = Buffer.concat(Array.from({ length: BOMB_MIB }, () => gzipMember));
  const big = new Uint8Array(BOMB_MIB << 20);
  bombs.deflate = deflateSync(big, { level: 1 });
  bombs.br = brotliCompressSync(big, { params: { [constants.BROTLI_PARAM_QUALITY]: 1 } });
  server = createServer((req, res) => {
    seenHeaders.push(req.headers);
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const encoding = path.slice('/bomb/'.length);
    if (path.startsWith('/bomb/') && Object.hasOwn(bombs, encoding)) {
      res.writeHead(200, { 'content-encoding': encoding, 'content-length': bombs[encoding]!.byteLength });
      res.end(bombs[encoding]);
    } else if (path === '/many-headers') {
      res.writeHead(200, Array.from({ length: 5000 }, (_, i) => [`x-h${i}`, 'v']).flat());
      res.end('ok');
    } else if (path === '/huge-header') {
      res.writeHead(200, { 'x-big': 'a'.repeat(100_000) });
      res.end('ok');
    } else if (path === '/redirect-with-body') {
      res.writeHead(302, { location: '/hello', 'content-length': 1 << 20 });
      res.end(new Uint8Array(1 << 20));
    } else if (path === '/length-too-short') {
      res.writeHead(200, { 'content-length': 5 });
      res.socket?.end('0123456789abcdef');
    } else if (path === '/length-too-long') {
      res.writeHead(200, { 'content-length': 1_000_000 });
      res.write('abc', () => res.destroy());
    } else {
      res.end('hello');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

function get(path: string, headers: Record<string, string> = {}) {
  return performHttpRequest(
    { url: `${base}${path}`, method: 'GET', headers, body: null },
    { allowedHosts: compileAllowedHosts(['127.0.0.1']), maxResponseBytes: LIMIT },
    fetch,
    Deadline.fromTimeout(20_000),
  );
}

describe('an allowed host that is hostile', () => {
  for (const encoding of ['gzip', 'deflate', 'br']) {
    it(`a ${encoding} bomb is cut off at maxHttpResponseBytes after decoding`, async () => {
      assert.ok(bombs[encoding]!.byteLength < LIMIT, 'the bomb fits under the cap on the wire');
      await assert.rejects(get(`/bomb/${encoding}`), (err: unknown) => err instanceof MemoryLimitError && /maxHttpResponseBytes/.test(err.message));
    });
  }

  it('thousands of response headers, or one of 100 kB, fail the request with a PlughostError', async () => {
    for (const path of ['/many-headers', '/huge-header']) {
      await assert.rejects(get(path), (err: unknown) => err instanceof PlughostError && err.code === 'PLUGHOST_HTTP', path);
    }
  });

  it('a Content-Length shorter or longer than the body fails the request with a PlughostError', async () => {
    for (const path of ['/length-too-short', '/length-too-long']) {
      await assert.rejects(get(path), (err: unknown) => err instanceof PlughostError && err.code === 'PLUGHOST_HTTP', path);
    }
  });

  it('a redirect carrying a body is followed, its body dropped', async () => {
    const response = await get('/redirect-with-body');
    assert.equal(new TextDecoder().decode(response.body), 'hello');
  });

  it('header values with CR, LF or NUL from the guest are refused before anything is sent', async () => {
    seenHeaders.length = 0;
    for (const value of ['b\r\nx-injected: 1', 'b\nx-injected: 1', 'b\rx-injected: 1', 'b\u0000c']) {
      await assert.rejects(
        get('/hello', { 'x-a': value }),
        (err: unknown) => err instanceof PlughostError && err.code === 'PLUGHOST_HTTP',
        JSON.stringify(value),
      );
    }
    assert.deepEqual(seenHeaders, [], 'nothing reached the server');
  });
});
