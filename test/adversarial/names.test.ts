// Names a plug-in chooses — its imports' modules and names, the exports it is called by — are
// keys the host looks up. Each lookup must find only what the application (or plughost) put
// there: `__proto__`, `constructor`, `toString` must be missing imports and missing exports,
// never `Object.prototype`, `Function` or their methods. (Importing `__proto__`.`toString`
// with `functions: {}` once wrote a wasm function over the host's `Object.prototype.toString`.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPlugin, FunctionNotFoundError, LinkError, type PluginOptions } from '../../src/index.js';
import { assemble, runBounded } from '../helpers.js';

const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__'];

/** A guest importing `module.name` as a function from i64 to i64 and calling it from "run". */
const importing = (module: string, name: string) =>
  assemble(`(module
    (import ${JSON.stringify(module)} ${JSON.stringify(name)} (func $f (param i64) (result i64)))
    (func (export "run") (result i32) (drop (call $f (i64.const 1))) (i32.const 0)))`);

/** Own, non-native functions on Object.prototype and Function.prototype: none unless something wrote there. */
function pollution(): string[] {
  const written: string[] = [];
  for (const proto of [Object.prototype, Function.prototype]) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      const value = Object.getOwnPropertyDescriptor(proto, key)?.value;
      if (typeof value === 'function' && !/\[native code\]/.test(Function.prototype.toString.call(value))) written.push(key);
    }
  }
  return written;
}

const FUNCTION_MAPS: [string, PluginOptions['functions']][] = [
  ['none given', undefined],
  ['an empty map', {}],
  ['a map with a user namespace', { 'extism:host/user': { other: () => 0 } }],
];

describe('names a plug-in chooses', () => {
  for (const [label, functions] of FUNCTION_MAPS) {
    it(`imports named after Object.prototype's members are missing imports, with ${label}`, async () => {
      const modules = ['extism:host/user', 'extism:host/env', '__proto__', 'constructor', 'wasi_snapshot_preview1'];
      for (const module of modules) {
        for (const name of PROTOTYPE_NAMES) {
          const wasm = await importing(module, name);
          for (const useWasi of [false, true]) {
            await assert.rejects(
              createPlugin(wasm, { functions, useWasi }),
              (err: unknown) => err instanceof LinkError && err.missing.includes(`${module}.${name}`),
              `${module}.${name} (useWasi: ${useWasi})`,
            );
          }
        }
      }
      assert.deepEqual(pollution(), []);
    });
  }

  it('a namespace named __proto__ or constructor given by the application is found as given', async () => {
    let calls = 0;
    const functions: NonNullable<PluginOptions['functions']> = Object.create(null);
    // defined, not assigned: the name is data here, and the linter reads an assignment as the accessor
    Object.defineProperty(functions, '__proto__', { value: { toString: () => ++calls }, enumerable: true });
    functions['constructor'] = Object.create(null);
    functions['constructor']!['constructor'] = () => ++calls;
    for (const module of ['__proto__', 'constructor']) {
      const plugin = await createPlugin(await importing(module, module === '__proto__' ? 'toString' : 'constructor'), { functions });
      assert.equal(await plugin.call('run'), null);
      await plugin.close();
    }
    assert.equal(calls, 2);
    assert.deepEqual(pollution(), []);
  });

  it('in a worker, prototype names are missing imports too, and nothing is written over its prototypes', async () => {
    const wasm = await importing('__proto__', 'toString');
    await assert.rejects(createPlugin(wasm, { runInWorker: true }), (err: unknown) => err instanceof LinkError && err.missing.includes('__proto__.toString'));
    const ctor = await importing('constructor', 'constructor');
    await assert.rejects(createPlugin(ctor, { runInWorker: true, functions: {} }), LinkError);
  });

  it('exports named after Object.prototype members exist only when the module exports them', async () => {
    const wasm = await assemble(`(module (func (export "run") (result i32) (i32.const 0)) (func (export "toString") (result i32) (i32.const 0)))`);
    for (const runInWorker of [false, true]) {
      const plugin = await createPlugin(wasm, { runInWorker });
      for (const name of PROTOTYPE_NAMES.filter((n) => n !== 'toString')) {
        assert.equal(await plugin.functionExists(name), false, name);
        await assert.rejects(plugin.call(name), FunctionNotFoundError, name);
      }
      assert.equal(await plugin.functionExists('toString'), true);
      assert.equal(await plugin.call('toString'), null);
      await plugin.close();
    }
  });

  it('config and var keys named after Object.prototype members are absent unless set', async () => {
    const wasm = await assemble(`(module
      (import "extism:host/env" "input_offset" (func $input (result i64)))
      (import "extism:host/env" "config_get" (func $config_get (param i64) (result i64)))
      (import "extism:host/env" "var_get" (func $var_get (param i64) (result i64)))
      (import "extism:host/env" "length" (func $length (param i64) (result i64)))
      (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
      (func $out (param $h i64) (result i32)
        (if (i64.ne (local.get $h) (i64.const 0)) (then (call $output_set (local.get $h) (call $length (local.get $h)))))
        (i32.const 0))
      (func (export "config") (result i32) (call $out (call $config_get (call $input))))
      (func (export "var") (result i32) (call $out (call $var_get (call $input)))))`);
    for (const runInWorker of [false, true]) {
      const plugin = await createPlugin(wasm, { runInWorker, config: { set: 'yes' } });
      for (const key of [...PROTOTYPE_NAMES, 'toJSON']) {
        assert.equal(await plugin.call('config', key), null, `config ${key}`);
        assert.equal(await plugin.call('var', key), null, `var ${key}`);
      }
      assert.equal((await plugin.call('config', 'set'))?.text(), 'yes');
      await plugin.close();
    }
  });

  it('a plug-in importing __proto__.toString cannot write over the host process (in a bounded child)', async () => {
    const helpers = new URL('../helpers.js', import.meta.url).href;
    const library = new URL('../../src/index.js', import.meta.url).href;
    const script = `
      const { createPlugin } = await import(${JSON.stringify(library)});
      const { assemble } = await import(${JSON.stringify(helpers)});
      for (const name of ['toString', 'valueOf', 'hasOwnProperty']) {
        const wasm = await assemble('(module (import "__proto__" "' + name + '" (func (param i64) (result i64))) (func (export "run") (result i32) (i32.const 0)))');
        let outcome = 'created';
        try { await (await createPlugin(wasm)).close(); } catch (err) { outcome = err.constructor.name; }
        console.log(name, outcome, Object.prototype.toString.call([]));
      }`;
    const run = await runBounded(script, { timeoutMs: 60_000, maxRssMb: 400 });
    assert.equal(run.stdout, ['toString', 'valueOf', 'hasOwnProperty'].map((n) => `${n} LinkError [object Array]\n`).join(''));
  });
});
