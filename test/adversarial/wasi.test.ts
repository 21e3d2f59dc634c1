// Escapes from a WASI mount that test/wasi/fs-sandbox.test.ts does not already try (it covers
// `..`, absolute paths, pre-existing links to files and directories outside, rename/link out
// of a mount, readlink of such links, and every write to a ro: mount): creating through a
// dangling link, every path operation through a linked directory outside, hard links and
// times through links, and what could hang or exhaust the host — link loops and chains, very
// deep and very long paths, opening files without end — run in a bounded child.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { runBounded } from '../helpers.js';
import { E, type Guest, OFLAGS, READ, startGuest, tempDir, WRITE } from '../wasi/guest.js';

let tmp: { path: string; cleanup: () => void };
let rw: string;
let outside: string;

beforeEach(() => {
  tmp = tempDir();
  rw = join(tmp.path, 'rw');
  outside = join(tmp.path, 'outside');
  mkdirSync(join(rw, 'sub'), { recursive: true });
  mkdirSync(join(outside, 'dir'), { recursive: true });
  writeFileSync(join(outside, 'secret.txt'), 'secret');
  writeFileSync(join(rw, 'mine.txt'), 'mine');
});
afterEach(() => tmp.cleanup());

const guest = (): Promise<Guest> => startGuest({ mounts: [{ hostPath: rw, guestPath: '/rw', readOnly: false }] });

/** Everything under `outside`, with sizes and times, to compare before and after. */
function snapshot(dir: string): string {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .sort()
    .map((name) => {
      const st = statSync(join(dir, name));
      return `${name} ${st.size} ${st.mtimeMs}`;
    })
    .join('\n');
}

describe('WASI escapes through links', () => {
  it('does not create a file through a dangling link that points outside', async () => {
    symlinkSync('../outside/created.txt', join(rw, 'dangling'));
    symlinkSync(join(outside, 'created-abs.txt'), join(rw, 'dangling-abs'));
    const g = await guest();
    for (const path of ['dangling', 'dangling-abs']) {
      assert.equal(g.open(3, path, { oflags: OFLAGS.CREAT, rights: WRITE })[0], E.ENOTCAPABLE, path);
      assert.equal(g.open(3, path, { oflags: OFLAGS.CREAT | OFLAGS.EXCL, rights: WRITE, follow: false })[0], E.EEXIST, path);
    }
    assert.deepEqual(readdirSync(outside).sort(), ['dir', 'secret.txt']);
  });

  it('refuses every path operation through a linked directory outside, and leaves it untouched', async () => {
    symlinkSync('../outside', join(rw, 'out'));
    symlinkSync(outside, join(rw, 'out-abs'));
    const before = snapshot(outside);
    const g = await guest();
    const two = (name: string, fdA: number, a: string, fdB: number, b: string, flags?: number): number => {
      const [pa, la] = g.put(a);
      const [pb, lb] = g.put(b);
      return flags === undefined ? g.call(name, fdA, pa, la, fdB, pb, lb) : g.call(name, fdA, flags, pa, la, fdB, pb, lb);
    };
    for (const link of ['out', 'out-abs']) {
      const attempts: [string, () => number][] = [
        ['open for reading', () => g.open(3, `${link}/secret.txt`, { rights: READ })[0]],
        ['open for writing', () => g.open(3, `${link}/secret.txt`, { rights: WRITE })[0]],
        ['create', () => g.open(3, `${link}/new.txt`, { oflags: OFLAGS.CREAT, rights: WRITE })[0]],
        ['open the directory', () => g.open(3, `${link}/dir`, { oflags: OFLAGS.DIRECTORY })[0]],
        ['mkdir', () => g.pathCall('path_create_directory', 3, `${link}/made`)],
        ['unlink', () => g.pathCall('path_unlink_file', 3, `${link}/secret.txt`)],
        ['rmdir', () => g.pathCall('path_remove_directory', 3, `${link}/dir`)],
        ['rename out', () => two('path_rename', 3, 'mine.txt', 3, `${link}/moved.txt`)],
        ['rename in', () => two('path_rename', 3, `${link}/secret.txt`, 3, 'stolen.txt')],
        ['hard link out', () => two('path_link', 3, 'mine.txt', 3, `${link}/linked.txt`, 0)],
        ['hard link in', () => two('path_link', 3, `${link}/secret.txt`, 3, 'stolen.txt', 0)],
        ['hard link through the link', () => two('path_link', 3, link, 3, 'stolen', 1)],
        [
          'symlink placed outside',
          () => {
            const [a, b] = g.put('mine.txt');
            const [c, d] = g.put(`${link}/planted`);
            return g.call('path_symlink', a, b, 3, c, d);
          },
        ],
        [
          'set times',
          () => {
            const [a, b] = g.put(`${link}/secret.txt`);
            return g.call('path_filestat_set_times', 3, 1, a, b, 0, 0, 2 | 8);
          },
        ],
        [
          'stat',
          () => {
            const [a, b] = g.put(`${link}/secret.txt`);
            return g.call('path_filestat_get', 3, 1, a, b, g.alloc(64));
          },
        ],
      ];
      for (const [what, attempt] of attempts) assert.equal(attempt(), E.ENOTCAPABLE, `${what} through ${link}`);
    }
    assert.equal(snapshot(outside), before);
    assert.equal(readFileSync(join(rw, 'mine.txt'), 'utf8'), 'mine');
    assert.equal(existsSync(join(rw, 'stolen.txt')), false);
  });
});

