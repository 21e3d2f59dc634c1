import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryLimitError } from '../../src/errors.js';
import { capMemory, importOwnMemory } from '../../src/internal/wasm/memory-limit.js';
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

describe('capMemory', () => {
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
      const capped = capMemory(bytes, cap);
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
    const capped = capMemory(await assemble(`(module ${imports} (memory 1) ${around})`), 3);
    const { instance } = await wasm.instantiate(capped, { env: { f: (x: number) => x } });
    const grow = instance.exports.grow as (n: number) => number;
    assert.equal(grow(2), 1);
    assert.equal(grow(1), -1);
    assert.equal((instance.exports.size as () => number)(), 3);
  });

  it('throws a MemoryLimitError when the initial memory is above the cap', async () => {
    const bytes = await assemble('(module (memory 17))');
    assert.throws(
      () => capMemory(bytes, 16),
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
    assert.equal(capMemory(bytes, 1), bytes);
  });

  it('keeps the shared flag of a shared memory', () => {
    // (memory 1 10 shared): flags 3; wabt's helper does not enable threads, so by hand.
    const bytes = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 4, 1, 3, 1, 10]);
    const capped = capMemory(bytes, 4);
    assert.deepEqual(memory0(capped), { min: 1, max: 4, shared: true, memory64: false });
  });

  it('rejects a negative or fractional cap', async () => {
    const bytes = await assemble('(module (memory 1))');
    assert.throws(() => capMemory(bytes, -1), RangeError);
    assert.throws(() => capMemory(bytes, 1.5), RangeError);
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
