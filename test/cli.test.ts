// The plughost CLI: `run()` in-process with captured streams, and one spawn of the built bin.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { buildManifest, parseCallArgs } from '../src/cli/call.js';
import { HOST_ENV_SIGNATURES, KERNEL_SIGNATURES } from '../src/cli/imports.js';
import { run, USAGE } from '../src/cli/run.js';
import { HOST_ENV_SIGNATURES as LIBRARY_HOST_ENV } from '../src/internal/host-env.js';
import { KERNEL_GUEST_FUNCTIONS } from '../src/internal/kernel/kernel.js';
import { kernelWasmBase64 } from '../src/internal/kernel/kernel-wasm.generated.js';
import { readModule } from '../src/internal/wasm/reader.js';
import { assemble, Capture, pluginPath, repoRoot, SlowStream } from './helpers.js';

/** A stdout/stderr stand-in that keeps every byte written to it. */

interface Result {
  status: number;
  stdout: string;
  stdoutBytes: Buffer;
  stderr: string;
}

async function cli(argv: string[], stdin?: string | Uint8Array): Promise<Result> {
  const stdout = new Capture();
  const stderr = new Capture();
  const status = await run(argv, { stdout, stderr, stdin: stdin === undefined ? undefined : Readable.from([Buffer.from(stdin)]) });
  return { status, stdout: stdout.text(), stdoutBytes: stdout.bytes(), stderr: stderr.text() };
}

const BIN = join(repoRoot, 'build', 'src', 'cli', 'bin.js');

/** The built bin in a child process: its exit status and output, failures included. */
async function bin(argv: string[], stdin?: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, [BIN, ...argv], { encoding: 'buffer', timeout: 60_000 }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') reject(err);
      else resolve({ status: child.exitCode ?? -1, stdout: stdout.toString('utf8'), stdoutBytes: stdout, stderr: stderr.toString('utf8') });
    });
    child.stdin!.end(stdin ?? '');
  });
}

const KERNEL_IMPORTS = `
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
`;

/** Test plug-ins in WAT, written to a temporary folder as NAME.wasm. */
const MODULES: Record<string, string> = {
  // echo: output = input, byte for byte; counter: one digit per call, '1', '2', ... from a global.
  basic: `(module ${KERNEL_IMPORTS}
    (import "extism:host/env" "log_warn" (func $log_warn (param i64)))
    (import "extism:host/env" "log_debug" (func $log_debug (param i64)))
    (import "extism:host/env" "log_error" (func $log_error (param i64)))
    (import "extism:host/env" "config_get" (func $config_get (param i64) (result i64)))
    (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
    (import "extism:host/env" "length" (func $length (param i64) (result i64)))
    (global $n (mut i32) (i32.const 0))
    (func (export "echo") (result i32) (call $output_set (call $input_offset) (call $input_length)) (i32.const 0))
    (func (export "counter") (result i32) (local $h i64)
      (global.set $n (i32.add (global.get $n) (i32.const 1)))
      (local.set $h (call $alloc (i64.const 1)))
      (call $store_u8 (local.get $h) (i32.add (i32.const 48) (global.get $n)))
      (call $output_set (local.get $h) (i64.const 1))
      (i32.const 0))
    (func (export "nothing"))
    (func (export "exit_2") (result i32) (i32.const 2))
    (func (export "exit_42") (result i32) (i32.const 42))
    (func (export "exit_300") (result i32) (i32.const 300))
    (func (export "exit_minus_3") (result i32) (i32.const -3))
    (func (export "trap") unreachable)
    (func (export "spin") (loop $forever (br $forever)))
    (func (export "warn") (call $log_warn (call $input_offset)))
    (func (export "debug") (call $log_debug (call $input_offset)))
    (func (export "error") (call $log_error (call $input_offset)))
    ;; config: the value of the config key named by the input; exit code 1 when there is none.
    (func (export "config") (result i32) (local $v i64)
      (local.set $v (call $config_get (call $input_offset)))
      (if (i64.eqz (local.get $v)) (then (return (i32.const 1))))
      (call $output_set (local.get $v) (call $length (local.get $v)))
      (i32.const 0))
    ;; set_var: the input stored in the var "k" (fails the call past max_var_bytes).
    (func (export "set_var") (local $k i64)
      (local.set $k (call $alloc (i64.const 1)))
      (call $store_u8 (local.get $k) (i32.const 107))
      (call $var_set (local.get $k) (call $input_offset)))
    ;; grow: memory.grow by one page; exit code 7 when it is refused.
    (func (export "grow") (result i32)
      (if (result i32) (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then (i32.const 7)) (else (i32.const 0))))
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
    (memory (export "memory") 1))`,
  wasi: `(module ${KERNEL_IMPORTS}
    (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (func (export "echo") (call $output_set (call $input_offset) (call $input_length))))`,
  // Everything info tells apart: kernel, host-env, WASI, a user host function, a name
  // extism:host/env does not have, a kernel function with the wrong signature, and a memory.
  mixed: `(module
    (import "extism:host/env" "input_length" (func (result i64)))
    (import "extism:host/env" "config_get" (func (param i64) (result i64)))
    (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
    (import "extism:host/user" "kv_read" (func (param i64) (result i64)))
    (import "extism:host/env" "teleport" (func (param i64)))
    (import "extism:host/env" "alloc" (func (param i32) (result i32)))
    (import "env" "memory" (memory 1))
    (func (export "run") (result i32) (i32.const 0))
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))`,
  // Writes a line to its WASI stdout and one to its stderr, then echoes its input.
  wasi_output: `(module ${KERNEL_IMPORTS}
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (data (i32.const 64) "to stdout\\n")
    (data (i32.const 80) "to stderr\\n")
    (func $write (param $fd i32) (param $at i32)
      (i32.store (i32.const 0) (local.get $at))
      (i32.store (i32.const 4) (i32.const 10))
      (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))
    (func (export "echo")
      (call $write (i32.const 1) (i32.const 64))
      (call $write (i32.const 2) (i32.const 80))
      (call $output_set (call $input_offset) (call $input_length))))`,
  // proc_exit with the input's length minus 2: an empty input exits with -2, "x" with -1.
  wasi_exit: `(module ${KERNEL_IMPORTS}
    (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
    (memory (export "memory") 1)
    (func (export "exit") (call $proc_exit (i32.sub (i32.wrap_i64 (call $input_length)) (i32.const 2)))))`,
  // HTTP: a GET of the URL given as input; the body as output, or the response headers with "headers".
  http: `(module
    (import "extism:host/env" "length" (func $length (param i64) (result i64)))
    (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
    (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
    (import "extism:host/env" "http_request" (func $http_request (param i64 i64) (result i64)))
    (import "extism:host/env" "http_headers" (func $http_headers (result i64)))
    (func (export "fetch") (local $h i64)
      (local.set $h (call $http_request (call $input_offset) (i64.const 0)))
      (call $output_set (local.get $h) (call $length (local.get $h))))
    (func (export "headers") (local $h i64)
      (drop (call $http_request (call $input_offset) (i64.const 0)))
      (local.set $h (call $http_headers))
      (call $output_set (local.get $h) (call $length (local.get $h)))))`,
  // Linking: math exports answer (42); needs_math imports it and returns answer - 42.
  math: `(module (func (export "answer") (result i32) (i32.const 42)))`,
  needs_math: `(module
    (import "math" "answer" (func $answer (result i32)))
    (func (export "run") (result i32) (i32.sub (call $answer) (i32.const 42))))`,
  user: `(module
    (import "extism:host/user" "kv_read" (func (param i64) (result i64)))
    (import "extism:host/user" "kv_write" (func (param i64 i64)))
    (func (export "run") (result i32) (i32.const 0)))`,
};

