// Mutations of real modules for the fuzz test: seeded, so a failure reproduces from its number.

/** A small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Section {
  start: number;
  end: number;
}

/** The sections of a module as byte ranges (id through body), as far as they can be walked. */
function sections(bytes: Uint8Array): Section[] {
  const found: Section[] = [];
  let pos = 8;
  while (pos < bytes.length) {
    const start = pos++;
    let size = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[pos++];
      if (b === undefined) return found;
      size += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) break;
    }
    const end = pos + size;
    if (end > bytes.length) return found;
    found.push({ start, end });
    pos = end;
  }
  return found;
}

/** Where the LEB128 numbers are likeliest: right after section ids, opcodes, counts. Any byte will do. */
function lebAt(bytes: Uint8Array, at: number): { start: number; end: number } {
  let end = at;
  while (end < bytes.length && bytes[end]! >= 0x80 && end - at < 5) end++;
  return { start: at, end: Math.min(end + 1, bytes.length) };
}

export const MUTATIONS = ['flip', 'insert', 'delete', 'truncate', 'shuffle', 'leb', 'overwrite', 'duplicate'] as const;

/** One random mutation of `bytes` (never the 8-byte header, so the bytes stay recognizably wasm). */
export function mutate(bytes: Uint8Array, random: () => number): { kind: string; bytes: Uint8Array } {
  const pick = (n: number): number => Math.floor(random() * n);
  const body = bytes.length - 8;
  const at = 8 + pick(Math.max(1, body));
  const kind = MUTATIONS[pick(MUTATIONS.length)]!;
  const out = (parts: Uint8Array[]): Uint8Array => {
    const total = parts.reduce((n, p) => n + p.length, 0);
    const result = new Uint8Array(total);
    let pos = 0;
    for (const p of parts) {
      result.set(p, pos);
      pos += p.length;
    }
    return result;
  };
  switch (kind) {
    case 'flip': {
      const copy = bytes.slice();
      const flips = 1 + pick(4);
      for (let i = 0; i < flips; i++) copy[8 + pick(Math.max(1, body))]! ^= 1 << pick(8);
      return { kind, bytes: copy };
    }
    case 'insert': {
      const extra = Uint8Array.from({ length: 1 + pick(4) }, () => pick(256));
      return { kind, bytes: out([bytes.subarray(0, at), extra, bytes.subarray(at)]) };
    }
    case 'delete':
      return { kind, bytes: out([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + 1 + pick(8)))]) };
    case 'truncate':
      return { kind, bytes: bytes.slice(0, at) };
    case 'shuffle': {
      const list = sections(bytes);
      if (list.length < 2) return { kind, bytes: bytes.slice() };
      const i = pick(list.length);
      let j = pick(list.length - 1);
      if (j >= i) j++;
      const order = list.map((_, k) => (k === i ? list[j]! : k === j ? list[i]! : list[k]!));
      return { kind, bytes: out([bytes.subarray(0, 8), ...order.map((s) => bytes.subarray(s.start, s.end))]) };
    }
    case 'leb': {
      // A number rewritten: made larger, smaller, zero, or padded to five bytes.
      const { start, end } = lebAt(bytes, at);
      let value = 0;
      for (let k = end - 1; k >= start; k--) value = value * 128 + (bytes[k]! & 0x7f);
      const choice = pick(4);
      const next = choice === 0 ? 0 : choice === 1 ? value + 1 + pick(1000) : choice === 2 ? Math.max(0, value - 1) : value;
      const encoded: number[] = [];
      let v = next >>> 0;
      do {
        let b = v & 0x7f;
        v = Math.floor(v / 128);
        if (v !== 0 || (choice === 3 && encoded.length < 4)) b |= 0x80;
        encoded.push(b);
      } while (v !== 0 || (choice === 3 && encoded.length < 5));
      return { kind, bytes: out([bytes.subarray(0, start), Uint8Array.from(encoded), bytes.subarray(end)]) };
    }
    case 'overwrite': {
      const copy = bytes.slice();
      const n = 1 + pick(16);
      for (let i = 0; i < n && at + i < copy.length; i++) copy[at + i] = pick(256);
      return { kind, bytes: copy };
    }
    default: {
      // a run of bytes duplicated in place
      const n = 1 + pick(32);
      return {
        kind,
        bytes: out([bytes.subarray(0, at + n), bytes.subarray(at, Math.min(bytes.length, at + n)), bytes.subarray(Math.min(bytes.length, at + n))]),
      };
    }
  }
}
