// Three ways for a call to fail, one per outcome the host must tell apart (ABI.md,
// "A call, step by step"): an error message, a bare non-zero return, a trap.
import { Host, Memory } from "@extism/as-pdk";
import { error_set } from "@extism/as-pdk/lib/env";

export function fail(): i32 {
  setError("this plug-in always fails: " + Host.inputString());
  return 1;
}

export function fail_with_code(): i32 {
  const text = Host.inputString();
  const code = parseI32(text);
  if (code === null) {
    setError('fail_with_code: input is not a 32-bit integer: "' + text + '"');
    return 1;
  }
  // A code of 0 is a success, which lets one test cover both sides of the rule.
  return code.value;
}

export function trap(): i32 {
  return unreachable();
}

function setError(message: string): void {
  error_set(Memory.allocateString(message).offset);
}

// Boxed so that "not a number" is distinct from every i32, including 0 and -1.
class Parsed {
  constructor(public value: i32) {}
}

function parseI32(text: string): Parsed | null {
  const s = text.trim();
  let i = 0;
  let negative = false;
  if (s.length > 0 && (s.charCodeAt(0) == 0x2d || s.charCodeAt(0) == 0x2b)) {
    negative = s.charCodeAt(0) == 0x2d;
    i = 1;
  }
  if (i == s.length) return null;
  let magnitude: i64 = 0;
  for (; i < s.length; i++) {
    const d = s.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return null;
    magnitude = magnitude * 10 + d;
    if (magnitude > 0x80000000) return null;
  }
  const value = negative ? -magnitude : magnitude;
  if (value > i32.MAX_VALUE) return null;
  return new Parsed(<i32>value);
}
