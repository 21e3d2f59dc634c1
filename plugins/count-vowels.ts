// count_vowels: the Extism "hello world", with a running total kept in the var `total`.
// See plugins/README.md for the contract the tests and benchmarks rely on.
//
// Written to allocate nothing in linear memory per call (it is benchmarked: at 13 bytes of
// input, string building and the garbage collector would cost more than the host does).
// The config cannot change during a plug-in's life, so it is read once.
import {
  alloc,
  config_get,
  input_length,
  input_load_u64,
  input_load_u8,
  length,
  load_u64,
  load_u8,
  output_set,
  store_u64,
  store_u8,
  var_get,
  var_set,
} from "@extism/as-pdk/lib/env";

const DEFAULT_VOWELS = "aeiouAEIOU";
const MAX_VOWELS: usize = 256;

// One flag byte per possible input byte.
const vowelTable = memory.data(256);
// The output is built here: `{"count":N,"total":N,"vowels":"..."}`, the vowels JSON-escaped
// (at most 6 bytes per config byte).
const OUTPUT_CAPACITY: usize = 64 + 6 * MAX_VOWELS;
const output = memory.data(<i32>OUTPUT_CAPACITY);
// `,"vowels":"...`}` once formatted: the tail of every output.
const suffix = memory.data(<i32>OUTPUT_CAPACITY);
let suffixLength: usize = 0;
let configured = false;

export function count_vowels(): i32 {
  if (!configured) configure();
  const count = countInputVowels();
  const total = readTotal() + count;
  writeTotal(total);
  writeOutput(count, total);
  return 0;
}

/** Copy `n` bytes from linear memory into a new kernel block. */
function toBlock(ptr: usize, n: usize): u64 {
  const block = alloc(<u64>n);
  let i: usize = 0;
  for (; i + 8 <= n; i += 8) store_u64(block + <u64>i, load<u64>(ptr + i));
  for (; i < n; i++) store_u8(block + <u64>i, load<u8>(ptr + i));
  return block;
}

/** A kernel block holding the ASCII string `s` (keys are ASCII). */
function keyBlock(s: string): u64 {
  const n = <usize>s.length;
  const block = alloc(<u64>n);
  for (let i: usize = 0; i < n; i++) store_u8(block + <u64>i, <u8>s.charCodeAt(<i32>i));
  return block;
}

function configure(): void {
  // Read the configured vowels (bytes) into `output` as scratch, or use the default.
  let n: usize = 0;
  const value = config_get(keyBlock("vowels"));
  const valueLength: usize = value == 0 ? 0 : <usize>length(value);
  if (valueLength > 0) {
    n = valueLength < MAX_VOWELS ? valueLength : MAX_VOWELS;
    for (let i: usize = 0; i < n; i++) store<u8>(output + i, load_u8(value + <u64>i));
  } else {
    n = <usize>DEFAULT_VOWELS.length;
    for (let i: usize = 0; i < n; i++) store<u8>(output + i, <u8>DEFAULT_VOWELS.charCodeAt(<i32>i));
  }
  // Counting is per byte, so only ASCII vowels can ever match; a multi-byte character in
  // the config would otherwise mark UTF-8 continuation bytes and count garbage.
  memory.fill(vowelTable, 0, 256);
  for (let i: usize = 0; i < n; i++) {
    const c = load<u8>(output + i);
    if (c < 0x80) store<u8>(vowelTable + <usize>c, 1);
  }
  // The suffix: ,"vowels":"<escaped>"}
  let at = writeAscii(suffix, ',"vowels":"');
  for (let i: usize = 0; i < n; i++) at = writeEscaped(suffix, at, load<u8>(output + i));
  at = writeAscii(suffix + at, '"}') + at;
  suffixLength = at;
  configured = true;
}

function writeAscii(ptr: usize, s: string): usize {
  const n = <usize>s.length;
  for (let i: usize = 0; i < n; i++) store<u8>(ptr + i, <u8>s.charCodeAt(<i32>i));
  return n;
}

function hexDigit(v: u8): u8 {
  return v < 10 ? 0x30 + v : 0x61 + v - 10;
}

/** One byte of a JSON string body; bytes >= 0x80 pass through (UTF-8 stays UTF-8). */
function writeEscaped(ptr: usize, at: usize, c: u8): usize {
  if (c == 0x22 || c == 0x5c) {
    store<u8>(ptr + at, 0x5c);
    store<u8>(ptr + at + 1, c);
    return at + 2;
  }
  if (c < 0x20) {
    at += writeAscii(ptr + at, "\\u00");
    store<u8>(ptr + at, hexDigit(c >> 4));
    store<u8>(ptr + at + 1, hexDigit(c & 0xf));
    return at + 2;
  }
  store<u8>(ptr + at, c);
  return at + 1;
}

/** Decimal digits of `v` at `ptr`; returns how many. */
function writeDecimal(ptr: usize, v: u64): usize {
  let digits: usize = 1;
  for (let rest = v / 10; rest > 0; rest /= 10) digits++;
  for (let i = digits; i > 0; i--) {
    store<u8>(ptr + i - 1, <u8>(0x30 + v % 10));
    v /= 10;
  }
  return digits;
}

function writeOutput(count: u64, total: u64): void {
  let at = writeAscii(output, '{"count":');
  at += writeDecimal(output + at, count);
  at += writeAscii(output + at, ',"total":');
  at += writeDecimal(output + at, total);
  memory.copy(output + at, suffix, suffixLength);
  at += suffixLength;
  output_set(toBlock(output, at), <u64>at);
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
  const stored = var_get(keyBlock("total"));
  if (stored == 0 || length(stored) != 8) return 0;
  return load_u64(stored);
}

function writeTotal(total: u64): void {
  const value = alloc(8);
  store_u64(value, total);
  var_set(keyBlock("total"), value);
}
