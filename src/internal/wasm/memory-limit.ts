/**
 * Rewriting a module's memory and table declarations. `capLimits` enforces `memory.maxPages`
 * (and a budget for tables): a memory or table whose declared maximum is its share cannot grow
 * past it, whatever engine runs it, and `memory.grow`/`table.grow` fail the way the plug-in
 * already expects (returning -1) instead of trapping. `importOwnMemory` turns the memory a
 * module defines into one it imports, so the host can hand each instance a memory of its
 * choosing (a pooled one: reserving a fresh memory is most of what an instantiation costs).
 *
 * @module
 */
import { MemoryLimitError } from '../../errors.js';
import { ByteWriter } from './encoder.js';
import { ByteReader, forEachImport, type Limits, SectionId, type SectionSpan, sectionSpans, skipConstantExpression, skipRefType } from './reader.js';

/**
 * What one table element is charged, in bytes, against `memory.maxPages`: an engine keeps a
 * reference and a call target per element (V8 took 27 bytes an element of a funcref table).
 */
export const TABLE_ELEMENT_BYTES = 32;

/** Most elements a module's tables may hold together when no `memory.maxPages` is set: what one V8 table may hold. */
export const MAX_TABLE_ELEMENTS = 10_000_000;

/** Pages of one 32-bit memory's address space (4 GiB). */
const WASM32_PAGES = 65536;

/** Elements a module's tables may hold together under `maxPages` (undefined: no memory cap). */
export function tableElementBudget(maxPages: number | undefined): number {
  return maxPages === undefined ? MAX_TABLE_ELEMENTS : Math.min(MAX_TABLE_ELEMENTS, Math.floor((maxPages * 65536) / TABLE_ELEMENT_BYTES));
}

/**
 * Returns `bytes` with its memories and its tables capped, so that no guest can take more than
 * it was given however many it declares (a module may have many memories where the engine has
 * multi-memory, and every engine allows many tables, each allocated whole at instantiation):
 * - the memories (imported and defined) together hold at most `maxPages` 64 KiB pages: each
 *   starts at its initial size, and what is left is shared out as maxima (a single memory
 *   simply gets `maxPages`). Without `maxPages`, several memories or a 64-bit one share the
 *   4 GiB a single 32-bit memory is bounded by;
 * - the tables together hold at most {@link tableElementBudget} elements, shared out the same way.
 * A maximum already within its share stays. The same array comes back when nothing changes.
 * Throws a {@link MemoryLimitError} when the initial sizes alone are above a cap.
 *
 * ```ts
 * const capped = capLimits(wasm, 16); // at most 1 MiB of linear memory, 32,768 table elements
 * ```
 */
