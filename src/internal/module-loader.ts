// From a normalized manifest entry to a compiled module and what we know of its imports:
// read/fetch the bytes, check the hash, apply the memory cap, make its memory an import (so
// instances can be given pooled memories), add the interrupt instrumentation, compile. Compiled modules are cached by content hash and variant, so a
// plug-in created again from bytes seen before does not compile again.
import { HashMismatchError, WasmSourceError } from '../errors.js';
import type { NormalizedManifest, WasmSource } from '../manifest.js';
import { mergeKernelInto } from './kernel/placement.js';
import { readSourceBytes } from './load-bytes.js';
import type { Platform } from './platform/platform.js';
import { InstructionDecoder } from './wasm/instrument/decode.js';
import { BUDGET_EXPORT, instrumentForInterrupts, START_EXPORT, TICK_MODULE, TICK_NAME } from './wasm/instrument.js';
import { MERGED_KERNEL_MODULE } from './wasm/kernel-merge.js';
import { capLimits, importOwnMemory, OWN_MEMORY_MODULE, OWN_MEMORY_NAME } from './wasm/memory-limit.js';
import { ByteReader, type FuncType, isWasm, type ModuleInfo, readModule, SectionId, sectionSpans, skipRefType, WasmFormatError } from './wasm/reader.js';

/** A module ready to instantiate. `info` is null when it came precompiled (no bytes to read). */
export interface LoadedModule {
  name: string | undefined;
  module: WebAssembly.Module;
  info: ModuleInfo | null;
  /** Whether the module imports `plughost.tick` and exports `__plughost_budget`. */
  instrumented: boolean;
  /** The memory the module defined, now imported as `plughost.memory` (see memory-pool.ts); undefined when it was left alone. */
  memory: OwnMemory | undefined;
  /**
   * When the kernel is merged into the module (kernel/placement.ts): what it imports from
   * `plughost:kernel` (the kernel instance's memory and globals, by their export names). `info`
   * then describes the module before the merge, the imports the plug-in declared.
   */
  kernelImports: readonly string[] | undefined;
}

/** The limits of a module's own memory, in 64 KiB pages: what a memory handed to it must have. */
export interface OwnMemory {
  initial: number;
  maximum: number | undefined;
}

// Asking V8 for a compiled module's imports costs a walk of the module each time: once per module is enough.
const describedModules = new WeakMap<WebAssembly.Module, { imports: WebAssembly.ModuleImportDescriptor[]; exports: WebAssembly.ModuleExportDescriptor[] }>();

function describe(module: WebAssembly.Module) {
  let described = describedModules.get(module);
  if (described === undefined) {
    described = { imports: WebAssembly.Module.imports(module), exports: WebAssembly.Module.exports(module) };
    describedModules.set(module, described);
  }
  return described;
}

/** A module's imports, with their types when its bytes were read. */
export function moduleImports(loaded: LoadedModule): readonly { module: string; name: string; kind: string; type?: FuncType }[] {
  return loaded.info?.imports ?? describe(loaded.module).imports;
}

/** Whether an import is one plughost added to the module (the interrupt hook, its own memory). */
export function isAddedImport(loaded: LoadedModule, imp: { module: string; name: string; kind: string }): boolean {
  if (imp.module === MERGED_KERNEL_MODULE) return loaded.kernelImports !== undefined;
  if (imp.module === TICK_MODULE && imp.name === TICK_NAME && imp.kind === 'function') return loaded.instrumented;
  if (imp.module === OWN_MEMORY_MODULE && imp.name === OWN_MEMORY_NAME && imp.kind === 'memory') return loaded.memory !== undefined;
  return false;
}

/** The module's imports as the plug-in declared them (what plughost added left out), as `WebAssembly.Module.imports` lists them. */
export function visibleImports(loaded: LoadedModule): WebAssembly.ModuleImportDescriptor[] {
  // a merged module no longer imports the kernel functions it declared
  const all =
    loaded.kernelImports !== undefined && loaded.info !== null
      ? loaded.info.imports.map(({ module, name, kind }) => ({ module, name, kind }))
      : WebAssembly.Module.imports(loaded.module);
  return all.filter((imp) => !isAddedImport(loaded, imp));
}

