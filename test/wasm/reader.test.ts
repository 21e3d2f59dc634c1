import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type FuncType, formatFuncType, isWasm, readModule, WasmFormatError } from '../../src/internal/wasm/reader.js';
import { assemble } from '../helpers.js';

const sample = `
(module
  (type $binop (func (param i64 i64) (result i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "env" "mem" (memory 1 10))
  (import "env" "table" (table 2 funcref))
  (import "env" "g" (global $g (mut i32)))
  (import "env" "add" (func $add (type $binop)))
  (func $f (param f32 f64) (result v128) (v128.const i32x4 0 0 0 0))
  (func $start)
  (func (export "run") (result i32) (i32.const 0))
  (global (export "gx") i32 (i32.const 1))
  (export "add_again" (func $add))
  (export "memory" (memory 0))
  (export "tbl" (table 0))
  (start $start)
)`;

// A custom section "x" holding two bytes, to be skipped wherever it appears.
const customSection = [0, 4, 1, 0x78, 0xff, 0xff];

describe('readModule', () => {
  it('reads types, imports, functions, memories, exports and start', async () => {
    const info = readModule(new Uint8Array([...(await assemble(sample)), ...customSection]));
    const i64bin: FuncType = { params: ['i64', 'i64'], results: ['i64'] };
    assert.deepEqual(info.types[0], i64bin);
    assert.deepEqual(info.imports, [
      { module: 'extism:host/env', name: 'alloc', kind: 'function', typeIndex: 1, type: { params: ['i64'], results: ['i64'] } },
      { module: 'env', name: 'mem', kind: 'memory', limits: { min: 1, max: 10, shared: false, memory64: false } },
      { module: 'env', name: 'table', kind: 'table', elementType: 'funcref', limits: { min: 2, shared: false, memory64: false } },
      { module: 'env', name: 'g', kind: 'global', valueType: 'i32', mutable: true },
      { module: 'env', name: 'add', kind: 'function', typeIndex: 0, type: i64bin },
    ]);
    assert.equal(info.functionTypeIndices.length, 5);
    assert.deepEqual(info.memories, []);
    assert.deepEqual(info.exports, [
      { name: 'run', kind: 'function', index: 4, type: { params: [], results: ['i32'] } },
      { name: 'gx', kind: 'global', index: 1 },
      { name: 'add_again', kind: 'function', index: 1, type: i64bin },
      { name: 'memory', kind: 'memory', index: 0 },
      { name: 'tbl', kind: 'table', index: 0 },
    ]);
    assert.equal(info.startFunction, 3);
  });

  it('reads defined memories', async () => {
    const info = readModule(await assemble('(module (memory 2 3) (export "m" (memory 0)))'));
    assert.deepEqual(info.memories, [{ min: 2, max: 3, shared: false, memory64: false }]);
  });

  it('reads an empty module', () => {
    assert.deepEqual(readModule(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0])), {
      types: [],
      imports: [],
      functionTypeIndices: [],
      memories: [],
      exports: [],
    });
  });

  it('decodes non-ASCII names', async () => {
    const info = readModule(await assemble('(module (func (export "h\\c3\\a9llo\\e2\\86\\92")))'));
    assert.equal(info.exports[0]!.name, 'héllo→');
  });

  const header = [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0];
  const malformed: { name: string; bytes: number[]; offset: number; match: RegExp }[] = [
    { name: 'a missing magic number', bytes: [1, 2, 3, 4, 1, 0, 0, 0], offset: 0, match: /magic/ },
    { name: 'an unsupported version', bytes: [0, 0x61, 0x73, 0x6d, 2, 0, 0, 0], offset: 0, match: /version/ },
    { name: 'a section running past the end', bytes: [...header, 1, 10, 1], offset: 8, match: /past the end/ },
    { name: 'a truncated LEB128', bytes: [...header, 1, 0x80], offset: 9, match: /LEB128/ },
    { name: 'a GC rec group', bytes: [...header, 1, 2, 1, 0x4e], offset: 11, match: /garbage-collection/ },
    { name: 'an unknown value type', bytes: [...header, 1, 4, 1, 0x60, 1, 0x40], offset: 13, match: /value type 0x40/ },
    { name: 'an out-of-range type index', bytes: [...header, 3, 2, 1, 5], offset: 11, match: /type index 5/ },
    { name: 'trailing bytes in a section', bytes: [...header, 1, 2, 0, 0], offset: 11, match: /trailing/ },
    // exceptions kept where they outlive a call: a table of exnref, a global of (ref null exn)
    { name: 'a table of exnref', bytes: [...header, 4, 4, 1, 0x69, 0, 1], offset: 11, match: /a table holds exception references/ },
    { name: 'a global of (ref null exn)', bytes: [...header, 6, 6, 1, 0x63, 0x69, 1, 0xd0, 0x69], offset: 11, match: /a global holds exception references/ },
    {
      name: 'a constant expression with an instruction it may not have',
      bytes: [...header, 6, 5, 1, 0x7f, 0, 0x20, 0],
      offset: 13,
      match: /instruction 0x20 in a constant expression/,
    },
  ];
  for (const { name, bytes, offset, match } of malformed) {
    it(`fails with the byte offset on ${name}`, () => {
      assert.throws(
        () => readModule(new Uint8Array(bytes)),
        (err: unknown) => {
          assert.ok(err instanceof WasmFormatError);
          assert.equal(err.offset, offset);
          assert.match(err.message, match);
          assert.match(err.message, new RegExp(`offset ${offset}$`));
          assert.equal(err.name, 'WasmFormatError');
          return true;
        },
      );
    });
  }

  it('reads the tables and globals real modules declare, initial values included', () => {
    const f64 = [0, 0, 0, 0, 0, 0, 0xf0, 0x3f];
    // tables: funcref (min 1), externref (1..2), and funcref with an initial value (ref.null func)
    const tables = [4, 16, 3, 0x70, 0, 1, 0x6f, 1, 1, 2, 0x40, 0, 0x70, 0, 1, 0xd0, 0x70, 0x0b];
    // globals: i32 (i32.const 1), mut i64 (i64.const -1), f64 1.0, v128 const, i32 (global.get 0 + i32.const 8: extended-const), funcref (ref.null func)
    const entries = [
      [0x7f, 0, 0x41, 1, 0x0b],
      [0x7e, 1, 0x42, 0x7f, 0x0b],
      [0x7c, 0, 0x44, ...f64, 0x0b],
      [0x7b, 0, 0xfd, 12, ...new Array(16).fill(7), 0x0b],
      [0x7f, 0, 0x23, 0, 0x41, 8, 0x6a, 0x0b],
      [0x70, 0, 0xd0, 0x70, 0x0b],
    ];
    const globalsBody = [entries.length, ...entries.flat()];
    const module = new Uint8Array([...header, ...tables, 6, globalsBody.length, ...globalsBody]);
    assert.deepEqual(readModule(module).imports, []);
  });

  it('skips unknown section ids', () => {
    const info = readModule(new Uint8Array([...header, 0x42, 2, 0xff, 0xff, 1, 1, 0]));
    assert.deepEqual(info.types, []);
  });
});

describe('formatFuncType', () => {
  const cases: [FuncType, string][] = [
    [{ params: ['i64', 'i64'], results: ['i64'] }, '(i64, i64) -> i64'],
    [{ params: [], results: [] }, '() -> ()'],
    [{ params: ['i32'], results: ['f32', 'f64'] }, '(i32) -> (f32, f64)'],
  ];
  for (const [type, text] of cases) {
    it(`renders ${text}`, () => assert.equal(formatFuncType(type), text));
  }
});

describe('isWasm', () => {
  const cases: [string, number[], boolean][] = [
    ['accepts the magic with version 1', [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0], true],
    ['rejects version 2', [0, 0x61, 0x73, 0x6d, 2, 0, 0, 0], false],
    ['rejects a short buffer', [0, 0x61, 0x73, 0x6d], false],
    ['rejects text', [...Buffer.from('(module)')], false],
  ];
  for (const [name, bytes, expected] of cases) {
    it(name, () => assert.equal(isWasm(new Uint8Array(bytes)), expected));
  }
});
