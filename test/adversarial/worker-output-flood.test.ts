// A worker plug-in's log lines and WASI output are posted to the host thread as they come. A
// guest writing faster than the host thread takes them queued them without end (2,000 lines of
// 1 MiB: 1.4 GB resident on the host; with enableWasiOutput and this process's stdout a pipe,
// 2 GB queued in the stream). The worker now waits while the host thread has more than 16 Mi
// characters of them to handle (output for this process's streams: not yet flushed), so the
// queue stays bounded and everything arrives, in order. In a bounded child.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runBounded } from '../helpers.js';

const LINES = 1000;
const LINE_BYTES = 1 << 20;

describe('a worker plug-in flooding the host thread with output (in a bounded child)', () => {
  for (const kind of ['stdout', 'log'] as const) {
    it(`${kind}: every line arrives, and the host holds a bounded backlog`, async () => {
      const helpers = new URL('../helpers.js', import.meta.url).href;
      const library = new URL('../../src/index.js', import.meta.url).href;
      const write =
        kind === 'log'
          ? `(call $log (call $alloc (i64.const ${LINE_BYTES})))`
          : '(drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))';
      const script = `
        const { createPlugin } = await import(${JSON.stringify(library)});
        const { assemble } = await import(${JSON.stringify(helpers)});
        const wasm = await assemble(\`(module
          (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
          (import "extism:host/env" "log_info" (func $log (param i64)))
          (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") ${LINE_BYTES / 65536 + 1})
          (func (export "run") (result i32) (local $i i32)
            (i32.store (i32.const 0) (i32.const 64))
            (i32.store (i32.const 4) (i32.const ${LINE_BYTES}))
            (loop $l
              ${write}
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $l (i32.lt_u (local.get $i) (i32.const ${LINES}))))
            (i32.const 0)))\`);
        let lines = 0;
        let characters = 0;
        const take = (line) => { lines++; characters += line.length; };
        const ignore = () => {};
        const plugin = await createPlugin(wasm, {
          useWasi: true,
          runInWorker: true,
          logLevel: 'info',
          logger: { info: take, trace: ignore, debug: ignore, warn: ignore, error: ignore },
          wasiStdout: take,
        });
        await plugin.call('run');
        await plugin.close();
        console.log(lines + ' ' + characters);`;
      const run = await runBounded(script, { timeoutMs: 120_000, maxRssMb: 450 });
      assert.equal(run.stdout.trim(), `${LINES} ${LINES * LINE_BYTES}`);
    });
  }
  it('enableWasiOutput to a piped stdout: every byte arrives, and the host holds a bounded backlog', async () => {
    const helpers = new URL('../helpers.js', import.meta.url).href;
    const library = new URL('../../src/index.js', import.meta.url).href;
    // the plug-in's host runs in a grandchild whose stdout is a pipe read here; it reports its own peak
    const flood = `
      const { createPlugin } = await import(${JSON.stringify(library)});
      const { assemble } = await import(${JSON.stringify(helpers)});
      const wasm = await assemble(\`(module
        (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
        (memory (export "memory") ${LINE_BYTES / 65536 + 1})
        (func (export "run") (result i32) (local $i i32)
          (i32.store (i32.const 0) (i32.const 64))
          (i32.store (i32.const 4) (i32.const ${LINE_BYTES}))
          (loop $l
            (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $l (i32.lt_u (local.get $i) (i32.const ${LINES}))))
          (i32.const 0)))\`);
      const plugin = await createPlugin(wasm, { useWasi: true, runInWorker: true, enableWasiOutput: true });
      await plugin.call('run');
      await plugin.close();
      process.stderr.write(String(process.resourceUsage().maxRSS));`;
    const script = `
      const { spawn } = await import('node:child_process');
      const child = spawn(process.execPath, ['--input-type=module', '-e', ${JSON.stringify(flood)}], { stdio: ['ignore', 'pipe', 'pipe'] });
      let bytes = 0;
      let peak = '';
      child.stdout.on('data', (chunk) => { bytes += chunk.length; });
      child.stderr.setEncoding('utf8').on('data', (text) => { peak += text; });
      const code = await new Promise((resolve) => child.on('close', resolve));
      console.log(code + ' ' + bytes + ' ' + Math.round(Number(peak) / 1024));`;
    const run = await runBounded(script, { timeoutMs: 120_000, maxRssMb: 300 });
    const [code, bytes, peakMb] = run.stdout.trim().split(' ').map(Number);
    assert.equal(code, 0, run.stdout);
    assert.equal(bytes, LINES * LINE_BYTES);
    assert.ok(peakMb! < 450, `the plug-in's host peaked at ${peakMb} MiB`);
  });
});
