// config, vars, logging, and host functions (drop-in and typed).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CallContext, createPlugin, defineHostFunction, HttpDeniedError, type PlughostError } from '../src/index.js';
import { assemble, recordingLogger } from './helpers.js';

const IMPORTS = `
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "free" (func $free (param i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "var_get" (func $var_get (param i64) (result i64)))
  (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
  (import "extism:host/env" "log_info" (func $log_info (param i64)))
  (import "extism:host/env" "log_error" (func $log_error (param i64)))
  (import "extism:host/env" "log_trace" (func $log_trace (param i64)))
  (import "extism:host/env" "get_log_level" (func $get_log_level (result i32)))
  (memory 1)
  (data (i32.const 0) "key")
  (func $key (result i64) (local $h i64)
    (local.set $h (call $alloc (i64.const 3)))
    (call $store_u8 (local.get $h) (i32.const 107))
    (call $store_u8 (i64.add (local.get $h) (i64.const 1)) (i32.const 101))
    (call $store_u8 (i64.add (local.get $h) (i64.const 2)) (i32.const 121))
    (local.get $h))
  (func $output_block (param $h i64) (call $output_set (local.get $h) (call $length (local.get $h))))
`;

const VARS = `(module ${IMPORTS}
  (func (export "set") (call $var_set (call $key) (call $input_offset)))
  (func (export "get") (local $v i64) (local.set $v (call $var_get (call $key))) (if (i64.ne (local.get $v) (i64.const 0)) (then (call $output_block (local.get $v)))))
  (func (export "delete") (call $var_set (call $key) (i64.const 0)))
  (func (export "log") (call $log_info (call $input_offset)) (call $log_error (call $key)) (call $log_trace (call $key)))
  (func (export "level") (result i32) (call $get_log_level)))`;

