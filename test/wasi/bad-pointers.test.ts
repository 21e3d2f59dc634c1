// A guest handing bad pointers or lengths gets an errno, never a host exception, and nothing happens.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { E, READ, startGuest, WRITE } from './guest.js';

let tmp: { path: string; cleanup: () => void };
beforeEach(async () => {
  tmp = (await import('./guest.js')).tempDir();
  mkdirSync(join(tmp.path, 'd'));
  writeFileSync(join(tmp.path, 'f.txt'), 'content');
});
afterEach(() => tmp.cleanup());

const BAD = 0xfffffff0; // far past the end of a 1-page memory (and negative as an i32)
const EDGE = 65536 - 4; // the last 4 bytes: too short for a u64

test('out-of-range pointers and lengths give EFAULT from every function that takes them', async () => {
  const g = await startGuest({ mounts: [{ hostPath: tmp.path, guestPath: '/t', readOnly: false }] });
  const [, fd] = g.open(3, 'f.txt', { rights: READ | WRITE });
  const ok = g.alloc(64);
  const [path, pathLen] = g.put('f.txt');
  const [newPath, newPathLen] = g.put('new');
  const badIov = g.alloc(8);
  g.view().setUint32(badIov, 65000, true);
  g.view().setUint32(badIov + 4, 1000, true); // runs past the end of memory

  const cases: [string, ...(number | bigint)[]][] = [
    ['args_get', BAD, ok],
    ['args_sizes_get', BAD, ok],
    ['environ_get', ok, BAD],
    ['environ_sizes_get', ok, BAD],
    ['clock_res_get', 1, BAD],
    ['clock_time_get', 1, 0, BAD],
    ['clock_time_get', 1, 0, EDGE],
    ['fd_fdstat_get', 1, BAD],
    ['fd_filestat_get', fd, BAD],
    ['fd_filestat_get', fd, 65536 - 32],
    ['fd_prestat_get', 3, BAD],
    ['fd_prestat_dir_name', 3, BAD, 2],
    ['fd_read', fd, BAD, 1, ok],
    ['fd_read', fd, EDGE, 1024, ok], // past 1,024 only the first 1,024 are used (test/adversarial/wasi-counts.test.ts)
    ['fd_read', fd, badIov, 1, ok],
    ['fd_read', fd, ok, 0, BAD],
    ['fd_pread', fd, badIov, 1, 0, ok],
    ['fd_write', 1, badIov, 1, ok],
    ['fd_write', fd, badIov, 1, ok],
    ['fd_write', 1, ok, 0, BAD],
    ['fd_pwrite', fd, badIov, 1, 0, ok],
    ['fd_readdir', 3, BAD, 100, 0, ok],
    ['fd_readdir', 3, ok, 100000, 0, ok],
    ['fd_readdir', 3, ok, 10, 0, BAD],
    ['fd_seek', fd, 0, 0, BAD],
    ['fd_tell', fd, EDGE],
    ['path_open', 3, 1, BAD, 5, 0, READ, READ, 0, ok],
    ['path_open', 3, 1, path, pathLen, 0, READ, READ, 0, BAD],
    ['path_create_directory', 3, BAD, 4],
    ['path_filestat_get', 3, 1, path, pathLen, BAD],
    ['path_filestat_get', 3, 1, EDGE, 100, ok], // a length past 64 KiB is ENAMETOOLONG (test/adversarial/wasi-counts.test.ts)
    ['path_filestat_set_times', 3, 0, BAD, 3, 0, 0, 2],
    ['path_link', 3, 0, path, pathLen, 3, BAD, 3],
    ['path_readlink', 3, path, pathLen, BAD, 10, ok],
    ['path_remove_directory', 3, BAD, 1],
    ['path_rename', 3, path, pathLen, 3, BAD, 1],
    ['path_symlink', BAD, 3, 3, newPath, newPathLen],
    ['path_unlink_file', 3, BAD, 5],
    ['poll_oneoff', BAD, ok, 1, ok],
    ['poll_oneoff', ok, BAD, 1, ok],
    ['poll_oneoff', ok, ok, 4096, ok], // past 4,096 EINVAL, as above
    ['random_get', BAD, 16],
    ['random_get', ok, 0x7fffffff],
  ];
  for (const [name, ...args] of cases) {
    assert.equal(g.call(name, ...args), E.EFAULT, `${name}(${args.join(', ')})`);
  }
  // Nothing was created, and the fd that path_open could not report was never opened.
  assert.deepEqual(readdirSync(tmp.path).sort(), ['d', 'f.txt']);
  assert.equal(g.open(3, 'f.txt')[1], fd + 1);
});

test('a path that is not valid UTF-8 gives EILSEQ', async () => {
  const g = await startGuest({ mounts: [{ hostPath: tmp.path, guestPath: '/t', readOnly: false }] });
  const [p, l] = g.put(new Uint8Array([0x66, 0xff, 0xfe]));
  assert.equal(g.call('path_create_directory', 3, p, l), E.EILSEQ);
  const [q, m] = g.put('a\0b');
  assert.equal(g.call('path_create_directory', 3, q, m), E.EINVAL);
});

test('memory that grows during the run is seen at its new size', async () => {
  const g = await startGuest();
  const inNewPage = 65536 + 128;
  assert.equal(g.call('clock_time_get', 1, 0, inNewPage), E.EFAULT);
  assert.equal(g.call('grow', 1), 1);
  assert.equal(g.call('clock_time_get', 1, 0, inNewPage), E.SUCCESS);
  assert.ok(g.u64(inNewPage) > 0n);
});
