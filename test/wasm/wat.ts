// WAT assembly with every proposal the instrumentation must decode (SIMD, threads, tail
// calls, exceptions) and with the name section, which test/helpers.ts's assemble() leaves
// out. Plain modules use assemble() from there.

interface WabtModule {
  parseWat(name: string, source: string, features?: Record<string, boolean>): {
    resolveNames(): void;
    validate(): void;
    toBinary(options: Record<string, unknown>): { buffer: Uint8Array };
    destroy(): void;
  };
}
let wabt: Promise<WabtModule> | undefined;

const allFeatures = {
  exceptions: true,
  mutable_globals: true,
  sat_float_to_int: true,
  sign_extension: true,
  simd: true,
  threads: true,
  multi_value: true,
  tail_call: true,
  bulk_memory: true,
  reference_types: true,
};

/** Assembles WAT with all features Node 20 runs enabled, keeping `$names` in a name section. */
export async function assembleFull(source: string): Promise<Uint8Array> {
  wabt ??= import('wabt').then((m: { default: () => Promise<WabtModule> }) => m.default());
  const parsed = (await wabt).parseWat('inline.wat', source, allFeatures);
  try {
    parsed.resolveNames();
    parsed.validate();
    return parsed.toBinary({ log: false, write_debug_names: true }).buffer;
  } finally {
    parsed.destroy();
  }
}
