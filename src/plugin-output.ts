const utf8 = new TextDecoder();

function readOnly(): never {
  throw new TypeError('PluginOutput is read-only');
}

/**
 * The bytes a plug-in returned (from {@link Plugin.call}) or a block read by a host function
 * (from {@link CallContext.read}). A read-only `DataView` over a private copy, with helpers to
 * decode it. The copy is yours: later calls never change it. As with @extism/extism, its
 * `buffer` is an `ArrayBuffer` of its own holding exactly the output (`byteOffset` 0), so
 * `new Uint8Array(out.buffer)` or `new DataView(out.buffer)` see the output and nothing else,
 * and the buffer can be transferred to a worker. A plug-in that set an empty output gives an
 * empty `PluginOutput` (`byteLength` 0); one that set none makes `call` resolve to `null`.
 *
 * ```ts
 * const out = await plugin.call('count_vowels', 'Hello, World!');
 * out?.json(); // { count: 3, total: 3, vowels: 'aeiouAEIOU' }
 * ```
 */
export class PluginOutput extends DataView<ArrayBufferLike> {
  /** Wrap `buffer` (or its window `byteOffset`, `byteLength`) without copying: the caller hands over ownership. */
  constructor(buffer: ArrayBufferLike, byteOffset?: number, byteLength?: number) {
    super(buffer, byteOffset, byteLength);
  }

  /** The bytes decoded as UTF-8 (invalid sequences become U+FFFD). */
  text(): string {
    return utf8.decode(this as ArrayBufferView);
  }

  /** Same as {@link text}; kept for @extism/extism compatibility. */
  string(): string {
    return this.text();
  }

  /** The bytes parsed as JSON; throws a `SyntaxError` when they are not JSON. */
  json<T = any>(): T {
    return JSON.parse(this.text()) as T;
  }

  /** The bytes as a `Uint8Array` sharing this output's memory. */
  bytes(): Uint8Array {
    return new Uint8Array(this.buffer, this.byteOffset, this.byteLength);
  }

  /** The bytes as an `ArrayBuffer`: `buffer` itself (a copy for an output made by hand as a window on a larger buffer). */
  arrayBuffer(): ArrayBufferLike {
    if (this.byteOffset === 0 && this.byteLength === this.buffer.byteLength) return this.buffer;
    return this.buffer.slice(this.byteOffset, this.byteOffset + this.byteLength);
  }

  /** Throws a `TypeError`: an output is read-only. */
  override setInt8(): void {
    readOnly();
  }
  /** Throws a `TypeError`: an output is read-only. */
  override setUint8(): void {
    readOnly();
  }
  /** Throws a `TypeError`: an output is read-only. */
  override setInt16(): void {
    readOnly();
  }
  /** Throws a `TypeError`: an output is read-only. */
  override setUint16(): void {
    readOnly();
  }
  /** Throws a `TypeError`: an output is read-only. */
  override setInt32(): void {
    readOnly();
  }
  /** Throws a `TypeError`: an output is read-only. */
  override setUint32(): void {
    readOnly();
  }
  /** Throws a `TypeError`: an output is read-only. */
  override setFloat32(): void {
    readOnly();
  }
  /** Throws a `TypeError`: an output is read-only. */
  override setFloat64(): void {
    readOnly();
  }
  /** Throws a `TypeError`: an output is read-only. */
  override setBigInt64(): void {
    readOnly();
  }
  /** Throws a `TypeError`: an output is read-only. */
  override setBigUint64(): void {
    readOnly();
  }
}
