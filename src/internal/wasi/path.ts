/**
 * The sandboxed path resolver and the `path_*` functions.
 *
 * A guest path is resolved here, component by component, against the directory fd it is relative
 * to, never by the host OS: `..` may not climb above the mount root, absolute paths are refused,
 * and symlinks are read and followed by this code (at most {@link MAX_SYMLINK_HOPS} of them), with
 * containment re-checked after each hop. The host only ever receives a path that is already
 * known to lie inside the mount, and files are opened with O_NOFOLLOW so a final symlink swapped
 * in afterwards is not followed either.
 *
 * Symlink policy: `path_symlink` refuses a target that is absolute or that climbs, lexically,
 * above the mount root from where the link is created (ENOTCAPABLE). Links that point outside
 * anyway (made on the host, or moved by a rename) are never followed: resolving through one
 * fails with ENOTCAPABLE, and `path_readlink` refuses to read one the same way, so the guest
 * never learns a host path.
 *
 * @module
 */
import { DIRECTORY_RIGHTS, FILE_RIGHTS, filetypeOf, LOOKUP_SYMLINK_FOLLOW, MUTATING_RIGHTS, Oflags, Rights, WRITE_RIGHTS, writeFilestat } from './constants.js';
import type { WasiContext, WasiFunction } from './context.js';
import { DirectoryDescriptor, FileDescriptor, hostPathOf, type Mount } from './descriptor.js';
import { Errno, errnoOfHostError, fail } from './errno.js';
import { timesFromFlags } from './fd.js';
import type { HostFileSystem, HostStat } from './host-fs.js';

const encoder = new TextEncoder();

/** Symlinks followed in one resolution before ELOOP, as Linux does. */
export const MAX_SYMLINK_HOPS = 40;

/** Where a guest path leads, inside one mount. */
export interface ResolvedPath {
  readonly mount: Mount;
  /** Symlink-free components below the mount root (the last one may be a symlink when not followed). */
  readonly components: readonly string[];
  readonly hostPath: string;
  /** lstat of the final object; undefined when it does not exist (its parent does). */
  readonly stat: HostStat | undefined;
  /** The path named its object with `.` or `..` last, or with a trailing slash. */
  readonly endsInDot: boolean;
  readonly trailingSlash: boolean;
}

function isNotFound(error: unknown): boolean {
  return errnoOfHostError(error) === Errno.ENOENT;
}

/**
 * Resolve `path` relative to `dir`, following a final symlink only when `followFinal`.
 * Fails with ENOTCAPABLE for absolute paths and for anything that would leave the mount.
 */
export function resolvePath(fs: HostFileSystem, dir: DirectoryDescriptor, path: string, followFinal: boolean): ResolvedPath {
  if (path.length === 0) fail(Errno.ENOENT);
  if (path.includes('\0')) fail(Errno.EINVAL);
  if (path.startsWith('/')) fail(Errno.ENOTCAPABLE);
  const mount = dir.mount;
  const stack = [...dir.components];
  const trailingSlash = path.endsWith('/');
  const follow = followFinal || trailingSlash;
  // Pending components, last first, so symlink targets can be spliced in at the front.
  const todo = path
    .split('/')
    .filter((c) => c !== '')
    .reverse();
  let hops = 0;
  let stat: HostStat | undefined;
  let known = false; // `stat` describes the final object (or its absence)
  let endsInDot = false;

  while (todo.length > 0) {
    const name = todo.pop()!;
    const isLast = todo.length === 0;
    known = false;
    endsInDot = name === '.' || name === '..';
    if (name === '.') continue;
    if (name === '..') {
      // The stack holds no symlinks, so dropping its last entry is exactly the parent.
      if (stack.length === 0) fail(Errno.ENOTCAPABLE);
      stack.pop();
      continue;
    }
    if (!fs.isValidName(name)) fail(Errno.EINVAL);
    const candidate = hostPathOf(mount, [...stack, name]);
    let st: HostStat;
    try {
      st = fs.lstat(candidate);
    } catch (error) {
      if (isLast && isNotFound(error)) {
        stack.push(name);
        stat = undefined;
        known = true;
        break;
      }
      throw error;
    }
    if (st.type === 'symlink' && (!isLast || follow)) {
      if (++hops > MAX_SYMLINK_HOPS) fail(Errno.ELOOP);
      const target = fs.readlink(candidate);
      if (target.length === 0) fail(Errno.ENOENT);
      if (isAbsoluteTarget(target)) fail(Errno.ENOTCAPABLE);
      const parts = target.split('/').filter((c) => c !== '');
      for (const part of parts) if (part !== '.' && part !== '..' && !fs.isValidName(part)) fail(Errno.ENOTCAPABLE);
      // A target with a trailing slash must be a directory: a '.' after it makes that so.
      if (target.endsWith('/')) todo.push('.');
      for (let i = parts.length - 1; i >= 0; i--) todo.push(parts[i]!);
      continue;
    }
    if (!isLast && st.type !== 'directory') fail(Errno.ENOTDIR);
    stack.push(name);
    if (isLast) {
      stat = st;
      known = true;
    }
  }

  const hostPath = hostPathOf(mount, stack);
  if (!known) stat = fs.lstat(hostPath);
  if (trailingSlash && stat !== undefined && stat.type !== 'directory') fail(Errno.ENOTDIR);
  return { mount, components: stack, hostPath, stat, endsInDot, trailingSlash };
}

