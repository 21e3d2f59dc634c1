// The entry point of a plug-in's worker thread on Node: the core's worker loop, given Node's
// platform and this worker's line to its host.
import { runPluginWorker } from '../../worker/worker-loop.js';
import { nodePlatform } from './index.js';
import { nodeWorkerSide } from './worker.js';

await runPluginWorker(nodePlatform, nodeWorkerSide);
