// scripts/check-cycles.mjs, which `npm test` runs over src/: it fails naming every import cycle,
// one made only of `import type` included.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { repoRoot } from './helpers.js';

const exec = promisify(execFile);
const script = join(repoRoot, 'scripts', 'check-cycles.mjs');

async function check(dir: string): Promise<{ status: number; stdout: string; stderr: string }> {
  return exec(process.execPath, [script, dir]).then(
    ({ stdout, stderr }) => ({ status: 0, stdout, stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({ status: err.code, stdout: err.stdout, stderr: err.stderr }),
  );
}

describe('check-cycles', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'plughost-cycles-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function project(name: string, files: Record<string, string>): Promise<string> {
    const base = join(dir, name);
    for (const [path, source] of Object.entries(files)) {
      await mkdir(join(base, path, '..'), { recursive: true });
      await writeFile(join(base, path), source);
    }
    return base;
  }

  it('passes on src/', async () => {
    const r = await check(join(repoRoot, 'src'));
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
