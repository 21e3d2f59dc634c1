// A file system that lives on the host thread (the `wasiFileSystem` option, in memory), reached
// from a plug-in's worker: each HostFileSystem call of the worker's WASI is a host call (index
// FS_INDEX) that the host thread answers at once, synchronously, on the files it holds. So the
// guest in the worker and the application share one tree, as they do on the host thread.
import type { HostFileSystem } from '../wasi/host-fs.js';

/** Bytes moved per host call by a read or a write: a guest's 1 GiB read does not make a 1 GiB message. */
export const REMOTE_FS_CHUNK = 1 << 20;

/** The HostFileSystem methods a worker may call (anything else it names is refused). */
const METHODS = new Set<string>([
  'realpath',
  'lstat',
  'open',
  'close',
  'fstat',
  'read',
  'write',
  'truncate',
  'sync',
  'datasync',
  'futimes',
  'utimes',
  'readdir',
  'mkdir',
  'rmdir',
  'unlink',
  'rename',
  'link',
  'symlink',
  'readlink',
  'isValidName',
]);

/**
 * On the host thread: perform a worker's call `[method, ...args]` on `fs`. `read` takes a length
 * instead of a buffer and returns the bytes read; `write` takes the bytes. Throws what `fs`
 * throws (its POSIX `code` travels with the error, and becomes the guest's errno there).
 */
export function serveFileSystem(fs: HostFileSystem, args: readonly unknown[]): unknown {
  const [method, ...rest] = args;
  if (typeof method !== 'string' || !METHODS.has(method)) throw new TypeError(`internal: no file-system method ${String(method)}`);
  if (method === 'read') {
    const [handle, length, position] = rest as [number, number, number];
    const wanted = typeof length === 'number' && Number.isFinite(length) ? Math.trunc(length) : 0;
    const buffer = new Uint8Array(Math.min(Math.max(0, wanted), REMOTE_FS_CHUNK));
    const n = fs.read(handle, buffer, position);
    return buffer.slice(0, n).buffer;
  }
  if (method === 'write') {
    const [handle, bytes, position] = rest as [number, unknown, number];
    // anything but bytes (a number would make a buffer of that size) is refused
    if (!(bytes instanceof ArrayBuffer)) throw new TypeError('internal: a file-system write without bytes');
    return fs.write(handle, new Uint8Array(bytes), position);
  }
  return (fs[method as keyof HostFileSystem] as (...a: unknown[]) => unknown).apply(fs, rest);
}

/** In the worker: a HostFileSystem whose every call is `call([method, ...args])` on the host thread. */
export function remoteFileSystem(call: (args: unknown[]) => unknown): HostFileSystem {
  const forward =
    <T>(method: string) =>
    (...args: unknown[]): T =>
      call([method, ...args]) as T;
  return {
    realpath: forward('realpath'),
    lstat: forward('lstat'),
    open: forward('open'),
    close: forward('close'),
    fstat: forward('fstat'),
    read(handle, buffer, position) {
      let done = 0;
      while (done < buffer.length) {
        const chunk = new Uint8Array(call(['read', handle, Math.min(buffer.length - done, REMOTE_FS_CHUNK), position + done]) as ArrayBuffer);
        buffer.set(chunk, done);
        done += chunk.length;
        if (chunk.length === 0) break;
      }
      return done;
    },
    write(handle, buffer, position) {
      let done = 0;
      while (done < buffer.length) {
        const piece = buffer.slice(done, done + REMOTE_FS_CHUNK);
        const n = call(['write', handle, piece.buffer, position + done]) as number;
        done += n;
        if (n < piece.length) break;
      }
      return done;
    },
    truncate: forward('truncate'),
    sync: forward('sync'),
    datasync: forward('datasync'),
    futimes: forward('futimes'),
    utimes: forward('utimes'),
    readdir: forward('readdir'),
    mkdir: forward('mkdir'),
    rmdir: forward('rmdir'),
    unlink: forward('unlink'),
    rename: forward('rename'),
    link: forward('link'),
    symlink: forward('symlink'),
    readlink: forward('readlink'),
    // Answered here, not by a round trip per path component: the host thread's file system is
    // the in-memory one (the only `wasiFileSystem` there is), which takes every name the WASI
    // layer lets through.
    isValidName: () => true,
  };
}

/** A file system as a worker may use it, and what it left open. */
export interface ConfinedFileSystem extends HostFileSystem {
  /** Close every handle the worker opened and did not close: a worker that is ended or dies must not keep files (and the cap they count in) alive. */
  closeAll(): void;
}

/** What a worker's WASI mounts: a directory of the host thread's file system, read-only or not. */
export interface ConfinedMount {
  readonly hostPath: string;
  readonly readOnly: boolean;
}

function refused(code: string, what: string): Error {
  return Object.assign(new Error(`${code}: a plug-in's worker asked for ${what}`), { code });
}

const isHandle = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
const isOffset = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isTime = (value: unknown): boolean => value === undefined || value === 'now' || typeof value === 'bigint';

/**
 * On the host thread: `fs` as a worker may use it. The worker runs the plug-in, so nothing it
 * sends is taken on trust: the WASI layer that keeps a guest inside its mounts runs in the
 * worker, and here every path must lie, symlink-free, inside one of `mounts` (writes only in a
 * writable one), every handle must be one this worker opened, and every other argument must
 * have its type. Without this a worker could reach the whole tree the application shares
 * between plug-ins, write through a read-only mount, or use another plug-in's open files.
 */
