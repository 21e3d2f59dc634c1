// A plug-in's worker entry on Node with a shared channel as its sync channel, as the browser's
// worker entry has (test/worker-shared-channel.test.ts starts it).
import { nodePlatform, nodeWorkerSide } from '../src/internal/platform/node/index.js';
import { sharedWorkerSide } from '../src/internal/platform/shared-channel.js';
import { runPluginWorker } from '../src/internal/worker/worker-loop.js';

await runPluginWorker(nodePlatform, sharedWorkerSide(nodeWorkerSide));
