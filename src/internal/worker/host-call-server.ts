// Host-thread side of a worker plug-in's host functions. A request arrives as a message (the
// event loop is free meanwhile); the user's function runs here, with the application's state,
// and may be async. Its call context reaches the worker's kernel synchronously: each read,
// store or var access is posted on the sync channel and this thread waits (microseconds) for the
// worker, which is blocked in the guest serving exactly these requests.
import { type BlockStore, CallContext, type CallContextHost, type VarAccess } from '../../call-context.js';
import { WorkerError } from '../../errors.js';
import type { HostFunctionCallback, LogLevel } from '../../options.js';
import { PluginOutput } from '../../plugin-output.js';
import { Deadline } from '../deadline.js';
import { fromWire, toWire } from '../error-codec.js';
import type { PlatformThreads, SyncPort } from '../platform/platform.js';
import { CTRL, type MemoryOp, type OpReply, type SyncToWorker } from './protocol.js';

/** How long a memory request may go unanswered by a worker that is serving it before we call the worker lost. */
const OP_ANSWER_BOUND_MS = 30_000;

/** One running host call on the host thread. */
export interface HostCallRecord {
  readonly seq: number;
  /** Set when the plug-in call it belongs to has ended, or its worker is gone. */
  ended: boolean;
}

/** The sync channel to one worker, as the host thread uses it. */
export class SyncLine {
  private opId = 0;
  /** Set when the worker is gone: nothing more will be answered. */
  dead = false;

  constructor(
    readonly ctrl: Int32Array,
    readonly port: SyncPort,
    private readonly threads: PlatformThreads,
    /** Whether this thread may block in Atomics.wait (see {@link waitForWorker}). */
    private readonly canBlock: boolean,
  ) {}

  /** Post to the blocked worker and wake it. */
  send(message: SyncToWorker, transfer: Transferable[] = []): void {
    if (this.dead) return;
    this.port.postMessage(message, transfer);
    Atomics.add(this.ctrl, CTRL.TO_WORKER, 1);
    Atomics.notify(this.ctrl, CTRL.TO_WORKER);
  }

  /** Answer host call `seq`, with a value or an error; a value that cannot be cloned fails the call. */
  answer(record: HostCallRecord, outcome: { value: unknown } | { error: unknown }, transfer: Transferable[] = []): void {
    if (record.ended || this.dead) return;
    if ('value' in outcome) {
      try {
        this.send({ kind: 'return', seq: record.seq, value: outcome.value }, transfer);
        return;
      } catch (err) {
        outcome = { error: new TypeError(`the host function returned a value that cannot be passed to the plug-in: ${(err as Error).message}`) };
      }
    }
    this.send({ kind: 'throw', seq: record.seq, error: toWire(outcome.error) });
  }

  /** Perform a memory request for host call `record` and wait for the worker's answer. */
  request(record: HostCallRecord, op: MemoryOp, transfer: Transferable[] = []): unknown {
    if (record.ended || this.dead) throw ended();
    const { ctrl } = this;
    const opId = (this.opId = (this.opId % 0x7ffffffe) + 1);
    this.send({ kind: 'op', seq: record.seq, opId, ...op }, transfer);
    const giveUp = Deadline.fromTimeout(OP_ANSWER_BOUND_MS);
    for (;;) {
      const seen = Atomics.load(ctrl, CTRL.TO_MAIN);
      for (
        let m = this.threads.receiveMessage(this.port) as OpReply | undefined;
        m !== undefined;
        m = this.threads.receiveMessage(this.port) as OpReply | undefined
      ) {
        // the answer to a request whose caller gave up, or not an answer at all (the worker runs a plug-in)
        if (typeof m !== 'object' || m === null || m.opId !== opId) continue;
        if (m.error !== undefined) throw fromWire(m.error);
        return m.value;
      }
      // The worker stopped serving this host call (timeout, abort): no answer will come.
      if (Atomics.load(ctrl, CTRL.SERVING) !== record.seq) throw ended();
      const left = Deadline.remaining(giveUp);
      if (left <= 0) throw new WorkerError(`the plug-in's worker did not answer a memory request within ${OP_ANSWER_BOUND_MS} ms`);
      waitForWorker(ctrl, seen, Math.min(left, 1000), this.canBlock);
    }
  }
}

