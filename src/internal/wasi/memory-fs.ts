/**
 * A {@link HostFileSystem} held in memory: a tree of directories, files and symlinks that a
 * WASI guest reaches through its mounts exactly as it reaches host directories (the WASI layer
 * does the sandboxing; this is only the storage). It needs no platform at all, so a browser
 * build can give guests files, and a host can hand a guest files without touching the disk.
 *
 * Bounded: every file byte and every directory entry counts against `maxBytes`; a write, a
 * truncate or a creation past it fails with ENOSPC, so a guest cannot grow it without limit.
 * A file keeps spare capacity to make appends cheap, so the memory really held is at most about
 * twice what is counted.
 *
 * @module
 */
import type { HostDirEntry, HostFileSystem, HostFileType, HostOpenFlags, HostStat, HostTime } from './host-fs.js';

/** What a directory entry costs against the cap besides its name: a guest making empty files in a loop is bounded too. */
export const ENTRY_COST = 64;

/** Default cap of a memory file system, in bytes. */
export const DEFAULT_MEMORY_FS_BYTES = 64 * 1024 * 1024;

/** Longest name of one entry, in UTF-8 bytes, as Linux's NAME_MAX. */
const MAX_NAME_BYTES = 255;

/** Symlinks followed while resolving one path before ELOOP, as Linux does. */
const MAX_HOPS = 40;

interface NodeBase {
  readonly ino: bigint;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}
interface FileNode extends NodeBase {
  readonly kind: 'file';
  /** Storage; bytes past `size` are zero. */
  data: Uint8Array;
  size: number;
  /** Names in the tree. */
  links: number;
  /** Open handles: an unlinked file lives on while one is open. */
  opens: number;
}
interface DirectoryNode extends NodeBase {
  readonly kind: 'directory';
  readonly entries: Map<string, FsNode>;
}
interface SymlinkNode extends NodeBase {
  readonly kind: 'symlink';
  readonly target: string;
}
type FsNode = FileNode | DirectoryNode | SymlinkNode;

interface OpenFile {
  readonly node: FileNode;
  readonly read: boolean;
  readonly write: boolean;
}

/** An error as node:fs reports one: the WASI layer maps `code` to the guest's errno. */
function fsError(code: string, operation: string, path: string): Error {
  const why = code === 'ENOSPC' ? ' (the memory file system is full: raise its maxBytes or remove files)' : '';
  return Object.assign(new Error(`${code}: ${operation} '${path}'${why}`), { code });
}

const encoder = new TextEncoder();

function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

function timeOf(time: HostTime | undefined, current: bigint): bigint {
  if (time === undefined) return current;
  return time === 'now' ? nowNs() : time;
}

/** The components of an absolute path; `.` and empty ones dropped, `..` kept (resolved as the walk goes). */
function componentsOf(path: string, operation: string): string[] {
  if (typeof path !== 'string' || !path.startsWith('/')) throw fsError('EINVAL', operation, String(path));
  if (path.includes('\0')) throw fsError('EINVAL', operation, path);
  const components = path.split('/').filter((c) => c !== '' && c !== '.');
  for (const c of components) {
    // as a disk's file system limits a name (NAME_MAX): a guest gets the same errno on either
    if (c.length > MAX_NAME_BYTES || (c.length * 3 > MAX_NAME_BYTES && encoder.encode(c).length > MAX_NAME_BYTES)) {
      throw fsError('ENAMETOOLONG', operation, `${path.slice(0, 100)}...`);
    }
  }
  return components;
}

/** Where a path leads: the directory holding its last component, and that component's node if any. */
interface Located {
  readonly parent: DirectoryNode;
  readonly name: string;
  readonly node: FsNode | undefined;
  /** Symlink-free absolute path of the object. */
  readonly path: string;
}

/**
 * The in-memory implementation. Its host-side methods (`readFile`, `writeFile`, ...) are what
 * the public `MemoryFileSystem` type shows; the {@link HostFileSystem} methods are what the
 * WASI layer calls.
 */
export class InMemoryFileSystem implements HostFileSystem {
  readonly maxBytes: number;
  #used = 0;
  #nextIno = 1n;
  #nextHandle = 1;
  readonly #root: DirectoryNode;
  readonly #handles = new Map<number, OpenFile>();

  constructor(maxBytes: number = DEFAULT_MEMORY_FS_BYTES) {
    this.maxBytes = maxBytes;
    this.#root = this.#directory();
  }

