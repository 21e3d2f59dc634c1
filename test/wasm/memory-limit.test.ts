import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryLimitError } from '../../src/errors.js';
import {
  capLimits,
  declaredLimits,
  importOwnMemory,
  MAX_TABLE_ELEMENTS,
  TABLE_ELEMENT_BYTES,
  tableElementBudget,
} from '../../src/internal/wasm/memory-limit.js';
import { type Limits, readModule } from '../../src/internal/wasm/reader.js';
import { assemble } from '../helpers.js';
import { wasm } from './engine.js';

function memory0(bytes: Uint8Array): Limits {
  const info = readModule(bytes);
  const imported = info.imports.find((i) => i.kind === 'memory');
  return imported?.kind === 'memory' ? imported.limits : info.memories[0]!;
}

// Enough of everything around the memory that a wrong splice would show up.
const imports = '(type (func (param i32) (result i32))) (import "env" "f" (func (param i32) (result i32)))';
const around = `
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size))
  (data (i32.const 0) "hello")`;

describe('capLimits', () => {
  const cases: { name: string; memory: string; cap: number; expected?: { min: number; max: number } }[] = [
    { name: 'adds a maximum to a defined memory without one', memory: '(memory 1)', cap: 4, expected: { min: 1, max: 4 } },
    { name: 'lowers a defined maximum above the cap', memory: '(memory 2 1000)', cap: 3, expected: { min: 2, max: 3 } },
    { name: 'leaves a defined maximum below the cap', memory: '(memory 1 2)', cap: 3 },
    { name: 'leaves a maximum equal to the cap', memory: '(memory 1 3)', cap: 3 },
    { name: 'adds a maximum to an imported memory', memory: '(import "env" "memory" (memory 1))', cap: 5, expected: { min: 1, max: 5 } },
    { name: 'lowers an imported maximum', memory: '(import "env" "memory" (memory 1 65536))', cap: 200, expected: { min: 1, max: 200 } },
    { name: 'accepts a cap equal to the initial size', memory: '(memory 7)', cap: 7, expected: { min: 7, max: 7 } },
    { name: 'encodes a multi-byte maximum', memory: '(memory 1)', cap: 40000, expected: { min: 1, max: 40000 } },
  ];
  for (const { name, memory, cap, expected } of cases) {
    it(name, async () => {
      const bytes = await assemble(`(module ${imports} ${memory} ${around})`);
      const capped = capLimits(bytes, cap);
      if (!expected) {
        assert.equal(capped, bytes);
        return;
      }
      assert.notEqual(capped, bytes);
      assert.ok(wasm.validate(capped));
      assert.deepEqual(memory0(capped), { ...memory0(bytes), ...expected });
      const before = readModule(bytes);
      const after = readModule(capped);
      assert.deepEqual(after.exports, before.exports);
      assert.deepEqual(
        after.imports.filter((i) => i.kind !== 'memory'),
        before.imports.filter((i) => i.kind !== 'memory'),
      );
    });
  }

  it('makes memory.grow fail past the cap', async () => {
    const capped = capLimits(await assemble(`(module ${imports} (memory 1) ${around})`), 3);
    const { instance } = await wasm.instantiate(capped, { env: { f: (x: number) => x } });
    const grow = instance.exports.grow as (n: number) => number;
    assert.equal(grow(2), 1);
    assert.equal(grow(1), -1);
    assert.equal((instance.exports.size as () => number)(), 3);
  });

  it('throws a MemoryLimitError when the initial memory is above the cap', async () => {
    const bytes = await assemble('(module (memory 17))');
    assert.throws(
      () => capLimits(bytes, 16),
      (err: unknown) => {
        assert.ok(err instanceof MemoryLimitError);
        assert.equal(err.code, 'PLUGHOST_MEMORY_LIMIT');
        assert.equal(err.limit, 16);
        assert.equal(err.requested, 17);
        assert.equal(err.message, "module's initial memory is 17 pages, above memory.maxPages 16");
        return true;
      },
    );
  });

  it('returns a module without memory unchanged', async () => {
    const bytes = await assemble('(module (func (export "f")))');
    assert.equal(capLimits(bytes, 1), bytes);
  });

  it('keeps the shared flag of a shared memory', () => {
    // (memory 1 10 shared): flags 3; wabt's helper does not enable threads, so by hand.
    const bytes = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 4, 1, 3, 1, 10]);
    const capped = capLimits(bytes, 4);
    assert.deepEqual(memory0(capped), { min: 1, max: 4, shared: true, memory64: false });
  });

  it('rejects a negative or fractional cap', async () => {
    const bytes = await assemble('(module (memory 1))');
    assert.throws(() => capLimits(bytes, -1), RangeError);
    assert.throws(() => capLimits(bytes, 1.5), RangeError);
  });
});

