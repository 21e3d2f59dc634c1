/**
 * Files for a WASI guest that live in memory instead of on the host's disk: what a browser
 * page gives a guest, or a host that wants a guest to see exactly the files it hands over.
 *
 * ```ts
 * const files = createMemoryFileSystem({ '/data/in.txt': 'hello', '/out/': '' });
 * const plugin = await createPlugin(wasm, { useWasi: true, wasiFileSystem: files, allowedPaths: { 'ro:/data': '/data', '/out': '/out' } });
 * await plugin.call('run');
 * console.log(new TextDecoder().decode(files.readFile('/out/result.txt')));
 * ```
 *
 * @module
 */
import { ManifestError } from './errors.js';
import { DEFAULT_MEMORY_FS_BYTES, InMemoryFileSystem } from './internal/wasi/memory-fs.js';

/**
 * An in-memory file tree ({@link createMemoryFileSystem}). Handed to a plug-in as the
 * `wasiFileSystem` option, its directories are what `allowedPaths` mounts; the guest reads,
 * writes, renames, links and lists there as on a disk, and the host reads the results back
 * here. One object can serve several plug-ins (they then share the files).
 */
export interface MemoryFileSystem {
  /** The cap, in bytes: file contents plus a small cost per name. Past it the guest gets ENOSPC. */
  readonly maxBytes: number;
  /** Bytes counted against {@link maxBytes} now. */
  readonly usedBytes: number;
  /** A copy of the file at `path` (absolute, symlinks followed), or undefined when no file is there. */
  readFile(path: string): Uint8Array | undefined;
  /**
   * Replace the file at `path` (absolute) with `data` (a string is written as UTF-8), making
   * missing parent directories. Throws an error whose `code` is `ENOSPC` past the cap,
   * `ENOTDIR`/`EISDIR` when something else is in the way.
   */
  writeFile(path: string, data: string | Uint8Array): void;
  /** Make the directory at `path` and any missing parents; nothing when it exists. */
  makeDirectory(path: string): void;
  /** Remove `path`: a file, a symlink, or a directory with everything in it; nothing when it does not exist. */
  remove(path: string): void;
  /** Every path in the tree, sorted; directories end with `/`. */
  paths(): string[];
}

/** Options of {@link createMemoryFileSystem}. */
export interface MemoryFileSystemOptions {
  /** Cap on file contents plus names, in bytes; default 64 MiB. */
  maxBytes?: number;
}

/**
 * A {@link MemoryFileSystem} holding `files`: absolute path → contents (a string is UTF-8). A
 * path ending in `/` makes a directory (its value is ignored). Parent directories are made as
 * needed. Throws a {@link ManifestError} naming the path when an entry cannot be made.
 */
export function createMemoryFileSystem(files: Record<string, string | Uint8Array> = {}, options: MemoryFileSystemOptions = {}): MemoryFileSystem {
  const maxBytes = options.maxBytes ?? DEFAULT_MEMORY_FS_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new ManifestError('maxBytes', `must be a whole number of bytes >= 0, got ${maxBytes}`);
  const fs = new InMemoryFileSystem(maxBytes);
  for (const [path, data] of Object.entries(files)) {
    const field = `files[${JSON.stringify(path)}]`;
    if (!path.startsWith('/')) throw new ManifestError(field, 'paths must be absolute (start with /)');
    if (!path.endsWith('/') && typeof data !== 'string' && !(data instanceof Uint8Array)) {
      throw new ManifestError(field, `contents must be a string or a Uint8Array, got ${data === null ? 'null' : typeof data}`);
    }
    try {
      if (path.endsWith('/')) fs.makeDirectory(path);
      else fs.writeFile(path, data);
    } catch (error) {
      throw new ManifestError(field, `cannot be made: ${(error as Error).message}`, { cause: error });
    }
  }
  return fs;
}

/** The file system behind a `wasiFileSystem` option, or a {@link ManifestError} for anything else. @internal */
export function wasiFileSystemOf(value: unknown): InMemoryFileSystem {
  if (value instanceof InMemoryFileSystem) return value;
  throw new ManifestError('wasiFileSystem', 'must be a file system made by createMemoryFileSystem()');
}
