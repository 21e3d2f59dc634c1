// Test harness for the WASI tests: a wasm guest that imports every preview1 function and
// exports a wrapper for each (so every call really goes guest -> host through wasm), plus
// helpers to lay out strings and structs in its memory and to build temporary directory trees.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeFileSystem } from '../../src/internal/platform/node/index.js';
import { createWasi, type Wasi, type WasiOptions } from '../../src/internal/wasi/index.js';
import { assemble } from '../helpers.js';

type T = 'i32' | 'i64';
/** Parameter types of each preview1 function (all return an errno i32 except proc_exit). */
export const SIGNATURES: Record<string, T[]> = {
  args_get: ['i32', 'i32'],
  args_sizes_get: ['i32', 'i32'],
  environ_get: ['i32', 'i32'],
  environ_sizes_get: ['i32', 'i32'],
  clock_res_get: ['i32', 'i32'],
  clock_time_get: ['i32', 'i64', 'i32'],
  fd_advise: ['i32', 'i64', 'i64', 'i32'],
  fd_allocate: ['i32', 'i64', 'i64'],
  fd_close: ['i32'],
  fd_datasync: ['i32'],
  fd_fdstat_get: ['i32', 'i32'],
  fd_fdstat_set_flags: ['i32', 'i32'],
  fd_fdstat_set_rights: ['i32', 'i64', 'i64'],
  fd_filestat_get: ['i32', 'i32'],
  fd_filestat_set_size: ['i32', 'i64'],
  fd_filestat_set_times: ['i32', 'i64', 'i64', 'i32'],
  fd_pread: ['i32', 'i32', 'i32', 'i64', 'i32'],
  fd_prestat_get: ['i32', 'i32'],
  fd_prestat_dir_name: ['i32', 'i32', 'i32'],
  fd_pwrite: ['i32', 'i32', 'i32', 'i64', 'i32'],
  fd_read: ['i32', 'i32', 'i32', 'i32'],
  fd_readdir: ['i32', 'i32', 'i32', 'i64', 'i32'],
  fd_renumber: ['i32', 'i32'],
  fd_seek: ['i32', 'i64', 'i32', 'i32'],
  fd_sync: ['i32'],
  fd_tell: ['i32', 'i32'],
  fd_write: ['i32', 'i32', 'i32', 'i32'],
  path_create_directory: ['i32', 'i32', 'i32'],
  path_filestat_get: ['i32', 'i32', 'i32', 'i32', 'i32'],
  path_filestat_set_times: ['i32', 'i32', 'i32', 'i32', 'i64', 'i64', 'i32'],
  path_link: ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32'],
  path_open: ['i32', 'i32', 'i32', 'i32', 'i32', 'i64', 'i64', 'i32', 'i32'],
  path_readlink: ['i32', 'i32', 'i32', 'i32', 'i32', 'i32'],
  path_remove_directory: ['i32', 'i32', 'i32'],
  path_rename: ['i32', 'i32', 'i32', 'i32', 'i32', 'i32'],
  path_symlink: ['i32', 'i32', 'i32', 'i32', 'i32'],
  path_unlink_file: ['i32', 'i32', 'i32'],
  poll_oneoff: ['i32', 'i32', 'i32', 'i32'],
  proc_exit: ['i32'],
  proc_raise: ['i32'],
  sched_yield: [],
  random_get: ['i32', 'i32'],
  sock_accept: ['i32', 'i32', 'i32'],
  sock_recv: ['i32', 'i32', 'i32', 'i32', 'i32', 'i32'],
  sock_send: ['i32', 'i32', 'i32', 'i32', 'i32'],
  sock_shutdown: ['i32', 'i32'],
};

function harnessWat(): string {
  const lines = ['(module'];
  for (const [name, params] of Object.entries(SIGNATURES)) {
    const result = name === 'proc_exit' ? '' : ' (result i32)';
    lines.push(`  (import "wasi_snapshot_preview1" "${name}" (func $${name} (param ${params.join(' ')})${result}))`);
  }
  lines.push('  (memory (export "memory") 1 100)');
  for (const [name, params] of Object.entries(SIGNATURES)) {
    const result = name === 'proc_exit' ? '' : ' (result i32)';
    const gets = params.map((_, i) => `local.get ${i}`).join(' ');
    lines.push(`  (func (export "${name}") (param ${params.join(' ')})${result} ${gets} call $${name})`);
  }
  lines.push('  (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)');
  lines.push(')');
  return lines.join('\n');
}

let harnessBytes: Promise<Uint8Array> | undefined;

/** Rights that a libc asks for when it wants everything. */
export const ALL = (1n << 30n) - 1n;
/** Read-only file rights (what a libc asks for on O_RDONLY). */
export const READ = (1n << 1n) | (1n << 2n) | (1n << 5n) | (1n << 14n) | (1n << 21n);
/** Write rights (FD_WRITE, FD_ALLOCATE, FD_FILESTAT_SET_SIZE) plus seek/tell. */
export const WRITE = (1n << 6n) | (1n << 8n) | (1n << 22n) | (1n << 2n) | (1n << 5n);

