/**
 * The guest's fd table: which descriptor each fd number holds. Its own module because the
 * context every spec area receives holds one, and `fd.ts` (the `fd_*` functions) takes that
 * context.
 *
 * @module
 */
import { type Descriptor, DirectoryDescriptor } from './descriptor.js';
import { Errno, fail } from './errno.js';

/** More open fds than this and the guest gets EMFILE, so it cannot exhaust the host's fds. */
const MAX_OPEN_FDS = 1024;

/** The guest's file descriptors. Numbers are reused lowest-first, as POSIX does. */
export class FdTable {
  readonly #fds: (Descriptor | undefined)[] = [];
  #open = 0;

  /** The descriptor at `fd`; EBADF when none. */
  get(fd: number): Descriptor {
    const d = Number.isInteger(fd) && fd >= 0 ? this.#fds[fd] : undefined;
    return d ?? fail(Errno.EBADF);
  }

  /** The directory at `fd`; EBADF when none, ENOTDIR when it is not a directory. */
  directory(fd: number): DirectoryDescriptor {
    const d = this.get(fd);
    return d instanceof DirectoryDescriptor ? d : fail(Errno.ENOTDIR);
  }

  /** Fail with EMFILE now, before a host fd is opened that the table could not take. */
  ensureRoom(): void {
    if (this.#open >= MAX_OPEN_FDS) fail(Errno.EMFILE);
  }

  /** Store `d` at the lowest free number and return it. */
  add(d: Descriptor): number {
    this.ensureRoom();
    let fd = this.#fds.indexOf(undefined);
    if (fd < 0) fd = this.#fds.length;
    this.#fds[fd] = d;
    this.#open++;
    return fd;
  }

  /** Remove `fd` from the table (without closing it) and return what it held. */
  remove(fd: number): Descriptor {
    const d = this.get(fd);
    this.#fds[fd] = undefined;
    this.#open--;
    while (this.#fds.length > 0 && this.#fds[this.#fds.length - 1] === undefined) this.#fds.pop();
    return d;
  }

  /** Make `to` refer to what `from` refers to, closing what `to` held; both must be open. */
  renumber(from: number, to: number): void {
    const d = this.get(from);
    const old = this.get(to);
    if (from === to) return;
    this.#fds[to] = d;
    this.remove(from);
    old.close();
  }

  /** Close every descriptor and empty the table. Host errors on close are ignored: there is no guest left to tell. */
  closeAll(): void {
    for (const d of this.#fds) {
      try {
        d?.close();
      } catch {
        // Nothing useful to do; the host fd is gone either way.
      }
    }
    this.#fds.length = 0;
    this.#open = 0;
  }
}
