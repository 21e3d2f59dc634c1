// The kernel functions of extism:host/env, exercised from inside real guests.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { type CallContext, createPlugin, MemoryLimitError, PluginOutput } from '../src/index.js';
import type { HostEnvState, HttpRequest, HttpResponse } from '../src/internal/host-env.js';
import { createHostEnv } from '../src/internal/host-env.js';
import { Kernel } from '../src/internal/kernel/kernel.js';
import { VarStore } from '../src/internal/vars.js';
import { assemble, fixturePath, repoRoot } from './helpers.js';

const runChild = (args: string[], options: { timeout: number }) => promisify(execFile)(process.execPath, args, { ...options, killSignal: 'SIGKILL' });

const ENV = `
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "free" (func $free (param i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "length_unsafe" (func $length_unsafe (param i64) (result i64)))
  (import "extism:host/env" "load_u8" (func $load_u8 (param i64) (result i32)))
  (import "extism:host/env" "load_u64" (func $load_u64 (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "error_set" (func $error_set (param i64)))
  (import "extism:host/env" "error_get" (func $error_get (result i64)))
`;

/** A guest whose exports each check one kernel behaviour and output a u64 result as 8 bytes. */
const probe = (body: string) =>
  assemble(`(module ${ENV}
    (memory (export "memory") 1)
    (func $out (param $v i64)
      (local $h i64)
      (local.set $h (call $alloc (i64.const 8)))
      (call $store_u64 (local.get $h) (local.get $v))
      (call $output_set (local.get $h) (i64.const 8)))
    ${body})`);

async function run(body: string, fn: string, input: string | Uint8Array = ''): Promise<bigint> {
  const plugin = await createPlugin({ wasm: [{ data: await probe(body) }] });
  try {
    const out = await plugin.call(fn, input);
    assert.ok(out, 'expected an output');
    return out.getBigUint64(0, true);
  } finally {
    await plugin.close();
  }
}

