// What it takes to start (and restart) a plug-in's workers: the engine's configuration, which a
// worker receives as it is (EngineConfig), and its hooks, which stay on the host thread.
import { WorkerError } from '../../errors.js';
import type { HostFunctionCallback, Logger } from '../../options.js';
import type { Deadline } from '../deadline.js';
import { type EngineOptions, engineConfig } from '../engine.js';
import type { HttpRequest, HttpResponse } from '../host-env.js';
import { lineWriter, type OutputTarget } from '../line-sink.js';
import type { LoadedModule } from '../module-loader.js';
import type { PlatformThreads } from '../platform/platform.js';
import type { HostFunctionSlot, WasiOutput, WorkerInit } from './protocol.js';
import { type ConfinedFileSystem, confineFileSystem } from './remote-fs.js';
import { ringsWanted } from './rings.js';

/** The plug-in's `http_request` on the host thread; `deadline` is the running call's. */
export type WorkerHttpFactory = (deadline: () => Deadline) => (request: HttpRequest) => Promise<HttpResponse>;

/** Everything needed to start (and restart) workers for one compiled plug-in. */
export interface WorkerSpec {
  init: Omit<WorkerInit, 'ctrl' | 'deadline' | 'port' | 'rings'>;
  /** The user's host functions, index-aligned with `init.hostFunctions`. */
  callbacks: HostFunctionCallback[];
  logger: Logger;
  /** Where guest output lines go, when to the application's targets (not this process's streams); `handled` once the target took the line. */
  stdout: ((line: string, handled: () => void) => void) | undefined;
  stderr: ((line: string, handled: () => void) => void) | undefined;
  /** This process's stdout (1) or stderr (2), for guest output let through with `enableWasiOutput`; `written` once it is flushed. */
  processOutput: (fd: 1 | 2, bytes: Uint8Array, written: () => void) => void;
  http: WorkerHttpFactory | undefined;
  /** The `wasiFileSystem` the worker's WASI reaches through host calls; undefined: the worker's platform's own. */
  fs: ConfinedFileSystem | undefined;
  main: LoadedModule;
  /** Whether the guest checks in periodically (timeout or fuel set): then it can stop without its worker being ended. */
  instrumented: boolean;
  /** The platform's threads: how workers start and how their sync channel is read. */
  threads: PlatformThreads;
  /** Whether this (the host) thread may block in Atomics.wait while a worker serves its memory requests. */
  canBlock: boolean;
  /** Whether small calls and their results go through shared-memory rings (see rings.ts). */
  rings: boolean;
}

/** A stream target that says when its buffer is full (a Node `Writable`). */
interface DrainingStream {
  write(chunk: string): unknown;
  once(event: 'drain' | 'close' | 'error', listener: () => void): unknown;
  off?(event: 'drain' | 'close' | 'error', listener: () => void): unknown;
}

/**
 * Delivers lines to `target` as the engine's line sink would on this thread; `handled` runs
 * once the target took the line: at once, or for a stream whose buffer is full (its `write`
 * returned false), once it drains (or closes). Until then the line counts in the worker's
 * backlog, so a guest writing faster than the stream's reader waits for it instead of filling
 * this thread's memory (4 GiB written to a piped stdout held 11 GB).
 */
function linesTo(target: OutputTarget): (line: string, handled: () => void) => void {
  if (typeof target === 'function') {
    return (line, handled) => {
      handled();
      target(line);
    };
  }
  const stream = target as Partial<DrainingStream>;
  if (typeof stream.once !== 'function') {
    const write = lineWriter(target);
    return (line, handled) => {
      handled();
      write(line);
    };
  }
  const draining = target as DrainingStream;
  return (line, handled) => {
    let full: unknown;
    try {
      full = draining.write(`${line}\n`) === false;
    } finally {
      if (!full) handled();
    }
    if (!full) return;
    const done = () => {
      draining.off?.('drain', done);
      draining.off?.('close', done);
      draining.off?.('error', done);
      handled();
    };
    draining.once('drain', done);
    draining.once('close', done);
    draining.once('error', done);
  };
}

function outputMode(target: OutputTarget | 'process' | undefined): WasiOutput {
  return target === undefined || target === 'process' ? target : 'lines';
}

/** Split engine options into what the worker gets (its configuration, the host functions' slots) and what stays on this thread (the hooks). */
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
  const { stdout, stderr } = engine;
  return {
    init: {
      engine: engineConfig(engine),
      hostFunctions,
      http: http !== undefined,
      stdout: outputMode(stdout),
      stderr: outputMode(stderr),
      hostFs: engine.wasiFileSystem !== undefined,
    },
    callbacks,
    logger: engine.logger,
    // delivered as the engine's line sink would deliver them on this thread
    stdout: stdout === undefined || stdout === 'process' ? undefined : linesTo(stdout),
    stderr: stderr === undefined || stderr === 'process' ? undefined : linesTo(stderr),
    processOutput: (fd, bytes, written) => void engine.platform.output(fd).write(bytes, written),
    http,
    // the worker runs the plug-in: what it may reach of the host thread's files is checked here
    fs: engine.wasiFileSystem === undefined ? undefined : confineFileSystem(engine.wasiFileSystem, engine.wasi?.mounts ?? []),
    main: engine.modules[engine.mainIndex]!,
    instrumented: engine.modules.some((m) => m.instrumented),
    threads,
    canBlock,
    rings: ringsWanted((variable) => engine.platform.environmentVariable(variable)),
  };
}
