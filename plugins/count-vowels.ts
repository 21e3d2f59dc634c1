// count_vowels: the Extism "hello world", with a running total kept in the var `total`.
// See plugins/README.md for the contract the tests and benchmarks rely on.
import { Config, Host, Memory, Var } from "@extism/as-pdk";
import {
  alloc,
  input_length,
  input_load_u64,
  input_load_u8,
  length,
  load_u64,
  store_u64,
  var_set,
} from "@extism/as-pdk/lib/env";

const DEFAULT_VOWELS = "aeiouAEIOU";
const TOTAL_KEY = "total";

// One flag byte per possible input byte, in a static segment: the benchmark feeds 1 MiB
// per call, so the hot loop must neither allocate nor copy the input into linear memory.
const vowelTable = memory.data(256);

export function count_vowels(): i32 {
  let vowels = Config.get("vowels");
  if (vowels === null) vowels = DEFAULT_VOWELS;
  fillVowelTable(vowels);

  const count = countInputVowels();
  const total = readTotal() + count;
  writeTotal(total);

  const json =
    '{"count":' + count.toString() + ',"total":' + total.toString() + ',"vowels":' + jsonString(vowels) + "}";
  Host.output(Uint8Array.wrap(String.UTF8.encode(json)));
  return 0;
}

function fillVowelTable(vowels: string): void {
  memory.fill(vowelTable, 0, 256);
  // Counting is per byte, so only ASCII vowels can ever match; a multi-byte character in
  // the config would otherwise mark UTF-8 continuation bytes and count garbage.
  for (let i = 0; i < vowels.length; i++) {
    const c = vowels.charCodeAt(i);
    if (c < 0x80) store<u8>(vowelTable + <usize>c, 1);
  }
}

function countInputVowels(): u64 {
  const n = input_length();
  let count: u64 = 0;
  let i: u64 = 0;
  // Eight bytes per host call: with a wasm kernel the call is cheap, but 1M of them is not.
  for (; i + 8 <= n; i += 8) {
    let word = input_load_u64(i);
    for (let b = 0; b < 8; b++) {
      count += <u64>load<u8>(vowelTable + <usize>(word & 0xff));
      word >>= 8;
    }
  }
  for (; i < n; i++) {
    count += <u64>load<u8>(vowelTable + <usize>input_load_u8(i));
  }
  return count;
}

// The total is stored as 8 bytes, little endian: the same encoding the Rust PDK uses for
// an i64 var, so a host or another plug-in reading `total` sees a familiar format.
function readTotal(): u64 {
  const stored = Var.getMemory(TOTAL_KEY);
  if (stored === null || length(stored.offset) != 8) return 0;
  return load_u64(stored.offset);
}

function writeTotal(total: u64): void {
  const value = alloc(8);
  store_u64(value, total);
  var_set(Memory.allocateString(TOTAL_KEY).offset, value);
}

function jsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) out += '\\"';
    else if (c == 0x5c) out += "\\\\";
    else if (c < 0x20) out += "\\u00" + (c < 0x10 ? "0" : "") + c.toString(16);
    else out += String.fromCharCode(c);
  }
  return out + '"';
}
