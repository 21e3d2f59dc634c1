// An independent check of a merged module (src/internal/wasm/kernel-merge.ts): from the
// plug-in's module as it was before the merge, where the kernel's memory, types, functions and
// globals sit in the merged one, and whether anything of the plug-in's (its code, constant
// expressions, exports, start, element and data segments, tags) names one of them other than a
// kernel function the plug-in imported. Used by the fuzz loop and the merge tests.
import { InstructionDecoder } from '../../src/internal/wasm/instrument/decode.js';
import { MERGED_KERNEL_MODULE } from '../../src/internal/wasm/kernel-merge.js';
import { ByteReader, readModule, SectionId, sameFuncType, sectionSpans } from '../../src/internal/wasm/reader.js';

const NO_INDEX = 0xffffffff;

interface Layout {
  pluginTypes: number;
  mergedTypes: number;
  mergedFunctions: number;
  pluginMemories: number;
  /** Merged indices of the plug-in's functions end here; the kernel's start here. */
  kernelFunctionBase: number;
  /** Merged indices of the kernel functions the plug-in imported. */
  importedKernelFunctions: Set<number>;
  /** Whether a merged global index is one of the kernel's. */
  kernelGlobal: (index: number) => boolean;
  pluginBodies: number;
}

function countOf(bytes: Uint8Array, id: number): number {
  const span = sectionSpans(bytes).find((s) => s.id === id);
  return span === undefined ? 0 : new ByteReader(bytes, span.bodyStart, span.end).u32();
}

function layoutOf(before: Uint8Array, merged: Uint8Array, kernel: Uint8Array, namespace: string, guestFunctions: readonly string[]): Layout {
  const info = readModule(before);
  const kernelInfo = readModule(kernel);
  const kernelFunctions = new Map(kernelInfo.exports.filter((e) => e.kind === 'function').map((e) => [e.name, e]));
  let importedFunctions = 0;
  let importedGlobals = 0;
  let pluginMemories = 0;
  const importedKernel: number[] = [];
  for (const imp of info.imports) {
    if (imp.kind === 'function') {
      importedFunctions++;
      const provided = imp.module === namespace && guestFunctions.includes(imp.name) ? kernelFunctions.get(imp.name) : undefined;
      if (provided !== undefined && sameFuncType(provided.type!, imp.type)) importedKernel.push(provided.index);
    } else if (imp.kind === 'global') importedGlobals++;
    else if (imp.kind === 'memory') pluginMemories++;
  }
  const definedFunctions = info.functionTypeIndices.length - importedFunctions;
  const kernelFunctionBase = importedFunctions - importedKernel.length + definedFunctions;
  const mergedInfo = readModule(merged);
  const mergedImports = mergedInfo.imports;
  const kernelMutableGlobals = mergedImports.filter((i) => i.kind === 'global' && i.module === MERGED_KERNEL_MODULE).length;
  const definedGlobals = countOf(before, SectionId.global);
  const mergedGlobals = mergedImports.filter((i) => i.kind === 'global').length + countOf(merged, SectionId.global);
  return {
    pluginTypes: info.types.length,
    mergedTypes: mergedInfo.types.length,
    mergedFunctions: mergedInfo.functionTypeIndices.length,
    pluginMemories,
    kernelFunctionBase,
    importedKernelFunctions: new Set(importedKernel.map((k) => kernelFunctionBase + k)),
    kernelGlobal: (g) =>
      (g >= importedGlobals && g < importedGlobals + kernelMutableGlobals) ||
      (g >= importedGlobals + kernelMutableGlobals + definedGlobals && g < mergedGlobals),
    // a module whose code section does not match its function section is invalid as it is
    pluginBodies: countOf(before, SectionId.code) === definedFunctions ? definedFunctions : 0,
  };
}

