// Node's files, hashing, output and environment for the platform (see ../platform.ts).
import type * as Crypto from 'node:crypto';
import { existsSync, constants as fsConstants, type Stats, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BoundedRead } from '../platform.js';

/** Why reading a file failed, in words for an error message: "no such file", "it is a directory", or the fs message. */
export function fileErrorReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
}

function kindOf(info: Stats): string {
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a FIFO (named pipe)';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isSocket()) return 'a socket';
  return 'not a regular file';
}

const FIRST_CHUNK = 64 * 1024;

/**
 * Read a regular file of at most `maxBytes`, without blocking the event loop. Anything else is
 * refused with the reason, before a byte is read: a device (`/dev/zero` never ends), a FIFO
 * (it blocks until someone writes), a directory, a file whose size is above `maxBytes`. The
 * file is opened non-blocking (a FIFO swapped in after a look at the path cannot stall the
 * open) and checked by `fstat` on that descriptor, then read no further than `maxBytes` even
 * if it grows meanwhile or reports a size of 0 as `/proc` files do. Throws the fs error (with
 * its `code`) when it cannot be opened.
 */
export async function readRegularFile(path: string, maxBytes: number): Promise<BoundedRead> {
  const handle = await open(path, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
  try {
    const info = await handle.stat();
    if (!info.isFile()) return { refused: `it is ${kindOf(info)}, not a regular file`, tooLarge: false };
    if (info.size > maxBytes) return { refused: `it is ${info.size} bytes, above the limit of ${maxBytes} bytes`, tooLarge: true };
    // room for one byte more than the size it claims, so that reading to the end needs no growing
    let buffer = new Uint8Array(Math.min(Math.max(info.size + 1, FIRST_CHUNK), maxBytes + 1));
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > maxBytes)
          return { refused: `it holds more than the limit of ${maxBytes} bytes (it grew while read, or its size was not known)`, tooLarge: true };
        const larger = new Uint8Array(Math.min(buffer.length * 2, maxBytes + 1));
        larger.set(buffer);
        buffer = larger;
      }
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return { bytes: length === buffer.length ? buffer : buffer.subarray(0, length) };
  } finally {
    await handle.close();
  }
}

type OneShotHash = (algorithm: string, data: Uint8Array, encoding: 'hex') => string;
let sha256: ((bytes: Uint8Array) => string) | undefined;

/**
 * sha256 of `bytes` as lowercase hex. node:crypto is loaded at the first hash: it costs milliseconds,
 * half of what importing plughost would cost otherwise.
 */
export function sha256Hex(bytes: Uint8Array): string {
  if (sha256 === undefined) {
    const crypto = createRequire(import.meta.url)('node:crypto') as typeof Crypto;
    // One-shot hashing (Node 20.12+) skips the Hash object: a third cheaper on a small module.
    const oneShot = (crypto as { hash?: OneShotHash }).hash;
    sha256 = oneShot !== undefined ? (data) => oneShot('sha256', data, 'hex') : (data) => crypto.createHash('sha256').update(data).digest('hex');
  }
  return sha256(bytes);
}

/** `length` bytes in an ArrayBuffer of their own, not zero-filled (the caller overwrites them all). */
export function unfilledBytes(length: number): Uint8Array {
  return Buffer.allocUnsafeSlow(length);
}

/** Whether two byte arrays hold the same bytes (compared natively). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/** Whether `path` is a directory (following symlinks); false when it does not exist. */
export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Whether anything (a file, a directory...) is at `path`, following symlinks. */
export function pathExists(path: string): boolean {
  return existsSync(path);
}

/** `path` made absolute, against `base` when given (a manifest file's folder), else the working directory. */
export function resolvePath(path: string, base?: string): string {
  return base === undefined ? resolve(path) : resolve(base, path);
}

/** The absolute path of the folder holding `path`. */
export function directoryOf(path: string): string {
  return dirname(resolve(path));
}

/** The path a `file:` URL names. */
export function fileUrlToPath(url: URL | string): string {
  return fileURLToPath(url);
}

/** This process's stdout (1) or stderr (2), for guest output let through with enableWasiOutput. */
export function processOutput(fd: 1 | 2): { write(chunk: Uint8Array, written?: () => void): unknown } {
  return fd === 1 ? process.stdout : process.stderr;
}

const environmentCache = new Map<string, string | undefined>();

/**
 * An environment variable of this process, if the platform has any (read once: process.env is
 * slow). One this process may not read (Deno without --allow-env throws NotCapable) is unset:
 * plughost's variables only change defaults, and must not stop it from loading.
 */
export function environmentVariable(name: string): string | undefined {
  if (!environmentCache.has(name)) {
    let value: string | undefined;
    try {
      value = process.env[name];
    } catch {
      value = undefined;
    }
    environmentCache.set(name, value);
  }
  return environmentCache.get(name);
}
