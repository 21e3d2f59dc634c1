/**
 * The fd table and the `fd_*` functions: read, write, seek, stat, close, readdir, prestat.
 *
 * @module
 */
import { Fdflags, Fstflags, Rights, u64ToNumber, Whence, writeFilestat } from './constants.js';
import type { WasiContext, WasiFunction } from './context.js';
import { type Descriptor, DirectoryDescriptor, FileDescriptor } from './descriptor.js';
import { Errno, fail } from './errno.js';
import type { HostTime } from './host-fs.js';

/** The atime/mtime a `fstflags` value asks for (undefined: leave unchanged); EINVAL on contradictory flags. */
export function timesFromFlags(atim: bigint, mtim: bigint, flags: number): [HostTime | undefined, HostTime | undefined] {
  if (flags & ~0xf) fail(Errno.EINVAL);
  if (flags & Fstflags.ATIM && flags & Fstflags.ATIM_NOW) fail(Errno.EINVAL);
  if (flags & Fstflags.MTIM && flags & Fstflags.MTIM_NOW) fail(Errno.EINVAL);
  const a = flags & Fstflags.ATIM_NOW ? 'now' : flags & Fstflags.ATIM ? BigInt.asUintN(64, atim) : undefined;
  const m = flags & Fstflags.MTIM_NOW ? 'now' : flags & Fstflags.MTIM ? BigInt.asUintN(64, mtim) : undefined;
  return [a, m];
}

function readable(d: Descriptor): void {
  if (d instanceof DirectoryDescriptor) fail(Errno.EISDIR);
  if ((d.rightsBase & Rights.FD_READ) === 0n) fail(Errno.EBADF);
}

/** Refuse content changes: read-only mount first, so the guest learns why. */
function writable(d: Descriptor, right: bigint = Rights.FD_WRITE): void {
  if (d instanceof DirectoryDescriptor) fail(Errno.EISDIR);
  if (d.mount?.readOnly) fail(Errno.EROFS);
  if ((d.rightsBase & right) === 0n) fail(Errno.EBADF);
}

function syncAfterWrite(d: Descriptor): void {
  if (d.fdflags & (Fdflags.SYNC | Fdflags.RSYNC)) d.sync(false);
  else if (d.fdflags & Fdflags.DSYNC) d.sync(true);
}

const DIRENT_HEADER = 24;

