// Counts and sizes a WASI guest controls that the host turned into objects or copies of its
// own: the iovec count of fd_read/fd_write (a view per entry: 2^27 entries in a 1 GiB memory
// ran V8 out of heap and ended the process), poll_oneoff's subscription count (22 million
// clock subscriptions took 45 s and 4.9 GB in one call), and what one write to stdout hands
// the application (three iovecs over the same 1 GiB: a 3 GiB copy, 5 GB resident). Each is
// refused or bounded: 1,024 iovecs used at most (Linux's IOV_MAX; a short read or write past
// that), EINVAL past 4,096 subscriptions,
// at most 16 MiB a write to stdout/stderr (a short write, which writers loop on), lines cut
// at 1 Mi characters.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createLineSink, MAX_LINE_CHARS } from '../../src/internal/line-sink.js';
import { MAX_FILE_WRITE, MAX_OUTPUT_WRITE } from '../../src/internal/wasi/descriptor.js';
import type { HostFileSystem } from '../../src/internal/wasi/host-fs.js';
import { MAX_IOVECS } from '../../src/internal/wasi/memory.js';
import { MAX_PATH_BYTES } from '../../src/internal/wasi/path.js';
import { MAX_SUBSCRIPTIONS } from '../../src/internal/wasi/poll.js';
import { runBounded } from '../helpers.js';
import { E, OFLAGS, READ, startGuest, tempDir, WRITE } from '../wasi/guest.js';
import { TREES } from '../wasi/trees.js';

