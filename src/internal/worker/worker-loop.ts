// A plug-in's worker thread, whatever the platform: it builds the same PluginEngine as the host
// thread would, with stubs in place of the user's host functions (they run on the host thread,
// see host-call-client.ts), then runs calls one at a time as they arrive. The platform's worker
// entry (platform/<name>/worker-main.ts) calls runPluginWorker.
import type { Logger, LogLevel } from '../../options.js';
import { Deadline } from '../deadline.js';
import { PluginEngine } from '../engine.js';
import { toWire } from '../error-codec.js';
import type { Platform, SyncPort, WorkerSide } from '../platform/platform.js';
import { HostCallClient, ownedBuffer } from './host-call-client.js';
import {
  backlogUnits,
  type CallRequest,
  CTRL,
  type FromWorker,
  type LogMessage,
  MAX_OUTPUT_BACKLOG,
  type OutputBytes,
  type OutputLine,
  skipSlot,
  type ToWorker,
  type WasiOutput,
  type WorkerInit,
} from './protocol.js';
import { KIND, WorkerRings } from './rings.js';

/** How long the worker waits at a time for the host thread to take its output off the backlog. */
const BACKLOG_WAIT_MS = 100;

/**
 * Serve one plug-in in this worker until it is ended: `platform` is what the engine runs on
 * here, `side` this worker's line to its host.
 */
