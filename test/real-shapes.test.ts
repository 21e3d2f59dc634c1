// Shapes of real plug-ins, found by running modules nobody here built (docs/COMPATIBILITY.md,
// "Real plug-ins from the Extism SDKs' own test suites"), replayed as small WAT modules.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run } from '../src/cli/run.js';
import { createPlugin, LinkError } from '../src/index.js';
import { assemble } from './helpers.js';

// The imports of a TinyGo or Rust plug-in built with an Extism PDK before 1.0 (as
// extism/extism-sqlite3, extism/automator-demo and mhmd-azeez/extism-space-commander still ship
// them): the ABI in namespace "env" with an `extism_` prefix, next to one of the application's
// own host functions, also in "env".
const PRE_1_0_PLUGIN = `(module
  (import "env" "extism_input_length" (func (result i64)))
  (import "env" "extism_alloc" (func (param i64) (result i64)))
  (import "env" "extism_output_set" (func (param i64 i64)))
  (import "env" "host_function" (func (param i64) (result i64)))
  (func (export "count_vowels") (result i32) (i32.const 0)))`;

class Capture {
  readonly chunks: Buffer[] = [];
  write(chunk: Uint8Array | string): boolean {
    this.chunks.push(Buffer.from(chunk));
    return true;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

describe('real plug-in shapes', () => {
  let dir: string;
  let preOnePath: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'plughost-real-shapes-'));
    preOnePath = join(dir, 'pre-1.0.wasm');
    await writeFile(preOnePath, await assemble(PRE_1_0_PLUGIN));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('says a plug-in built for the Extism ABI before 1.0 needs rebuilding with a 1.x PDK, naming its imports', async () => {
    const bytes = await assemble(PRE_1_0_PLUGIN);
    await assert.rejects(createPlugin(bytes), (err: unknown) => {
      assert.ok(err instanceof LinkError, String(err));
      assert.deepEqual(err.missing, ['env.extism_input_length', 'env.extism_alloc', 'env.extism_output_set', 'env.host_function']);
      assert.match(err.message, /missing import env\.extism_input_length; .*missing import env\.host_function/);
      assert.match(err.message, /env\.extism_\* .*before 1\.0.*rebuild the plug-in with a 1\.x PDK/);
      return true;
    });
  });

  it('gives no such hint when no import is of the ABI before 1.0', async () => {
    const bytes = await assemble(`(module (import "env" "host_function" (func (param i64) (result i64))))`);
    await assert.rejects(createPlugin(bytes), (err: unknown) => {
      assert.ok(err instanceof LinkError, String(err));
      assert.doesNotMatch(err.message, /before 1\.0/);
      return true;
    });
  });

  it('on the command line, says it once, as a hint of its own', async () => {
    const stdout = new Capture();
    const stderr = new Capture();
    const status = await run(['call', preOnePath, 'count_vowels'], { stdout, stderr });
    assert.equal(status, 3);
    const lines = stderr.text().split('\n');
    assert.match(lines[0] ?? '', /^plughost: cannot link the plug-in: missing import env\.extism_input_length; .*env\.host_function$/);
    assert.equal(stderr.text().match(/before 1\.0|pre-1\.0/g)?.length, 1, stderr.text());
    assert.match(stderr.text(), /\nplughost: hint: env\.extism_input_length, .*pre-1\.0 Extism ABI; rebuild it with a current PDK\n/);
  });
});
