// check.ts, the asserts the cross-runtime and browser suites share: each must fail where
// node:assert/strict would, or a broken plug-in call could pass in Chromium unseen.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as check from './runtimes/check.js';

test('check.equal is Object.is; check.ok is truthiness; check.match a regex; check.fail always throws', () => {
  check.equal(1, 1);
  check.equal(Number.NaN, Number.NaN);
  assert.throws(() => check.equal(1, '1'), check.CheckError);
  assert.throws(() => check.equal(0, -0), check.CheckError);
  assert.throws(() => check.equal({}, {}), check.CheckError);
  assert.throws(() => check.ok(0, 'zero'), /zero/);
  assert.throws(() => check.match('abc', /d/), check.CheckError);
  check.match('abc', /b/);
  assert.throws(() => check.fail('always'), /always/);
});

test('check.deepEqual compares objects, arrays and byte arrays all the way down, and their kinds', () => {
  check.deepEqual({ a: [1, { b: 'x' }], c: null }, { a: [1, { b: 'x' }], c: null });
  check.deepEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3]));
  for (const [actual, expected] of [
    [{ a: 1 }, { a: 2 }],
    [{ a: 1 }, { a: 1, b: undefined }],
    [
      { a: 1, b: 2 },
      { a: 1, c: 2 },
    ],
    [
      [1, 2],
      [1, 2, 3],
    ],
    [
      [1, [2]],
      [1, [3]],
    ],
    [new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4])],
    [new Uint8Array([1, 2]), new Uint8Array([1, 2, 0])],
    [new Uint8Array([1]), [1]],
    [null, {}],
    [1n, 1],
  ] as const) {
    assert.throws(() => check.deepEqual(actual, expected), check.CheckError, `${String(actual)} vs ${String(expected)}`);
  }
});
