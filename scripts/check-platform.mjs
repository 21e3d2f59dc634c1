#!/usr/bin/env node
// Fails when a module of the core imports a platform: a Node built-in (`node:fs`, or `fs`) or a
// platform adapter (anything in a folder under internal/platform/), by value or by type, in an
// import, an export ... from, an `import()` (a type's or a dynamic one) or a `require()`; or
// reaches for Node's globals (`process.…`, `Buffer`, `__dirname`, `__filename`), which a
// browser does not have. The
// core gets its platform handed in from the top (internal/platform/platform.ts says what it
// holds), so the same core runs on Node and in a browser. Only the adapters themselves and the
// entries that bind one (index.ts, browser.ts, cli/) may import a platform.
//
// Usage: node scripts/check-platform.mjs [folder]   (default: src/ of this repository)
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Files (relative to the folder checked, `/`-separated) that may import a platform: the entries and the adapters. */
const MAY_IMPORT_A_PLATFORM = [/^index\.ts$/, /^browser\.ts$/, /^cli\//, /^internal\/platform\/[^/]+\//];

/** A module inside an adapter's folder: internal/platform/<name>/... (platform.ts beside them is the interface, free to import). */
const ADAPTER = /^internal\/platform\/[^/]+\//;

const BUILTINS = new Set(builtinModules);

// `import x from 's'`, `import type { X } from 's'`, `export { x } from 's'`, `import 's'`,
// `import('s')`, `require('s')`.
const SPECIFIERS = [
  /(?:^|[;\n}])\s*(?:import|export)\s+(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/g,
  /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  /\brequire\(\s*['"]([^'"]+)['"]\s*\)/g,
];

/** Comments removed, so that an import quoted in a doc comment is not taken for one. */
function withoutComments(source) {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

/** Node's globals, outside comments. */
const NODE_GLOBALS = /\b(process\.\w+|Buffer\b|__dirname|__filename)/g;

/** Every specifier `source` imports, in order. */
export function specifiersOf(source) {
  const text = withoutComments(source);
  return SPECIFIERS.flatMap((pattern) => [...text.matchAll(pattern)].map((m) => m[1]));
}

/** Why importing `specifier` from `file` (both relative to `dir`) reaches a platform, or undefined when it does not. */
export function platformImport(file, specifier) {
  if (specifier.startsWith('node:') || BUILTINS.has(specifier.split('/')[0])) return `a Node built-in (${specifier})`;
  if (!specifier.startsWith('.')) return undefined;
  const target = join(dirname(file), specifier).split(sep).join('/').replace(/\.js$/, '.ts');
  return ADAPTER.test(target) ? `a platform adapter (${target})` : undefined;
}

/** Every `file: why` where a module of `dir` that may not import a platform does. */
export function violations(dir) {
  const found = [];
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => f.split(sep).join('/'))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .sort();
  for (const file of files) {
    if (MAY_IMPORT_A_PLATFORM.some((allowed) => allowed.test(file))) continue;
    const source = readFileSync(join(dir, file), 'utf8');
    for (const specifier of specifiersOf(source)) {
      const why = platformImport(file, specifier);
      if (why !== undefined) found.push(`${file} imports ${why}`);
    }
    for (const [name] of withoutComments(source).matchAll(NODE_GLOBALS)) found.push(`${file} uses Node's global ${name}`);
  }
  return { files: files.length, found };
}

function main() {
  const dir = resolve(process.argv[2] ?? join(root, 'src'));
  const { files, found } = violations(dir);
  if (found.length > 0) {
    console.error(`check-platform: ${found.length} use${found.length === 1 ? '' : 's'} of a platform in the core (${relative(root, dir) || dir}):`);
    for (const line of found) console.error(`  ${line}`);
    console.error(
      'check-platform: the core gets its platform handed in (internal/platform/platform.ts); add what it needs there, implement it in each adapter, and reach it through the Platform it is given',
    );
    process.exit(1);
  }
  console.log(`check-platform: no platform imported by the core in ${files} modules`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
