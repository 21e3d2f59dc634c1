// The browser bundle (dist/bundle/browser.js, the `browser` export condition): nothing in it,
// or in any file it can load (a worker beside it), may need Node: no `node:` module, no
// `process` or `Buffer` global. esbuild reads each file as a browser bundler would: an import
// it cannot resolve fails the build, and `define` swaps each free reference to a Node global
// (not a property or a string of that name) for a marker we then look for; `node:` imports are
// kept external and listed.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './helpers.js';

const bundleDir = join(repoRoot, 'dist', 'bundle');
const NODE_GLOBALS = ['process', 'Buffer', 'require', '__filename', '__dirname', 'global', 'setImmediate'];
const marker = (name: string) => `__plughost_node_global_${name}__`;

/** The files the browser bundle can load: itself, and every sibling it names by `new URL('./x.js', import.meta.url)` or `import('./x.js')`, transitively. */
function reachableFiles(entry: string): string[] {
  const reached = [entry];
  for (let i = 0; i < reached.length; i++) {
    const text = readFileSync(join(bundleDir, reached[i]!), 'utf8');
    const siblings = [
      ...text.matchAll(/new URL\(\s*["']\.\/([\w.-]+\.m?js)["']\s*,\s*import\.meta\.url\s*\)/g),
      ...text.matchAll(/import\(\s*["']\.\/([\w.-]+\.m?js)["']\s*\)/g),
    ].map((m) => m[1]!);
    for (const sibling of siblings) if (!reached.includes(sibling)) reached.push(sibling);
  }
  return reached;
}

/** How a bundler builds for a page: one module in memory, with the metadata of what went in. */
const BROWSER_BUILD = { bundle: true, write: false, format: 'esm', platform: 'browser', logLevel: 'silent', metafile: true } as const;

/** What in `file` needs Node: unresolvable imports (a `node:` module, a package) and free references to Node's globals. */
async function nodeNeeds(file: string): Promise<string[]> {
  const { build } = await import('esbuild');
  const found: string[] = [];
  try {
    const result = await build({
      ...BROWSER_BUILD,
      entryPoints: [join(bundleDir, file)],
      // siblings are checked on their own; node: modules are listed rather than failing the build
      external: ['./*', 'node:*'],
      define: Object.fromEntries(NODE_GLOBALS.map((name) => [name, marker(name)])),
    });
    for (const output of Object.values(result.metafile.outputs))
      for (const imported of output.imports) if (imported.path.startsWith('node:')) found.push(`an import of ${imported.path}`);
    const output = result.outputFiles[0]!.text;
    for (const name of NODE_GLOBALS) if (output.includes(marker(name))) found.push(`the global ${name}`);
  } catch (err) {
    const errors = (err as { errors?: { text: string }[] }).errors ?? [{ text: String(err) }];
    for (const error of errors) found.push(error.text);
  }
  return found;
}

test('the browser bundle, and every file it can load, imports no node: module and names no Node global (process, Buffer...)', async () => {
  assert.ok(existsSync(join(bundleDir, 'browser.js')), 'dist/bundle/browser.js is not built');
  const files = reachableFiles('browser.js');
  assert.ok(files.includes('browser-worker.js'), `the worker of runInWorker is not among the files found: ${files.join(', ')}`);
  for (const file of files) assert.deepEqual(await nodeNeeds(file), [], `dist/bundle/${file} needs Node`);
});

test('the check sees a node: import and a Node global where there is one (the Node bundle)', async () => {
  const needs = await nodeNeeds('index.js');
  assert.ok(
    needs.some((need) => /node:/.test(need)),
    `no node: import found in the Node bundle: ${needs.join('; ')}`,
  );
  assert.ok(needs.includes('the global process'), `no process found in the Node bundle: ${needs.join('; ')}`);
});

test('the browser bundle exports the same names as the Node entry (the package ships one set of declarations for both)', async () => {
  const browser = await import(join(bundleDir, 'browser.js'));
  const node = await import(join(repoRoot, 'build', 'src', 'index.js'));
  assert.deepEqual(Object.keys(browser).sort(), Object.keys(node).sort());
});

test('a bundler building for the browser resolves the package name to the browser bundle (the `browser` export condition)', async () => {
  const { build } = await import('esbuild');
  const result = await build({
    ...BROWSER_BUILD,
    stdin: { contents: "import createPlugin from 'plughost'; console.log(createPlugin);", resolveDir: repoRoot, sourcefile: 'page.js' },
    absWorkingDir: repoRoot,
  });
  const inputs = Object.keys(result.metafile.inputs).filter((input) => input !== 'page.js');
  assert.deepEqual(inputs, ['dist/bundle/browser.js']);
});
