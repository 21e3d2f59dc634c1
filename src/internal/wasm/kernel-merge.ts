/**
 * Merges the kernel (kernel/kernel.wat) into a plug-in's module, for engines with
 * multi-memory: the plug-in's imports of kernel functions become calls of local copies of
 * them, which the engine can inline, instead of calls into another instance.
 *
 * The merged module:
 * - drops each replaced import (`namespace.name` of a kernel guest function, same type) and
 *   calls the kernel's function instead; every function index is renumbered (code, elements,
 *   exports, start, constant expressions, names);
 * - appends the kernel's types, functions and immutable globals;
 * - imports the kernel's memory and its mutable globals from {@link MERGED_KERNEL_MODULE}, as
 *   the kernel instance exports them (`memory`, `global:<name>`): the host keeps driving that
 *   instance, and the merged code and the instance share every byte and every bit of state;
 * - memory indices in the kernel's code point at the kernel memory, imported after the
 *   plug-in's own memories.
 *
 * Only a module whose memories are all imported is merged (the loader made the usual one
 * memory an import): a defined memory would come after the imported kernel memory in the index
 * space, and every access of the plug-in would have to be renumbered.
 */
import { ByteWriter, writeSections } from './encoder.js';
import { InstructionDecoder } from './instrument/decode.js';
import { Op, OpFC, TypeCode } from './opcodes.js';
import { ByteReader, type FuncType, readModule, SectionId, type SectionSpan, sameFuncType, sectionSpans, skipLimits, skipRefType } from './reader.js';

/** The import module of the kernel memory and globals in a merged module. */
export const MERGED_KERNEL_MODULE = 'plughost:kernel';
/** The name the kernel exports (and a merged module imports) its memory under. */
export const KERNEL_MEMORY_EXPORT = 'memory';
const GLOBAL_EXPORT_PREFIX = 'global:';

export interface MergedModule {
  bytes: Uint8Array;
  /** What the merged module imports from {@link MERGED_KERNEL_MODULE}: kernel export names, memory first. */
  kernelImports: string[];
}

/** What the merge needs of the kernel, read once per kernel. */
interface KernelParts {
  bytes: Uint8Array;
  /** The type section's entries, encoded, without their count. */
  typeEntries: Uint8Array;
  typeCount: number;
  /** Type index of each function (the kernel imports none). */
  functionTypes: number[];
  /** Each global: its encoded type (value type + mutability) and init expression, or its export name when mutable. */
  globals: { mutable: boolean; encoded: Uint8Array; exportName: string | undefined }[];
  /** Exported functions by name, with their types. */
  functions: Map<string, { index: number; type: FuncType }>;
  /** Each function body: [start, end) of its locals and code. */
  bodies: { start: number; end: number }[];
}

const kernelParts = new WeakMap<Uint8Array, KernelParts>();

