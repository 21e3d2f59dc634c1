// The streams the CLI talks to: process.stdout/stderr/stdin in bin.ts, captured ones in tests.
import { concatBytes } from '../internal/bytes.js';

/** Anything with a Node-style `write` (a `Writable`, `process.stdout`, a test capture). */
export interface OutputStream {
  write(chunk: Uint8Array | string): boolean | void;
  /** When present (Node streams), used to wait for `drain` after a full buffer. */
  once?(event: 'drain' | 'error' | 'close', listener: () => void): unknown;
  off?(event: 'drain' | 'error' | 'close', listener: () => void): unknown;
  /** True for a terminal (as on `process.stdout`). */
  isTTY?: boolean;
}

/** Where `run` reads and writes. `stdin` is needed only for `--stdin` / `--input-file -`. */
export interface CliIo {
  stdout: OutputStream;
  stderr: OutputStream;
  stdin?: AsyncIterable<Uint8Array | string>;
}

/**
 * Write `chunk`, then wait while the stream's buffer is full, so a large output (or a long
 * `--loop`) piped into a slow reader does not pile up in memory.
 */
export async function writeOut(stream: OutputStream, chunk: Uint8Array | string): Promise<void> {
  if (stream.write(chunk) !== false || stream.once === undefined) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      stream.off?.('drain', done);
      stream.off?.('error', done);
      stream.off?.('close', done);
      resolve();
    };
    stream.once!('drain', done);
    stream.once!('error', done);
    stream.once!('close', done);
  });
}

/** Every byte of `input`, concatenated. */
export async function readAll(input: AsyncIterable<Uint8Array | string>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const encoder = new TextEncoder();
  for await (const chunk of input) {
    const bytes = typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
    chunks.push(bytes);
    total += bytes.byteLength;
  }
  return concatBytes(chunks, total);
}
