/**
 * Rewriting a module's memory declaration. `capMemory` enforces `memory.maxPages`: a memory
 * whose declared maximum is the cap cannot grow past it, whatever engine runs it, and
 * `memory.grow` fails the way the plug-in already expects (returning -1) instead of
 * trapping. `importOwnMemory` turns the memory a module defines into one it imports, so the
 * host can hand each instance a memory of its choosing (a pooled one: reserving a fresh
 * memory is most of what an instantiation costs).
 *
 * @module
 */
import { MemoryLimitError } from '../../errors.js';
import { ByteWriter } from './encoder.js';
import { ByteReader, forEachImport, type Limits, SectionId, sectionSpans } from './reader.js';

/**
 * Returns `bytes` with memory 0 limited to `maxPages` (64 KiB pages): its `max` becomes
 * `min(max ?? Infinity, maxPages)`. The same array comes back when nothing changes (no
 * memory, or a maximum already within the cap). Throws a {@link MemoryLimitError} when
 * the memory's initial size is already above the cap.
 *
 * ```ts
 * const capped = capMemory(wasm, 16); // at most 1 MiB of linear memory
 * ```
 */
export function capMemory(bytes: Uint8Array, maxPages: number): Uint8Array {
  if (!Number.isInteger(maxPages) || maxPages < 0) throw new RangeError(`memory.maxPages must be a non-negative integer, got ${maxPages}`);
  for (const span of sectionSpans(bytes)) {
    if (span.id !== SectionId.import && span.id !== SectionId.memory) continue;
    const found = span.id === SectionId.import ? findImportedMemory(bytes, span.bodyStart, span.end) : findDefinedMemory(bytes, span.bodyStart, span.end);
    if (!found) continue;
    const { limits, start, end } = found;
    if (limits.min > maxPages) {
      throw new MemoryLimitError(`module's initial memory is ${limits.min} pages, above memory.maxPages ${maxPages}`, maxPages, limits.min);
    }
    if (limits.max !== undefined && limits.max <= maxPages) return bytes;
    const encoded = encodeLimits({ ...limits, max: maxPages });
    const bodyLength = span.end - span.bodyStart - (end - start) + encoded.length;
    const out = new ByteWriter(bytes.length + 16)
      .slice(bytes, 0, span.start)
      .byte(span.id)
      .u32(bodyLength)
      .slice(bytes, span.bodyStart, start)
      .bytes(encoded)
      .slice(bytes, end, bytes.length);
    return out.finish();
  }
  return bytes;
}

/** Where {@link importOwnMemory} has a module import its memory from. */
export const OWN_MEMORY_MODULE = 'plughost';
export const OWN_MEMORY_NAME = 'memory';

/**
 * Returns `bytes` with its one defined memory declared instead as an import
 * (`plughost.memory`, same limits), and those limits; undefined when the module does not
 * define exactly one memory, already imports one, or its memory is shared or 64-bit. Memory
 * index 0 stays the same memory, so nothing else in the module changes.
 */
export function importOwnMemory(bytes: Uint8Array): { bytes: Uint8Array; limits: Limits } | undefined {
  const spans = sectionSpans(bytes);
  const memorySpan = spans.find((span) => span.id === SectionId.memory);
  if (memorySpan === undefined) return undefined;
  const r = new ByteReader(bytes, memorySpan.bodyStart, memorySpan.end);
  if (r.u32() !== 1) return undefined;
  const limits = r.limits();
  if (limits.shared || limits.memory64) return undefined;
  const importSpan = spans.find((span) => span.id === SectionId.import);
  if (importSpan !== undefined && findImportedMemory(bytes, importSpan.bodyStart, importSpan.end) !== undefined) return undefined;

  const entry = new ByteWriter(32).name(OWN_MEMORY_MODULE).name(OWN_MEMORY_NAME).byte(2).bytes(encodeLimits(limits)).finish();
  let imports: Uint8Array;
  if (importSpan === undefined) {
    imports = new ByteWriter(entry.length + 1).u32(1).bytes(entry).finish();
  } else {
    const ir = new ByteReader(bytes, importSpan.bodyStart, importSpan.end);
    const count = ir.u32();
    imports = new ByteWriter(importSpan.end - importSpan.bodyStart + entry.length + 5)
      .u32(count + 1)
      .slice(bytes, ir.pos, importSpan.end)
      .bytes(entry)
      .finish();
  }
  const out = new ByteWriter(bytes.length + entry.length + 8).slice(bytes, 0, 8);
  let importsWritten = false;
  for (const span of spans) {
    // The import section goes where it was, or else before the first section that must follow it.
    if (!importsWritten && (span.id === SectionId.import || (span.id !== SectionId.custom && span.id !== SectionId.type))) {
      out.section(SectionId.import, imports);
      importsWritten = true;
    }
    if (span.id === SectionId.import || span.id === SectionId.memory) continue;
    out.slice(bytes, span.start, span.end);
  }
  if (!importsWritten) out.section(SectionId.import, imports);
  return { bytes: out.finish(), limits };
}

interface LimitsAt {
  limits: Limits;
  /** Byte range of the encoded limits inside the module. */
  start: number;
  end: number;
}

function readLimitsAt(r: ByteReader): LimitsAt {
  const start = r.pos;
  const limits = r.limits();
  return { limits, start, end: r.pos };
}

// Imported memories come first in the memory index space, so memory 0 is the first
// imported memory when there is one.
function findImportedMemory(bytes: Uint8Array, start: number, end: number): LimitsAt | undefined {
  const r = new ByteReader(bytes, start, end);
  let found: LimitsAt | undefined;
  forEachImport(r, (kind) => {
    if (kind !== 2) return false;
    found = readLimitsAt(r);
    return true;
  });
  return found;
}

function findDefinedMemory(bytes: Uint8Array, start: number, end: number): LimitsAt | undefined {
  const r = new ByteReader(bytes, start, end);
  return r.u32() > 0 ? readLimitsAt(r) : undefined;
}

function encodeLimits(limits: Limits): Uint8Array {
  const w = new ByteWriter(24);
  w.byte((limits.max !== undefined ? 1 : 0) | (limits.shared ? 2 : 0) | (limits.memory64 ? 4 : 0));
  w.u32(limits.min);
  if (limits.max !== undefined) w.u32(limits.max);
  return w.finish();
}
