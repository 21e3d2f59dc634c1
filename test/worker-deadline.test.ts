// A worker that does not come back: a guest that cannot be stopped from inside its worker (not
// instrumented, or busy where the instrumentation does not look) has its worker ended and
// replaced past the deadline or an abort; close() settles whatever the worker does, and a
// process that closed its plug-ins exits. Each case runs in a child process with a hard bound,
// since what is tested is exactly that nothing hangs.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assemble, repoRoot } from './helpers.js';

/** The child is killed past this, and the test fails: far above what any case takes. */
const BOUND_MS = 60_000;

/** `spin` loops on bulk fills (not charged by the instrumentation); `ok` returns at once. */
const FILL_LOOP = `(module (memory 1025)
  (func (export "spin") (loop $l (memory.fill (i32.const 0) (i32.const 1) (i32.const 0x4000000)) (br $l)))
  (func (export "ok")))`;
/** The same over 1 GiB: a worker that Node 20 does not end (see TERMINABLE) for minutes, if ever. */
const BIG_FILL_LOOP = FILL_LOOP.replace('1025', '16385').replace('0x4000000', '0x40000000');
/** A plain endless loop, and `ok`. */
const PLAIN_LOOP = `(module (func (export "spin") (loop $l (br $l))) (func (export "ok")))`;
/** A start-up that never ends when the host's `gate` says 1. */
const GATED_INIT = `(module (import "env" "gate" (func $gate (result i32)))
  (func (export "_initialize") (if (call $gate) (then (loop $l (br $l)))))
  (func (export "ok")))`;
/** A start-up that never ends. */
const ENDLESS_INIT = `(module (func (export "_initialize") (loop $l (br $l))) (func (export "ok")))`;

interface ChildRun {
  code: number | null;
  signal: string | null;
  /** Lines the child printed, in order. */
  lines: string[];
  stderr: string;
}

