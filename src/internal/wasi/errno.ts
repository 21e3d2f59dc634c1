/**
 * WASI preview 1 error numbers, the exception that carries one out of a function body, and the
 * mapping from host file-system error codes (POSIX names, as Node reports them) to them.
 *
 * @module
 */

/** WASI preview 1 `errno` values (witx `errno`), named after their POSIX counterparts. */
export const Errno = {
  SUCCESS: 0,
  E2BIG: 1,
  EACCES: 2,
  EADDRINUSE: 3,
  EADDRNOTAVAIL: 4,
  EAFNOSUPPORT: 5,
  EAGAIN: 6,
  EALREADY: 7,
  EBADF: 8,
  EBADMSG: 9,
  EBUSY: 10,
  ECANCELED: 11,
  ECHILD: 12,
  ECONNABORTED: 13,
  ECONNREFUSED: 14,
  ECONNRESET: 15,
  EDEADLK: 16,
  EDESTADDRREQ: 17,
  EDOM: 18,
  EDQUOT: 19,
  EEXIST: 20,
  EFAULT: 21,
  EFBIG: 22,
  EHOSTUNREACH: 23,
  EIDRM: 24,
  EILSEQ: 25,
  EINPROGRESS: 26,
  EINTR: 27,
  EINVAL: 28,
  EIO: 29,
  EISCONN: 30,
  EISDIR: 31,
  ELOOP: 32,
  EMFILE: 33,
  EMLINK: 34,
  EMSGSIZE: 35,
  EMULTIHOP: 36,
  ENAMETOOLONG: 37,
  ENETDOWN: 38,
  ENETRESET: 39,
  ENETUNREACH: 40,
  ENFILE: 41,
  ENOBUFS: 42,
  ENODEV: 43,
  ENOENT: 44,
  ENOEXEC: 45,
  ENOLCK: 46,
  ENOLINK: 47,
  ENOMEM: 48,
  ENOMSG: 49,
  ENOPROTOOPT: 50,
  ENOSPC: 51,
  ENOSYS: 52,
  ENOTCONN: 53,
  ENOTDIR: 54,
  ENOTEMPTY: 55,
  ENOTRECOVERABLE: 56,
  ENOTSOCK: 57,
  ENOTSUP: 58,
  ENOTTY: 59,
  ENXIO: 60,
  EOVERFLOW: 61,
  EOWNERDEAD: 62,
  EPERM: 63,
  EPIPE: 64,
  EPROTO: 65,
  EPROTONOSUPPORT: 66,
  EPROTOTYPE: 67,
  ERANGE: 68,
  EROFS: 69,
  ESPIPE: 70,
  ESRCH: 71,
  ESTALE: 72,
  ETIMEDOUT: 73,
  ETXTBSY: 74,
  EXDEV: 75,
  ENOTCAPABLE: 76,
} as const;

/**
 * Thrown inside a WASI function body to return `errno` to the guest; the import wrapper turns
 * it into the function's result. Never escapes to the host.
 */
export class WasiErrno extends Error {
  readonly errno: number;
  constructor(errno: number) {
    super(`WASI errno ${errno}`);
    this.errno = errno;
  }
}

/** Throw `errno` to the guest (shorthand inside function bodies). */
export function fail(errno: number): never {
  throw new WasiErrno(errno);
}

// Host code names that differ from the WASI name or have no WASI twin.
const aliases: Record<string, number> = {
  EWOULDBLOCK: Errno.EAGAIN,
  EOPNOTSUPP: Errno.ENOTSUP,
  ENOTBLK: Errno.ENOTSUP,
  ETIME: Errno.ETIMEDOUT,
  EPERM: Errno.EPERM,
  ERR_FS_FILE_TOO_LARGE: Errno.EFBIG,
  ERR_FS_EISDIR: Errno.EISDIR,
};

/**
 * The WASI errno for an error thrown by a {@link HostFileSystem}, or `undefined` when the error
 * is not a file-system error (a timeout, a bug) and must propagate to the host instead.
 */
export function errnoOfHostError(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return undefined;
  if (Object.hasOwn(aliases, code)) return aliases[code];
  if (Object.hasOwn(Errno, code) && code !== 'SUCCESS') return Errno[code as keyof typeof Errno];
  // An E-code we do not know is still an I/O failure the guest should see, not a host crash.
  if (/^E[A-Z0-9]+$/.test(code)) return Errno.EIO;
  return undefined;
}

/**
 * Wraps an exception thrown by a host callback (the `sleep`, `stdout` or `stderr` option) so the
 * import wrapper rethrows the original untouched instead of mistaking it for a file-system error.
 */
export class HostCallbackError {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}
