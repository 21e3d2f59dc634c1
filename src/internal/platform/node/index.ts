// The Node.js platform: what the core needs from its runtime (../platform.ts), on Node's
// built-ins. The Node entries (src/index.ts, the CLI, the worker entry) hand it to the core.
import { allocateUnfilledWith } from '../../bytes.js';
import type { Platform } from '../platform.js';
import * as host from './host.js';
import { fetchSync, warmHttpHelper } from './http/sync-fetch.js';
import { nodeFileSystem } from './wasi-fs.js';
import { nodeThreads } from './worker.js';

// Outputs are copied out of kernel memory whole: on Node they skip the zero-fill of a fresh array.
allocateUnfilledWith(host.unfilledBytes);

/** plughost on Node.js: the file system, node:crypto, the process's streams and environment, worker_threads. */
export const nodePlatform: Platform = {
  name: 'Node.js',
  files: {
    readRegularFile: host.readRegularFile,
    fileErrorReason: host.fileErrorReason,
    isDirectory: host.isDirectory,
    pathExists: host.pathExists,
    resolvePath: host.resolvePath,
    directoryOf: host.directoryOf,
    fileUrlToPath: host.fileUrlToPath,
  },
  sha256Hex: host.sha256Hex,
  bytesEqual: host.bytesEqual,
  output: host.processOutput,
  environmentVariable: host.environmentVariable,
  wasiFileSystem: nodeFileSystem,
  // Every Node thread, the main one included, may wait on an atomic.
  canBlock: true,
  syncHttp: { fetch: fetchSync, warm: warmHttpHelper },
  threads: nodeThreads,
};

export { openHttpHelperPort, useHttpHelperPort } from './http/sync-fetch.js';
export { nodeFileSystem } from './wasi-fs.js';
export { nodeThreads, nodeWorkerSide, runningWorkers } from './worker.js';