describe('WASI inputs that could hang or exhaust the host (in a bounded child)', () => {
  it('ends link loops, long link chains, deep and long paths, and endless opens with an errno, on the disk and in memory', async () => {
    const guestUrl = new URL('../wasi/guest.js', import.meta.url).href;
    const treesUrl = new URL('../wasi/trees.js', import.meta.url).href;
    const script = `
      const assert = (await import('node:assert/strict')).default;
      const { join } = await import('node:path');
      const { E, READ, startGuest } = await import(${JSON.stringify(guestUrl)});
      const { TREES } = await import(${JSON.stringify(treesUrl)});
      const opens = {};
      for (const [kind, makeTree] of TREES) {
        const tmp = makeTree();
        try {
          const rw = join(tmp.path, 'rw');
          tmp.mkdirSync(join(rw, 'a'), { recursive: true });
          tmp.writeFileSync(join(rw, 'file.txt'), 'x');
          tmp.symlinkSync('self', join(rw, 'self'));
          tmp.symlinkSync('../a/loop', join(rw, 'a', 'loop'));
          tmp.symlinkSync('ping', join(rw, 'pong'));
          tmp.symlinkSync('pong', join(rw, 'ping'));
          tmp.symlinkSync('.', join(rw, 'dot'));
          // a chain of 100 links, each to the next, the last to the file
          for (let i = 0; i < 100; i++) tmp.symlinkSync(i === 99 ? 'file.txt' : 'chain' + (i + 1), join(rw, 'chain' + i));
          const g = await startGuest({ fs: tmp.fs, mounts: [{ hostPath: rw, guestPath: '/rw', readOnly: false }] });
          g.call('grow', 99); // room for the long paths below
          for (const path of ['self', 'a/loop', 'ping', 'pong/x', 'self/x', 'chain0']) assert.equal(g.open(3, path)[0], E.ELOOP, kind + ': ' + path);
          assert.equal(g.open(3, 'chain60')[0], E.SUCCESS, kind + ': a chain within the hop limit resolves');
          // links through "." that never end: each hop counts
          assert.equal(g.open(3, 'dot/'.repeat(5000) + 'file.txt')[0], E.ELOOP, kind);
          assert.equal(g.open(3, 'a/'.repeat(20000) + 'x')[0], E.ENOENT, kind);
          assert.equal(g.open(3, 'a/../'.repeat(13000) + 'file.txt')[0], E.SUCCESS, kind);
          assert.equal(g.open(3, 'a/../'.repeat(20000) + 'file.txt')[0], E.ENAMETOOLONG, kind, 'past 64 KiB');
          assert.equal(g.open(3, '../'.repeat(20000))[0], E.ENOTCAPABLE, kind);
          // one name of a megabyte
          assert.equal(g.open(3, 'x'.repeat(1 << 20))[0], E.ENAMETOOLONG, kind);
          // opening without end stops at a limit, and closing makes room again
          let opened = 0;
          let errno = 0;
          while (opened < 1_000_000) {
            const [e] = g.open(3, 'file.txt', { rights: READ });
            if (e !== 0) { errno = e; break; }
            opened++;
          }
          assert.ok(opened < 1_000_000, kind + ': the guest opened a million files');
          assert.equal(errno, 33 /* EMFILE */, kind);
          assert.equal(g.call('fd_close', 10), E.SUCCESS);
          assert.equal(g.open(3, 'file.txt', { rights: READ })[0], E.SUCCESS, kind);
          opens[kind] = opened;
        } finally {
          tmp.cleanup();
        }
      }
      console.log(JSON.stringify(opens));`;
    const run = await runBounded(script, { timeoutMs: 90_000, maxRssMb: 600 });
    const opens = JSON.parse(run.stdout) as Record<string, number>;
    assert.deepEqual(Object.keys(opens), ['node:fs', 'in memory']);
    for (const [kind, opened] of Object.entries(opens)) assert.ok(opened > 100, `${kind}: ${opened}`);
  });
});
