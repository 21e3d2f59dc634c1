// The scenarios of the benchmark: what each host runs, how its output is checked before it
// is timed (a host that is fast because it is wrong must not win), the floor it is compared
// with, and the targets of the issue.
import { type Floor, stubInstantiate } from './floor.js';
import type { Op } from './harness.js';
import {
  type BenchOptions,
  type BenchOutput,
  type BenchPlugin,
  bytesOf,
  fixtureFile,
  type Host,
  hostFunctions,
  KIB,
  MIB,
  pluginFile,
  text,
  u64,
  u64Of,
  wasmBytes,
} from './hosts.js';

/** Targets from the issue: ratio = peer/plughost at least `ratio`; plughost/floor at most `floor`. */
export interface Target {
  ratio?: number;
  floor?: number;
}

export interface Prepared {
  op: Op;
  close(): Promise<void>;
}

export interface Scenario {
  name: string;
  target: Target;
  /** Whether the ratio counts in the geometric mean (the issue's scenarios do; extra rows do not). */
  inGeomean: boolean;
  /** Make the plug-in(s) on `host`, check one call's output, and hand back the op to time. */
  prepare(host: Host): Promise<Prepared>;
  floor: { what: string; op(floor: Floor): Op };
}

export const VOWELS = 'aeiouAEIOU';
export const COUNT_VOWELS_OPTIONS: BenchOptions = { config: { vowels: VOWELS } };
export const SMALL_INPUT = 'Hello, World!';

export const inputs = {
  small: new TextEncoder().encode(SMALL_INPUT),
  kib: text(KIB),
  mib: text(MIB),
};

export function countVowelsJs(bytes: Uint8Array): number {
  const table = new Uint8Array(256);
  for (const c of VOWELS) table[c.charCodeAt(0)] = 1;
  let count = 0;
  for (const b of bytes) count += table[b]!;
  return count;
}

/** The wrapping sum of bench-read.wat, in JavaScript. */
function sumJs(bytes: Uint8Array): bigint {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let sum = 0n;
  let i = 0;
  for (; i + 8 <= bytes.byteLength; i += 8) sum += view.getBigUint64(i, true);
  for (; i < bytes.byteLength; i++) sum += BigInt(bytes[i]!);
  return BigInt.asUintN(64, sum);
}

function expect(condition: boolean, host: Host, scenario: string, what: string): void {
  if (!condition) throw new Error(`${host.name} fails the check of "${scenario}": ${what}`);
}

function countOf(output: BenchOutput | null): number {
  return (JSON.parse(new TextDecoder().decode(bytesOf(output))) as { count: number }).count;
}

/** A scenario timing calls of one export of one plug-in, its output checked once first. */
function callScenario(spec: {
  name: string;
  target: Target;
  inGeomean?: boolean;
  file: string;
  options?: BenchOptions;
  fn: string;
  input: Uint8Array;
  check(output: BenchOutput | null): string | undefined;
  floor: Scenario['floor'];
}): Scenario {
  return {
    name: spec.name,
    target: spec.target,
    inGeomean: spec.inGeomean ?? true,
    floor: spec.floor,
    async prepare(host) {
      const plugin: BenchPlugin = await host.create({ wasm: [{ path: spec.file }] }, spec.options ?? {});
      const problem = spec.check(await plugin.call(spec.fn, spec.input));
      expect(problem === undefined, host, spec.name, problem ?? '');
      const { fn, input } = spec;
      return { op: { kind: 'async', run: () => plugin.call(fn, input) }, close: () => plugin.close() };
    },
  };
}

function createScenario(name: string, target: Target, manifest: () => unknown): Scenario {
  const module = new WebAssembly.Module(wasmBytes(pluginFile('count-vowels')) as Uint8Array<ArrayBuffer>);
  return {
    name,
    target,
    inGeomean: true,
    floor: { what: 'instantiate', op: () => ({ kind: 'sync', run: stubInstantiate(module) }) },
    async prepare(host) {
      const plugin = await host.create(manifest(), COUNT_VOWELS_OPTIONS);
      const count = countOf(await plugin.call('count_vowels', inputs.small));
      await plugin.close();
      expect(count === countVowelsJs(inputs.small), host, name, `count ${count}`);
      return {
        op: {
          kind: 'async',
          run: async () => {
            const p = await host.create(manifest(), COUNT_VOWELS_OPTIONS);
            await p.close();
          },
        },
        close: async () => {},
      };
    },
  };
}