export async function runPluginWorker(platform: Platform, side: WorkerSide): Promise<void> {
  const line = side.hostLine();
  const init = (await side.workerInput()) as WorkerInit;
  const ctrl = new Int32Array(init.ctrl);
  const deadlineCell = new Float64Array(init.deadline);
  /** Whether the running call has posted anything but host requests (its result must then follow on the same line). */
  let postedDuringCall = false;
  const post = (message: FromWorker, transfer: Transferable[] = []) => {
    if (message.type !== 'host') postedDuringCall = true;
    line.postMessage(message, transfer);
  };
  const port = side.adoptPort?.(init.port) ?? init.port;
  const client = new HostCallClient(ctrl, port, post, init.engine.timeoutMs, (channel: SyncPort) => side.receiveMessage(channel));

  // Log lines travel on the same port as call results, so the host sees them before the result of
  // the call that wrote them.
  // The host thread takes them off the backlog as it handles them; past the cap this thread
  // waits (the guest with it) rather than queue more: a guest could write without end.
  const postOutput = (message: LogMessage | OutputLine | OutputBytes, length: number) => {
    for (let backlog = Atomics.load(ctrl, CTRL.OUTPUT_BACKLOG); backlog > MAX_OUTPUT_BACKLOG; backlog = Atomics.load(ctrl, CTRL.OUTPUT_BACKLOG)) {
      Atomics.wait(ctrl, CTRL.OUTPUT_BACKLOG, backlog, BACKLOG_WAIT_MS);
    }
    Atomics.add(ctrl, CTRL.OUTPUT_BACKLOG, backlogUnits(length));
    post(message);
  };
  const log = (level: Exclude<LogLevel, 'silent'>) => (message: string) => postOutput({ type: 'log', level, message }, message.length);
  const logger: Logger = { trace: log('trace'), debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
  // Guest output cut into lines here (the engine's line sink), each line sent to the host's target.
  const output = (type: 'stdout' | 'stderr', mode: WasiOutput) => (mode === 'lines' ? (line: string) => postOutput({ type, line }, line.length) : mode);
  // Output for the process's own streams goes through the host thread too, under the same bound
  // (the engine hands each chunk over as a copy of its own).
  const enginePlatform: Platform = Object.create(platform, {
    output: { value: (fd: 1 | 2) => ({ write: (bytes: Uint8Array) => postOutput({ type: 'output-bytes', fd, bytes }, bytes.byteLength) }) },
  });

  /** The id of the running call, 0 between calls. */
  let running = 0;
  // The engine polls `aborted` (at its ticks and host-call waits) and reads `reason`. An abort
  // event could not reach this thread while it is busy in the guest, so this signal, never
  // aborted itself, answers `aborted` from the flag the host thread raises in shared memory.
  const abortFlag = new AbortController().signal;
  Object.defineProperty(abortFlag, 'aborted', {
    get: (): boolean => running !== 0 && (Atomics.load(ctrl, CTRL.ABORT) === running || Atomics.load(ctrl, skipSlot(running)) === running),
  });

  function createEngine(): PluginEngine | undefined {
    const { functions, hostFunctions } = client.stubs(init.hostFunctions);
    post({ type: 'initializing' });
    try {
      // The configuration as sent; the hooks are this thread's own.
      return new PluginEngine({
        ...init.engine,
        platform: enginePlatform,
        logger,
        functions,
        hostFunctions,
        http: init.http ? () => client.http() : undefined,
        stdout: output('stdout', init.stdout),
        stderr: output('stderr', init.stderr),
        wasiFileSystem: init.hostFs ? client.fileSystem() : undefined,
      });
    } catch (err) {
      post({ type: 'init-failed', error: toWire(err) });
      return undefined;
    }
  }

  /** The host's two staging memories for large inputs, as last sent. */
  const staging: [SharedArrayBuffer?, SharedArrayBuffer?] = [];
  /** Where small calls and their results travel, when the host gave us rings (see rings.ts). */
  const rings = init.rings === undefined ? undefined : new WorkerRings(init.rings, () => line.postMessage({ type: 'wake' } satisfies FromWorker));
  /** With rings, calls that came as messages, until the calls ring reaches their turn. */
  const byMessage = new Map<number, CallRequest>();

  function inputOf(request: CallRequest): string | Uint8Array {
    const { input } = request;
    if (typeof input === 'string') return input;
    if (input instanceof ArrayBuffer) return new Uint8Array(input);
    if (input instanceof Uint8Array) return input;
    if (input.staged !== null) staging[input.index] = input.staged;
    return new Uint8Array(staging[input.index]!, 0, input.length);
  }

  /** Run call `id`; its output, or what it threw. */
  function execute(engine: PluginEngine, id: number, name: string, input: () => string | Uint8Array): { output: ArrayBufferView | null } | { error: unknown } {
    // Answers to host calls of an earlier call that gave up on them (timeout, abort) are dropped.
    while (side.receiveMessage(port) !== undefined);
    running = id;
    postedDuringCall = false;
    // The call's one deadline, from now: the host thread reads it here (see WorkerInit.deadline).
    const deadline = Deadline.fromTimeout(init.engine.timeoutMs);
    deadlineCell[0] = deadline;
    Atomics.store(ctrl, CTRL.STARTED, id);
    try {
      const output = engine.call(name, input(), undefined, { signal: abortFlag, deadline });
      Atomics.store(ctrl, CTRL.DONE, id);
      return { output };
    } catch (error) {
      Atomics.store(ctrl, CTRL.DONE, id);
      return { error };
    } finally {
      running = 0;
    }
  }

  /** Send the result of call `id`: in the results ring when it fits there, else as a message (with a record saying so, under rings). */
  function report(engine: PluginEngine, id: number, outcome: { output: ArrayBufferView | null } | { error: unknown }): void {
    const fuel = engine.lastFuelConsumed;
    // A call that posted log or output lines sends its result after them, on the same line, so
    // the host thread sees them first.
    if (rings !== undefined && 'output' in outcome && !postedDuringCall && (outcome.output === null || WorkerRings.carries(outcome.output.byteLength))) {
      rings.writeResult(id, outcome.output, fuel);
      return;
    }
    if ('output' in outcome) {
      const buffer = outcome.output === null ? null : ownedBuffer(outcome.output);
      post({ type: 'result', id, output: buffer, fuel }, buffer === null ? [] : [buffer]);
    } else {
      post({ type: 'failed', id, error: toWire(outcome.error), fuel });
    }
    rings?.writeResult(id, 'message', fuel);
  }

  function runCall(engine: PluginEngine, request: CallRequest): void {
    report(
      engine,
      request.id,
      execute(engine, request.id, request.name, () => inputOf(request)),
    );
  }

  let drainingRing = false;

  /**
   * Run the calls in the ring, in order, one after the other without going back to the event
   * loop; sleep when it is empty (see rings.ts). A call that came as a message waits for its message.
   */
  function drainRing(engine: PluginEngine, ring: WorkerRings): void {
    if (drainingRing) return;
    drainingRing = true;
    try {
      for (;;) {
        const record = ring.nextCall();
        // Back to the event loop: the host thread's next call comes with a wake-up message.
        if (record === undefined) {
          if (ring.sleep()) return;
          continue;
        }
        if (record.kind === KIND.BY_MESSAGE) {
          const request = byMessage.get(record.id);
          // Its message is on its way: its arrival drains again.
          if (request === undefined) return;
          byMessage.delete(record.id);
          ring.releaseCall(record);
          runCall(engine, request);
          continue;
        }
        const call = ring.call(record);
        const outcome = execute(engine, call.id, call.name, () => call.input);
        // The input was read in place: its room goes back to the host thread only now.
        ring.releaseCall(record);
        report(engine, call.id, outcome);
      }
    } finally {
      drainingRing = false;
    }
  }

  const engine = createEngine();
  if (engine !== undefined) {
    client.engine = engine;
    line.onMessage((value) => {
      const message = value as ToWorker;
      if (message.type === 'wake') {
        if (rings !== undefined) drainRing(engine, rings);
      } else if (message.type === 'call' || message.type === 'calls') {
        const calls = message.type === 'call' ? [message] : message.calls;
        if (rings !== undefined) {
          for (const call of calls) byMessage.set(call.id, call);
          drainRing(engine, rings);
          return;
        }
        // Each result is posted as its call ends, never held for the others: a later call of
        // the batch that does not stop must not keep an earlier one's result from the host.
        for (const call of calls) runCall(engine, call);
      } else if (message.type === 'reset') {
        try {
          engine.reset();
          post({ type: 'reset-done' });
        } catch (err) {
          post({ type: 'reset-done', error: toWire(err) });
        }
      }
    });
    if (rings !== undefined) drainRing(engine, rings);
    post({ type: 'ready' });
  }
}