/** What in `merged` of the plug-in's reaches the kernel other than through its imports; undefined when nothing does. */
export function kernelReach(
  before: Uint8Array,
  merged: Uint8Array,
  kernel: Uint8Array,
  namespace: string,
  guestFunctions: readonly string[],
): string | undefined {
  const layout = layoutOf(before, merged, kernel, namespace, guestFunctions);
  const problems: string[] = [];
  // An index past what the merged module has reaches nothing (the engine rejects it), like the one
  // the merge writes for an index the input did not have.
  const fn = (index: number, where: string) => {
    if (index === NO_INDEX || index >= layout.mergedFunctions) return;
    if (index >= layout.kernelFunctionBase && !layout.importedKernelFunctions.has(index)) problems.push(`${where} names kernel function ${index}`);
  };
  const global = (index: number, where: string) => {
    if (index !== NO_INDEX && layout.kernelGlobal(index)) problems.push(`${where} names kernel global ${index}`);
  };
  const memory = (index: number, where: string) => {
    if (index !== NO_INDEX && index >= layout.pluginMemories) problems.push(`${where} names the kernel's memory (${index})`);
  };
  const type = (index: number, where: string) => {
    if (index >= layout.pluginTypes && index < layout.mergedTypes) problems.push(`${where} names kernel type ${index}`);
  };
  const d = new InstructionDecoder();
  /** A value type at `pos` (typed references name a type); returns the position after it. */
  const valueType = (bytes: Uint8Array, pos: number, where: string): number => {
    const first = bytes[pos]!;
    if (first !== 0x63 && first !== 0x64) return pos + 1;
    const heap = d.readSleb(bytes, pos + 1);
    if (heap >= 0) type(heap, where);
    return d.lebEnd;
  };
  const memarg = (bytes: Uint8Array, pos: number, where: string) => {
    const align = d.readLeb(bytes, pos);
    memory(align & 0x40 ? d.readLeb(bytes, d.lebEnd) : 0, where);
  };
  /** Checks the instructions in [pos, end); a constant expression stops at its `end`. */
  const code = (bytes: Uint8Array, pos: number, end: number, where: string, constant: boolean): number => {
    let depth = 0;
    while (pos < end) {
      const at = pos;
      const next = d.decode(bytes, pos, end);
      const op = d.op;
      if (op === 0x0b && constant && depth-- === 0) return next;
      if (op === 0x02 || op === 0x03 || op === 0x04 || op === 0x06 || op === 0x1f) {
        depth++;
        const first = bytes[d.immAt]!;
        if (first === 0x63 || first === 0x64) valueType(bytes, d.immAt, where);
        else if (first < 0x40 || first >= 0x80) type(d.readSleb(bytes, d.immAt), where);
      } else if (op === 0x10 || op === 0x12 || op === 0xd2) fn(d.imm, where);
      else if (op === 0x23 || op === 0x24) global(d.imm, where);
      else if (op === 0x11 || op === 0x13 || op === 0x14 || op === 0x15) type(d.imm, where);
      else if (op === 0xd0) {
        const heap = d.readSleb(bytes, d.immAt);
        if (heap >= 0) type(heap, where);
      } else if (op === 0x1c) {
        let p = d.readLeb(bytes, d.immAt) > 0 ? d.lebEnd : next;
        while (p < next) p = valueType(bytes, p, where);
      } else if (op === 0x3f || op === 0x40) memory(d.imm, where);
      else if (op >= 0x28 && op <= 0x3e) memarg(bytes, d.immAt, where);
      else if (op === 0xfc) {
        const sub = d.readLeb(bytes, at + 1);
        let p = d.lebEnd;
        if (sub === 8) {
          d.readLeb(bytes, p); // the data segment
          p = d.lebEnd;
        }
        if (sub === 8 || sub === 10 || sub === 11) {
          while (p < next) {
            memory(d.readLeb(bytes, p), where);
            p = d.lebEnd;
          }
        }
      } else if (op === 0xfd || op === 0xfe) {
        const sub = d.readLeb(bytes, at + 1);
        const p = d.lebEnd;
        if (op === 0xfd ? sub <= 11 || sub === 92 || sub === 93 || (sub >= 84 && sub <= 91) : sub !== 3) memarg(bytes, p, where);
      }
      pos = next;
    }
    return pos;
  };

  for (const span of sectionSpans(merged)) {
    const r = new ByteReader(merged, span.bodyStart, span.end);
    switch (span.id) {
      case SectionId.code: {
        const count = r.u32();
        for (let i = 0; i < Math.min(count, layout.pluginBodies); i++) {
          const size = r.u32();
          const end = r.pos + size;
          const where = `body ${i}`;
          const groups = r.u32();
          let p = r.pos;
          for (let g = 0; g < groups; g++) {
            d.readLeb(merged, p);
            p = valueType(merged, d.lebEnd, `${where} locals`);
          }
          code(merged, p, end, where, false);
          r.pos = end;
        }
        break;
      }
      case SectionId.global: {
        const count = countOf(before, SectionId.global);
        r.u32();
        for (let i = 0; i < count; i++) {
          r.pos = valueType(merged, r.pos, `global ${i}`) + 1;
          r.pos = code(merged, r.pos, r.end, `global ${i}`, true);
        }
        break;
      }
      case SectionId.export: {
        for (const exp of readModule(merged).exports) {
          if (exp.kind === 'function') fn(exp.index, `export ${exp.name}`);
          if (exp.kind === 'global') global(exp.index, `export ${exp.name}`);
          if (exp.kind === 'memory') memory(exp.index, `export ${exp.name}`);
        }
        break;
      }
      case SectionId.start:
        fn(r.u32(), 'start');
        break;
      case SectionId.element: {
        const count = r.u32();
        for (let i = 0; i < count; i++) {
          const where = `element segment ${i}`;
          const flags = r.u32();
          if (flags === 2 || flags === 6) r.u32();
          if ((flags & 1) === 0) r.pos = code(merged, r.pos, r.end, where, true);
          if (flags & 3) r.pos = flags & 4 ? valueType(merged, r.pos, where) : r.pos + 1;
          const n = r.u32();
          for (let j = 0; j < n; j++) {
            if (flags & 4) r.pos = code(merged, r.pos, r.end, where, true);
            else fn(r.u32(), where);
          }
        }
        break;
      }
      case SectionId.data: {
        const count = r.u32();
        for (let i = 0; i < count; i++) {
          const where = `data segment ${i}`;
          const flags = r.u32();
          if (flags !== 1) memory(flags === 2 ? r.u32() : 0, where);
          if (flags !== 1) r.pos = code(merged, r.pos, r.end, where, true);
          r.skip(r.u32());
        }
        break;
      }
      case SectionId.tag: {
        const count = r.u32();
        for (let i = 0; i < count; i++) {
          r.u8();
          type(r.u32(), `tag ${i}`);
        }
        break;
      }
    }
  }
  return problems.length === 0 ? undefined : problems.join('; ');
}