/** Floor of moving `n` bytes across the boundary: one copy into linear memory. */
function copyFloor(input: Uint8Array): Scenario['floor'] {
  return {
    what: `copy ${input.byteLength >= MIB ? `${input.byteLength / MIB} MiB` : `${input.byteLength / KIB} KiB`}`,
    op: (floor) => ({ kind: 'sync', run: () => floor.load(input) }),
  };
}

function countFloor(input: Uint8Array): Scenario['floor'] {
  return {
    what: 'plain wasm',
    op: (floor) => {
      floor.load(input);
      const n = input.byteLength;
      return { kind: 'sync', run: () => floor.countVowels(n) };
    },
  };
}

export function scenarios(): Scenario[] {
  const countVowels = pluginFile('count-vowels');
  const hostEcho = pluginFile('host-echo');
  const countVowelsBytes = wasmBytes(countVowels);
  const countVowelsModule = new WebAssembly.Module(countVowelsBytes as Uint8Array<ArrayBuffer>);
  const echoOf = (input: Uint8Array) => (output: BenchOutput | null) =>
    Buffer.from(bytesOf(output)).equals(input) ? undefined : `echo of ${input.byteLength} bytes came back as ${bytesOf(output).byteLength} other bytes`;
  const vowelsOf = (input: Uint8Array) => (output: BenchOutput | null) => {
    const count = countOf(output);
    return count === countVowelsJs(input) ? undefined : `count ${count}, expected ${countVowelsJs(input)}`;
  };
  const u64Is = (expected: bigint) => (output: BenchOutput | null) => {
    const got = u64Of(output);
    return got === expected ? undefined : `output ${got}, expected ${expected}`;
  };

  return [
    createScenario('create from compiled module', { ratio: 3 }, () => ({ wasm: [{ module: countVowelsModule }] })),
    createScenario('create from bytes seen before', { ratio: 10 }, () => ({ wasm: [{ data: countVowelsBytes }] })),
    callScenario({
      name: 'vowel count, 13 B',
      target: { ratio: 8 },
      file: countVowels,
      options: COUNT_VOWELS_OPTIONS,
      fn: 'count_vowels',
      input: inputs.small,
      check: vowelsOf(inputs.small),
      floor: countFloor(inputs.small),
    }),
    callScenario({
      name: 'vowel count, 1 MiB',
      target: { ratio: 1.7 },
      file: countVowels,
      options: COUNT_VOWELS_OPTIONS,
      fn: 'count_vowels',
      input: inputs.mib,
      check: vowelsOf(inputs.mib),
      floor: countFloor(inputs.mib),
    }),
    callScenario({
      name: 'vowel count, 1 MiB, WAT (extra)',
      target: {},
      inGeomean: false,
      file: fixtureFile('bench-vowels'),
      fn: 'count_vowels',
      input: inputs.mib,
      check: u64Is(BigInt(countVowelsJs(inputs.mib))),
      floor: countFloor(inputs.mib),
    }),
    callScenario({
      name: 'read 1 KiB (input_load_u64)',
      target: {},
      file: fixtureFile('bench-read'),
      fn: 'read_sum',
      input: inputs.kib,
      check: u64Is(sumJs(inputs.kib)),
      floor: copyFloor(inputs.kib),
    }),
    callScenario({
      name: 'read 1 MiB (input_load_u64)',
      target: { ratio: 15, floor: 10 },
      file: fixtureFile('bench-read'),
      fn: 'read_sum',
      input: inputs.mib,
      check: u64Is(sumJs(inputs.mib)),
      floor: copyFloor(inputs.mib),
    }),
    callScenario({
      name: 'write 1 MiB (alloc + store_u64)',
      target: { ratio: 15, floor: 10 },
      file: fixtureFile('bench-write'),
      fn: 'write_bytes',
      input: u64(MIB),
      check: (output) => {
        const bytes = bytesOf(output);
        if (bytes.byteLength !== MIB) return `${bytes.byteLength} bytes of output, expected ${MIB}`;
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        for (let i = 0; i < MIB; i += 8) if (view.getBigUint64(i, true) !== BigInt(i)) return `wrong word at offset ${i}`;
        return undefined;
      },
      floor: copyFloor(inputs.mib),
    }),
    // A round trip as plug-ins make one: guest memory → a kernel block → the host's `echo` →
    // the block it returns → guest memory → output (test/fixtures/bench-roundtrip.wat).
    callScenario({
      name: 'host round trip 1 KiB',
      target: {},
      file: fixtureFile('bench-roundtrip'),
      options: { functions: hostFunctions },
      fn: 'round_trip',
      input: inputs.kib,
      check: echoOf(inputs.kib),
      floor: copyFloor(inputs.kib),
    }),
    callScenario({
      name: 'host round trip 1 MiB',
      target: { ratio: 15, floor: 10 },
      file: fixtureFile('bench-roundtrip'),
      options: { functions: hostFunctions },
      fn: 'round_trip',
      input: inputs.mib,
      check: echoOf(inputs.mib),
      floor: copyFloor(inputs.mib),
    }),
    // The AssemblyScript plug-in hands its input block straight to the host. The peer adopts a
    // Uint8Array that owns its whole buffer as that block, and its `store` adopts the host's
    // bytes likewise, so in the peer this row moves no bytes at all.
    callScenario({
      name: 'host echo of the input block, 1 MiB (extra)',
      target: {},
      inGeomean: false,
      file: hostEcho,
      options: { functions: hostFunctions },
      fn: 'echo_via_host',
      input: inputs.mib,
      check: echoOf(inputs.mib),
      floor: copyFloor(inputs.mib),
    }),
    callScenario({
      name: '1,000 host calls (i64 args)',
      target: { ratio: 1.5 },
      file: fixtureFile('bench-host-calls'),
      options: { functions: hostFunctions },
      fn: 'host_calls',
      input: new Uint8Array(0),
      check: u64Is(499500n),
      floor: { what: 'wasm→JS ×1000', op: (floor) => ({ kind: 'sync', run: () => floor.exports.host_calls() }) },
    }),
    callScenario({
      name: 'no-op call',
      target: { ratio: 5, floor: 5 },
      file: fixtureFile('bench-noop'),
      fn: 'noop',
      input: new Uint8Array(0),
      check: (output) => (bytesOf(output).byteLength === 0 ? undefined : 'a no-op had output'),
      floor: { what: 'raw call', op: (floor) => ({ kind: 'sync', run: () => floor.exports.noop() }) },
    }),
    ...(JSPI ? [jspiNoopScenario()] : []),
  ];
}

