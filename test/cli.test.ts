// The plughost CLI: `run()` in-process with captured streams, and one spawn of the built bin.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { parseCallArgs } from '../src/cli/call.js';
import { HOST_ENV_SIGNATURES, KERNEL_SIGNATURES } from '../src/cli/imports.js';
import { run, USAGE } from '../src/cli/run.js';
import { HOST_ENV_SIGNATURES as LIBRARY_HOST_ENV } from '../src/internal/host-env.js';
import { KERNEL_GUEST_FUNCTIONS } from '../src/internal/kernel/kernel.js';
import { kernelWasmBase64 } from '../src/internal/kernel/kernel-wasm.generated.js';
import { readModule } from '../src/internal/wasm/reader.js';
import { assemble, pluginPath, repoRoot } from './helpers.js';

/** A stdout/stderr stand-in that keeps every byte written to it. */
class Capture {
  readonly chunks: Buffer[] = [];
  write(chunk: Uint8Array | string): boolean {
    this.chunks.push(Buffer.from(chunk));
    return true;
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
  text(): string {
    return this.bytes().toString('utf8');
  }
}

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
    (global $n (mut i32) (i32.const 0))
    (func (export "echo") (result i32) (call $output_set (call $input_offset) (call $input_length)) (i32.const 0))
    (func (export "counter") (result i32) (local $h i64)
      (global.set $n (i32.add (global.get $n) (i32.const 1)))
      (local.set $h (call $alloc (i64.const 1)))
      (call $store_u8 (local.get $h) (i32.add (i32.const 48) (global.get $n)))
      (call $output_set (local.get $h) (i64.const 1))
      (i32.const 0))
    (func (export "nothing"))
    (func (export "exit_42") (result i32) (i32.const 42))
    (func (export "exit_300") (result i32) (i32.const 300))
    (func (export "exit_minus_3") (result i32) (i32.const -3))
    (func (export "trap") unreachable)
    (func (export "spin") (loop $forever (br $forever)))
    (func (export "warn") (call $log_warn (call $input_offset)))
    (func (export "debug") (call $log_debug (call $input_offset)))
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

