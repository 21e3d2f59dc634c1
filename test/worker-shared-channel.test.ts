// Worker mode as a browser page runs it: the sync channel is the shared-memory one (no
// receiveMessageOnPort), and the host thread may not block (canBlock: false), so it spins while
// a worker serves its memory requests. Checked on Node with worker_threads; Atomics.wait is
// trapped on this thread for the whole file, so any wait here fails the test instead of passing
// unseen.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CallContext } from '../src/call-context.js';
import { TimeoutError } from '../src/errors.js';
import { nodePlatform, nodeThreads } from '../src/internal/platform/node/index.js';
import type { Platform } from '../src/internal/platform/platform.js';
import { withSharedChannel } from '../src/internal/platform/shared-channel.js';
import type { PluginOptions } from '../src/options.js';
import { createPluginOn, type Plugin } from '../src/plugin.js';
import { assemble, fixturePath, pluginPath } from './helpers.js';
import { type TestServer, useTestServer } from './http-test-server.js';

/** Node, but as a page's main thread: no blocking, and shared channels to the workers. */
const pagePlatform: Platform = {
  ...nodePlatform,
  canBlock: false,
  syncHttp: undefined,
  threads: { ...withSharedChannel(nodeThreads), pluginWorkerEntry: new URL('./shared-channel-worker-main.js', import.meta.url) },
};

let waits = 0;
const realWait = Atomics.wait;
before(() => {
  Atomics.wait = ((_cell: unknown, index: number) => {
    waits++;
    throw new Error(`Atomics.wait(${index}) on the host thread, which the platform says may not block`);
  }) as unknown as typeof Atomics.wait;
});
after(() => {
  Atomics.wait = realWait;
  assert.equal(waits, 0, 'the host thread called Atomics.wait');
});

let server: TestServer;
useTestServer((s) => {
  server = s;
});

function open(source: string | Uint8Array, options: PluginOptions): Promise<Plugin> {
  const manifest = typeof source === 'string' ? source : { wasm: [{ data: source }] };
  return createPluginOn(pagePlatform, manifest, { ...options, runInWorker: true });
}

describe('worker mode over a shared channel, with a host thread that may not block', () => {
  it('runs a call, and a host function that reads and stores through the call context (1 MiB each way)', async () => {
    const plugin = await open(pluginPath('host-echo'), {
      functions: { 'extism:host/user': { echo: (ctx: CallContext, h: number) => ctx.store(ctx.read(h)!.bytes().reverse()) } },
    });
    try {
      const input = new Uint8Array(1 << 20).map((_, i) => (i * 13) & 0xff);
      const output = await plugin.call('echo_via_host', input);
      assert.deepEqual(output?.bytes(), input.slice().reverse());
      assert.equal((await plugin.call('echo_via_host', 'abc'))?.text(), 'cba');
      assert.equal(waits, 0);
    } finally {
      await plugin.close();
    }
  });

  it('answers an async host function, and a host function error fails the call with its message', async () => {
    const plugin = await open(pluginPath('host-echo'), {
      functions: {
        'extism:host/user': {
          async echo(ctx: CallContext, h: number) {
            await new Promise((resolve) => setTimeout(resolve, 5));
            const text = ctx.read(h)!.text();
            if (text === 'fail') throw new RangeError('refused by the host');
            return ctx.store(`${text}!`);
          },
        },
      },
    });
    try {
      assert.equal((await plugin.call('echo_via_host', 'hi'))?.text(), 'hi!');
      await assert.rejects(plugin.call('echo_via_host', 'fail'), /refused by the host/);
      assert.equal((await plugin.call('echo_via_host', 'again'))?.text(), 'again!');
    } finally {
      await plugin.close();
    }
  });

  it('brings a 6 MiB HTTP body back to the worker whole', async () => {
    const wat = await import('node:fs').then((fs) => fs.readFileSync(fixturePath('http-fetch')));
    const plugin = await open(wat, { allowedHosts: ['127.0.0.1'] });
    try {
      const size = 6 << 20;
      const body = await plugin.call('fetch', JSON.stringify({ url: server.url(`/stream?bytes=${size}`) }));
      assert.equal(body?.byteLength, size);
      assert.ok(body?.bytes().every((b) => b === 0x61));
    } finally {
      await plugin.close();
    }
  });

  it('stops a call at its deadline, a spinning guest and one waiting for a host function that never settles', async () => {
    const wasm = await assemble(`(module (import "extism:host/user" "wait" (func $wait))
      (func (export "spin") (loop $l (br $l)))
      (func (export "wait") (call $wait)))`);
    const plugin = await open(wasm, { timeoutMs: 100, functions: { 'extism:host/user': { wait: () => new Promise(() => {}) } } });
    try {
      for (const name of ['spin', 'wait']) {
        const started = performance.now();
        await assert.rejects(plugin.call(name), (error: unknown) => error instanceof TimeoutError && error.timeoutMs === 100);
        assert.ok(performance.now() - started < 100 + 5000, `${name}: took ${performance.now() - started} ms, the deadline was missed`);
      }
    } finally {
      await plugin.close();
    }
  });
});
