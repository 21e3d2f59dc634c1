// What it takes to start (and restart) a plug-in's workers: the part of the engine options a
// worker can receive (cloneable), and the part that stays on the host thread (functions).
import { WorkerError } from '../../errors.js';
import type { HostFunctionCallback, Logger } from '../../options.js';
import type { Deadline } from '../deadline.js';
import type { EngineOptions } from '../engine.js';
import type { HttpRequest, HttpResponse } from '../host-env.js';
import { lineWriter, type OutputTarget } from '../line-sink.js';
import type { LoadedModule } from '../module-loader.js';
import type { PlatformThreads } from '../platform/platform.js';
import type { HostFileSystem } from '../wasi/host-fs.js';
import type { HostFunctionSlot, WasiOutput, WorkerInit } from './protocol.js';

/** The plug-in's `http_request` on the host thread; `deadline` is the running call's. */
export type WorkerHttpFactory = (deadline: () => Deadline) => (request: HttpRequest) => Promise<HttpResponse>;

/** Everything needed to start (and restart) workers for one compiled plug-in. */
export interface WorkerSpec {
  init: Omit<WorkerInit, 'ctrl' | 'port'>;
  /** The user's host functions, index-aligned with `init.hostFunctions`. */
  callbacks: HostFunctionCallback[];
  logger: Logger;
  /** Where guest output lines go, when to the application's targets (not this process's streams). */
  stdout: ((line: string) => void) | undefined;
  stderr: ((line: string) => void) | undefined;
  http: WorkerHttpFactory | undefined;
  /** The `wasiFileSystem` the worker's WASI reaches through host calls; undefined: the worker's platform's own. */
  fs: HostFileSystem | undefined;
  main: LoadedModule;
  /** Whether the guest checks in periodically (timeout or fuel set): then it can stop without its worker being ended. */
  instrumented: boolean;
  /** The platform's threads: how workers start and how their sync channel is read. */
  threads: PlatformThreads;
  /** Whether this (the host) thread may block in Atomics.wait while a worker serves its memory requests. */
  canBlock: boolean;
}

function outputMode(target: OutputTarget | 'process' | undefined): WasiOutput {
  return target === undefined || target === 'process' ? target : 'lines';
}

/** Split engine options into what the worker gets (cloneable) and what stays on this thread (functions). */
export function workerSpec(engine: EngineOptions, http: WorkerHttpFactory | undefined): WorkerSpec {
  const { threads, canBlock, name, threadsMissing } = engine.platform;
  if (threads === undefined) {
    const why = threadsMissing === undefined ? '' : ` (${threadsMissing})`;
    throw new WorkerError(`runInWorker needs threads, and ${name} has none here${why}: run the plug-in on this thread (runInWorker: false)`);
  }
  const hostFunctions: HostFunctionSlot[] = [];
  const callbacks: HostFunctionCallback[] = [];
  for (const [namespace, functions] of Object.entries(engine.functions)) {
    for (const [name, callback] of Object.entries(functions)) {
      if (typeof callback !== 'function') continue;
      hostFunctions.push({ namespace, name, typed: undefined });
      callbacks.push(callback);
    }
  }
  for (const f of engine.hostFunctions) {
    hostFunctions.push({ namespace: f.namespace, name: f.name, typed: { params: [...f.params], results: [...f.results] } });
    callbacks.push(f.callback);
  }
  return {
    init: {
      modules: engine.modules,
      mainIndex: engine.mainIndex,
      config: engine.config,
      maxVarBytes: engine.maxVarBytes,
      maxPages: engine.maxPages,
      logLevel: engine.logLevel,
      hostFunctions,
      http: http !== undefined,
      allowResponseHeaders: engine.allowResponseHeaders,
      wasi:
        engine.wasi === undefined
          ? undefined
          : {
              mounts: engine.wasi.mounts,
              args: engine.wasi.args,
              env: engine.wasi.env,
              stdout: outputMode(engine.wasi.stdout),
              stderr: outputMode(engine.wasi.stderr),
              hostFs: engine.wasi.fs !== undefined,
            },
      timeoutMs: engine.timeoutMs,
      fuel: engine.fuel,
    },
    callbacks,
    logger: engine.logger,
    // delivered as the engine's line sink would deliver them on this thread
    stdout: outputMode(engine.wasi?.stdout) === 'lines' ? lineWriter(engine.wasi!.stdout as OutputTarget) : undefined,
    stderr: outputMode(engine.wasi?.stderr) === 'lines' ? lineWriter(engine.wasi!.stderr as OutputTarget) : undefined,
    http,
    fs: engine.wasi?.fs,
    main: engine.modules[engine.mainIndex]!,
    instrumented: engine.modules.some((m) => m.instrumented),
    threads,
    canBlock,
  };
}
