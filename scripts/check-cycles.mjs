#!/usr/bin/env node
// Fails when the modules of src/ import each other in a cycle, naming every cycle found.
// Every static import counts, `import type` included: a cycle of value imports makes which half
// runs first depend on who is imported first, and a cycle of type imports, though erased at
// compile time, still means neither module can be understood (or moved) without the other: the
// shared type belongs in one of them, or in a module of its own both import. Dynamic `import()`
// does not count: it is how a module loads another lazily, on purpose.
//
// Usage: node scripts/check-cycles.mjs [folder]   (default: src/ of this repository)
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Cycles known and being removed, each as its modules (paths relative to the folder checked,
 * in any order). Keep this list empty: an entry is a debt with a name on it, not a licence.
 */
// Cycles tolerated for now, each with the reason; none today.
const ALLOWED_CYCLES = [];

/** Every .ts file under `dir` (declaration files excluded), as absolute paths. */
function sourceFiles(dir) {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => join(dir, f));
}

// `import ... from './x.js'`, `export ... from './x.js'`, `import './x.js'`: the static forms.
const STATIC_IMPORT = /(?:^|[;\n])\s*(?:import|export)\s+(?:[^'";]*?\sfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]/g;

/** Comments removed, so that an import quoted in a doc comment is not taken for one. */
function withoutComments(source) {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

/** The modules `file` imports statically (types or values), as absolute .ts paths. */
export function importsOf(file, source) {
  const targets = new Set();
  for (const [, specifier] of withoutComments(source).matchAll(STATIC_IMPORT)) {
    targets.add(resolve(dirname(file), specifier).replace(/\.js$/, '.ts'));
  }
  return targets;
}

/** The import graph of `dir`: module → modules it imports (only those inside `dir`). */
export function importGraph(dir) {
  const files = sourceFiles(dir);
  const known = new Set(files);
  const graph = new Map();
  for (const file of files) {
    graph.set(
      file,
      [...importsOf(file, readFileSync(file, 'utf8'))].filter((target) => known.has(target)),
    );
  }
  return graph;
}

/**
 * The strongly connected components of more than one module (or a module importing itself),
 * Tarjan's algorithm, iterative so a deep graph cannot overflow the stack.
 */
export function cyclicComponents(graph) {
  const index = new Map();
  const low = new Map();
  const onStack = new Set();
  const stack = [];
  const components = [];
  let counter = 0;
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work = [[start, 0]];
    index.set(start, counter);
    low.set(start, counter++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const [node, next] = frame;
      const edges = graph.get(node) ?? [];
      if (next < edges.length) {
        frame[1]++;
        const target = edges[next];
        if (!index.has(target)) {
          index.set(target, counter);
          low.set(target, counter++);
          stack.push(target);
          onStack.add(target);
          work.push([target, 0]);
        } else if (onStack.has(target)) {
          low.set(node, Math.min(low.get(node), index.get(target)));
        }
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1][0];
        low.set(parent, Math.min(low.get(parent), low.get(node)));
      }
      if (low.get(node) === index.get(node)) {
        const component = [];
        let member;
        do {
          member = stack.pop();
          onStack.delete(member);
          component.push(member);
        } while (member !== node);
        if (component.length > 1 || (graph.get(node) ?? []).includes(node)) components.push(component.sort());
      }
    }
  }
  return components;
}

/** One concrete cycle through `component`, as a path that ends where it starts. */
export function cycleThrough(graph, component) {
  const members = new Set(component);
  const start = component[0];
  // Breadth-first from start back to start, inside the component: the shortest cycle.
  const previous = new Map();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift();
    for (const target of graph.get(node) ?? []) {
      if (!members.has(target)) continue;
      if (target === start) {
        const path = [start];
        for (let at = node; at !== start; at = previous.get(at)) path.unshift(at);
        path.unshift(start);
        return path;
      }
      if (!previous.has(target)) {
        previous.set(target, node);
        queue.push(target);
      }
    }
  }
  return [start, start];
}

function main() {
  const dir = resolve(process.argv[2] ?? join(root, 'src'));
  const name = (file) => relative(dir, file).split(sep).join('/');
  const graph = importGraph(dir);
  const allowed = new Set(ALLOWED_CYCLES.map((cycle) => [...cycle].sort().join(' ')));
  const failures = [];
  const tolerated = [];
  for (const component of cyclicComponents(graph)) {
    const names = component.map(name);
    const path = cycleThrough(graph, component).map(name).join(' → ');
    if (allowed.has([...names].sort().join(' '))) tolerated.push(path);
    else failures.push(names.length > 2 ? `${path} (${names.length} modules in the cycle: ${names.join(', ')})` : path);
  }
  for (const path of tolerated) console.log(`check-cycles: allowed, being removed: ${path}`);
  for (const cycle of ALLOWED_CYCLES) {
    const members = new Set(cycle);
    if (!tolerated.some((path) => path.split(' → ').every((m) => members.has(m)))) {
      console.log(`check-cycles: the allowed cycle ${cycle.join(' ↔ ')} is gone: remove it from ALLOWED_CYCLES`);
    }
  }
  if (failures.length > 0) {
    console.error(`check-cycles: ${failures.length} import cycle${failures.length === 1 ? '' : 's'} in ${name(dir) || dir}:`);
    for (const failure of failures) console.error(`  ${failure}`);
    console.error('check-cycles: break each one (move the shared part into a module both can import)');
    process.exit(1);
  }
  console.log(`check-cycles: no import cycle in ${graph.size} modules${tolerated.length > 0 ? ` (but the ${tolerated.length} allowed above)` : ''}`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
