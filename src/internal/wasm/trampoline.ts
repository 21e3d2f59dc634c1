/**
 * Trampolines that keep BigInt off the hot path of i64 host functions.
 *
 * A JS function imported with an i64 parameter receives a BigInt, allocated on every
 * call; Extism's kernel functions take i64 handles on every byte copied. A trampoline
 * module sits between the plug-in and JS: when the i64 arguments fit in a double
 * exactly (nearly always: they are offsets and lengths) it calls a JS "fast" function
 * typed with f64 instead, and falls back to the original i64 signature otherwise.
 *
 * @module
 */
import { ByteWriter, ModuleBuilder, valueTypeCode } from './encoder.js';
import type { FuncType, ValueType } from './reader.js';

/** 2^53 - 1: the largest magnitude an f64 holds exactly. */
const SAFE = (1n << 53n) - 1n;

function widenToF64(types: ValueType[]): ValueType[] {
  return types.map((t) => (t === 'i64' ? 'f64' : t));
}

/**
 * Builds a module that, for each `types[i]`, imports `"fast" "<i>"` (the type with every
 * i64 replaced by f64) and `"slow" "<i>"` (the type itself), and exports `"<i>"` with the
 * original type: it calls `fast` when every i64 argument is within ±(2^53−1), else `slow`.
 * An i64 result returned by `fast` as NaN is read from the exported mutable i64 global
 * `"wide"` instead, which is how the JS side returns a value too wide for a double.
 * Throws when a type has more than one result.
 *
 * ```ts
 * const bytes = buildTrampolineModule([{ params: ['i64'], results: ['i64'] }]);
 * const { instance } = await WebAssembly.instantiate(bytes, { fast: { 0: (n) => n + 1 }, slow: { 0: (n) => n + 1n } });
 * ```
 */
export function buildTrampolineModule(types: FuncType[]): Uint8Array {
  const m = new ModuleBuilder();
  const pairs = types.map((type, i) => {
    if (type.results.length > 1) throw new RangeError(`trampoline type ${i} has ${type.results.length} results; at most one is supported`);
    const fastType: FuncType = { params: widenToF64(type.params), results: widenToF64(type.results) };
    return { fast: m.importFunction('fast', String(i), fastType), slow: m.importFunction('slow', String(i), type) };
  });
  const wide = m.addGlobal('i64', true, [0x42, 0x00]);
  m.export('wide', 'global', wide);
  types.forEach((type, i) => {
    const { body, locals } = trampolineBody(type, pairs[i]!.fast, pairs[i]!.slow, wide);
    m.export(String(i), 'function', m.addFunction({ type, locals, body }));
  });
  return m.build();
}

function trampolineBody(type: FuncType, fast: number, slow: number, wide: number): { body: Uint8Array; locals: ValueType[] } {
  const w = new ByteWriter(64);
  const wideParams = type.params.flatMap((t, i) => (t === 'i64' ? [i] : []));
  const wideResult = type.results[0] === 'i64';
  const tmp = type.params.length; // first local after the parameters

  const callFast = (): void => {
    type.params.forEach((t, i) => {
      w.byte(0x20).u32(i); // local.get
      if (t === 'i64') w.byte(0xb9); // f64.convert_i64_s
    });
    w.byte(0x10).u32(fast);
    if (wideResult) {
      // NaN is the one double that differs from itself.
      w.byte(0x22).u32(tmp).byte(0x20).u32(tmp).byte(0x62); // local.tee; local.get; f64.ne
      w.byte(0x04).byte(valueTypeCode.i64); // if (result i64)
      w.byte(0x23).u32(wide); // global.get
      w.byte(0x05); // else
      w.byte(0x20).u32(tmp).byte(0xfc).u32(6); // local.get; i64.trunc_sat_f64_s
      w.byte(0x0b);
    }
  };

  if (wideParams.length === 0) {
    callFast();
  } else {
    // p is safe iff p + SAFE, as unsigned, is at most 2 * SAFE (out-of-range values wrap high).
    wideParams.forEach((p, n) => {
      w.byte(0x20).u32(p).byte(0x42).s64(SAFE).byte(0x7c); // local.get; i64.const; i64.add
      w.byte(0x42)
        .s64(2n * SAFE)
        .byte(0x58); // i64.const; i64.le_u
      if (n > 0) w.byte(0x71); // i32.and
    });
    const result = type.results[0];
    w.byte(0x04).byte(result ? valueTypeCode[result] : 0x40); // if
    callFast();
    w.byte(0x05); // else
    for (let i = 0; i < type.params.length; i++) w.byte(0x20).u32(i);
    w.byte(0x10).u32(slow);
    w.byte(0x0b);
  }
  return { body: w.finish(), locals: wideResult ? ['f64'] : [] };
}
