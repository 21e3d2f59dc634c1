// The file systems the WASI tests run over: the host's (a temporary directory, through node:fs)
// and plughost's in-memory one. A test prepares and inspects its files through `host`, whose
// methods are named and behave as the node:fs functions they stand for, so one test body checks
// both.
import * as nodeFs from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeFileSystem } from '../../src/internal/platform/node/index.js';
import type { HostFileSystem } from '../../src/internal/wasi/host-fs.js';
import { InMemoryFileSystem } from '../../src/internal/wasi/memory-fs.js';

interface Stat {
  isDirectory(): boolean;
  size: number;
  mtimeMs: number;
}

/** The node:fs calls the WASI tests make to set up and check their files. */
export interface TestTree {
  /** Root of the temporary tree (a host path, or a path in the memory file system). */
  readonly path: string;
  /** What to give createWasi as `fs`. */
  readonly fs: HostFileSystem;
  cleanup(): void;
  readFileSync(path: string, encoding: 'utf8'): string;
  writeFileSync(path: string, data: string): void;
  mkdirSync(path: string, options?: { recursive: true }): void;
  symlinkSync(target: string, path: string): void;
  existsSync(path: string): boolean;
  readdirSync(path: string): string[];
  statSync(path: string): Stat;
  /** Modification time in nanoseconds, as the guest reads it. */
  mtimeNs(path: string): bigint;
}

function nodeTree(): TestTree {
  const path = mkdtempSync(join(tmpdir(), 'plughost-wasi-'));
  return {
    path,
    fs: nodeFileSystem,
    cleanup: () => rmSync(path, { recursive: true, force: true }),
    readFileSync: (p) => nodeFs.readFileSync(p, 'utf8'),
    writeFileSync: (p, data) => nodeFs.writeFileSync(p, data),
    mkdirSync: (p, options) => void nodeFs.mkdirSync(p, options),
    symlinkSync: (target, p) => nodeFs.symlinkSync(target, p),
    existsSync: (p) => nodeFs.existsSync(p),
    readdirSync: (p) => nodeFs.readdirSync(p),
    statSync: (p) => nodeFs.statSync(p),
    mtimeNs: (p) => nodeFs.statSync(p, { bigint: true }).mtimeNs,
  };
}

function fail(code: string, path: string): never {
  throw Object.assign(new Error(`${code}: ${path}`), { code });
}

function memoryTree(): TestTree {
  const fs = new InMemoryFileSystem();
  const path = '/host/tmp';
  fs.makeDirectory(path);
  const stat = (p: string) => {
    const st = fs.lstat(fs.realpath(p));
    return { isDirectory: () => st.type === 'directory', size: Number(st.size), mtimeMs: Number(st.mtimeNs) / 1e6 };
  };
  return {
    path,
    fs,
    cleanup: () => fs.remove('/'),
    readFileSync: (p) => new TextDecoder().decode(fs.readFile(p) ?? fail('ENOENT', p)),
    writeFileSync: (p, data) => fs.writeFile(p, data),
    mkdirSync: (p, options) => (options?.recursive ? fs.makeDirectory(p) : fs.mkdir(p)),
    symlinkSync: (target, p) => fs.symlink(target, p),
    existsSync: (p) => {
      try {
        fs.realpath(p);
        return true;
      } catch {
        return false;
      }
    },
    readdirSync: (p) => fs.readdir(p).map((entry) => entry.name),
    statSync: stat,
    mtimeNs: (p) => fs.lstat(fs.realpath(p)).mtimeNs,
  };
}

/** Each kind of tree, by name, for `describe` blocks. */
export const TREES: readonly [string, () => TestTree][] = [
  ['node:fs', nodeTree],
  ['in memory', memoryTree],
];