describe('a worker that does not come back', () => {
  let dir: string;
  const index = join(repoRoot, 'build', 'src', 'index.js');
  const wasm: Record<string, string> = {};

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'plughost-deadline-'));
    for (const [name, wat] of Object.entries({ FILL_LOOP, BIG_FILL_LOOP, PLAIN_LOOP, ENDLESS_INIT, GATED_INIT })) {
      wasm[name] = join(dir, `${name}.wasm`);
      writeFileSync(wasm[name], await assemble(wat));
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Run `body` (an ES module's text, after the imports) in a child process; kill it at {@link BOUND_MS}. */
  async function inChild(body: string, nodeFlags: string[] = [], bound = BOUND_MS): Promise<ChildRun> {
    const script = join(dir, `child-${Math.random().toString(36).slice(2)}.mjs`);
    writeFileSync(
      script,
      `import { readFileSync } from 'node:fs';
import { createPlugin, createPool } from ${JSON.stringify(index)};
const wasm = (name) => new Uint8Array(readFileSync(${JSON.stringify(dir)} + '/' + name + '.wasm'));
const module = (name) => new WebAssembly.Module(wasm(name));
const outcome = (promise) => promise.then((v) => 'ok ' + (v === null ? 'null' : 'output'), (e) => e.name);
const say = (line) => console.log(line);
${body}
`,
    );
    return new Promise((resolve, reject) => {
      const child = execFile(process.execPath, [...nodeFlags, script], { timeout: bound, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
        if (err !== null && err.killed) {
          reject(new Error(`the child did not end within ${bound} ms; it printed:\n${stdout}\n${stderr}`));
          return;
        }
        resolve({ code: child.exitCode, signal: child.signalCode, lines: stdout.split('\n').filter((l) => l !== ''), stderr });
      });
    });
  }

  // Node 20's V8 does not always take a worker's termination while it loops on bulk memory
  // instructions in code waiting to tier up: the thread goes on, and even process.exit()
  // waits for it. Without dynamic tiering it does; that is what this case is about.
  const TERMINABLE = ['--no-wasm-dynamic-tiering'];

  it('ends and replaces the worker of a call past its deadline that the instrumentation cannot stop; close settles, the process exits', async () => {
    const run = await inChild(
      `const plugin = await createPlugin(wasm('FILL_LOOP'), { runInWorker: true, timeoutMs: 300 });
say(await outcome(plugin.call('spin')));
say(await outcome(plugin.call('ok')));
await plugin.close();
say('closed');`,
      TERMINABLE,
    );
    assert.deepEqual(run.lines, ['TimeoutError', 'ok null', 'closed'], run.stderr);
    assert.equal(run.code, 0, run.stderr);
  });

  it('does the same for a pool', async () => {
    const run = await inChild(
      `const pool = await createPool(wasm('FILL_LOOP'), { size: 1, timeoutMs: 300 });
say(await outcome(pool.call('spin')));
say(await outcome(pool.call('ok')));
await pool.close();
say('closed');`,
      TERMINABLE,
    );
    assert.deepEqual(run.lines, ['TimeoutError', 'ok null', 'closed'], run.stderr);
    assert.equal(run.code, 0, run.stderr);
  });

  it('ends and replaces the worker of a guest that is not instrumented (precompiled), past its deadline and after an abort', async () => {
    const run = await inChild(
      `const plugin = await createPlugin(module('PLAIN_LOOP'), { runInWorker: true, timeoutMs: 300 });
say(await outcome(plugin.call('spin')));
say(await outcome(plugin.call('ok')));
const unbounded = await createPlugin(wasm('PLAIN_LOOP'), { runInWorker: true });
const controller = new AbortController();
const spinning = outcome(unbounded.call('spin', '', undefined, { signal: controller.signal }));
setTimeout(() => controller.abort(), 200);
say(await spinning);
say(await outcome(unbounded.call('ok')));
await plugin.close();
await unbounded.close();
say('closed');`,
    );
    assert.deepEqual(run.lines, ['TimeoutError', 'ok null', 'AbortError', 'ok null', 'closed'], run.stderr);
    assert.equal(run.code, 0, run.stderr);
  });

  it('ends a worker whose initialization overruns the deadline: creation, or the reset, fails with TimeoutError', async () => {
    const run = await inChild(
      `say(await outcome(createPlugin(module('ENDLESS_INIT'), { runInWorker: true, timeoutMs: 300 })));
say(await outcome(createPool(module('ENDLESS_INIT'), { size: 1, timeoutMs: 300 })));
// the second initialization (the reset's) never ends; the third (the replacement's) does
let inits = 0;
const plugin = await createPlugin(module('GATED_INIT'), { runInWorker: true, timeoutMs: 300, functions: { env: { gate: () => (++inits === 2 ? 1 : 0) } } });
say(await outcome(plugin.reset()));
say(await outcome(plugin.call('ok')));
await plugin.close();
say('done');`,
    );
    assert.deepEqual(run.lines, ['TimeoutError', 'TimeoutError', 'TimeoutError', 'ok null', 'done'], run.stderr);
    assert.equal(run.code, 0, run.stderr);
  });

  it('settles close() even when the worker does not take its termination', async () => {
    // Without the flag above, the worker's thread may go on after its termination (see there):
    // close() must settle all the same. The process could not exit then, so the child ends itself.
    const run = await inChild(
      `const plugin = await createPlugin(wasm('BIG_FILL_LOOP'), { runInWorker: true, timeoutMs: 300 });
say(await outcome(plugin.call('spin')));
await plugin.close();
say('closed');
process.kill(process.pid, 'SIGKILL');`,
      [],
      // well above close()'s own wait for a worker to go (5 s), well below the time Node takes
      // to end this worker, when it does
      30_000,
    );
    assert.deepEqual(run.lines, ['TimeoutError', 'closed'], run.stderr);
  });
});
