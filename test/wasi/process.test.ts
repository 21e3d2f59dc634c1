// stdio, arguments, environment and process exit.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createWasi, WASI_PREVIEW1_FUNCTIONS, WasiExit } from '../../src/internal/wasi/index.js';
import { E, SIGNATURES, startGuest } from './guest.js';

describe('stdio', () => {
  test('each write to stdout reaches the callback as one chunk, a copy of guest memory', async () => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const g = await startGuest({
      stdout: (chunk) => stdout.push(new TextDecoder().decode(chunk)),
      stderr: (chunk) => stderr.push(new TextDecoder().decode(chunk)),
    });
    assert.deepEqual(g.write(1, 'hello, '), [0, 7]);
    assert.deepEqual(g.write(1, 'world\n'), [0, 6]);
    assert.deepEqual(g.write(2, 'oops\n'), [0, 5]);
    new Uint8Array(g.memory.buffer).fill(0, 1024);
    assert.deepEqual(stdout, ['hello, ', 'world\n']);
    assert.deepEqual(stderr, ['oops\n']);
  });

  test('stdout and stderr are discarded by default, and the guest is told everything was written', async () => {
    const g = await startGuest();
    assert.deepEqual(g.write(1, 'nobody hears this'), [0, 17]);
    assert.deepEqual(g.write(2, 'nor this'), [0, 8]);
  });

  test('stdin is empty and the output fds cannot be read', async () => {
    const g = await startGuest();
    assert.deepEqual(g.readAll(0), [0, '']);
    assert.equal(g.readAll(1)[0], E.EBADF);
    assert.equal(g.write(0, 'x')[0], E.EBADF);
  });

  test('an exception thrown by the stdout callback reaches the host unchanged', async () => {
    const boom = new Error('sink failed');
    const g = await startGuest({
      stdout: () => {
        throw boom;
      },
    });
    assert.throws(
      () => g.write(1, 'x'),
      (error) => error === boom,
    );
  });
});

describe('arguments and environment', () => {
  test('args and environment are empty unless given', async () => {
    const g = await startGuest();
    const count = g.alloc(4);
    const size = g.alloc(4);
    for (const name of ['args_sizes_get', 'environ_sizes_get']) {
      assert.equal(g.call(name, count, size), E.SUCCESS);
      assert.deepEqual([g.u32(count), g.u32(size)], [0, 0], name);
    }
  });

  test('given args and environment are laid out as NUL-terminated strings with a pointer array', async () => {
    const g = await startGuest({ args: ['prog', 'héllo'], env: { HOME: '/home', EMPTY: '' } });
    const read = (sizes: string, get: string): string[] => {
      const count = g.alloc(4);
      const size = g.alloc(4);
      assert.equal(g.call(sizes, count, size), E.SUCCESS);
      const pointers = g.alloc(g.u32(count) * 4);
      const buf = g.alloc(g.u32(size));
      assert.equal(g.call(get, pointers, buf), E.SUCCESS);
      const bytes = g.bytes(buf, g.u32(size));
      assert.equal(bytes[bytes.length - 1], 0);
      return Array.from({ length: g.u32(count) }, (_, i) => {
        const start = g.u32(pointers + i * 4);
        const end = new Uint8Array(g.memory.buffer).indexOf(0, start);
        return g.text(start, end - start);
      });
    };
    assert.deepEqual(read('args_sizes_get', 'args_get'), ['prog', 'héllo']);
    assert.deepEqual(read('environ_sizes_get', 'environ_get'), ['HOME=/home', 'EMPTY=']);
  });

  test('malformed args or environment are refused when the WASI is created', () => {
    assert.throws(() => createWasi({ env: { 'A=B': 'x' } }), TypeError);
    assert.throws(() => createWasi({ env: { '': 'x' } }), TypeError);
    assert.throws(() => createWasi({ args: ['nul\0inside'] }), TypeError);
  });
});

describe('process', () => {
  test('proc_exit throws WasiExit carrying the exit code', async () => {
    const g = await startGuest();
    for (const code of [0, 1, 42]) {
      assert.throws(
        () => g.call('proc_exit', code),
        (error) => error instanceof WasiExit && error.code === code && error.name === 'WasiExit',
      );
    }
  });

  test('every preview1 function is importable and the unsupported ones return ENOSYS', async () => {
    const wasi = createWasi();
    assert.deepEqual(Object.keys(wasi.imports).sort(), [...WASI_PREVIEW1_FUNCTIONS].sort());
    assert.deepEqual(Object.keys(SIGNATURES).sort(), [...WASI_PREVIEW1_FUNCTIONS].sort());
    const g = await startGuest();
    assert.equal(g.call('proc_raise', 9), E.ENOSYS);
    assert.equal(g.call('sock_accept', 3, 0, 0), E.ENOSYS);
    assert.equal(g.call('sock_recv', 3, 0, 0, 0, 0, 0), E.ENOSYS);
    assert.equal(g.call('sock_send', 3, 0, 0, 0, 0), E.ENOSYS);
    assert.equal(g.call('sock_shutdown', 3, 0), E.ENOSYS);
    assert.equal(g.call('sched_yield'), E.SUCCESS);
  });
});