describe('vars', () => {
  it('survive across calls and can be deleted', async () => {
    const plugin = await createPlugin({ wasm: [{ data: await assemble(VARS) }] });
    assert.equal(await plugin.call('get'), null);
    await plugin.call('set', 'value one');
    assert.equal((await plugin.call('get'))?.text(), 'value one');
    await plugin.call('delete');
    assert.equal(await plugin.call('get'), null);
  });

  it('fail the call past max_var_bytes and always when it is 0', async () => {
    // the key "key", the value and 48 bytes a var (as the reference host counts)
    const small = await createPlugin({ wasm: [{ data: await assemble(VARS) }], memory: { max_var_bytes: 58 } });
    await small.call('set', '1234567');
    await assert.rejects(small.call('set', '12345678'), { message: /maxVarBytes 58/ });
    assert.equal((await small.call('get'))?.text(), '1234567', 'the failed set changed nothing');
    const none = await createPlugin({ wasm: [{ data: await assemble(VARS) }] }, { memory: { maxVarBytes: 0 } });
    await assert.rejects(none.call('set', 'x'), { message: /disabled/ });
  });

  it('are visible to host functions through the call context', async () => {
    let seen: string | undefined;
    const wasm = await assemble(`(module (import "extism:host/user" "peek" (func $peek)) ${IMPORTS}
      (func (export "set") (call $var_set (call $key) (call $input_offset)))
      (func (export "peek") (call $peek)))`);
    const plugin = await createPlugin(
      { wasm: [{ data: wasm }] },
      {
        functions: {
          'extism:host/user': {
            peek: (ctx: CallContext) => {
              seen = ctx.getVariable('key')?.text();
              ctx.setVariable('other', 'x');
              ctx.deleteVariable('other');
            },
          },
        },
      },
    );
    await plugin.call('set', 'shared');
    await plugin.call('peek');
    assert.equal(seen, 'shared');
  });

  it('keep every key apart, whatever the host remembers of recent keys', async () => {
    // `put` sets the var named by the input to the input itself; `take` outputs the var named by the input.
    const wasm = await assemble(`(module ${IMPORTS}
      (func (export "put") (call $var_set (call $input_offset) (call $input_offset)))
      (func (export "take") (local $v i64) (local.set $v (call $var_get (call $input_offset)))
        (if (i64.ne (local.get $v) (i64.const 0)) (then (call $output_block (local.get $v))))))`);
    const plugin = await createPlugin({ wasm: [{ data: wasm }] });
    // Same lengths, other bytes; more keys than the host keeps; one long key; one not ASCII.
    const keys = ['ab', 'ba', 'aa', 'abc', 'x1', 'x2', 'x3', 'x4', 'x5', 'k'.repeat(100), 'clé'];
    for (const key of keys) await plugin.call('put', key);
    for (const key of [...keys].reverse()) assert.equal((await plugin.call('take', key))?.text(), key);
    assert.equal(await plugin.call('take', 'b'), null);
  });

  it('free the key and value blocks var_set is given, once read', async () => {
    // `keys` outputs the lengths var_set left to its key and value blocks (0: freed), measured
    // before anything is allocated again, then the var read back.
    const wasm = await assemble(`(module (import "extism:host/env" "load_u8" (func $load_u8 (param i64) (result i32))) ${IMPORTS}
      (func (export "keys") (local $k i64) (local $v i64) (local $left i64) (local $out i64)
        (local.set $k (call $key))
        (local.set $v (call $alloc (i64.const 1)))
        (call $store_u8 (local.get $v) (i32.const 42))
        (call $var_set (local.get $k) (local.get $v))
        (local.set $left (i64.add (call $length (local.get $k)) (call $length (local.get $v))))
        (local.set $out (call $alloc (i64.const 2)))
        (call $store_u8 (local.get $out) (i32.wrap_i64 (local.get $left)))
        (call $store_u8 (i64.add (local.get $out) (i64.const 1)) (call $load_u8 (call $var_get (call $key))))
        (call $output_set (local.get $out) (i64.const 2))))`);
    const plugin = await createPlugin({ wasm: [{ data: wasm }] });
    assert.deepEqual([...(await plugin.call('keys'))!.bytes()], [0, 42]);
  });

  it('set again to a value of the same size leave values read earlier unchanged', async () => {
    const read: string[] = [];
    const held: { text(): string }[] = [];
    const wasm = await assemble(`(module (import "extism:host/user" "peek" (func $peek)) ${IMPORTS}
      (func (export "set") (call $var_set (call $key) (call $input_offset)))
      (func (export "get") (call $output_block (call $var_get (call $key))))
      (func (export "peek") (call $peek)))`);
    const plugin = await createPlugin(
      { wasm: [{ data: wasm }] },
      {
        functions: { 'extism:host/user': { peek: (ctx: CallContext) => void held.push(ctx.getVariable('key')!) } },
      },
    );
    for (const value of ['aaaa', 'bbbb', 'cccc']) {
      await plugin.call('set', value);
      await plugin.call('peek');
      read.push((await plugin.call('get'))?.text() ?? '');
    }
    assert.deepEqual(read, ['aaaa', 'bbbb', 'cccc']);
    assert.deepEqual(
      held.map((value) => value.text()),
      ['aaaa', 'bbbb', 'cccc'],
    );
  });
});