/** Whether an export is one plughost added to the module (the interrupt budget, the deferred start function). */
export function isAddedExport(loaded: LoadedModule, exp: { name: string; kind: string }): boolean {
  return loaded.instrumented && ((exp.name === BUDGET_EXPORT && exp.kind === 'global') || (exp.name === START_EXPORT && exp.kind === 'function'));
}

/** A module's exports. */
export function moduleExports(loaded: LoadedModule): readonly { name: string; kind: string }[] {
  return loaded.info?.exports ?? describe(loaded.module).exports;
}

/** How modules are transformed before compiling; part of the cache key. */
export interface LoadVariant {
  maxPages: number | undefined;
  instrument: boolean;
  /** Merge the kernel into the module where it can be (kernel/placement.ts decides; absent: no). */
  mergeKernel?: boolean;
}

interface CacheEntry {
  module: WebAssembly.Module;
  info: ModuleInfo;
  memory: OwnMemory | undefined;
  kernelImports: readonly string[] | undefined;
}

const CACHE_LIMIT = 64;
/**
 * What the cached modules may hold in all, counted as twice their bytes (our copy of the bytes,
 * and V8's): without it, 64 hostile modules padded to maxWasmBytes with a custom section, each
 * loaded once and closed, stayed held (32 GiB). The newest entry stays even when it alone is
 * over (a large module created over and over is not compiled each time): at most twice
 * maxWasmBytes more.
 */
const CACHE_BYTES_LIMIT = 128 * 1024 * 1024;
const compiledCache = new Map<string, Promise<CacheEntry>>();
/** The entries of compiledCache whose compile has finished: usable without waiting. */
const compiledNow = new Map<string, CacheEntry>();
/** Each entry's cost against CACHE_BYTES_LIMIT, and their sum. */
const cachedBytes = new Map<string, number>();
let cachedBytesTotal = 0;

function forget(key: string): void {
  compiledCache.delete(key);
  compiledNow.delete(key);
  cachedBytesTotal -= cachedBytes.get(key) ?? 0;
  cachedBytes.delete(key);
}

function remember(key: string, entry: Promise<CacheEntry>, byteLength: number): Promise<CacheEntry> {
  compiledCache.set(key, entry);
  cachedBytes.set(key, 2 * byteLength);
  cachedBytesTotal += 2 * byteLength;
  entry.then(
    (done) => {
      if (compiledCache.get(key) === entry) compiledNow.set(key, done);
    },
    // a failed compile must not stick
    () => {
      if (compiledCache.get(key) === entry) forget(key);
    },
  );
  while (compiledCache.size > CACHE_LIMIT || (cachedBytesTotal > CACHE_BYTES_LIMIT && compiledCache.size > 1)) {
    forget(compiledCache.keys().next().value as string);
  }
  return entry;
}

function describeSource(source: WasmSource): string {
  switch (source.kind) {
    case 'path':
      return source.path;
    case 'url':
      return source.url;
    case 'data':
      return `wasm data (${source.bytes.byteLength} bytes)`;
    case 'response':
      return `response from ${source.response.url || '(unknown URL)'}`;
    case 'module':
      return 'WebAssembly.Module';
  }
}

// The digest of byte arrays seen before, with a copy of what was hashed: an application that
// creates plug-ins over and over from the same array skips hashing it again, and a change to
// its contents since is caught by the comparison (far cheaper than sha-256).
const digests = new WeakMap<Uint8Array, { copy: Uint8Array; digest: string }>();
/** Arrays larger than this are hashed every time rather than kept twice. */
const DIGEST_COPY_LIMIT = 4 * 1024 * 1024;

function digestOf(platform: Platform, bytes: Uint8Array): string {
  const known = digests.get(bytes);
  if (known !== undefined && platform.bytesEqual(known.copy, bytes)) return known.digest;
  const digest = platform.sha256Hex(bytes);
  if (bytes.byteLength <= DIGEST_COPY_LIMIT) digests.set(bytes, { copy: bytes.slice(), digest });
  return digest;
}

