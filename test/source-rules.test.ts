// Rules of the house that the compiler does not check, held over every file of src/.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from './helpers.js';

const srcDir = join(repoRoot, 'src');
const sources = readdirSync(srcDir, { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.ts') && !file.endsWith('.generated.ts'))
  .map((file) => ({ file, text: readFileSync(join(srcDir, file), 'utf8') }));

describe('source rules', () => {
  it('reads the sources it checks', () => {
    assert.ok(sources.length > 50, `only ${sources.length} files found under ${srcDir}`);
  });

  it('fakes no type with `as unknown as` (a small interface, a type guard or a typed helper instead)', () => {
    const offenders = sources.flatMap(({ file, text }) =>
      text.split('\n').flatMap((line, i) => (/\bas unknown as\b/.test(line) ? [`src/${file}:${i + 1}: ${line.trim()}`] : [])),
    );
    assert.deepEqual(offenders, []);
  });
});