function isAbsoluteTarget(target: string): boolean {
  return target.startsWith('/') || target.startsWith('\\') || /^[A-Za-z]:/.test(target);
}

/** Fail with EROFS when `mount` is read-only. */
function writableMount(mount: Mount): void {
  if (mount.readOnly) fail(Errno.EROFS);
}

/** A read-only mount holds no mutating right: asking for one there is EROFS, as on Linux. */
function requireRight(dir: DirectoryDescriptor, right: bigint): void {
  if ((dir.rightsBase & right) === 0n) fail(dir.mount.readOnly && (right & MUTATING_RIGHTS) !== 0n ? Errno.EROFS : Errno.ENOTCAPABLE);
}

/**
 * Resolve the path of an entry about to be removed, renamed or linked: never the mount root
 * (its removal would change the host tree above the sandbox), never a name ending in `.`/`..`.
 */
function resolveEntry(fs: HostFileSystem, dir: DirectoryDescriptor, path: string, rootErrno: number): ResolvedPath {
  const resolved = resolvePath(fs, dir, path, false);
  if (resolved.components.length === 0) fail(rootErrno);
  if (resolved.endsInDot) fail(Errno.EINVAL);
  return resolved;
}

/**
 * Refuse a symlink target that is absolute or climbs above the mount root when read from the
 * directory the link is created in (`parent`, components below the mount root).
 */
function checkSymlinkTarget(fs: HostFileSystem, target: string, parent: readonly string[]): void {
  if (target.length === 0) fail(Errno.ENOENT);
  if (target.includes('\0')) fail(Errno.EINVAL);
  if (isAbsoluteTarget(target)) fail(Errno.ENOTCAPABLE);
  let depth = parent.length;
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (--depth < 0) fail(Errno.ENOTCAPABLE);
    } else if (!fs.isValidName(part)) {
      fail(Errno.ENOTCAPABLE);
    } else {
      depth++;
    }
  }
}

/**
 * The longest path (or symlink target) a guest may pass, in bytes; ENAMETOOLONG past it. Far
 * above Linux's PATH_MAX (4,096), so that only a path no file system would take is refused.
 */
export const MAX_PATH_BYTES = 64 * 1024;

