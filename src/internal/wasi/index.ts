/**
 * plughost's own WASI preview 1 (`wasi_snapshot_preview1`): a file-system sandbox that maps
 * host directories into the guest, read-only when asked, and nothing else.
 *
 * Why not `node:wasi`: it is documented as not a secure sandbox, cannot mount read-only, and
 * cannot be interrupted. Here every guest path is resolved by our own code against its mount
 * (see `path.ts`), stdout/stderr go to callbacks, and sleeping goes through a host function
 * that can abort the call.
 *
 * ```ts
 * const wasi = createWasi({ mounts: [{ hostPath: './data', guestPath: '/data', readOnly: true }] });
 * const { instance } = await WebAssembly.instantiate(bytes, { wasi_snapshot_preview1: wasi.imports });
 * wasi.setMemory(instance.exports.memory as WebAssembly.Memory);
 * try { (instance.exports._start as () => void)(); } catch (e) { if (!(e instanceof WasiExit)) throw e; }
 * wasi.close();
 * ```
 *
 * @module
 */
import { argsEnvironFunctions, encodeStrings, environStrings } from './args-environ.js';
import { clockFunctions } from './clock.js';
import { DIRECTORY_RIGHTS, FILE_RIGHTS, MUTATING_RIGHTS, Rights } from './constants.js';
import type { WasiContext, WasiFunction } from './context.js';
import { DirectoryDescriptor, type Mount, OutputDescriptor, StdinDescriptor } from './descriptor.js';
import { Errno, errnoOfHostError, HostCallbackError, WasiErrno } from './errno.js';
import { fdFunctions } from './fd.js';
import { FdTable } from './fd-table.js';
import type { HostFileSystem } from './host-fs.js';
import { GuestMemory } from './memory.js';
import { pathFunctions } from './path.js';
import { atomicsSleep, pollFunctions } from './poll.js';
import { procFunctions, WasiExit } from './proc.js';
import { randomFunctions } from './random.js';

export type { HostFileSystem } from './host-fs.js';
export { WasiExit } from './proc.js';

/** A host directory made visible to the guest at `guestPath`. */
export interface WasiMount {
  /** Host directory; must exist. Resolved once, at {@link createWasi}, to its canonical path. */
  hostPath: string;
  /** Name the guest sees it under (reported by `fd_prestat_dir_name`), e.g. `/data`. */
  guestPath: string;
  /** Every write through this mount fails with EROFS; the host files stay untouched. */
  readOnly: boolean;
}

/** What the guest gets. Everything defaults to nothing. */
export interface WasiOptions {
  /** Directories to map, preopened as fd 3, 4, ... in this order; none: the guest sees no file system at all. */
  mounts?: WasiMount[];
  /** The guest's argv (`args_get`); default `[]`. */
  args?: string[];
  /** The guest's environment (`environ_get`); default `{}`. */
  env?: Record<string, string>;
  /** Receives each `fd_write` to fd 1 as one chunk (a copy the callback may keep); undefined: discarded. */
  stdout?: (chunk: Uint8Array) => void;
  /** Same for fd 2. */
  stderr?: (chunk: Uint8Array) => void;
  /** Blocks the thread for up to ms milliseconds (poll_oneoff clock subscriptions). The engine
   *  passes one that wakes at its call's deadline and throws to end the call; default: Atomics.wait. */
  sleep?: (ms: number) => void;
  /** Throws to end the call when it is due (the engine: its deadline or abort), called between the
   *  pieces of long work inside one WASI call, where the guest's own checks cannot run; default: never. */
  checkInterrupt?: () => void;
  /** File-system access behind the mounts (the platform's); required when there are mounts. */
  fs?: HostFileSystem;
}

/** One guest's WASI: its imports and the handles it holds. */
export interface Wasi {
  /** Functions for the `wasi_snapshot_preview1` import namespace; every preview1 function is present (unsupported ones return ENOSYS/ENOTSUP). */
  readonly imports: Record<string, (...args: any[]) => number | void>;
  /** The guest memory to read/write (called after instantiation, and again after re-instantiation). */
  setMemory(memory: WebAssembly.Memory): void;
  /**
   * Close every host fd opened for the guest. The fd table is then back to its initial state
   * (stdio and the preopened mounts), so the same object can serve a re-created instance.
   */
  close(): void;
}

/** Every function of `wasi_snapshot_preview1`, in witx order. */
export const WASI_PREVIEW1_FUNCTIONS = [
  'args_get',
  'args_sizes_get',
  'environ_get',
  'environ_sizes_get',
  'clock_res_get',
  'clock_time_get',
  'fd_advise',
  'fd_allocate',
  'fd_close',
  'fd_datasync',
  'fd_fdstat_get',
  'fd_fdstat_set_flags',
  'fd_fdstat_set_rights',
  'fd_filestat_get',
  'fd_filestat_set_size',
  'fd_filestat_set_times',
  'fd_pread',
  'fd_prestat_get',
  'fd_prestat_dir_name',
  'fd_pwrite',
  'fd_read',
  'fd_readdir',
  'fd_renumber',
  'fd_seek',
  'fd_sync',
  'fd_tell',
  'fd_write',
  'path_create_directory',
  'path_filestat_get',
  'path_filestat_set_times',
  'path_link',
  'path_open',
  'path_readlink',
  'path_remove_directory',
  'path_rename',
  'path_symlink',
  'path_unlink_file',
  'poll_oneoff',
  'proc_exit',
  'proc_raise',
  'sched_yield',
  'random_get',
  'sock_accept',
  'sock_recv',
  'sock_send',
  'sock_shutdown',
] as const;

