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
import { type CallRequest, CTRL, type FromWorker, skipSlot, type ToWorker, type WasiOutput, type WorkerInit } from './protocol.js';

/**
 * Serve one plug-in in this worker until it is ended: `platform` is what the engine runs on
 * here, `side` this worker's line to its host.
 */
export async function runPluginWorker(platform: Platform, side: WorkerSide): Promise<void> {
  const line = side.hostLine();
  const init = (await side.workerInput()) as WorkerInit;
  const ctrl = new Int32Array(init.ctrl);
  const deadlineCell = new Float64Array(init.deadline);
  const post = (message: FromWorker, transfer: Transferable[] = []) => line.postMessage(message, transfer);
  const port = side.adoptPort?.(init.port) ?? init.port;
  const client = new HostCallClient(ctrl, port, post, init.engine.timeoutMs, (channel: SyncPort) => side.receiveMessage(channel));

  // Log lines travel on the same port as call results, so the host sees them before the result of
  // the call that wrote them.
  const log = (level: Exclude<LogLevel, 'silent'>) => (message: string) => post({ type: 'log', level, message });
  const logger: Logger = { trace: log('trace'), debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
  // Guest output cut into lines here (the engine's line sink), each line sent to the host's target.
  const output = (type: 'stdout' | 'stderr', mode: WasiOutput) => (mode === 'lines' ? (line: string) => post({ type, line }) : mode);

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
        platform,
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

  function runCall(engine: PluginEngine, request: CallRequest): void {
    // Answers to host calls of an earlier call that gave up on them (timeout, abort) are dropped.
    while (side.receiveMessage(port) !== undefined);
    running = request.id;
    // The call's one deadline, from now: the host thread reads it here (see WorkerInit.deadline).
    const deadline = Deadline.fromTimeout(init.engine.timeoutMs);
    deadlineCell[0] = deadline;
    Atomics.store(ctrl, CTRL.STARTED, request.id);
    try {
      const { input } = request;
      let bytes: string | Uint8Array;
      if (typeof input === 'string') bytes = input;
      else if (input instanceof ArrayBuffer) bytes = new Uint8Array(input);
      else if (input instanceof Uint8Array) bytes = input;
      else {
        if (input.staged !== null) staging[input.index] = input.staged;
        bytes = new Uint8Array(staging[input.index]!, 0, input.length);
      }
      const out = engine.call(request.name, bytes, undefined, { signal: abortFlag, deadline });
      Atomics.store(ctrl, CTRL.DONE, request.id);
      const buffer = out === null ? null : ownedBuffer(out);
      post({ type: 'result', id: request.id, output: buffer, fuel: engine.lastFuelConsumed }, buffer === null ? [] : [buffer]);
    } catch (err) {
      Atomics.store(ctrl, CTRL.DONE, request.id);
      post({ type: 'failed', id: request.id, error: toWire(err), fuel: engine.lastFuelConsumed });
    } finally {
      running = 0;
    }
  }

  const engine = createEngine();
  if (engine !== undefined) {
    client.engine = engine;
    line.onMessage((value) => {
      const message = value as ToWorker;
      if (message.type === 'call') {
        runCall(engine, message);
      } else if (message.type === 'calls') {
        // Each result is posted as its call ends, never held for the others: a later call of
        // the batch that does not stop must not keep an earlier one's result from the host.
        for (const call of message.calls) runCall(engine, call);
      } else if (message.type === 'reset') {
        try {
          engine.reset();
          post({ type: 'reset-done' });
        } catch (err) {
          post({ type: 'reset-done', error: toWire(err) });
        }
      }
    });
    post({ type: 'ready' });
  }
}