let dir: string;
const wasm = (name: string) => join(dir, `${name}.wasm`);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plughost-cli-'));
  for (const [name, wat] of Object.entries(MODULES)) await writeFile(wasm(name), await assemble(wat));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('plughost call', () => {
  it('writes the output bytes exactly, with no newline added', async () => {
    const input = Buffer.from([0x00, 0xff, 0x0a, 0x41, 0xc3]);
    await writeFile(join(dir, 'input.bin'), input);
    const r = await cli(['call', wasm('basic'), 'echo', '--input-file', join(dir, 'input.bin')]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdoutBytes, input);
    assert.equal(r.stderr, '');
  });

  it('takes the input from --input, --input=, --stdin and --input-file -', async () => {
    assert.equal((await cli(['call', wasm('basic'), 'echo', '--input', 'héllo'])).stdout, 'héllo');
    assert.equal((await cli(['call', wasm('basic'), 'echo', '--input=a=b'])).stdout, 'a=b');
    assert.equal((await cli(['call', wasm('basic'), 'echo', '--stdin'], 'from stdin\n')).stdout, 'from stdin\n');
    assert.equal((await cli(['call', wasm('basic'), 'echo', '--input-file', '-'], 'dash')).stdout, 'dash');
    assert.equal((await cli(['call', wasm('basic'), 'echo'])).stdout, '');
  });

  it('writes nothing when the plug-in sets no output', async () => {
    const r = await cli(['call', wasm('basic'), 'nothing']);
    assert.equal(r.status, 0);
    assert.equal(r.stdoutBytes.length, 0);
  });

  it('ends the output with a newline on a terminal only, and never doubles one', async () => {
    const onTerminal = async (argv: string[]) => {
      const stdout = Object.assign(new Capture(), { isTTY: true });
      assert.equal(await run(argv, { stdout, stderr: new Capture() }), 0);
      return stdout.text();
    };
    assert.equal(await onTerminal(['call', wasm('basic'), 'echo', '--input', 'hi']), 'hi\n');
    assert.equal(await onTerminal(['call', wasm('basic'), 'echo', '--input', 'hi\n']), 'hi\n');
    assert.equal(await onTerminal(['call', wasm('basic'), 'counter', '--loop', '2']), '1\n2\n');
    assert.equal((await cli(['call', wasm('basic'), 'echo', '--input', 'hi'])).stdout, 'hi');
  });

  it('calls N times on one instance with --loop N, each output on its own line', async () => {
    assert.equal((await cli(['call', wasm('basic'), 'counter', '--loop', '3'])).stdout, '1\n2\n3\n');
    assert.equal((await cli(['call', wasm('basic'), 'counter', '--loop', '1'])).stdout, '1');
  });

  it('runs count-vowels from the build, totals 3, 6, 9 with --loop 3, and honours --config', {
    skip: !existsSync(pluginPath('count-vowels')) && 'build/plugins/count-vowels.wasm is not built',
  }, async () => {
    const once = await cli(['call', pluginPath('count-vowels'), 'count_vowels', '--input', 'Hello, World!']);
    assert.equal(once.status, 0, once.stderr);
    assert.equal(once.stdout, '{"count":3,"total":3,"vowels":"aeiouAEIOU"}');
    const loop = await cli(['call', pluginPath('count-vowels'), 'count_vowels', '--input', 'Hello, World!', '--loop', '3']);
    assert.deepEqual(loop.stdout.split('\n'), [
      '{"count":3,"total":3,"vowels":"aeiouAEIOU"}',
      '{"count":3,"total":6,"vowels":"aeiouAEIOU"}',
      '{"count":3,"total":9,"vowels":"aeiouAEIOU"}',
      '',
    ]);
    const config = await cli(['call', pluginPath('count-vowels'), 'count_vowels', '--input', 'Yellow', '--config', 'vowels=aeiouyAEIOUY']);
    assert.equal(config.stdout, '{"count":3,"total":3,"vowels":"aeiouyAEIOUY"}');
  });

  it('reads a manifest file, its paths relative to it, and merges --config over its config', async () => {
    const sub = join(dir, 'manifest');
    await mkdir(sub, { recursive: true });
    await writeFile(join(sub, 'basic.wasm'), await readFile(wasm('basic')));
    await writeFile(join(sub, 'plugin.json'), JSON.stringify({ wasm: [{ path: 'basic.wasm' }], config: { a: '1' } }));
    const r = await cli(['call', join(sub, 'plugin.json'), 'echo', '--input', 'via manifest', '--config', 'b=2']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'via manifest');
  });

  it('fetches the plug-in, or a manifest answered as JSON, from a URL', async () => {
    const bytes = await readFile(wasm('basic'));
    const server = createServer((req, res) => {
      if (req.url === '/basic.wasm') res.writeHead(200, { 'content-type': 'application/wasm' }).end(bytes);
      else
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ wasm: [{ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/basic.wasm` }], config: { k: 'from url' } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const r = await cli(['call', `http://127.0.0.1:${port}/basic.wasm`, 'echo', '--input', 'over http']);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, 'over http');
      const manifest = await cli(['call', `http://127.0.0.1:${port}/plugin.json`, 'config', '--input', 'k']);
      assert.equal(manifest.status, 0, manifest.stderr);
      assert.equal(manifest.stdout, 'from url');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  describe('exit status and stderr', () => {
    // 1: the call failed; 2: a usage error; 3: the plug-in could not be run. The plug-in's own
    // exit code is on stderr, never the status: a plug-in returning 2 is no usage error.
    const cases: { what: string; argv: string[]; status: number; stderr: RegExp }[] = [
      { what: "1 for a plug-in's exit code, which stderr gives", argv: ['exit_42'], status: 1, stderr: /^Error: "exit_42" returned exit code 42\n$/ },
      { what: '1, not 2, for a plug-in that returns 2', argv: ['exit_2'], status: 1, stderr: /^Error: "exit_2" returned exit code 2\n$/ },
      { what: '1 for an exit code above 255', argv: ['exit_300'], status: 1, stderr: /exit code 300\n$/ },
      { what: '1 for a negative exit code', argv: ['exit_minus_3'], status: 1, stderr: /exit code -3\n$/ },
      { what: '1 for a trap, naming the function', argv: ['trap'], status: 1, stderr: /^Error: trap: .*unreachable/ },
      { what: '3 when the function does not exist', argv: ['count_vowels'], status: 3, stderr: /^Error: .*"count_vowels"/ },
    ];
    for (const c of cases) {
      it(`is ${c.what}`, async () => {
        const r = await cli(['call', wasm('basic'), ...c.argv]);
        assert.equal(r.status, c.status, r.stderr);
        assert.match(r.stderr, c.stderr);
        assert.doesNotMatch(r.stderr, /--help/);
        assert.equal(r.stdout, '');
      });
    }

    it('prints a WASI exit of -1 as -1, signed', async () => {
      const minusOne = await cli(['call', wasm('wasi_exit'), 'exit', '--wasi', '--input', 'x']);
      assert.equal(minusOne.status, 1);
      assert.equal(minusOne.stderr, 'Error: "exit" exited with code -1\n');
      const minusTwo = await cli(['call', wasm('wasi_exit'), 'exit', '--wasi']);
      assert.match(minusTwo.stderr, /exited with code -2\n$/);
    });

    // Word for word what extism call prints: scripts written for it match the line (the C++
    // PDK's CI greps `Error: Some error message`).
    it("is 1 for the plug-in's own error message, as extism call prints it, with its exit code", {
      skip: !existsSync(pluginPath('fail')) && 'build/plugins/fail.wasm is not built',
    }, async () => {
      const r = await cli(['call', pluginPath('fail'), 'fail', '--input', 'because']);
      assert.equal(r.status, 1);
      assert.equal(r.stderr, 'Error: this plug-in always fails: because\nreturned non-zero exit code: 1\n');
      const two = await cli(['call', pluginPath('fail'), 'fail_with_code', '--input', '2']);
      assert.equal(two.status, 1);
      assert.equal(two.stderr, 'Error: "fail_with_code" returned exit code 2\n');
    });

    it('is 2 for a usage error, and says where the usage is', async () => {
      const r = await cli(['call', wasm('basic'), 'echo', '--loop', 'many']);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /^Error: --loop must be a whole number .*\nrun 'plughost call --help' for usage\n$/);
    });
  });

  it('fails a call that runs past --timeout, with a hint', async () => {
    const started = Date.now();
    const r = await cli(['call', wasm('basic'), 'spin', '--timeout', '50']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^Error: call to "spin" timed out after 50 ms \(call canceled due to timeout\)\nhint: .*--timeout/);
    assert.ok(Date.now() - started < 5000);
  });

  it('fails a call that runs past --fuel', async () => {
    const r = await cli(['call', wasm('basic'), 'spin', '--fuel', '100000']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^Error: call to "spin" ran out of fuel \(budget 100000\)\n$/);
    assert.equal((await cli(['call', wasm('basic'), 'echo', '--fuel', '100000', '--input', 'ok'])).stdout, 'ok');
  });

  it('lists the exports when the function does not exist', async () => {
    const r = await cli(['call', wasm('basic'), 'count_vowels']);
    assert.equal(r.status, 3);
    assert.match(r.stderr, /^Error: .*"count_vowels"/);
    assert.match(r.stderr, /\nhint: the plug-in exports: echo, counter, nothing, /);
  });

  it('says to pass --wasi when the plug-in imports WASI, and runs it with --wasi', async () => {
    const without = await cli(['call', wasm('wasi'), 'echo', '--input', 'x']);
    assert.equal(without.status, 3);
    assert.match(without.stderr, /^Error: cannot link the plug-in: missing import wasi_snapshot_preview1\.fd_write\n/);
    assert.match(without.stderr, /\nhint: the plug-in uses WASI: pass --wasi\n$/);
    assert.doesNotMatch(without.stderr, /useWasi/);
    const withWasi = await cli(['call', wasm('wasi'), 'echo', '--input', 'x', '--wasi']);
    assert.equal(withWasi.status, 0, withWasi.stderr);
    assert.equal(withWasi.stdout, 'x');
  });

  it("lets the guest's WASI stdout and stderr through with --enable-wasi-output, and only then", async () => {
    const through = await cli(['call', wasm('wasi_output'), 'echo', '--input', 'output', '--enable-wasi-output']);
    assert.equal(through.status, 0, through.stderr);
    assert.equal(through.stdout, 'to stdout\noutput');
    assert.equal(through.stderr, 'to stderr\n');
    const quiet = await cli(['call', wasm('wasi_output'), 'echo', '--input', 'output', '--wasi']);
    assert.equal(quiet.stdout, 'output');
    assert.equal(quiet.stderr, '');
  });

  it('says which host functions are missing and that the CLI has none', async () => {
    const r = await cli(['call', wasm('user'), 'run']);
    assert.equal(r.status, 3);
    assert.match(r.stderr, /missing import extism:host\/user\.kv_read/);
    assert.match(r.stderr, /\nhint: extism:host\/user\.kv_read, extism:host\/user\.kv_write: host functions .* the plughost CLI has none .*`functions`/);
  });

  it('names the file that cannot be read', async () => {
    const r = await cli(['call', join(dir, 'missing.wasm'), 'f']);
    assert.equal(r.status, 3);
    assert.match(r.stderr, /^Error: .*missing\.wasm.*no such file/);
    const input = await cli(['call', wasm('basic'), 'echo', '--input-file', join(dir, 'missing.txt')]);
    assert.equal(input.status, 3);
    assert.match(input.stderr, /^Error: cannot read --input-file .*missing\.txt: no such file\n$/);
  });

  it('sends plug-in log messages at --log-level and above to stderr, error and above by default (as extism call)', async () => {
    const warn = await cli(['call', wasm('basic'), 'warn', '--input', 'careful', '--log-level', 'info']);
    assert.equal(warn.status, 0);
    assert.equal(warn.stderr, '[warn] careful\n');
    assert.equal(warn.stdout, '');
    assert.equal((await cli(['call', wasm('basic'), 'debug', '--input', 'detail', '--log-level', 'info'])).stderr, '');
    assert.equal((await cli(['call', wasm('basic'), 'debug', '--input', 'detail', '--log-level', 'debug'])).stderr, '[debug] detail\n');
    assert.equal((await cli(['call', wasm('basic'), 'warn', '--input', 'careful'])).stderr, '');
    assert.equal((await cli(['call', wasm('basic'), 'error', '--input', 'broken'])).stderr, '[error] broken\n');
    assert.equal((await cli(['call', wasm('basic'), 'error', '--input', 'broken', '--log-level', 'silent'])).stderr, '');
  });

  it('reads config from --config KEY=VALUE, --config KEY (empty) and --set-config JSON, --config winning', async () => {
    const config = (key: string, ...flags: string[]) => cli(['call', wasm('basic'), 'config', '--input', key, ...flags]);
    assert.equal((await config('k', '--config', 'k=v=w')).stdout, 'v=w');
    // --config k gives k the empty value (see "call arguments"), which config_get answers with
    // handle 0, the empty block, as the reference host does: this plug-in reads 0 as no key.
    const empty = await config('k', '--config', 'k');
    assert.equal(empty.status, 1, empty.stderr);
    assert.equal((await config('k')).status, 1, 'the plug-in sees no key without --config');
    assert.equal((await config('a', '--set-config', '{"a":"from json","b":"json"}', '--config', 'b=flag')).stdout, 'from json');
    assert.equal((await config('b', '--set-config', '{"a":"from json","b":"json"}', '--config', 'b=flag')).stdout, 'flag');
  });

  // The lines of go-pdk's and zig-pdk's CI, which pass extism's global flags to extism call.
  it("accepts extism's global flags, before the command and after it, and ignores them", async () => {
    const withFlags = (...argv: string[]) => cli(argv);
    const plain = await withFlags('call', wasm('basic'), 'config', '--input', 'k', '--config', 'k=v');
    assert.equal(plain.stdout, 'v', plain.stderr);
    for (const argv of [
      ['call', wasm('basic'), '--github-token=abc', 'config', '--input', 'k', '--config', 'k=v'],
      ['call', wasm('basic'), 'config', '--github-token', 'abc', '-v', '--quiet', '--input', 'k', '--config', 'k=v'],
      ['--github-token', 'abc', '-q', 'call', wasm('basic'), 'config', '--verbose', '--input', 'k', '--config', 'k=v'],
    ]) {
      const r = await withFlags(...argv);
      assert.deepEqual([r.status, r.stdout, r.stderr], [0, 'v', ''], argv.join(' '));
    }
    const info = await withFlags('-v', 'info', wasm('basic'), '--github-token', 'abc', '--json');
    assert.equal(info.status, 0, info.stderr);
  });

  it('caps memory with --memory-max (and --max-pages) and vars with --var-max', async () => {
    // basic.wasm has one page: growing to two needs a cap of 2 or none.
    assert.equal((await cli(['call', wasm('basic'), 'grow'])).status, 0);
    assert.equal((await cli(['call', wasm('basic'), 'grow', '--memory-max', '2'])).status, 0);
    const capped = await cli(['call', wasm('basic'), 'grow', '--memory-max', '1']);
    assert.equal(capped.status, 1);
    assert.match(capped.stderr, /exit code 7/);
    assert.equal((await cli(['call', wasm('basic'), 'grow', '--max-pages', '1'])).status, 1);
    assert.equal((await cli(['call', wasm('basic'), 'grow', '--memory-max', '0'])).status, 0, '0 is no cap, as in extism call');
    assert.equal((await cli(['call', wasm('basic'), 'set_var', '--input', 'value'])).status, 0);
    assert.equal((await cli(['call', wasm('basic'), 'set_var', '--input', 'value', '--var-max', '100'])).status, 0);
    const noVars = await cli(['call', wasm('basic'), 'set_var', '--input', 'value', '--var-max', '3']);
    assert.equal(noVars.status, 1);
    assert.match(noVars.stderr, /max_?var_?bytes|maxVarBytes/i);
  });

  // In a child process: a main-thread plug-in's HTTP request blocks its thread until the answer,
  // so the server cannot be on the thread that runs the plug-in.
  describe('HTTP (the bin, in a child process)', () => {
    let server: ReturnType<typeof createServer>;
    let url: string;
    before(async () => {
      server = createServer((_req, res) => res.writeHead(200, { 'x-answer': '42' }).end('hello from 127.0.0.1'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    });
    after(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
    const request = () => JSON.stringify({ url });

    it('reaches only --allow-host hosts, hinting at the flag', async () => {
      const denied = await bin(['call', wasm('http'), 'fetch', '--input', request()]);
      assert.equal(denied.status, 1);
      assert.match(denied.stderr, /\nhint: allow the plug-in to reach it with --allow-host 127\.0\.0\.1\n$/);
      const allowed = await bin(['call', wasm('http'), 'fetch', '--input', request(), '--allow-host', '127.0.0.*']);
      assert.equal(allowed.status, 0, allowed.stderr);
      assert.equal(allowed.stdout, 'hello from 127.0.0.1');
    });

    it('caps the response body with --http-response-max', async () => {
      const r = await bin(['call', wasm('http'), 'fetch', '--input', request(), '--allow-host', '127.0.0.1', '--http-response-max', '5']);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /maxHttpResponseBytes \(5 bytes\)/);
    });

    it('shows response headers with --allow-http-response-headers (or --enable-http-response-headers) only', async () => {
      for (const flag of ['--allow-http-response-headers', '--enable-http-response-headers']) {
        const r = await bin(['call', wasm('http'), 'headers', '--input', request(), '--allow-host', '127.0.0.1', flag]);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(JSON.parse(r.stdout)['x-answer'], '42');
      }
      const without = await bin(['call', wasm('http'), 'headers', '--input', request(), '--allow-host', '127.0.0.1']);
      assert.equal(without.stdout, '');
    });
  });

  it('links other modules with --link NAME=PATH and --link PATH', async () => {
    const missing = await cli(['call', wasm('needs_math'), 'run']);
    assert.equal(missing.status, 3);
    assert.match(missing.stderr, /missing import math\.answer/);
    const named = await cli(['call', wasm('needs_math'), 'run', '--link', `math=${wasm('math')}`]);
    assert.equal(named.status, 0, named.stderr);
    const bare = await cli(['call', wasm('needs_math'), 'run', '--link', wasm('math')]);
    assert.equal(bare.status, 0, bare.stderr);
  });

  it('reads a manifest named anything with -m/--manifest, adding --link modules to it', async () => {
    const sub = join(dir, 'manifest-m');
    await mkdir(sub, { recursive: true });
    await writeFile(join(sub, 'main.wasm'), await readFile(wasm('needs_math')));
    await writeFile(join(sub, 'plugin.manifest'), JSON.stringify({ wasm: [{ path: 'main.wasm' }] }));
    for (const flag of ['-m', '--manifest']) {
      const r = await cli(['call', join(sub, 'plugin.manifest'), 'run', flag, '--link', `math=${wasm('math')}`]);
      assert.equal(r.status, 0, r.stderr);
    }
    const asWasm = await cli(['call', join(sub, 'plugin.manifest'), 'run']);
    assert.equal(asWasm.status, 3, 'without -m the file is read as a module');
    const bad = join(sub, 'bad.manifest');
    await writeFile(bad, '{"wasm": [');
    const invalid = await cli(['call', bad, 'run', '-m']);
    assert.equal(invalid.status, 3);
    assert.match(invalid.stderr, /^Error: manifest .*bad\.manifest is not valid JSON/);
  });

  it('mounts --allow-path directories for WASI, ro: read-only', {
    skip: !existsSync(pluginPath('wasi-files')) && 'build/plugins/wasi-files.wasm is not built',
  }, async () => {
    const data = join(dir, 'data');
    await mkdir(data, { recursive: true });
    await writeFile(join(data, 'a.txt'), 'A');
    const list = await cli(['call', pluginPath('wasi-files'), 'list_dir', '--input', '/data', '--allow-path', `ro:${data}:/data`]);
    assert.equal(list.status, 0, list.stderr);
    assert.equal(list.stdout, 'a.txt');
    const write = JSON.stringify({ path: '/data/b.txt', content: 'B' });
    const denied = await cli(['call', pluginPath('wasi-files'), 'write_file', '--input', write, '--allow-path', `ro:${data}:/data`]);
    assert.equal(denied.status, 1);
    assert.match(denied.stderr, /^Error: write_file: path_open "\/data\/b.txt" failed/);
    const allowed = await cli(['call', pluginPath('wasi-files'), 'write_file', '--input', write, '--allow-path', `${data}:/data`]);
    assert.equal(allowed.status, 0, allowed.stderr);
    assert.equal(await readFile(join(data, 'b.txt'), 'utf8'), 'B');
  });

  it('says a missing --allow-path host directory does not exist, and that the map looks reversed only when it does', async () => {
    const missing = join(dir, 'nope');
    // /mnt exists on most hosts, and is a guest path: no hint that HOST and GUEST were swapped.
    const plain = await cli(['call', wasm('wasi'), 'echo', '--allow-path', `${missing}:/mnt`]);
    assert.equal(plain.status, 3);
    assert.equal(plain.stderr, `Error: manifest allowed_paths["${missing}"]: host directory ${missing} does not exist\n`);
    const reversed = await cli(['call', wasm('wasi'), 'echo', '--allow-path', `/data-that-does-not-exist:${dir}`]);
    assert.equal(reversed.status, 3);
    assert.match(reversed.stderr, /host directory \/data-that-does-not-exist does not exist, but .* does: the map looks reversed/);
    const file = wasm('basic');
    const notDirectory = await cli(['call', wasm('wasi'), 'echo', '--allow-path', `${file}:/data`]);
    assert.equal(notDirectory.status, 3);
    assert.match(notDirectory.stderr, /host path .*basic\.wasm is not a directory\n$/);
  });
});

describe('call arguments', () => {
  it('turns flags into manifest fields and plug-in options', () => {
    const request = parseCallArgs([
      'p.wasm',
      'f',
      '--config',
      'k=v=w',
      '--config',
      'empty=',
      '--config',
      'bare',
      '--set-config',
      '{"k":"json","j":"1"}',
      '--allow-host',
      'a.example',
      '--allow-host',
      '*.b.example',
      '--allow-path',
      '/srv/data:/data',
      '--allow-path',
      'ro:/srv/static:/static',
      '--allow-path',
      '/tmp',
      '--link',
      'math=lib/math.wasm',
      '--link',
      'https://example.com/x/util.wasm?v=1',
      '--link',
      'env=https://example.com/e.wasm',
      '--timeout',
      '1000',
      '--memory-max',
      '16',
      '--var-max',
      '0',
      '--http-response-max',
      '1024',
      '--fuel',
      '5000',
      '--log-level',
      'warn',
      '--loop',
      '3',
      '--allow-http-response-headers',
      '-i',
      'text',
    ]);
    assert.deepEqual(request, {
      source: 'p.wasm',
      functionName: 'f',
      input: { kind: 'text', text: 'text' },
      loop: 3,
      wasiOutput: false,
      manifest: {
        isManifest: false,
        links: [
          { name: 'math', path: 'lib/math.wasm' },
          { name: 'util', url: 'https://example.com/x/util.wasm?v=1' },
          { name: 'env', url: 'https://example.com/e.wasm' },
        ],
        config: { k: 'v=w', j: '1', empty: '', bare: '' },
        allowedHosts: ['a.example', '*.b.example'],
        allowedPaths: { '/srv/data': '/data', 'ro:/srv/static': '/static', '/tmp': '/tmp' },
        memory: { max_pages: 16, max_var_bytes: 0, max_http_response_bytes: 1024 },
        timeoutMs: 1000,
      },
      options: { useWasi: true, allowHttpResponseHeaders: true, fuel: 5000, logLevel: 'warn' },
    });
    assert.deepEqual(parseCallArgs(['p.wasm', 'f', '--wasi'])?.options, { useWasi: true, logLevel: 'error' });
    assert.deepEqual(parseCallArgs(['p.wasm', 'f', '--enable-wasi-output'])?.options, { useWasi: true, logLevel: 'error' });
    assert.equal(parseCallArgs(['p.wasm', 'f', '--enable-wasi-output'])?.wasiOutput, true);
    assert.deepEqual(parseCallArgs(['p.wasm', 'f', '--max-pages', '3'])?.manifest.memory, { max_pages: 3 });
    assert.deepEqual(parseCallArgs(['p.wasm', 'f', '--memory-max', '0'])?.manifest.memory, {});
    assert.equal(parseCallArgs(['p.wasm', 'f', '--timeout', '0'])?.manifest.timeoutMs, 0);
    assert.equal(parseCallArgs(['p.json', 'f'])?.manifest.isManifest, true);
    assert.equal(parseCallArgs(['p.txt', 'f', '-m'])?.manifest.isManifest, true);
    assert.equal(parseCallArgs(['--help']), null);
  });

  it('puts the flags over a manifest as extism call does: hosts and modules added, paths and config merged, limits replaced', async () => {
    const sub = join(dir, 'merge');
    await mkdir(sub, { recursive: true });
    const file = join(sub, 'plugin.json');
    await writeFile(
      file,
      JSON.stringify({
        wasm: [
          { path: 'main.wasm', name: 'main' },
          { path: '/abs/other.wasm', name: 'other' },
        ],
        allowedHosts: ['from.manifest'],
        allowed_paths: { '/host/a': '/a', '/host/b': '/b' },
        config: { keep: 'm', over: 'm' },
        memory: { maxPages: 4, max_var_bytes: 10 },
        timeout_ms: 100,
      }),
    );
    const request = parseCallArgs([
      file,
      'f',
      '--allow-host',
      'from.flag',
      '--allow-path',
      '/flag/b:/b',
      '--config',
      'over=flag',
      '--memory-max',
      '8',
      '--timeout',
      '50',
      '--link',
      'lib=lib.wasm',
    ])!;
    assert.deepEqual(await buildManifest(file, request.manifest), {
      wasm: [
        { name: 'lib', path: 'lib.wasm' },
        { path: join(sub, 'main.wasm'), name: 'main' },
        { path: '/abs/other.wasm', name: 'other' },
      ],
      allowed_hosts: ['from.manifest', 'from.flag'],
      allowed_paths: { '/host/a': '/a', '/host/b': '/b', '/flag/b': '/b' },
      config: { keep: 'm', over: 'flag' },
      memory: { max_var_bytes: 10, max_pages: 8 },
      timeout_ms: 50,
    });
    assert.equal(parseCallArgs(['https://example.com/p.json', 'f'])!.manifest.isManifest, false, 'a URL is a manifest when it answers with JSON');
    const noTimeout = parseCallArgs([file, 'f', '--timeout', '0'])!;
    assert.equal((await buildManifest(file, noTimeout.manifest)).timeout_ms, undefined);
  });

  const usageErrors: { argv: string[]; stderr: RegExp }[] = [
    { argv: ['call', 'p.wasm', 'f', '--bogus'], stderr: /^Error: unknown flag --bogus for plughost call\n/ },
    { argv: ['call', 'p.wasm', 'f', '-x'], stderr: /^Error: unknown flag -x for plughost call\n/ },
    { argv: ['call', 'p.wasm'], stderr: /needs the name of the function/ },
    { argv: ['call'], stderr: /needs a plug-in/ },
    { argv: ['call', 'p.wasm', 'f', 'extra'], stderr: /unexpected "extra"/ },
    { argv: ['call', 'p.wasm', 'f', '--input', 'a', '--stdin'], stderr: /at most one of --input, --input-file and --stdin/ },
    { argv: ['call', 'p.wasm', 'f', '--input'], stderr: /flag --input needs a value/ },
    { argv: ['call', 'p.wasm', 'f', '--wasi=yes'], stderr: /flag --wasi takes no value/ },
    { argv: ['call', 'p.wasm', 'f', '--config', '=value'], stderr: /--config must be KEY=VALUE or KEY/ },
    { argv: ['call', 'p.wasm', 'f', '--set-config', '{"a":'], stderr: /--set-config must be a JSON object/ },
    { argv: ['call', 'p.wasm', 'f', '--set-config', '["a"]'], stderr: /--set-config must be a JSON object of strings/ },
    { argv: ['call', 'p.wasm', 'f', '--set-config', '{"a":1}'], stderr: /--set-config values must be strings; "a" is 1/ },
    { argv: ['call', 'p.wasm', 'f', '--link', 'lib='], stderr: /--link must be NAME=PATH or PATH/ },
    { argv: ['call', 'https://example.com/m.json', 'f', '-m'], stderr: /--manifest reads a manifest file/ },
    { argv: ['call', 'p.wasm', 'f', '-i', 'a', '--stdin'], stderr: /at most one of --input, --input-file and --stdin/ },
    { argv: ['call', 'p.wasm', 'f', '--fuel', '0'], stderr: /--fuel must be a whole number from 1/ },
    { argv: ['call', 'p.wasm', 'f', '--var-max', '-1'], stderr: /--var-max must be a whole number from 0/ },
    { argv: ['call', 'p.wasm', 'f', '--allow-path', 'ro::/data'], stderr: /--allow-path must be/ },
    { argv: ['call', 'p.wasm', 'f', '--timeout', '1s'], stderr: /--timeout must be a whole number/ },
    { argv: ['call', 'p.wasm', 'f', '--loop', '0'], stderr: /--loop must be a whole number from 1/ },
    { argv: ['call', 'p.wasm', 'f', '--max-pages', '70000'], stderr: /--memory-max must be a whole number from 0 to 65536/ },
    { argv: ['call', 'p.wasm', 'f', '--memory-max', '1.5'], stderr: /--memory-max must be a whole number from 0 to 65536/ },
    { argv: ['call', 'p.wasm', 'f', '--log-level', 'loud'], stderr: /--log-level must be one of trace, debug, info, warn, error, silent/ },
    { argv: ['info'], stderr: /info needs the path/ },
    { argv: ['info', 'a.wasm', '--yaml'], stderr: /^Error: unknown flag --yaml for plughost info\n/ },
    { argv: ['frobnicate'], stderr: /^Error: unknown command "frobnicate"; the commands are call, info\n/ },
    { argv: ['--frob'], stderr: /^Error: unknown flag --frob/ },
    { argv: ['--github-token'], stderr: /^Error: unknown flag --github-token/ },
  ];
  for (const { argv, stderr } of usageErrors) {
    it(`exits 2 for: plughost ${argv.join(' ')}`, async () => {
      const r = await cli(argv);
      assert.equal(r.status, 2);
      assert.match(r.stderr, stderr);
      assert.match(r.stderr, /\nrun 'plughost (\w+ )?--help' for usage\n$/);
      assert.equal(r.stdout, '');
    });
  }
});

describe('help and version', () => {
  it('prints the usage on --help, -h and help, and on stderr with status 2 when there is no command', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const r = await cli(argv);
      assert.equal(r.status, 0);
      assert.equal(r.stdout, USAGE);
    }
    const bare = await cli([]);
    assert.equal(bare.status, 2);
    assert.equal(bare.stderr, USAGE);
  });

  it('prints each command usage on --help, -h and help COMMAND, ignoring the other arguments', async () => {
    for (const argv of [
      ['call', '--help'],
      ['call', 'p.wasm', 'f', '-h'],
      ['help', 'call'],
    ]) {
      const r = await cli(argv);
      assert.equal(r.status, 0);
      assert.match(r.stdout, /^Usage: plughost call <wasm \| manifest\.json \| url> <function> \[flags\]\n/);
      assert.match(r.stdout, /--allow-path HOST:GUEST/);
    }
    for (const argv of [
      ['info', '--help'],
      ['help', 'info'],
    ]) {
      const r = await cli(argv);
      assert.equal(r.status, 0);
      assert.match(r.stdout, /^Usage: plughost info <wasm> \[--json\]\n/);
    }
  });

  it("prints the package's version", async () => {
    const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    const r = await cli(['--version']);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, `plughost ${pkg.version}\n`);
  });
});

describe('plughost info', () => {
  it('reports exports, imports, Extism functions and what plughost cannot satisfy, as JSON', async () => {
    const r = await cli(['info', wasm('mixed'), '--json']);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.deepEqual(report.exports, [
      { name: 'run', kind: 'function', signature: '() -> i32', params: [], results: ['i32'], callable: true },
      { name: 'add', kind: 'function', signature: '(i32, i32) -> i32', params: ['i32', 'i32'], results: ['i32'], callable: false },
    ]);
    assert.deepEqual(
      report.imports.map((i: { module: string; name: string; category: string; satisfiable: boolean }) => [`${i.module}.${i.name}`, i.category, i.satisfiable]),
      [
        ['extism:host/env.input_length', 'kernel', true],
        ['extism:host/env.config_get', 'host-env', true],
        ['wasi_snapshot_preview1.fd_write', 'wasi', true],
        ['extism:host/user.kv_read', 'user', false],
        ['extism:host/env.teleport', 'env-unknown', false],
        ['extism:host/env.alloc', 'env-signature', false],
        ['env.memory', 'other', false],
      ],
    );
    assert.equal(report.imports[5].reason, 'plughost provides (i64) -> i64, the module imports (i32) -> i32');
    assert.deepEqual(report.extism, { env: ['alloc', 'config_get', 'input_length', 'teleport'], user: ['kv_read'], wasi: ['fd_write'] });
    assert.equal(report.needsWasi, true);
    assert.equal(report.satisfiable, false);
    assert.deepEqual(report.unsatisfied, ['extism:host/user.kv_read', 'extism:host/env.teleport', 'extism:host/env.alloc', 'env.memory']);
    assert.ok(report.hints.some((h: string) => h.includes('`functions`')));
  });

  it('says the same in text', async () => {
    const r = await cli(['info', wasm('mixed')]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.match(lines[0]!, /mixed\.wasm: WebAssembly module, \d+ bytes$/);
    assert.ok(lines.includes('exports (2):'));
    assert.ok(lines.some((l) => /^ {2}add +\(i32, i32\) -> i32 +\(not an Extism function/.test(l)));
    assert.ok(lines.some((l) => /^ {2}extism:host\/env\.input_length +\(\) -> i64 +plughost \(kernel\)$/.test(l)));
    assert.ok(lines.some((l) => /^ {2}wasi_snapshot_preview1\.fd_write +\(i32, i32, i32, i32\) -> i32 +plughost WASI \(with --wasi\)$/.test(l)));
    assert.ok(lines.some((l) => /^ {2}extism:host\/user\.kv_read +\(i64\) -> i64 +none$/.test(l)));
    assert.ok(lines.includes('  extism:host/env: alloc, config_get, input_length, teleport (4)'));
    assert.ok(lines.includes('  extism:host/user: kv_read (1)'));
    assert.ok(lines.includes('  WASI (wasi_snapshot_preview1): fd_write (1)'));
    assert.ok(lines.includes('plughost call cannot satisfy 4 imports (the WASI ones need --wasi):'));
    assert.ok(lines.some((l) => /^ {2}extism:host\/env\.alloc +plughost provides \(i64\) -> i64, the module imports \(i32\) -> i32$/.test(l)));
  });

  it('says when plughost can satisfy every import, and when that needs --wasi', async () => {
    assert.match((await cli(['info', wasm('basic')])).stdout, /\nplughost call can satisfy every import\.\n$/);
    assert.match((await cli(['info', wasm('wasi')])).stdout, /\nplughost call can satisfy every import, with --wasi\.\n$/);
    const json = JSON.parse((await cli(['info', wasm('basic'), '--json'])).stdout);
    assert.equal(json.satisfiable, true);
    assert.equal(json.needsWasi, false);
    assert.deepEqual(json.extism.user, []);
  });

  it('fails with status 3 on a file that is not WebAssembly, hinting at manifests', async () => {
    const manifest = join(dir, 'not-wasm.json');
    await writeFile(manifest, '{"wasm": []}');
    const r = await cli(['info', manifest]);
    assert.equal(r.status, 3);
    assert.match(r.stderr, /^Error: .*not-wasm\.json: malformed WebAssembly module: .*\nhint: info reads a \.wasm file, not a manifest/);
    assert.match((await cli(['info', join(dir, 'absent.wasm')])).stderr, /^Error: cannot read .*absent\.wasm: no such file\n$/);
  });
});

describe("the CLI's table of what plughost provides", () => {
  it('matches the kernel module and the host-env functions', () => {
    const kernel = readModule(new Uint8Array(Buffer.from(kernelWasmBase64, 'base64')));
    assert.deepEqual(Object.keys(KERNEL_SIGNATURES).sort(), [...KERNEL_GUEST_FUNCTIONS].sort());
    for (const name of KERNEL_GUEST_FUNCTIONS) {
      assert.deepEqual(kernel.exports.find((e) => e.name === name)?.type, KERNEL_SIGNATURES[name], name);
    }
    assert.deepEqual(JSON.parse(JSON.stringify(HOST_ENV_SIGNATURES)), JSON.parse(JSON.stringify(LIBRARY_HOST_ENV)));
  });
});

describe('the plughost executable', () => {
  it('runs end to end: argv, stdin, stdout and the exit status', async () => {
    const { status, stdout, stderr } = await bin(['call', wasm('basic'), 'echo', '--stdin'], 'Hello, World!');
    assert.equal(stderr, '');
    assert.equal(stdout, 'Hello, World!');
    assert.equal(status, 0);
  });

  // Each flag once more through a real process: its exit status and streams, not run()'s.
  // In argv, @NAME stands for the test module NAME.wasm and % for the temporary folder.
  const rows: { argv: string[]; status: number; stdout?: string; stderr?: RegExp }[] = [
    { argv: ['call', '@basic', 'echo', '-i', 'short'], status: 0, stdout: 'short' },
    { argv: ['call', '@basic', 'echo', '--input=long'], status: 0, stdout: 'long' },
    { argv: ['call', '@basic', 'counter', '--loop', '2'], status: 0, stdout: '1\n2\n' },
    { argv: ['call', '@basic', 'exit_2'], status: 1, stderr: /^Error: "exit_2" returned exit code 2\n$/ },
    { argv: ['call', '@wasi_exit', 'exit', '--wasi', '-i', 'x'], status: 1, stderr: /exited with code -1\n$/ },
    { argv: ['call', '@basic', 'echo', '--bogus'], status: 2, stderr: /--help' for usage\n$/ },
    { argv: ['call', '@basic', 'absent'], status: 3, stderr: /no exported function "absent"/ },
    { argv: ['call', '@basic', 'config', '-i', 'k', '--config', 'k=v'], status: 0, stdout: 'v' },
    { argv: ['call', '@basic', 'config', '-i', 'k', '--set-config', '{"k":"json"}'], status: 0, stdout: 'json' },
    { argv: ['call', '@basic', 'grow', '--memory-max', '1'], status: 1, stderr: /exit code 7/ },
    { argv: ['call', '@basic', 'grow', '--max-pages', '2'], status: 0 },
    { argv: ['call', '@basic', 'set_var', '-i', 'value', '--var-max', '2'], status: 1 },
    { argv: ['call', '@basic', 'spin', '--timeout', '50'], status: 1, stderr: /timed out after 50 ms/ },
    { argv: ['call', '@basic', 'spin', '--fuel', '1000'], status: 1, stderr: /ran out of fuel/ },
    { argv: ['call', '@basic', 'warn', '-i', 'w', '--log-level', 'warn'], status: 0, stderr: /^\[warn\] w\n$/ },
    { argv: ['call', '@needs_math', 'run', '--link', 'math=@math'], status: 0 },
    { argv: ['call', '@wasi', 'echo', '-i', 'w', '--wasi'], status: 0, stdout: 'w' },
    { argv: ['call', '@wasi_output', 'echo', '-i', '.', '--enable-wasi-output'], status: 0, stdout: 'to stdout\n.', stderr: /^to stderr\n$/ },
    { argv: ['call', '@wasi', 'echo', '--allow-path', '%/nope:/mnt'], status: 3, stderr: /nope does not exist\n$/ },
    { argv: ['call', '%/bin-manifest.txt', 'echo', '-m', '-i', 'via -m'], status: 0, stdout: 'via -m' },
  ];
  before(async () => {
    await writeFile(join(dir, 'bin-manifest.txt'), JSON.stringify({ wasm: [{ path: 'basic.wasm' }] }));
  });
  for (const row of rows) {
    it(`plughost ${row.argv.join(' ')}`, async () => {
      const r = await bin(row.argv.map((a) => a.replace(/@(\w+)/, (_, name: string) => wasm(name)).replace(/^%/, dir)));
      assert.equal(r.status, row.status, r.stderr);
      if (row.stdout !== undefined) assert.equal(r.stdout, row.stdout);
      if (row.stderr !== undefined) assert.match(r.stderr, row.stderr);
    });
  }
});

describe("the plug-in's text on stderr (logs and error messages)", () => {
  // Logs one message and sets it as its error: a terminal title, a screen clear, a line that
  // passes for the CLI's own, a carriage return and a line erase, C1 and bidi controls.
  const HOSTILE = '\x1b]0;pwned\x07\x1b[2J\x1b[H\n[error] forged\r\x1b[2K\x9b2J\u202e\x00\tend';
  const guest = (text: string) => `(module
    (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
    (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
    (import "extism:host/env" "log_warn" (func $log_warn (param i64)))
    (import "extism:host/env" "error_set" (func $error_set (param i64)))
    (memory 1)
    (data (i32.const 0) "${[...Buffer.from(text)].map((b) => `\\${b.toString(16).padStart(2, '0')}`).join('')}")
    (func $text (result i64) (local $h i64) (local $i i64)
      (local.set $h (call $alloc (i64.const ${Buffer.byteLength(text)})))
      (loop $next
        (call $store_u8 (i64.add (local.get $h) (local.get $i)) (i32.load8_u (i32.wrap_i64 (local.get $i))))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br_if $next (i64.lt_u (local.get $i) (i64.const ${Buffer.byteLength(text)}))))
      (local.get $h))
    (func (export "hostile") (result i32) (call $log_warn (call $text)) (call $error_set (call $text)) (i32.const 1))
    (func (export "long") (result i32) (call $error_set (call $alloc (i64.const 4194304))) (i32.const 1)))`;
  let dir: string;
  let file: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'plughost-cli-text-'));
    file = join(dir, 'hostile.wasm');
    await writeFile(file, await assemble(guest(HOSTILE)));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('reaches the terminal with no control character but tab and newline, and no line of it passes for a line of the CLI', async () => {
    const r = await cli(['call', file, 'hostile', '--log-level', 'warn']);
    assert.equal(r.status, 1);
    assert.doesNotMatch(r.stderr, /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/u, JSON.stringify(r.stderr));
    for (const line of r.stderr.split('\n').filter((l) => l !== '')) assert.match(line, /^(\[warn\] |Error: |returned non-zero exit code: | {2})/, line);
    assert.match(r.stderr, /^\[warn\] \\x1b\]0;pwned\\x07\\x1b\[2J\\x1b\[H\n {2}\[error\] forged\\x0d\\x1b\[2K\\x9b2J\\u\{202e\}\\x00\tend\n/);
    assert.match(r.stderr, /\nError: \\x1b\]0;pwned/);
  });

  it('is cut at 64 Ki characters, saying how many of its own more there were (a guest set a 4 MiB error message)', async () => {
    const long = join(dir, 'long.wasm');
    await writeFile(long, await assemble(guest('x')));
    const r = await cli(['call', long, 'long']);
    assert.equal(r.status, 1);
    assert.ok(r.stderr.length < 70_000, `${r.stderr.length} characters`);
    // its bytes are zeros, each written as the 4 characters \x00: 16,384 of them fit
    assert.match(r.stderr, /\\x00… \(4177920 more characters\)\n/);
  });

  it('names a plug-in chose reach the terminal escaped and on one line: plughost info, and the exports a failed call lists', async () => {
    const names = join(dir, 'names.wasm');
    await writeFile(
      names,
      await assemble(`(module
        (import "\\1b]0;pwned\\07" "\\1b[2J\\0a[error] forged" (func))
        (func (export "\\1b[Hrun\\09\\0d\\e2\\80\\ae")))`),
    );
    const controls = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/u;
    const info = await cli(['info', names]);
    assert.equal(info.status, 0, info.stderr);
    assert.doesNotMatch(info.stdout, controls, JSON.stringify(info.stdout));
    assert.doesNotMatch(info.stdout, /\n\[error\]/);
    assert.match(info.stdout, /\\x1b\[Hrun\\x09\\x0d\\u\{202e\}/);
    assert.match(info.stdout, /\\x1b\]0;pwned\\x07\.\\x1b\[2J\\x0a\[error\] forged/);
    const call = await cli(['call', names, 'absent']);
    assert.equal(call.status, 3);
    assert.doesNotMatch(call.stderr, controls, JSON.stringify(call.stderr));
  });
});

describe('--enable-wasi-output with a slow reader', () => {
  it('makes the guest wait for stdout to drain instead of queuing what it writes (64 MiB here)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plughost-cli-slow-'));
    try {
      const file = join(dir, 'flood.wasm');
      await writeFile(
        file,
        await assemble(`(module
          (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 17)
          (func (export "flood") (result i32) (local $i i32)
            (i32.store (i32.const 0) (i32.const 64))
            (i32.store (i32.const 4) (i32.const 1048576))
            (memory.fill (i32.const 64) (i32.const 0x61) (i32.const 1048576))
            (loop $l
              (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $l (i32.lt_u (local.get $i) (i32.const 64))))
            (i32.const 0)))`),
      );
      // a pipe read slowly: every write fills it, and it drains 20 ms later
      const stdout = new SlowStream();
      const status = await run(['call', file, 'flood', '--enable-wasi-output'], { stdout, stderr: new Capture() });
      assert.equal(status, 0);
      assert.equal(stdout.received, 64 * 1048576 + 64);
      assert.ok(stdout.maxOutstanding <= 17 * 1048576 + 17, `${stdout.maxOutstanding} characters handed to a full stdout`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
