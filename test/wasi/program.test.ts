// A whole WASI command (test/fixtures/wasi-cat.wat) run against createWasi, as the host runs one.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { nodeFileSystem } from '../../src/internal/platform/node/index.js';
import { createWasi, WasiExit, type WasiOptions } from '../../src/internal/wasi/index.js';
import { InMemoryFileSystem } from '../../src/internal/wasi/memory-fs.js';
import { assemble, fixturePath, repoRoot } from '../helpers.js';
import { tempDir } from './guest.js';

let tmp: { path: string; cleanup: () => void };
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

async function catBytes(): Promise<Uint8Array> {
  const built = fixturePath('wasi-cat');
  if (existsSync(built)) return readFileSync(built);
  return assemble(readFileSync(join(repoRoot, 'test', 'fixtures', 'wasi-cat.wat'), 'utf8'));
}

/** Run wasi-cat to its proc_exit; returns the exit code and what it wrote to stdout. */
async function runCat(options: WasiOptions): Promise<{ code: number; stdout: string; chunks: number }> {
  const chunks: Uint8Array[] = [];
  const wasi = createWasi({ fs: nodeFileSystem, ...options, stdout: (chunk) => chunks.push(chunk) });
  const module = await WebAssembly.compile((await catBytes()) as Uint8Array<ArrayBuffer>);
  const instance = await WebAssembly.instantiate(module, { wasi_snapshot_preview1: wasi.imports });
  wasi.setMemory(instance.exports.memory as WebAssembly.Memory);
  try {
    (instance.exports._start as () => void)();
    assert.fail('wasi-cat returned without proc_exit');
  } catch (error) {
    if (!(error instanceof WasiExit)) throw error;
    return { code: error.code, stdout: Buffer.concat(chunks).toString('utf8'), chunks: chunks.length };
  } finally {
    wasi.close();
  }
}

test('a WASI command copies a file from its mount to the stdout callback and exits with 0', async () => {
  const content = 'line of text\n'.repeat(1000); // 13 000 bytes: several reads of 4 KiB
  writeFileSync(join(tmp.path, 'input.txt'), content);
  const result = await runCat({ mounts: [{ hostPath: tmp.path, guestPath: '/work', readOnly: true }] });
  assert.equal(result.code, 0);
  assert.equal(result.stdout, content);
  assert.equal(result.chunks, 4);
});

test('the same command reads the same file from an in-memory file system', async () => {
  const content = 'line of text\n'.repeat(1000);
  const fs = new InMemoryFileSystem();
  fs.writeFile('/in/input.txt', content);
  const result = await runCat({ fs, mounts: [{ hostPath: '/in', guestPath: '/work', readOnly: true }] });
  assert.equal(result.code, 0);
  assert.equal(result.stdout, content);
  assert.equal(result.chunks, 4);
});

test('a WASI command without mounts fails to open anything and exits with its errno', async () => {
  const result = await runCat({});
  assert.equal(result.code, 100 + 8); // EBADF: there is no fd 3
  assert.equal(result.stdout, '');
});
