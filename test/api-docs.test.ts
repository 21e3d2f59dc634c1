// The shipped declarations (dist/types/, what an editor shows a user) carry a doc comment on
// every declaration and every member of the public API: a name added without one fails here.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { repoRoot } from './helpers.js';

const typesDir = join(repoRoot, 'dist', 'types');

/** A declaration or member line: `export class X`, `readonly code: ...`, `call<T>(...)`, `get size(): ...`. */
const DECLARATION =
  /^(export (declare )?(default )?(abstract )?(function|class|interface|type|const)\b|(readonly |get |set |static |override )*[A-Za-z_$][\w$]*\??[(<:])/;

/**
 * Lines that need no comment of their own: a constructor (its class says what it is), a setter
 * (its getter's comment covers it), a re-export (its declaration is checked where it is), and
 * and the fields of an object type written inside a parameter list (a constructor's options).
 */
const EXEMPT = /^(private constructor|constructor\(|set |export type \{|export \{|export \*)/;

/** Each declaration line of a .d.ts file that no `/** ... *\/` comment ends right above. */
function undocumented(text: string): string[] {
  const lines = text.split('\n').map((line) => line.trim());
  const missing: string[] = [];
  let inComment = false;
  let commentEnd = -2;
  let depthInParams = 0;
  lines.forEach((line, at) => {
    if (line.startsWith('/**')) inComment = true;
    if (inComment) {
      if (line.includes('*/')) {
        inComment = false;
        commentEnd = at;
      }
      return;
    }
    const inParams = depthInParams > 0;
    depthInParams += (line.match(/\(/g)?.length ?? 0) - (line.match(/\)/g)?.length ?? 0);
    if (inParams || !DECLARATION.test(line) || EXEMPT.test(line)) return;
    if (commentEnd !== at - 1) missing.push(line);
  });
  return missing;
}

it('documents every declaration and member of the public API in the shipped types', () => {
  const files = readdirSync(typesDir).filter((name) => name.endsWith('.d.ts'));
  assert.ok(files.includes('index.d.ts'), `no index.d.ts in ${typesDir}: build first`);
  const missing = files.flatMap((name) => undocumented(readFileSync(join(typesDir, name), 'utf8')).map((line) => `${name}: ${line}`));
  assert.deepEqual(missing, []);
});
