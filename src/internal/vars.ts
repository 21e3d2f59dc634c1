import { MemoryLimitError } from '../errors.js';

/** Bytes of `text` in UTF-8 (lone surrogates count as the 3 bytes of U+FFFD, as encoders write them). */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2;
      i++;
    } else bytes += 2;
  }
  return bytes;
}

/**
 * What each var costs beyond its key and value, as the reference host counts it (a Rust
 * String's and Vec's headers). Without it a guest could set 262,144 vars of a 3-byte key and
 * a 1-byte value under the default 1 MiB, which held 65 MiB of the host's heap (each var is a
 * Map entry, a string and a Uint8Array), and proportionally more under a raised limit.
 */
export const VAR_ENTRY_BYTES = 48;

/** A plug-in's vars: bytes by name, surviving calls, bounded by `maxVarBytes` (keys + values + {@link VAR_ENTRY_BYTES} a var). */
export class VarStore {
  private readonly values = new Map<string, Uint8Array>();
  private bytes = 0;
  // The var looked up or set last, and its value (undefined: absent). A plug-in reads and
  // writes the same var over and over (var_get, then var_set, which takes its old bytes for
  // reuse, then counts): each Map lookup costs more than the rest of the var's path.
  private lastKey: string | undefined;
  private lastValue: Uint8Array | undefined;

  constructor(private readonly maxBytes: number) {}

  get(key: string): Uint8Array | undefined {
    if (key === this.lastKey) return this.lastValue;
    const value = this.values.get(key);
    this.lastKey = key;
    this.lastValue = value;
    return value;
  }

  /** Set (or, with `undefined`, delete) a var; throws {@link MemoryLimitError} past the limit. */
  set(key: string, value: Uint8Array | undefined): void {
    const old = this.get(key);
    // the stored bytes, rewritten in place (see Kernel.takeToKeep): nothing to count again
    if (value !== undefined && value === old) return;
    const keyBytes = utf8Length(key) + VAR_ENTRY_BYTES;
    // `length` (bytes, for a Uint8Array) is inlined by V8 where `byteLength` may be a call
    const without = old === undefined ? this.bytes : this.bytes - keyBytes - old.length;
    if (value === undefined) {
      this.values.delete(key);
      this.bytes = without;
      this.lastValue = undefined;
      return;
    }
    const total = without + keyBytes + value.length;
    if (this.maxBytes === 0) {
      throw new MemoryLimitError(`cannot set var "${key}": vars are disabled (memory.maxVarBytes is 0)`, 0, total);
    }
    if (total > this.maxBytes) {
      throw new MemoryLimitError(
        `cannot set var "${key}": vars would take ${total} bytes (keys, values and ${VAR_ENTRY_BYTES} bytes a var), above memory.maxVarBytes ${this.maxBytes}`,
        this.maxBytes,
        total,
      );
    }
    this.values.set(key, value);
    this.bytes = total;
    this.lastValue = value;
  }

  clear(): void {
    this.values.clear();
    this.bytes = 0;
    this.lastKey = undefined;
    this.lastValue = undefined;
  }
}
