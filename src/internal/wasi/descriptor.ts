/**
 * The kinds of file descriptor a guest can hold. The base class answers every operation with
 * the errno a POSIX system gives for an fd that cannot do it, so each kind overrides only what
 * it supports.
 *
 * @module
 */
import { Fdflags, Filetype, filetypeOf, u64ToNumber, Whence } from './constants.js';
import { Errno, fail } from './errno.js';
import type { HostFileSystem, HostStat, HostTime } from './host-fs.js';

/** A host directory mapped into the guest. `hostRoot` is canonical (symlinks resolved). */
export interface Mount {
  readonly hostRoot: string;
  readonly guestPath: string;
  readonly readOnly: boolean;
}

const zeroStat = (type: HostStat['type']): HostStat => ({
  type,
  dev: 0n,
  ino: 0n,
  nlink: 1n,
  size: 0n,
  atimeNs: 0n,
  mtimeNs: 0n,
  ctimeNs: 0n,
});

const encoder = new TextEncoder();

/** Common state of every descriptor, and the "not supported here" answers. */
export abstract class Descriptor {
  rightsBase: bigint;
  rightsInheriting: bigint;
  fdflags = 0;
  /** The mount this fd lives in; undefined for stdio. */
  abstract readonly mount: Mount | undefined;
  abstract readonly filetype: number;

  constructor(rightsBase: bigint, rightsInheriting: bigint) {
    this.rightsBase = rightsBase;
    this.rightsInheriting = rightsInheriting;
  }

  abstract stat(): HostStat;
  /** Fill `buffers` in order from `position` (or the current offset, which then advances). */
  read(_buffers: Uint8Array[], _position?: number): number {
    return fail(Errno.EBADF);
  }
  /** Write `chunks` in order at `position` (or the current offset / end when appending). */
  write(_chunks: Uint8Array[], _position?: number): number {
    return fail(Errno.EBADF);
  }
  seek(_offset: bigint, _whence: number): number {
    return fail(Errno.ESPIPE);
  }
  truncate(_size: number): void {
    fail(Errno.EBADF);
  }
  setTimes(_atime: HostTime | undefined, _mtime: HostTime | undefined): void {
    fail(Errno.EBADF);
  }
  sync(_dataOnly: boolean): void {}
  close(): void {}
}

/** fd 0: always at end of file, so a guest reading stdin sees an empty input. */
export class StdinDescriptor extends Descriptor {
  readonly mount = undefined;
  readonly filetype = Filetype.CHARACTER_DEVICE;
  override read(): number {
    return 0;
  }
  stat(): HostStat {
    return zeroStat('character-device');
  }
}

/** Most bytes one fd_write or fd_pwrite puts in a file: Linux's limit for one write (MAX_RW_COUNT). */
export const MAX_FILE_WRITE = 0x7ffff000;

/** Most bytes one write to stdout or stderr hands the application's sink. */
export const MAX_OUTPUT_WRITE = 16 * 1024 * 1024;

/** fd 1 and 2: each write is handed to the sink as one chunk (at most {@link MAX_OUTPUT_WRITE} bytes of it), or dropped when there is none. */
export class OutputDescriptor extends Descriptor {
  readonly mount = undefined;
  readonly filetype = Filetype.CHARACTER_DEVICE;
  readonly #sink: ((chunk: Uint8Array) => void) | undefined;

  constructor(sink: ((chunk: Uint8Array) => void) | undefined, rightsBase: bigint) {
    super(rightsBase, 0n);
    this.#sink = sink;
  }

  override write(chunks: Uint8Array[]): number {
    let total = 0;
    for (const c of chunks) total += c.byteLength;
    if (this.#sink === undefined || total === 0) return total;
    // At most MAX_OUTPUT_WRITE bytes a call, reported as a short write (which writers loop on):
    // the buffers may all alias the same gigabytes of guest memory, and the copy is the host's.
    const taken = Math.min(total, MAX_OUTPUT_WRITE);
    // A copy: the views alias guest memory, which the guest reuses as soon as we return.
    const chunk = new Uint8Array(taken);
    let offset = 0;
    for (const c of chunks) {
      if (offset === taken) break;
      const part = Math.min(c.byteLength, taken - offset);
      chunk.set(part === c.byteLength ? c : c.subarray(0, part), offset);
      offset += part;
    }
    this.#sink(chunk);
    return taken;
  }
  stat(): HostStat {
    return zeroStat('character-device');
  }
}

/** An open host file. The offset is kept here and every host call is positional, so append and seek need no host state. */
export class FileDescriptor extends Descriptor {
  readonly mount: Mount;
  readonly filetype: number;
  readonly #fs: HostFileSystem;
  readonly #handle: number;
  #position = 0;
  #closed = false;

  constructor(fs: HostFileSystem, handle: number, mount: Mount, filetype: number, rightsBase: bigint, rightsInheriting: bigint) {
    super(rightsBase, rightsInheriting);
    this.#fs = fs;
    this.#handle = handle;
    this.mount = mount;
    this.filetype = filetype;
  }

  get position(): number {
    return this.#position;
  }

  stat(): HostStat {
    return this.#fs.fstat(this.#handle);
  }

