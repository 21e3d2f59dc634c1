// Each example is run the way its header says (`node build/examples/NAME.js`), in a child
// process, so a broken import path or a missing build step fails here as it would for a reader.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { repoRoot } from './helpers.js';

const run = promisify(execFile);

const examples: { name: string; what: string; stdout: string[] }[] = [
  {
    name: 'count-vowels',
    what: 'counts the vowels three times and the total grows 3, 6, 9',
    stdout: ['{"count":3,"total":3,"vowels":"aeiouAEIOU"}', '{"count":3,"total":6,"vowels":"aeiouAEIOU"}', '{"count":3,"total":9,"vowels":"aeiouAEIOU"}'],
  },
  {
    name: 'config',
    what: 'counts the y of "Yellow" as a vowel when the config says so',
    stdout: ['{"count":4,"total":4,"vowels":"aeiouyAEIOUY"}'],
  },
  {
    name: 'kv-store',
    what: 'keeps the total in the host key-value store, printing each read and write',
    stdout: [
      'Read 0 from key=count-vowels',
      'Writing value=3 from key=count-vowels',
      '{"count":3,"total":3,"vowels":"aeiouAEIOU"}',
      'Read 3 from key=count-vowels',
      'Writing value=6 from key=count-vowels',
      '{"count":3,"total":6,"vowels":"aeiouAEIOU"}',
    ],
  },
];

for (const example of examples) {
  test(`the ${example.name} example ${example.what}`, async () => {
    const script = join(repoRoot, 'build', 'examples', `${example.name}.js`);
    const { stdout } = await run(process.execPath, [script], { cwd: repoRoot, timeout: 30_000 });
    assert.deepEqual(stdout.trimEnd().split('\n'), example.stdout);
  });
}
