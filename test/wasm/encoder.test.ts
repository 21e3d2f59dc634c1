import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ByteWriter, ModuleBuilder } from '../../src/internal/wasm/encoder.js';
import { ByteReader, readModule } from '../../src/internal/wasm/reader.js';
import { wasm } from './engine.js';

describe('ByteWriter', () => {
  const unsigned: [number, number[]][] = [
    [0, [0x00]],
    [127, [0x7f]],
    [128, [0x80, 0x01]],
    [624485, [0xe5, 0x8e, 0x26]],
    [0xffffffff, [0xff, 0xff, 0xff, 0xff, 0x0f]],
  ];
  for (const [value, bytes] of unsigned) {
    it(`encodes ${value} as unsigned LEB128 and reads it back`, () => {
      const encoded = new ByteWriter().u32(value).finish();
      assert.deepEqual([...encoded], bytes);
      assert.equal(new ByteReader(encoded).u32(), value);
    });
  }

  const signed32: [number, number[]][] = [
    [0, [0x00]],
    [-1, [0x7f]],
    [63, [0x3f]],
    [64, [0xc0, 0x00]],
    [-64, [0x40]],
    [-65, [0xbf, 0x7f]],
    [-123456, [0xc0, 0xbb, 0x78]],
    [2147483647, [0xff, 0xff, 0xff, 0xff, 0x07]],
    [-2147483648, [0x80, 0x80, 0x80, 0x80, 0x78]],
  ];
  for (const [value, bytes] of signed32) {
    it(`encodes ${value} as signed 32-bit LEB128`, () => {
      assert.deepEqual([...new ByteWriter().s32(value).finish()], bytes);
    });
  }

  const signed64: [bigint, number[]][] = [
    [0n, [0x00]],
    [-1n, [0x7f]],
    [(1n << 53n) - 1n, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]],
    [-(1n << 63n), [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f]],
  ];
  for (const [value, bytes] of signed64) {
    it(`encodes ${value} as signed 64-bit LEB128`, () => {
      assert.deepEqual([...new ByteWriter().s64(value).finish()], bytes);
    });
  }

  it('encodes unsigned 64-bit LEB128', () => {
    assert.deepEqual([...new ByteWriter().u64((1n << 64n) - 1n).finish()], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  });

  it('pads a signed LEB128 to five bytes that decode to the same value', async () => {
    const m = new ModuleBuilder();
    for (const value of [0, 1, 63, 64, 1000, 2147483647]) {
      const body = new ByteWriter().byte(0x41).s32Padded(value).finish().slice();
      assert.equal(body.length, 6);
      m.export(`v${value}`, 'function', m.addFunction({ type: { params: [], results: ['i32'] }, body }));
    }
    const { instance } = await wasm.instantiate(m.build());
    for (const value of [0, 1, 63, 64, 1000, 2147483647]) assert.equal((instance.exports[`v${value}`] as () => number)(), value);
  });

  it('grows past its initial capacity', () => {
    const w = new ByteWriter(1);
    for (let i = 0; i < 1000; i++) w.byte(i & 0xff);
    assert.equal(w.length, 1000);
    assert.equal(w.finish()[999], 999 & 0xff);
  });

  it('encodes names as length-prefixed UTF-8', () => {
    assert.deepEqual([...new ByteWriter().name('é').finish()], [2, 0xc3, 0xa9]);
  });
});

describe('ModuleBuilder', () => {
  it('builds a valid module with imports, globals, functions and exports', async () => {
    const m = new ModuleBuilder();
    const inc = m.importFunction('env', 'inc', { params: ['i32'], results: ['i32'] });
    const g = m.addGlobal('i32', true, [0x41, 0x05]);
    const f = m.addFunction({
      type: { params: [], results: ['i32'] },
      locals: ['i32', 'i32', 'i64'],
      body: [0x23, g, 0x10, inc, 0x21, 0, 0x20, 0],
    });
    m.export('run', 'function', f).export('g', 'global', g);
    const bytes = m.build();
    assert.ok(wasm.validate(bytes));
    const info = readModule(bytes);
    assert.equal(info.types.length, 2);
    assert.deepEqual(
      info.exports.map((e) => e.name),
      ['run', 'g'],
    );
    const { instance } = await wasm.instantiate(bytes, { env: { inc: (x: number) => x + 1 } });
    assert.equal((instance.exports.run as () => number)(), 6);
  });

  it('shares one type entry between functions of the same signature', () => {
    const m = new ModuleBuilder();
    m.addFunction({ type: { params: ['i32'], results: [] }, body: [] });
    m.addFunction({ type: { params: ['i32'], results: [] }, body: [] });
    assert.equal(readModule(m.build()).types.length, 1);
  });
});
