/**
 * The file-system operations the WASI implementation needs from its platform. The Node adapter
 * (`../platform/node/wasi-fs.ts`) implements them with synchronous `node:fs` calls; a browser build
 * can supply an in-memory one. Every method is synchronous because WASI imports are called
 * synchronously from wasm.
 *
 * Contract for implementers:
 * - paths are absolute host paths built by the WASI layer after its own sandbox checks;
 *   implementations must not resolve them against anything else;
 * - failures throw an object whose `code` is a POSIX error name (`'ENOENT'`, `'EEXIST'`, ...),
 *   which the WASI layer maps to a WASI errno; anything else propagates to the host.
 *
 * @module
 */

/** Kind of a host file-system object. */
export type HostFileType = 'file' | 'directory' | 'symlink' | 'character-device' | 'block-device' | 'socket' | 'fifo' | 'unknown';

/** Metadata of a host object, with nanosecond times. */
export interface HostStat {
  type: HostFileType;
  dev: bigint;
  ino: bigint;
  nlink: bigint;
  size: bigint;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** One entry of a directory listing (without `.` and `..`). */
export interface HostDirEntry {
  name: string;
  type: HostFileType;
  /** Inode number, or 0n when the platform cannot tell cheaply. */
  ino: bigint;
}

/** How to open a file. A final symlink is never followed: the WASI layer resolves links itself. */
export interface HostOpenFlags {
  read: boolean;
  write: boolean;
  create: boolean;
  exclusive: boolean;
  truncate: boolean;
}

/** A time to set: nanoseconds since the epoch, or `'now'`. */
export type HostTime = bigint | 'now';

/** Synchronous host file-system access for the WASI sandbox; see the module comment for the contract. */
export interface HostFileSystem {
  /** Canonical absolute path of `path` (symlinks resolved); used once per mount root. */
  realpath(path: string): string;
  /** Metadata of `path` itself (a symlink is not followed). */
  lstat(path: string): HostStat;
  /** Open a non-directory file; returns a handle for the other handle methods. */
  open(path: string, flags: HostOpenFlags): number;
  close(handle: number): void;
  fstat(handle: number): HostStat;
  /** Read into `buffer` at `position`; returns the byte count, 0 at end of file. */
  read(handle: number, buffer: Uint8Array, position: number): number;
  /** Write `buffer` at `position`; returns the byte count (may be short). */
  write(handle: number, buffer: Uint8Array, position: number): number;
  truncate(handle: number, size: number): void;
  sync(handle: number): void;
  datasync(handle: number): void;
  /** Set times of an open file; `undefined` leaves that time unchanged. */
  futimes(handle: number, atime: HostTime | undefined, mtime: HostTime | undefined): void;
  /** Set times of `path`; `undefined` leaves that time unchanged; a symlink itself when `follow` is false. */
  utimes(path: string, atime: HostTime | undefined, mtime: HostTime | undefined, follow: boolean): void;
  readdir(path: string): HostDirEntry[];
  mkdir(path: string): void;
  rmdir(path: string): void;
  unlink(path: string): void;
  rename(from: string, to: string): void;
  /** Hard link: `newPath` becomes another name of `existingPath` (a symlink is not followed). */
  link(existingPath: string, newPath: string): void;
  symlink(target: string, path: string): void;
  readlink(path: string): string;
  /**
   * Whether `name` can be used as one path component on this host. Lets a platform refuse
   * names its OS would split or reinterpret (`\` or `:` on Windows); `/` and NUL are refused
   * before this is asked.
   */
  isValidName(name: string): boolean;
}
