// The calls waiting their turn, for a worker plug-in (one call runs at a time) and for a pool
// (calls wait for a free instance). Both keep the same promise: a call whose AbortSignal fires
// while it waits leaves the queue at once and rejects with AbortError, and the signal's listener
// goes when the call is settled, so a long-lived signal does not keep calls alive.
import { AbortError } from '../errors.js';

/** What the queue needs of a waiting call. */
export interface QueuedCall {
  /** The plug-in function, named by the AbortError. */
  readonly name: string;
  readonly signal: AbortSignal | undefined;
  reject(error: unknown): void;
}

/** What the owner hears of aborts. */
export interface CallQueueEvents<T> {
  /** A call was aborted and removed while waiting (already rejected). */
  abortedWhileQueued?(call: T): void;
  /** A call's signal fired after it left the queue but before {@link CallQueue.release}: the owner stops it. */
  abortedOutside?(call: T): void;
}

/** First in, first out, with abort bookkeeping (see the top of this file). */
export class CallQueue<T extends QueuedCall> {
  private readonly waiting: T[] = [];
  /** The abort listener of each call that has a signal, from {@link push} to {@link release}. */
  private readonly listeners = new Map<T, () => void>();

  constructor(private readonly events: CallQueueEvents<T> = {}) {}

  get length(): number {
    return this.waiting.length;
  }

  /** The call {@link shift} would return. */
  get head(): T | undefined {
    return this.waiting[0];
  }

  /** Queue `call` at the back and start listening to its signal. */
  push(call: T): void {
    const { signal } = call;
    if (signal !== undefined && !this.listeners.has(call)) {
      const onAbort = () => this.onAbort(call);
      this.listeners.set(call, onAbort);
      signal.addEventListener('abort', onAbort, { once: true });
    }
    this.waiting.push(call);
  }

  /** Put a call taken out with {@link shift} (and not released) back at the head. */
  unshift(call: T): void {
    this.waiting.unshift(call);
  }

  /** Take the next call out; its signal is still listened to until {@link release}. */
  shift(): T | undefined {
    return this.waiting.shift();
  }

  /** Stop listening to `call`'s signal: it is settled, or its owner no longer stops it on abort. */
  release(call: T): void {
    const onAbort = this.listeners.get(call);
    if (onAbort === undefined) return;
    this.listeners.delete(call);
    call.signal!.removeEventListener('abort', onAbort);
  }

  /** Take every waiting call out, released. */
  drain(): T[] {
    const calls = this.waiting.splice(0);
    for (const call of calls) this.release(call);
    return calls;
  }

  private onAbort(call: T): void {
    this.listeners.delete(call);
    const at = this.waiting.indexOf(call);
    if (at < 0) {
      this.events.abortedOutside?.(call);
      return;
    }
    this.waiting.splice(at, 1);
    call.reject(new AbortError(call.name, call.signal!.reason));
    this.events.abortedWhileQueued?.(call);
  }
}
