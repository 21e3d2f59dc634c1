// Worker side of a host function: the guest calls a stub, the stub posts the request to the
// host thread and blocks. While blocked it serves the host function's call context (reads,
// stores, vars...) against this worker's kernel, so the user's function can touch the guest's
// memory from the host thread; it returns when the host thread answers, and gives up (timeout,
// abort) when the running call says so.
import type { CallContext } from '../../call-context.js';
import { TimeoutError } from '../../errors.js';
import type { HostFunction } from '../../host-function.js';
import type { HostFunctionCallback, HostFunctionMap, LogLevel } from '../../options.js';
import type { PluginOutput } from '../../plugin-output.js';
import { Deadline } from '../deadline.js';
import type { PluginEngine } from '../engine.js';
import { fromWireWithRef, toWire } from '../error-codec.js';
import type { HttpHandler, HttpRequest, HttpResponse } from '../host-env.js';
import type { SyncPort } from '../platform/platform.js';
import type { HostFileSystem } from '../wasi/host-fs.js';
import { CTRL, FS_INDEX, type HostFunctionSlot, type HostRequest, HTTP_INDEX, type MemoryOp, type OpReply, type SyncToWorker } from './protocol.js';
import { remoteFileSystem } from './remote-fs.js';

/** An exact-size buffer holding `bytes`, safe to transfer. */
export function ownedBuffer(bytes: ArrayBufferView): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) {
    // The private, exact-size copy the kernel makes of every output: hand it over as it is.
    return bytes.buffer;
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength).slice().buffer as ArrayBuffer;
}

export class HostCallClient {
  /** Set once the engine exists; host functions run during its construction (initializers) too. */
  engine: PluginEngine | undefined;
  private seq = 0;
  /** Bound on host calls made while the engine is being created (it has no deadline yet). */
  private readonly initDeadline: Deadline;

  constructor(
    private readonly ctrl: Int32Array,
    private readonly port: SyncPort,
    private readonly post: (message: HostRequest, transfer: Transferable[]) => void,
    private readonly timeoutMs: number | null,
    /** The worker platform's synchronous read of a port. */
    private readonly receive: (port: SyncPort) => unknown,
  ) {
    this.initDeadline = Deadline.fromTimeout(timeoutMs);
  }

  /** Stubs in place of the user's host functions, for the linker (which checks declared signatures itself). */
  stubs(slots: HostFunctionSlot[]): { functions: HostFunctionMap; hostFunctions: HostFunction[] } {
    const functions: HostFunctionMap = Object.create(null);
    const hostFunctions: HostFunction[] = [];
    slots.forEach((slot, index) => {
      const callback: HostFunctionCallback = (ctx, ...args) => this.call(ctx, index, args);
      if (slot.typed === undefined) (functions[slot.namespace] ??= Object.create(null))[slot.name] = callback;
      else hostFunctions.push({ namespace: slot.namespace, name: slot.name, params: slot.typed.params, results: slot.typed.results, callback });
    });
    return { functions, hostFunctions };
  }

  /** `http_request`, performed on the host thread (with the user's fetch, and without blocking it). */
  http(): HttpHandler {
    return (request: HttpRequest): HttpResponse => {
      const transfer = request.body === null ? [] : [ownedBuffer(request.body)];
      const wire = { ...request, body: transfer[0] ?? null };
      const response = this.call(undefined, HTTP_INDEX, [wire], transfer) as { status: number; headers: Record<string, string>; body: ArrayBuffer };
      return { status: response.status, headers: response.headers, body: new Uint8Array(response.body) };
    };
  }

  /** The WASI file system of the host thread (the `wasiFileSystem` option), each call a host call. */
  fileSystem(): HostFileSystem {
    return remoteFileSystem((args) => this.call(undefined, FS_INDEX, args));
  }

  /** Throw the running call's timeout/abort when due; the milliseconds left otherwise. */
  private checkInterrupt(): number {
    if (this.engine !== undefined) return this.engine.checkInterrupt();
    const left = Deadline.remaining(this.initDeadline);
    if (left <= 0) throw new TimeoutError('initialization', this.timeoutMs ?? 0);
    return left;
  }

  private call(ctx: CallContext | undefined, index: number, args: unknown[], transfer: Transferable[] = []): unknown {
    const { ctrl } = this;
    const seq = (this.seq = (this.seq % 0x7ffffffe) + 1);
    Atomics.store(ctrl, CTRL.SERVING, seq);
    try {
      this.post({ type: 'host', seq, index, args }, transfer);
      for (;;) {
        // Read the counter before draining: a message posted after the drain bumps it, so the
        // wait below returns at once instead of missing it.
        const seen = Atomics.load(ctrl, CTRL.TO_WORKER);
        for (let m = this.receive(this.port) as SyncToWorker | undefined; m !== undefined; m = this.receive(this.port) as SyncToWorker | undefined) {
          if (m.seq !== seq) continue; // an answer to a host call we already gave up on
          if (m.kind === 'op') this.serve(ctx, m);
          else if (m.kind === 'return') return m.value;
          else throw fromWireWithRef(m.error, seq);
        }
        const left = this.checkInterrupt();
        // A worker thread may always block, on every platform (only a browser's main thread may not).
        Atomics.wait(ctrl, CTRL.TO_WORKER, seen, left);
      }
    } finally {
      Atomics.store(ctrl, CTRL.SERVING, 0);
      // wake a host-thread memory request that is waiting on us: its host call is over
      Atomics.add(ctrl, CTRL.TO_MAIN, 1);
      Atomics.notify(ctrl, CTRL.TO_MAIN);
    }
  }

  private serve(ctx: CallContext | undefined, request: MemoryOp & { opId: number }): void {
    const reply: OpReply = { opId: request.opId };
    const transfer: Transferable[] = [];
    try {
      if (ctx === undefined) throw new Error('http_request has no call context');
      reply.value = perform(ctx, request, transfer);
    } catch (err) {
      reply.error = toWire(err);
      transfer.length = 0;
    }
    this.port.postMessage(reply, transfer);
    Atomics.add(this.ctrl, CTRL.TO_MAIN, 1);
    Atomics.notify(this.ctrl, CTRL.TO_MAIN);
  }
}

/** Bytes to send back, as a buffer of their own added to `transfer`; undefined for none. */
function transferred(out: PluginOutput | null, transfer: Transferable[]): ArrayBuffer | undefined {
  if (out === null) return undefined;
  const buffer = ownedBuffer(out);
  transfer.push(buffer);
  return buffer;
}

/**
 * One memory request, through the engine's own call context (the one the linker hands every
 * host function), so the semantics are exactly those of a host function on this thread.
 */
function perform(ctx: CallContext, request: MemoryOp, transfer: Transferable[]): unknown {
  switch (request.op) {
    case 'read':
      return transferred(ctx.read(request.handle), transfer) ?? null;
    case 'length':
      return ctx.length(request.handle);
    case 'write':
      return ctx.store(typeof request.data === 'string' ? request.data : new Uint8Array(request.data));
    case 'alloc':
      return ctx.alloc(request.size);
    case 'free':
      return ctx.free(request.handle);
    case 'setError':
      return ctx.setError(request.message);
    case 'getVar':
      return transferred(ctx.getVariable(request.name), transfer);
    case 'setVar':
      if (request.value === undefined) ctx.deleteVariable(request.name);
      else ctx.setVariable(request.name, new Uint8Array(request.value));
      return undefined;
    case 'setLogLevel':
      ctx.logLevel = request.level satisfies LogLevel;
      return undefined;
  }
}
