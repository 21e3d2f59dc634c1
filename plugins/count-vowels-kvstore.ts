// count_vowels, with the running total kept by the host in a key-value store reached
// through two host functions, as in the seed guide's "Host Functions" section.
import { Host, Memory } from "@extism/as-pdk";
import {
  alloc,
  free,
  input_length,
  input_load_u64,
  input_load_u8,
  length,
  load_u8,
  store_u8,
} from "@extism/as-pdk/lib/env";

// kv_read returns a block holding the value: 4 bytes, a little-endian u32 (4 zero bytes
// when the key is missing). kv_write does not take ownership of either block.
@external("extism:host/user", "kv_read")
declare function kv_read(key: u64): u64;
@external("extism:host/user", "kv_write")
declare function kv_write(key: u64, value: u64): void;

const KEY = "count-vowels";
const VOWELS = "aeiouAEIOU";

export function count_vowels(): i32 {
  const count = countInputVowels();
  const total = readTotal() + count;
  writeTotal(total);

  const json = '{"count":' + count.toString() + ',"total":' + total.toString() + ',"vowels":"' + VOWELS + '"}';
  Host.output(Uint8Array.wrap(String.UTF8.encode(json)));
  return 0;
}

function isVowel(b: u64): u32 {
  // Lower-casing ASCII letters halves the comparisons; bytes >= 0x80 can never match.
  const c = b | 0x20;
  return u32(b < 0x80 && (c == 0x61 || c == 0x65 || c == 0x69 || c == 0x6f || c == 0x75));
}

function countInputVowels(): u32 {
  const n = input_length();
  let count: u32 = 0;
  let i: u64 = 0;
  for (; i + 8 <= n; i += 8) {
    let word = input_load_u64(i);
    for (let b = 0; b < 8; b++) {
      count += isVowel(word & 0xff);
      word >>= 8;
    }
  }
  for (; i < n; i++) count += isVowel(<u64>input_load_u8(i));
  return count;
}

function readTotal(): u32 {
  const value = kv_read(Memory.allocateString(KEY).offset);
  // A host that answers with nothing or a short block is treated as "no total yet"
  // rather than reading past the block.
  if (value == 0 || length(value) < 4) return 0;
  let total: u32 = 0;
  for (let i: u64 = 0; i < 4; i++) total |= (<u32>load_u8(value + i)) << (<u32>i * 8);
  free(value);
  return total;
}

function writeTotal(total: u32): void {
  const value = alloc(4);
  for (let i: u64 = 0; i < 4; i++) store_u8(value + i, <u8>(total >> (<u32>i * 8)));
  kv_write(Memory.allocateString(KEY).offset, value);
}
