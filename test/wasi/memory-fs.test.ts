// The in-memory file system: what only it has (a cap, unlinked files kept while open, the
// host's side), and a plug-in given one through the public API. The WASI behaviour it shares
// with the host's file system is checked over both in fs-sandbox.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createMemoryFileSystem, createPlugin, ManifestError } from '../../src/index.js';
import { ENTRY_COST, InMemoryFileSystem } from '../../src/internal/wasi/memory-fs.js';
import { confineFileSystem, REMOTE_FS_CHUNK, serveFileSystem } from '../../src/internal/worker/remote-fs.js';
import { pluginPath } from '../helpers.js';
import { E, READ, startGuest, WRITE } from './guest.js';

const ENOSPC = 51;
const text = (bytes: Uint8Array | undefined): string | undefined => (bytes === undefined ? undefined : new TextDecoder().decode(bytes));

describe('the cap', () => {
  test('a guest writing past the cap gets ENOSPC, and what it wrote before stays', async () => {
    const fs = new InMemoryFileSystem(4096);
    fs.makeDirectory('/m');
    const g = await startGuest({ fs, mounts: [{ hostPath: '/m', guestPath: '/m', readOnly: false }] });
    const [errno, fd] = g.open(3, 'big.bin', { oflags: 1, rights: READ | WRITE });
    assert.equal(errno, E.SUCCESS);
    const chunk = 'x'.repeat(1000);
    let written = 0;
    let last = 0;
    for (let i = 0; i < 10 && last === 0; i++) {
      const [result, n] = g.write(fd, chunk);
      last = result;
      written += n;
    }
    assert.equal(last, ENOSPC);
    assert.ok(fs.usedBytes <= fs.maxBytes, `${fs.usedBytes} counted, cap ${fs.maxBytes}`);
    // A write cut short by the cap may keep its first iovec: the file holds at least what was reported.
    const kept = fs.readFile('/m/big.bin')!;
    assert.ok(kept.length >= written && kept.every((b) => b === 0x78), `${kept.length} bytes kept, ${written} reported`);
    // Growing by truncation or allocation is bounded the same way.
    assert.equal(g.call('fd_filestat_set_size', fd, 1 << 30), ENOSPC);
    assert.equal(g.call('fd_allocate', fd, 0, 2 ** 40), ENOSPC);
    // Writing far past the end would fill the gap with zeros: bounded too.
    const [p, l] = g.put('y');
    const iov = g.alloc(8);
    g.view().setUint32(iov, p, true);
    g.view().setUint32(iov + 4, l, true);
    assert.equal(g.call('fd_pwrite', fd, iov, 1, 2 ** 40, g.alloc(4)), ENOSPC);
    assert.ok(fs.usedBytes <= fs.maxBytes);
  });

  test('names count too: a guest making empty files or directories in a loop hits the cap, and removing them gives the room back', async () => {
    const fs = new InMemoryFileSystem(100 * (ENTRY_COST + 8));
    fs.makeDirectory('/m');
    const g = await startGuest({ fs, mounts: [{ hostPath: '/m', guestPath: '/m', readOnly: false }] });
    let made = 0;
    let errno = 0;
    for (; made < 1000; made++) {
      if (made % 2 === 0) {
        const [opened, fd] = g.open(3, `f${made}`, { oflags: 1, rights: WRITE });
        errno = opened;
        if (opened === E.SUCCESS) g.call('fd_close', fd);
      } else {
        errno = g.pathCall('path_create_directory', 3, `d${made}`);
      }
      if (errno !== E.SUCCESS) break;
    }
    assert.equal(errno, ENOSPC);
    assert.ok(made > 50 && made < 110, `${made} names made`);
    const full = fs.usedBytes;
    assert.equal(g.pathCall('path_unlink_file', 3, 'f0'), E.SUCCESS);
    assert.ok(fs.usedBytes < full);
    assert.equal(g.open(3, 'again', { oflags: 1, rights: WRITE })[0], E.SUCCESS);
  });

  test('a symlink target counts against the cap', () => {
    const fs = new InMemoryFileSystem(ENTRY_COST + 100);
    assert.throws(() => fs.symlink('t'.repeat(200), '/link'), { code: 'ENOSPC' });
    assert.equal(fs.usedBytes, 0);
  });
});

