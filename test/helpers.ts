// Shared by the tests: where the built fixtures are, WAT assembled on the fly, a logger that
// records, and a child process bounded in time and memory.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPlugin, type Logger, type Manifest, type Plugin, type PluginOptions, type PluginOutput } from '../src/index.js';
import { runningWorkers } from '../src/internal/platform/node/index.js';

/** The PDK replay fixtures' HTTP exports output the status (u32, little endian), then the body. */
export function statusAndBody(output: PluginOutput | null): { status: number; body: string } {
  assert.ok(output !== null, 'the plug-in set an output');
  const bytes = output.bytes();
  assert.ok(bytes.length >= 4, `the output holds a status: ${bytes.length} bytes`);
  return { status: new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true), body: new TextDecoder().decode(bytes.subarray(4)) };
}

/** The repository's root (tests run from build/test/..., compiled). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Path of a WAT fixture built from test/fixtures/NAME.wat. */
export function fixturePath(name: string): string {
  return join(repoRoot, 'build', 'fixtures', name.endsWith('.wasm') ? name : `${name}.wasm`);
}

/**
 * Plug-ins made from WAT fixtures and closed together: `open(name, options, manifest)` makes one
 * of build/fixtures/NAME.wasm (the manifest's other fields beside it), `keep(plugin)` adds one
 * made otherwise; `closeAll()` closes every one of them since the last time.
 */
export function fixturePlugins(): {
  open(name: string, options?: PluginOptions, manifest?: Omit<Manifest, 'wasm'>): Promise<Plugin>;
  keep(plugin: Plugin): Plugin;
  closeAll(): Promise<void>;
} {
  const opened: Plugin[] = [];
  const keep = (plugin: Plugin) => {
    opened.push(plugin);
    return plugin;
  };
  return {
    async open(name, options = {}, manifest = {}) {
      return keep(await createPlugin({ ...manifest, wasm: [{ data: await readFile(fixturePath(name)) }] }, options));
    },
    keep,
    async closeAll() {
      for (const plugin of opened.splice(0)) await plugin.close();
    },
  };
}

/** Path of an AssemblyScript plug-in built from plugins/NAME.ts. */
export function pluginPath(name: string): string {
  return join(repoRoot, 'build', 'plugins', name.endsWith('.wasm') ? name : `${name}.wasm`);
}

interface WabtModule {
  parseWat(
    name: string,
    source: string,
    features?: Record<string, boolean>,
  ): {
    resolveNames(): void;
    validate(): void;
    toBinary(options: Record<string, unknown>): { buffer: Uint8Array };
    destroy(): void;
  };
}
let wabt: Promise<WabtModule> | undefined;

const FEATURES = {
  multi_value: true,
  bulk_memory: true,
  mutable_globals: true,
  sat_float_to_int: true,
  sign_extension: true,
  reference_types: true,
};

/** Every proposal Node 20 runs, for modules that exercise the instrumentation's decoder. */
const ALL_FEATURES = { ...FEATURES, simd: true, threads: true, tail_call: true, exceptions: true };

/**
 * Assemble WebAssembly text into bytes (for small modules written inside a test).
 * `all`: enable every proposal Node 20 runs and keep `$names` in a name section; `multiMemory`:
 * allow several memories (an engine without multi-memory refuses such a module).
 */
export async function assemble(source: string, { all = false, multiMemory = false } = {}): Promise<Uint8Array> {
  wabt ??= import('wabt').then((m: { default: () => Promise<WabtModule> }) => m.default());
  const parsed = (await wabt).parseWat('inline.wat', source, { ...(all ? ALL_FEATURES : FEATURES), multi_memory: multiMemory });
  try {
    parsed.resolveNames();
    // wabt's validator knows no multi-memory: the engine that runs the module validates it
    if (!multiMemory) parsed.validate();
    return parsed.toBinary({ log: false, write_debug_names: all }).buffer;
  } finally {
    parsed.destroy();
  }
}

/** A logger that records each message as `<level> <message>`. */
export function recordingLogger(): { lines: string[]; logger: Logger } {
  const lines: string[] = [];
  const record = (level: string) => (message: string) => void lines.push(`${level} ${message}`);
  const logger: Logger = { trace: record('trace'), debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };
  return { lines, logger };
}

/** URL of the built library's entry (`build/src/index.js`), for scripts run in a child process. */
/**
 * The tsconfig.json of a user's project that checks our declarations strictly, without
 * @types/node (a browser or Deno user has none), over `files`.
 */
export function consumerTsconfig(files: string[]): string {
  return JSON.stringify({
    compilerOptions: {
      strict: true,
      module: 'nodenext',
      moduleResolution: 'nodenext',
      target: 'es2022',
      lib: ['es2022', 'dom'],
      types: [],
      noEmit: true,
      skipLibCheck: false,
    },
    files,
  });
}

export const libraryUrl = new URL('../src/index.js', import.meta.url).href;

/** What a bounded child process did. */
export interface BoundedRun {
  stdout: string;
  stderr: string;
  /** The child's peak resident set, in MiB. */
  peakRssMb: number;
  /** Wall time from spawn to exit, in ms. */
  ms: number;
}

