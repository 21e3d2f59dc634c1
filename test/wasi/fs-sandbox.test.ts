// The file-system sandbox: what a guest can and cannot reach through its mounts.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ALL, E, type Guest, OFLAGS, READ, startGuest, WRITE } from './guest.js';
import { type TestTree, TREES } from './trees.js';

for (const [kind, makeTree] of TREES) {
  describe(kind, () => {
    let tmp: TestTree;
    let rw: string;
    let ro: string;

    beforeEach(() => {
      tmp = makeTree();
      rw = join(tmp.path, 'rw');
      ro = join(tmp.path, 'ro');
      tmp.mkdirSync(join(rw, 'sub'), { recursive: true });
      tmp.mkdirSync(join(ro, 'dir'), { recursive: true });
      tmp.mkdirSync(join(tmp.path, 'outside-dir'));
      tmp.writeFileSync(join(tmp.path, 'outside.txt'), 'secret');
      tmp.writeFileSync(join(rw, 'hello.txt'), 'hello');
      tmp.writeFileSync(join(rw, 'sub', 'nested.txt'), 'nested');
      tmp.writeFileSync(join(ro, 'data.txt'), 'data');
    });
    afterEach(() => tmp.cleanup());

    /** A guest with /rw on fd 3 and /ro (read-only) on fd 4. */
    function guest(): Promise<Guest> {
      return startGuest({
        fs: tmp.fs,
        mounts: [
          { hostPath: rw, guestPath: '/rw', readOnly: false },
          { hostPath: ro, guestPath: '/ro', readOnly: true },
        ],
      });
    }

    describe('reading and writing inside mounts', () => {
      test('a guest reads a file in a mount', async () => {
        const g = await guest();
        const [errno, fd] = g.open(3, 'hello.txt');
        assert.equal(errno, E.SUCCESS);
        assert.deepEqual(g.readAll(fd), [0, 'hello']);
        assert.deepEqual(g.readAll(g.open(4, 'data.txt')[1]), [0, 'data']);
        // A directory asked for with every right opens, in a read-only mount too (write rights are dropped).
        const [dirErrno, dirFd] = g.open(4, 'dir', { oflags: OFLAGS.DIRECTORY, rights: ALL });
        assert.equal(dirErrno, E.SUCCESS);
        const fdstat = g.alloc(24);
        g.call('fd_fdstat_get', dirFd, fdstat);
        assert.equal(g.u64(fdstat + 8) & (1n << 6n), 0n);
        assert.deepEqual(g.readAll(g.open(3, 'sub/nested.txt')[1]), [0, 'nested']);
        assert.deepEqual(g.readAll(g.open(3, './sub/../sub//nested.txt')[1]), [0, 'nested']);
      });

      test('a guest writes a file in a read-write mount', async () => {
        const g = await guest();
        const [errno, fd] = g.open(3, 'new.txt', { oflags: OFLAGS.CREAT | OFLAGS.TRUNC, rights: WRITE | READ });
        assert.equal(errno, E.SUCCESS);
        assert.deepEqual(g.write(fd, 'written by the guest'), [0, 20]);
        assert.equal(g.call('fd_close', fd), E.SUCCESS);
        assert.equal(tmp.readFileSync(join(rw, 'new.txt'), 'utf8'), 'written by the guest');

        const [, fd2] = g.open(3, 'hello.txt', { oflags: OFLAGS.TRUNC, rights: WRITE });
        g.write(fd2, 'bye');
        assert.equal(tmp.readFileSync(join(rw, 'hello.txt'), 'utf8'), 'bye');
      });

      test('a file opened with the append flag is written at its end', async () => {
        const g = await guest();
        const [, fd] = g.open(3, 'hello.txt', { rights: WRITE, fdflags: 1 });
        g.write(fd, ', world');
        g.write(fd, '!');
        assert.equal(tmp.readFileSync(join(rw, 'hello.txt'), 'utf8'), 'hello, world!');
        // fd_fdstat_set_flags turns appending on for an fd opened without it.
        const [, fd2] = g.open(3, 'sub/nested.txt', { rights: WRITE | (1n << 3n) });
        assert.equal(g.call('fd_fdstat_set_flags', fd2, 1), E.SUCCESS);
        g.write(fd2, '+');
        assert.equal(tmp.readFileSync(join(rw, 'sub', 'nested.txt'), 'utf8'), 'nested+');
        assert.equal(g.call('fd_fdstat_set_flags', fd2, 0x40), E.EINVAL);
        assert.equal(g.call('fd_sync', fd2), E.SUCCESS);
        assert.equal(g.call('fd_datasync', fd2), E.SUCCESS);
      });

      test('a file opened for reading only cannot be written and one opened for writing only cannot be read', async () => {
        const g = await guest();
        const [, readFd] = g.open(3, 'hello.txt', { rights: READ });
        assert.equal(g.write(readFd, 'x')[0], E.EBADF);
        const [, writeFd] = g.open(3, 'hello.txt', { rights: WRITE });
        assert.equal(g.readAll(writeFd)[0], E.EBADF);
        assert.equal(tmp.readFileSync(join(rw, 'hello.txt'), 'utf8'), 'hello');
      });

      test('directory operations work inside a read-write mount and report POSIX errors', async () => {
        const g = await guest();
        assert.equal(g.pathCall('path_create_directory', 3, 'made'), E.SUCCESS);
        assert.ok(tmp.statSync(join(rw, 'made')).isDirectory());
        assert.equal(g.pathCall('path_create_directory', 3, 'made'), E.EEXIST);
        assert.equal(g.pathCall('path_remove_directory', 3, 'sub'), E.ENOTEMPTY);
        assert.equal(g.pathCall('path_unlink_file', 3, 'sub'), E.EISDIR);
        assert.equal(g.pathCall('path_remove_directory', 3, 'hello.txt'), E.ENOTDIR);
        assert.equal(g.open(3, 'missing.txt')[0], E.ENOENT);
        assert.equal(g.open(3, 'missing/x.txt', { oflags: OFLAGS.CREAT, rights: WRITE })[0], E.ENOENT);
        assert.equal(g.open(3, 'hello.txt', { oflags: OFLAGS.DIRECTORY })[0], E.ENOTDIR);
        assert.equal(g.open(3, 'hello.txt/')[0], E.ENOTDIR);
        assert.equal(g.open(3, 'hello.txt', { oflags: OFLAGS.CREAT | OFLAGS.EXCL, rights: WRITE })[0], E.EEXIST);
        assert.equal(g.open(3, 'sub', { rights: WRITE })[0], E.EISDIR);
        assert.equal(g.open(3, '')[0], E.ENOENT);

        const [o1, o2] = [g.put('hello.txt'), g.put('sub/moved.txt')];
        assert.equal(g.call('path_rename', 3, o1[0], o1[1], 3, o2[0], o2[1]), E.SUCCESS);
        assert.equal(tmp.readFileSync(join(rw, 'sub', 'moved.txt'), 'utf8'), 'hello');
        assert.equal(g.pathCall('path_unlink_file', 3, 'sub/moved.txt'), E.SUCCESS);
        assert.equal(g.pathCall('path_remove_directory', 3, 'made'), E.SUCCESS);
        assert.equal(tmp.existsSync(join(rw, 'made')), false);

        // A directory fd from path_open resolves paths relative to itself, still inside the mount.
        const [errno, subFd] = g.open(3, 'sub', { oflags: OFLAGS.DIRECTORY, rights: ALL });
        assert.equal(errno, E.SUCCESS);
        assert.deepEqual(g.readAll(g.open(subFd, 'nested.txt')[1]), [0, 'nested']);
        assert.equal(g.open(subFd, '../../outside.txt')[0], E.ENOTCAPABLE);
      });

      test('the mount root itself cannot be removed, renamed or replaced', async () => {
        const g = await guest();
        assert.equal(g.pathCall('path_remove_directory', 3, '.'), E.EBUSY);
        assert.equal(g.pathCall('path_remove_directory', 3, 'sub/..'), E.EBUSY);
        const [a, b] = [g.put('.'), g.put('elsewhere')];
        assert.equal(g.call('path_rename', 3, a[0], a[1], 3, b[0], b[1]), E.EBUSY);
        assert.equal(g.call('path_rename', 3, b[0], b[1], 3, a[0], a[1]), E.EBUSY);
        assert.ok(tmp.statSync(rw).isDirectory());
      });
    });

    describe('read-only mounts', () => {
      test('every write attempt in a read-only mount fails with EROFS and leaves the host files unchanged', async () => {
        const before = tmp.statSync(join(ro, 'data.txt'));
        const g = await guest();
        const [, readFd] = g.open(4, 'data.txt', { rights: READ });
        const pair = (a: string, b: string): [number, number, number, number] => [...g.put(a), ...g.put(b)];
        const iov = g.alloc(8);
        const [bufPtr, bufLen] = g.put('overwrite');
        g.view().setUint32(iov, bufPtr, true);
        g.view().setUint32(iov + 4, bufLen, true);
        const out = g.alloc(8);

        const attempts: [string, () => number][] = [
          ['open for writing', () => g.open(4, 'data.txt', { rights: WRITE })[0]],
          ['open with create', () => g.open(4, 'new.txt', { oflags: OFLAGS.CREAT, rights: READ })[0]],
          ['open with create on an existing file', () => g.open(4, 'data.txt', { oflags: OFLAGS.CREAT, rights: READ })[0]],
          ['open with truncate', () => g.open(4, 'data.txt', { oflags: OFLAGS.TRUNC, rights: READ })[0]],
          ['path_create_directory', () => g.pathCall('path_create_directory', 4, 'newdir')],
          ['path_unlink_file', () => g.pathCall('path_unlink_file', 4, 'data.txt')],
          ['path_remove_directory', () => g.pathCall('path_remove_directory', 4, 'dir')],
          [
            'path_rename within',
            () => {
              const [a, b, c, d] = pair('data.txt', 'renamed.txt');
              return g.call('path_rename', 4, a, b, 4, c, d);
            },
          ],
          [
            'path_rename out to a rw mount',
            () => {
              const [a, b, c, d] = pair('data.txt', 'taken.txt');
              return g.call('path_rename', 4, a, b, 3, c, d);
            },
          ],
          [
            'path_rename in from a rw mount',
            () => {
              const [a, b, c, d] = pair('hello.txt', 'dropped.txt');
              return g.call('path_rename', 3, a, b, 4, c, d);
            },
          ],
          [
            'path_symlink',
            () => {
              const [a, b, c, d] = pair('data.txt', 'link');
              return g.call('path_symlink', a, b, 4, c, d);
            },
          ],
          [
            'path_link',
            () => {
              const [a, b, c, d] = pair('data.txt', 'hard');
              return g.call('path_link', 4, 0, a, b, 4, c, d);
            },
          ],
          [
            'path_filestat_set_times',
            () => {
              const [a, b] = g.put('data.txt');
              return g.call('path_filestat_set_times', 4, 0, a, b, 0, 0, 2 | 8);
            },
          ],
          ['fd_write', () => g.call('fd_write', readFd, iov, 1, out)],
          ['fd_pwrite', () => g.call('fd_pwrite', readFd, iov, 1, 0, out)],
          ['fd_allocate', () => g.call('fd_allocate', readFd, 0, 100)],
          ['fd_filestat_set_size', () => g.call('fd_filestat_set_size', readFd, 0)],
          ['fd_filestat_set_times', () => g.call('fd_filestat_set_times', readFd, 0, 0, 2 | 8)],
        ];
        for (const [what, attempt] of attempts) assert.equal(attempt(), E.EROFS, what);

        assert.equal(tmp.readFileSync(join(ro, 'data.txt'), 'utf8'), 'data');
        assert.deepEqual(tmp.readdirSync(ro).sort(), ['data.txt', 'dir']);
        assert.equal(tmp.statSync(join(ro, 'data.txt')).mtimeMs, before.mtimeMs);
        assert.equal(tmp.readFileSync(join(rw, 'hello.txt'), 'utf8'), 'hello');
        // Reading still works.
        assert.deepEqual(g.readAll(readFd), [0, 'data']);
      });

      test('a read-only mount advertises no write right, so a guest asking for every right it may have reads', async () => {
        const g = await guest();
        const fdstat = g.alloc(24);
        const rightsOf = (fd: number): [bigint, bigint] => {
          assert.equal(g.call('fd_fdstat_get', fd, fdstat), E.SUCCESS);
          return [g.u64(fdstat + 8), g.u64(fdstat + 16)];
        };
        const FD_WRITE = 1n << 6n;
        const PATH_CREATE_FILE = 1n << 10n;
        const PATH_UNLINK_FILE = 1n << 26n;
        const [roBase, roInheriting] = rightsOf(4);
        assert.equal(roBase & (PATH_CREATE_FILE | PATH_UNLINK_FILE), 0n, 'no mutating right on the ro preopen');
        assert.equal(roInheriting & FD_WRITE, 0n, 'no write right handed on by the ro preopen');
        // As wasi-libc does: the inheriting rights of the directory, asked for in full.
        const [errno, fd] = g.open(4, 'data.txt', { rights: roInheriting, inheriting: roInheriting });
        assert.equal(errno, E.SUCCESS);
        assert.equal(rightsOf(fd)[0] & FD_WRITE, 0n);
        assert.deepEqual(g.readAll(fd), [0, 'data']);
        // A directory inside opened the same way hands on no write right either.
        const [dirErrno, dirFd] = g.open(4, 'dir', { oflags: OFLAGS.DIRECTORY, rights: roInheriting, inheriting: roInheriting });
        assert.equal(dirErrno, E.SUCCESS);
        assert.equal(rightsOf(dirFd)[1] & FD_WRITE, 0n);
        // Asking for a write right by name is still EROFS, and so is a write-only open whose write
        // rights the libc masked away (what wasi-libc's O_WRONLY asks for here: no read right).
        assert.equal(g.open(4, 'data.txt', { rights: ALL })[0], E.EROFS);
        assert.equal(g.open(4, 'data.txt', { rights: roInheriting & ~((1n << 1n) | (1n << 14n)), inheriting: roInheriting })[0], E.EROFS);
        // The read-write mount still hands the write right on.
        const [, rwInheriting] = rightsOf(3);
        assert.notEqual(rwInheriting & FD_WRITE, 0n);
        const [rwErrno, rwFd] = g.open(3, 'hello.txt', { rights: rwInheriting, inheriting: rwInheriting });
        assert.equal(rwErrno, E.SUCCESS);
        assert.notEqual(rightsOf(rwFd)[0] & FD_WRITE, 0n);
      });
    });

    describe('escapes', () => {
      test('`..` cannot climb above the mount root', async () => {
        const g = await guest();
        for (const path of ['..', '../outside.txt', 'sub/../../outside.txt', 'sub/../..', '../rw/hello.txt', './../ro/data.txt']) {
          assert.equal(g.open(3, path)[0], E.ENOTCAPABLE, path);
        }
        assert.equal(g.pathCall('path_create_directory', 3, '../escaped'), E.ENOTCAPABLE);
        assert.equal(tmp.existsSync(join(tmp.path, 'escaped')), false);
        assert.equal(g.open(3, '../created.txt', { oflags: OFLAGS.CREAT, rights: WRITE })[0], E.ENOTCAPABLE);
        assert.equal(tmp.existsSync(join(tmp.path, 'created.txt')), false);
        assert.equal(g.pathCall('path_unlink_file', 3, '../outside.txt'), E.ENOTCAPABLE);
        assert.ok(tmp.existsSync(join(tmp.path, 'outside.txt')));
        // Climbing and coming back down without leaving is fine.
        assert.deepEqual(g.readAll(g.open(3, 'sub/../hello.txt')[1]), [0, 'hello']);
      });

      test('absolute paths are refused', async () => {
        const g = await guest();
        for (const path of ['/etc/passwd', join(tmp.path, 'outside.txt'), '/rw/hello.txt', '/']) {
          assert.equal(g.open(3, path)[0], E.ENOTCAPABLE, path);
        }
        const stat = g.alloc(64);
        const [p, l] = g.put('/etc');
        assert.equal(g.call('path_filestat_get', 3, 1, p, l, stat), E.ENOTCAPABLE);
      });

      test('a symlink inside the mount that points outside is never followed', async () => {
        tmp.symlinkSync('../outside.txt', join(rw, 'evil'));
        tmp.symlinkSync(join(tmp.path, 'outside.txt'), join(rw, 'evil-abs'));
        tmp.symlinkSync('../outside-dir', join(rw, 'evil-dir'));
        tmp.symlinkSync('../../outside.txt', join(rw, 'sub', 'evil-deep'));
        tmp.symlinkSync('evil', join(rw, 'to-evil'));
        const g = await guest();
        for (const path of ['evil', 'evil-abs', 'sub/evil-deep', 'to-evil', 'evil-dir/x', 'evil-dir/']) {
          assert.equal(g.open(3, path)[0], E.ENOTCAPABLE, path);
        }
        assert.equal(g.open(3, 'evil-dir/new.txt', { oflags: OFLAGS.CREAT, rights: WRITE })[0], E.ENOTCAPABLE);
        assert.equal(g.pathCall('path_create_directory', 3, 'evil-dir/new'), E.ENOTCAPABLE);
        assert.deepEqual(tmp.readdirSync(join(tmp.path, 'outside-dir')), []);
        const stat = g.alloc(64);
        const [p, l] = g.put('evil');
        assert.equal(g.call('path_filestat_get', 3, 1, p, l, stat), E.ENOTCAPABLE);
        // Not following is allowed: the guest sees a symlink (filetype 7), not what it points to.
        assert.equal(g.call('path_filestat_get', 3, 0, p, l, stat), E.SUCCESS);
        assert.equal(g.view().getUint8(stat + 16), 7);
        // Opening with O_NOFOLLOW semantics fails as POSIX does.
        assert.equal(g.open(3, 'evil', { follow: false })[0], E.ELOOP);
        // Reading such a link is refused too: its target would tell the guest the host's layout.
        const buf = g.alloc(256);
        const used = g.alloc(4);
        for (const path of ['evil', 'evil-abs', 'evil-dir', 'sub/evil-deep']) {
          const [lp, ll] = g.put(path);
          assert.equal(g.call('path_readlink', 3, lp, ll, buf, 256, used), E.ENOTCAPABLE, path);
        }
        assert.ok(!g.text(0, g.memory.buffer.byteLength).includes(tmp.path), 'no host path in guest memory');
        // A link that stays inside reads back as it was written.
        const [lp, ll] = g.put('to-evil');
        assert.equal(g.call('path_readlink', 3, lp, ll, buf, 256, used), E.SUCCESS);
        assert.equal(g.text(buf, g.u32(used)), 'evil');
        // Removing the link itself is fine and leaves its target alone.
        assert.equal(g.pathCall('path_unlink_file', 3, 'evil'), E.SUCCESS);
        assert.equal(tmp.readFileSync(join(tmp.path, 'outside.txt'), 'utf8'), 'secret');
      });

      test('a symlink pointing inside the mount is followed', async () => {
        tmp.symlinkSync('hello.txt', join(rw, 'good'));
        tmp.symlinkSync('../hello.txt', join(rw, 'sub', 'up'));
        tmp.symlinkSync('good', join(rw, 'chain'));
        tmp.symlinkSync('sub', join(rw, 'subdir-link'));
        tmp.symlinkSync('loop-b', join(rw, 'loop-a'));
        tmp.symlinkSync('loop-a', join(rw, 'loop-b'));
        const g = await guest();
        for (const path of ['good', 'sub/up', 'chain']) assert.deepEqual(g.readAll(g.open(3, path)[1]), [0, 'hello'], path);
        assert.deepEqual(g.readAll(g.open(3, 'subdir-link/nested.txt')[1]), [0, 'nested']);
        assert.equal(g.open(3, 'loop-a')[0], E.ELOOP);
        const buf = g.alloc(64);
        const used = g.alloc(4);
        const [p, l] = g.put('sub/up');
        assert.equal(g.call('path_readlink', 3, p, l, buf, 64, used), E.SUCCESS);
        assert.equal(g.text(buf, g.u32(used)), '../hello.txt');
        assert.equal(g.call('path_readlink', 3, p, l, buf, 4, used), E.SUCCESS);
        assert.equal(g.text(buf, g.u32(used)), '../h');
      });

      test('path_symlink refuses targets that escape the mount and creates those that stay inside', async () => {
        const g = await guest();
        const symlink = (target: string, path: string): number => {
          const [a, b] = g.put(target);
          const [c, d] = g.put(path);
          return g.call('path_symlink', a, b, 3, c, d);
        };
        assert.equal(symlink('../outside.txt', 'x1'), E.ENOTCAPABLE);
        assert.equal(symlink(join(tmp.path, 'outside.txt'), 'x2'), E.ENOTCAPABLE);
        assert.equal(symlink('/rw/hello.txt', 'x3'), E.ENOTCAPABLE);
        assert.equal(symlink('sub/../../outside.txt', 'x4'), E.ENOTCAPABLE);
        assert.equal(symlink('../../outside.txt', 'sub/x5'), E.ENOTCAPABLE);
        assert.equal(symlink('x', '../x6'), E.ENOTCAPABLE);
        assert.deepEqual(tmp.readdirSync(rw).sort(), ['hello.txt', 'sub']);
        assert.equal(symlink('../hello.txt', 'sub/ok'), E.SUCCESS);
        assert.equal(symlink('hello.txt', 'hello.txt'), E.EEXIST);
        assert.deepEqual(g.readAll(g.open(3, 'sub/ok')[1]), [0, 'hello']);
      });

      test('renaming or linking out of the mount is refused', async () => {
        tmp.symlinkSync('../outside.txt', join(rw, 'evil'));
        const g = await guest();
        const two = (name: string, from: string, to: string, flags?: number): number => {
          const [a, b] = g.put(from);
          const [c, d] = g.put(to);
          return name === 'path_link' ? g.call(name, 3, flags ?? 0, a, b, 3, c, d) : g.call(name, 3, a, b, 3, c, d);
        };
        assert.equal(two('path_rename', 'hello.txt', '../stolen.txt'), E.ENOTCAPABLE);
        assert.equal(two('path_rename', 'hello.txt', join(tmp.path, 'stolen.txt')), E.ENOTCAPABLE);
        assert.equal(two('path_rename', 'sub', '../sub'), E.ENOTCAPABLE);
        assert.equal(two('path_rename', '../outside.txt', 'in.txt'), E.ENOTCAPABLE);
        assert.equal(two('path_link', 'hello.txt', '../linked.txt'), E.ENOTCAPABLE);
        assert.equal(two('path_link', '../outside.txt', 'linked.txt'), E.ENOTCAPABLE);
        // Hard-linking the target of an outside symlink would copy the outside file in.
        assert.equal(two('path_link', 'evil', 'linked.txt', 1), E.ENOTCAPABLE);
        assert.equal(tmp.existsSync(join(tmp.path, 'stolen.txt')), false);
        assert.equal(tmp.existsSync(join(tmp.path, 'linked.txt')), false);
        assert.equal(tmp.existsSync(join(rw, 'linked.txt')), false);
        assert.equal(tmp.existsSync(join(rw, 'in.txt')), false);
        // Inside the mount both work.
        assert.equal(two('path_link', 'hello.txt', 'sub/hard.txt'), E.SUCCESS);
        assert.equal(tmp.readFileSync(join(rw, 'sub', 'hard.txt'), 'utf8'), 'hello');
      });

      test('with no mounts the guest sees no file system at all', async () => {
        const g = await startGuest();
        const buf = g.alloc(8);
        for (let fd = 3; fd < 8; fd++) assert.equal(g.call('fd_prestat_get', fd, buf), E.EBADF);
        assert.equal(g.open(3, 'anything')[0], E.EBADF);
        assert.equal(g.open(0, 'anything')[0], E.ENOTDIR);
        assert.equal(g.pathCall('path_create_directory', 3, 'x'), E.EBADF);
      });
    });

    describe('preopens and directory listings', () => {
      test('preopens are fd 3 onwards in mount order with their guest names', async () => {
        const g = await guest();
        const buf = g.alloc(8);
        const name = g.alloc(16);
        const expected: [number, string][] = [
          [3, '/rw'],
          [4, '/ro'],
        ];
        for (const [fd, guestPath] of expected) {
          assert.equal(g.call('fd_prestat_get', fd, buf), E.SUCCESS);
          assert.equal(g.view().getUint8(buf), 0);
          assert.equal(g.u32(buf + 4), guestPath.length);
          assert.equal(g.call('fd_prestat_dir_name', fd, name, guestPath.length), E.SUCCESS);
          assert.equal(g.text(name, guestPath.length), guestPath);
        }
        assert.equal(g.call('fd_prestat_dir_name', 3, name, 2), E.ENAMETOOLONG);
        assert.equal(g.call('fd_prestat_get', 5, buf), E.EBADF);
        assert.equal(g.call('fd_prestat_get', 1, buf), E.EBADF);
        const stat = g.alloc(24);
        assert.equal(g.call('fd_fdstat_get', 3, stat), E.SUCCESS);
        assert.equal(g.view().getUint8(stat), 3); // directory
      });

      test('fd_readdir lists every entry with its type and resumes from cookies', async () => {
        const dir = join(rw, 'list');
        tmp.mkdirSync(join(dir, 'child'), { recursive: true });
        for (const name of ['a', 'bb', 'ccc', 'a-much-longer-file-name.txt']) tmp.writeFileSync(join(dir, name), name);
        tmp.symlinkSync('a', join(dir, 'link'));
        const g = await guest();
        const [, fd] = g.open(3, 'list', { oflags: OFLAGS.DIRECTORY, rights: READ });
        const expected = new Map([
          ['.', 3],
          ['..', 3],
          ['a', 4],
          ['bb', 4],
          ['ccc', 4],
          ['a-much-longer-file-name.txt', 4],
          ['child', 3],
          ['link', 7],
        ]);

        const list = (bufSize: number): Map<string, number> => {
          const seen = new Map<string, number>();
          const buf = g.alloc(bufSize);
          const used = g.alloc(4);
          let cookie = 0n;
          for (let rounds = 0; rounds < 100; rounds++) {
            assert.equal(g.call('fd_readdir', fd, buf, bufSize, cookie, used), E.SUCCESS);
            const n = g.u32(used);
            let off = 0;
            while (off + 24 <= n) {
              const next = g.u64(buf + off);
              const ino = g.u64(buf + off + 8);
              const namlen = g.u32(buf + off + 16);
              const type = g.view().getUint8(buf + off + 20);
              if (off + 24 + namlen > n) break; // truncated: ask again from this entry
              const name = g.text(buf + off + 24, namlen);
              assert.ok(ino > 0n, `inode of ${name}`);
              seen.set(name, type);
              cookie = next;
              off += 24 + namlen;
            }
            if (n < bufSize) return seen;
          }
          assert.fail('fd_readdir never finished');
        };
        assert.deepEqual(list(4096), expected);
        assert.deepEqual(list(64), expected); // one or two entries at a time, with truncated tails
        // A cookie past the end returns nothing.
        const used = g.alloc(4);
        assert.equal(g.call('fd_readdir', fd, g.alloc(64), 64, 1000, used), E.SUCCESS);
        assert.equal(g.u32(used), 0);
        // Reading a directory as a file fails.
        assert.equal(g.readAll(fd)[0], E.EISDIR);
      });
    });

    describe('file descriptors', () => {
      test('fd_seek, fd_tell, fd_pread and fd_pwrite keep the right offsets', async () => {
        tmp.writeFileSync(join(rw, 'digits.txt'), '0123456789');
        const g = await guest();
        const [, fd] = g.open(3, 'digits.txt', { rights: READ | WRITE });
        const out = g.alloc(8);
        assert.equal(g.call('fd_seek', fd, 4, 0, out), E.SUCCESS);
        assert.equal(g.u64(out), 4n);
        assert.equal(g.call('fd_seek', fd, -2, 1, out), E.SUCCESS);
        assert.equal(g.u64(out), 2n);
        assert.equal(g.call('fd_seek', fd, -1, 2, out), E.SUCCESS);
        assert.equal(g.u64(out), 9n);
        assert.equal(g.call('fd_seek', fd, -100, 1, out), E.EINVAL);
        assert.equal(g.call('fd_seek', fd, 0, 7, out), E.EINVAL);
        assert.equal(g.call('fd_seek', fd, 3, 0, out), E.SUCCESS);
        assert.deepEqual(g.readAll(fd), [0, '3456789']);
        assert.equal(g.call('fd_tell', fd, out), E.SUCCESS);
        assert.equal(g.u64(out), 10n);

        const buf = g.alloc(4);
        const iov = g.alloc(8);
        g.view().setUint32(iov, buf, true);
        g.view().setUint32(iov + 4, 4, true);
        assert.equal(g.call('fd_pread', fd, iov, 1, 2, out), E.SUCCESS);
        assert.equal(g.text(buf, g.u32(out)), '2345');
        new Uint8Array(g.memory.buffer, buf, 4).set(new TextEncoder().encode('abcd'));
        assert.equal(g.call('fd_pwrite', fd, iov, 1, 6, out), E.SUCCESS);
        assert.equal(g.u32(out), 4);
        assert.equal(g.call('fd_tell', fd, out), E.SUCCESS);
        assert.equal(g.u64(out), 10n, 'pread/pwrite leave the offset alone');
        assert.equal(tmp.readFileSync(join(rw, 'digits.txt'), 'utf8'), '012345abcd');
        assert.equal(g.call('fd_seek', 1, 0, 0, out), E.ESPIPE);
      });

      test('fd_filestat_get, path_filestat_get and fd_fdstat_get describe files', async () => {
        const g = await guest();
        const [, fd] = g.open(3, 'hello.txt', { rights: READ });
        const st = g.alloc(64);
        assert.equal(g.call('fd_filestat_get', fd, st), E.SUCCESS);
        assert.equal(g.view().getUint8(st + 16), 4);
        assert.equal(g.u64(st + 32), 5n);
        assert.ok(g.u64(st + 8) > 0n);
        assert.equal(g.u64(st + 48), tmp.mtimeNs(join(rw, 'hello.txt')));
        const [p, l] = g.put('sub');
        assert.equal(g.call('path_filestat_get', 3, 1, p, l, st), E.SUCCESS);
        assert.equal(g.view().getUint8(st + 16), 3);
        const fdstat = g.alloc(24);
        assert.equal(g.call('fd_fdstat_get', fd, fdstat), E.SUCCESS);
        assert.equal(g.view().getUint8(fdstat), 4);
        assert.equal(g.u64(fdstat + 8) & (1n << 6n), 0n, 'no FD_WRITE right on a read-only open');
        assert.equal(g.call('fd_fdstat_get', 1, fdstat), E.SUCCESS);
        assert.equal(g.view().getUint8(fdstat), 2); // character device
      });

      test('truncation, allocation and times can be set through a writable fd', async () => {
        const g = await guest();
        const [, fd] = g.open(3, 'hello.txt', { rights: READ | WRITE | (1n << 23n) });
        assert.equal(g.call('fd_filestat_set_size', fd, 2), E.SUCCESS);
        assert.equal(tmp.readFileSync(join(rw, 'hello.txt'), 'utf8'), 'he');
        assert.equal(g.call('fd_allocate', fd, 0, 10), E.SUCCESS);
        assert.equal(tmp.statSync(join(rw, 'hello.txt')).size, 10);
        const t = 1_000_000_000n * 1_600_000_000n;
        assert.equal(g.call('fd_filestat_set_times', fd, t, t, 1 | 4), E.SUCCESS);
        assert.equal(tmp.statSync(join(rw, 'hello.txt')).mtimeMs, 1_600_000_000_000);
        assert.equal(g.call('fd_filestat_set_times', fd, t, t, 1 | 2), E.EINVAL);
        const [p, l] = g.put('sub');
        assert.equal(g.call('path_filestat_set_times', 3, 0, p, l, t, t, 4), E.SUCCESS);
        assert.equal(tmp.statSync(join(rw, 'sub')).mtimeMs, 1_600_000_000_000);
      });

      test('fd_close, fd_renumber and fd_fdstat_set_rights manage the table', async () => {
        const g = await guest();
        const [, a] = g.open(3, 'hello.txt');
        const [, b] = g.open(3, 'sub/nested.txt');
        assert.equal(g.call('fd_renumber', a, b), E.SUCCESS);
        assert.deepEqual(g.readAll(b), [0, 'hello']);
        assert.equal(g.readAll(a)[0], E.EBADF);
        assert.equal(g.call('fd_renumber', b, 99), E.EBADF);
        assert.equal(g.call('fd_close', b), E.SUCCESS);
        assert.equal(g.call('fd_close', b), E.EBADF);
        // Freed numbers are reused lowest first.
        assert.equal(g.open(3, 'hello.txt')[1], a);
        // Rights can be dropped, not regained.
        const [, c] = g.open(3, 'hello.txt', { rights: READ });
        assert.equal(g.call('fd_fdstat_set_rights', c, 0, 0), E.SUCCESS);
        assert.equal(g.readAll(c)[0], E.EBADF);
        assert.equal(g.call('fd_fdstat_set_rights', c, READ, 0), E.ENOTCAPABLE);
      });

      test('close() closes every host fd and restores stdio and the preopens', async () => {
        const g = await guest();
        const [, fd] = g.open(3, 'hello.txt');
        assert.ok(fd > 4);
        g.wasi.close();
        assert.equal(g.readAll(fd)[0], E.EBADF);
        const buf = g.alloc(8);
        assert.equal(g.call('fd_prestat_get', 3, buf), E.SUCCESS);
        assert.equal(g.open(3, 'hello.txt')[1], fd);
        g.wasi.close();
      });

      test('a mount whose host directory does not exist is refused when the WASI is created', async () => {
        await assert.rejects(
          startGuest({ fs: tmp.fs, mounts: [{ hostPath: join(tmp.path, 'nope'), guestPath: '/x', readOnly: false }] }),
          (error: Error) => error.message.includes('nope') && (error.cause as { code?: string }).code === 'ENOENT',
        );
        await assert.rejects(startGuest({ fs: tmp.fs, mounts: [{ hostPath: join(rw, 'hello.txt'), guestPath: '/x', readOnly: false }] }), /not a directory/);
      });
    });
  });
}