const STDIN_RIGHTS = Rights.FD_READ | Rights.FD_FDSTAT_SET_FLAGS | Rights.FD_FILESTAT_GET | Rights.POLL_FD_READWRITE;
const STDOUT_RIGHTS = Rights.FD_WRITE | Rights.FD_FDSTAT_SET_FLAGS | Rights.FD_FILESTAT_GET | Rights.POLL_FD_READWRITE;

/** Sockets cannot exist in this sandbox (none are preopened, none can be made). */
function socketFunctions(): Record<string, WasiFunction> {
  const nosys = (): number => Errno.ENOSYS;
  return { sock_accept: nosys, sock_recv: nosys, sock_send: nosys, sock_shutdown: nosys };
}

/** Turn thrown errnos and host fs errors into the function's result; let everything else (exit, timeouts) through. */
function guard(fn: WasiFunction): WasiFunction {
  return (...args: unknown[]) => {
    try {
      return fn(...args);
    } catch (error) {
      if (error instanceof WasiErrno) return error.errno;
      if (error instanceof HostCallbackError) throw error.error;
      if (error instanceof WasiExit) throw error;
      const errno = errnoOfHostError(error);
      if (errno !== undefined) return errno;
      throw error;
    }
  };
}

function callback<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
  return (...args: A) => {
    try {
      fn(...args);
    } catch (error) {
      throw new HostCallbackError(error);
    }
  };
}

function openMount(fs: HostFileSystem, mount: WasiMount, index: number): Mount {
  if (typeof mount?.hostPath !== 'string' || typeof mount.guestPath !== 'string') {
    throw new TypeError(`WASI mount ${index}: hostPath and guestPath must be strings`);
  }
  let hostRoot: string;
  try {
    hostRoot = fs.realpath(mount.hostPath);
    if (fs.lstat(hostRoot).type !== 'directory') throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (error) {
    throw new Error(`WASI mount ${index}: host directory ${mount.hostPath} (for ${mount.guestPath}) cannot be used: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return { hostRoot, guestPath: mount.guestPath, readOnly: mount.readOnly === true };
}

/** Where there is neither a file system nor a mount: no descriptor can reach it, and any call says why. */
const NO_FILE_SYSTEM = new Proxy({} as HostFileSystem, {
  get: () => () => {
    throw Object.assign(new Error('no host file system'), { code: 'ENOSYS' });
  },
});

/**
 * Create the WASI preview 1 imports for one guest.
 *
 * Throws (a TypeError for malformed options, an Error with the fs error as `cause` for a mount
 * whose host directory is missing or not a directory) before the guest runs.
 */
export function createWasi(options: WasiOptions = {}): Wasi {
  const requested = options.mounts ?? [];
  if (requested.length > 0 && options.fs === undefined) {
    throw new TypeError(`WASI mount ${requested[0]!.hostPath} needs a host file system, and none was given (options.fs)`);
  }
  const fs = options.fs ?? NO_FILE_SYSTEM;
  const mounts = requested.map((m, i) => openMount(fs, m, i));
  const encoder = new TextEncoder();
  const ctx: WasiContext = {
    memory: new GuestMemory(),
    fds: new FdTable(),
    fs,
    sleep: callback(options.sleep ?? atomicsSleep()),
    checkInterrupt: options.checkInterrupt === undefined ? () => {} : callback(options.checkInterrupt),
    args: encodeStrings(options.args ?? [], 'arguments'),
    environ: encodeStrings(environStrings(options.env ?? {}), 'environment variables'),
  };
  const stdout = options.stdout === undefined ? undefined : callback(options.stdout);
  const stderr = options.stderr === undefined ? undefined : callback(options.stderr);

  const populate = (): void => {
    ctx.fds.add(new StdinDescriptor(STDIN_RIGHTS, 0n));
    ctx.fds.add(new OutputDescriptor(stdout, STDOUT_RIGHTS));
    ctx.fds.add(new OutputDescriptor(stderr, STDOUT_RIGHTS));
    for (const mount of mounts) {
      const withheld = mount.readOnly ? MUTATING_RIGHTS : 0n;
      ctx.fds.add(
        new DirectoryDescriptor(fs, mount, [], DIRECTORY_RIGHTS & ~withheld, (DIRECTORY_RIGHTS | FILE_RIGHTS) & ~withheld, encoder.encode(mount.guestPath)),
      );
    }
  };
  populate();

  const clock = clockFunctions(ctx);
  const all: Record<string, WasiFunction> = {
    ...argsEnvironFunctions(ctx),
    ...clock.imports,
    ...fdFunctions(ctx),
    ...pathFunctions(ctx),
    ...pollFunctions(ctx, clock.now),
    ...procFunctions(),
    ...randomFunctions(ctx),
    ...socketFunctions(),
  };
  const imports: Record<string, WasiFunction> = Object.create(null);
  for (const name of WASI_PREVIEW1_FUNCTIONS) {
    const fn = all[name];
    if (fn === undefined) throw new Error(`internal: WASI function ${name} is missing`);
    imports[name] = guard(fn);
  }

  return {
    imports: Object.freeze(imports),
    setMemory(memory: WebAssembly.Memory): void {
      ctx.memory.set(memory);
    },
    close(): void {
      ctx.fds.closeAll();
      populate();
    },
  };
}