function readKernel(bytes: Uint8Array): KernelParts {
  let parts = kernelParts.get(bytes);
  if (parts !== undefined) return parts;
  const info = readModule(bytes);
  if (info.imports.length > 0) throw new Error('the kernel must import nothing to be merged');
  const spans = sectionSpans(bytes);
  const body = (id: number): ByteReader | undefined => {
    const span = spans.find((s) => s.id === id);
    return span === undefined ? undefined : new ByteReader(bytes, span.bodyStart, span.end);
  };
  for (const span of spans) {
    if (
      span.id === SectionId.table ||
      span.id === SectionId.element ||
      span.id === SectionId.data ||
      span.id === SectionId.start ||
      span.id === SectionId.tag
    ) {
      throw new Error(`the kernel has a section (${span.id}) the merge does not carry over`);
    }
  }
  const types = body(SectionId.type)!;
  const typeCount = types.u32();
  const typeEntries = bytes.slice(types.pos, types.end);

  const globalNames = new Map<number, string>();
  const functions = new Map<string, { index: number; type: FuncType }>();
  for (const exp of info.exports) {
    if (exp.kind === 'global') globalNames.set(exp.index, exp.name);
    if (exp.kind === 'function') functions.set(exp.name, { index: exp.index, type: exp.type! });
  }
  const globals: KernelParts['globals'] = [];
  const g = body(SectionId.global);
  const globalCount = g ? g.u32() : 0;
  for (let i = 0; i < globalCount; i++) {
    const start = g!.pos;
    skipRefType(g!);
    const mutable = g!.u8() === 1;
    g!.pos = walkExpression(bytes, g!.pos, g!.end, undefined, IDENTITY);
    const exportName = globalNames.get(i);
    if (mutable && !exportName?.startsWith(GLOBAL_EXPORT_PREFIX))
      throw new Error(`kernel global ${i} is mutable but not exported as ${GLOBAL_EXPORT_PREFIX}<name>`);
    globals.push({ mutable, encoded: bytes.slice(start, g!.pos), exportName });
  }
  const code = body(SectionId.code)!;
  const bodies: KernelParts['bodies'] = [];
  const count = code.u32();
  for (let i = 0; i < count; i++) {
    const size = code.u32();
    bodies.push({ start: code.pos, end: code.pos + size });
    code.pos += size;
  }
  parts = { bytes, typeEntries, typeCount, functionTypes: info.functionTypeIndices, globals, functions, bodies };
  kernelParts.set(bytes, parts);
  return parts;
}

/** How the indices of one input (the plug-in or the kernel) move into the merged module; a replaced import moves to its kernel function. */
interface IndexMaps {
  func: (index: number) => number;
  global: (index: number) => number;
  /** Memory indices (throws for one the code must not name). */
  memory: (index: number) => number;
  /** Checks a type index in code (block types, indirect calls, ref.null): none moves, but the kernel's types come after the plug-in's. Throws for one the code must not name. */
  type: (index: number) => void;
}

const same = (index: number) => index;
const IDENTITY: IndexMaps = { func: same, global: same, memory: same, type: same };

/**
 * Copies the instructions at [pos, end) to `w` with their indices moved by `maps`; with
 * `end` the end of a body, the whole body; otherwise up to the `end` closing a constant
 * expression. Returns the position after what it copied.
 */
function walkExpression(bytes: Uint8Array, pos: number, end: number, w: ByteWriter | undefined, maps: IndexMaps, wholeBody = false): number {
  const d = new InstructionDecoder();
  let copyFrom = pos;
  let depth = 0;
  const replace: Replace = (from, to, write) => {
    if (w === undefined) return;
    w.slice(bytes, copyFrom, from);
    write(w);
    copyFrom = to;
  };
  /** The current instruction's index immediate (it runs to `next`), moved by `map`. */
  const moveImmediate = (map: (index: number) => number, next: number): void => {
    const index = map(d.imm);
    if (index !== d.imm) replace(d.immAt, next, (out) => out.u32(index));
  };
  while (pos < end) {
    const at = pos;
    const next = d.decode(bytes, pos, end);
    switch (d.op) {
      case Op.end:
        if (!wholeBody && depth-- === 0) {
          w?.slice(bytes, copyFrom, next);
          return next;
        }
        break;
      case Op.block:
      case Op.loop:
      case Op.if:
      case Op.try:
      case Op.tryTable: {
        depth++;
        const first = bytes[d.immAt]!;
        if (first === TypeCode.refNull || first === TypeCode.ref) heapType(bytes, d, d.immAt + 1, maps);
        else if (!(first >= 0x40 && first < 0x80)) maps.type(d.readSleb(bytes, d.immAt));
        break;
      }
      case Op.call:
      case Op.returnCall:
      case Op.refFunc:
        moveImmediate(maps.func, next);
        break;
      case Op.globalGet:
      case Op.globalSet:
        moveImmediate(maps.global, next);
        break;
      case Op.callIndirect:
      case Op.returnCallIndirect:
      case Op.callRef:
      case Op.returnCallRef:
        maps.type(d.imm);
        break;
      case Op.refNull:
        heapType(bytes, d, d.immAt, maps);
        break;
      case Op.selectTyped: {
        // select with its result types: typed references name types
        let at = d.immAt;
        const count = d.readLeb(bytes, at);
        at = d.lebEnd;
        for (let i = 0; i < count && at < next; i++) {
          const b = bytes[at++]!;
          if (b === TypeCode.refNull || b === TypeCode.ref) {
            heapType(bytes, d, at, maps);
            at = d.lebEnd;
          }
        }
        break;
      }
      case Op.memorySize:
      case Op.memoryGrow:
        moveImmediate(maps.memory, next);
        break;
      case Op.prefixFC:
        memoryInstruction(bytes, d, at, next, maps.memory, replace);
        break;
      case Op.prefixFD:
      case Op.prefixFE: {
        const sub = d.readLeb(bytes, at + 1);
        const vector = d.op === Op.prefixFD;
        // SIMD loads, stores, load_zero and lane loads/stores; every atomic but the fence
        if (vector ? sub <= 11 || sub === 92 || sub === 93 || (sub >= 84 && sub <= 91) : sub !== 3) memarg(bytes, d, d.lebEnd, maps.memory, replace);
        break;
      }
      default:
        if (d.op >= Op.i32Load && d.op <= Op.i64Store32) memarg(bytes, d, d.immAt, maps.memory, replace);
    }
    pos = next;
  }
  if (!wholeBody) throw new Error('a constant expression runs past its end');
  w?.slice(bytes, copyFrom, pos);
  return pos;
}