export function capLimits(bytes: Uint8Array, maxPages: number | undefined): Uint8Array {
  if (maxPages !== undefined && (!Number.isInteger(maxPages) || maxPages < 0))
    throw new RangeError(`memory.maxPages must be a non-negative integer, got ${maxPages}`);
  const spans = sectionSpans(bytes);
  const sites = findLimits(bytes, spans);
  const memories = sites.filter((site) => site.kind === 'memory');
  const tables = sites.filter((site) => site.kind === 'table');
  const edits: LimitsAt[] = [];
  // Without maxPages one 32-bit memory is bounded by its address space; several memories, or a
  // 64-bit one, are given what that one would have.
  const memoryBudget = maxPages ?? (memories.length > 1 || memories.some((m) => m.limits.memory64) ? WASM32_PAGES : undefined);
  if (memoryBudget !== undefined && memories.length > 0) {
    const initial = sum(memories.map((m) => m.limits.min));
    if (initial > memoryBudget) {
      const what =
        memories.length === 1 ? `module's initial memory is ${initial} pages` : `module's ${memories.length} memories start at ${initial} pages in all`;
      const cap =
        maxPages === undefined ? `the ${WASM32_PAGES} pages (4 GiB) a plug-in's memories may hold without memory.maxPages` : `memory.maxPages ${maxPages}`;
      throw new MemoryLimitError(`${what}, above ${cap}`, memoryBudget, initial);
    }
    edits.push(...shareOut(memories, memoryBudget));
  }
  if (tables.length > 0) {
    const budget = tableElementBudget(maxPages);
    const initial = sum(tables.map((t) => t.limits.min));
    if (initial > budget) {
      const allowed =
        maxPages === undefined
          ? `the ${budget} a module's tables may hold`
          : `the ${budget} memory.maxPages ${maxPages} allows (${TABLE_ELEMENT_BYTES} bytes an element)`;
      throw new MemoryLimitError(`module's tables start with ${initial} elements in all, above ${allowed}`, budget, initial);
    }
    edits.push(...shareOut(tables, budget));
  }
  if (edits.length === 0) return bytes;
  return spliceLimits(bytes, spans, edits);
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/**
 * `budget` shared out among `sites` as maxima: each keeps its initial size, and what is left
 * goes first to those that ask least (a declared maximum), evenly. Returns the sites whose
 * maximum changes, with their new limits.
 */
function shareOut(sites: LimitsAt[], budget: number): LimitsAt[] {
  let left = budget - sum(sites.map((site) => site.limits.min));
  const wants = (site: LimitsAt) => (site.limits.max ?? Number.POSITIVE_INFINITY) - site.limits.min;
  const order = [...sites].sort((a, b) => wants(a) - wants(b));
  const changed: LimitsAt[] = [];
  order.forEach((site, i) => {
    const given = Math.min(wants(site), Math.floor(left / (order.length - i)));
    left -= given;
    const max = site.limits.min + given;
    if (max !== site.limits.max) changed.push({ ...site, limits: { ...site.limits, max } });
  });
  return changed;
}

interface LimitsAt {
  kind: 'memory' | 'table';
  limits: Limits;
  /** Byte range of the encoded limits inside the module. */
  start: number;
  end: number;
}

function readLimitsAt(r: ByteReader, kind: LimitsAt['kind']): LimitsAt {
  const start = r.pos;
  const limits = r.limits();
  return { kind, limits, start, end: r.pos };
}

/** Every memory's and table's limits in `bytes`, imported ones first, in module order. */
export function declaredLimits(bytes: Uint8Array): { kind: 'memory' | 'table'; limits: Limits }[] {
  return findLimits(bytes, sectionSpans(bytes)).map(({ kind, limits }) => ({ kind, limits }));
}

/** Every memory's and table's limits, imported and defined, in module order. */
function findLimits(bytes: Uint8Array, spans: readonly SectionSpan[]): LimitsAt[] {
  const found: LimitsAt[] = [];
  for (const span of spans) {
    const r = new ByteReader(bytes, span.bodyStart, span.end);
    if (span.id === SectionId.import) {
      forEachImport(r, (kind) => {
        if (kind === 1) skipRefType(r);
        else if (kind !== 2) return false;
        found.push(readLimitsAt(r, kind === 1 ? 'table' : 'memory'));
        return true;
      });
    } else if (span.id === SectionId.memory) {
      const count = r.u32();
      for (let i = 0; i < count; i++) found.push(readLimitsAt(r, 'memory'));
    } else if (span.id === SectionId.table) {
      const count = r.u32();
      for (let i = 0; i < count; i++) {
        // 0x40 0x00: a table with an initial value (typed function references), after its limits
        const withInit = bytes[r.pos] === 0x40;
        if (withInit) r.skip(2);
        skipRefType(r);
        found.push(readLimitsAt(r, 'table'));
        if (withInit) skipConstantExpression(r);
      }
    }
  }
  return found;
}

/** `bytes` with each edit's limits written in place of the old, and the sizes of the sections holding them rewritten. */
function spliceLimits(bytes: Uint8Array, spans: readonly SectionSpan[], edits: readonly LimitsAt[]): Uint8Array {
  const sorted = [...edits].sort((a, b) => a.start - b.start);
  const out = new ByteWriter(bytes.length + 16 * edits.length).slice(bytes, 0, spans[0]?.start ?? bytes.length);
  let next = 0;
  for (const span of spans) {
    if (next >= sorted.length || sorted[next]!.start >= span.end) {
      out.slice(bytes, span.start, span.end);
      continue;
    }
    const body = new ByteWriter(span.end - span.bodyStart + 16);
    let from = span.bodyStart;
    while (next < sorted.length && sorted[next]!.start < span.end) {
      const edit = sorted[next++]!;
      body.slice(bytes, from, edit.start).bytes(encodeLimits(edit.limits));
      from = edit.end;
    }
    body.slice(bytes, from, span.end);
    out.section(span.id, body);
  }
  return out.finish();
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
  if (importSpan !== undefined && findLimits(bytes, [importSpan]).some((site) => site.kind === 'memory')) return undefined;

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

function encodeLimits(limits: Limits): Uint8Array {
  const w = new ByteWriter(24);
  w.byte((limits.max !== undefined ? 1 : 0) | (limits.shared ? 2 : 0) | (limits.memory64 ? 4 : 0));
  w.u32(limits.min);
  if (limits.max !== undefined) w.u32(limits.max);
  return w.finish();
}
