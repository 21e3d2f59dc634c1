// The HTTP helper worker: one per process (or per thread that started one), shared by every
// plug-in. It serves client ports, each belonging to a thread that blocks on Atomics.wait while
// its request runs here with the global fetch.
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { PlughostError } from '../../../../errors.js';
import { toWire } from '../../../error-codec.js';
import { compileAllowedHosts } from '../../../http/allowed-hosts.js';
import { httpFailure } from '../../../http/http-errors.js';
import { performHttpRequest } from '../../../http/perform-request.js';
import { type ClientMessage, type ConnectMessage, GONE, REPLIES, type ReplyMessage, type RequestMessage } from './protocol.js';

/** Cells of every connected client, to tell them all when this worker goes away. */
const cells = new Set<Int32Array>();

function signal(cell: Int32Array): void {
  Atomics.add(cell, REPLIES, 1);
  Atomics.notify(cell, REPLIES);
}

function serve(port: MessagePort): void {
  let cell: Int32Array | undefined;
  const running = new Map<number, AbortController>();

  const reply = (message: ReplyMessage): void => {
    // Zero-copy hand-over of the body: it is a fresh buffer of its own (see perform-request.ts).
    port.postMessage(message, message.ok && message.body.byteLength > 0 ? [message.body.buffer as ArrayBuffer] : []);
    if (cell !== undefined) signal(cell);
  };

  const run = async (message: RequestMessage): Promise<void> => {
    const controller = new AbortController();
    running.set(message.id, controller);
    try {
      const response = await performHttpRequest(
        message,
        { allowedHosts: compileAllowedHosts(message.allowedHosts), maxResponseBytes: message.maxResponseBytes },
        fetch,
        message.deadline,
        controller.signal,
      );
      reply({ id: message.id, ok: true, ...response });
    } catch (err) {
      // every failure crosses as a plughost error: anything else fetch threw becomes PLUGHOST_HTTP
      const failure = err instanceof PlughostError ? err : httpFailure(message.url, err instanceof Error ? err.message : String(err), err);
      reply({ id: message.id, ok: false, error: toWire(failure) });
    } finally {
      running.delete(message.id);
    }
  };

  port.on('message', (message: ClientMessage) => {
    switch (message.type) {
      case 'hello':
        cell = new Int32Array(message.cell);
        cells.add(cell);
        break;
      case 'request':
        void run(message);
        break;
      case 'cancel':
        running.get(message.id)?.abort();
        break;
    }
  });
  port.on('close', () => {
    for (const controller of running.values()) controller.abort();
    if (cell !== undefined) cells.delete(cell);
  });
}

parentPort?.on('message', (message: ConnectMessage) => serve(message.port));

// A client blocked without a deadline would otherwise wait forever for a reply that never comes.
process.on('exit', () => {
  for (const cell of cells) {
    Atomics.store(cell, GONE, 1);
    signal(cell);
  }
});

// Loaded: tell the thread that started us (it may be blocked waiting for this).
const ready = new Int32Array((workerData as { ready: SharedArrayBuffer }).ready);
Atomics.store(ready, 0, 1);
Atomics.notify(ready, 0);