/** The `fd_*` imports. */
export function fdFunctions(ctx: WasiContext): Record<string, WasiFunction> {
  const { memory, fds } = ctx;

  /** fd_read, and fd_pread when `offset` is given (files only: a stream has no position). */
  function read(fd: number, iovs: number, iovsLen: number, nreadPtr: number, offset?: bigint): number {
    const d = fds.get(fd);
    readable(d);
    if (offset !== undefined && !(d instanceof FileDescriptor)) fail(Errno.ESPIPE);
    memory.check(nreadPtr, 4);
    const n = d.read(memory.iovecs(iovs, iovsLen), offset === undefined ? undefined : u64ToNumber(offset));
    memory.setU32(nreadPtr, n);
    return Errno.SUCCESS;
  }

  /** fd_write, and fd_pwrite when `offset` is given. */
  function write(fd: number, iovs: number, iovsLen: number, nwrittenPtr: number, offset?: bigint): number {
    const d = fds.get(fd);
    writable(d);
    if (offset !== undefined && !(d instanceof FileDescriptor)) fail(Errno.ESPIPE);
    memory.check(nwrittenPtr, 4);
    const n = d.write(memory.iovecs(iovs, iovsLen), offset === undefined ? undefined : u64ToNumber(offset));
    syncAfterWrite(d);
    memory.setU32(nwrittenPtr, n);
    return Errno.SUCCESS;
  }

  return {
    fd_advise(fd: number, _offset: bigint, _len: bigint, advice: number): number {
      const d = fds.get(fd);
      if (d instanceof DirectoryDescriptor) fail(Errno.EBADF);
      if (advice >>> 0 > 5) fail(Errno.EINVAL);
      // Advice is a hint; ignoring it is always correct.
      return Errno.SUCCESS;
    },

    fd_allocate(fd: number, offset: bigint, len: bigint): number {
      const d = fds.get(fd);
      writable(d, Rights.FD_ALLOCATE);
      const end = BigInt.asUintN(64, offset) + BigInt.asUintN(64, len);
      if (end > d.stat().size) d.truncate(u64ToNumber(end, Errno.EFBIG));
      return Errno.SUCCESS;
    },

    fd_close(fd: number): number {
      fds.remove(fd).close();
      return Errno.SUCCESS;
    },

    fd_datasync(fd: number): number {
      fds.get(fd).sync(true);
      return Errno.SUCCESS;
    },

    fd_sync(fd: number): number {
      fds.get(fd).sync(false);
      return Errno.SUCCESS;
    },

    fd_fdstat_get(fd: number, ptr: number): number {
      const d = fds.get(fd);
      const view = memory.view(ptr, 24);
      const p = ptr >>> 0;
      view.setUint8(p, d.filetype);
      view.setUint8(p + 1, 0);
      view.setUint16(p + 2, d.fdflags, true);
      view.setUint32(p + 4, 0, true);
      view.setBigUint64(p + 8, d.rightsBase, true);
      view.setBigUint64(p + 16, d.rightsInheriting, true);
      return Errno.SUCCESS;
    },

    fd_fdstat_set_flags(fd: number, flags: number): number {
      const d = fds.get(fd);
      if (flags & ~0x1f) fail(Errno.EINVAL);
      if ((d.rightsBase & Rights.FD_FDSTAT_SET_FLAGS) === 0n) fail(Errno.ENOTCAPABLE);
      d.fdflags = flags & 0xffff;
      return Errno.SUCCESS;
    },

    fd_fdstat_set_rights(fd: number, base: bigint, inheriting: bigint): number {
      const d = fds.get(fd);
      const b = BigInt.asUintN(64, base);
      const i = BigInt.asUintN(64, inheriting);
      // Rights can only be dropped, never gained.
      if ((b & ~d.rightsBase) !== 0n || (i & ~d.rightsInheriting) !== 0n) fail(Errno.ENOTCAPABLE);
      d.rightsBase = b;
      d.rightsInheriting = i;
      return Errno.SUCCESS;
    },

    fd_filestat_get(fd: number, ptr: number): number {
      const d = fds.get(fd);
      memory.check(ptr, 64);
      writeFilestat(memory, ptr, d.stat(), d.filetype);
      return Errno.SUCCESS;
    },

    fd_filestat_set_size(fd: number, size: bigint): number {
      const d = fds.get(fd);
      writable(d, Rights.FD_FILESTAT_SET_SIZE);
      d.truncate(u64ToNumber(size, Errno.EFBIG));
      return Errno.SUCCESS;
    },

    fd_filestat_set_times(fd: number, atim: bigint, mtim: bigint, flags: number): number {
      const d = fds.get(fd);
      const [a, m] = timesFromFlags(atim, mtim, flags);
      if (d.mount?.readOnly) fail(Errno.EROFS);
      if (d.mount === undefined) fail(Errno.EBADF);
      d.setTimes(a, m);
      return Errno.SUCCESS;
    },

    fd_read: (fd: number, iovs: number, iovsLen: number, nreadPtr: number): number => read(fd, iovs, iovsLen, nreadPtr),

    fd_pread: (fd: number, iovs: number, iovsLen: number, offset: bigint, nreadPtr: number): number => read(fd, iovs, iovsLen, nreadPtr, offset),

    fd_write: (fd: number, iovs: number, iovsLen: number, nwrittenPtr: number): number => write(fd, iovs, iovsLen, nwrittenPtr),

    fd_pwrite: (fd: number, iovs: number, iovsLen: number, offset: bigint, nwrittenPtr: number): number => write(fd, iovs, iovsLen, nwrittenPtr, offset),

    fd_seek(fd: number, offset: bigint, whence: number, newOffsetPtr: number): number {
      const d = fds.get(fd);
      memory.check(newOffsetPtr, 8);
      // Seeking (not telling) needs FD_SEEK; a zero move from the current offset is a tell.
      const isTell = whence === Whence.CUR && offset === 0n;
      if ((d.rightsBase & (isTell ? Rights.FD_TELL | Rights.FD_SEEK : Rights.FD_SEEK)) === 0n && d instanceof FileDescriptor) {
        fail(Errno.ENOTCAPABLE);
      }
      memory.setU64(newOffsetPtr, BigInt(d.seek(BigInt.asIntN(64, BigInt(offset)), whence)));
      return Errno.SUCCESS;
    },

    fd_tell(fd: number, offsetPtr: number): number {
      const d = fds.get(fd);
      memory.check(offsetPtr, 8);
      memory.setU64(offsetPtr, BigInt(d.seek(0n, Whence.CUR)));
      return Errno.SUCCESS;
    },

    fd_readdir(fd: number, buf: number, bufLen: number, cookie: bigint, bufusedPtr: number): number {
      const d = fds.directory(fd);
      if ((d.rightsBase & Rights.FD_READDIR) === 0n) fail(Errno.ENOTCAPABLE);
      const target = memory.bytes(buf, bufLen);
      memory.check(bufusedPtr, 4);
      const start = BigInt.asUintN(64, cookie);
      if (start === 0n || d.listing === undefined) d.listing = d.list();
      const listing = d.listing;
      const header = new Uint8Array(DIRENT_HEADER);
      const headerView = new DataView(header.buffer);
      let used = 0;
      for (let i = start < BigInt(listing.length) ? Number(start) : listing.length; i < listing.length; i++) {
        if (used >= target.byteLength) break;
        const entry = listing[i]!;
        headerView.setBigUint64(0, BigInt(i + 1), true);
        headerView.setBigUint64(8, entry.ino, true);
        headerView.setUint32(16, entry.name.byteLength, true);
        headerView.setUint8(20, entry.filetype);
        // A last entry that does not fit is cut short: the spec's signal that the guest should call again with a larger buffer.
        const headerPart = Math.min(DIRENT_HEADER, target.byteLength - used);
        target.set(header.subarray(0, headerPart), used);
        used += headerPart;
        const namePart = Math.min(entry.name.byteLength, target.byteLength - used);
        target.set(entry.name.subarray(0, namePart), used);
        used += namePart;
      }
      memory.setU32(bufusedPtr, used);
      return Errno.SUCCESS;
    },

    fd_renumber(from: number, to: number): number {
      fds.renumber(from, to);
      return Errno.SUCCESS;
    },

    fd_prestat_get(fd: number, ptr: number): number {
      const d = fds.get(fd);
      if (!(d instanceof DirectoryDescriptor) || d.preopenName === undefined) fail(Errno.EBADF);
      const view = memory.view(ptr, 8);
      const p = ptr >>> 0;
      view.setUint32(p, 0, true); // tag 0: a directory (the only kind), padding zeroed
      view.setUint32(p + 4, d.preopenName.byteLength, true);
      return Errno.SUCCESS;
    },

    fd_prestat_dir_name(fd: number, ptr: number, len: number): number {
      const d = fds.get(fd);
      if (!(d instanceof DirectoryDescriptor) || d.preopenName === undefined) fail(Errno.EBADF);
      if (len >>> 0 < d.preopenName.byteLength) fail(Errno.ENAMETOOLONG);
      memory.write(ptr, d.preopenName);
      return Errno.SUCCESS;
    },
  };
}