/** Checks the heap type at `pos` (negative: an abstract one such as `func`; otherwise a type index); leaves its end in `d.lebEnd`. */
function heapType(bytes: Uint8Array, d: InstructionDecoder, pos: number, maps: IndexMaps): void {
  const heap = d.readSleb(bytes, pos);
  if (heap >= 0 || Number.isNaN(heap)) maps.type(Number.isNaN(heap) ? Number.MAX_SAFE_INTEGER : heap);
}

type Replace = (from: number, to: number, write: (w: ByteWriter) => void) => void;

/** The memory argument at `pos` with its memory index moved; the explicit-index form is written only when it changes. */
function memarg(bytes: Uint8Array, d: InstructionDecoder, pos: number, memory: (index: number) => number, replace: Replace): void {
  const align = d.readLeb(bytes, pos);
  let offsetAt = d.lebEnd;
  let index = 0;
  if (align & 0x40) {
    index = d.readLeb(bytes, offsetAt);
    offsetAt = d.lebEnd;
  }
  const moved = memory(index);
  if (moved !== index) replace(pos, offsetAt, (out) => out.u32(align | 0x40).u32(moved));
}

/** memory.init/copy/fill (0xfc 8, 10, 11) with their memory indices moved; the rest of 0xfc names no memory. */
function memoryInstruction(bytes: Uint8Array, d: InstructionDecoder, at: number, next: number, memory: (index: number) => number, replace: Replace): void {
  const sub = d.readLeb(bytes, at + 1);
  if (sub !== OpFC.memoryInit && sub !== OpFC.memoryCopy && sub !== OpFC.memoryFill) return;
  let pos = d.lebEnd;
  if (sub === OpFC.memoryInit) {
    d.readLeb(bytes, pos); // the data segment
    pos = d.lebEnd;
  }
  const immediates = pos;
  const indices: number[] = [];
  let changed = false;
  while (pos < next) {
    const index = d.readLeb(bytes, pos);
    pos = d.lebEnd;
    const moved = memory(index);
    changed ||= moved !== index;
    indices.push(moved);
  }
  if (changed)
    replace(immediates, next, (out) => {
      for (const index of indices) out.u32(index);
    });
}

/**
 * Skips the value type at `r`, checking the type a typed reference `(ref null? $t)` names: a
 * type index past the plug-in's would be one of the kernel's once merged.
 */