  override read(buffers: Uint8Array[], position?: number): number {
    let pos = position ?? this.#position;
    let total = 0;
    for (const buffer of buffers) {
      if (buffer.byteLength === 0) continue;
      const n = this.#fs.read(this.#handle, buffer, pos);
      total += n;
      pos += n;
      if (n < buffer.byteLength) break;
    }
    if (position === undefined) this.#position = pos;
    return total;
  }

  override write(chunks: Uint8Array[], position?: number): number {
    let pos = position ?? (this.fdflags & Fdflags.APPEND ? u64ToNumber(this.stat().size, Errno.EFBIG) : this.#position);
    let total = 0;
    for (const whole of chunks) {
      // At most MAX_FILE_WRITE bytes a call, the rest a short write, as Linux does: the iovecs
      // may all alias the same gigabyte, and no timeout cuts a WASI call short.
      const chunk = whole.byteLength > MAX_FILE_WRITE - total ? whole.subarray(0, MAX_FILE_WRITE - total) : whole;
      let offset = 0;
      while (offset < chunk.byteLength) {
        const n = this.#fs.write(this.#handle, chunk.subarray(offset), pos);
        if (n <= 0) break;
        offset += n;
        pos += n;
      }
      total += offset;
      if (offset < whole.byteLength) break;
    }
    if (position === undefined) this.#position = pos;
    return total;
  }

  override seek(offset: bigint, whence: number): number {
    let base: bigint;
    if (whence === Whence.SET) base = 0n;
    else if (whence === Whence.CUR) base = BigInt(this.#position);
    else if (whence === Whence.END) base = this.stat().size;
    else return fail(Errno.EINVAL);
    const target = base + offset;
    if (target < 0n) fail(Errno.EINVAL);
    this.#position = u64ToNumber(target, Errno.EOVERFLOW);
    return this.#position;
  }

  override truncate(size: number): void {
    this.#fs.truncate(this.#handle, size);
  }

  override setTimes(atime: HostTime | undefined, mtime: HostTime | undefined): void {
    this.#fs.futimes(this.#handle, atime, mtime);
  }

  override sync(dataOnly: boolean): void {
    if (dataOnly) this.#fs.datasync(this.#handle);
    else this.#fs.sync(this.#handle);
  }

  override close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#fs.close(this.#handle);
  }
}

/** One `fd_readdir` entry, names already encoded. */
export interface DirEntry {
  name: Uint8Array;
  filetype: number;
  ino: bigint;
}

/**
 * A directory inside a mount, known by its symlink-free components below the mount root. No
 * host handle is held: Node has no `openat`, so path operations are rebuilt from these
 * components and re-checked each time.
 */
export class DirectoryDescriptor extends Descriptor {
  readonly mount: Mount;
  readonly filetype = Filetype.DIRECTORY;
  readonly components: readonly string[];
  readonly hostPath: string;
  /** The guest path name reported by fd_prestat_dir_name, for preopened mount roots. */
  readonly preopenName: Uint8Array | undefined;
  /** Listing taken at cookie 0 and reused while the guest pages through it. */
  listing: DirEntry[] | undefined;
  readonly #fs: HostFileSystem;

  constructor(fs: HostFileSystem, mount: Mount, components: readonly string[], rightsBase: bigint, rightsInheriting: bigint, preopenName?: Uint8Array) {
    super(rightsBase, rightsInheriting);
    this.#fs = fs;
    this.mount = mount;
    this.components = components;
    this.hostPath = hostPathOf(mount, components);
    this.preopenName = preopenName;
  }

  stat(): HostStat {
    return this.#fs.lstat(this.hostPath);
  }

  override read(): number {
    return fail(Errno.EISDIR);
  }
  override write(): number {
    return fail(Errno.EISDIR);
  }
  override seek(): number {
    return fail(Errno.EISDIR);
  }
  override truncate(): void {
    fail(Errno.EISDIR);
  }
  override setTimes(atime: HostTime | undefined, mtime: HostTime | undefined): void {
    this.#fs.utimes(this.hostPath, atime, mtime, false);
  }
  /** Entries of this directory, `.` and `..` first. */
  list(): DirEntry[] {
    const self = this.stat();
    let parentIno = self.ino;
    // The mount root is its own parent, as `/` is: the guest learns nothing about the host above.
    if (this.components.length > 0) {
      try {
        parentIno = this.#fs.lstat(hostPathOf(this.mount, this.components.slice(0, -1))).ino;
      } catch {
        parentIno = 0n;
      }
    }
    const entries: DirEntry[] = [
      { name: encoder.encode('.'), filetype: Filetype.DIRECTORY, ino: self.ino },
      { name: encoder.encode('..'), filetype: Filetype.DIRECTORY, ino: parentIno },
    ];
    for (const entry of this.#fs.readdir(this.hostPath)) {
      entries.push({ name: encoder.encode(entry.name), filetype: filetypeOf(entry.type), ino: entry.ino });
    }
    return entries;
  }
}

/** Host path of `components` below the mount root. */
export function hostPathOf(mount: Mount, components: readonly string[]): string {
  if (components.length === 0) return mount.hostRoot;
  const root = mount.hostRoot.endsWith('/') || mount.hostRoot.endsWith('\\') ? mount.hostRoot.slice(0, -1) : mount.hostRoot;
  return `${root}/${components.join('/')}`;
}
