// The cross-runtime suite: what a user of the published package does, on every JavaScript
// runtime we claim (Node 20-26, Deno, Bun). scripts/test-runtimes.mjs runs it once per
// runtime, each in its own process. It imports the bundle the package ships
// (dist/bundle/index.js), not the unbundled build, and uses only what every runtime has:
// node:assert, node:fs, node:os, node:path, fetch — no node:test, which Deno and Bun do not
// run the same way. Not named *.test.ts, so scripts/test.mjs does not run it with the rest.
// Most tests are in cases.ts, shared with the browser's suite (test/browser/suite.ts); here
// are those that need files or worker mode.
//
// Output, one line per test, for the script to read (cases.ts, runTests): `ok\t<name>\t<ms>`
// or `not ok\t<name>\t<message>`; `start\t<name>` before each (so a hang names its test), and
// a `features\t<json>` line first. Exits 1 if any test failed. PLUGHOST_RUNTIMES_ONLY=<text>
// runs only the tests whose name contains it.
//
// HTTP tests need a server that is not on this thread (a main-thread plug-in blocks it while
// its request runs): the script serves one on 127.0.0.1 and passes its URL in
// PLUGHOST_RUNTIMES_HTTP.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import type * as Plughost from '../../src/index.js';
import type { CallContext, PluginOptions } from '../../src/index.js';
import { rejection, runTests, scoped, sharedCases, type Test } from './cases.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const bundle = new URL('../../../dist/bundle/index.js', import.meta.url);
const api = (await import(bundle.href)) as typeof Plughost;
const { createPlugin, createPool } = api;

const plugin = (name: string) => join(repoRoot, 'build', 'plugins', `${name}.wasm`);
const fixture = (name: string) => join(repoRoot, 'build', 'fixtures', `${name}.wasm`);

const MODES = [
  ['main', {}],
  ['worker', { runInWorker: true }],
] as const satisfies readonly (readonly [string, PluginOptions])[];

/** Which runtime this is. Bun also fills process.versions.node (and .v8), so it is asked first. */
function runtimeName(): string {
  const versions = process.versions as Record<string, string | undefined>;
  if (versions.bun !== undefined) return `Bun ${versions.bun}`;
  if (versions.deno !== undefined) return `Deno ${versions.deno}`;
  return `Node ${versions.node}`;
}

/** What the runtime offers, as the first line of the output says. */
const features = {
  runtime: runtimeName(),
  jspi: typeof (WebAssembly as unknown as { Suspending?: unknown }).Suspending === 'function',
};

const tests: Test[] = sharedCases({
  api,
  modes: MODES,
  jspi: features.jspi,
  runtimeName: runtimeName(),
  plugin,
  fixture,
  fixtureBytes: async (name) => readFileSync(fixture(name)),
  httpBase: process.env.PLUGHOST_RUNTIMES_HTTP,
});
/** Register a test of this suite alone; names start with their area in brackets, which the script's table reads. */
const test = (name: string, run: () => Promise<void>) => void tests.push({ name, run });

const using = scoped(createPlugin);

// ------------------------------------------------------------------ WASI with files (a browser has none)

for (const [mode, options] of MODES) {
  test(`[${mode}] [wasi] reads and writes a mounted temp dir, and cannot leave it`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plughost-runtimes-'));
    try {
      mkdirSync(join(dir, 'rw'));
      mkdirSync(join(dir, 'ro'));
      writeFileSync(join(dir, 'ro', 'hello.txt'), 'read me');
      writeFileSync(join(dir, 'secret.txt'), 'outside');
      const lines: string[] = [];
      const allowedPaths = { [join(dir, 'rw')]: '/data', [`ro:${join(dir, 'ro')}`]: '/static' };
      await using(plugin('wasi-files'), { ...options, useWasi: true, allowedPaths, wasiStdout: (line: string) => void lines.push(line) }, async (p) => {
        assert.equal((await p.call('read_file', '/static/hello.txt'))?.text(), 'read me');
        assert.equal((await p.call('write_file', JSON.stringify({ path: '/data/out.txt', content: 'written' })))?.text(), 'ok');
        assert.equal(readFileSync(join(dir, 'rw', 'out.txt'), 'utf8'), 'written');
        assert.equal((await p.call('list_dir', '/static'))?.text(), 'hello.txt');
        await rejection(p.call('write_file', JSON.stringify({ path: '/static/hello.txt', content: 'x' })));
        assert.equal(readFileSync(join(dir, 'ro', 'hello.txt'), 'utf8'), 'read me');
        await rejection(p.call('read_file', '/data/../secret.txt'));
        assert.equal((await p.call('hello_stdout'))?.text(), 'done');
        assert.deepEqual(lines, ['hello from wasi']);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('[main] the package name resolves to the Node bundle here, not the browser one', async () => {
  // Deno and Bun set no `browser` export condition; if one did, it would get a build without files or workers.
  assert.equal(import.meta.resolve('plughost'), bundle.href);
});

// ---------------------------------------------------------------- worker-only behaviour

test('[worker] an async host function awaits this thread’s event loop while the guest waits', () =>
  using(
    plugin('host-echo'),
    {
      runInWorker: true,
      functions: {
        'extism:host/user': {
          async echo(ctx: CallContext, h: number) {
            const text = ctx.read(h)!.text();
            await new Promise<void>((resolve) => setTimeout(resolve, 0));
            ctx.setVariable('last', text);
            return ctx.store(`${text}, awaited`);
          },
        },
      },
    },
    async (p) => {
      assert.equal((await p.call('echo_via_host', 'one'))?.text(), 'one, awaited');
      assert.equal((await p.call('echo_via_host', 'two'))?.text(), 'two, awaited');
    },
  ));

test('[worker] a pool of two workers answers overlapping calls, each with its own output', async () => {
  const pool = await createPool(plugin('count-vowels'), { size: 2 });
  try {
    const inputs = ['a', 'aa', 'aaa', 'aaaa', 'aaaaa', 'aaaaaa'];
    const outputs = await Promise.all(inputs.map((input) => pool.call('count_vowels', input)));
    assert.deepEqual(
      outputs.map((out) => out?.json().count),
      inputs.map((input) => input.length),
    );
  } finally {
    await pool.close();
  }
});

// ------------------------------------------------------------------ the runner

console.log(`features\t${JSON.stringify(features)}`);
const failed = await runTests(tests, (line) => console.log(line), process.env.PLUGHOST_RUNTIMES_ONLY);
// Explicitly: an idle helper worker or timer must not decide when (or whether) this process ends.
process.exit(failed === 0 ? 0 : 1);