describe('files', () => {
  test('an unlinked file stays readable while open, and its bytes count until it is closed', async () => {
    const fs = new InMemoryFileSystem();
    fs.writeFile('/m/doomed.txt', 'still here');
    const g = await startGuest({ fs, mounts: [{ hostPath: '/m', guestPath: '/m', readOnly: false }] });
    const [, fd] = g.open(3, 'doomed.txt');
    const before = fs.usedBytes;
    assert.equal(g.pathCall('path_unlink_file', 3, 'doomed.txt'), E.SUCCESS);
    assert.equal(fs.readFile('/m/doomed.txt'), undefined);
    assert.equal(fs.usedBytes, before - ENTRY_COST - 'doomed.txt'.length);
    assert.deepEqual(g.readAll(fd), [0, 'still here']);
    assert.equal(g.call('fd_close', fd), E.SUCCESS);
    assert.equal(fs.usedBytes, before - ENTRY_COST - 'doomed.txt'.length - 'still here'.length);
  });

  test('a hard link shares the file; renaming over a file replaces it and frees it', () => {
    const fs = new InMemoryFileSystem();
    fs.writeFile('/a', 'one');
    fs.link('/a', '/b');
    fs.writeFile('/b', 'two');
    assert.equal(text(fs.readFile('/a')), 'two');
    assert.equal(fs.lstat('/a').nlink, 2n);
    fs.writeFile('/c', 'three!');
    const before = fs.usedBytes;
    fs.rename('/c', '/a');
    assert.equal(text(fs.readFile('/a')), 'three!');
    assert.equal(text(fs.readFile('/b')), 'two', 'the other name keeps the replaced file');
    assert.equal(fs.usedBytes, before - ENTRY_COST - 1);
    fs.unlink('/b');
    assert.equal(fs.usedBytes, ENTRY_COST + 1 + 'three!'.length);
    assert.deepEqual(fs.paths(), ['/a']);
  });

  test('rename refuses what POSIX refuses', () => {
    const fs = new InMemoryFileSystem();
    fs.makeDirectory('/d/sub');
    fs.writeFile('/f', 'f');
    fs.writeFile('/full/x', 'x');
    assert.throws(() => fs.rename('/d', '/d/sub/inside'), { code: 'EINVAL' });
    assert.throws(() => fs.rename('/d', '/f'), { code: 'ENOTDIR' });
    assert.throws(() => fs.rename('/f', '/d'), { code: 'EISDIR' });
    assert.throws(() => fs.rename('/d', '/full'), { code: 'ENOTEMPTY' });
    assert.throws(() => fs.rename('/missing', '/x'), { code: 'ENOENT' });
    assert.throws(() => fs.rename('/f', '/nowhere/f'), { code: 'ENOENT' });
    fs.rename('/d/sub', '/moved');
    assert.deepEqual(fs.paths(), ['/d/', '/f', '/full/', '/full/x', '/moved/']);
  });

  test('a directory goes into its own subtree by no spelling, the root does not move, and directories get no hard links', () => {
    const fs = new InMemoryFileSystem();
    fs.makeDirectory('/d/sub');
    fs.symlink('/d', '/to-d');
    fs.symlink('sub', '/d/to-sub');
    for (const [from, to] of [
      ['/d', '/to-d/sub/x'],
      ['/d', '/d/to-sub/x'],
      ['/d', '/d/sub/../sub/x'],
      ['/d/sub/..', '/d/sub/x'],
      ['/to-d/sub/..', '/d/sub/x'],
    ] as const) {
      assert.throws(() => fs.rename(from, to), { code: 'EINVAL' }, `${from} -> ${to}`);
    }
    for (const root of ['/', '/d/..', '/..']) assert.throws(() => fs.rename(root, '/elsewhere'), { code: 'EBUSY' }, root);
    assert.throws(() => fs.link('/d', '/d-again'), { code: 'EPERM' });
    assert.throws(() => fs.link('/d/sub/..', '/d-again'), { code: 'EPERM' });
    assert.deepEqual(fs.paths(), ['/d/', '/d/sub/', '/d/to-sub', '/to-d']);
  });
});

