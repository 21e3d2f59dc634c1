// The entry point of a plug-in's Web Worker (bundled as dist/bundle/browser-worker.js): the
// core's worker loop on the web platform. Its init data is the first message; later messages
// go to the loop, held until it listens, so none is dispatched to nobody while it starts.
import { runPluginWorker } from '../../worker/worker-loop.js';
import { sharedWorkerSide } from '../shared-channel.js';
import { webPlatform } from './index.js';

interface WorkerScope {
  postMessage(value: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
}
const scope: WorkerScope = globalThis as WorkerScope;

let resolveInit!: (init: unknown) => void;
const init = new Promise<unknown>((resolve) => {
  resolveInit = resolve;
});
let initSeen = false;
const held: unknown[] = [];
let deliver: ((value: unknown) => void) | undefined;

scope.addEventListener('message', (event) => {
  if (!initSeen) {
    initSeen = true;
    resolveInit((event.data as { init: unknown }).init);
  } else if (deliver === undefined) {
    held.push(event.data);
  } else {
    deliver(event.data);
  }
});

await runPluginWorker(
  webPlatform,
  sharedWorkerSide({
    hostLine: () => ({
      postMessage: (value, transfer) => scope.postMessage(value, transfer === undefined ? undefined : [...transfer]),
      onMessage(listener) {
        deliver = listener;
        for (const message of held.splice(0)) listener(message);
      },
    }),
    workerInput: () => init,
  }),
);