/** Whether this engine compiles 64-bit memories (a module of one such memory, validated once). */
let memory64Here: boolean | undefined;
const MEMORY64_PROBE = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 3, 1, 4, 0]);
/** Whether this engine compiles `try_table` (a module of one function holding an empty one, validated once). */
let exnrefHere: boolean | undefined;
const EXNREF_PROBE = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0, 0x0a, 8, 1, 6, 0, 0x1f, 0x40, 0, 0x0b, 0x0b]);
const TRY_TABLE = 0x1f;
const THROW_REF = 0x0a;

/** Whether the code of a module uses exception references (`try_table`, `throw_ref`): the exnref form of exception handling. */
function usesExnref(bytes: Uint8Array): boolean {
  try {
    const code = sectionSpans(bytes).find((span) => span.id === SectionId.code);
    if (code === undefined) return false;
    const r = new ByteReader(bytes, code.bodyStart, code.end);
    const decoder = new InstructionDecoder();
    for (let count = r.u32(); count > 0; count--) {
      const size = r.u32();
      const end = r.pos + size;
      for (let groups = r.u32(); groups > 0; groups--) {
        r.u32();
        skipRefType(r);
      }
      for (let pos = r.pos; pos < end; ) {
        pos = decoder.decode(bytes, pos, end);
        if (decoder.op === TRY_TABLE || decoder.op === THROW_REF) return true;
      }
      r.pos = end;
    }
  } catch {
    // an instruction the decoder does not know: nothing can be said
  }
  return false;
}

/**
 * What a module that did not compile needs and this engine lacks, said after the engine's own
 * error (which names neither the proposal nor where the module runs); '' when nothing is known.
 */
function lackedFeature(info: ModuleInfo, bytes: Uint8Array): string {
  const memory64 = info.memories.some((m) => m.memory64) || info.imports.some((i) => i.kind === 'memory' && i.limits.memory64);
  memory64Here ??= WebAssembly.validate(MEMORY64_PROBE);
  if (memory64 && !memory64Here) {
    return '. It uses 64-bit memory (memory64), which this JavaScript engine does not have (JavaScriptCore, in Bun and Safari, and Node.js 20 lack it): run it on Node.js 22+, Deno or a Chromium-based browser, or build it for wasm32';
  }
  exnrefHere ??= WebAssembly.validate(EXNREF_PROBE);
  if (!exnrefHere && usesExnref(bytes)) {
    return '. It uses exception references (try_table, throw_ref: the exnref form of exception handling), which this JavaScript engine does not have (Node.js 20 lacks it): run it on Node.js 22+, Deno, Bun or a Chromium-based browser, or build it with the legacy exception instructions (try, catch, rethrow)';
  }
  return '';
}

function compileEntry(bytes: Uint8Array, where: string, variant: LoadVariant, applicationBytes: boolean): Promise<CacheEntry> {
  // the application may change its array later; the module must not change with it
  const original = applicationBytes ? bytes.slice() : bytes;
  if (!isWasm(bytes)) {
    const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new WasmSourceError(where, `${where} is not a WebAssembly module (it starts with bytes ${head || '(none)'}, not 00 61 73 6d)`);
  }
  let transformed = bytes;
  let info: ModuleInfo;
  let memory: OwnMemory | undefined;
  try {
    transformed = capLimits(transformed, variant.maxPages);
    const imported = importOwnMemory(transformed);
    if (imported !== undefined) {
      transformed = imported.bytes;
      memory = { initial: imported.limits.min, maximum: imported.limits.max };
    }
    if (variant.instrument) transformed = instrumentForInterrupts(transformed);
    info = readModule(transformed);
  } catch (err) {
    if (err instanceof WasmFormatError) throw new WasmSourceError(where, `${where}: ${err.message}`, { cause: err });
    throw err;
  }
  const separate = () =>
    WebAssembly.compile(transformed as Uint8Array<ArrayBuffer>).then(
      (module) => ({ module, kernelImports: undefined }),
      (err: Error) => {
        throw new WasmSourceError(where, `${where} does not compile: ${err.message}${lackedFeature(info, transformed)}`, { cause: err });
      },
    );
  const merged = variant.mergeKernel ? mergeKernelInto(transformed) : undefined;
  // A merged module that does not compile is compiled as it was, so that its errors (which
  // name function indices) are the ones the plug-in's own module has.
  const compiled: Promise<{ module: WebAssembly.Module; kernelImports: readonly string[] | undefined }> =
    merged === undefined
      ? separate()
      : WebAssembly.compile(merged.bytes as Uint8Array<ArrayBuffer>).then((module) => ({ module, kernelImports: merged.kernelImports }), separate);
  return compiled.then(({ module, kernelImports }) => {
    compiledFrom.set(module, original);
    return { module, info, memory, kernelImports };
  });
}