/**
 * Wait until the worker bumps `ctrl[TO_MAIN]` past `seen`, or `ms` pass. A thread that may not
 * block (a browser's main thread) spins on Atomics.load instead: the worker is blocked serving
 * this very request and answers within microseconds, and the caller bounds the whole wait.
 */
function waitForWorker(ctrl: Int32Array, seen: number, ms: number, canBlock: boolean): void {
  if (canBlock) {
    Atomics.wait(ctrl, CTRL.TO_MAIN, seen, ms);
    return;
  }
  const until = performance.now() + ms;
  while (Atomics.load(ctrl, CTRL.TO_MAIN) === seen && performance.now() < until) {
    // the worker's answer is what ends this
  }
}

function ended(): WorkerError {
  return new WorkerError('the plug-in call this host function belongs to has ended (it failed, timed out or was aborted): its memory is no longer reachable');
}

/** An exact-size copy of `bytes`, ours to transfer (the caller's buffer is never detached). */
function copyToTransfer(bytes: Uint8Array): ArrayBuffer {
  const buffer = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(buffer).set(bytes);
  return buffer;
}

/**
 * A call context for one host call, whose kernel and vars are the worker's. CallContext itself
 * is reused so that host functions see the same class and behaviour in both modes: its blocks
 * and vars are reached through the same interfaces the local kernel and var store implement.
 */
export function remoteCallContext(
  line: SyncLine,
  record: HostCallRecord,
  hostContext: unknown,
  logLevel: { get(): LogLevel; set(level: LogLevel): void },
): CallContext {
  const kernel: BlockStore = {
    read(handle: number | bigint): PluginOutput | null {
      const buffer = line.request(record, { op: 'read', handle }) as ArrayBuffer | null;
      return buffer === null ? null : new PluginOutput(buffer);
    },
    length: (handle: number | bigint) => line.request(record, { op: 'length', handle }) as number,
    write(data: string | Uint8Array): number {
      if (typeof data === 'string') return line.request(record, { op: 'write', data }) as number;
      const buffer = copyToTransfer(data);
      return line.request(record, { op: 'write', data: buffer }, [buffer]) as number;
    },
    alloc: (size: number) => line.request(record, { op: 'alloc', size }) as number,
    free: (handle: number | bigint) => void line.request(record, { op: 'free', handle }),
    setError: (message: string | null) => void line.request(record, { op: 'setError', message }),
  };
  const vars: VarAccess = {
    get(name: string): Uint8Array | undefined {
      const buffer = line.request(record, { op: 'getVar', name }) as ArrayBuffer | undefined;
      return buffer === undefined ? undefined : new Uint8Array(buffer);
    },
    set(name: string, value: Uint8Array | undefined): void {
      if (value === undefined) return void line.request(record, { op: 'setVar', name, value: undefined });
      const buffer = copyToTransfer(value);
      line.request(record, { op: 'setVar', name, value: buffer }, [buffer]);
    },
  };
  const host: CallContextHost = {
    kernel,
    vars,
    hostContext,
    get logLevel() {
      return logLevel.get();
    },
    set logLevel(level: LogLevel) {
      line.request(record, { op: 'setLogLevel', level });
      logLevel.set(level);
    },
  };
  return new CallContext(host);
}

/**
 * Run a user host function for a worker and answer it: synchronously when it returns a value,
 * when its promise settles otherwise. `onError` keeps the original error, so that the call's
 * error can carry it as its `cause` (the worker only sees a copy).
 */
export function runHostFunction(
  line: SyncLine,
  record: HostCallRecord,
  fn: HostFunctionCallback,
  ctx: CallContext,
  args: unknown[],
  onError: (seq: number, error: unknown) => void,
): void {
  let result: unknown;
  try {
    result = fn(ctx, ...args);
  } catch (error) {
    onError(record.seq, error);
    line.answer(record, { error });
    return;
  }
  if (result !== null && (typeof result === 'object' || typeof result === 'function') && typeof (result as PromiseLike<unknown>).then === 'function') {
    (result as PromiseLike<unknown>).then(
      (value) => line.answer(record, { value }),
      (error: unknown) => {
        onError(record.seq, error);
        line.answer(record, { error });
      },
    );
    return;
  }
  line.answer(record, { value: result });
}