/** The `path_*` imports. */
export function pathFunctions(ctx: WasiContext): Record<string, WasiFunction> {
  const { memory, fds, fs } = ctx;
  const readPath = (ptr: number, len: number): string => {
    // Resolution stats each component and cannot be interrupted: 16 MiB of "a/../" took 20 s.
    if (len >>> 0 > MAX_PATH_BYTES) fail(Errno.ENAMETOOLONG);
    return memory.string(ptr, len);
  };

  return {
    path_create_directory(fd: number, pathPtr: number, pathLen: number): number {
      const dir = fds.directory(fd);
      const path = readPath(pathPtr, pathLen);
      requireRight(dir, Rights.PATH_CREATE_DIRECTORY);
      const r = resolvePath(fs, dir, path, false);
      writableMount(r.mount);
      if (r.stat !== undefined) fail(Errno.EEXIST);
      fs.mkdir(r.hostPath);
      return Errno.SUCCESS;
    },

    path_filestat_get(fd: number, flags: number, pathPtr: number, pathLen: number, bufPtr: number): number {
      const dir = fds.directory(fd);
      const path = readPath(pathPtr, pathLen);
      memory.check(bufPtr, 64);
      requireRight(dir, Rights.PATH_FILESTAT_GET);
      const r = resolvePath(fs, dir, path, (flags & LOOKUP_SYMLINK_FOLLOW) !== 0);
      if (r.stat === undefined) fail(Errno.ENOENT);
      writeFilestat(memory, bufPtr, r.stat);
      return Errno.SUCCESS;
    },

    path_filestat_set_times(fd: number, flags: number, pathPtr: number, pathLen: number, atim: bigint, mtim: bigint, fstflags: number): number {
      const dir = fds.directory(fd);
      const path = readPath(pathPtr, pathLen);
      const [a, m] = timesFromFlags(atim, mtim, fstflags);
      requireRight(dir, Rights.PATH_FILESTAT_SET_TIMES);
      const r = resolvePath(fs, dir, path, (flags & LOOKUP_SYMLINK_FOLLOW) !== 0);
      writableMount(r.mount);
      if (r.stat === undefined) fail(Errno.ENOENT);
      // The resolver already followed what was to be followed: whatever is left is changed itself.
      fs.utimes(r.hostPath, a, m, false);
      return Errno.SUCCESS;
    },

    path_link(oldFd: number, oldFlags: number, oldPtr: number, oldLen: number, newFd: number, newPtr: number, newLen: number): number {
      const oldDir = fds.directory(oldFd);
      const newDir = fds.directory(newFd);
      const oldPath = readPath(oldPtr, oldLen);
      const newPath = readPath(newPtr, newLen);
      requireRight(oldDir, Rights.PATH_LINK_SOURCE);
      requireRight(newDir, Rights.PATH_LINK_TARGET);
      const from = resolvePath(fs, oldDir, oldPath, (oldFlags & LOOKUP_SYMLINK_FOLLOW) !== 0);
      const to = resolveEntry(fs, newDir, newPath, Errno.EEXIST);
      writableMount(from.mount);
      writableMount(to.mount);
      if (from.stat === undefined) fail(Errno.ENOENT);
      if (from.stat.type === 'directory') fail(Errno.EPERM);
      if (to.stat !== undefined) fail(Errno.EEXIST);
      fs.link(from.hostPath, to.hostPath);
      return Errno.SUCCESS;
    },

    path_open(
      fd: number,
      dirflags: number,
      pathPtr: number,
      pathLen: number,
      oflags: number,
      rightsBase: bigint,
      rightsInheriting: bigint,
      fdflags: number,
      fdPtr: number,
    ): number {
      const dir = fds.directory(fd);
      const path = readPath(pathPtr, pathLen);
      memory.check(fdPtr, 4);
      requireRight(dir, Rights.PATH_OPEN);
      if (oflags & ~0xf || fdflags & ~0x1f) fail(Errno.EINVAL);
      const base = BigInt.asUintN(64, BigInt(rightsBase));
      const inheriting = BigInt.asUintN(64, BigInt(rightsInheriting));
      const create = (oflags & Oflags.CREAT) !== 0;
      const exclusive = (oflags & Oflags.EXCL) !== 0;
      const truncate = (oflags & Oflags.TRUNC) !== 0;
      const wantsDirectory = (oflags & Oflags.DIRECTORY) !== 0;
      const wantsWrite = (base & WRITE_RIGHTS) !== 0n || truncate;
      if (create && wantsDirectory) fail(Errno.EINVAL);
      fds.ensureRoom();

      const r = resolvePath(fs, dir, path, (dirflags & LOOKUP_SYMLINK_FOLLOW) !== 0);
      if (r.mount.readOnly && create) fail(Errno.EROFS);
      const withheld = r.mount.readOnly ? MUTATING_RIGHTS : 0n;
      if (r.stat === undefined) {
        if (!create) fail(Errno.ENOENT);
        if (r.trailingSlash) fail(Errno.EISDIR);
      } else {
        if (create && exclusive) fail(Errno.EEXIST);
        if (r.stat.type === 'symlink') fail(Errno.ELOOP);
        if (r.stat.type === 'directory') {
          // Asked for a directory, write rights are just not granted (some guests request every
          // right); asked for a file to write, this is open(2)'s EISDIR.
          if (create || truncate || (wantsWrite && !wantsDirectory)) fail(Errno.EISDIR);
          const d = new DirectoryDescriptor(
            fs,
            r.mount,
            r.components,
            base & DIRECTORY_RIGHTS & ~withheld,
            inheriting & (DIRECTORY_RIGHTS | FILE_RIGHTS) & ~withheld,
          );
          d.fdflags = fdflags;
          memory.setU32(fdPtr, fds.add(d));
          return Errno.SUCCESS;
        }
        if (wantsDirectory) fail(Errno.ENOTDIR);
      }
      // A read-only mount hands on no write right, so a libc's write-only open arrives with the
      // write rights masked away: a file open without the read right is one, refused as on Linux.
      if (r.mount.readOnly && (wantsWrite || (base & Rights.FD_READ) === 0n)) fail(Errno.EROFS);

      const handle = fs.open(r.hostPath, {
        read: (base & (Rights.FD_READ | Rights.FD_READDIR)) !== 0n || !wantsWrite,
        write: wantsWrite,
        create,
        exclusive,
        truncate,
      });
      try {
        const st = fs.fstat(handle);
        // Swapped for a directory between the check and the open: refuse rather than hold a dir as a file.
        if (st.type === 'directory') fail(Errno.EISDIR);
        const d = new FileDescriptor(
          fs,
          handle,
          r.mount,
          filetypeOf(st.type),
          base & FILE_RIGHTS & ~withheld,
          inheriting & (DIRECTORY_RIGHTS | FILE_RIGHTS) & ~withheld,
        );
        d.fdflags = fdflags;
        memory.setU32(fdPtr, fds.add(d));
      } catch (error) {
        fs.close(handle);
        throw error;
      }
      return Errno.SUCCESS;
    },

    path_readlink(fd: number, pathPtr: number, pathLen: number, bufPtr: number, bufLen: number, bufusedPtr: number): number {
      const dir = fds.directory(fd);
      const path = readPath(pathPtr, pathLen);
      const target = memory.bytes(bufPtr, bufLen);
      memory.check(bufusedPtr, 4);
      requireRight(dir, Rights.PATH_READLINK);
      const r = resolvePath(fs, dir, path, false);
      if (r.stat === undefined) fail(Errno.ENOENT);
      if (r.stat.type !== 'symlink') fail(Errno.EINVAL);
      const link = fs.readlink(r.hostPath);
      // A target that is absolute or climbs out of the mount would tell the guest how the
      // host is laid out (and could never be followed): refused, as following it is.
      checkSymlinkTarget(fs, link, r.components.slice(0, -1));
      const bytes = encoder.encode(link);
      // Truncated like readlink(2) when the buffer is short.
      const n = Math.min(bytes.byteLength, target.byteLength);
      target.set(bytes.subarray(0, n));
      memory.setU32(bufusedPtr, n);
      return Errno.SUCCESS;
    },

    path_remove_directory(fd: number, pathPtr: number, pathLen: number): number {
      const dir = fds.directory(fd);
      const path = readPath(pathPtr, pathLen);
      requireRight(dir, Rights.PATH_REMOVE_DIRECTORY);
      const r = resolveEntry(fs, dir, path, Errno.EBUSY);
      writableMount(r.mount);
      if (r.stat === undefined) fail(Errno.ENOENT);
      if (r.stat.type !== 'directory') fail(Errno.ENOTDIR);
      fs.rmdir(r.hostPath);
      return Errno.SUCCESS;
    },

    path_rename(fd: number, oldPtr: number, oldLen: number, newFd: number, newPtr: number, newLen: number): number {
      const oldDir = fds.directory(fd);
      const newDir = fds.directory(newFd);
      const oldPath = readPath(oldPtr, oldLen);
      const newPath = readPath(newPtr, newLen);
      requireRight(oldDir, Rights.PATH_RENAME_SOURCE);
      requireRight(newDir, Rights.PATH_RENAME_TARGET);
      const from = resolveEntry(fs, oldDir, oldPath, Errno.EBUSY);
      const to = resolveEntry(fs, newDir, newPath, Errno.EBUSY);
      writableMount(from.mount);
      writableMount(to.mount);
      if (from.stat === undefined) fail(Errno.ENOENT);
      // Moving a directory into itself would detach it from the tree.
      if (
        from.mount === to.mount &&
        from.stat.type === 'directory' &&
        to.components.length > from.components.length &&
        from.components.every((c, i) => to.components[i] === c)
      ) {
        fail(Errno.EINVAL);
      }
      fs.rename(from.hostPath, to.hostPath);
      return Errno.SUCCESS;
    },

    path_symlink(targetPtr: number, targetLen: number, fd: number, pathPtr: number, pathLen: number): number {
      const target = readPath(targetPtr, targetLen);
      const dir = fds.directory(fd);
      const path = readPath(pathPtr, pathLen);
      requireRight(dir, Rights.PATH_SYMLINK);
      const r = resolveEntry(fs, dir, path, Errno.EEXIST);
      writableMount(r.mount);
      if (r.stat !== undefined) fail(Errno.EEXIST);
      checkSymlinkTarget(fs, target, r.components.slice(0, -1));
      fs.symlink(target, r.hostPath);
      return Errno.SUCCESS;
    },

    path_unlink_file(fd: number, pathPtr: number, pathLen: number): number {
      const dir = fds.directory(fd);
      const path = readPath(pathPtr, pathLen);
      requireRight(dir, Rights.PATH_UNLINK_FILE);
      const r = resolveEntry(fs, dir, path, Errno.EISDIR);
      writableMount(r.mount);
      if (r.stat === undefined) fail(Errno.ENOENT);
      if (r.stat.type === 'directory') fail(Errno.EISDIR);
      if (r.trailingSlash) fail(Errno.ENOTDIR);
      fs.unlink(r.hostPath);
      return Errno.SUCCESS;
    },
  };
}
