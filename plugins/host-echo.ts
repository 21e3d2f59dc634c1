// Small exports for exercising the host's call path: a host-function round trip, the
// cheapest possible call, a byte-exact transform, and state kept in linear memory.
import { Host } from "@extism/as-pdk";
import {
  alloc,
  input_length,
  input_load_u64,
  input_load_u8,
  length,
  output_set,
  store_u64,
  store_u8,
} from "@extism/as-pdk/lib/env";

// Not in the PDK; handing the host its own input block (no copy) is what this export is for.
@external("extism:host/env", "input_offset")
declare function input_offset(): u64;

// Takes a block and returns a block, which may be the same one.
@external("extism:host/user", "echo")
declare function echo(block: u64): u64;

export function echo_via_host(): i32 {
  const block = echo(input_offset());
  if (block != 0) output_set(block, length(block));
  return 0;
}

export function noop(): i32 {
  return 0;
}

export function reverse(): i32 {
  const n = input_length();
  // alloc(0) is 0, which no host accepts as an output block.
  if (n == 0) return 0;
  const out = alloc(n);
  // Straight from the input block to the output block, eight bytes per host call, with
  // no copy in linear memory: the reversed word lands at the mirrored offset.
  let i: u64 = 0;
  for (; i + 8 <= n; i += 8) store_u64(out + n - i - 8, bswap<u64>(input_load_u64(i)));
  for (; i < n; i++) store_u8(out + n - i - 1, input_load_u8(i));
  output_set(out, n);
  return 0;
}

let calls: u32 = 0;

export function stateful(): i32 {
  calls++;
  Host.output(Uint8Array.wrap(String.UTF8.encode(calls.toString())));
  return 0;
}
