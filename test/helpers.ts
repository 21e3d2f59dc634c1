// Shared by the tests: where the built fixtures are, WAT assembled on the fly, a logger that records.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../src/index.js';

/** The repository's root (tests run from build/test/..., compiled). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Path of a WAT fixture built from test/fixtures/NAME.wat. */
export function fixturePath(name: string): string {
  return join(repoRoot, 'build', 'fixtures', name.endsWith('.wasm') ? name : `${name}.wasm`);
}

/** Path of an AssemblyScript plug-in built from plugins/NAME.ts. */
export function pluginPath(name: string): string {
  return join(repoRoot, 'build', 'plugins', name.endsWith('.wasm') ? name : `${name}.wasm`);
}

interface WabtModule {
  parseWat(name: string, source: string, features?: Record<string, boolean>): {
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
 * `all`: enable every proposal Node 20 runs and keep `$names` in a name section.
 */
export async function assemble(source: string, { all = false } = {}): Promise<Uint8Array> {
  wabt ??= import('wabt').then((m: { default: () => Promise<WabtModule> }) => m.default());
  const parsed = (await wabt).parseWat('inline.wat', source, all ? ALL_FEATURES : FEATURES);
  try {
    parsed.resolveNames();
    parsed.validate();
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
