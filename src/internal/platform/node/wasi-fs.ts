/**
 * {@link HostFileSystem} on `node:fs`, synchronous calls only (WASI imports cannot await).
 *
 * @module
 */
import * as fs from 'node:fs';
import type { HostDirEntry, HostFileSystem, HostFileType, HostOpenFlags, HostStat, HostTime } from '../../wasi/host-fs.js';

const { constants } = fs;
// Windows lacks these; there the WASI layer's own symlink resolution is the only guard.
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
// A FIFO inside a mount would otherwise block the whole thread on open.
const O_NONBLOCK = constants.O_NONBLOCK ?? 0;
const windows = process.platform === 'win32';

function typeOf(s: {
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
  isFIFO(): boolean;
}): HostFileType {
  if (s.isFile()) return 'file';
  if (s.isDirectory()) return 'directory';
  if (s.isSymbolicLink()) return 'symlink';
  if (s.isCharacterDevice()) return 'character-device';
  if (s.isBlockDevice()) return 'block-device';
  if (s.isSocket()) return 'socket';
  if (s.isFIFO()) return 'fifo';
  return 'unknown';
}

function toHostStat(s: fs.BigIntStats): HostStat {
  return {
    type: typeOf(s),
    dev: s.dev,
    ino: s.ino,
    nlink: s.nlink,
    size: s.size,
    atimeNs: s.atimeNs,
    mtimeNs: s.mtimeNs,
    ctimeNs: s.ctimeNs,
  };
}

// node:fs takes seconds as a number; sub-microsecond precision is lost, which no guest can observe reliably anyway.
function seconds(time: HostTime | undefined, current: bigint): number {
  if (time === 'now') return Date.now() / 1000;
  return Number(time ?? current) / 1e9;
}

/** The Node implementation of {@link HostFileSystem}. */
class NodeFileSystem implements HostFileSystem {
  realpath(path: string): string {
    return fs.realpathSync.native(path);
  }

  lstat(path: string): HostStat {
    return toHostStat(fs.lstatSync(path, { bigint: true }));
  }

  open(path: string, flags: HostOpenFlags): number {
    let mode = flags.write ? (flags.read ? constants.O_RDWR : constants.O_WRONLY) : constants.O_RDONLY;
    if (flags.create) mode |= constants.O_CREAT;
    if (flags.exclusive) mode |= constants.O_EXCL;
    if (flags.truncate) mode |= constants.O_TRUNC;
    return fs.openSync(path, mode | O_NOFOLLOW | O_NONBLOCK, 0o666);
  }

  close(handle: number): void {
    fs.closeSync(handle);
  }

  fstat(handle: number): HostStat {
    return toHostStat(fs.fstatSync(handle, { bigint: true }));
  }

  read(handle: number, buffer: Uint8Array, position: number): number {
    return fs.readSync(handle, buffer, 0, buffer.byteLength, position);
  }

  write(handle: number, buffer: Uint8Array, position: number): number {
    return fs.writeSync(handle, buffer, 0, buffer.byteLength, position);
  }

  truncate(handle: number, size: number): void {
    fs.ftruncateSync(handle, size);
  }

  sync(handle: number): void {
    fs.fsyncSync(handle);
  }

  datasync(handle: number): void {
    fs.fdatasyncSync(handle);
  }

  futimes(handle: number, atime: HostTime | undefined, mtime: HostTime | undefined): void {
    const current = atime === undefined || mtime === undefined ? fs.fstatSync(handle, { bigint: true }) : undefined;
    fs.futimesSync(handle, seconds(atime, current?.atimeNs ?? 0n), seconds(mtime, current?.mtimeNs ?? 0n));
  }

  utimes(path: string, atime: HostTime | undefined, mtime: HostTime | undefined, follow: boolean): void {
    const current =
      atime === undefined || mtime === undefined ? (follow ? fs.statSync(path, { bigint: true }) : fs.lstatSync(path, { bigint: true })) : undefined;
    const a = seconds(atime, current?.atimeNs ?? 0n);
    const m = seconds(mtime, current?.mtimeNs ?? 0n);
    if (follow) fs.utimesSync(path, a, m);
    else fs.lutimesSync(path, a, m);
  }

  readdir(path: string): HostDirEntry[] {
    return fs.readdirSync(path, { withFileTypes: true }).map((entry) => {
      let ino = 0n;
      try {
        ino = fs.lstatSync(`${path}/${entry.name}`, { bigint: true }).ino;
      } catch {
        // Removed since the listing was taken: report it with an unknown inode, as getdents would have.
      }
      return { name: entry.name, type: typeOf(entry), ino };
    });
  }

  mkdir(path: string): void {
    fs.mkdirSync(path, 0o777);
  }

  rmdir(path: string): void {
    fs.rmdirSync(path);
  }

  unlink(path: string): void {
    fs.unlinkSync(path);
  }

  rename(from: string, to: string): void {
    fs.renameSync(from, to);
  }

  link(existingPath: string, newPath: string): void {
    fs.linkSync(existingPath, newPath);
  }

  symlink(target: string, path: string): void {
    fs.symlinkSync(target, path);
  }

  readlink(path: string): string {
    return fs.readlinkSync(path);
  }

  isValidName(name: string): boolean {
    return !windows || !/[\\:*?"<>|]/.test(name);
  }
}

/** Shared instance; the adapter holds no state. */
export const nodeFileSystem: HostFileSystem = new NodeFileSystem();