const jspi = WebAssembly as unknown as { Suspending?: unknown; promising?: (fn: () => unknown) => () => Promise<unknown> };
/** Whether this engine has JS promise integration (Node 24+): only then is the JSPI row run. */
const JSPI = typeof jspi.Suspending === 'function' && typeof jspi.promising === 'function';

/**
 * What JSPI costs a call that never suspends: a no-op plug-in importing an async host function
 * (never called), so plughost calls it through `WebAssembly.promising`. The peer gets the same
 * function synchronously (a plain call); the floor is a raw `promising` call, awaited.
 */
function jspiNoopScenario(): Scenario {
  const name = 'no-op call, JSPI (extra)';
  return {
    name,
    target: {},
    inGeomean: false,
    floor: {
      what: 'raw promising call',
      op: (floor) => {
        const noop = jspi.promising!(floor.exports.noop);
        return { kind: 'async', run: () => noop() };
      },
    },
    async prepare(host) {
      const wait = host.name === 'plughost' ? async (_ctx: unknown, h: unknown) => h : (_ctx: unknown, h: unknown) => h;
      const plugin = await host.create({ wasm: [{ path: fixtureFile('bench-noop-jspi') }] }, { functions: { 'extism:host/user': { wait } } });
      expect(bytesOf(await plugin.call('noop')).byteLength === 0, host, name, 'a no-op had output');
      return { op: { kind: 'async', run: () => plugin.call('noop') }, close: () => plugin.close() };
    },
  };
}