function valueType(r: ByteReader, maps: IndexMaps): void {
  const b = r.u8();
  if (b !== TypeCode.refNull && b !== TypeCode.ref) return;
  const heap = new InstructionDecoder().readSleb(r.bytes, r.pos);
  r.skipLeb();
  if (heap >= 0) maps.type(heap);
}

/** An index no module has: what an index that was out of range in the input becomes, so the merged module fails validation as the input would. */
const OUT_OF_RANGE = 0xffffffff;

/**
 * The plug-in module `plugin` with the kernel `kernelBytes` merged in (see the file comment);
 * undefined when there is nothing to merge (it imports no kernel function of `namespace` with
 * the kernel's type) or it cannot be merged (it defines a memory). Throws a WasmFormatError on
 * a malformed module and a plain Error on a construct the merge does not carry (GC types).
 */
export function mergeKernel(plugin: Uint8Array, kernelBytes: Uint8Array, namespace: string, guestFunctions: readonly string[]): MergedModule | undefined {
  const kernel = readKernel(kernelBytes);
  const info = readModule(plugin);
  if (info.memories.length > 0) return undefined;
  let importedFunctions = 0;
  let importedGlobals = 0;
  let importedMemories = 0;
  /** imported function index → the kernel function that replaces it */
  const replacedBy = new Map<number, number>();
  for (const imp of info.imports) {
    if (imp.kind === 'function') {
      const provided = imp.module === namespace && guestFunctions.includes(imp.name) ? kernel.functions.get(imp.name) : undefined;
      if (provided !== undefined && sameFuncType(provided.type, imp.type)) replacedBy.set(importedFunctions, provided.index);
      importedFunctions++;
    } else if (imp.kind === 'global') importedGlobals++;
    else if (imp.kind === 'memory') importedMemories++;
  }
  if (replacedBy.size === 0) return undefined;

  const spans = sectionSpans(plugin);
  const definedFunctions = info.functionTypeIndices.length - importedFunctions;
  const globalSpan = spans.find((s) => s.id === SectionId.global);
  const definedGlobals = globalSpan === undefined ? 0 : new ByteReader(plugin, globalSpan.bodyStart, globalSpan.end).u32();
  const mutableKernelGlobals = kernel.globals.filter((g) => g.mutable);
  const kernelGlobalCount = mutableKernelGlobals.length;

  const keptImports = importedFunctions - replacedBy.size;
  const kernelBase = keptImports + definedFunctions;
  const funcMap = new Array<number>(importedFunctions + definedFunctions);
  let kept = 0;
  for (let i = 0; i < importedFunctions; i++) {
    const by = replacedBy.get(i);
    funcMap[i] = by === undefined ? kept++ : kernelBase + by;
  }
  for (let d = 0; d < definedFunctions; d++) funcMap[importedFunctions + d] = keptImports + d;

  const pluginMaps: IndexMaps = {
    func: (i) => funcMap[i] ?? OUT_OF_RANGE,
    global: (i) => (i < importedGlobals ? i : i < importedGlobals + definedGlobals ? i + kernelGlobalCount : OUT_OF_RANGE),
    // The kernel memory comes right after the plug-in's: an index the plug-in's module could
    // not use (it has no such memory) must not become a way into the kernel's.
    memory: (i) => {
      if (i >= importedMemories) throw new Error(`the module names memory ${i}, which it does not have`);
      return i;
    },
    // likewise for a type the plug-in's module does not have: it would be one of the kernel's
    type: (i) => {
      if (i >= info.types.length) throw new Error(`the module names type ${i}, which it does not have`);
    },
  };
  const kernelGlobalMap: number[] = [];
  let mutableSeen = 0;
  let immutableSeen = 0;
  for (const g of kernel.globals) {
    kernelGlobalMap.push(g.mutable ? importedGlobals + mutableSeen++ : importedGlobals + kernelGlobalCount + definedGlobals + immutableSeen++);
  }
  const typeBase = info.types.length;
  const kernelMaps: IndexMaps = {
    func: (i) => (i < kernel.functionTypes.length ? kernelBase + i : OUT_OF_RANGE),
    global: (i) => kernelGlobalMap[i] ?? OUT_OF_RANGE,
    memory: (i) => (i === 0 ? importedMemories : OUT_OF_RANGE),
    type: () => {
      throw new Error('the kernel names a type in its code: the merge does not renumber those');
    },
  };

  const kernelImports = [KERNEL_MEMORY_EXPORT, ...mutableKernelGlobals.map((g) => g.exportName!)];
  const sections = new MergeSections(plugin, kernel, pluginMaps, kernelMaps, replacedBy, mutableKernelGlobals, typeBase);
  const out = new ByteWriter(plugin.length + kernelBytes.length + 256).slice(plugin, 0, 8);
  writeSections(out, plugin, spans, [SectionId.function, SectionId.global, SectionId.code], {
    section: (id, span) => sections.section(id, span),
    custom: (span) => sections.custom(span),
  });
  return { bytes: out.finish().slice(), kernelImports };
}

