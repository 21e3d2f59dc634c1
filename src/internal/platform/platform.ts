// The seam between plughost's core and the runtime it runs on. The core (everything under src/
// but the adapters in platform/<name>/ and the entries) never imports a platform: the entry
// (index.ts for Node, a browser entry for the web) builds one `Platform` and hands it in where a
// plug-in is created, and the core reaches files, hashing, output, threads and blocking HTTP only
// through it. Members a runtime may lack are optional; the core then refuses what needs them with
// an error that names what is missing and what to use instead.
//
// Types only: this file imports nothing that runs.
import type { Deadline } from '../deadline.js';
import type { HttpResponse, PreparedHttpRequest } from '../host-env.js';
import type { HostFileSystem } from '../wasi/host-fs.js';

/** What {@link PlatformFiles.readRegularFile} gives: the bytes, or why the file was not read. */
export type BoundedRead = { bytes: Uint8Array } | { refused: string; tooLarge: boolean };

/**
 * The host's own file system, for manifests and wasm sources given as paths or `file:` URLs
 * and for checking `allowedPaths`. Absent in a browser: a path source is refused, naming the
 * path and saying to pass a URL or bytes.
 */
export interface PlatformFiles {
  /**
   * Read a regular file of at most `maxBytes` without blocking the event loop; anything else
   * (a device, a FIFO, a directory, a larger file) is refused with the reason before a byte is
   * read. Rejects with the platform's error (see {@link fileErrorReason}) when it cannot be opened.
   */
  readRegularFile(path: string, maxBytes: number): Promise<BoundedRead>;
  /** Why reading a file failed, in words for an error message ("no such file", ...). */
  fileErrorReason(err: unknown): string;
  /** Whether `path` is a directory (following symlinks); false when it does not exist. */
  isDirectory(path: string): boolean;
  /** Whether anything is at `path`, following symlinks. */
  pathExists(path: string): boolean;
  /** `path` made absolute, against `base` when given, else the working directory. */
  resolvePath(path: string, base?: string): string;
  /** The absolute path of the folder holding `path`. */
  directoryOf(path: string): string;
  /** The path a `file:` URL names. */
  fileUrlToPath(url: URL | string): string;
}

/** Where guest bytes go when `enableWasiOutput` lets them through. */
export interface OutputStream {
  /** Write `chunk`; `written`, when given, is called once the chunk is out of this process's hands (a stream: flushed), so a writer can wait for a slow reader. */
  write(chunk: Uint8Array, written?: () => void): unknown;
}

/**
 * The blocking HTTP helper: lets a thread that must not return to its event loop (a guest's
 * `http_request` on the calling thread) wait for a `fetch`. Absent: HTTP runs only through JSPI
 * (the guest suspends) or, in worker mode, on the host thread over the host line.
 */
export interface SyncHttp {
  /**
   * Perform `request` (already checked against `allowedHosts`; the helper checks again, and
   * every redirect) and block until its response, or until `deadline`, when it throws
   * `HttpDeadlineExceeded` and abandons the request.
   */
  fetch(request: PreparedHttpRequest, allowedHosts: readonly string[], maxResponseBytes: number, deadline: Deadline): HttpResponse;
  /** Get the helper going now, so the first request does not pay for its start out of its deadline. */
  warm(): void;
}

/** One end of a channel between threads, read synchronously with `receiveMessage`; never given a listener. */
export interface SyncPort {
  postMessage(value: unknown, transfer?: readonly Transferable[]): void;
  close(): void;
}

/** A started worker, as the host side drives it. */
export interface WorkerThread {
  postMessage(value: unknown, transfer?: readonly Transferable[]): void;
  onMessage(listener: (value: unknown) => void): void;
  /** The worker's uncaught error (out of memory, a throw at the top level), before `onExit`. */
  onError(listener: (error: Error) => void): void;
  onExit(listener: (code: number) => void): void;
  terminate(): Promise<void>;
  /** Whether the worker keeps the process alive (true while it has work); a no-op where nothing does. */
  keepAlive(on: boolean): void;
}