export const OFLAGS = { CREAT: 1, DIRECTORY: 2, EXCL: 4, TRUNC: 8 } as const;
export const E = {
  SUCCESS: 0,
  EACCES: 2,
  EBADF: 8,
  EBUSY: 10,
  EEXIST: 20,
  EFAULT: 21,
  EILSEQ: 25,
  EINVAL: 28,
  EISDIR: 31,
  ELOOP: 32,
  ENAMETOOLONG: 37,
  ENOENT: 44,
  ENOSYS: 52,
  ENOTDIR: 54,
  ENOTEMPTY: 55,
  EPERM: 63,
  EROFS: 69,
  ESPIPE: 70,
  ENOTCAPABLE: 76,
} as const;

/** A running harness guest with a bump allocator over its memory. */
export class Guest {
  readonly wasi: Wasi;
  readonly exports: Record<string, (...args: (number | bigint)[]) => number>;
  readonly memory: WebAssembly.Memory;
  #next = 1024;

  constructor(wasi: Wasi, instance: WebAssembly.Instance) {
    this.wasi = wasi;
    this.exports = instance.exports as unknown as Guest['exports'];
    this.memory = instance.exports.memory as WebAssembly.Memory;
    wasi.setMemory(this.memory);
  }

  /** Call the wrapper of a preview1 function; i64 parameters may be given as numbers. */
  call(name: string, ...args: (number | bigint)[]): number {
    const types = SIGNATURES[name] ?? ['i32'];
    return this.exports[name]!(...args.map((a, i) => (types[i] === 'i64' ? BigInt(a) : Number(a))));
  }

  alloc(size: number, align = 8): number {
    this.#next = Math.ceil(this.#next / align) * align;
    const ptr = this.#next;
    this.#next += size;
    if (this.#next > this.memory.buffer.byteLength) throw new Error('test guest out of memory');
    return ptr;
  }

  /** Copy bytes or a string into fresh guest memory: [ptr, len]. */
  put(data: string | Uint8Array): [number, number] {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    const ptr = this.alloc(Math.max(bytes.byteLength, 1), 1);
    new Uint8Array(this.memory.buffer, ptr, bytes.byteLength).set(bytes);
    return [ptr, bytes.byteLength];
  }

  view(): DataView {
    return new DataView(this.memory.buffer);
  }
  u32(ptr: number): number {
    return this.view().getUint32(ptr, true);
  }
  u64(ptr: number): bigint {
    return this.view().getBigUint64(ptr, true);
  }
  bytes(ptr: number, len: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, ptr, len).slice();
  }
  text(ptr: number, len: number): string {
    return new TextDecoder().decode(this.bytes(ptr, len));
  }

  /** path_open; returns [errno, fd]. */
  open(
    dirfd: number,
    path: string,
    opts: { oflags?: number; rights?: bigint; inheriting?: bigint; fdflags?: number; follow?: boolean } = {},
  ): [number, number] {
    const [p, l] = this.put(path);
    const fdPtr = this.alloc(4);
    const rights = opts.rights ?? READ;
    const errno = this.call(
      'path_open',
      dirfd,
      opts.follow === false ? 0 : 1,
      p,
      l,
      opts.oflags ?? 0,
      rights,
      opts.inheriting ?? rights | ALL,
      opts.fdflags ?? 0,
      fdPtr,
    );
    return [errno, errno === 0 ? this.u32(fdPtr) : -1];
  }

  /** Call a path_* function whose arguments are (fd, path_ptr, path_len). */
  pathCall(name: string, dirfd: number, path: string): number {
    const [p, l] = this.put(path);
    return this.call(name, dirfd, p, l);
  }

  /** fd_read until end of file; returns [errno, text]. */
  readAll(fd: number): [number, string] {
    const buf = this.alloc(64);
    const iov = this.alloc(8);
    const nread = this.alloc(4);
    this.view().setUint32(iov, buf, true);
    this.view().setUint32(iov + 4, 64, true);
    let text = '';
    for (;;) {
      const errno = this.call('fd_read', fd, iov, 1, nread);
      if (errno !== 0) return [errno, text];
      const n = this.u32(nread);
      if (n === 0) return [0, text];
      text += this.text(buf, n);
    }
  }

  /** fd_write of `data` as two iovecs (to exercise gathering); returns [errno, written]. */
  write(fd: number, data: string): [number, number] {
    const bytes = new TextEncoder().encode(data);
    const half = bytes.byteLength >> 1;
    const [p1, l1] = this.put(bytes.subarray(0, half));
    const [p2, l2] = this.put(bytes.subarray(half));
    const iov = this.alloc(16);
    const v = this.view();
    v.setUint32(iov, p1, true);
    v.setUint32(iov + 4, l1, true);
    v.setUint32(iov + 8, p2, true);
    v.setUint32(iov + 12, l2, true);
    const nwritten = this.alloc(4);
    const errno = this.call('fd_write', fd, iov, 2, nwritten);
    return [errno, errno === 0 ? this.u32(nwritten) : 0];
  }
}

/** Instantiate the harness guest against a fresh WASI with `options`. */
export async function startGuest(options: WasiOptions = {}): Promise<Guest> {
  harnessBytes ??= assemble(harnessWat());
  const wasi = createWasi({ fs: nodeFileSystem, ...options });
  const module = await WebAssembly.compile((await harnessBytes) as Uint8Array<ArrayBuffer>);
  const instance = await WebAssembly.instantiate(module, { wasi_snapshot_preview1: wasi.imports });
  return new Guest(wasi, instance);
}

/** A temporary directory; `cleanup` removes it with everything inside. */
export function tempDir(): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), 'plughost-wasi-'));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}