describe('capLimits: several memories, and tables', () => {
  /** Maxima of the memories, then of the tables, each in module order (imported ones first). */
  const maxima = (bytes: Uint8Array, kind: 'memory' | 'table') => declaredLimits(bytes).flatMap((site) => (site.kind === kind ? [site.limits.max] : []));

  it('shares maxPages out among several memories (multi-memory): each gets its initial size and a share of the rest', async () => {
    const bytes = await assemble('(module (import "env" "m" (memory 1)) (memory 2 3) (memory 1))', { multiMemory: true });
    const capped = capLimits(bytes, 16);
    // 16 - 4 initial = 12 left: the memory that wants 1 more keeps its max 3; the others share
    // the 11 left, 5 and (the remainder with the last) 6: 16 in all
    assert.deepEqual(maxima(capped, 'memory'), [6, 3, 7]);
    assert.ok(wasm.validate(capped) || !wasm.validate(bytes));
    assert.throws(() => capLimits(bytes, 3), { message: "module's 3 memories start at 4 pages in all, above memory.maxPages 3" });
    // without maxPages they share what one 32-bit memory may address, 4 GiB
    assert.equal(
      maxima(capLimits(bytes, undefined), 'memory').reduce((all, max) => all! + max!, 0),
      65536,
    );
    assert.equal(
      capLimits(await assemble('(module (memory 1))'), undefined).length,
      (await assemble('(module (memory 1))')).length,
      'one 32-bit memory: left alone',
    );
    // a 64-bit memory (flags 4: no maximum) gets 4 GiB too: flags 5, maximum 65536
    const memory64 = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 3, 1, 4, 1]);
    assert.deepEqual([...capLimits(memory64, undefined).subarray(8)], [5, 6, 1, 5, 1, 0x80, 0x80, 0x04]);
  });

  it('caps every table, imported and defined, with or without maxPages', async () => {
    const bytes = await assemble('(module (import "env" "t" (table 2 funcref)) (table 10 funcref) (table 5 7 externref))');
    // 10,000,000 in all: the one that asks for 2 more keeps max 7, the others share the rest
    const left = MAX_TABLE_ELEMENTS - 17 - 2;
    assert.deepEqual(maxima(capLimits(bytes, undefined), 'table'), [2 + Math.floor(left / 2), 10 + Math.floor((left - Math.floor(left / 2)) / 1), 7]);
    const budget = tableElementBudget(1);
    assert.equal(budget, 65536 / TABLE_ELEMENT_BYTES);
    assert.equal(
      maxima(capLimits(bytes, 1), 'table').reduce((all, max) => all! + max!, 0),
      budget,
    );
    assert.ok(wasm.validate(capLimits(bytes, 1)));
    assert.throws(() => capLimits(bytes, 0), {
      message: `module's tables start with 17 elements in all, above the 0 memory.maxPages 0 allows (${TABLE_ELEMENT_BYTES} bytes an element)`,
    });
  });

  it('leaves a module alone whose tables fit already, and reads a table with an initial value', () => {
    // (table 1 1 funcref): no change, the same array
    const fixed = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 4, 5, 1, 0x70, 1, 1, 1]);
    assert.equal(capLimits(fixed, 16), fixed);
    // 0x40 0x00 funcref (min 3) (ref.null func): the table with an initial value of typed function references
    const withInit = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 4, 9, 1, 0x40, 0, 0x70, 0, 3, 0xd0, 0x70, 0x0b]);
    const capped = capLimits(withInit, 1);
    assert.deepEqual([...capped.subarray(8)], [4, 11, 1, 0x40, 0, 0x70, 1, 3, 0x80, 0x10, 0xd0, 0x70, 0x0b]);
    if (wasm.validate(withInit)) assert.ok(wasm.validate(capped));
  });
});

describe('importOwnMemory', () => {
  const cases: { name: string; source: string }[] = [
    { name: 'with other imports', source: `(module ${imports} (memory (export "memory") 2 9) ${around})` },
    { name: 'without an import section (one is made, before the functions)', source: `(module (memory (export "memory") 1) ${around})` },
    { name: 'with only types besides', source: '(module (type (func)) (memory 1))' },
    { name: 'whose memory is not exported', source: `(module ${imports} (memory 3) ${around})` },
  ];
  for (const { name, source } of cases) {
    it(`imports the memory a module defines, ${name}`, async () => {
      const bytes = await assemble(source);
      const before = readModule(bytes);
      const result = importOwnMemory(bytes)!;
      assert.ok(result !== undefined);
      assert.ok(wasm.validate(result.bytes));
      const after = readModule(result.bytes);
      assert.equal(after.memories.length, 0);
      assert.deepEqual(result.limits, before.memories[0]);
      assert.deepEqual(after.imports.at(-1), { module: 'plughost', name: 'memory', kind: 'memory', limits: before.memories[0] });
      assert.deepEqual(after.imports.slice(0, -1), before.imports);
      assert.deepEqual(after.exports, before.exports);
    });
  }

  it('leaves the module working the same on a memory handed to it', async () => {
    const result = importOwnMemory(await assemble(`(module ${imports} (memory (export "memory") 1 3) ${around})`))!;
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 3 });
    const { instance } = await wasm.instantiate(result.bytes, { env: { f: (x: number) => x }, plughost: { memory } });
    assert.equal(instance.exports.memory, memory);
    assert.equal(new TextDecoder().decode(new Uint8Array(memory.buffer, 0, 5)), 'hello', 'data segments land in it');
    assert.equal((instance.exports.grow as (n: number) => number)(2), 1);
    assert.equal((instance.exports.grow as (n: number) => number)(1), -1, 'its maximum still holds');
  });

  it('leaves alone modules without exactly one plain memory of their own', async () => {
    assert.equal(importOwnMemory(await assemble('(module (func (export "f")))')), undefined);
    assert.equal(importOwnMemory(await assemble('(module (import "env" "memory" (memory 1)))')), undefined);
    // (memory 1 10 shared), by hand as above
    assert.equal(importOwnMemory(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 4, 1, 3, 1, 10])), undefined);
    // two memories (multi-memory): a memory section with a count of 2
    assert.equal(importOwnMemory(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 5, 2, 0, 1, 0, 1])), undefined);
  });
});
