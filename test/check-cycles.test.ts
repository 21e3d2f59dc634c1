// scripts/check-cycles.mjs, which `npm test` runs over src/: it fails naming every import cycle,
// one made only of `import type` included.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { repoRoot } from './helpers.js';
import { scriptCheck } from './script-check.js';

describe('check-cycles', () => {
  const { check, project } = scriptCheck('check-cycles.mjs');

  it('passes on src/', async () => {
    const r = await check(`${repoRoot}/src`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /no import cycle in \d+ modules/);
  });

  it('fails naming a cycle through a value import, also across folders and through three modules', async () => {
    const base = await project('value', {
      'a.ts': `import { b } from './sub/b.js';\nexport const a = b + 1;\n`,
      'sub/b.ts': `import type { C } from '../c.js';\nexport const b: C = 2;\n`,
      'c.ts': `/** import { a } from './a.js' in a comment is no import */\nexport type { A } from './a.js';\nexport type C = number;\n`,
      'free.ts': `import { a } from './a.js';\nexport const f = a;\n`,
    });
    const r = await check(base);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /1 import cycle in /);
    assert.match(r.stderr, /\n {2}a\.ts → sub\/b\.ts → c\.ts → a\.ts \(3 modules in the cycle: a\.ts, c\.ts, sub\/b\.ts\)\n/);
    assert.doesNotMatch(r.stderr, /free\.ts/);
  });

  it('fails on a cycle made only of type imports, in each of their forms', async () => {
    const base = await project('types', {
      'a.ts': `import type { B } from './b.js';\nexport interface A { b: B }\n`,
      'b.ts': `import { type C } from './c.js';\nexport interface B { c: C }\n`,
      'c.ts': `export type { A } from './a.js';\nexport type C = number;\n`,
    });
    const r = await check(base);
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, /\n {2}a\.ts → b\.ts → c\.ts → a\.ts \(3 modules in the cycle: a\.ts, b\.ts, c\.ts\)\n/);
  });

  it('passes on imports that form no cycle, dynamic import() included', async () => {
    const base = await project('acyclic', {
      'a.ts': `import type { B } from './b.js';\nexport const a = (b: B) => b;\n`,
      'b.ts': `export type B = number;\nexport const later = () => import('./a.js');\n`,
    });
    const r = await check(base);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /no import cycle in 2 modules/);
  });
});