/** Writes each section of the merged module. */
class MergeSections {
  constructor(
    private readonly bytes: Uint8Array,
    private readonly kernel: KernelParts,
    private readonly maps: IndexMaps,
    private readonly kernelMaps: IndexMaps,
    private readonly replacedBy: Map<number, number>,
    private readonly importedGlobals: KernelParts['globals'],
    private readonly typeBase: number,
  ) {}

  section(id: number, span: SectionSpan | undefined): Uint8Array {
    const bytes = this.bytes;
    const r = span ? new ByteReader(bytes, span.bodyStart, span.end) : undefined;
    const count = r ? r.u32() : 0;
    const w = new ByteWriter(r ? r.end - r.pos + 64 : 64);
    switch (id) {
      case SectionId.type:
        return w
          .u32(count + this.kernel.typeCount)
          .slice(bytes, r!.pos, r!.end)
          .bytes(this.kernel.typeEntries)
          .finish();
      case SectionId.import:
        return this.imports(r!, count, w);
      case SectionId.function: {
        w.u32(count + this.kernel.functionTypes.length);
        if (r) w.slice(bytes, r.pos, r.end);
        for (const type of this.kernel.functionTypes) w.u32(this.typeBase + type);
        return w.finish();
      }
      case SectionId.table: {
        w.u32(count);
        for (let i = 0; i < count; i++) {
          const start = r!.pos;
          const withInit = bytes[r!.pos] === 0x40;
          if (withInit) r!.skip(2);
          valueType(r!, this.maps);
          skipLimits(r!);
          w.slice(bytes, start, r!.pos);
          if (withInit) r!.pos = walkExpression(bytes, r!.pos, r!.end, w, this.maps);
        }
        return this.done(r!, w);
      }
      case SectionId.global: {
        const immutable = this.kernel.globals.filter((g) => !g.mutable);
        w.u32(count + immutable.length);
        for (let i = 0; i < count; i++) {
          const start = r!.pos;
          valueType(r!, this.maps);
          r!.u8();
          w.slice(bytes, start, r!.pos);
          r!.pos = walkExpression(bytes, r!.pos, r!.end, w, this.maps);
        }
        if (r) this.done(r, w);
        for (const g of immutable) {
          const gr = new ByteReader(g.encoded);
          skipRefType(gr);
          gr.u8();
          w.slice(g.encoded, 0, gr.pos);
          walkExpression(g.encoded, gr.pos, g.encoded.length, w, this.kernelMaps);
        }
        return w.finish();
      }
      case SectionId.export: {
        w.u32(count);
        for (let i = 0; i < count; i++) {
          const start = r!.pos;
          r!.skip(r!.u32());
          const kind = r!.u8();
          w.slice(bytes, start, r!.pos);
          const index = r!.u32();
          w.u32(kind === 0 ? this.maps.func(index) : kind === 3 ? this.maps.global(index) : kind === 2 ? this.maps.memory(index) : index);
        }
        return this.done(r!, w);
      }
      case SectionId.start:
        return new ByteWriter(8).u32(this.maps.func(count)).finish();
      case SectionId.element:
        return this.elements(r!, count, w);
      case SectionId.tag: {
        w.u32(count);
        for (let i = 0; i < count; i++) {
          const start = r!.pos;
          r!.u8();
          this.maps.type(r!.u32());
          w.slice(bytes, start, r!.pos);
        }
        return this.done(r!, w);
      }
      case SectionId.code:
        return this.code(r, count, w);
      case SectionId.data: {
        w.u32(count);
        for (let i = 0; i < count; i++) {
          const at = r!.pos;
          const flags = r!.u32();
          if (flags > 2) r!.fail(`unknown data segment flags ${flags}`, at);
          w.u32(flags);
          const start = r!.pos;
          // an active segment without an index writes memory 0, which is the kernel's in a module without memories
          if (flags !== 1) this.maps.memory(flags === 2 ? r!.u32() : 0);
          w.slice(bytes, start, r!.pos);
          if (flags !== 1) r!.pos = walkExpression(bytes, r!.pos, r!.end, w, this.maps);
          const dataStart = r!.pos;
          r!.skip(r!.u32());
          w.slice(bytes, dataStart, r!.pos);
        }
        return this.done(r!, w);
      }
      default:
        return bytes.subarray(span!.bodyStart, span!.end);
    }
  }

