// The far end of test/shared-channel.test.ts, in a worker_threads worker: echoes every message
// it takes from its shared channel, blocking in Atomics.wait between them as worker mode does.
import { workerData } from 'node:worker_threads';
import { SharedSyncPort } from '../src/internal/platform/shared-channel.js';

const { port: posted, ctrl: ctrlBuffer } = workerData as { port: unknown; ctrl: SharedArrayBuffer };
const port = SharedSyncPort.revive(posted);
const ctrl = new Int32Array(ctrlBuffer);
const TO_WORKER = 0;
const TO_MAIN = 1;

for (;;) {
  const seen = Atomics.load(ctrl, TO_WORKER);
  for (let message = port.receive(); message !== undefined; message = port.receive()) {
    if (message === 'stop') process.exit(0);
    let reply: unknown;
    try {
      port.postMessage(message);
      reply = undefined;
    } catch (error) {
      reply = { failed: (error as Error).message };
    }
    if (reply !== undefined) port.postMessage(reply);
    Atomics.add(ctrl, TO_MAIN, 1);
    Atomics.notify(ctrl, TO_MAIN);
  }
  Atomics.wait(ctrl, TO_WORKER, seen, 60_000);
}