  /** Bytes counted against {@link maxBytes}: file contents plus a small cost per name. */
  get usedBytes(): number {
    return this.#used;
  }

  // ---- accounting

  #charge(bytes: number, operation: string, path: string): void {
    if (bytes > 0 && this.#used + bytes > this.maxBytes) throw fsError('ENOSPC', operation, path);
    this.#used += bytes;
  }

  #entryCost(name: string, node: FsNode): number {
    return ENTRY_COST + encoder.encode(name).length + (node.kind === 'symlink' ? encoder.encode(node.target).length : 0);
  }

  /** A file's bytes stop counting when it has neither a name nor an open handle. */
  #releaseIfGone(node: FsNode): void {
    if (node.kind === 'file' && node.links === 0 && node.opens === 0) {
      this.#used -= node.size;
      node.data = new Uint8Array(0);
      node.size = 0;
    }
  }

  // ---- nodes

  #times(): { atimeNs: bigint; mtimeNs: bigint; ctimeNs: bigint } {
    const t = nowNs();
    return { atimeNs: t, mtimeNs: t, ctimeNs: t };
  }

  #directory(): DirectoryNode {
    return { kind: 'directory', ino: this.#nextIno++, entries: new Map(), ...this.#times() };
  }

  #file(): FileNode {
    return { kind: 'file', ino: this.#nextIno++, data: new Uint8Array(0), size: 0, links: 0, opens: 0, ...this.#times() };
  }

  /** Add `node` as `name` in `parent`, charging its entry. */
  #attach(parent: DirectoryNode, name: string, node: FsNode, operation: string, path: string): void {
    this.#charge(this.#entryCost(name, node), operation, path);
    parent.entries.set(name, node);
    if (node.kind === 'file') node.links++;
    parent.mtimeNs = parent.ctimeNs = nowNs();
  }

  /** Remove `name` from `parent`, giving its entry's cost back. */
  #detach(parent: DirectoryNode, name: string): FsNode | undefined {
    const node = parent.entries.get(name);
    if (node === undefined) return undefined;
    parent.entries.delete(name);
    this.#used -= this.#entryCost(name, node);
    if (node.kind === 'file') {
      node.links--;
      node.ctimeNs = nowNs();
      this.#releaseIfGone(node);
    }
    parent.mtimeNs = parent.ctimeNs = nowNs();
    return node;
  }

  /**
   * Walk `path` from the root. Symlinks in the middle are followed (relative to the directory
   * holding them), the last one only when `followLast`; `..` goes to the parent (the root's is
   * itself). The last component need not exist; its directory must.
   */
  #locate(path: string, followLast: boolean, operation: string): Located {
    const todo = componentsOf(path, operation).reverse();
    const stack: DirectoryNode[] = [this.#root];
    const names: string[] = [];
    let hops = 0;
    if (todo.length === 0) return { parent: this.#root, name: '', node: this.#root, path: '/' };
    for (;;) {
      const name = todo.pop()!;
      const dir = stack[stack.length - 1]!;
      if (name === '..') {
        if (stack.length > 1) {
          stack.pop();
          names.pop();
        }
        if (todo.length === 0) return this.#located(stack, names);
        continue;
      }
      const node = dir.entries.get(name);
      const last = todo.length === 0;
      if (node !== undefined && node.kind === 'symlink' && (!last || followLast)) {
        if (++hops > MAX_HOPS) throw fsError('ELOOP', operation, path);
        if (node.target.startsWith('/')) {
          stack.length = 1;
          names.length = 0;
        }
        const parts = node.target.split('/').filter((c) => c !== '' && c !== '.');
        if (parts.length === 0) {
          if (last) return this.#located(stack, names);
          continue;
        }
        for (let i = parts.length - 1; i >= 0; i--) todo.push(parts[i]!);
        continue;
      }
      if (last) return { parent: dir, name, node, path: `/${[...names, name].join('/')}` };
      if (node === undefined) throw fsError('ENOENT', operation, path);
      if (node.kind !== 'directory') throw fsError('ENOTDIR', operation, path);
      stack.push(node);
      names.push(name);
    }
  }

  /** The directory on top of `stack`, as a located object (its own parent is the one below it). */
  #located(stack: DirectoryNode[], names: string[]): Located {
    const node = stack[stack.length - 1]!;
    const parent = stack.length > 1 ? stack[stack.length - 2]! : this.#root;
    return { parent, name: names[names.length - 1] ?? '', node, path: `/${names.join('/')}` };
  }

  #existing(path: string, followLast: boolean, operation: string): FsNode {
    const found = this.#locate(path, followLast, operation);
    if (found.node === undefined) throw fsError('ENOENT', operation, path);
    return found.node;
  }

  /** The place for a new entry: its parent exists, it does not. */
  #vacant(path: string, operation: string): Located {
    const found = this.#locate(path, false, operation);
    if (found.name === '') throw fsError('EEXIST', operation, path);
    if (found.node !== undefined) throw fsError('EEXIST', operation, path);
    return found;
  }

  #handle(handle: number, operation: string): OpenFile {
    const open = this.#handles.get(handle);
    if (open === undefined) throw fsError('EBADF', operation, `#${handle}`);
    return open;
  }

  #stat(node: FsNode): HostStat {
    return {
      type: node.kind,
      dev: 1n,
      ino: node.ino,
      nlink: node.kind === 'file' ? BigInt(node.links) : node.kind === 'directory' ? 2n : 1n,
      size: BigInt(node.kind === 'file' ? node.size : node.kind === 'symlink' ? encoder.encode(node.target).length : 4096),
      atimeNs: node.atimeNs,
      mtimeNs: node.mtimeNs,
      ctimeNs: node.ctimeNs,
    };
  }

  /** Make `node` hold `size` bytes (zeros past the old end), charging or refunding the difference. */
  #resize(node: FileNode, size: number, operation: string, path: string): void {
    if (!Number.isSafeInteger(size) || size < 0) throw fsError('EINVAL', operation, path);
    if (size > node.size) {
      this.#charge(size - node.size, operation, path);
      if (size > node.data.length) {
        // Doubling keeps a run of appends linear; the cap bounds the spare room too.
        const capacity = Math.min(Math.max(size, node.data.length * 2, 64), Math.max(size, this.maxBytes));
        const grown = new Uint8Array(capacity);
        grown.set(node.data.subarray(0, node.size));
        node.data = grown;
      }
    } else {
      this.#used -= node.size - size;
      // Spare room is only what counted bytes earned: a file grown and cut back keeps no more
      // than twice its size, or files written and truncated in a loop would hold memory the cap never sees.
      if (node.data.length > Math.max(64, size * 2)) node.data = node.data.slice(0, size);
      else node.data.fill(0, size, node.size);
    }
    node.size = size;
  }

  // ---- HostFileSystem

  realpath(path: string): string {
    const found = this.#locate(path, true, 'realpath');
    if (found.node === undefined) throw fsError('ENOENT', 'realpath', path);
    return found.path;
  }

  lstat(path: string): HostStat {
    return this.#stat(this.#existing(path, false, 'lstat'));
  }

  open(path: string, flags: HostOpenFlags): number {
    const found = this.#locate(path, false, 'open');
    let node = found.node;
    if (node === undefined) {
      if (!flags.create) throw fsError('ENOENT', 'open', path);
      node = this.#file();
      this.#attach(found.parent, found.name, node, 'open', path);
    } else {
      if (flags.create && flags.exclusive) throw fsError('EEXIST', 'open', path);
      if (node.kind === 'symlink') throw fsError('ELOOP', 'open', path);
      if (node.kind === 'directory') throw fsError('EISDIR', 'open', path);
      if (flags.truncate) {
        if (!flags.write) throw fsError('EINVAL', 'open', path);
        this.#resize(node, 0, 'open', path);
        node.mtimeNs = node.ctimeNs = nowNs();
      }
    }
    node.opens++;
    const handle = this.#nextHandle++;
    this.#handles.set(handle, { node, read: flags.read, write: flags.write });
    return handle;
  }

  close(handle: number): void {
    const open = this.#handle(handle, 'close');
    this.#handles.delete(handle);
    open.node.opens--;
    this.#releaseIfGone(open.node);
  }

  fstat(handle: number): HostStat {
    return this.#stat(this.#handle(handle, 'fstat').node);
  }

  read(handle: number, buffer: Uint8Array, position: number): number {
    const { node, read } = this.#handle(handle, 'read');
    if (!read) throw fsError('EBADF', 'read', `#${handle}`);
    if (position >= node.size) return 0;
    const n = Math.min(buffer.length, node.size - position);
    buffer.set(node.data.subarray(position, position + n));
    node.atimeNs = nowNs();
    return n;
  }

  write(handle: number, buffer: Uint8Array, position: number): number {
    const { node, write } = this.#handle(handle, 'write');
    if (!write) throw fsError('EBADF', 'write', `#${handle}`);
    if (buffer.length === 0) return 0;
    const end = position + buffer.length;
    if (end > node.size) this.#resize(node, end, 'write', `#${handle}`);
    node.data.set(buffer, position);
    node.mtimeNs = node.ctimeNs = nowNs();
    return buffer.length;
  }

  truncate(handle: number, size: number): void {
    const { node, write } = this.#handle(handle, 'truncate');
    if (!write) throw fsError('EINVAL', 'truncate', `#${handle}`);
    this.#resize(node, size, 'truncate', `#${handle}`);
    node.mtimeNs = node.ctimeNs = nowNs();
  }

  sync(handle: number): void {
    this.#handle(handle, 'sync');
  }

  datasync(handle: number): void {
    this.#handle(handle, 'datasync');
  }

  futimes(handle: number, atime: HostTime | undefined, mtime: HostTime | undefined): void {
    const { node } = this.#handle(handle, 'futimes');
    node.atimeNs = timeOf(atime, node.atimeNs);
    node.mtimeNs = timeOf(mtime, node.mtimeNs);
    node.ctimeNs = nowNs();
  }

  utimes(path: string, atime: HostTime | undefined, mtime: HostTime | undefined, follow: boolean): void {
    const node = this.#existing(path, follow, 'utimes');
    node.atimeNs = timeOf(atime, node.atimeNs);
    node.mtimeNs = timeOf(mtime, node.mtimeNs);
    node.ctimeNs = nowNs();
  }

  readdir(path: string): HostDirEntry[] {
    const node = this.#existing(path, true, 'readdir');
    if (node.kind !== 'directory') throw fsError('ENOTDIR', 'readdir', path);
    node.atimeNs = nowNs();
    return [...node.entries].map(([name, entry]) => ({ name, type: entry.kind, ino: entry.ino }));
  }

  mkdir(path: string): void {
    const place = this.#vacant(path, 'mkdir');
    this.#attach(place.parent, place.name, this.#directory(), 'mkdir', path);
  }

  rmdir(path: string): void {
    const found = this.#locate(path, false, 'rmdir');
    if (found.node === undefined) throw fsError('ENOENT', 'rmdir', path);
    if (found.node === this.#root) throw fsError('EBUSY', 'rmdir', path);
    if (found.node.kind !== 'directory') throw fsError('ENOTDIR', 'rmdir', path);
    if (found.node.entries.size > 0) throw fsError('ENOTEMPTY', 'rmdir', path);
    this.#detach(found.parent, found.name);
  }

  unlink(path: string): void {
    const found = this.#locate(path, false, 'unlink');
    if (found.node === undefined) throw fsError('ENOENT', 'unlink', path);
    if (found.node.kind === 'directory') throw fsError('EISDIR', 'unlink', path);
    this.#detach(found.parent, found.name);
  }

  rename(from: string, to: string): void {
    const source = this.#locate(from, false, 'rename');
    const node = source.node;
    if (node === undefined) throw fsError('ENOENT', 'rename', from);
    if (node === this.#root) throw fsError('EBUSY', 'rename', from);
    const target = this.#locate(to, false, 'rename');
    if (target.name === '') throw fsError('EBUSY', 'rename', to);
    if (target.node === node) return;
    if (node.kind === 'directory' && (target.path === source.path || target.path.startsWith(`${source.path}/`))) throw fsError('EINVAL', 'rename', to);
    const existing = target.node;
    if (existing !== undefined) {
      if (node.kind === 'directory') {
        if (existing.kind !== 'directory') throw fsError('ENOTDIR', 'rename', to);
        if (existing.entries.size > 0) throw fsError('ENOTEMPTY', 'rename', to);
      } else if (existing.kind === 'directory') {
        throw fsError('EISDIR', 'rename', to);
      }
    }
    // Checked before anything moves, so a full file system leaves both names as they were.
    const growth =
      this.#entryCost(target.name, node) - this.#entryCost(source.name, node) - (existing === undefined ? 0 : this.#entryCost(target.name, existing));
    this.#charge(growth, 'rename', to);
    this.#used -= growth;
    if (existing !== undefined) this.#detach(target.parent, target.name);
    if (node.kind === 'file') node.links++; // kept alive across the detach below
    this.#detach(source.parent, source.name);
    this.#attach(target.parent, target.name, node, 'rename', to);
    if (node.kind === 'file') node.links--;
    node.ctimeNs = nowNs();
  }

  link(existingPath: string, newPath: string): void {
    const node = this.#existing(existingPath, false, 'link');
    if (node.kind === 'directory') throw fsError('EPERM', 'link', existingPath);
    const place = this.#vacant(newPath, 'link');
    if (node.kind === 'symlink') {
      // A hard link to a symlink is a second symlink with the same target: we keep no shared link count for them.
      this.#attach(place.parent, place.name, { kind: 'symlink', ino: node.ino, target: node.target, ...this.#times() }, 'link', newPath);
      return;
    }
    this.#attach(place.parent, place.name, node, 'link', newPath);
    node.ctimeNs = nowNs();
  }

  symlink(target: string, path: string): void {
    if (target.length === 0) throw fsError('ENOENT', 'symlink', path);
    const place = this.#vacant(path, 'symlink');
    this.#attach(place.parent, place.name, { kind: 'symlink', ino: this.#nextIno++, target, ...this.#times() }, 'symlink', path);
  }

  readlink(path: string): string {
    const node = this.#existing(path, false, 'readlink');
    if (node.kind !== 'symlink') throw fsError('EINVAL', 'readlink', path);
    return node.target;
  }

  isValidName(_name: string): boolean {
    return true;
  }

  // ---- the host's side

  /** A copy of the file at `path` (symlinks followed), or undefined when there is no file there. */
  readFile(path: string): Uint8Array | undefined {
    let node: FsNode;
    try {
      node = this.#existing(path, true, 'readFile');
    } catch {
      return undefined;
    }
    return node.kind === 'file' ? node.data.slice(0, node.size) : undefined;
  }

  /** Write the file at `path`, replacing its contents; missing parent directories are made. */
  writeFile(path: string, data: string | Uint8Array): void {
    const bytes = typeof data === 'string' ? encoder.encode(data) : data;
    const components = componentsOf(path, 'writeFile');
    if (components.length === 0) throw fsError('EISDIR', 'writeFile', path);
    this.makeDirectory(`/${components.slice(0, -1).join('/')}`);
    // Through a final symlink, as writing to a path does on a disk.
    const place = this.#locate(path, true, 'writeFile');
    const handle = this.open(place.path, { read: false, write: true, create: true, exclusive: false, truncate: true });
    try {
      this.write(handle, bytes, 0);
    } finally {
      this.close(handle);
    }
  }

  /** Make the directory at `path` and any missing parents; nothing when it exists. */
  makeDirectory(path: string): void {
    let current = '';
    for (const name of componentsOf(path, 'mkdir')) {
      current += `/${name}`;
      const found = this.#locate(current, true, 'mkdir');
      if (found.node === undefined) this.mkdir(current);
      else if (found.node.kind !== 'directory') throw fsError('ENOTDIR', 'mkdir', current);
    }
  }

  /** Remove `path`: a file or symlink, or a directory with everything in it. Nothing when it does not exist. */
  remove(path: string): void {
    const found = this.#locate(path, false, 'remove');
    if (found.node === undefined) return;
    if (found.node === this.#root) {
      for (const name of [...this.#root.entries.keys()]) this.#removeTree(this.#root, name);
      return;
    }
    this.#removeTree(found.parent, found.name);
  }

  /** Detach `name` from `parent` and everything below it; without recursion, since a guest can nest directories as deep as the cap allows. */
  #removeTree(parent: DirectoryNode, name: string): void {
    const pending: [DirectoryNode, string][] = [[parent, name]];
    while (pending.length > 0) {
      const [dir, entry] = pending[pending.length - 1]!;
      const node = dir.entries.get(entry);
      if (node?.kind === 'directory' && node.entries.size > 0) {
        pending.push([node, node.entries.keys().next().value!]);
        continue;
      }
      if (node !== undefined) this.#detach(dir, entry);
      pending.pop();
    }
  }

  /** Every path in the tree, sorted; directories end with `/`. */
  paths(): string[] {
    const out: string[] = [];
    // a stack, not recursion: a guest can nest directories as deep as the cap allows
    const pending: [DirectoryNode, string][] = [[this.#root, '']];
    while (pending.length > 0) {
      const [dir, prefix] = pending.pop()!;
      for (const [name, node] of dir.entries) {
        const path = `${prefix}/${name}`;
        if (node.kind === 'directory') {
          out.push(`${path}/`);
          pending.push([node, path]);
        } else {
          out.push(path);
        }
      }
    }
    return out.sort();
  }

  /** What `path` is (a final symlink not followed), or undefined when nothing is there. */
  typeOf(path: string): HostFileType | undefined {
    try {
      return this.#existing(path, false, 'stat').kind;
    } catch {
      return undefined;
    }
  }
}