export function confineFileSystem(fs: HostFileSystem, mounts: readonly ConfinedMount[]): ConfinedFileSystem {
  const roots: { root: string; readOnly: boolean }[] = [];
  for (const mount of mounts) {
    try {
      roots.push({ root: fs.realpath(mount.hostPath), readOnly: mount.readOnly });
    } catch {
      // a mount the file system lacks fails when the worker's WASI is made, as it does here
    }
  }
  // the innermost mount decides (a read-only mount inside a writable one stays read-only)
  roots.sort((a, b) => b.root.length - a.root.length);
  const mountOf = (path: string) => roots.find(({ root }) => path === root || path.startsWith(root === '/' ? '/' : `${root}/`));
  const handles = new Set<number>();

  /** Checks `path` and returns it: absolute, canonical, inside a mount, its directory free of symlinks; the object itself is followed when `follow`. */
  const checked = (path: unknown, write: boolean, follow = false): string => {
    if (typeof path !== 'string' || !path.startsWith('/') || path.includes('\0'))
      throw refused('EINVAL', `a path that is not one (${String(path).slice(0, 100)})`);
    const components = path.split('/').slice(1);
    if (path !== '/' && components.some((c) => c === '' || c === '.' || c === '..')) throw refused('ENOTCAPABLE', `a path that is not canonical: ${path}`);
    const mount = mountOf(path);
    if (mount === undefined) throw refused('ENOTCAPABLE', `${path}, outside its mounts`);
    if (write && mount.readOnly) throw refused('EROFS', `a change to ${path}, in a read-only mount`);
    if (path !== mount.root) {
      const parent = path.slice(0, path.lastIndexOf('/')) || '/';
      if (fs.realpath(parent) !== parent) throw refused('ENOTCAPABLE', `${path}, through a symlink`);
    }
    if (follow) {
      let real: string | undefined;
      try {
        real = fs.realpath(path);
      } catch {
        // nothing there: the operation reports it
      }
      if (real !== undefined && mountOf(real)?.root !== mount.root) throw refused('ENOTCAPABLE', `${path}, which leads out of its mount`);
    }
    return path;
  };
  const handle = (value: unknown): number => {
    if (!isHandle(value) || !handles.has(value)) throw refused('EBADF', `file handle ${String(value)}, which it did not open`);
    return value;
  };
  const offset = (value: unknown): number => {
    if (!isOffset(value)) throw refused('EINVAL', `offset ${String(value)}`);
    return value;
  };
  const times = (atime: unknown, mtime: unknown): void => {
    if (!isTime(atime) || !isTime(mtime)) throw refused('EINVAL', 'times that are not times');
  };

  return {
    realpath: (path) => {
      const real = fs.realpath(checked(path, false, true));
      if (mountOf(real) === undefined) throw refused('ENOTCAPABLE', `${path}, which leads out of its mounts`);
      return real;
    },
    lstat: (path) => fs.lstat(checked(path, false)),
    open(path, flags) {
      if (typeof flags !== 'object' || flags === null || Object.values(flags).some((f) => typeof f !== 'boolean'))
        throw refused('EINVAL', 'open flags that are not flags');
      const opened = fs.open(checked(path, flags.write || flags.create || flags.truncate), {
        read: flags.read,
        write: flags.write,
        create: flags.create,
        exclusive: flags.exclusive,
        truncate: flags.truncate,
      });
      handles.add(opened);
      return opened;
    },
    close(h) {
      fs.close(handle(h));
      handles.delete(h);
    },
    fstat: (h) => fs.fstat(handle(h)),
    read: (h, buffer, position) => fs.read(handle(h), buffer, offset(position)),
    write: (h, buffer, position) => fs.write(handle(h), buffer, offset(position)),
    truncate: (h, size) => fs.truncate(handle(h), offset(size)),
    sync: (h) => fs.sync(handle(h)),
    datasync: (h) => fs.datasync(handle(h)),
    futimes(h, atime, mtime) {
      times(atime, mtime);
      fs.futimes(handle(h), atime, mtime);
    },
    utimes(path, atime, mtime, follow) {
      times(atime, mtime);
      fs.utimes(checked(path, true, follow === true), atime, mtime, follow === true);
    },
    readdir: (path) => fs.readdir(checked(path, false, true)),
    mkdir: (path) => fs.mkdir(checked(path, true)),
    rmdir: (path) => fs.rmdir(checked(path, true)),
    unlink: (path) => fs.unlink(checked(path, true)),
    rename: (from, to) => fs.rename(checked(from, true), checked(to, true)),
    link: (existing, path) => fs.link(checked(existing, true), checked(path, true)),
    symlink(target, path) {
      if (typeof target !== 'string') throw refused('EINVAL', 'a symlink target that is not a string');
      fs.symlink(target, checked(path, true));
    },
    readlink: (path) => fs.readlink(checked(path, false)),
    isValidName: (name) => typeof name === 'string' && fs.isValidName(name),
    closeAll() {
      for (const h of handles) {
        try {
          fs.close(h);
        } catch {
          // already gone from the file system: nothing to give back
        }
      }
      handles.clear();
    },
  };
}