  private done(r: ByteReader, w: ByteWriter): Uint8Array {
    if (r.pos !== r.end) r.fail('trailing bytes in a section');
    return w.finish();
  }

  private imports(r: ByteReader, count: number, w: ByteWriter): Uint8Array {
    const bytes = this.bytes;
    const added = this.importedGlobals;
    w.u32(count - this.replacedBy.size + 1 + added.length);
    let functionIndex = 0;
    for (let i = 0; i < count; i++) {
      const start = r.pos;
      r.skip(r.u32());
      r.skip(r.u32());
      const kind = r.u8();
      switch (kind) {
        case 0:
          r.u32();
          break;
        case 1:
          skipRefType(r);
          skipLimits(r);
          break;
        case 2:
          skipLimits(r);
          break;
        case 3:
          skipRefType(r);
          r.u8();
          break;
        case 4:
          r.u8();
          this.maps.type(r.u32());
          break;
        default:
          r.fail(`unknown import kind ${kind}`, r.pos - 1);
      }
      if (kind === 0 && this.replacedBy.has(functionIndex++)) continue;
      w.slice(bytes, start, r.pos);
    }
    this.done(r, w);
    // the kernel memory: no declared maximum, the kernel caps its own growth
    w.name(MERGED_KERNEL_MODULE).name(KERNEL_MEMORY_EXPORT).byte(2).byte(0).u32(0);
    for (const g of added) {
      const gr = new ByteReader(g.encoded);
      skipRefType(gr);
      gr.u8();
      w.name(MERGED_KERNEL_MODULE).name(g.exportName!).byte(3).slice(g.encoded, 0, gr.pos);
    }
    return w.finish();
  }

  private elements(r: ByteReader, count: number, w: ByteWriter): Uint8Array {
    const bytes = this.bytes;
    w.u32(count);
    for (let i = 0; i < count; i++) {
      const at = r.pos;
      const flags = r.u32();
      if (flags > 7) r.fail(`unknown element segment flags ${flags}`, at);
      w.u32(flags);
      const start = r.pos;
      if (flags === 2 || flags === 6) r.u32(); // table index
      w.slice(bytes, start, r.pos);
      if ((flags & 1) === 0) r.pos = walkExpression(bytes, r.pos, r.end, w, this.maps);
      const kindStart = r.pos;
      if (flags & 3) {
        if (flags & 4) valueType(r, this.maps);
        else r.u8();
      }
      w.slice(bytes, kindStart, r.pos);
      const n = r.u32();
      w.u32(n);
      for (let j = 0; j < n; j++) {
        if (flags & 4) r.pos = walkExpression(bytes, r.pos, r.end, w, this.maps);
        else w.u32(this.maps.func(r.u32()));
      }
    }
    return this.done(r, w);
  }

