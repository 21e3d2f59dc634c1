// The package as npm publishes it: `npm pack` into a temporary folder, checked with publint and
// @arethetypeswrong/cli (offline, on the tarball), its declarations searched for internals,
// then installed from the tarball into a fresh project where a CommonJS file, a .cts and an
// .mts file use it as a user would.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { consumerTsconfig, pluginPath, repoRoot } from './helpers.js';

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** Run a command; its status and output whether it fails or not. */
function exec(command: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { cwd, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') reject(err);
      else resolve({ status: child.exitCode ?? -1, stdout, stderr });
    });
  });
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const bin = (name: string) => join(repoRoot, 'node_modules', '.bin', name);

describe('the published package', () => {
  let work: string;
  let tarball: string;
  let files: { path: string; size: number }[];
  let project: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'plughost-package-'));
    // --ignore-scripts: `prepare` would build again; npm test has just built.
    const pack = await exec(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', work], repoRoot);
    assert.equal(pack.status, 0, pack.stderr);
    const [report] = JSON.parse(pack.stdout) as { filename: string; files: { path: string; size: number }[] }[];
    tarball = join(work, report!.filename);
    files = report!.files;
    project = join(work, 'project');
    await exec('mkdir', ['-p', project], work);
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    // From the tarball alone: plughost has no dependencies, so nothing is fetched.
    const install = await exec(npm, ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], project);
    assert.equal(install.status, 0, install.stderr);
  });

  after(() => rm(work, { recursive: true, force: true }));

  it('ships the bundles, the public declarations and the LICENSE, and no source maps', () => {
    const paths = files.map((f) => f.path).sort();
    assert.deepEqual(
      paths.filter((p) => !p.startsWith('dist/types/')),
      [
        'LICENSE',
        'README.md',
        'dist/bundle/bin.js',
        'dist/bundle/browser-worker.js',
        'dist/bundle/browser.js',
        'dist/bundle/fetch-worker.js',
        'dist/bundle/index.cjs',
        'dist/bundle/index.js',
        'dist/bundle/worker-main.js',
        'package.json',
      ],
    );
    assert.ok(paths.includes('dist/types/index.d.ts') && paths.includes('dist/types/index.d.cts'));
    assert.ok(paths.every((p) => !p.endsWith('.map')));
  });

  it('has a LICENSE saying what package.json says', async () => {
    const license = await readFile(join(project, 'node_modules', 'plughost', 'LICENSE'), 'utf8');
    assert.match(license, /^BSD 3-Clause License\n\nCopyright \(c\) \d{4}, the plughost authors\n/);
    const pkg = JSON.parse(await readFile(join(project, 'node_modules', 'plughost', 'package.json'), 'utf8')) as { license: string };
    assert.equal(pkg.license, 'BSD-3-Clause');
  });

  it('has a bin that imports the library bundle instead of carrying a copy', async () => {
    const cli = files.find((f) => f.path === 'dist/bundle/bin.js')!;
    const library = files.find((f) => f.path === 'dist/bundle/index.js')!;
    assert.ok(cli.size < library.size / 3, `bin.js is ${cli.size} bytes, index.js ${library.size}`);
    const source = await readFile(join(project, 'node_modules', 'plughost', 'dist', 'bundle', 'bin.js'), 'utf8');
    assert.match(source, /from "\.\/index\.js"/);
    assert.doesNotMatch(source, /class PluginCallError\b/);
  });

  it('passes publint', async () => {
    const r = await exec(bin('publint'), ['run', '--strict', tarball], work);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /All good/);
  });

  it('passes @arethetypeswrong/cli (ESM, CommonJS, node10 and bundler resolution)', async () => {
    const r = await exec(bin('attw'), [tarball, '--format', 'ascii'], work);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /No problems found/);
  });

  it('declares the public API only: no internal module or type is named', async () => {
    const typesDir = join(project, 'node_modules', 'plughost', 'dist', 'types');
    const names = await readdir(typesDir);
    assert.ok(names.length <= 14, `${names.length} declaration files: ${names.join(', ')}`);
    for (const name of names) {
      // Declarations, not prose: index.d.ts's doc comment may say that internal/ is private.
      const text = (await readFile(join(typesDir, name), 'utf8')).replace(/\/\*[\s\S]*?\*\//g, '');
      for (const internal of ['PluginBackend', 'WorkerBackend', 'internal/', 'EngineOptions', 'CallContextHost', 'startWorker', 'LoadedModule']) {
        assert.ok(!text.includes(internal), `${name} names ${internal}`);
      }
    }
    // A class whose constructor is plughost's own says so, rather than offering `new Plugin()`.
    assert.match(await readFile(join(typesDir, 'plugin.d.ts'), 'utf8'), /export declare class Plugin \{\n(\s*#private;\n)?\s*private constructor\(\);/);
  });

  it('works from CommonJS: require returns createPlugin with the named exports on it, on the main thread and in a worker', async () => {
    await writeFile(
      join(project, 'consumer.cjs'),
      `const createPlugin = require('plughost');
       const { createPool, PluginCallError, newPlugin } = require('plughost');
       (async () => {
         const lines = [typeof createPlugin, typeof createPool, typeof PluginCallError, String(createPlugin.default === createPlugin), String(newPlugin === createPlugin)];
         for (const runInWorker of [false, true]) {
           const plugin = await createPlugin(${JSON.stringify(pluginPath('count-vowels'))}, { runInWorker, config: { vowels: 'aeiou' } });
           lines.push((await plugin.call('count_vowels', 'Hello, World!')).text());
           await plugin.close();
         }
         console.log(lines.join('\\n'));
       })();\n`,
    );
    const r = await exec(process.execPath, ['consumer.cjs'], project);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), [
      'function',
      'function',
      'function',
      'true',
      'true',
      '{"count":3,"total":3,"vowels":"aeiou"}',
      '{"count":3,"total":3,"vowels":"aeiou"}',
    ]);
  });

  it('type-checks a .cts and an .mts consumer (no @types/node), and refuses new Plugin()', async () => {
    await writeFile(join(project, 'tsconfig.json'), consumerTsconfig(['consumer.cts', 'consumer.mts']));
    await writeFile(
      join(project, 'consumer.cts'),
      `import plughost = require('plughost');
       import createPlugin = require('plughost');
       const { createPool, PluginCallError } = plughost;
       export async function main(): Promise<void> {
         const plugin: plughost.Plugin = await createPlugin('p.wasm', { runInWorker: true, config: { k: 'v' } });
         const out: plughost.PluginOutput | null = await plugin.call('f', 'in');
         const pool: plughost.Pool = await createPool('p.wasm', { size: 2 });
         const options: plughost.PluginOptions = { useWasi: true, fuel: 10 };
         try {
           await plughost.createPlugin('p.wasm', options);
         } catch (err) {
           if (err instanceof PluginCallError) console.log(err.exitCode, err.code satisfies plughost.PlughostErrorCode);
         }
         console.log(out, pool);
       }
       // @ts-expect-error plughost's own constructor
       new plughost.Plugin();\n`,
    );
    await writeFile(
      join(project, 'consumer.mts'),
      `import createPlugin, { createPool, type Plugin } from 'plughost';
       import * as plughost from 'plughost';
       const plugin: Plugin = await createPlugin('p.wasm');
       // @ts-expect-error plughost's own constructor
       new plughost.Plugin();
       export { plugin, createPool };\n`,
    );
    const r = await exec(bin('tsc'), ['-p', project], project);
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it('installs the plughost command', async () => {
    const installed = join(project, 'node_modules', '.bin', 'plughost');
    assert.ok((await stat(installed)).isFile());
    const r = await exec(installed, ['call', pluginPath('count-vowels'), 'count_vowels', '-i', 'Hello, World!'], project);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '{"count":3,"total":3,"vowels":"aeiouAEIOU"}');
  });
});
