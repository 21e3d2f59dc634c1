/**
 * WASI preview 1 enumerations, flag sets and struct layouts used by more than one spec area.
 *
 * @module
 */
import { Errno, fail } from './errno.js';
import type { HostFileType, HostStat } from './host-fs.js';
import type { GuestMemory } from './memory.js';

/** witx `filetype`. */
export const Filetype = {
  UNKNOWN: 0,
  BLOCK_DEVICE: 1,
  CHARACTER_DEVICE: 2,
  DIRECTORY: 3,
  REGULAR_FILE: 4,
  SOCKET_DGRAM: 5,
  SOCKET_STREAM: 6,
  SYMBOLIC_LINK: 7,
} as const;

/** witx `rights` bits. */
export const Rights = {
  FD_DATASYNC: 1n << 0n,
  FD_READ: 1n << 1n,
  FD_SEEK: 1n << 2n,
  FD_FDSTAT_SET_FLAGS: 1n << 3n,
  FD_SYNC: 1n << 4n,
  FD_TELL: 1n << 5n,
  FD_WRITE: 1n << 6n,
  FD_ADVISE: 1n << 7n,
  FD_ALLOCATE: 1n << 8n,
  PATH_CREATE_DIRECTORY: 1n << 9n,
  PATH_CREATE_FILE: 1n << 10n,
  PATH_LINK_SOURCE: 1n << 11n,
  PATH_LINK_TARGET: 1n << 12n,
  PATH_OPEN: 1n << 13n,
  FD_READDIR: 1n << 14n,
  PATH_READLINK: 1n << 15n,
  PATH_RENAME_SOURCE: 1n << 16n,
  PATH_RENAME_TARGET: 1n << 17n,
  PATH_FILESTAT_GET: 1n << 18n,
  PATH_FILESTAT_SET_SIZE: 1n << 19n,
  PATH_FILESTAT_SET_TIMES: 1n << 20n,
  FD_FILESTAT_GET: 1n << 21n,
  FD_FILESTAT_SET_SIZE: 1n << 22n,
  FD_FILESTAT_SET_TIMES: 1n << 23n,
  PATH_SYMLINK: 1n << 24n,
  PATH_REMOVE_DIRECTORY: 1n << 25n,
  PATH_UNLINK_FILE: 1n << 26n,
  POLL_FD_READWRITE: 1n << 27n,
  SOCK_SHUTDOWN: 1n << 28n,
  SOCK_ACCEPT: 1n << 29n,
} as const;

/** Rights that let an fd change file contents; the mark of a write open. */
export const WRITE_RIGHTS = Rights.FD_WRITE | Rights.FD_ALLOCATE | Rights.FD_FILESTAT_SET_SIZE;

/** Rights that make sense on a regular file. */
export const FILE_RIGHTS =
  Rights.FD_DATASYNC |
  Rights.FD_READ |
  Rights.FD_SEEK |
  Rights.FD_FDSTAT_SET_FLAGS |
  Rights.FD_SYNC |
  Rights.FD_TELL |
  Rights.FD_WRITE |
  Rights.FD_ADVISE |
  Rights.FD_ALLOCATE |
  Rights.FD_FILESTAT_GET |
  Rights.FD_FILESTAT_SET_SIZE |
  Rights.FD_FILESTAT_SET_TIMES |
  Rights.POLL_FD_READWRITE;

/** Rights that make sense on a directory. */
export const DIRECTORY_RIGHTS =
  Rights.FD_FDSTAT_SET_FLAGS |
  Rights.FD_SYNC |
  Rights.FD_ADVISE |
  Rights.PATH_CREATE_DIRECTORY |
  Rights.PATH_CREATE_FILE |
  Rights.PATH_LINK_SOURCE |
  Rights.PATH_LINK_TARGET |
  Rights.PATH_OPEN |
  Rights.FD_READDIR |
  Rights.PATH_READLINK |
  Rights.PATH_RENAME_SOURCE |
  Rights.PATH_RENAME_TARGET |
  Rights.PATH_FILESTAT_GET |
  Rights.PATH_FILESTAT_SET_SIZE |
  Rights.PATH_FILESTAT_SET_TIMES |
  Rights.FD_FILESTAT_GET |
  Rights.FD_FILESTAT_SET_TIMES |
  Rights.PATH_SYMLINK |
  Rights.PATH_REMOVE_DIRECTORY |
  Rights.PATH_UNLINK_FILE;