describe('config', () => {
  it('gives each plug-in its own values, the same on every call', async () => {
    const wasm = await assemble(`(module
      (import "extism:host/env" "config_get" (func $config_get (param i64) (result i64)))
      ${IMPORTS}
      (func (export "config") (local $v i64) (local.set $v (call $config_get (call $input_offset)))
        (if (i64.ne (local.get $v) (i64.const 0)) (then (call $output_block (local.get $v))))))`);
    const a = await createPlugin({ wasm: [{ data: wasm }], config: { name: 'first', other: 'ünïcode' } });
    const b = await createPlugin({ wasm: [{ data: wasm }] }, { config: { name: 'second' } });
    for (let round = 0; round < 3; round++) {
      assert.equal((await a.call('config', 'name'))?.text(), 'first');
      assert.equal((await a.call('config', 'other'))?.text(), 'ünïcode');
      assert.equal((await b.call('config', 'name'))?.text(), 'second');
      assert.equal(await b.call('config', 'other'), null);
    }
    // names of Object.prototype are keys like any other: present when given, absent otherwise
    const manifest = JSON.parse('{"config": {"__proto__": "a key", "constructor": "another"}}') as { config: Record<string, string> };
    const c = await createPlugin({ wasm: [{ data: wasm }], config: manifest.config });
    assert.equal((await c.call('config', '__proto__'))?.text(), 'a key');
    assert.equal((await c.call('config', 'constructor'))?.text(), 'another');
    for (const absent of ['toString', 'hasOwnProperty', '__defineGetter__']) assert.equal(await c.call('config', absent), null, absent);
    assert.equal(await a.call('config', '__proto__'), null);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('logging', () => {
  it('passes messages at or above logLevel to the logger and reports the level', async () => {
    const { lines, logger } = recordingLogger();
    const plugin = await createPlugin({ wasm: [{ data: await assemble(VARS) }] }, { logger, logLevel: 'info' });
    await plugin.call('log', 'hello log');
    assert.deepEqual(lines, ['info hello log', 'error key']);
    await assert.rejects(plugin.call('level'), { exitCode: 2 });
  });

  it('is off by default (silent) and reports 2147483647', async () => {
    const { lines, logger } = recordingLogger();
    const plugin = await createPlugin({ wasm: [{ data: await assemble(VARS) }] }, { logger });
    await plugin.call('log', 'dropped');
    assert.deepEqual(lines, []);
    await assert.rejects(plugin.call('level'), { exitCode: 2147483647 });
  });

  it('rejects an unknown level, naming it', async () => {
    await assert.rejects(createPlugin({ wasm: [{ data: await assemble(VARS) }] }, { logLevel: 'loud' as never }), { message: /"loud"/ });
  });
});

const KV = `(module
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/user" "transform" (func $transform (param i64) (result i64)))
  (func (export "run") (local $h i64)
    (local.set $h (call $transform (call $input_offset)))
    (call $output_set (local.get $h) (call $length (local.get $h)))))`;

describe('host functions', () => {
  it('read guest memory and store results through the call context', async () => {
    const plugin = await createPlugin(
      { wasm: [{ data: await assemble(KV) }] },
      {
        functions: { 'extism:host/user': { transform: (ctx: CallContext, h: number) => ctx.store(ctx.read(h)!.text().toUpperCase()) } },
      },
    );
    assert.equal((await plugin.call('run', 'shout'))?.text(), 'SHOUT');
  });

  it('store text as UTF-8, ASCII or not, short or long', async () => {
    const plugin = await createPlugin(
      { wasm: [{ data: await assemble(KV) }] },
      {
        functions: { 'extism:host/user': { transform: (ctx: CallContext, h: number) => ctx.store(ctx.read(h)!.text().toUpperCase()) } },
      },
    );
    for (const text of ['grüße, 世界 😀', 'a'.repeat(1024) + 'é', 'b'.repeat(5000), 'x']) {
      assert.equal((await plugin.call('run', text))?.text(), text.toUpperCase());
    }
  });

  it('receive the per-call host context', async () => {
    const plugin = await createPlugin(
      { wasm: [{ data: await assemble(KV) }] },
      {
        functions: { 'extism:host/user': { transform: (ctx: CallContext) => ctx.store(String(ctx.hostContext<{ id: number }>().id)) } },
      },
    );
    assert.equal((await plugin.call('run', '', { id: 7 }))?.text(), '7');
    assert.equal((await plugin.call('run', '', { id: 8 }))?.text(), '8');
  });

  it('may return a bigint handle, as @extism/extism host functions do', async () => {
    const plugin = await createPlugin(
      { wasm: [{ data: await assemble(KV) }] },
      {
        functions: { 'extism:host/user': { transform: (ctx: CallContext, h: number) => BigInt(ctx.store(ctx.read(BigInt(h))!.bytes())) } },
      },
    );
    assert.equal((await plugin.call('run', 'big'))?.text(), 'big');
  });

  it('fail the call with the message of what they throw, and the plug-in stays usable', async () => {
    let fail = true;
    const plugin = await createPlugin(
      { wasm: [{ data: await assemble(KV) }] },
      {
        functions: {
          'extism:host/user': {
            transform: (ctx: CallContext, h: number) => {
              if (fail) throw new Error('database is down');
              return h;
            },
          },
        },
      },
    );
    await assert.rejects(plugin.call('run', 'x'), { message: 'database is down' });
    fail = false;
    assert.equal((await plugin.call('run', 'back'))?.text(), 'back');
  });

  it('handle bad handles without crashing: read gives null (handle 0: the empty block), length 0', async () => {
    let results: unknown[] = [];
    const wasm = await assemble(
      `(module (import "extism:host/user" "probe" (func $probe (param i64 i64 i64))) (func (export "run") (call $probe (i64.const 0) (i64.const 12345) (i64.const -1))))`,
    );
    const plugin = await createPlugin(
      { wasm: [{ data: wasm }] },
      {
        functions: {
          'extism:host/user': {
            probe: (ctx: CallContext, a: number, b: number, c: bigint) => {
              results = [ctx.read(a)?.byteLength, ctx.read(b), ctx.read(c), ctx.length(b), typeof c];
            },
          },
        },
      },
    );
    await plugin.call('run');
    assert.deepEqual(results, [0, null, null, 0, 'number']);
  });

  it('pass i64 values beyond 2^53 as bigint and return them exactly', async () => {
    let seen: unknown;
    const wasm = await assemble(`(module
      (import "extism:host/user" "id" (func $id (param i64) (result i64)))
      (func (export "run") (result i32) (i32.wrap_i64 (i64.sub (call $id (i64.const 0x7fff_ffff_ffff_fff0)) (i64.const 0x7fff_ffff_ffff_ffe0)))))`);
    const plugin = await createPlugin(
      { wasm: [{ data: wasm }] },
      {
        functions: {
          'extism:host/user': {
            id: (_ctx: CallContext, v: bigint) => {
              seen = v;
              return v;
            },
          },
        },
      },
    );
    await assert.rejects(plugin.call('run'), { exitCode: 16 });
    assert.equal(seen, 0x7fff_ffff_ffff_fff0n);
  });

  it('work in any namespace and with i32/f64 signatures', async () => {
    const wasm = await assemble(`(module (import "my:ns" "mix" (func $mix (param i32 f64) (result f64)))
      (func (export "run") (result i32) (i32.trunc_f64_s (call $mix (i32.const 2) (f64.const 1.5)))))`);
    const plugin = await createPlugin({ wasm: [{ data: wasm }] }, { functions: { 'my:ns': { mix: (_ctx: CallContext, a: number, b: number) => a * b + 2 } } });
    await assert.rejects(plugin.call('run'), { exitCode: 5 });
  });

  it('declared with their signature are checked against the import, naming both signatures', async () => {
    const good = defineHostFunction('transform', ['i64'], ['i64'], (ctx, h) => h);
    const plugin = await createPlugin({ wasm: [{ data: await assemble(KV) }] }, { hostFunctions: [good] });
    assert.equal((await plugin.call('run', 'typed'))?.text(), 'typed');
    const wrong = defineHostFunction('transform', ['i64', 'i64'], [], () => {});
    await assert.rejects(createPlugin({ wasm: [{ data: await assemble(KV) }] }, { hostFunctions: [wrong] }), (err: Error & { code: string }) => {
      assert.equal(err.code, 'PLUGHOST_LINK');
      assert.match(err.message, /\(i64\) -> i64/);
      assert.match(err.message, /\(i64, i64\) -> \(\)/);
      return true;
    });
  });

  // Where the engine has JSPI they are awaited instead (test/jspi.test.ts).
  const jspi = typeof (WebAssembly as unknown as { Suspending?: unknown }).Suspending === 'function';
  it('that are async are refused on the main thread, naming the function and runInWorker', { skip: jspi && 'JSPI: awaited on the main thread' }, async () => {
    await assert.rejects(createPlugin({ wasm: [{ data: await assemble(KV) }] }, { functions: { 'extism:host/user': { transform: async () => 0 } } }), {
      code: 'PLUGHOST_LINK',
      message: /extism:host\/user\.transform.*runInWorker/,
    });
  });

  it('can set the error the guest reads with error_get', async () => {
    const wasm = await assemble(`(module
      (import "extism:host/env" "error_get" (func $error_get (result i64)))
      (import "extism:host/env" "length" (func $length (param i64) (result i64)))
      (import "extism:host/user" "complain" (func $complain))
      (func (export "run") (result i32) (call $complain) (i32.wrap_i64 (call $length (call $error_get)))))`);
    const plugin = await createPlugin(
      { wasm: [{ data: wasm }] },
      { functions: { 'extism:host/user': { complain: (ctx: CallContext) => ctx.setError('four') } } },
    );
    await assert.rejects(plugin.call('run'), { message: 'four' });
  });
});

describe('host functions returning odd values for an i64', () => {
  it('turn NaN, strings and undefined into 0, never into an earlier wide value', async () => {
    const results: unknown[] = [2n ** 60n, NaN, 'not a number', undefined, 7];
    let next = 0;
    const wasm = await assemble(`(module
      (import "extism:host/user" "odd" (func $odd (result i64)))
      (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
      (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
      (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
      (func (export "run") (local $h i64)
        (local.set $h (call $alloc (i64.const 8)))
        (call $store_u64 (local.get $h) (call $odd))
        (call $output_set (local.get $h) (i64.const 8))))`);
    const plugin = await createPlugin({ wasm: [{ data: wasm }] }, { functions: { 'extism:host/user': { odd: () => results[next++] } } });
    const seen = [];
    for (let i = 0; i < results.length; i++) seen.push((await plugin.call('run'))!.getBigUint64(0, true));
    assert.deepEqual(seen, [2n ** 60n, 0n, 0n, 0n, 7n]);
  });
});

describe('a host function on the main thread that returns a promise', () => {
  it('fails the call, saying to use runInWorker, instead of handing the guest garbage', async () => {
    const wasm = await assemble(`(module (import "extism:host/user" "later" (func $later (param i64) (result i64)))
      (import "extism:host/user" "fire" (func $fire (param i64)))
      (func (export "run") (drop (call $later (i64.const 1))))
      (func (export "fire") (call $fire (i64.const 1))))`);
    const plugin = await createPlugin(
      { wasm: [{ data: wasm }] },
      {
        functions: { 'extism:host/user': { later: () => Promise.resolve(1), fire: () => Promise.reject(new Error('x')) } },
      },
    );
    await assert.rejects(plugin.call('run'), { message: /extism:host\/user\.later returned a promise.*runInWorker/ });
    await assert.rejects(plugin.call('fire'), { message: /extism:host\/user\.fire returned a promise/ });
  });
});

describe('http_request', () => {
  const guest = (request: string, body: string) => `(module
    (import "extism:host/env" "http_request" (func $http_request (param i64 i64) (result i64)))
    (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
    (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
    (memory 1)
    (data (i32.const 0) ${JSON.stringify(request)})
    (func (export "run") (local $h i64) (local $i i32)
      (local.set $h (call $alloc (i64.const ${request.length})))
      (block $done (loop $copy
        (br_if $done (i32.ge_u (local.get $i) (i32.const ${request.length})))
        (call $store_u8 (i64.add (local.get $h) (i64.extend_i32_u (local.get $i))) (i32.load8_u (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $copy)))
      (drop (call $http_request (local.get $h) (i64.const ${body})))))`;

  it('fails the call on a body handle that is not a live block, naming it', async () => {
    const plugin = await createPlugin({ wasm: [{ data: await assemble(guest('{"url":"http://127.0.0.1:9/"}', '12345')) }] }, { allowedHosts: ['127.0.0.1'] });
    await assert.rejects(plugin.call('run'), { message: /body handle 12345/ });
  });

  it('fails the call on a request that is not JSON, showing it', async () => {
    const plugin = await createPlugin({ wasm: [{ data: await assemble(guest('not json', '0')) }] });
    await assert.rejects(plugin.call('run'), { message: /JSON request.*not json/ });
  });

  it('denies every URL when no host is allowed, naming the URL, before connecting', async () => {
    const plugin = await createPlugin({ wasm: [{ data: await assemble(guest('{"url":"http://127.0.0.1:9/x"}', '0')) }] });
    await assert.rejects(plugin.call('run'), { message: /http:\/\/127\.0\.0\.1:9\/x/ });
  });

  it('reports a denial, not the bad body handle or method, when no host is allowed', async () => {
    const plugin = await createPlugin({ wasm: [{ data: await assemble(guest('{"url":"http://127.0.0.1:9/x","method":5}', '12345')) }] });
    await assert.rejects(
      plugin.call('run'),
      (err: PlughostError) => err.cause instanceof HttpDeniedError && /denied/.test(err.message) && err.message.includes('http://127.0.0.1:9/x'),
    );
  });

  it('fails the call on a request whose "url" is missing or not a string, showing it', async () => {
    for (const request of ['{"method":"GET"}', '{"url":42}', '{"url":null}']) {
      const plugin = await createPlugin({ wasm: [{ data: await assemble(guest(request, '0')) }] }, { allowedHosts: ['*'] });
      await assert.rejects(plugin.call('run'), { message: /"url" must be a string/ }, request);
    }
  });
});

describe('handle 0 is the empty block', () => {
  const wasm = () =>
    assemble(`(module
      (import "extism:host/env" "config_get" (func $config_get (param i64) (result i64)))
      ${IMPORTS}
      (func $output_or_nothing (param $h i64) (if (i64.ne (local.get $h) (i64.const 0)) (then (call $output_block (local.get $h)))))
      (func (export "set_empty_name") (call $var_set (i64.const 0) (call $input_offset)))
      (func (export "get_empty_name") (call $output_or_nothing (call $var_get (i64.const 0))))
      (func (export "delete_empty_name") (call $var_set (i64.const 0) (i64.const 0)))
      (func (export "config_empty_name") (call $output_or_nothing (call $config_get (i64.const 0))))
      (func (export "log_nothing") (call $log_info (i64.const 0)) (call $log_error (i64.const 0))))`);

  it('var_set(0, value) sets the var named "", var_get(0) reads it, var_set(0, 0) deletes it', async () => {
    const plugin = await createPlugin({ wasm: [{ data: await wasm() }] });
    assert.equal(await plugin.call('get_empty_name'), null);
    await plugin.call('set_empty_name', 'blank');
    assert.equal((await plugin.call('get_empty_name'))?.text(), 'blank');
    await plugin.call('delete_empty_name');
    assert.equal(await plugin.call('get_empty_name'), null);
  });

  it('var_set(0, 0) deletes a var "" that a host function set, and fails nothing when there is none', async () => {
    let seen: string | undefined = 'unset';
    const source = `(module (import "extism:host/user" "seed" (func $seed)) (import "extism:host/user" "peek" (func $peek)) ${IMPORTS}
      (func (export "run") (call $seed) (call $var_set (i64.const 0) (i64.const 0)) (call $peek) (call $var_set (i64.const 0) (i64.const 0))))`;
    const plugin = await createPlugin(
      { wasm: [{ data: await assemble(source) }] },
      {
        functions: {
          'extism:host/user': {
            seed: (ctx: CallContext) => void ctx.setVariable('', 'x'),
            peek: (ctx: CallContext) => void (seen = ctx.getVariable('')?.text()),
          },
        },
      },
    );
    await plugin.call('run');
    assert.equal(seen, undefined);
  });

  it('config_get(0) looks up the key ""', async () => {
    const withKey = await createPlugin({ wasm: [{ data: await wasm() }] }, { config: { '': 'empty key', other: 'x' } });
    assert.equal((await withKey.call('config_empty_name'))?.text(), 'empty key');
    const without = await createPlugin({ wasm: [{ data: await wasm() }] }, { config: { other: 'x' } });
    assert.equal(await without.call('config_empty_name'), null);
  });

  it('log_*(0) logs an empty message', async () => {
    const { lines, logger } = recordingLogger();
    const plugin = await createPlugin({ wasm: [{ data: await wasm() }] }, { logger, logLevel: 'trace' });
    await plugin.call('log_nothing');
    assert.deepEqual(lines, ['info ', 'error ']);
  });
});
