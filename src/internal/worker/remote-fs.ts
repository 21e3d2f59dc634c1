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
    const [handle, bytes, position] = rest as [number, ArrayBuffer, number];
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
