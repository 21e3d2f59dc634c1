// node:worker_threads, loaded at first use: it costs milliseconds at startup, and plug-ins on the
// main thread without HTTP never need it. A module of its own so that no declaration file a
// user's type check reads refers to Node's types.
import { createRequire } from 'node:module';
import type * as WorkerThreads from 'node:worker_threads';

let loaded: typeof WorkerThreads | undefined;

export function workerThreads(): typeof WorkerThreads {
  loaded ??= createRequire(import.meta.url)('node:worker_threads') as typeof WorkerThreads;
  return loaded;
}