  it('runs count-vowels from the build, totals 3, 6, 9 with --loop 3, and honours --config', { skip: !existsSync(pluginPath('count-vowels')) && 'build/plugins/count-vowels.wasm is not built' }, async () => {
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

  it('fetches the plug-in from a URL', async () => {
    const bytes = await readFile(wasm('basic'));
    const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/wasm' }).end(bytes));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const r = await cli(['call', `http://127.0.0.1:${port}/basic.wasm`, 'echo', '--input', 'over http']);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, 'over http');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  describe('exit status of a failed call', () => {
    const cases: { what: string; fn: string; status: number; stderr: RegExp }[] = [
      { what: "the plug-in's exit code", fn: 'exit_42', status: 42, stderr: /^plughost: "exit_42" returned exit code 42\n$/ },
      { what: '255 for an exit code above 255', fn: 'exit_300', status: 255, stderr: /exit code 300/ },
      { what: '1 for a negative exit code', fn: 'exit_minus_3', status: 1, stderr: /exit code -3/ },
      { what: '1 for a trap, naming the function', fn: 'trap', status: 1, stderr: /^plughost: trap: .*unreachable/ },
    ];
    for (const c of cases) {
      it(`is ${c.what}`, async () => {
        const r = await cli(['call', wasm('basic'), c.fn]);
        assert.equal(r.status, c.status);
        assert.match(r.stderr, c.stderr);
        assert.equal(r.stdout, '');
      });
    }

    it("is the plug-in's return code, with its own error message prefixed by the function", { skip: !existsSync(pluginPath('fail')) && 'build/plugins/fail.wasm is not built' }, async () => {
      const r = await cli(['call', pluginPath('fail'), 'fail', '--input', 'because']);
      assert.equal(r.status, 1);
      assert.equal(r.stderr, 'plughost: fail: this plug-in always fails: because\n');
    });
  });

  it('fails a call that runs past --timeout, with a hint', async () => {
    const started = Date.now();
    const r = await cli(['call', wasm('basic'), 'spin', '--timeout', '50']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^plughost: call to "spin" timed out after 50 ms\nplughost: hint: .*--timeout/);
    assert.ok(Date.now() - started < 5000);
  });

  it('lists the exports when the function does not exist', async () => {
    const r = await cli(['call', wasm('basic'), 'count_vowels']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^plughost: .*"count_vowels"/);
    assert.match(r.stderr, /\nplughost: hint: the plug-in exports: echo, counter, nothing, /);
  });

  it('says to pass --wasi when the plug-in imports WASI, and runs it with --wasi', async () => {
    const without = await cli(['call', wasm('wasi'), 'echo', '--input', 'x']);
    assert.equal(without.status, 1);
    assert.match(without.stderr, /^plughost: cannot link the plug-in: missing import wasi_snapshot_preview1\.fd_write\n/);
    assert.match(without.stderr, /\nplughost: hint: the plug-in uses WASI: pass --wasi\n$/);
    assert.doesNotMatch(without.stderr, /useWasi/);
    const withWasi = await cli(['call', wasm('wasi'), 'echo', '--input', 'x', '--wasi']);
    assert.equal(withWasi.status, 0, withWasi.stderr);
    assert.equal(withWasi.stdout, 'x');
  });

  it('says which host functions are missing and that the CLI has none', async () => {
    const r = await cli(['call', wasm('user'), 'run']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /missing import extism:host\/user\.kv_read/);
    assert.match(r.stderr, /\nplughost: hint: extism:host\/user\.kv_read, extism:host\/user\.kv_write: host functions .* the plughost CLI has none .*`functions`/);
  });

  it('names the file that cannot be read', async () => {
    const r = await cli(['call', join(dir, 'missing.wasm'), 'f']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^plughost: .*missing\.wasm.*no such file/);
    const input = await cli(['call', wasm('basic'), 'echo', '--input-file', join(dir, 'missing.txt')]);
    assert.equal(input.status, 1);
    assert.match(input.stderr, /^plughost: cannot read --input-file .*missing\.txt: no such file\n$/);
  });

  it('sends plug-in log messages at --log-level and above to stderr, and none by default', async () => {
    const warn = await cli(['call', wasm('basic'), 'warn', '--input', 'careful', '--log-level', 'info']);
    assert.equal(warn.status, 0);
    assert.equal(warn.stderr, '[warn] careful\n');
    assert.equal(warn.stdout, '');
    assert.equal((await cli(['call', wasm('basic'), 'debug', '--input', 'detail', '--log-level', 'info'])).stderr, '');
    assert.equal((await cli(['call', wasm('basic'), 'debug', '--input', 'detail', '--log-level', 'debug'])).stderr, '[debug] detail\n');
    assert.equal((await cli(['call', wasm('basic'), 'warn', '--input', 'careful'])).stderr, '');
  });

  it('mounts --allow-path directories for WASI, ro: read-only', { skip: !existsSync(pluginPath('wasi-files')) && 'build/plugins/wasi-files.wasm is not built' }, async () => {
    const data = join(dir, 'data');
    await mkdir(data, { recursive: true });
    await writeFile(join(data, 'a.txt'), 'A');
    const list = await cli(['call', pluginPath('wasi-files'), 'list_dir', '--input', '/data', '--allow-path', `ro:${data}:/data`]);
    assert.equal(list.status, 0, list.stderr);
    assert.equal(list.stdout, 'a.txt');
    const write = JSON.stringify({ path: '/data/b.txt', content: 'B' });
    const denied = await cli(['call', pluginPath('wasi-files'), 'write_file', '--input', write, '--allow-path', `ro:${data}:/data`]);
    assert.equal(denied.status, 1);
    assert.match(denied.stderr, /^plughost: write_file: path_open "\/data\/b.txt" failed/);
    const allowed = await cli(['call', pluginPath('wasi-files'), 'write_file', '--input', write, '--allow-path', `${data}:/data`]);
    assert.equal(allowed.status, 0, allowed.stderr);
    assert.equal(await readFile(join(data, 'b.txt'), 'utf8'), 'B');
  });

  it('reports a missing --allow-path host directory', async () => {
    const r = await cli(['call', wasm('wasi'), 'echo', '--allow-path', `${join(dir, 'nope')}:/data`]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^plughost: .*allowed_paths.*does not exist/);
  });
});

describe('call arguments', () => {
  it('turns flags into plug-in options', () => {
    const request = parseCallArgs([
      'p.wasm', 'f', '--config', 'k=v=w', '--config', 'empty=', '--allow-host', 'a.example', '--allow-host', '*.b.example',
      '--allow-path', '/srv/data:/data', '--allow-path', 'ro:/srv/static:/static', '--allow-path', '/tmp',
      '--timeout', '1000', '--max-pages', '16', '--log-level', 'warn', '--loop', '3',
    ]);
    assert.deepEqual(request, {
      source: 'p.wasm',
      functionName: 'f',
      input: { kind: 'none' },
      loop: 3,
      options: {
        config: { k: 'v=w', empty: '' },
        allowedHosts: ['a.example', '*.b.example'],
        allowedPaths: { '/srv/data': '/data', 'ro:/srv/static': '/static', '/tmp': '/tmp' },
        useWasi: true,
        timeoutMs: 1000,
        memory: { maxPages: 16 },
        logLevel: 'warn',
      },
    });
    assert.deepEqual(parseCallArgs(['p.wasm', 'f', '--wasi'])?.options, { useWasi: true });
    assert.equal(parseCallArgs(['--help']), null);
  });

  const usageErrors: { argv: string[]; stderr: RegExp }[] = [
    { argv: ['call', 'p.wasm', 'f', '--bogus'], stderr: /^plughost: unknown flag --bogus for plughost call\n/ },
    { argv: ['call', 'p.wasm', 'f', '-x'], stderr: /^plughost: unknown flag -x for plughost call\n/ },
    { argv: ['call', 'p.wasm'], stderr: /needs the name of the function/ },
    { argv: ['call'], stderr: /needs a plug-in/ },
    { argv: ['call', 'p.wasm', 'f', 'extra'], stderr: /unexpected "extra"/ },
    { argv: ['call', 'p.wasm', 'f', '--input', 'a', '--stdin'], stderr: /at most one of --input, --input-file and --stdin/ },
    { argv: ['call', 'p.wasm', 'f', '--input'], stderr: /flag --input needs a value/ },
    { argv: ['call', 'p.wasm', 'f', '--wasi=yes'], stderr: /flag --wasi takes no value/ },
    { argv: ['call', 'p.wasm', 'f', '--config', 'novalue'], stderr: /--config must be KEY=VALUE/ },
    { argv: ['call', 'p.wasm', 'f', '--allow-path', 'ro::/data'], stderr: /--allow-path must be/ },
    { argv: ['call', 'p.wasm', 'f', '--timeout', '1s'], stderr: /--timeout must be a whole number/ },
    { argv: ['call', 'p.wasm', 'f', '--loop', '0'], stderr: /--loop must be a whole number from 1/ },
    { argv: ['call', 'p.wasm', 'f', '--max-pages', '70000'], stderr: /--max-pages must be a whole number from 1 to 65536/ },
    { argv: ['call', 'p.wasm', 'f', '--log-level', 'loud'], stderr: /--log-level must be one of trace, debug, info, warn, error, silent/ },
    { argv: ['info'], stderr: /info needs the path/ },
    { argv: ['info', 'a.wasm', '--yaml'], stderr: /^plughost: unknown flag --yaml for plughost info\n/ },
    { argv: ['frobnicate'], stderr: /^plughost: unknown command "frobnicate"; the commands are call, info\n/ },
    { argv: ['--verbose'], stderr: /^plughost: unknown flag --verbose/ },
  ];
  for (const { argv, stderr } of usageErrors) {
    it(`exits 2 for: plughost ${argv.join(' ')}`, async () => {
      const r = await cli(argv);
      assert.equal(r.status, 2);
      assert.match(r.stderr, stderr);
      assert.match(r.stderr, /\nplughost: run 'plughost (\w+ )?--help' for usage\n$/);
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
    for (const argv of [['call', '--help'], ['call', 'p.wasm', 'f', '-h'], ['help', 'call']]) {
      const r = await cli(argv);
      assert.equal(r.status, 0);
      assert.match(r.stdout, /^Usage: plughost call <wasm \| manifest\.json \| url> <function> \[flags\]\n/);
      assert.match(r.stdout, /--allow-path HOST:GUEST/);
    }
    for (const argv of [['info', '--help'], ['help', 'info']]) {
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

  it('fails with status 1 on a file that is not WebAssembly, hinting at manifests', async () => {
    const manifest = join(dir, 'not-wasm.json');
    await writeFile(manifest, '{"wasm": []}');
    const r = await cli(['info', manifest]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^plughost: .*not-wasm\.json: malformed WebAssembly module: .*\nplughost: hint: info reads a \.wasm file, not a manifest/);
    assert.match((await cli(['info', join(dir, 'absent.wasm')])).stderr, /^plughost: cannot read .*absent\.wasm: no such file\n$/);
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
    const bin = join(repoRoot, 'build', 'src', 'cli', 'bin.js');
    const { status, stdout, stderr } = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = execFile(process.execPath, [bin, 'call', wasm('basic'), 'echo', '--stdin'], (err, stdout, stderr) => {
        if (err !== null && typeof err.code !== 'number') reject(err);
        else resolve({ status: child.exitCode, stdout, stderr });
      });
      child.stdin!.end('Hello, World!');
    });
    assert.equal(stderr, '');
    assert.equal(stdout, 'Hello, World!');
    assert.equal(status, 0);
  });
});