describe('memory held', () => {
  test('files written and cut back in a loop hold no more than the cap allows (truncation gives the room back)', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // Newer engines free a collected buffer's memory a little later, off the collection itself.
    const collect = async () => {
      for (let i = 0; i < 3; i++) {
        gc();
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const fs = new InMemoryFileSystem(1 << 20);
    const written = new Uint8Array(512 * 1024);
    await collect();
    const before = process.memoryUsage().arrayBuffers;
    const create = { read: false, write: true, create: true, exclusive: false, truncate: false };
    for (let i = 0; i < 100; i++) {
      const handle = fs.open(`/f${i}`, create);
      fs.write(handle, written, 0);
      fs.truncate(handle, 0);
      fs.close(handle);
    }
    await collect();
    const heldMiB = (process.memoryUsage().arrayBuffers - before) / 2 ** 20;
    // 100 files of 512 KiB each cut back to nothing: what stays is their names, not 50 MiB
    assert.ok(heldMiB < 8, `${heldMiB.toFixed(1)} MiB held by a file system capped at 1 MiB`);
    assert.ok(fs.usedBytes < 1 << 20);
  });
});

describe('very deep trees', () => {
  /** A directory chain `depth` deep at /a, made as a guest can make one cheaply: a rename moves a whole chain one level down. */
  const chain = (depth: number) => {
    const fs = new InMemoryFileSystem(1 << 30);
    fs.mkdir('/a');
    for (let i = 0; i < depth; i++) {
      fs.mkdir('/b');
      fs.rename('/a', '/b/a');
      fs.rename('/b', '/a');
    }
    return fs;
  };

  test("the host's remove() and paths() walk them without recursion (no stack overflow)", () => {
    const deep = chain(100_000);
    deep.remove('/');
    assert.equal(deep.usedBytes, 0);
    assert.deepEqual(deep.paths(), []);
    // listing one lists every path in it, whose lengths grow with the depth: a shallower one
    const listed = chain(12_000);
    assert.equal(listed.paths().length, 12_001);
  });
});

describe('serving a worker', () => {
  test("the host thread answers only the file system's WASI methods, and bounds a read's length", () => {
    const fs = new InMemoryFileSystem();
    fs.writeFile('/big', new Uint8Array(3 * REMOTE_FS_CHUNK));
    const handle = serveFileSystem(fs, ['open', '/big', { read: true, write: false, create: false, exclusive: false, truncate: false }]) as number;
    const chunk = serveFileSystem(fs, ['read', handle, 2 ** 31, 0]) as ArrayBuffer;
    assert.equal(chunk.byteLength, REMOTE_FS_CHUNK, 'a 2 GiB read asked for: one chunk made');
    assert.equal((serveFileSystem(fs, ['read', handle, -5, 0]) as ArrayBuffer).byteLength, 0);
    // The host's own methods, and anything else on the object, are not the worker's to call.
    for (const method of ['remove', 'writeFile', 'makeDirectory', 'paths', 'constructor', '__proto__', 'toString']) {
      assert.throws(() => serveFileSystem(fs, [method, '/']), /no file-system method/, method);
    }
    assert.deepEqual(fs.paths(), ['/big']);
  });

  test('a worker reaches only its mounts, writes only where they let it, and uses only the handles it opened', () => {
    // The worker runs the plug-in: what it sends is checked on the host thread, whatever its WASI layer would have let through.
    const fs = new InMemoryFileSystem();
    fs.writeFile('/rw/mine.txt', 'mine');
    fs.writeFile('/ro/data.txt', 'data');
    fs.writeFile('/other/secret.txt', "another plug-in's");
    fs.symlink('/other', '/rw/out');
    fs.symlink('/other/secret.txt', '/rw/out-file');
    const worker = confineFileSystem(fs, [
      { hostPath: '/rw', readOnly: false },
      { hostPath: '/ro', readOnly: true },
    ]);
    const serve = (...args: unknown[]) => serveFileSystem(worker, args);
    const READ_ONLY = { read: true, write: false, create: false, exclusive: false, truncate: false };
    const CREATE = { read: false, write: true, create: true, exclusive: false, truncate: true };
    const refused = (code: string, ...args: unknown[]) =>
      assert.throws(
        () => serve(...args),
        { code },
        JSON.stringify(args, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)),
      );

    // outside the mounts, by name, by `..`, through a symlink in the middle or at the end
    refused('ENOTCAPABLE', 'open', '/other/secret.txt', READ_ONLY);
    refused('ENOTCAPABLE', 'open', '/rw/../other/secret.txt', READ_ONLY);
    refused('ENOTCAPABLE', 'open', '/rw/out/secret.txt', READ_ONLY);
    refused('ENOTCAPABLE', 'readdir', '/rw/out');
    refused('ENOTCAPABLE', 'realpath', '/rw/out-file');
    refused('ENOTCAPABLE', 'lstat', '/');
    refused('ENOTCAPABLE', 'rename', '/rw/mine.txt', '/other/stolen.txt');
    refused('ENOTCAPABLE', 'link', '/other/secret.txt', '/rw/copy.txt');
    refused('ENOTCAPABLE', 'mkdir', '/rw//x');
    refused('EINVAL', 'open', 'relative.txt', READ_ONLY);
    refused('EINVAL', 'unlink', 42);
    // a read-only mount stays read-only
    refused('EROFS', 'open', '/ro/data.txt', { ...READ_ONLY, write: true });
    refused('EROFS', 'unlink', '/ro/data.txt');
    refused('EROFS', 'rename', '/ro/data.txt', '/rw/data.txt');
    refused('EROFS', 'utimes', '/ro/data.txt', 'now', 'now', false);
    // handles: only its own; arguments of their types
    const theirs = fs.open('/other/secret.txt', { ...READ_ONLY });
    refused('EBADF', 'read', theirs, 10, 0);
    refused('EBADF', 'close', theirs);
    const mine = serve('open', '/rw/new.txt', CREATE) as number;
    refused('EINVAL', 'write', mine, new Uint8Array([1]).buffer, -4);
    refused('EINVAL', 'truncate', mine, 2 ** 60);
    refused('EINVAL', 'futimes', mine, 'yesterday', undefined);
    assert.throws(() => serve('write', mine, 1e9, 0), /without bytes/);
    refused('EINVAL', 'open', '/rw/x', { read: 'yes' });
    // what is inside works as before
    assert.equal(serve('write', mine, new Uint8Array([104, 105]).buffer, 0), 2);
    serve('close', mine);
    refused('EBADF', 'close', mine);
    assert.equal(text(fs.readFile('/rw/new.txt')), 'hi');
    assert.equal(serve('realpath', '/ro'), '/ro');
    assert.deepEqual(
      (serve('readdir', '/ro') as { name: string }[]).map((e) => e.name),
      ['data.txt'],
    );
    serve('rename', '/rw/new.txt', '/rw/renamed.txt');
    assert.equal(text(fs.readFile('/other/secret.txt')), "another plug-in's");
    assert.equal(text(fs.readFile('/ro/data.txt')), 'data');
    fs.close(theirs);
  });

  test("closing a worker's file system closes what it left open, and an unlinked file's bytes come back", () => {
    const fs = new InMemoryFileSystem();
    fs.makeDirectory('/rw');
    const worker = confineFileSystem(fs, [{ hostPath: '/rw', readOnly: false }]);
    const handle = worker.open('/rw/big', { read: true, write: true, create: true, exclusive: false, truncate: false });
    worker.write(handle, new Uint8Array(10_000), 0);
    worker.unlink('/rw/big');
    assert.ok(fs.usedBytes >= 10_000, 'open, the unlinked file still counts');
    worker.closeAll();
    assert.ok(fs.usedBytes < 1000, `${fs.usedBytes} bytes still counted`);
    assert.throws(() => worker.read(handle, new Uint8Array(1), 0), { code: 'EBADF' });
  });
});