describe('kernel', () => {
  it('echoes the input through input_offset, length and load_u8', async () => {
    const wasm = await assemble(`(module ${ENV}
      (func (export "echo") (result i32)
        (call $output_set (call $input_offset) (call $input_length))
        (i32.const 0)))`);
    const plugin = await createPlugin({ wasm: [{ data: wasm }] });
    assert.equal((await plugin.call('echo', 'hello kernel'))?.text(), 'hello kernel');
    assert.equal((await plugin.call('echo', 'second'))?.text(), 'second');
    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i & 0xff);
    assert.deepEqual((await plugin.call('echo', big))?.bytes(), big);
    await plugin.close();
  });

  const cases: [string, string, string, bigint][] = [
    ['alloc(0) returns 0', '(func (export "f") (call $out (call $alloc (i64.const 0))))', '', 0n],
    ['alloc of more than 4 GiB returns 0', '(func (export "f") (call $out (call $alloc (i64.const 0x1_0000_0000))))', '', 0n],
    ['alloc of 2^63 returns 0', '(func (export "f") (call $out (call $alloc (i64.const 0x7fff_ffff_ffff_ffff))))', '', 0n],
    ['length of a new block is its size', '(func (export "f") (call $out (call $length (call $alloc (i64.const 37)))))', '', 37n],
    ['length_unsafe agrees with length', '(func (export "f") (call $out (call $length_unsafe (call $alloc (i64.const 37)))))', '', 37n],
    ['length of 0 is 0', '(func (export "f") (call $out (call $length (i64.const 0))))', '', 0n],
    ['length inside a block is 0', '(func (export "f") (call $out (call $length (i64.add (call $alloc (i64.const 64)) (i64.const 1)))))', '', 0n],
    ['length of a huge handle is 0', '(func (export "f") (call $out (call $length (i64.const -1))))', '', 0n],
    ['length_unsafe of a huge handle is 0', '(func (export "f") (call $out (call $length_unsafe (i64.const 0x7fff_ffff_0000_0000))))', '', 0n],
    [
      'length of a freed block is 0',
      '(func (export "f") (local $h i64) (local.set $h (call $alloc (i64.const 16))) (call $free (local.get $h)) (call $out (call $length (local.get $h))))',
      '',
      0n,
    ],
    [
      'a freed block is reused within the call',
      '(func (export "f") (local $h i64) (local.set $h (call $alloc (i64.const 100))) (drop (call $alloc (i64.const 8))) (call $free (local.get $h)) (call $out (i64.extend_i32_u (i64.eq (local.get $h) (call $alloc (i64.const 90))))))',
      '',
      1n,
    ],
    [
      'freeing 0 or garbage is ignored',
      '(func (export "f") (call $free (i64.const 0)) (call $free (i64.const 12345)) (call $free (i64.const -1)) (call $out (i64.const 7)))',
      '',
      7n,
    ],
    [
      'double free is ignored',
      '(func (export "f") (local $h i64) (local.set $h (call $alloc (i64.const 16))) (drop (call $alloc (i64.const 16))) (call $free (local.get $h)) (call $free (local.get $h)) (call $out (i64.const 9)))',
      '',
      9n,
    ],
    [
      'store_u64 then load_u64 round-trips',
      '(func (export "f") (local $h i64) (local.set $h (call $alloc (i64.const 8))) (call $store_u64 (local.get $h) (i64.const 0x0102030405060708)) (call $out (call $load_u64 (local.get $h))))',
      '',
      0x0102030405060708n,
    ],
    [
      'store_u8 then load_u8 round-trips',
      '(func (export "f") (local $h i64) (local.set $h (call $alloc (i64.const 1))) (call $store_u8 (local.get $h) (i32.const 0xab)) (call $out (i64.extend_i32_u (call $load_u8 (local.get $h)))))',
      '',
      0xabn,
    ],
    ['load_u64 out of range reads 0', '(func (export "f") (call $out (call $load_u64 (i64.const 0x7fff_ffff))))', '', 0n],
    ['load_u64 at the very top of u64 reads 0', '(func (export "f") (call $out (call $load_u64 (i64.const -4))))', '', 0n],
    ['load_u8 at 0 reads 0', '(func (export "f") (call $out (i64.extend_i32_u (call $load_u8 (i64.const 0)))))', '', 0n],
    [
      'store out of range writes nothing and does not trap',
      '(func (export "f") (call $store_u64 (i64.const -8) (i64.const 1)) (call $store_u8 (i64.const 0x1_0000_0000) (i32.const 1)) (call $store_u64 (i64.const 8) (i64.const 1)) (call $out (i64.const 3)))',
      '',
      3n,
    ],
    ['input_length is the input size', '(func (export "f") (call $out (call $input_length)))', 'abcdef', 6n],
    [
      'input_load_u64 reads little endian',
      '(func (export "f") (call $out (call $input_load_u64 (i64.const 0))))',
      '\x01\x02\x03\x04\x05\x06\x07\x08',
      0x0807060504030201n,
    ],
    ['input_load_u64 past the end reads 0', '(func (export "f") (call $out (call $input_load_u64 (i64.const 4))))', 'abcdefgh', 0n],
    ['input_load_u8 past the end reads 0', '(func (export "f") (call $out (i64.extend_i32_u (call $input_load_u8 (i64.const 3)))))', 'abc', 0n],
    ['input_load_u8 with a negative offset reads 0', '(func (export "f") (call $out (i64.extend_i32_u (call $input_load_u8 (i64.const -1)))))', 'abc', 0n],
    ['input_offset is a live block of the input length', '(func (export "f") (call $out (call $length (call $input_offset))))', 'abcd', 4n],
    ['freeing the input makes the input length 0', '(func (export "f") (call $free (call $input_offset)) (call $out (call $input_length)))', 'abcd', 0n],
    ['error_get is 0 when no error was set', '(func (export "f") (call $out (call $error_get)))', '', 0n],
    [
      'error_get returns what error_set set',
      '(func (export "f") (local $h i64) (local.set $h (call $alloc (i64.const 1))) (call $error_set (local.get $h)) (call $error_set (i64.const 0)) (call $out (call $error_get)))',
      '',
      0n,
    ],
  ];
  for (const [name, body, input, expected] of cases) {
    it(name, async () => {
      assert.equal(await run(body, 'f', input), expected);
    });
  }

  it('releases allocations between calls, so a handle of an earlier call is no longer live', async () => {
    const wasm = await probe(`
      (global $kept (mut i64) (i64.const 0))
      (func (export "keep") (global.set $kept (call $alloc (i64.const 32))) (call $out (call $length (global.get $kept))))
      (func (export "check") (call $out (call $length (global.get $kept))))`);
    const plugin = await createPlugin({ wasm: [{ data: wasm }] });
    assert.equal((await plugin.call('keep'))?.getBigUint64(0, true), 32n);
    assert.equal((await plugin.call('check'))?.getBigUint64(0, true), 0n);
    await plugin.close();
  });

  it('does not grow the kernel memory across many calls that allocate', async () => {
    const wasm = await probe(`(func (export "f") (call $out (call $alloc (i64.const 100000))))`);
    const plugin = await createPlugin({ wasm: [{ data: wasm }] });
    const first = (await plugin.call('f'))?.getBigUint64(0, true);
    for (let i = 0; i < 1000; i++) await plugin.call('f');
    assert.equal((await plugin.call('f'))?.getBigUint64(0, true), first);
    await plugin.close();
  });

  it('fails the call when output_set names a range outside the kernel memory', async () => {
    const wasm = await assemble(`(module ${ENV}
      (func (export "f") (result i32) (call $output_set (i64.const 0x7fff_0000) (i64.const 10)) (i32.const 0)))`);
    const plugin = await createPlugin({ wasm: [{ data: wasm }] });
    await assert.rejects(plugin.call('f'), { code: 'PLUGHOST_CALL', message: /output_set/ });
    await plugin.close();
  });

  it('returns an empty output for output_set(h, 0) and null when no output was set', async () => {
    const wasm = await assemble(`(module ${ENV}
      (func (export "empty") (call $output_set (call $alloc (i64.const 4)) (i64.const 0)))
      (func (export "none")))`);
    const plugin = await createPlugin({ wasm: [{ data: wasm }] });
    assert.equal((await plugin.call('empty'))?.byteLength, 0);
    assert.equal(await plugin.call('none'), null);
    await plugin.close();
  });

  it('keeps a block the guest frees while it holds the output or the error, and frees it once they move off it; any other block is reused at once', async () => {
    const wasm = await assemble(`(module ${ENV}
      ;; "abcdefghijklmnop" in a block, output "defgh" from inside it, free it, then allocate
      ;; and zero a block of the same size: it must not land on the output
      (func (export "part_of_output") (result i32)
        (local $h i64) (local $g i64)
        (local.set $h (call $alloc (i64.const 16)))
        (call $store_u64 (local.get $h) (i64.const 0x6867666564636261))
        (call $store_u64 (i64.add (local.get $h) (i64.const 8)) (i64.const 0x706f6e6d6c6b6a69))
        (call $output_set (i64.add (local.get $h) (i64.const 3)) (i64.const 5))
        (call $free (local.get $h))
        (local.set $g (call $alloc (i64.const 16)))
        (call $store_u64 (local.get $g) (i64.const 0))
        (call $store_u64 (i64.add (local.get $g) (i64.const 8)) (i64.const 0))
        (i32.const 0))
      ;; the error block, freed, then the same size allocated and overwritten
      (func (export "error_block") (result i32)
        (local $h i64) (local $g i64)
        (local.set $h (call $alloc (i64.const 8)))
        (call $store_u64 (local.get $h) (i64.const 0x2172756f2d727265)) ;; "err-our!"
        (call $error_set (local.get $h))
        (call $free (local.get $h))
        (local.set $g (call $alloc (i64.const 8)))
        (call $store_u64 (local.get $g) (i64.const 0x5858585858585858))
        (i32.const 1))
      ;; a block next to the output block, freed: its space is handed out again (output 1)
      (func (export "neighbour") (result i32)
        (local $h i64) (local $g i64)
        (local.set $h (call $alloc (i64.const 16)))
        (local.set $g (call $alloc (i64.const 8)))
        (call $output_set (local.get $g) (i64.const 8))
        (call $free (local.get $h))
        (call $store_u64 (local.get $g) (i64.extend_i32_u (i64.eq (call $alloc (i64.const 16)) (local.get $h))))
        (i32.const 0))
      ;; the output in a block freed (twice), then moved to another block: the first block is
      ;; freed then, and its space handed out again; a third free of it does nothing (output 1)
      (func (export "output_moved") (result i32)
        (local $h i64) (local $g i64)
        (local.set $h (call $alloc (i64.const 16)))
        (call $output_set (local.get $h) (i64.const 16))
        (call $free (local.get $h))
        (call $free (local.get $h))
        (local.set $g (call $alloc (i64.const 16)))
        (call $output_set (local.get $g) (i64.const 8))
        (call $free (local.get $h))
        (call $store_u64 (local.get $g) (i64.extend_i32_u (i64.eq (call $alloc (i64.const 16)) (local.get $h))))
        (i32.const 0))
      ;; the same with the error: "reused!!" when the first block's space is handed out again
      (func (export "error_moved") (result i32)
        (local $h i64) (local $g i64)
        (local.set $h (call $alloc (i64.const 8)))
        (call $error_set (local.get $h))
        (call $free (local.get $h))
        (local.set $g (call $alloc (i64.const 8)))
        (call $error_set (local.get $g))
        (call $store_u64 (local.get $g)
          (select (i64.const 0x2121646573756572) (i64.const 0x212164656b61656c) ;; "reused!!", "leaked!!"
            (i64.eq (call $alloc (i64.const 8)) (local.get $h))))
        (i32.const 1)))`);
    const plugin = await createPlugin({ wasm: [{ data: wasm }] });
    assert.equal((await plugin.call('part_of_output'))?.text(), 'defgh');
    await assert.rejects(plugin.call('error_block'), { message: 'err-our!', exitCode: 1 });
    assert.equal((await plugin.call('neighbour'))?.getBigUint64(0, true), 1n);
    assert.equal((await plugin.call('output_moved'))?.getBigUint64(0, true), 1n);
    await assert.rejects(plugin.call('error_moved'), { message: 'reused!!', exitCode: 1 });
    // every call starts with nothing kept: a block kept in the last call is not freed in this one
    assert.equal((await plugin.call('part_of_output'))?.text(), 'defgh');
    await plugin.close();
  });

  it('outputs any window of a block exactly, in a buffer that holds nothing else', async () => {
    // input: [start, length, 0xff...]; output: that window of the input block, at any alignment;
    // the 0xff bytes after each window must not reach the output's buffer.
    const wasm = await assemble(`(module ${ENV}
      (func (export "window")
        (call $output_set
          (i64.add (call $input_offset) (i64.extend_i32_u (call $input_load_u8 (i64.const 0))))
          (i64.extend_i32_u (call $input_load_u8 (i64.const 1))))))`);
    const plugin = await createPlugin({ wasm: [{ data: wasm }] });
    for (let start = 2; start < 11; start++) {
      for (let length = 0; length <= 21; length++) {
        const input = new Uint8Array(40).fill(0xff);
        input[0] = start;
        input[1] = length;
        for (let i = 2; i < start + length; i++) input[i] = i;
        const out = await plugin.call('window', input);
        assert.ok(out);
        assert.deepEqual([...out.bytes()], [...input.subarray(start, start + length)], `window ${start}+${length}`);
        assert.deepEqual([...new Uint8Array(out.buffer)], [...input.subarray(start, start + length)], `buffer of window ${start}+${length}`);
      }
    }
    await plugin.close();
  });

  it('survives a guest that scribbles over every byte of the kernel heap', async () => {
    const wasm = await assemble(`(module ${ENV}
      (func (export "scribble") (result i32)
        (local $a i64) (local $b i64) (local $p i64) (local $end i64)
        (local.set $a (call $alloc (i64.const 64)))
        (local.set $b (call $alloc (i64.const 64)))
        (call $free (local.get $a))
        (local.set $p (i64.const 0))
        (local.set $end (i64.add (local.get $b) (i64.const 64)))
        (block $done (loop $fill
          (br_if $done (i64.ge_u (local.get $p) (local.get $end)))
          (call $store_u64 (local.get $p) (i64.const -1))
          (local.set $p (i64.add (local.get $p) (i64.const 8)))
          (br $fill)))
        (drop (call $alloc (i64.const 32)))
        (drop (call $alloc (i64.const 64)))
        (drop (call $length (local.get $a)))
        (call $free (local.get $b))
        (i32.const 0))
      (func (export "echo") (call $output_set (call $input_offset) (call $input_length))))`);
    const plugin = await createPlugin({ wasm: [{ data: wasm }] });
    await plugin.call('scribble');
    assert.equal((await plugin.call('echo', 'still fine'))?.text(), 'still fine');
    await plugin.close();
  });
});

