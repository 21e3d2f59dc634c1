// The files the package ships: dist/bundle/ (scripts/build.mjs), one file per entry point.
// Every other test runs the unbundled build; these import the package by its name, as a user
// does, in a child process, and reach each place where the bundle finds a sibling file: the
// worker of runInWorker, the HTTP helper of a main-thread plug-in, and the CLI.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { assemble, consumerTsconfig, fixturePath, pluginPath, repoRoot } from './helpers.js';

const run = promisify(execFile);

/** Run an ES module script in a child process whose directory is the package's, so that `import('plughost')` finds the package itself. */
async function script(source: string): Promise<string> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', source], { cwd: repoRoot });
  return stdout.trim();
}

describe('the bundled package', () => {
  let server: Server;
  let url: string;
  before(async () => {
    server = createServer((_req, res) => res.end('hello from 127.0.0.1'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const countVowels = JSON.stringify(pluginPath('count-vowels'));
  const config = `{ config: { vowels: 'aeiouAEIOU' } }`;

  it('is what the package name resolves to', async () => {
    assert.equal(await script(`console.log(import.meta.resolve('plughost'))`), `file://${join(repoRoot, 'dist', 'bundle', 'index.js')}`);
  });

  it('exports every name the sources export, the default export included', async () => {
    const names = (specifier: string) => script(`const m = await import(${JSON.stringify(specifier)}); console.log(Object.keys(m).sort().join(','))`);
    const bundled = await names('plughost');
    assert.equal(bundled, await names(join(repoRoot, 'build', 'src', 'index.js')));
    assert.ok(bundled.split(',').includes('default'));
  });

  it('runs a plug-in on the main thread and in a worker', async () => {
    const out = await script(`
      import { createPlugin } from 'plughost';
      for (const runInWorker of [false, true]) {
        const plugin = await createPlugin(${countVowels}, { ...${config}, runInWorker });
        console.log((await plugin.call('count_vowels', 'Hello, World!')).text());
        await plugin.close();
      }`);
    assert.deepEqual(out.split('\n'), ['{"count":3,"total":3,"vowels":"aeiouAEIOU"}', '{"count":3,"total":3,"vowels":"aeiouAEIOU"}']);
  });

  it('makes HTTP requests from a main-thread plug-in (through its helper worker)', async () => {
    const out = await script(`
      import { createPlugin } from 'plughost';
      const plugin = await createPlugin(${JSON.stringify(fixturePath('http-fetch'))}, { allowedHosts: ['127.0.0.1'] });
      console.log((await plugin.call('fetch', JSON.stringify({ url: ${JSON.stringify(url)} }))).text());
      await plugin.close();`);
    assert.equal(out, 'hello from 127.0.0.1');
  });

  it('has declarations that type-check in a project without @types/node', async () => {
    // Inside the package, so that 'plughost' resolves to itself through "exports"."types".
    const dir = join(repoRoot, 'build', 'consumer-types');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'tsconfig.json'), consumerTsconfig(['consumer.ts']));
    writeFileSync(
      join(dir, 'consumer.ts'),
      `import createPlugin, { createPool, PluginError, type CallContext, type Plugin } from 'plughost';
       const plugin: Plugin = await createPlugin({ wasm: [{ path: 'p.wasm' }] }, {
         functions: { 'extism:host/user': { double: (ctx: CallContext, n: number) => n * 2 } },
       });
       const size: number | undefined = (await plugin.call('f', 'in'))?.byteLength;
       export { size, createPool, PluginError };\n`,
    );
    const tsc = join(repoRoot, 'node_modules', '.bin', 'tsc');
    const result = await run(tsc, ['-p', dir]).then(
      () => '',
      (err: { stdout?: string }) => err.stdout ?? String(err),
    );
    assert.equal(result, '');
  });

  it('is the CLI the package installs', async () => {
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string; bin: { plughost: string } };
    const bin = join(repoRoot, manifest.bin.plughost);
    assert.equal(bin, join(repoRoot, 'dist', 'bundle', 'bin.js'));
    const { stdout } = await run(process.execPath, [bin, 'call', pluginPath('count-vowels'), 'count_vowels', '--input', 'Hello, World!']);
    assert.equal(stdout, '{"count":3,"total":3,"vowels":"aeiouAEIOU"}');
    const version = await run(process.execPath, [bin, '--version']);
    assert.equal(version.stdout, `plughost ${manifest.version}\n`);
  });

  it("keeps errors' names and classes through a minifier that renames classes, across a worker", async () => {
    // A user's bundler run over plughost: every class renamed (esbuild's minify, no keepNames).
    const dir = join(repoRoot, 'build', 'minified');
    rmSync(dir, { recursive: true, force: true });
    const { build } = await import('esbuild');
    await build({
      entryPoints: {
        index: join(repoRoot, 'dist', 'index.js'),
        'worker-main': join(repoRoot, 'dist', 'internal', 'platform', 'node', 'worker-main.js'),
        'fetch-worker': join(repoRoot, 'dist', 'internal', 'platform', 'node', 'http', 'fetch-worker.js'),
      },
      outdir: dir,
      bundle: true,
      minify: true,
      platform: 'node',
      format: 'esm',
      logLevel: 'error',
    });
    const minified = readFileSync(join(dir, 'index.js'), 'utf8');
    assert.doesNotMatch(minified, /class PluginCallError\b/, 'the minifier kept the class names: this test would prove nothing');
    const wasm = await assemble(`(module (func (export "exit_7") (result i32) (i32.const 7)) (func (export "spin") (loop $l (br $l))))`);
    const out = await script(`
      import * as plughost from ${JSON.stringify(join(dir, 'index.js'))};
      const wasm = new Uint8Array(${JSON.stringify([...wasm])});
      const seen = [];
      for (const runInWorker of [false, true]) {
        const plugin = await plughost.createPlugin({ wasm: [{ data: wasm }] }, { runInWorker, timeoutMs: 200 });
        for (const [fn, Class] of [['exit_7', plughost.PluginCallError], ['spin', plughost.TimeoutError], ['absent', plughost.FunctionNotFoundError]]) {
          const err = await plugin.call(fn).then(() => null, (e) => e);
          seen.push([runInWorker, err.name, err.code, err instanceof Class, err instanceof plughost.PlughostError].join(' '));
        }
        await plugin.close();
      }
      const manifest = await plughost.createPlugin({ wasm: [] }).catch((e) => e);
      seen.push([manifest.name, manifest instanceof plughost.ManifestError].join(' '));
      console.log(seen.join('\\n'));`);
    assert.deepEqual(out.split('\n'), [
      'false PluginCallError PLUGHOST_CALL true true',
      'false TimeoutError PLUGHOST_TIMEOUT true true',
      'false FunctionNotFoundError PLUGHOST_FUNCTION_NOT_FOUND true true',
      'true PluginCallError PLUGHOST_CALL true true',
      'true TimeoutError PLUGHOST_TIMEOUT true true',
      'true FunctionNotFoundError PLUGHOST_FUNCTION_NOT_FOUND true true',
      'ManifestError true',
    ]);
  });
});
