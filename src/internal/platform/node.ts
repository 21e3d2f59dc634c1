// Node's half of the platform layer: everything the core needs from the file system and
// crypto goes through here, so a browser build can swap this file without touching the core.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Whether wasm and manifests may be read from paths here. */
export const supportsPaths = true;

/** Read a whole file; throws the fs error (with its `code`) when it cannot. */
export function readFileBytes(path: string): Uint8Array {
  return readFileSync(path);
}

/** sha256 of `bytes` as lowercase hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function pathExists(path: string): boolean {
  return existsSync(path);
}

export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export function resolvePath(base: string | undefined, path: string): string {
  return base === undefined || isAbsolute(path) ? resolve(path) : resolve(base, path);
}

export function directoryOf(path: string): string {
  return dirname(resolve(path));
}

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
