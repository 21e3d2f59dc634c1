import { MemoryLimitError } from '../errors.js';

/** A plug-in's vars: bytes by name, surviving calls, bounded by `maxVarBytes` (keys + values). */
export class VarStore {
  private readonly values = new Map<string, Uint8Array>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: string): Uint8Array | undefined {
    return this.values.get(key);
  }

  /** Set (or, with `undefined`, delete) a var; throws {@link MemoryLimitError} past the limit. */
  set(key: string, value: Uint8Array | undefined): void {
    const keyBytes = Buffer.byteLength(key);
    const old = this.values.get(key);
    const without = old === undefined ? this.bytes : this.bytes - keyBytes - old.byteLength;
    if (value === undefined) {
      this.values.delete(key);
      this.bytes = without;
      return;
    }
    const total = without + keyBytes + value.byteLength;
    if (this.maxBytes === 0) {
      throw new MemoryLimitError(`cannot set var "${key}": vars are disabled (memory.maxVarBytes is 0)`, 0, total);
    }
    if (total > this.maxBytes) {
      throw new MemoryLimitError(`cannot set var "${key}": vars would take ${total} bytes, above memory.maxVarBytes ${this.maxBytes}`, this.maxBytes, total);
    }
    this.values.set(key, value);
    this.bytes = total;
  }

  clear(): void {
    this.values.clear();
    this.bytes = 0;
  }
}
