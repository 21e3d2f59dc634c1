// Node's threads for the worker mode: starting a worker, the ports between threads, and the
// synchronous read of a port that lets a blocked thread take a message without its event loop.
// The core sees them only through PlatformThreads and WorkerSide (../platform.ts).
import { availableParallelism as osParallelism } from 'node:os';
import { setImmediate } from 'node:timers';
import type { MessagePort } from 'node:worker_threads';
import type { HostLine, PlatformThreads, SyncPort, WorkerSide, WorkerThread } from '../platform.js';
import { workerThreads } from './threads.js';

const running = new Set<WorkerThread>();

/**
 * Workers started here that have not exited yet: for diagnostics, and for tests that check
 * that closing ends every worker (or that end one from outside to play a crash).
 */
export function runningWorkers(): readonly WorkerThread[] {
  return [...running];
}

/** Start the module at `url` in a new worker; `data` (with `transfer`red ports) is its {@link workerInput}. */
export function startWorker(url: URL, data: unknown, transfer: readonly (Transferable | SyncPort)[]): WorkerThread {
  // execArgv: [] keeps flags such as --test or --inspect of this process out of the worker.
  const worker = new (workerThreads().Worker)(url, { workerData: data, transferList: transfer as never, execArgv: [] });
  // Asked after every call: the worker's handle is only touched when the answer changes.
  let keptAlive = true;
  const thread: WorkerThread = {
    postMessage: (value, list) => worker.postMessage(value, list as never),
    onMessage: (listener) => void worker.on('message', listener),
    onError: (listener) => void worker.on('error', listener),
    onExit: (listener) => void worker.on('exit', listener),
    terminate: async () => {
      await worker.terminate();
    },
    keepAlive: (on) => {
      if (on === keptAlive) return;
      keptAlive = on;
      if (on) worker.ref();
      else worker.unref();
    },
  };
  running.add(thread);
  worker.once('exit', () => running.delete(thread));
  return thread;
}

/** A channel of two sync ports: keep one, transfer the other to a worker. */
export function createSyncChannel(): { local: SyncPort; remote: SyncPort } {
  const { port1, port2 } = new (workerThreads().MessageChannel)();
  return { local: port1, remote: port2 };
}

/** The next message waiting on `port`, or undefined; never blocks and never needs the event loop. */
export function receiveMessage(port: SyncPort): unknown {
  const received = workerThreads().receiveMessageOnPort(port as MessagePort);
  return received === undefined ? undefined : received.message;
}

/** Inside a worker: the line to the thread that started it. */
export function hostLine(): HostLine {
  const port = workerThreads().parentPort;
  if (port === null) throw new Error('plughost: the worker entry point was loaded outside a worker');
  return {
    postMessage: (value, list) => port.postMessage(value, list as never),
    onMessage: (listener) => void port.on('message', listener),
  };
}

/** Inside a worker: the data it was started with. */
export function workerInput(): unknown {
  return workerThreads().workerData;
}

/** How many workers can run in parallel here: the default size of a pool. */
export function availableParallelism(): number {
  return osParallelism();
}

/** The worker mode on Node: worker_threads, started from the Node worker entry (worker-main.ts, a sibling of this file in every build). */
export const nodeThreads: PlatformThreads = {
  pluginWorkerEntry: new URL('./worker-main.js', import.meta.url),
  startWorker,
  createSyncChannel,
  receiveMessage,
  availableParallelism,
  afterEvents: (callback) => void setImmediate(callback),
};

/** What the core's worker loop needs inside a Node worker. */
export const nodeWorkerSide: WorkerSide = { hostLine, workerInput, receiveMessage };