// What real PDKs do around the host functions that free their arguments, replayed against a
// kernel and the real host-env functions, step by step.
describe('a second free of a block the host already freed', () => {
  type Guest = Record<string, (...args: bigint[]) => bigint | number | undefined>;
  function setUp(http?: (request: HttpRequest) => HttpResponse) {
    const kernel = new Kernel(undefined);
    const guest = kernel.guestFunctions() as unknown as Guest;
    const state: HostEnvState = {
      kernel,
      vars: new VarStore(1024),
      config: { url: 'https://example.com/some/path' },
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {} },
      logLevel: 'info',
      http,
      allowResponseHeaders: false,
      lastStatus: 0,
      lastHeaders: undefined,
    };
    const env = createHostEnv({ state }) as Record<string, (...args: number[]) => number>;
    kernel.begin('');
    /** What the guest does to hand the host some text: alloc, then store_u8 byte by byte. */
    const guestStore = (text: string): bigint => {
      const bytes = new TextEncoder().encode(text);
      const h = guest.alloc!(BigInt(bytes.length)) as bigint;
      bytes.forEach((b, i) => {
        guest.store_u8!(h + BigInt(i), b as never);
      });
      return h;
    };
    /** What the guest does to read a block back: length, then load_u8 byte by byte. */
    const guestRead = (h: bigint): string => {
      const n = Number(guest.length!(h));
      return new TextDecoder().decode(Uint8Array.from({ length: n }, (_, i) => guest.load_u8!(h + BigInt(i)) as number));
    };
    return { kernel, guest, env, guestStore, guestRead };
  }

  it('leaves the value alone (Haskell PDK: free(key) after config_get and var_get)', () => {
    const { guest, env, guestStore, guestRead } = setUp();
    const key = guestStore('url');
    const value = BigInt(env.config_get!(Number(key)));
    guest.free!(key);
    assert.equal(guestRead(value), 'https://example.com/some/path');

    env.var_set!(Number(guestStore('greeting')), Number(guestStore('hello')));
    const varKey = guestStore('greeting');
    const varValue = BigInt(env.var_get!(Number(varKey)));
    guest.free!(varKey);
    assert.equal(guestRead(varValue), 'hello');
  });

  it('leaves the response alone (Go PDK: deferred free of the request after http_request)', () => {
    const body = new TextEncoder().encode('{"id": 1, "title": "the response body"}');
    const { guest, env, guestStore, guestRead } = setUp(() => ({ status: 200, headers: {}, body }));
    const request = guestStore('{"method":"GET","url":"https://example.com/todos/1","headers":{}}');
    const response = BigInt(env.http_request!(Number(request), 0));
    guest.free!(request);
    assert.equal(guestRead(response), '{"id": 1, "title": "the response body"}');
  });

  it('reuses the space of the blocks the host freed before the kernel memory grows much', () => {
    const { kernel, guest, env, guestStore } = setUp();
    for (let i = 0; i < 100_000; i++) {
      const key = guestStore('url');
      const value = BigInt(env.config_get!(Number(key)));
      guest.free!(key);
      guest.free!(value);
    }
    assert.ok(kernel.size <= 2 * 65536, `the kernel memory grew to ${kernel.size} bytes`);
  });

  it('leaves later blocks alone too (log_*, var_set), and frees nothing that is not live', () => {
    const { kernel, guest, env, guestStore, guestRead } = setUp();
    const message = guestStore('a log line');
    env.log_info!(Number(message));
    const kept = guestStore('kept');
    guest.free!(message);
    const key = guestStore('k');
    const value = guestStore('v');
    env.var_set!(Number(key), Number(value));
    const later = guestStore('later');
    guest.free!(key);
    guest.free!(value);
    guest.free!(0n);
    kernel.free(key);
    assert.equal(guestRead(kept), 'kept');
    assert.equal(guestRead(later), 'later');
  });
});

