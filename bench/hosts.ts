// The two hosts under test behind one small interface, the host functions both run, and the
// plug-ins and inputs of the scenarios. Both hosts load the very same .wasm files.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPlugin as createPlughostPlugin } from '../src/index.js';

/** The repository's root (this file runs as build/bench/hosts.js). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Bytes out of either host: both `PluginOutput`s are `DataView`s. */
export interface BenchOutput {
  readonly buffer: ArrayBufferLike;
  readonly byteOffset: number;
  readonly byteLength: number;
}

export interface BenchPlugin {
  call(name: string, input?: string | Uint8Array): Promise<BenchOutput | null>;
  close(): Promise<void>;
}

/** What the host functions below use of a call context, in both hosts. */
export interface SharedCallContext {
  read(handle: number | bigint): BenchOutput | null;
  store(data: Uint8Array): number | bigint;
}

export type SharedHostFunction = (ctx: SharedCallContext, ...args: any[]) => any;
export type SharedFunctions = Record<string, Record<string, SharedHostFunction>>;

export interface BenchOptions {
  config?: Record<string, string>;
  functions?: SharedFunctions;
  timeoutMs?: number;
  /** Only the --workers run sets it; every scenario runs on the main thread. */
  runInWorker?: boolean;
}

export interface Host {
  readonly name: 'peer' | 'plughost';
  create(manifest: unknown, options: BenchOptions): Promise<BenchPlugin>;
}

export const plughost: Host = {
  name: 'plughost',
  create: (manifest, options) => createPlughostPlugin(manifest as never, options as never),
};

/** `@extism/extism` on the main thread; loaded lazily so that its WASI warning can be silenced first. */
export async function loadPeer(): Promise<Host> {
  const peer = await import('@extism/extism');
  return {
    name: 'peer',
    create: (manifest, options) => peer.createPlugin(manifest as never, { runInWorker: false, ...options } as never) as unknown as Promise<BenchPlugin>,
  };
}

/**
 * The host functions, written once: handles go straight to `read` and `store`, and the
 * result is whatever `store` returned (a number in plughost, a bigint in the peer).
 */
export const hostFunctions: SharedFunctions = {
  'extism:host/user': {
    echo(ctx: SharedCallContext, handle: number | bigint) {
      const block = ctx.read(handle);
      if (block === null) return handle;
      return ctx.store(new Uint8Array(block.buffer, block.byteOffset, block.byteLength));
    },
    // a + b on two numbers in plughost, two bigints in the peer
    mix(_ctx: SharedCallContext, a: any, b: any) {
      return a + b;
    },
  },
};

export const pluginFile = (name: string) => join(repoRoot, 'build', 'plugins', `${name}.wasm`);
export const fixtureFile = (name: string) => join(repoRoot, 'build', 'fixtures', `${name}.wasm`);

/** The bytes of a built plug-in or fixture; the AssemblyScript ones are built by teammates' sources. */
export function wasmBytes(file: string): Uint8Array {
  return new Uint8Array(readFileSync(file));
}

export const KIB = 1024;
export const MIB = 1024 * 1024;

/** English-like text (vowels, capitals, spaces, punctuation) of exactly `size` bytes. */
export function text(size: number): Uint8Array {
  const phrase = new TextEncoder().encode('The quick brown fox jumps over the lazy dog; Pack my box with five dozen liquor jugs! ');
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += phrase.length) out.set(phrase.subarray(0, Math.min(phrase.length, size - i)), i);
  return out;
}

/** `n` as 8 little-endian bytes. */
export function u64(n: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  return out;
}

export function bytesOf(output: BenchOutput | null): Uint8Array {
  return output === null ? new Uint8Array(0) : new Uint8Array(output.buffer, output.byteOffset, output.byteLength);
}

/** The 8-byte little-endian output of the WAT plug-ins, as a bigint. */
export function u64Of(output: BenchOutput | null): bigint {
  const bytes = bytesOf(output);
  if (bytes.byteLength !== 8) throw new Error(`expected 8 bytes of output, got ${bytes.byteLength}`);
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
}