const PEAK_MARK = '\n@@run-bounded peak-rss-kb ';

/**
 * Runs `source` (an ES module; top-level await allowed) in a fresh `node` and resolves with
 * what it printed. Rejects — never resolves — when the child runs past `timeoutMs`, when its
 * resident set goes past `maxRssMb` (watched while it runs, on Linux, and its peak checked at
 * exit), or when it exits with anything but 0: a hang or a blow-up in the child fails the
 * test instead of hanging CI or the machine.
 */
export function runBounded(
  source: string,
  { timeoutMs, maxRssMb, execArgv = [] }: { timeoutMs: number; maxRssMb: number; execArgv?: string[] },
): Promise<BoundedRun> {
  // The child reports its own peak at exit; the parent also samples it while the child runs,
  // so a child that blows up is killed before it takes the machine with it.
  const reporter = `process.on('exit', () => process.stderr.write(${JSON.stringify(PEAK_MARK)} + process.resourceUsage().maxRSS + '\\n'));\n`;
  const started = performance.now();
  const child = spawn(process.execPath, [...execArgv, '--input-type=module', '-e', reporter + source], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise<BoundedRun>((resolve, reject) => {
    let failure: Error | undefined;
    const stop = (why: string) => {
      failure ??= new assert.AssertionError({ message: `${why}\n--- stdout:\n${stdout}\n--- stderr:\n${stderr}` });
      child.kill('SIGKILL');
    };
    const deadline = setTimeout(() => stop(`the child ran past ${timeoutMs} ms`), timeoutMs);
    const sampler = setInterval(() => {
      const rssMb = residentMb(child.pid);
      if (rssMb !== undefined && rssMb > maxRssMb) stop(`the child's resident set reached ${rssMb.toFixed(1)} MiB, past ${maxRssMb} MiB`);
    }, 20);
    child.on('error', (err) => stop(`could not run node: ${err.message}`));
    child.on('close', (code, signal) => {
      clearTimeout(deadline);
      clearInterval(sampler);
      const ms = performance.now() - started;
      const at = stderr.lastIndexOf(PEAK_MARK);
      const peakRssMb = at < 0 ? NaN : Number.parseInt(stderr.slice(at + PEAK_MARK.length), 10) / 1024;
      if (at >= 0) stderr = stderr.slice(0, at) + stderr.slice(stderr.indexOf('\n', at + PEAK_MARK.length) + 1);
      if (failure === undefined && code !== 0) stop(`the child exited with ${code ?? signal}`);
      if (failure === undefined && !(peakRssMb <= maxRssMb)) stop(`the child's peak resident set was ${peakRssMb.toFixed(1)} MiB, past ${maxRssMb} MiB`);
      if (failure !== undefined) reject(failure);
      else resolve({ stdout, stderr, peakRssMb, ms });
    });
  });
}

/** Current resident set of process `pid` in MiB, where /proc tells it (Linux). */
function residentMb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /VmRSS:\s*(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined; // not Linux, or the child is gone: the peak is checked at exit
  }
}

/** A promise with its resolve and reject, for host functions a test settles when it wants. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * A guest for worker tests (WAT): `wait` calls the host's `extism:host/user.wait`; `echo`
 * outputs its input; `count` outputs how many calls of it this instance has run (a byte: 1, 2, ...).
 */
export const COUNTING_GUEST = `(module
  (import "extism:host/user" "wait" (func $wait))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (global $n (mut i32) (i32.const 0))
  (func (export "wait") (call $wait))
  (func (export "echo") (call $output_set (call $input_offset) (call $input_length)))
  (func (export "count") (local $h i64)
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    (local.set $h (call $alloc (i64.const 1)))
    (call $store_u8 (local.get $h) (global.get $n))
    (call $output_set (local.get $h) (i64.const 1))))`;

/** Count the messages carrying calls this thread posts to the only running worker from now on (a ring's wake-up carries none). */
export function countCallMessages(): { readonly count: number } {
  const workers = runningWorkers();
  assert.equal(workers.length, 1, 'one worker runs: its tests run one at a time and close their plug-ins');
  const worker = workers[0]!;
  const post = worker.postMessage;
  const counter = { count: 0 };
  worker.postMessage = (value, transfer) => {
    if ((value as { type?: string }).type !== 'wake') counter.count++;
    post(value, transfer);
  };
  return counter;
}

/** A stream read slowly, as a pipe whose reader lags: every write fills it, and it drains 20 ms after it filled. */
export class SlowStream extends EventEmitter {
  received = 0;
  outstanding = 0;
  maxOutstanding = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  write(chunk: Uint8Array | string): boolean {
    this.received += chunk.length;
    this.outstanding += chunk.length;
    this.maxOutstanding = Math.max(this.maxOutstanding, this.outstanding);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.outstanding = 0;
      this.emit('drain');
    }, 20);
    return false;
  }
}

/** An output stream that keeps what is written to it (the CLI's stdout and stderr in tests). */
export class Capture {
  readonly chunks: Buffer[] = [];
  write(chunk: Uint8Array | string): boolean {
    this.chunks.push(Buffer.from(chunk));
    return true;
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
  text(): string {
    return this.bytes().toString('utf8');
  }
}
