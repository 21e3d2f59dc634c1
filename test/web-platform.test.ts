// The web platform's own parts, checked on Node against Node's: SHA-256 against node:crypto,
// bytesEqual, guest output cut into console lines, the parallelism and blocking probes.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { availableParallelism, bytesEqual, consoleLines, threadCanBlock, webPlatform } from '../src/internal/platform/web/index.js';
import { sha256Hex } from '../src/internal/platform/web/sha256.js';

const nodeSha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

test('sha256Hex matches node:crypto around every padding boundary (55/56/64 bytes and their multiples)', () => {
  const lengths = new Set<number>();
  for (let blocks = 0; blocks <= 4; blocks++) for (let rest = 0; rest < 64; rest++) lengths.add(blocks * 64 + rest);
  for (const length of lengths) {
    const bytes = randomBytes(length);
    assert.equal(sha256Hex(bytes), nodeSha256(bytes), `length ${length}`);
  }
  // The FIPS 180-4 examples, so a bug shared with the test's use of node:crypto could not hide.
  assert.equal(sha256Hex(new TextEncoder().encode('abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(sha256Hex(new Uint8Array(0)), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
});

test('sha256Hex matches node:crypto on random lengths up to 4 MiB, and on a view into a larger buffer', () => {
  for (let i = 0; i < 24; i++) {
    const length = Math.floor(Math.random() * (i < 20 ? 70_000 : 4 << 20));
    const bytes = randomBytes(length);
    assert.equal(sha256Hex(bytes), nodeSha256(bytes), `length ${length}`);
  }
  const backing = randomBytes(10_000);
  const view = backing.subarray(3, 9_001);
  assert.equal(sha256Hex(view), nodeSha256(view));
  assert.equal(webPlatform.sha256Hex(view), nodeSha256(view));
});

test('bytesEqual: same bytes at any offset and length; one differing byte anywhere, or another length, is unequal', () => {
  for (const length of [0, 1, 3, 4, 5, 8, 63, 64, 1000, 65_537]) {
    const bytes = randomBytes(length + 7);
    for (const [offsetA, offsetB] of [
      [0, 0],
      [1, 0],
      [3, 5],
      [4, 4],
    ] as const) {
      const a = new Uint8Array(length + 8);
      const b = new Uint8Array(length + 8);
      a.set(bytes.subarray(0, length), offsetA);
      b.set(bytes.subarray(0, length), offsetB);
      const viewA = a.subarray(offsetA, offsetA + length);
      const viewB = b.subarray(offsetB, offsetB + length);
      assert.equal(bytesEqual(viewA, viewB), true, `length ${length}, offsets ${offsetA}/${offsetB}`);
      for (const at of new Set([0, length >> 1, length - 1].filter((n) => n >= 0 && n < length))) {
        viewB[at]! ^= 0x40;
        assert.equal(bytesEqual(viewA, viewB), false, `byte ${at} of ${length} differs, offsets ${offsetA}/${offsetB}`);
        viewB[at]! ^= 0x40;
      }
      if (length > 0) assert.equal(bytesEqual(viewA, viewB.subarray(1)), false);
    }
  }
});

test('guest output reaches the console by whole lines; a last partial line once the guest yields', async () => {
  const lines: string[] = [];
  const out = consoleLines((line) => lines.push(line));
  const encode = (text: string) => new TextEncoder().encode(text);
  out.write(encode('hel'));
  out.write(encode('lo\nwor'));
  out.write(encode('ld\n\n'));
  // a character split between two writes
  const e = encode('é');
  out.write(e.subarray(0, 1));
  assert.deepEqual(lines, ['hello', 'world', '']);
  out.write(e.subarray(1));
  out.write(encode('\ntail'));
  assert.deepEqual(lines, ['hello', 'world', '', 'é'], 'nothing partial before the guest yields');
  await Promise.resolve();
  assert.deepEqual(lines, ['hello', 'world', '', 'é', 'tail']);
  out.write(encode('next\n'));
  assert.deepEqual(lines, ['hello', 'world', '', 'é', 'tail', 'next']);
});

test('the web platform has no files, no environment; parallelism from navigator.hardwareConcurrency; blocking probed', () => {
  assert.equal(webPlatform.files, undefined);
  assert.equal(webPlatform.environmentVariable('PATH'), undefined);
  assert.equal(webPlatform.syncHttp, undefined);
  // Node's navigator (21+) reports the cores; Node 20 has none, and 1 is the floor.
  const reported = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  assert.equal(availableParallelism(), reported ?? 1);
  // Node's main thread may wait on an atomic; a browser's main thread may not (the browser suite checks that side).
  assert.equal(threadCanBlock(), true);
});
