// The web platform: what the core needs from its runtime (../platform.ts), on what a browser
// page (or a Web Worker) has. No `node:` module, no `process`, no `Buffer`: the browser entry
// (src/browser.ts) hands this to the core. There is no host file system (a path source is
// refused by the core: pass a URL, a Response or bytes), no environment, and no blocking HTTP
// helper: on a page HTTP runs through JSPI, the guest suspended while `fetch` answers.
import { createLineSink } from '../../line-sink.js';
import type { OutputStream, Platform } from '../platform.js';
import { sha256Hex } from './sha256.js';
import { webThreads, whyNoThreads } from './threads.js';

/** Whether two byte arrays hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  const length = a.byteLength;
  if (length !== b.byteLength) return false;
  // Eight bytes a step where both views are aligned (a module's bytes usually are).
  let i = 0;
  if (a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0) {
    const words = length >>> 2;
    const wordsA = new Int32Array(a.buffer, a.byteOffset, words);
    const wordsB = new Int32Array(b.buffer, b.byteOffset, words);
    for (let w = 0; w < words; w++) if (wordsA[w] !== wordsB[w]) return false;
    i = words << 2;
  }
  for (; i < length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Guest output cut into lines for the console, which has no "write without a newline": a line
 * is logged once its newline arrives, and a last partial line once the guest lets the event
 * loop run (a microtask: after the call, or when it suspends), so it is neither lost nor split
 * while the guest writes it in pieces.
 */
export function consoleLines(log: (line: string) => void): OutputStream {
  const sink = createLineSink(log);
  let flushQueued = false;
  const flush = () => {
    flushQueued = false;
    sink.flush();
  };
  return {
    write(chunk, written) {
      sink.write(chunk);
      written?.(); // the console holds nothing back
      if (!flushQueued) {
        flushQueued = true;
        queueMicrotask(flush);
      }
    },
  };
}

let stdout: OutputStream | undefined;
let stderr: OutputStream | undefined;

/**
 * Whether this thread may wait in `Atomics.wait`: a browser's main thread may not (the call
 * throws), a Web Worker may, and without `SharedArrayBuffer` (a page that is not cross-origin
 * isolated) there is nothing to wait on.
 */
export function threadCanBlock(): boolean {
  if (typeof SharedArrayBuffer !== 'function') return false;
  try {
    // The value differs, so where waiting is allowed this returns "not-equal" at once.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/** How many workers can run in parallel here (the default size of a pool): the browser's `navigator.hardwareConcurrency`, at least 1. */
export function availableParallelism(): number {
  const reported = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return typeof reported === 'number' && Number.isInteger(reported) && reported > 0 ? reported : 1;
}

const threadsMissing = whyNoThreads();

/** plughost in a browser: JS SHA-256, guest output to the console, no files, no environment, no blocking on the main thread. */
export const webPlatform: Platform = {
  name: 'a browser',
  sha256Hex,
  bytesEqual,
  output(fd) {
    if (fd === 1) return (stdout ??= consoleLines((line) => console.log(line)));
    return (stderr ??= consoleLines((line) => console.error(line)));
  },
  environmentVariable: () => undefined,
  canBlock: threadCanBlock(),
  crossOriginChecksEnforced: true,
  // Web Workers on a cross-origin isolated page (shared memory); see threads.ts.
  threads: threadsMissing === undefined ? webThreads(availableParallelism) : undefined,
  threadsMissing,
};