describe('counts a WASI guest controls', () => {
  it('fd_read and fd_write (fd_pread and fd_pwrite share their check) use at most 1,024 iovecs: a short read or write past that', async () => {
    const written: Uint8Array[] = [];
    const g = await startGuest({ stdout: (chunk) => void written.push(chunk.slice()) });
    const iovs = g.alloc(8 * (MAX_IOVECS + 1));
    const text = g.alloc(1);
    new Uint8Array(g.memory.buffer)[text] = 0x41;
    const view = new DataView(g.memory.buffer);
    for (let i = 0; i <= MAX_IOVECS; i++) {
      view.setUint32(iovs + 8 * i, text, true);
      view.setUint32(iovs + 8 * i + 4, 1, true);
    }
    const count = g.alloc(4);
    assert.equal(g.call('fd_write', 1, iovs, MAX_IOVECS, count), E.SUCCESS);
    assert.equal(view.getUint32(count, true), MAX_IOVECS);
    for (const n of [MAX_IOVECS + 1, 2 ** 32 - 1]) {
      view.setUint32(count, 0, true);
      assert.equal(g.call('fd_write', 1, iovs, n, count), E.SUCCESS, `fd_write of ${n}`);
      assert.equal(view.getUint32(count, true), MAX_IOVECS, `fd_write of ${n}: the first 1,024 written`);
      assert.equal(g.call('fd_read', 0, iovs, n, count), E.SUCCESS, `fd_read of ${n}`);
    }
    assert.deepEqual(
      written.map((c) => c.byteLength),
      [MAX_IOVECS, MAX_IOVECS, MAX_IOVECS],
    );
  });

  it('poll_oneoff takes at most 4,096 subscriptions: EINVAL past that', async () => {
    const g = await startGuest();
    g.call('grow', 8);
    const subscriptions = g.alloc(48 * (MAX_SUBSCRIPTIONS + 1));
    const events = g.alloc(32 * (MAX_SUBSCRIPTIONS + 1));
    const count = g.alloc(4);
    // all zero: clock subscriptions on the realtime clock, timeout 0, ready at once
    assert.equal(g.call('poll_oneoff', subscriptions, events, MAX_SUBSCRIPTIONS, count), E.SUCCESS);
    assert.equal(new DataView(g.memory.buffer).getUint32(count, true), MAX_SUBSCRIPTIONS);
    for (const n of [MAX_SUBSCRIPTIONS + 1, 2 ** 32 - 1]) assert.equal(g.call('poll_oneoff', subscriptions, events, n, count), E.EINVAL, `${n}`);
  });

  it('paths and symlink targets are at most 64 KiB: ENAMETOOLONG past that, before any component is resolved', async () => {
    const tmp = tempDir();
    try {
      mkdirSync(join(tmp.path, 'a'));
      writeFileSync(join(tmp.path, 'f'), 'x');
      const g = await startGuest({ mounts: [{ hostPath: tmp.path, guestPath: '/t', readOnly: false }] });
      g.call('grow', 99 - 1);
      const unit = 'a/../';
      const fits = unit.repeat(Math.floor((MAX_PATH_BYTES - 1) / unit.length)) + 'f';
      assert.equal(g.open(3, fits)[0], E.SUCCESS);
      // 6 MiB of "a/../": each component was stat'ed in turn, seconds of host work no timeout could cut
      const long = unit.repeat(Math.floor((6 << 20) / unit.length)) + 'f';
      assert.equal(g.open(3, long)[0], E.ENAMETOOLONG);
      const [target, targetLength] = g.put(`${'x'.repeat(MAX_PATH_BYTES)}y`);
      const [link, linkLength] = g.put('link');
      assert.equal(g.call('path_symlink', target, targetLength, 3, link, linkLength), E.ENAMETOOLONG);
    } finally {
      tmp.cleanup();
    }
  });

  it('one write to stdout hands the application at most 16 MiB and reports a short write', async () => {
    const chunks: number[] = [];
    const g = await startGuest({ stdout: (chunk) => void chunks.push(chunk.byteLength) });
    g.call('grow', 99 - 1); // 6.25 MiB
    const size = g.memory.buffer.byteLength - 64;
    const iovs = g.alloc(8 * 4);
    const view = new DataView(g.memory.buffer);
    for (let i = 0; i < 4; i++) {
      view.setUint32(iovs + 8 * i, 0, true);
      view.setUint32(iovs + 8 * i + 4, size, true);
    }
    const count = g.alloc(4);
    assert.equal(g.call('fd_write', 1, iovs, 4, count), E.SUCCESS);
    assert.equal(view.getUint32(count, true), Math.min(4 * size, MAX_OUTPUT_WRITE));
    assert.deepEqual(chunks, [Math.min(4 * size, MAX_OUTPUT_WRITE)]);
  });

  it('one write to a file puts at most 0x7ffff000 bytes in it, as Linux, and reports a short write', async () => {
    const tmp = TREES[1]![1]();
    try {
      tmp.mkdirSync(join(tmp.path, 'rw'), { recursive: true });
      // a file system that counts what is written to it and keeps none of it
      let written = 0;
      const counting = new Proxy(tmp.fs, {
        get(target, key) {
          if (key === 'write') return (_handle: number, data: Uint8Array) => ((written += data.byteLength), data.byteLength);
          const value: unknown = Reflect.get(target, key);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      }) as HostFileSystem;
      const g = await startGuest({ fs: counting, mounts: [{ hostPath: join(tmp.path, 'rw'), guestPath: '/rw', readOnly: false }] });
      g.call('grow', 99 - 1);
      const [opened, fd] = g.open(3, 'big', { rights: READ | WRITE, oflags: OFLAGS.CREAT });
      assert.equal(opened, E.SUCCESS);
      const size = 6 << 20;
      const iovs = g.alloc(8 * MAX_IOVECS);
      const view = g.view();
      for (let i = 0; i < MAX_IOVECS; i++) view.setUint32(iovs + 8 * i + 4, size, true); // (0, 6 MiB), 1,024 times: 6 GiB asked
      const count = g.alloc(4);
      assert.equal(g.call('fd_write', fd, iovs, MAX_IOVECS, count), E.SUCCESS);
      assert.equal(view.getUint32(count, true), MAX_FILE_WRITE);
      assert.equal(written, MAX_FILE_WRITE);
    } finally {
      tmp.cleanup();
    }
  });

  it('a line that never ends reaches the target in pieces of at most 1 Mi characters, a surrogate pair never cut in two', () => {
    const lines: string[] = [];
    const sink = createLineSink((line) => void lines.push(line));
    const piece = new TextEncoder().encode('x'.repeat(MAX_LINE_CHARS - 1));
    sink.write(piece);
    sink.write(new TextEncoder().encode('😀'.repeat(4)));
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.length, MAX_LINE_CHARS - 1, 'the pair at the cut waits for the next piece');
    for (let i = 0; i < 3; i++) sink.write(piece);
    sink.write(new TextEncoder().encode('end\n'));
    sink.flush();
    assert.ok(
      lines.every((l) => l.length <= MAX_LINE_CHARS),
      'no piece is longer than the cap',
    );
    assert.equal(lines.join(''), `${'x'.repeat(MAX_LINE_CHARS - 1)}${'😀'.repeat(4)}${'x'.repeat(3 * (MAX_LINE_CHARS - 1))}end`);
  });

  for (const [kind, makeTree] of TREES) {
    it(`offsets and cookies at the ends of their range give an errno or nothing, never a host exception (${kind})`, async () => {
      const tmp = makeTree();
      try {
        tmp.mkdirSync(join(tmp.path, 'rw'), { recursive: true });
        tmp.writeFileSync(join(tmp.path, 'rw', 'f'), 'hello');
        const g = await startGuest({ fs: tmp.fs, mounts: [{ hostPath: join(tmp.path, 'rw'), guestPath: '/rw', readOnly: false }] });
        const [opened, fd] = g.open(3, 'f', { rights: READ | WRITE });
        assert.equal(opened, E.SUCCESS);
        const out = g.alloc(8);
        const iov = g.alloc(8);
        const buf = g.alloc(16);
        g.view().setUint32(iov, buf, true);
        g.view().setUint32(iov + 4, 16, true);
        const top = 2n ** 64n - 1n;
        const safe = 2n ** 53n - 1n;
        for (const offset of [2n ** 63n, top]) {
          assert.equal(g.call('fd_seek', fd, offset, 0, out), E.EINVAL, `seek to ${offset}`);
          assert.equal(g.call('fd_pread', fd, iov, 1, offset, out), E.EINVAL, `pread at ${offset}`);
          assert.equal(g.call('fd_pwrite', fd, iov, 1, offset, out), E.EINVAL, `pwrite at ${offset}`);
        }
        assert.equal(g.call('fd_seek', fd, 2n ** 53n, 0, out), 61 /* EOVERFLOW */);
        assert.equal(g.call('fd_seek', fd, safe, 0, out), E.SUCCESS);
        assert.equal(g.call('fd_seek', fd, 1n, 1, out), 61, 'one past 2^53 - 1 from there');
        assert.notEqual(g.write(fd, 'xy')[0], E.SUCCESS, 'a write at 2^53 - 1 would end past 2^53');
        assert.equal(g.call('fd_pread', fd, iov, 1, safe, out), E.SUCCESS);
        assert.equal(g.u32(out), 0, 'nothing to read there');
        for (const cookie of [top, 2n ** 53n, 3n]) {
          assert.equal(g.call('fd_readdir', 3, buf, 16, cookie, out), E.SUCCESS);
          assert.equal(g.u32(out), 0, `cookie ${cookie} is past the listing`);
        }
      } finally {
        tmp.cleanup();
      }
    });
  }

  it('a plug-in with 1 GiB of memory cannot exhaust the host through iovecs, subscriptions or stdout (in a bounded child)', async () => {
    const helpers = new URL('../helpers.js', import.meta.url).href;
    const library = new URL('../../src/index.js', import.meta.url).href;
    const pages = 16384;
    const bytes = pages * 65536;
    const script = `
      const { createPlugin } = await import(${JSON.stringify(library)});
      const { assemble } = await import(${JSON.stringify(helpers)});
      // memory all zero: iovecs (0, 0), clock subscriptions with timeout 0; "stdout" writes 4 iovecs over almost the whole memory
      const wasm = await assemble(\`(module
        (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
        (memory (export "memory") ${pages})
        (func (export "writev") (result i32) (call $fd_write (i32.const 1) (i32.const 0) (i32.const ${bytes / 8 - 1}) (i32.const ${bytes - 8})))
        (func (export "readv") (result i32) (call $fd_read (i32.const 0) (i32.const 0) (i32.const ${bytes / 8 - 1}) (i32.const ${bytes - 8})))
        (func (export "poll") (result i32) (call $poll (i32.const 0) (i32.const 0) (i32.const ${Math.floor(bytes / 48) - 1}) (i32.const ${bytes - 8})))
        (func (export "stdout") (result i32)
          (i32.store (i32.const ${bytes - 60}) (i32.const ${bytes - 128}))
          (i32.store (i32.const ${bytes - 52}) (i32.const ${bytes - 128}))
          (i32.store (i32.const ${bytes - 44}) (i32.const ${bytes - 128}))
          (i32.store (i32.const ${bytes - 36}) (i32.const ${bytes - 128}))
          (call $fd_write (i32.const 1) (i32.const ${bytes - 64}) (i32.const 4) (i32.const ${bytes - 8}))))\`);
      let characters = 0;
      let longest = 0;
      const plugin = await createPlugin(wasm, { useWasi: true, wasiStdout: (line) => { characters += line.length; longest = Math.max(longest, line.length); } });
      const results = [];
      for (const name of ['writev', 'readv', 'poll', 'stdout']) {
        results.push(name + ' ' + (await plugin.call(name).then(() => 'errno 0', (err) => 'errno ' + err.exitCode)));
      }
      await plugin.close();
      console.log(results.join(', ') + '; ' + characters + ' characters, longest line ' + longest);`;
    const run = await runBounded(script, { timeoutMs: 120_000, maxRssMb: 600 });
    // writev and readv use their first 1,024 (empty) buffers, poll returns EINVAL (28); stdout writes only its first 16 MiB
    assert.equal(
      run.stdout.trim(),
      `writev errno 0, readv errno 0, poll errno 28, stdout errno 0; ${MAX_OUTPUT_WRITE} characters, longest line ${MAX_LINE_CHARS}`,
    );
  });
});
