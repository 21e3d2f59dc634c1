// A fixed set of instances of one compiled plug-in, each in its own worker, sharing one queue.
// The host thread only routes: a call goes to an idle instance, else behind the running call of
// a busy one (posted ahead, so that worker never waits for this thread between calls; small
// calls several deep), else waits in a bounded queue.

import type { CallOptions, PluginInput } from './call-options.js';
import { AbortError, ManifestError, PluginClosedError, PoolFullError, WorkerError } from './errors.js';
import { unsupportedInput } from './internal/backend.js';
import { CallQueue } from './internal/call-queue.js';
import type { Platform } from './internal/platform/platform.js';
import { type CapturedInput, captureInput, isSmallInput, type WorkerBackend } from './internal/worker/worker-backend.js';
import type { ManifestLike } from './manifest.js';
import type { PluginOptions } from './options.js';
import { compilePluginOn } from './plugin.js';
import type { PluginOutput } from './plugin-output.js';

/** Options of {@link createPool}: those of a plug-in, plus the pool's shape. */
export interface PoolOptions extends PluginOptions {
  /** Instances (workers) in the pool; default: the number of CPUs this process may use. */
  size?: number;
  /**
   * Calls that may wait to run (queued, or posted ahead to a busy instance); one more is
   * refused with {@link PoolFullError}. Default 10,000.
   */
  maxQueue?: number;
}

interface Waiting {
  name: string;
  input: CapturedInput;
  hostContext: unknown;
  options: CallOptions | undefined;
  signal: AbortSignal | undefined;
  resolve(output: PluginOutput | null): void;
  reject(error: unknown): void;
}

/** Calls one instance holds: the running one and one posted ahead. */
const CALLS_PER_MEMBER = 2;
/**
 * Calls with a small input one instance holds: more posted ahead, which its worker receives
 * several to a message, so a busy pool of small calls costs this thread fewer wake-ups.
 */
const SMALL_CALLS_PER_MEMBER = 8;

interface Member {
  backend: WorkerBackend;
  /** Its calls not yet settled, at most {@link SMALL_CALLS_PER_MEMBER}. */
  calls: number;
}

/**
 * Instances of one plug-in in worker threads, called as one: each call runs on an idle
 * instance; when none is idle, an instance takes one call behind its running one (up to seven
 * when their inputs are under 16 KiB), so that it starts each without waiting for this thread
 * (with calls of very uneven length, one may then wait behind a long call while another
 * instance becomes free). Instances keep their own state and vars, and which one serves a call is not
 * specified, so a pool suits plug-ins whose calls do not depend on earlier ones. A worker that
 * dies fails only the call it was running ({@link WorkerError}) and is replaced.
 *
 * ```ts
 * const pool = await createPool('count-vowels.wasm', { size: 4 });
 * const results = await Promise.all(texts.map((text) => pool.call('count_vowels', text)));
 * await pool.close();
 * ```
 */
export class Pool {
  readonly #members: Member[];
  /** Calls waiting for an instance; an abort takes one out (then the pool may have drained). */
  readonly #queue = new CallQueue<Waiting>({ abortedWhileQueued: () => this.#checkDrained() });
  readonly #maxQueue: number;
  #closed = false;
  #drained: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  /** @internal */
  constructor(backends: WorkerBackend[], maxQueue: number) {
    this.#members = backends.map((backend) => ({ backend, calls: 0 }));
    this.#maxQueue = maxQueue;
  }

  /** Number of instances. */
  get size(): number {
    return this.#members.length;
  }

