// Loading modules cannot hang or exhaust the host: only regular files are read, never past
// maxWasmBytes, and a URL or Response that streams for ever is cut off at the cap. Every load
// that could hang or fill memory runs in a child process killed at a generous bound.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createPlugin, ManifestError, WasmSourceError } from '../src/index.js';
import { DEFAULT_MAX_WASM_BYTES } from '../src/internal/load-bytes.js';
import { fixturePath } from './helpers.js';
import { TestServer } from './http-test-server.js';
import type { LoadCase, LoadOutcome } from './load-child.js';

const MiB = 1024 * 1024;
const CHILD = fileURLToPath(new URL('./load-child.js', import.meta.url));
/** Far beyond any load that works, far below a CI job's own timeout. */
const BOUND_MS = 30_000;
/** Peak memory a child may reach: Node itself takes well under this; reading without bound takes gigabytes. */
const MAX_RSS = 512 * MiB;

function load(job: LoadCase): Promise<LoadOutcome> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CHILD, JSON.stringify(job)], { timeout: BOUND_MS, killSignal: 'SIGKILL', maxBuffer: MiB }, (err, stdout, stderr) => {
      if (err !== null) {
        reject(new Error(err.killed ? `the load was still running after ${BOUND_MS} ms` : `the child failed: ${err.message}\n${stderr}`));
        return;
      }
      resolve(JSON.parse(stdout) as LoadOutcome);
    });
  });
}

function assertRefused(outcome: LoadOutcome, message: RegExp): void {
  assert.equal(outcome.ok, false, 'the load succeeded');
  assert.equal(outcome.name, 'WasmSourceError', outcome.message);
  assert.equal(outcome.code, 'PLUGHOST_WASM_SOURCE');
  assert.match(outcome.message!, message);
  assert.ok(outcome.maxRss < MAX_RSS, `the child reached ${Math.round(outcome.maxRss / MiB)} MiB`);
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let dir: string;
let server: TestServer;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plughost-loading-'));
  server = await TestServer.start();
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
  await server.stop();
});

describe('loading a module from a path', { skip: process.platform === 'win32' && 'POSIX devices and FIFOs' }, () => {
  it('refuses /dev/zero, a character device, before reading a byte', async () => {
    const outcome = await load({ kind: 'path', target: '/dev/zero' });
    assertRefused(outcome, /cannot read wasm file \/dev\/zero: it is a character device, not a regular file/);
    assert.equal(outcome.source, '/dev/zero');
  });

  it('refuses a FIFO without waiting for a writer', async () => {
    const fifo = join(dir, 'plugin.wasm');
    execFileSync('mkfifo', [fifo]);
    try {
      assertRefused(await load({ kind: 'path', target: fifo }), new RegExp(`${escapeRegExp(fifo)}: it is a FIFO \\(named pipe\\), not a regular file`));
    } finally {
      await rm(fifo);
    }
  });

  it('refuses a directory', async () => {
    assertRefused(await load({ kind: 'path', target: dir }), new RegExp(`${escapeRegExp(dir)}: it is a directory, not a regular file`));
  });

  it('refuses a file above the default cap (256 MiB) by its size, without reading it', async () => {
    const sparse = join(dir, 'sparse.wasm');
    await writeFile(sparse, '');
    await truncate(sparse, DEFAULT_MAX_WASM_BYTES + 1); // no bytes on disk: a hole
    try {
      const outcome = await load({ kind: 'path', target: sparse });
      assertRefused(
        outcome,
        new RegExp(`sparse\\.wasm: it is ${DEFAULT_MAX_WASM_BYTES + 1} bytes, above the limit of ${DEFAULT_MAX_WASM_BYTES} bytes \\(maxWasmBytes`),
      );
      assert.ok(outcome.maxRss < 200 * MiB, `the child reached ${Math.round(outcome.maxRss / MiB)} MiB: the file was read`);
    } finally {
      await rm(sparse);
    }
  });

  it('refuses a file above maxWasmBytes', async () => {
    const sparse = join(dir, 'big.wasm');
    await writeFile(sparse, '');
    await truncate(sparse, 8 * MiB);
    try {
      assertRefused(
        await load({ kind: 'path', target: sparse, options: { maxWasmBytes: MiB } }),
        /big\.wasm: it is 8388608 bytes, above the limit of 1048576 bytes/,
      );
    } finally {
      await rm(sparse);
    }
  });

  it('refuses a manifest file that is a link to /dev/zero', async () => {
    const manifest = join(dir, 'manifest.json');
    await symlink('/dev/zero', manifest);
    try {
      assertRefused(await load({ kind: 'manifest', target: manifest }), /cannot read manifest file .*manifest\.json: it is a character device/);
    } finally {
      await rm(manifest);
    }
  });

  it('loads a module exactly as large as maxWasmBytes, and refuses it one byte below', async () => {
    const path = fixturePath('bench-noop');
    const size = (await readFile(path)).byteLength;
    const plugin = await createPlugin({ wasm: [{ path }] }, { maxWasmBytes: size });
    await plugin.close();
    await assert.rejects(
      createPlugin({ wasm: [{ path }] }, { maxWasmBytes: size - 1 }),
      (err: unknown) => err instanceof WasmSourceError && err.source === path && err.message.includes(`above the limit of ${size - 1} bytes`),
    );
  });
});

describe('loading a module from a URL or a Response', () => {
  it('cuts off a server that streams for ever at maxWasmBytes, naming the URL and the cap', async () => {
    const path = `/stream?bytes=${2 ** 40}`;
    const url = server.url(path);
    const outcome = await load({ kind: 'url', target: url, options: { maxWasmBytes: MiB } });
    assertRefused(outcome, new RegExp(`wasm from ${escapeRegExp(url)} is larger than maxWasmBytes \\(1048576 bytes\\): reading stopped at \\d+ bytes`));
    const end = await server.closed(path);
    assert.equal(end.clientClosedEarly, true);
    assert.ok(end.written < 64 * MiB, `the server wrote ${end.written} bytes`);
  });

  it('refuses a response whose Content-Length is above the cap before reading its body', async () => {
    const path = `/declared?bytes=${16 * MiB}`;
    const url = server.url(path);
    assertRefused(
      await load({ kind: 'url', target: url, options: { maxWasmBytes: MiB } }),
      new RegExp(`${escapeRegExp(url)} is larger than maxWasmBytes \\(1048576 bytes\\): it declares 16777216 bytes`),
    );
    assert.equal((await server.closed(path)).clientClosedEarly, true);
  });

  it('cuts off a Response whose body never ends', async () => {
    assertRefused(
      await load({ kind: 'endless-response', options: { maxWasmBytes: 4 * MiB } }),
      /larger than maxWasmBytes \(4194304 bytes\): reading stopped at \d+ bytes/,
    );
  });

  it('cuts off an endless Response at the default cap too, within bounded memory', async () => {
    assertRefused(await load({ kind: 'endless-response' }), new RegExp(`larger than maxWasmBytes \\(${DEFAULT_MAX_WASM_BYTES} bytes\\)`));
  });
});

describe('the maxWasmBytes option', () => {
  it('must be a whole number of bytes > 0', async () => {
    for (const maxWasmBytes of [0, -1, 1.5, Number.NaN]) {
      await assert.rejects(
        createPlugin({ wasm: [{ path: fixturePath('bench-noop') }] }, { maxWasmBytes }),
        (err: unknown) => err instanceof ManifestError && err.field === 'maxWasmBytes',
      );
    }
  });
});