/** Inside a worker: the line to the thread that started it. */
export interface HostLine {
  postMessage(value: unknown, transfer?: readonly Transferable[]): void;
  onMessage(listener: (value: unknown) => void): void;
}

/** The host side of worker mode (`runInWorker`, `createPool`). Absent: both are refused with a WorkerError. */
export interface PlatformThreads {
  /** The module a plug-in's worker runs: the platform's worker entry, which calls the core's worker loop with its {@link WorkerSide}. */
  readonly pluginWorkerEntry: URL;
  /** Start the module at `entry` in a new worker; `data` (with its `transfer`red ports) becomes its {@link WorkerSide.workerInput}. */
  startWorker(entry: URL, data: unknown, transfer: readonly (Transferable | SyncPort)[]): WorkerThread;
  /** A channel of two sync ports: keep `local`, transfer `remote` to a worker. */
  createSyncChannel(): { local: SyncPort; remote: SyncPort };
  /** The next message waiting on `port`, or undefined; never blocks and never needs the event loop. */
  receiveMessage(port: SyncPort): unknown;
  /** How many workers can run in parallel here: the default size of a pool. */
  availableParallelism(): number;
  /**
   * Run `callback` once the events due now have been handled (Node's `setImmediate`): calls made
   * in reply to several results then reach a worker as one message.
   */
  afterEvents(callback: () => void): void;
}

/** What the core's worker loop needs from inside the worker it runs in. */
export interface WorkerSide {
  /** The line to the thread that started this worker. */
  hostLine(): HostLine;
  /** The data this worker was started with (a Web Worker receives it as its first message, hence the promise). */
  workerInput(): unknown | Promise<unknown>;
  /** The next message waiting on `port`, or undefined; never blocks and never needs the event loop. */
  receiveMessage(port: SyncPort): unknown;
  /**
   * The worker's end of its sync channel, from the `remote` port as it arrived in the worker's
   * input. Absent: it arrives usable as it is (a transferred MessagePort); a channel built on
   * shared memory, which arrives as plain data, is rebuilt here.
   */
  adoptPort?(received: unknown): SyncPort;
}

/** Everything the core needs from the runtime it runs on; see the top of this file. */
export interface Platform {
  /** For messages: "Node.js", "a browser"... */
  readonly name: string;
  /** The host file system; absent where there is none (a browser). */
  readonly files?: PlatformFiles;
  /** sha256 of `bytes` as lowercase hex; synchronous, since the compiled-module cache is looked up synchronously. */
  sha256Hex(bytes: Uint8Array): string;
  /** Whether two byte arrays hold the same bytes. */
  bytesEqual(a: Uint8Array, b: Uint8Array): boolean;
  /** Where `enableWasiOutput` sends guest stdout (1) and stderr (2). */
  output(fd: 1 | 2): OutputStream;
  /** An environment variable of this process; undefined where there are none. */
  environmentVariable(name: string): string | undefined;
  /** The file system behind WASI's `allowedPaths`; absent: a plug-in with `allowedPaths` is refused. */
  readonly wasiFileSystem?: HostFileSystem;
  /**
   * Whether this thread may block in `Atomics.wait` (false on a browser's main thread). Where it
   * is false the core never calls `Atomics.wait`: see its callers for what each does instead.
   */
  readonly canBlock: boolean;
  /** The blocking HTTP helper; absent: see {@link SyncHttp}. */
  readonly syncHttp?: SyncHttp;
  /** Worker mode; absent where threads cannot be started. */
  readonly threads?: PlatformThreads;
  /** Why `threads` is absent, and what would bring them, for the WorkerError that refuses worker mode. */
  readonly threadsMissing?: string;
  /** Whether `fetch` is subject to cross-origin checks (a browser's is); for CAPABILITIES. Default false. */
  readonly crossOriginChecksEnforced?: boolean;
}
