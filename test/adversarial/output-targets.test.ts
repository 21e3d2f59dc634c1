// A worker plug-in's WASI output to a stream the application gave (`wasiStdout`), read more
// slowly than the guest writes: the stream says its buffer is full (`write` returns false)
// and the host thread must stop taking lines until it drains, or it queues everything the
// guest writes (the CLI's --enable-wasi-output, piped to a slow reader: 4 GiB written, 11 GB
// resident).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPlugin } from '../../src/index.js';
import { assemble, SlowStream } from '../helpers.js';

const LINES = 64;
const LINE_BYTES = 1 << 20;

describe('a wasiStdout stream read slowly, in a worker', () => {
  it('holds a bounded backlog on the host thread: the guest waits for the stream to drain, and every line arrives', async () => {
    const wasm = await assemble(`(module
      (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") ${LINE_BYTES / 65536 + 1})
      (func (export "run") (result i32) (local $i i32)
        (i32.store (i32.const 0) (i32.const 64))
        (i32.store (i32.const 4) (i32.const ${LINE_BYTES}))
        (memory.fill (i32.const 64) (i32.const 0x61) (i32.const ${LINE_BYTES}))
        (loop $l
          (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const ${LINES}))))
        (i32.const 0)))`);
    const stream = new SlowStream();
    const plugin = await createPlugin(wasm, { useWasi: true, runInWorker: true, wasiStdout: stream });
    try {
      await plugin.call('run');
    } finally {
      await plugin.close();
    }
    // every byte, in lines of at most 1 Mi characters, each with its newline
    assert.equal(stream.received, LINES * LINE_BYTES + LINES);
    // the worker's bound (16 Mi characters) and one line past it
    assert.ok(stream.maxOutstanding <= 17 * LINE_BYTES + 17, `${stream.maxOutstanding} characters handed to a full stream`);
  });
});
