// The synchronous bridge: a guest's http_request must be answered before the guest resumes, but
// fetch is asynchronous. The request is posted to the helper worker and this thread sleeps in
// Atomics.wait until the helper has posted the response (body buffer transferred, not copied)
// and bumped the shared cell, or until the call's deadline. Works on the main thread and in
// workers alike; nothing here needs this thread's event loop.
import type { MessagePort, Worker } from 'node:worker_threads';
import { Deadline } from '../../../deadline.js';
import { fromWire } from '../../../error-codec.js';
import type { HttpResponse, PreparedHttpRequest } from '../../../host-env.js';
import { HttpDeadlineExceeded, httpFailure } from '../../../http/http-errors.js';
import { workerThreads } from '../threads.js';
import { type CancelMessage, CELL_BYTES, type ConnectMessage, GONE, type HelloMessage, REPLIES, type ReplyMessage, type RequestMessage } from './protocol.js';

/** This thread's line to a helper. */
interface Link {
  port: MessagePort;
  cell: Int32Array;
  nextId: number;
  /** The helper this thread started, or undefined when the port came from another thread. */
  helper: Helper | undefined;
}

/** A helper this thread started; `ready[0]` turns 1 once its code has loaded. */
interface Helper {
  worker: Worker;
  ready: Int32Array;
  /** After this a helper that is still not ready is taken for broken. */
  readyBy: Deadline;
}

/** A helper slower than this to load is broken (its file missing from a bundle, say). */
const BOOT_TIMEOUT_MS = 10_000;

let helper: Helper | undefined;
/** The last error a helper of this thread reported, for the message when none comes up. */
let helperError: unknown;
let link: Link | undefined;
/** A port handed over by another thread (see {@link useHttpHelperPort}), used instead of starting a helper. */
let adopted: MessagePort | undefined;

/** Start this thread's helper worker if it is not running. It never keeps the process alive. */
function startHttpHelper(): Worker {
  if (helper === undefined) {
    const ready = new Int32Array(new SharedArrayBuffer(4));
    const worker = new (workerThreads().Worker)(new URL('./fetch-worker.js', import.meta.url), { execArgv: [], workerData: { ready: ready.buffer } });
    worker.unref();
    const started: Helper = { worker, ready, readyBy: Deadline.fromTimeout(BOOT_TIMEOUT_MS) };
    // Blocked callers learn of a dead helper through the GONE flag; here we only forget it.
    worker.on('error', (err) => {
      helperError = err;
    });
    worker.on('exit', () => {
      if (helper === started) helper = undefined;
      if (link?.helper === started) dropLink();
    });
    helper = started;
  }
  return helper.worker;
}

/**
 * A new port to this thread's helper (started if needed), to transfer to another thread, which
 * passes it to {@link useHttpHelperPort}: every thread of the process then shares one helper.
 */
export function openHttpHelperPort(): MessagePort {
  const { port1, port2 } = new (workerThreads().MessageChannel)();
  startHttpHelper().postMessage({ port: port2 } satisfies ConnectMessage, [port2]);
  return port1;
}

/** Use a port from {@link openHttpHelperPort} (made on another thread) instead of starting a helper here. */
export function useHttpHelperPort(port: MessagePort): void {
  dropLink();
  adopted?.close();
  adopted = port;
}

/** Make sure requests from this thread will find a helper without waiting for one to boot. */
export function warmHttpHelper(): void {
  if (link === undefined && adopted === undefined) startHttpHelper();
}

function dropLink(): void {
  link?.port.close();
  link = undefined;
}

function connect(): Link {
  if (link !== undefined) return link;
  const port = adopted ?? openHttpHelperPort();
  const owner = adopted === undefined ? helper : undefined;
  adopted = undefined;
  port.unref(); // replies are read with receiveMessageOnPort; the port must not hold the loop open
  const cell = new SharedArrayBuffer(CELL_BYTES);
  port.postMessage({ type: 'hello', cell } satisfies HelloMessage);
  link = { port, cell: new Int32Array(cell), nextId: 0, helper: owner };
  return link;
}

/**
 * Perform `request` in the helper and block until its response, or until `deadline` (sent to
 * the helper as it is: see deadline.ts), when it throws {@link HttpDeadlineExceeded} and tells
 * the helper to abort. The caller has already checked the URL against the policy; the helper
 * checks again, and checks every redirect.
 */
export function fetchSync(request: PreparedHttpRequest, allowedHosts: readonly string[], maxResponseBytes: number, deadline: Deadline): HttpResponse {
  if (Deadline.expired(deadline)) throw new HttpDeadlineExceeded(request.url);
  const line = connect();
  const id = (line.nextId = (line.nextId + 1) | 0);
  const message: RequestMessage = { type: 'request', id, ...request, allowedHosts, maxResponseBytes, deadline };
  line.port.postMessage(message);
  for (;;) {
    const seen = Atomics.load(line.cell, REPLIES);
    // Drain before sleeping: replies to requests we stopped waiting for are dropped here.
    const { receiveMessageOnPort } = workerThreads();
    for (let received = receiveMessageOnPort(line.port); received !== undefined; received = receiveMessageOnPort(line.port)) {
      const reply = received.message as ReplyMessage;
      if (reply.id !== id) continue;
      if (!reply.ok) throw fromWire(reply.error);
      return { status: reply.status, headers: reply.headers, body: reply.body };
    }
    if (Atomics.load(line.cell, GONE) !== 0) {
      if (link === line) dropLink();
      throw httpFailure(request.url, 'the HTTP helper worker stopped');
    }
    const remaining = Deadline.remaining(deadline);
    if (remaining <= 0) {
      line.port.postMessage({ type: 'cancel', id } satisfies CancelMessage);
      throw new HttpDeadlineExceeded(request.url);
    }
    const booting = line.helper !== undefined && Atomics.load(line.helper.ready, 0) === 0 ? line.helper : undefined;
    if (booting === undefined) {
      Atomics.wait(line.cell, REPLIES, seen, remaining);
    } else if (!Deadline.expired(booting.readyBy)) {
      Atomics.wait(booting.ready, 0, 0, Deadline.remaining(Deadline.earliest(deadline, booting.readyBy)));
    } else {
      // Without this, a helper that cannot load would leave a call without timeout blocked forever.
      if (helper === booting) helper = undefined;
      dropLink();
      void booting.worker.terminate();
      const reason = helperError instanceof Error ? `: ${helperError.message}` : '';
      throw httpFailure(request.url, `the HTTP helper worker did not start within ${BOOT_TIMEOUT_MS} ms${reason}`);
    }
  }
}