describe('the public API', () => {
  test('a plug-in reads the files it was given and the host reads back what it wrote; read-only mounts stay untouched', async () => {
    const files = createMemoryFileSystem({ '/static/hello.txt': 'read me', '/data/': '' });
    const plugin = await createPlugin(pluginPath('wasi-files'), {
      useWasi: true,
      wasiFileSystem: files,
      allowedPaths: { '/data': '/data', 'ro:/static': '/static' },
    });
    try {
      assert.equal((await plugin.call('read_file', '/static/hello.txt'))?.text(), 'read me');
      assert.equal((await plugin.call('write_file', JSON.stringify({ path: '/data/out.txt', content: 'written' })))?.text(), 'ok');
      assert.equal(text(files.readFile('/data/out.txt')), 'written');
      assert.equal((await plugin.call('list_dir', '/static'))?.text(), 'hello.txt');
      await assert.rejects(plugin.call('write_file', JSON.stringify({ path: '/static/hello.txt', content: 'x' })), /69|rofs/i);
      assert.equal(text(files.readFile('/static/hello.txt')), 'read me');
      files.writeFile('/static/hello.txt', 'changed by the host');
      assert.equal((await plugin.call('read_file', '/static/hello.txt'))?.text(), 'changed by the host');
    } finally {
      await plugin.close();
    }
  });

  test('a plug-in in a worker reaches the same files, on the host thread: what it writes the host reads at once, errors are its errnos', async () => {
    const files = createMemoryFileSystem({ '/static/hello.txt': 'read me', '/data/': '' });
    const plugin = await createPlugin(pluginPath('wasi-files'), {
      useWasi: true,
      runInWorker: true,
      wasiFileSystem: files,
      allowedPaths: { '/data': '/data', 'ro:/static': '/static' },
    });
    try {
      assert.equal((await plugin.call('read_file', '/static/hello.txt'))?.text(), 'read me');
      // 3 MiB: more than one chunk each way between the worker and the host thread
      const big = 'x'.repeat(3 << 20);
      assert.equal((await plugin.call('write_file', JSON.stringify({ path: '/data/big.txt', content: big })))?.text(), 'ok');
      assert.equal(files.readFile('/data/big.txt')?.length, big.length);
      assert.equal((await plugin.call('read_file', '/data/big.txt'))?.text(), big);
      await assert.rejects(plugin.call('write_file', JSON.stringify({ path: '/static/hello.txt', content: 'x' })), /69|rofs/i);
      await assert.rejects(plugin.call('read_file', '/data/missing.txt'), /44|noent/i);
      files.writeFile('/static/hello.txt', 'changed by the host');
      assert.equal((await plugin.call('read_file', '/static/hello.txt'))?.text(), 'changed by the host');
      assert.equal((await plugin.call('list_dir', '/data'))?.text(), 'big.txt');
    } finally {
      await plugin.close();
    }
  });

  test('mounting a directory the file system lacks, or handing in something else, fails at creation naming it', async () => {
    const files = createMemoryFileSystem({ '/data/a.txt': 'a' });
    await assert.rejects(
      createPlugin(pluginPath('wasi-files'), { useWasi: true, wasiFileSystem: files, allowedPaths: { '/nope': '/nope' } }),
      (error: unknown) => error instanceof ManifestError && /\/nope does not exist in the wasiFileSystem/.test(error.message),
    );
    await assert.rejects(
      createPlugin(pluginPath('wasi-files'), { useWasi: true, wasiFileSystem: files, allowedPaths: { 'ro:/data/a.txt': '/a' } }),
      /\/data\/a\.txt is a file, not a directory/,
    );
    await assert.rejects(
      createPlugin(pluginPath('wasi-files'), { useWasi: true, wasiFileSystem: {} as never, allowedPaths: {} }),
      (error: unknown) => error instanceof ManifestError && error.field === 'wasiFileSystem',
    );
  });

  test('createMemoryFileSystem checks its entries and its cap', () => {
    assert.throws(
      () => createMemoryFileSystem({ 'relative.txt': 'x' }),
      (e: unknown) => e instanceof ManifestError && e.field === 'files["relative.txt"]',
    );
    assert.throws(() => createMemoryFileSystem({ '/a': 'x', '/a/b': 'y' }), /files\["\/a\/b"\].*ENOTDIR/);
    assert.throws(() => createMemoryFileSystem({ '/a': 5 as never }), /must be a string or a Uint8Array/);
    assert.throws(() => createMemoryFileSystem({ '/big': 'x'.repeat(100) }, { maxBytes: 50 }), /ENOSPC/);
    assert.throws(() => createMemoryFileSystem({}, { maxBytes: -1 }), ManifestError);
    const files = createMemoryFileSystem({ '/bin/b': new Uint8Array([1, 2, 3]), '/empty/': '' }, { maxBytes: 1000 });
    assert.deepEqual(files.paths(), ['/bin/', '/bin/b', '/empty/']);
    assert.deepEqual(files.readFile('/bin/b'), new Uint8Array([1, 2, 3]));
    assert.equal(files.readFile('/bin'), undefined);
    assert.equal(files.maxBytes, 1000);
    files.remove('/bin');
    assert.deepEqual(files.paths(), ['/empty/']);
    assert.equal(files.usedBytes, ENTRY_COST + 'empty'.length);
  });
});
