// Node's half of the platform layer: everything the core needs from the file system and
// crypto goes through here, so a browser build can swap this file without touching the core.
import type * as Crypto from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Read a whole file; throws the fs error (with its `code`) when it cannot. */
export function readFileBytes(path: string): Uint8Array {
  return readFileSync(path);
}

/** Why reading a file failed, in words for an error message: "no such file", "it is a directory", or the fs message. */
export function fileErrorReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
}

type OneShotHash = (algorithm: string, data: Uint8Array, encoding: 'hex') => string;
let sha256: ((bytes: Uint8Array) => string) | undefined;

/**
 * sha256 of `bytes` as lowercase hex. node:crypto is loaded at the first hash: it costs ~6 ms,
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
export function processOutput(fd: 1 | 2): { write(chunk: Uint8Array): unknown } {
  return fd === 1 ? process.stdout : process.stderr;
}

const environmentCache = new Map<string, string | undefined>();

/** An environment variable of this process, if the platform has any (read once: process.env is slow). */
export function environmentVariable(name: string): string | undefined {
  if (!environmentCache.has(name)) environmentCache.set(name, process.env[name]);
  return environmentCache.get(name);
}