describe('a call', () => {
  for (const runInWorker of [false, true]) {
    const mode = runInWorker ? ' (in a worker)' : '';
    it(`resolves to null when the plug-in never called output_set, to an empty output when it set one${mode}`, async () => {
      const plugin = await createPlugin(fixturePath('kernel'), { runInWorker });
      try {
        assert.equal(await plugin.call('no_output'), null);
        for (const name of ['empty_output_of_0', 'empty_output_of_a_block', 'output_then_empty']) {
          const out = await plugin.call(name);
          assert.ok(out instanceof PluginOutput, `${name}: ${out}`);
          assert.equal(out.byteLength, 0, name);
          assert.equal(out.text(), '', name);
        }
        assert.equal((await plugin.call('url_key'))?.text(), 'url');
        assert.equal(await plugin.call('error_cleared'), null, 'error_set(0) cleared the error');
      } finally {
        await plugin.close();
      }
    });
  }

  it('gives an output an exact buffer of its own holding only the block, whichever way it is made', async () => {
    // input: [start u32][length u32][bytes...]; output: that window of the input block. Outputs
    // up to 64 bytes are copied by hand, up to 4 KiB sliced, from 4 KiB up made by the
    // platform's unfilled allocator: none may show a stray byte.
    const wasm = await assemble(`(module ${ENV}
      (func (export "window")
        (call $output_set
          (i64.add (call $input_offset) (i64.extend_i32_u (i32.wrap_i64 (call $input_load_u64 (i64.const 0)))))
          (i64.shr_u (call $input_load_u64 (i64.const 0)) (i64.const 32)))))`);
    const plugin = await createPlugin({ wasm: [{ data: wasm }] });
    const seen = new Set<ArrayBufferLike>();
    try {
      for (const [start, length] of [
        [8, 64],
        [9, 65],
        [12, 1024],
        [8, 4095],
        [8, 4096],
        [11, 4097],
        [13, 70_001],
        [8, 1 << 20],
      ] as const) {
        const input = new Uint8Array(start + length + 64).fill(0xee);
        new DataView(input.buffer).setUint32(0, start, true);
        new DataView(input.buffer).setUint32(4, length, true);
        for (let i = 0; i < length; i++) input[start + i] = (i * 7 + 1) & 0xff;
        const out = await plugin.call('window', input);
        assert.ok(out);
        assert.equal(out.byteOffset, 0, `${length}`);
        assert.equal(out.buffer.byteLength, length, `${length}: the buffer holds the output and nothing else`);
        assert.ok(Buffer.from(out.buffer).equals(input.subarray(start, start + length)), `${length}: the output is the block`);
        assert.ok(!seen.has(out.buffer), `${length}: a buffer of its own`);
        seen.add(out.buffer);
      }
    } finally {
      await plugin.close();
    }
  });

  it('gives each output an ArrayBuffer of its own, exactly as long, at offset 0', async () => {
    const a = await createPlugin(fixturePath('kernel'));
    const b = await createPlugin(fixturePath('kernel'));
    try {
      const outputs = [await a.call('url_key'), await b.call('url_key'), await a.call('empty_output_of_0')];
      const reads: PluginOutput[] = [];
      const echo = await assemble(`(module
        (import "extism:host/user" "peek" (func $peek (param i64)))
        (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
        (func (export "f") (call $peek (call $input_offset))))`);
      const peeker = await createPlugin(echo, { functions: { 'extism:host/user': { peek: (ctx: CallContext, h: number) => void reads.push(ctx.read(h)!) } } });
      await peeker.call('f', 'read by a host function');
      await peeker.close();
      for (const out of [...outputs, ...reads]) {
        assert.ok(out);
        assert.equal(out.byteOffset, 0);
        assert.equal(out.buffer.byteLength, out.byteLength, `${out.text()}: the buffer holds the output and nothing else`);
        assert.equal(out.arrayBuffer(), out.buffer);
      }
      assert.notEqual(outputs[0]!.buffer, outputs[1]!.buffer);
      assert.equal(new TextDecoder().decode(outputs[0]!.buffer), 'url');
      assert.equal(new TextDecoder().decode(reads[0]!.buffer), 'read by a host function');
      // what a user of the peer's README does
      assert.equal(new DataView(outputs[1]!.buffer).getUint8(0), 0x75);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('hands a host function the empty block for handle 0', async () => {
    const seen: unknown[] = [];
    const wasm = await assemble(`(module
      (import "extism:host/user" "peek" (func $peek (param i64)))
      (func (export "f") (call $peek (i64.const 0))))`);
    const plugin = await createPlugin(wasm, {
      functions: {
        'extism:host/user': {
          peek(ctx: CallContext, h: number) {
            const block = ctx.read(h);
            seen.push(block?.byteLength, block?.buffer.byteLength, ctx.length(h), ctx.read(1234567), ctx.length(1234567));
            ctx.free(h);
          },
        },
      },
    });
    await plugin.call('f');
    assert.deepEqual(seen, [0, 0, 0, null, 0]);
    await plugin.close();
  });

  it('survives a million Haskell-style config_get (free the key again) in a kernel of two pages', async () => {
    const url = 'https://example.com/some/path';
    const plugin = await createPlugin(fixturePath('kernel'), { config: { url }, memory: { maxPages: 2 } });
    const count = new Uint8Array(8);
    new DataView(count.buffer).setBigUint64(0, 1_000_000n, true);
    assert.equal((await plugin.call('config_loop', count))?.text(), url);
    await plugin.close();
  });

  it('reset() drops every kernel block at once', async () => {
    let kernel: Kernel | undefined;
    let kept = 0;
    const wasm = await assemble(`(module
      (import "extism:host/user" "keep" (func $keep))
      (func (export "f") (call $keep)))`);
    const plugin = await createPlugin(wasm, {
      functions: {
        'extism:host/user': {
          keep(ctx: CallContext) {
            kernel = (ctx as unknown as { host: { kernel: Kernel } }).host.kernel;
            kept = ctx.store('a block the guest never frees');
          },
        },
      },
    });
    await plugin.call('f', 'an input block too');
    assert.ok(kernel);
    assert.equal(kernel.length(kept), 29, 'blocks outlive their call until something drops them');
    assert.ok(kernel.heapBytes > 0);
    assert.equal(await plugin.reset(), true);
    assert.equal(kernel.length(kept), -1);
    assert.equal(kernel.heapBytes, 0);
    await plugin.close();
  });
});

describe('the kernel memory limit', () => {
  const KiB = 1024;
  const MiB = 1024 * KiB;
  const u64 = (n: number) => {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(n), true);
    return bytes;
  };

  for (const runInWorker of [false, true]) {
    it(`fails a guest that allocates past it with a MemoryLimitError, and the plug-in goes on${runInWorker ? ' (in a worker)' : ''}`, async () => {
      const plugin = await createPlugin(fixturePath('kernel'), { memory: { maxPages: 64 }, runInWorker });
      await assert.rejects(plugin.call('hog'), (err: Error) => {
        assert.ok(err instanceof MemoryLimitError, String(err));
        assert.equal(err.limit, 4 * MiB);
        assert.equal(err.requested, 16 * MiB);
        assert.match(err.message, /"hog" failed after the kernel memory refused 16777216 bytes: it is capped at 4194304 bytes/);
        assert.match(err.message, /unreachable/);
        return true;
      });
      await assert.rejects(plugin.call('big_output', u64(8 * MiB)), { code: 'PLUGHOST_MEMORY_LIMIT', requested: 8 * MiB });
      assert.equal((await plugin.call('big_output', u64(MiB)))?.byteLength, MiB);
      assert.equal((await plugin.call('url_key'))?.text(), 'url');
      await plugin.close();
    });
  }

  it('takes a text input whose UTF-8 fits under it, even when three bytes a character would not', async () => {
    const plugin = await createPlugin(fixturePath('kernel'), { memory: { maxPages: 2 } });
    const text = 'é'.repeat(50_000); // 100,000 bytes of UTF-8, in 128 KiB
    assert.equal((await plugin.call('echo', text))?.text(), text);
    await assert.rejects(plugin.call('echo', 'é'.repeat(70_000)), { code: 'PLUGHOST_MEMORY_LIMIT' });
    await plugin.close();
  });

  it('holds for a pooled kernel that grew past it for an earlier plug-in', async () => {
    const earlier = await createPlugin(fixturePath('kernel'));
    await earlier.call('echo', new Uint8Array(MiB));
    await earlier.close(); // its kernel (1 MiB and more) goes back to the pool, for the next plug-in
    const capped = await createPlugin(fixturePath('kernel'), { memory: { maxPages: 2 } });
    await assert.rejects(capped.call('echo', new Uint8Array(200 * KiB)), { code: 'PLUGHOST_MEMORY_LIMIT', limit: 128 * KiB });
    await assert.rejects(capped.call('hog'), { code: 'PLUGHOST_MEMORY_LIMIT', limit: 128 * KiB });
    assert.equal((await capped.call('echo', 'still usable'))?.text(), 'still usable');
    await capped.close();
  });

  it('fails a call whose host function results do not fit with a MemoryLimitError', async () => {
    const wasm = await assemble(`(module
      (import "extism:host/user" "give" (func $give (result i64)))
      (func (export "f") (loop $more (drop (call $give)) (br $more))))`);
    const plugin = await createPlugin(wasm, {
      memory: { maxPages: 64 },
      functions: { 'extism:host/user': { give: (ctx: CallContext) => ctx.store(new Uint8Array(MiB)) } },
    });
    await assert.rejects(plugin.call('f'), { code: 'PLUGHOST_MEMORY_LIMIT', limit: 4 * MiB, requested: MiB });
    await plugin.close();
  });

  it('is 1 GiB by default: a guest cannot make the host hold much more', async () => {
    // In a child process: the guests below take all the memory they are given.
    const script = `
      import { createPlugin } from ${JSON.stringify(pathToFileURL(join(repoRoot, 'build/src/index.js')).href)};
      const plugin = await createPlugin(${JSON.stringify(fixturePath('kernel'))});
      const u64 = (n) => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(n), true); return b; };
      const outcome = async (name, input) => {
        try { return { output: (await plugin.call(name, input))?.byteLength }; }
        catch (err) { return { code: err.code, limit: err.limit, requested: err.requested }; }
      };
      const result = {
        hog: await outcome('hog'),
        bigOutput: await outcome('big_output', u64(3 * 1024 ** 3)),
        after: await outcome('url_key'),
        maxRssKiB: process.resourceUsage().maxRSS,
      };
      console.log(JSON.stringify(result));
    `;
    const { stdout } = await runChild(['--input-type=module', '-e', script], { timeout: 120_000 });
    const result = JSON.parse(stdout) as Record<string, { code?: string; limit?: number; requested?: number; output?: number }> & { maxRssKiB: number };
    assert.deepEqual(result.hog, { code: 'PLUGHOST_MEMORY_LIMIT', limit: 1024 * MiB, requested: 16 * MiB });
    assert.deepEqual(result.bigOutput, { code: 'PLUGHOST_MEMORY_LIMIT', limit: 1024 * MiB, requested: 3 * 1024 * MiB });
    assert.deepEqual(result.after, { output: 3 });
    // 1 GiB of kernel memory, resident, plus Node itself; without the cap the hog alone reaches 4 GiB
    assert.ok(result.maxRssKiB * KiB < 1792 * MiB, `peak RSS ${Math.round(result.maxRssKiB / KiB)} MiB`);
  });
});