  /** Calls not running yet: those in the queue, and those posted ahead to a busy instance. */
  get pending(): number {
    let ahead = 0;
    for (const member of this.#members) ahead += Math.max(0, member.calls - 1);
    return this.#queue.length + ahead;
  }

  /**
   * Call `name` on an idle instance (waiting for one when all are busy). Same arguments and
   * results as {@link Plugin.call}; also rejects with {@link PoolFullError} when `maxQueue`
   * calls are already waiting, and with {@link PluginClosedError} once {@link close} was called.
   * An input in a `SharedArrayBuffer` is read in place, not copied: leave it unchanged until the
   * call settles (see {@link PluginInput}).
   */
  call<T = unknown>(name: string, input?: PluginInput, hostContext?: T, options?: CallOptions): Promise<PluginOutput | null> {
    if (this.#closed) return Promise.reject(new PluginClosedError());
    const unsupported = unsupportedInput(input);
    if (unsupported !== undefined) return Promise.reject(unsupported);
    const idle = this.#leastBusy(isSmallInput(input) ? SMALL_CALLS_PER_MEMBER : CALLS_PER_MEMBER);
    if (idle !== undefined && idle.calls === 0) return this.#run(idle, name, input, hostContext, options);
    if (this.pending >= this.#maxQueue) return Promise.reject(new PoolFullError(this.#maxQueue));
    if (idle !== undefined) return this.#run(idle, name, input, hostContext, options);
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(new AbortError(name, signal.reason));
    return new Promise((resolve, reject) => {
      // captured now: the caller may reuse its bytes while the call waits (bytes in shared memory are read in place)
      this.#queue.push({ name, input: captureInput(input), hostContext, options, signal, resolve, reject });
    });
  }

  /** Whether the plug-in exports a function called `name`. */
  functionExists(name: string): Promise<boolean> {
    if (this.#closed) return Promise.reject(new PluginClosedError());
    return this.#members[0]!.backend.functionExists(name);
  }

  /**
   * Stop taking calls, let the queued and running ones finish, then end every worker. Resolves
   * when all are gone: nothing of the pool keeps the process alive afterwards.
   */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    const drained = new Promise<void>((resolve) => {
      this.#drained = resolve;
    });
    this.#checkDrained();
    this.#closing = drained.then(() => Promise.all(this.#members.map((m) => m.backend.close()))).then(() => undefined);
    return this.#closing;
  }

  /** The member with the fewest calls, if one has fewer than `limit`. */
  #leastBusy(limit: number): Member | undefined {
    let best: Member | undefined;
    for (const member of this.#members) {
      if (member.calls < limit && (best === undefined || member.calls < best.calls)) best = member;
      if (member.calls === 0) break;
    }
    return best;
  }

  #run(member: Member, name: string, input: PluginInput | CapturedInput, hostContext: unknown, options: CallOptions | undefined): Promise<PluginOutput | null> {
    member.calls++;
    const done = member.backend.call(name, input, hostContext, options);
    // The next call is handed over as soon as this one settles, whatever its outcome.
    const release = () => this.#release(member);
    done.then(release, release);
    return done;
  }

  #release(member: Member): void {
    member.calls--;
    const next = this.#queue.shift();
    if (next === undefined) {
      this.#checkDrained();
      return;
    }
    // From here its instance's backend watches the signal.
    this.#queue.release(next);
    this.#run(member, next.name, next.input, next.hostContext, next.options).then(next.resolve, next.reject);
  }

  #checkDrained(): void {
    if (this.#drained !== undefined && this.#queue.length === 0 && this.#members.every((m) => m.calls === 0)) {
      this.#drained();
      this.#drained = undefined;
    }
  }
}

/** @internal createPool on `platform` (the public one is bound to its entry's platform, see bind.ts). */
export async function createPoolOn(platform: Platform, manifest: ManifestLike | PromiseLike<ManifestLike>, options: PoolOptions = {}): Promise<Pool> {
  const threads = platform.threads;
  if (threads === undefined) {
    const why = platform.threadsMissing === undefined ? '' : ` (${platform.threadsMissing})`;
    throw new WorkerError(`createPool needs threads, and ${platform.name} has none here${why}: create plug-ins with createPlugin instead`);
  }
  const { size = threads.availableParallelism(), maxQueue = 10_000, ...pluginOptions } = options;
  if (!(Number.isInteger(size) && size >= 1)) throw new ManifestError('size', `must be a whole number >= 1, got ${size}`);
  if (!(maxQueue === Infinity || (Number.isInteger(maxQueue) && maxQueue >= 0))) {
    throw new ManifestError('maxQueue', `must be a whole number >= 0 (or Infinity), got ${maxQueue}`);
  }
  const compiled = await compilePluginOn(platform, manifest, { ...pluginOptions, runInWorker: true });
  const started = await Promise.allSettled(Array.from({ length: size }, () => compiled.startWorker()));
  const backends = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(backends.map((b) => b.close()));
    throw failed.reason;
  }
  return new Pool(backends, maxQueue);
}