  private code(r: ByteReader | undefined, count: number, w: ByteWriter): Uint8Array {
    const kernel = this.kernel;
    w.u32(count + kernel.bodies.length);
    const scratch = new ByteWriter(1 << 12);
    const body = (bytes: Uint8Array, start: number, end: number, maps: IndexMaps) => {
      scratch.reset();
      const lr = new ByteReader(bytes, start, end);
      const groups = lr.u32();
      for (let g = 0; g < groups; g++) {
        lr.u32();
        valueType(lr, maps);
      }
      scratch.slice(bytes, start, lr.pos);
      walkExpression(bytes, lr.pos, end, scratch, maps, true);
      w.u32(scratch.length).bytes(scratch.finish());
    };
    for (let i = 0; i < count; i++) {
      const size = r!.u32();
      const start = r!.pos;
      if (start + size > r!.end) r!.fail('a function body runs past the code section');
      body(this.bytes, start, start + size, this.maps);
      r!.pos = start + size;
    }
    if (r) this.done(r, w);
    for (const { start, end } of kernel.bodies) body(kernel.bytes, start, end, this.kernelMaps);
    return w.finish();
  }

  /** A custom section as it goes into the merged module; undefined to drop it. */
  custom(span: SectionSpan): Uint8Array | undefined {
    const bytes = this.bytes;
    const r = new ByteReader(bytes, span.bodyStart, span.end);
    const name = r.name();
    // DWARF and code metadata address code by byte offset, which the merge moves.
    if (name.startsWith('.debug_') || name.startsWith('metadata.code.')) return undefined;
    if (name !== 'name') return bytes.subarray(span.bodyStart, span.end);
    try {
      const w = new ByteWriter(span.end - span.bodyStart + 16).slice(bytes, span.bodyStart, r.pos);
      this.names(r, w);
      return w.finish();
    } catch {
      // A name section is only for debuggers; a wrong one is worse than none.
      return undefined;
    }
  }

  /** The name section with function (1, 2, 3: keyed by function) and global (7) names renumbered; a replaced import's names go. */
  private names(r: ByteReader, w: ByteWriter): void {
    const bytes = this.bytes;
    while (r.pos < r.end) {
      const kind = r.u8();
      const size = r.u32();
      const end = r.pos + size;
      if (end > r.end) r.fail('name subsection runs past its section');
      const byFunction = kind >= 1 && kind <= 3;
      if (!byFunction && kind !== 7) {
        w.byte(kind).u32(size).slice(bytes, r.pos, end);
        r.pos = end;
        continue;
      }
      const sub = new ByteReader(bytes, r.pos, end);
      const entries = new ByteWriter(size + 8);
      const count = sub.u32();
      let written = 0;
      for (let i = 0; i < count; i++) {
        const index = sub.u32();
        const start = sub.pos;
        if (kind === 1 || kind === 7) sub.skip(sub.u32());
        else {
          const inner = sub.u32();
          for (let j = 0; j < inner; j++) {
            sub.u32();
            sub.skip(sub.u32());
          }
        }
        if (byFunction && this.isReplaced(index)) continue;
        entries.u32(byFunction ? this.maps.func(index) : this.maps.global(index)).slice(bytes, start, sub.pos);
        written++;
      }
      if (sub.pos !== end) sub.fail('trailing bytes in a name subsection');
      const body = new ByteWriter(entries.length + 5).u32(written).bytes(entries.finish()).finish();
      w.byte(kind).u32(body.length).bytes(body);
      r.pos = end;
    }
  }

  private isReplaced(functionIndex: number): boolean {
    return this.replacedBy.has(functionIndex);
  }
}
