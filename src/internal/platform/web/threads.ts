// Worker mode in a browser: each plug-in's worker is a module Web Worker running the browser's
// worker entry (browser-worker.ts, a sibling of this file in every build, as
// dist/bundle/browser-worker.js is of browser.js). The init data goes in its first message; the
// sync line is a shared channel (../shared-channel.ts), since a page has no receiveMessageOnPort,
// and shared memory is only there on a cross-origin isolated page.
import { WorkerError } from '../../../errors.js';
import type { PlatformThreads, WorkerThread } from '../platform.js';
import { withSharedChannel } from '../shared-channel.js';

/** The part of a Web Worker used here (the project's types are not the WebWorker lib's). */
interface WebWorker {
  postMessage(value: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'error' | 'messageerror', listener: (event: { message?: string; preventDefault(): void }) => void): void;
  terminate(): void;
}
type WebWorkerConstructor = new (url: URL, options: { type: 'module'; name?: string }) => WebWorker;

/** Why a page cannot run plug-ins in workers, or undefined when it can. */
export function whyNoThreads(): string | undefined {
  if (typeof (globalThis as { Worker?: unknown }).Worker !== 'function') return 'this browser context cannot start Web Workers';
  if (globalThis.crossOriginIsolated !== true || typeof SharedArrayBuffer !== 'function') {
    return (
      'this page is not cross-origin isolated, so it has no SharedArrayBuffer for the memory a worker shares with the page: ' +
      'serve the page with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp (COOP/COEP)'
    );
  }
  return undefined;
}

/** Start the worker entry at `entry` as a module Web Worker; `data` goes in its first message. */
function startWorker(entry: URL, data: unknown, transfer: readonly Transferable[]): WorkerThread {
  const WebWorker = (globalThis as { Worker?: WebWorkerConstructor }).Worker;
  if (WebWorker === undefined) throw new WorkerError('this browser context cannot start Web Workers');
  const worker = new WebWorker(entry, { type: 'module', name: 'plughost plug-in' });
  const errorListeners: ((error: Error) => void)[] = [];
  const exitListeners: ((code: number) => void)[] = [];
  let exited = false;
  const exit = (code: number): void => {
    if (exited) return;
    exited = true;
    for (const listener of exitListeners) listener(code);
  };
  // A worker that throws at its top level (or cannot load) stays alive but useless in a browser:
  // it is ended, and reported as a worker that died, as Node reports one.
  const fail = (event: { message?: string; preventDefault(): void }, what: string): void => {
    event.preventDefault();
    const error = new Error(`${what}: ${event.message || 'no message (a script that failed to load?)'}`);
    for (const listener of errorListeners) listener(error);
    worker.terminate();
    exit(1);
  };
  worker.addEventListener('error', (event) => fail(event, "the plug-in's worker failed"));
  worker.addEventListener('messageerror', (event) => fail(event, "a message to the plug-in's worker could not be read"));
  worker.postMessage({ init: data }, [...transfer]);
  return {
    postMessage: (value, list) => worker.postMessage(value, list === undefined ? undefined : [...list]),
    onMessage: (listener) => worker.addEventListener('message', (event) => listener(event.data)),
    onError: (listener) => void errorListeners.push(listener),
    onExit: (listener) => void exitListeners.push(listener),
    terminate: async () => {
      worker.terminate();
      // As on Node, the exit comes after the termination, on a later turn.
      await new Promise((resolve) => setTimeout(resolve, 0));
      exit(1);
    },
    // Nothing keeps a page alive.
    keepAlive: () => {},
  };
}

/**
 * `afterEvents` on a page: a message to ourselves is a task of its own, behind those already
 * due (a timer of 0 ms may be clamped to 4 ms).
 */
function afterEventsByMessage(): (callback: () => void) => void {
  let channel: MessageChannel | undefined;
  const due: (() => void)[] = [];
  return (callback) => {
    if (channel === undefined) {
      channel = new MessageChannel();
      channel.port1.onmessage = () => due.shift()?.();
    }
    due.push(callback);
    channel.port2.postMessage(null);
  };
}

/** Worker mode on a cross-origin isolated page; see the top of this file. */
export function webThreads(availableParallelism: () => number): PlatformThreads {
  return withSharedChannel({
    afterEvents: afterEventsByMessage(),
    pluginWorkerEntry: new URL('./browser-worker.js', import.meta.url),
    startWorker: (entry, data, transfer) => startWorker(entry, data, transfer as readonly Transferable[]),
    // Replaced by the shared channel's.
    createSyncChannel: () => {
      throw new Error('internal: the web threads take their sync channel from withSharedChannel');
    },
    receiveMessage: () => undefined,
    availableParallelism,
  });
}