/**
 * Rights that change the file system. A read-only mount neither advertises nor grants them,
 * so a guest that asks for every right it may have (as wasi-libc does with the inheriting
 * rights of a directory) is given a read-only fd instead of EROFS.
 */
export const MUTATING_RIGHTS =
  WRITE_RIGHTS |
  Rights.FD_FILESTAT_SET_TIMES |
  Rights.PATH_CREATE_DIRECTORY |
  Rights.PATH_CREATE_FILE |
  Rights.PATH_LINK_SOURCE |
  Rights.PATH_LINK_TARGET |
  Rights.PATH_RENAME_SOURCE |
  Rights.PATH_RENAME_TARGET |
  Rights.PATH_FILESTAT_SET_SIZE |
  Rights.PATH_FILESTAT_SET_TIMES |
  Rights.PATH_SYMLINK |
  Rights.PATH_REMOVE_DIRECTORY |
  Rights.PATH_UNLINK_FILE;

/** witx `fdflags`. */
export const Fdflags = { APPEND: 1, DSYNC: 2, NONBLOCK: 4, RSYNC: 8, SYNC: 16 } as const;

/** witx `oflags`. */
export const Oflags = { CREAT: 1, DIRECTORY: 2, EXCL: 4, TRUNC: 8 } as const;

/** witx `lookupflags`. */
export const LOOKUP_SYMLINK_FOLLOW = 1;

/** witx `fstflags`. */
export const Fstflags = { ATIM: 1, ATIM_NOW: 2, MTIM: 4, MTIM_NOW: 8 } as const;

/** witx `whence`. */
export const Whence = { SET: 0, CUR: 1, END: 2 } as const;

/** witx `clockid`. */
export const Clockid = { REALTIME: 0, MONOTONIC: 1, PROCESS_CPUTIME: 2, THREAD_CPUTIME: 3 } as const;

/** WASI filetype of a host object kind. */
export function filetypeOf(type: HostFileType): number {
  switch (type) {
    case 'file':
      return Filetype.REGULAR_FILE;
    case 'directory':
      return Filetype.DIRECTORY;
    case 'symlink':
      return Filetype.SYMBOLIC_LINK;
    case 'character-device':
      return Filetype.CHARACTER_DEVICE;
    case 'block-device':
      return Filetype.BLOCK_DEVICE;
    case 'socket':
      return Filetype.SOCKET_STREAM;
    default:
      return Filetype.UNKNOWN;
  }
}

/** Size of a `filestat` in guest memory. */
const FILESTAT_SIZE = 64;

/** Write a witx `filestat` (64 bytes) at `ptr`; the caller has checked nothing yet. */
export function writeFilestat(memory: GuestMemory, ptr: number, stat: HostStat, filetype = filetypeOf(stat.type)): void {
  const view = memory.view(ptr, FILESTAT_SIZE);
  const p = ptr >>> 0;
  view.setBigUint64(p, stat.dev, true);
  view.setBigUint64(p + 8, stat.ino, true);
  view.setUint8(p + 16, filetype);
  for (let i = 17; i < 24; i++) view.setUint8(p + i, 0);
  view.setBigUint64(p + 24, stat.nlink, true);
  view.setBigUint64(p + 32, stat.size, true);
  view.setBigUint64(p + 40, stat.atimeNs, true);
  view.setBigUint64(p + 48, stat.mtimeNs, true);
  view.setBigUint64(p + 56, stat.ctimeNs, true);
}

/** A WASI u64 (arrives from wasm as a signed BigInt) as a safe JS number; EINVAL beyond 2^53. */
export function u64ToNumber(value: bigint | number, errno: number = Errno.EINVAL): number {
  const v = BigInt.asUintN(64, BigInt(value));
  if (v > MAX_SAFE) fail(errno);
  return Number(v);
}
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