type ManifestEntry = NormalizedManifest['wasm'][number];

/**
 * The bytes of each module plughost compiled: given back as a source, such a module is loaded
 * from them, as bytes are (import types known, memory pooled, trampolines), not as an opaque
 * module. Weak: the bytes go when the module goes.
 */
const compiledFrom = new WeakMap<WebAssembly.Module, Uint8Array>();

/** A module source as bytes, when plughost compiled that module itself. */
function sourceBytes(source: WasmSource): WasmSource {
  if (source.kind !== 'module') return source;
  const bytes = compiledFrom.get(source.module);
  return bytes === undefined ? source : { kind: 'data', bytes };
}

/**
 * Load, check and compile every module of the manifest: at once when every module is
 * precompiled or bytes compiled before (the usual case for an application creating plug-ins
 * over and over), else through a promise.
 */
export function loadModules(
  platform: Platform,
  manifest: NormalizedManifest,
  variant: LoadVariant,
  fetchImpl: typeof fetch,
  maxWasmBytes: number,
): LoadedModule[] | Promise<LoadedModule[]> {
  const ready: LoadedModule[] = [];
  for (const entry of manifest.wasm) {
    const loaded = loadNow(platform, entry, variant);
    if (loaded === undefined) return Promise.all(manifest.wasm.map((each) => loadModule(platform, each, variant, fetchImpl, maxWasmBytes)));
    ready.push(loaded);
  }
  return ready;
}

/** A module given compiled: no bytes, so nothing of it is known beyond what V8 says, and nothing is rewritten. */
function precompiled(name: string | undefined, module: WebAssembly.Module): LoadedModule {
  return { name, module, info: null, instrumented: false, memory: undefined, kernelImports: undefined };
}

function loaded(name: string | undefined, entry: CacheEntry, variant: LoadVariant): LoadedModule {
  return { name, module: entry.module, info: entry.info, instrumented: variant.instrument, memory: entry.memory, kernelImports: entry.kernelImports };
}

function cacheKey(platform: Platform, source: WasmSource, bytes: Uint8Array, hash: string | undefined, variant: LoadVariant): string {
  // only an application's own array can come again; a file or a response is read afresh
  const digest = source.kind === 'data' ? digestOf(platform, bytes) : platform.sha256Hex(bytes);
  if (hash !== undefined && hash !== digest) throw new HashMismatchError(describeSource(source), hash, digest);
  return `${digest}:${variant.maxPages ?? ''}:${variant.instrument ? 'i' : ''}${variant.mergeKernel ? 'k' : ''}`;
}

/** The module without waiting, when it is precompiled or its bytes were compiled already; else undefined. */
function loadNow(platform: Platform, { source: given, name, hash }: ManifestEntry, variant: LoadVariant): LoadedModule | undefined {
  const source = sourceBytes(given);
  if (source.kind === 'module') return precompiled(name, source.module);
  if (source.kind !== 'data') return undefined;
  const entry = compiledNow.get(cacheKey(platform, source, source.bytes, hash, variant));
  return entry === undefined ? undefined : loaded(name, entry, variant);
}

async function loadModule(
  platform: Platform,
  { source: given, name, hash }: ManifestEntry,
  variant: LoadVariant,
  fetchImpl: typeof fetch,
  maxWasmBytes: number,
): Promise<LoadedModule> {
  const source = sourceBytes(given);
  if (source.kind === 'module') return precompiled(name, source.module);
  const bytes = await readSourceBytes(platform, source, describeSource(source), fetchImpl, maxWasmBytes);
  const key = cacheKey(platform, source, bytes, hash, variant);
  const entry = await (compiledCache.get(key) ?? remember(key, compileEntry(bytes, describeSource(source), variant, source.kind === 'data'), bytes.byteLength));
  return loaded(name, entry, variant);
}
