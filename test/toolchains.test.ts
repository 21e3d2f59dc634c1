// Plug-ins built by real compilers other than AssemblyScript — clang with wasi-libc (C and
// C++), and rustc's wasm32 std — run through the public API, unchanged, with and without
// instrumentation (timeoutMs, fuel), and in a worker. The sources are in test/toolchains/;
// they are compiled into a temp dir. .ci/run installs the compilers, and when CI is set a
// missing one fails its suite; elsewhere the suite skips, saying what is missing (see
// test/toolchains/README.md).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createMemoryFileSystem, createPlugin, type Plugin, type PluginOptions } from '../src/index.js';
import { repoRoot } from './helpers.js';

const sources = join(repoRoot, 'test', 'toolchains');
const work = mkdtempSync(join(tmpdir(), 'plughost-toolchains-'));
after(() => rmSync(work, { recursive: true, force: true }));

function run(command: string, args: string[]): { ok: boolean; output: string } {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 120_000 });
  return { ok: result.status === 0, output: `${result.error?.message ?? ''}${result.stdout ?? ''}${result.stderr ?? ''}` };
}

/** Names to try for a tool: $ENV first, then the plain name, then Debian's versioned names. */
function candidates(env: string | undefined, name: string): string[] {
  const versions = [21, 20, 19, 18, 17, 16, 15, 14].map((v) => `${name}-${v}`);
  return [...(env ? [env] : []), name, ...versions];
}

// ---------------------------------------------------------------------------- clang

const TRIAL_C = 'int x(void) { return 1; }\n__attribute__((export_name("f"))) int f(void) { return x(); }\n';

/** A clang that builds a wasm32-wasi reactor with wasi-libc, or why there is none. */
function findClang(): { clang: string } | { missing: string } {
  const trial = join(work, 'trial.c');
  writeFileSync(trial, `#include <stdio.h>\n${TRIAL_C}`);
  let last = 'no clang on PATH (tried clang, clang-21 .. clang-14; set PLUGHOST_CLANG)';
  for (const clang of candidates(process.env.PLUGHOST_CLANG, 'clang')) {
    if (!run(clang, ['--version']).ok) continue;
    const built = run(clang, ['--target=wasm32-wasi', '-O2', '-mexec-model=reactor', '-o', join(work, 'trial.wasm'), trial]);
    if (built.ok) return { clang };
    last = `${clang} cannot build a wasm32-wasi reactor (wasi-libc and libclang-rt wasm32 needed): ${built.output.trim().split('\n').slice(0, 3).join(' ')}`;
  }
  return { missing: last };
}

const clang = findClang();
const clangSkip = 'missing' in clang ? `needs clang for wasm32-wasi: ${clang.missing}` : false;

function clangBuild(name: string, files: string[], flags: string[]): string {
  if (!('clang' in clang)) throw new Error('no clang');
  const output = join(work, `${name}.wasm`);
  const compiler = files.some((f) => f.endsWith('.cpp')) ? clang.clang.replace(/clang(?=[^/]*$)/, 'clang++') : clang.clang;
  const built = run(compiler, [...flags, `-I${join(sources, 'c')}`, '-o', output, ...files.map((f) => join(sources, 'c', f))]);
  if (!built.ok) throw new Error(`${compiler} failed for ${name}:\n${built.output}`);
  return output;
}

/** libc++ for wasm32-wasi is a separate package: the C++ plug-in needs it. */
const cxxSkip = (() => {
  if (!('clang' in clang)) return clangSkip;
  const trial = join(work, 'trial.cpp');
  writeFileSync(
    trial,
    '#include <map>\n#include <string>\nstd::map<std::string, int> m;\nextern "C" __attribute__((export_name("f"))) int f() { return m["x"]++; }\n',
  );
  const clangxx = clang.clang.replace(/clang(?=[^/]*$)/, 'clang++');
  const built = run(clangxx, ['--target=wasm32-wasi', '-O2', '-mexec-model=reactor', '-fno-exceptions', '-o', join(work, 'trial-cxx.wasm'), trial]);
  return built.ok ? false : `needs libc++ for wasm32-wasi: ${built.output.trim().split('\n').slice(0, 3).join(' ')}`;
})();

/**
 * A suite that needs a toolchain: skipped, saying why, where `missing`; but in CI (CI set),
 * where .ci/run installs every toolchain, a missing one is a failing test instead.
 */
function toolchainSuite(name: string, missing: string | false, body: () => void): void {
  if (missing !== false && process.env.CI) {
    describe(name, () => {
      it('has its toolchain', () => assert.fail(`${missing} (CI is set, and .ci/run installs this toolchain)`));
    });
    return;
  }
  describe(name, { skip: missing }, body);
}

// ---------------------------------------------------------------------------- rustc

/** A rustc with a wasm32 WASI std, and a linker that works with it, or why there is none. */
function findRust(): { rustc: string; target: string; linker: string[]; bare: boolean } | { missing: string } {
  const trial = join(work, 'trial.rs');
  writeFileSync(trial, '#[no_mangle] pub extern "C" fn f() -> i32 { let v: Vec<u8> = vec![1]; v.len() as i32 }\n');
  // Debian's /usr/bin/rustc comes with its wasm32 std (libstd-rust-dev-wasm32) while a
  // rustup rustc on PATH may lack it: try the first whose sysroot has the target's std.
  const rustcs = [...(process.env.PLUGHOST_RUSTC ? [process.env.PLUGHOST_RUSTC] : []), '/usr/bin/rustc', 'rustc'];
  const linkers = [[], ...candidates(undefined, 'wasm-ld').map((l) => [`-Clinker=${l}`])];
  let last = 'no rustc on PATH (set PLUGHOST_RUSTC)';
  for (const rustc of new Set(rustcs)) {
    const targets = run(rustc, ['--print', 'target-list']);
    if (!targets.ok) continue;
    const sysroot = run(rustc, ['--print', 'sysroot']).output.trim();
    for (const target of ['wasm32-wasip1', 'wasm32-wasi']) {
      if (!targets.output.split('\n').includes(target)) continue;
      if (!existsSync(join(sysroot, 'lib', 'rustlib', target, 'lib'))) {
        last = `${rustc} has no std for ${target} (in ${sysroot})`;
        continue;
      }
      for (const linker of linkers) {
        const built = run(rustc, ['--target', target, '--crate-type', 'cdylib', '-O', ...linker, '-o', join(work, 'trial-rs.wasm'), trial]);
        if (built.ok) {
          const bare = run(rustc, [
            '--target',
            'wasm32-unknown-unknown',
            '--crate-type',
            'cdylib',
            '-O',
            ...linker,
            '-o',
            join(work, 'trial-rs.wasm'),
            trial,
          ]).ok;
          return { rustc, target, linker, bare };
        }
        last = `${rustc} cannot build for ${target} (its std for ${target} and a wasm linker are needed): ${built.output
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => /\w/.test(l))
          .slice(0, 2)
          .join(' ')}`;
      }
    }
  }
  return { missing: last };
}

const rust = findRust();
const rustSkip = 'missing' in rust ? `needs rustc with a wasm32 WASI std: ${rust.missing}` : false;

function rustBuild(name: string, target: string): string {
  if (!('rustc' in rust)) throw new Error('no rustc');
  const output = join(work, `${name}.wasm`);
  const built = run(rust.rustc, [
    '--edition',
    '2021',
    '--target',
    target,
    '--crate-type',
    'cdylib',
    '-O',
    '-Cstrip=debuginfo',
    ...rust.linker,
    '-o',
    output,
    join(sources, 'rust', 'plugin.rs'),
  ]);
  if (!built.ok) throw new Error(`rustc failed for ${name}:\n${built.output}`);
  return output;
}

// ---------------------------------------------------------------------------- running

/** Plain, instrumented for a timeout, instrumented for fuel: outputs must be the same. */
const MODES: [string, PluginOptions][] = [
  ['plain', {}],
  ['timeoutMs', { timeoutMs: 5000 }],
  ['fuel', { fuel: 1e12 }],
];

type Step = [name: string, input?: string];

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Text as JSON, binary (invalid UTF-8, control characters) as hex. */
function show(bytes: Uint8Array): string {
  try {
    const text = strictUtf8.decode(bytes);
    if (!/[\x00-\x08\x0e-\x1f]/.test(text)) return JSON.stringify(text);
  } catch {
    // binary
  }
  return `0x${Buffer.from(bytes).toString('hex')}`;
}

/** One line per call: the output, or the error's class, exit code and message. */
async function transcript(plugin: Plugin, steps: Step[], fuel?: number[]): Promise<string[]> {
  const lines: string[] = [];
  for (const [name, input] of steps) {
    try {
      const output = await plugin.call(name, input ?? '');
      lines.push(`${name}: ${output === null ? 'null' : show(output.bytes())}`);
    } catch (err) {
      const e = err as Error & { exitCode?: number };
      lines.push(`${name}: ${e.constructor.name} ${e.exitCode} ${e.message}`);
    }
    fuel?.push(plugin.fuelConsumed);
  }
  return lines;
}

/**
 * Runs `steps` on a fresh plug-in in each mode; asserts `expected` for the plain run, the
 * same transcript in every mode, and (with `sameFuel`) the same fuel per call whether the
 * instrumentation was made for a timeout or for fuel.
 */
async function inEveryMode(file: string, options: PluginOptions, steps: Step[], expected: string[], sameFuel = true): Promise<void> {
  const fuelByMode: number[][] = [];
  for (const [mode, extra] of MODES) {
    const plugin = await createPlugin(file, { ...options, ...extra });
    const fuel: number[] = [];
    try {
      assert.deepEqual(await transcript(plugin, steps, fuel), expected, `mode ${mode}`);
    } finally {
      await plugin.close();
    }
    if (mode !== 'plain') fuelByMode.push(fuel);
  }
  // How deep a guest recurses before the stack runs out depends on what the host's stack already
  // holds, so a call that ends in stack exhaustion has no fixed fuel; every other call does.
  const deterministic = (fuel: number[]) => fuel.filter((_, i) => !expected[i]!.includes('Maximum call stack size exceeded'));
  if (sameFuel) assert.deepEqual(deterministic(fuelByMode[0]!), deterministic(fuelByMode[1]!), 'the same fuel for the same calls');
  assert.ok(
    fuelByMode[0]!.some((f) => f > 0),
    'instrumented calls consume fuel',
  );
}

// ---------------------------------------------------------------------------- C

toolchainSuite('a C plug-in (clang, wasi-libc, reactor)', clangSkip, () => {
  let file: string;
  let dir: string;
  before(() => {
    file = clangBuild('c-plugin', ['plugin.c'], ['--target=wasm32-wasi', '-O2', '-mexec-model=reactor']);
    dir = mkdtempSync(join(work, 'c-files-'));
  });

  it('counts vowels with config, greets from config, keeps state in memory and vars', async () => {
    await inEveryMode(
      file,
      { useWasi: true, config: { greeting: 'Hi' } },
      [['count_vowels', 'Hello, World!'], ['count_vowels', 'Hello, World!'], ['greet', 'Bob'], ['count_calls'], ['count_calls'], ['forget'], ['count_calls']],
      [
        'count_vowels: "{\\"count\\":3,\\"total\\":3,\\"vowels\\":\\"aeiouAEIOU\\"}"',
        'count_vowels: "{\\"count\\":3,\\"total\\":6,\\"vowels\\":\\"aeiouAEIOU\\"}"',
        'greet: "Hi, Bob!"',
        'count_calls: "var=1 memory=1"',
        'count_calls: "var=2 memory=2"',
        'forget: null',
        'count_calls: "var=1 memory=3"',
      ],
    );
    const yellow = await createPlugin(file, { useWasi: true, config: { vowels: 'aeiouyAEIOUY' } });
    assert.equal((await yellow.call('count_vowels', 'Yellow, World!'))?.json().count, 4);
    await assert.rejects(yellow.call('greet', 'Bob'), { message: 'no greeting configured', exitCode: 1 });
  });

  it('fails with its message, its return code, its exit code, or a trap, and runs its constructors once per instance', async () => {
    await inEveryMode(
      file,
      { useWasi: true },
      [
        ['ctor_runs'],
        ['count_vowels', 'aaa'],
        ['fail', 'why'],
        ['return_code', '42'],
        ['return_code', '0'],
        ['count_vowels', 'aaa'],
        ['exit_with', '0'],
        ['count_vowels', 'aaa'],
        ['exit_with', '3'],
        ['trap'],
        ['ctor_runs'],
        ['count_vowels', 'aaa'],
      ],
      [
        'ctor_runs: "1"',
        'count_vowels: "{\\"count\\":3,\\"total\\":3,\\"vowels\\":\\"aeiouAEIOU\\"}"',
        'fail: PluginCallError 1 this plug-in always fails: why',
        'return_code: PluginCallError 42 "return_code" returned exit code 42',
        'return_code: null',
        // a clean failure keeps the instance and its memory
        'count_vowels: "{\\"count\\":3,\\"total\\":6,\\"vowels\\":\\"aeiouAEIOU\\"}"',
        // exit(0) without an error is success, with the output set before it
        'exit_with: "before exit"',
        // after proc_exit the instance is new: constructors ran again, the total starts over
        'count_vowels: "{\\"count\\":3,\\"total\\":3,\\"vowels\\":\\"aeiouAEIOU\\"}"',
        'exit_with: PluginCallError 3 "exit_with" exited with code 3',
        'trap: PluginCallError -1 unreachable',
        'ctor_runs: "1"',
        'count_vowels: "{\\"count\\":3,\\"total\\":3,\\"vowels\\":\\"aeiouAEIOU\\"}"',
      ],
    );
  });

  it('prints to WASI stdout and stderr with printf, line by line', async () => {
    for (const [mode, extra] of [...MODES, ['worker', { runInWorker: true }] as [string, PluginOptions]]) {
      const out: string[] = [];
      const err: string[] = [];
      const plugin = await createPlugin(file, { useWasi: true, wasiStdout: (l) => out.push(l), wasiStderr: (l) => err.push(l), ...extra });
      assert.equal((await plugin.call('print', 'world'))?.text(), 'printed', mode);
      assert.equal(await plugin.call('print_partial'), null);
      assert.deepEqual(out, ['hello, world', '2 + 2 = 4'], `${mode}: "partial" is still in stdio's buffer`);
      assert.equal((await plugin.call('exit_with', '0'))?.text(), 'before exit');
      assert.deepEqual(out, ['hello, world', '2 + 2 = 4', 'partial'], `${mode}: exit() flushed stdio`);
      assert.deepEqual(err, ['warning: world'], mode);
      await plugin.close();
    }
  });

  it('reads, writes and lists files through allowedPaths, and is refused outside them', async () => {
    writeFileSync(join(dir, 'a.txt'), 'file contents\n');
    mkdirSync(join(dir, 'sub'));
    const ro = mkdtempSync(join(work, 'c-ro-'));
    writeFileSync(join(ro, 'r.txt'), 'read only');
    for (const [mode, extra] of [...MODES, ['worker', { runInWorker: true }] as [string, PluginOptions]]) {
      const plugin = await createPlugin(file, { useWasi: true, allowedPaths: { [dir]: '/data', [`ro:${ro}`]: '/ro' }, ...extra });
      assert.deepEqual(
        await transcript(plugin, [
          ['read_file', '/data/a.txt'],
          ['read_file', 'data/a.txt'],
          ['read_file', '/data/missing'],
          ['write_file', `/data/${mode}.txt\nnew`],
          ['read_file', `/data/${mode}.txt`],
          ['read_file', '/ro/r.txt'],
          ['write_file', '/ro/r.txt\nx'],
          ['read_file', '/data/../ro/r.txt'],
          ['read_file', '/etc/passwd'],
          ['list_dir', '/ro'],
          ['open_with_all_rights', '/ro\nr.txt'],
          ['open_with_all_rights', '/data\na.txt'],
        ]),
        [
          'read_file: "file contents\\n"',
          'read_file: "file contents\\n"',
          'read_file: PluginCallError 1 cannot open /data/missing: No such file or directory',
          'write_file: null',
          'read_file: "new"',
          'read_file: "read only"',
          'write_file: PluginCallError 1 cannot create /ro/r.txt: Read-only file system',
          'read_file: PluginCallError 1 cannot open /data/../ro/r.txt: Capabilities insufficient',
          'read_file: PluginCallError 1 cannot open /etc/passwd: Capabilities insufficient',
          'list_dir: "r.txt"',
          // a read-only mount hands on no write right, so asking for all it may hand on reads
          'open_with_all_rights: "dir can write: 0, file can write: 0, read: read only"',
          'open_with_all_rights: "dir can write: 1, file can write: 1, read: file contents\\n"',
        ],
        mode,
      );
      assert.equal(readFileSync(join(dir, `${mode}.txt`), 'utf8'), 'new');
      await plugin.close();
    }
    assert.equal(readFileSync(join(ro, 'r.txt'), 'utf8'), 'read only');
    const plugin = await createPlugin(file, { useWasi: true });
    await assert.rejects(plugin.call('read_file', '/data/a.txt'), { message: 'cannot open /data/a.txt: Capabilities insufficient' });
  });

  it('reads its environment, the clocks and random bytes, and sleeps', async () => {
    for (const [, extra] of [...MODES, ['worker', { runInWorker: true }] as [string, PluginOptions]]) {
      const plugin = await createPlugin(file, { useWasi: true, wasiEnv: { PLUGHOST_NAME: 'plughost' }, ...extra });
      assert.deepEqual((await plugin.call('environment'))?.json(), { name: 'plughost', year_ok: true, random: true, slept: true });
      await plugin.close();
    }
  });

  it('computes the same in every mode, and is stopped by a timeout, by fuel and by a memory cap', async () => {
    await inEveryMode(
      file,
      { useWasi: true },
      [
        ['prime_sum', '200000'],
        ['allocate', '20'],
      ],
      ['prime_sum: "1709600813"', 'allocate: "35840"'],
    );
    const capped = await createPlugin(file, { useWasi: true, memory: { maxPages: 100 } });
    assert.equal((await capped.call('allocate', '2'))?.text(), '3584');
    await assert.rejects(capped.call('allocate', '10'), { message: 'out of memory', exitCode: 1 });
    for (const extra of [{ timeoutMs: 200 }, { runInWorker: true, timeoutMs: 200 }] as PluginOptions[]) {
      const plugin = await createPlugin(file, { useWasi: true, ...extra });
      await assert.rejects(plugin.call('spin'), { name: 'TimeoutError' });
      assert.equal((await plugin.call('count_vowels', 'aeiou'))?.json().count, 5, 'usable after a timeout');
      await plugin.close();
    }
    const fueled = await createPlugin(file, { useWasi: true, fuel: 5_000_000 });
    await assert.rejects(fueled.call('spin'), { name: 'FuelExhaustedError' });
    await assert.rejects(fueled.call('prime_sum', '10000000'), { name: 'FuelExhaustedError' });
    assert.equal((await fueled.call('prime_sum', '100'))?.text(), '1060');
  });

  it('runs in a worker with the same results', async () => {
    const plugin = await createPlugin(file, { useWasi: true, runInWorker: true, config: { greeting: 'Hey' } });
    assert.deepEqual(
      await transcript(plugin, [['ctor_runs'], ['greet', 'you'], ['count_calls'], ['count_calls'], ['fail', 'x'], ['trap'], ['ctor_runs'], ['count_calls']]),
      [
        'ctor_runs: "1"',
        'greet: "Hey, you!"',
        'count_calls: "var=1 memory=1"',
        'count_calls: "var=2 memory=2"',
        'fail: PluginCallError 1 this plug-in always fails: x',
        'trap: PluginCallError -1 unreachable',
        'ctor_runs: "1"',
        // vars live on the host and survive the new instance; the memory counter does not
        'count_calls: "var=3 memory=1"',
      ],
    );
    await plugin.close();
  });
});

/** The log fs.c writes, as on Linux (the read-only lines as our sandbox gives them). */
const FS_LOG = `mkdir: ok
mkdir again: -1 File exists
open create: ok
write: ok
lseek cur: 11
lseek set 6: 6
read: 5 world
pread 0,5: 5 hello
pwrite: ok
lseek end: 11
fstat: ok
fstat size 11 regular 1
ftruncate 20: ok
fstat: ok
size after ftruncate 20
fsync: ok
close: ok
close again: -1 Bad file descriptor
open O_EXCL existing: File exists
append: ok
contents: 21 HELLO world.........!
stat file: ok
stat size 21 regular 1
stat dir: ok
stat dir isdir 1
stat missing: -1 No such file or directory
access: ok
rename: ok
stat old name: -1 No such file or directory
rmdir non-empty: -1 Directory not empty
symlink: ok
readlink: 11 renamed.txt
read through link: HELLO
unlink link: ok
unlink file: ok
rmdir: ok
list many: 302 entries, first ., last entry-299-abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstu, hash 1616815684040272677
big: 300000 bytes, sum 5737622998432
read ro: read only
open ro for writing: Read-only file system
create in ro: Read-only file system
mkdir in ro: -1 Read-only file system
unlink in ro: -1 Read-only file system
`;

toolchainSuite('POSIX file calls of a C plug-in (wasi-libc over our WASI)', clangSkip, () => {
  it('behave as on Linux: seek, pread/pwrite, truncate, append, rename, symlinks, 300 entries, a big file, a read-only mount', async () => {
    const file = clangBuild('c-fs', ['fs_plugin.c', 'fs.c'], ['--target=wasm32-wasi', '-O2', '-mexec-model=reactor']);
    for (const [mode, extra] of [...MODES, ['worker', { runInWorker: true }] as [string, PluginOptions]]) {
      const rw = mkdtempSync(join(work, 'fs-rw-'));
      const ro = mkdtempSync(join(work, 'fs-ro-'));
      writeFileSync(join(ro, 'ro.txt'), 'read only');
      const plugin = await createPlugin(file, { useWasi: true, allowedPaths: { [rw]: '/data', [`ro:${ro}`]: '/ro' }, ...extra });
      assert.equal((await plugin.call('fs_steps', '/data\n/ro'))?.text(), FS_LOG, mode);
      await plugin.close();
    }
  });

  it('behave the same over an in-memory file system, on this thread and in a worker', async () => {
    const file = clangBuild('c-fs', ['fs_plugin.c', 'fs.c'], ['--target=wasm32-wasi', '-O2', '-mexec-model=reactor']);
    for (const [mode, extra] of [...MODES, ['worker', { runInWorker: true }] as [string, PluginOptions]]) {
      const files = createMemoryFileSystem({ '/data/': '', '/ro/ro.txt': 'read only' });
      const plugin = await createPlugin(file, { useWasi: true, wasiFileSystem: files, allowedPaths: { '/data': '/data', 'ro:/ro': '/ro' }, ...extra });
      assert.equal((await plugin.call('fs_steps', '/data\n/ro'))?.text(), FS_LOG, mode);
      await plugin.close();
    }
  });
});

toolchainSuite('a freestanding C plug-in (clang, no libc, no WASI)', clangSkip, () => {
  let file: string;
  const base = ['--target=wasm32-unknown-unknown', '-nostdlib', '-Wl,--no-entry'];
  before(() => {
    file = clangBuild('c-freestanding', ['freestanding.c'], [...base, '-O2']);
  });

  const steps: Step[] = [
    ['count_vowels', 'Hello'],
    ['count_vowels', 'Hello'],
    ['fib', '20'],
    ['digit_stats', 'a1b22c333!9'],
    ['countdown', 'x'],
    ['overflow'],
    ['count_vowels', 'Hello'],
  ];
  const expected = [
    'count_vowels: "2/1"',
    'count_vowels: "2/2"',
    'fib: 0x6d1a0000', // 6765, little endian
    'digit_stats: 0x060000000e000000', // 6 digits before the "!", summing to 14
    'countdown: 0xd1070000', // 2001
    'overflow: PluginCallError -1 Maximum call stack size exceeded',
    'count_vowels: "2/1"',
  ];

  it('counts, recurses, and traps on stack exhaustion in every mode', async () => {
    await inEveryMode(file, {}, steps, expected);
  });

  // Code generation the instrumentation must handle: -O0's locals and stack traffic,
  // multi-value results (a struct returned as (i32, i32)), return_call, SIMD, and every
  // feature clang knows at once.
  const variants: [string, string[]][] = [
    ['-O0', ['-O0']],
    ['-Oz', ['-Oz']],
    ['multi-value', ['-O2', '-mmultivalue', '-Xclang', '-target-abi', '-Xclang', 'experimental-mv']],
    ['multi-value -O0', ['-O0', '-mmultivalue', '-Xclang', '-target-abi', '-Xclang', 'experimental-mv']],
    ['tail calls', ['-O2', '-mtail-call']],
    ['SIMD', ['-O3', '-msimd128']],
    ['bleeding edge', ['-O3', '-mcpu=bleeding-edge', '-mmultivalue', '-Xclang', '-target-abi', '-Xclang', 'experimental-mv']],
  ];
  for (const [label, flags] of variants) {
    it(`gives the same results built with ${label}`, async () => {
      const variant = clangBuild(`c-freestanding-${label.replace(/\W+/g, '-')}`, ['freestanding.c'], [...base, ...flags]);
      // -O0 keeps frames on the shadow stack in linear memory, which runs out first
      const overflow = flags.includes('-O0') ? 'overflow: PluginCallError -1 memory access out of bounds' : undefined;
      await inEveryMode(
        variant,
        {},
        steps,
        expected.map((line) => (overflow && line.startsWith('overflow:') ? overflow : line)),
      );
    });
  }

  it('stops a deep recursion by fuel', async () => {
    const plugin = await createPlugin(file, { fuel: 100_000 });
    await assert.rejects(plugin.call('fib', '40'), { name: 'FuelExhaustedError' });
    assert.equal((await plugin.call('count_vowels', 'aaa'))?.text(), '3/1');
  });
});

toolchainSuite('a C++ plug-in (clang++, libc++, global constructors)', cxxSkip, () => {
  it('runs its global constructors once, keeps std::map/std::vector state, in every mode and in a worker', async () => {
    const file = clangBuild('cxx-ctors', ['ctors.cpp'], ['--target=wasm32-wasi', '-O2', '-mexec-model=reactor', '-fno-exceptions']);
    const steps: Step[] = [['constructed'], ['add_words', 'gamma alpha'], ['add_words', 'beta delta'], ['constructed']];
    const expected = [
      'constructed: "1"',
      'add_words: "words: alpha=2 beta=1 gamma=1"',
      'add_words: "words: alpha=2 beta=2 delta=1 gamma=1"',
      'constructed: "1"',
    ];
    await inEveryMode(file, { useWasi: true }, steps, expected);
    const worker = await createPlugin(file, { useWasi: true, runInWorker: true, timeoutMs: 5000 });
    assert.deepEqual(await transcript(worker, steps), expected);
    await worker.close();
  });
});

toolchainSuite('a C WASI command (_start)', clangSkip, () => {
  it('runs main with its args, and its other exports, and starts afresh after _start', async () => {
    const file = clangBuild('c-command', ['command.c'], ['--target=wasm32-wasi', '-O2']);
    for (const [mode, extra] of MODES) {
      const out: string[] = [];
      const plugin = await createPlugin(file, { useWasi: true, wasiArgs: ['prog', 'x'], wasiStdout: (l) => out.push(l), ...extra });
      assert.deepEqual(
        await transcript(plugin, [['state'], ['state'], ['_start', '0'], ['_start', '3'], ['state']]),
        [
          'state: "ctor_runs=1 calls=1"',
          'state: "ctor_runs=1 calls=2"',
          '_start: "from main"',
          '_start: PluginCallError 3 "_start" exited with code 3',
          'state: "ctor_runs=1 calls=1"',
        ],
        mode,
      );
      assert.deepEqual(
        out,
        [
          'state without a newline',
          'state without a newline',
          'main: argc=2 first=prog ctor_runs=1',
          'main: argc=2 first=prog ctor_runs=1',
          'state without a newline',
        ],
        mode,
      );
      await plugin.close();
    }
  });
});

// ---------------------------------------------------------------------------- Rust

const RUST_STEPS: Step[] = [
  ['count_vowels', 'Hello, World!'],
  ['count_vowels', 'Hello, World!'],
  ['greet', 'Bob'],
  ['count_calls'],
  ['count_calls'],
  ['panic', 'boom'],
  ['count_vowels', 'Hello'],
  ['count_calls'],
  ['panic', ''],
  ['word_stats', 'The cat and the hat. The end, and THE cat!'],
  ['sort_numbers', '100000'],
  ['sort_numbers', 'x'],
];
const RUST_EXPECTED = [
  'count_vowels: "{\\"count\\":3,\\"total\\":3,\\"vowels\\":\\"aeiouAEIOU\\"}"',
  'count_vowels: "{\\"count\\":3,\\"total\\":6,\\"vowels\\":\\"aeiouAEIOU\\"}"',
  'greet: "Hi, Bob!"',
  'count_calls: "1"',
  'count_calls: "2"',
  // panic = abort on wasm: a trap; the instance is new afterwards, the vars are not
  'panic: PluginCallError -1 unreachable',
  'count_vowels: "{\\"count\\":2,\\"total\\":2,\\"vowels\\":\\"aeiouAEIOU\\"}"',
  'count_calls: "3"',
  'panic: null',
  'word_stats: "the=4 and=2 cat=2 | lengths {3: 10}"',
  'sort_numbers: "100000 35723 14984021196458599841"',
  'sort_numbers: PluginCallError 1 bad count: invalid digit found in string',
];

toolchainSuite('a Rust plug-in (rustc, wasm32 WASI std, cdylib)', rustSkip, () => {
  let file: string;
  before(() => {
    if ('rustc' in rust) file = rustBuild('rust-wasi', rust.target);
  });

  it('uses config, vars, String/Vec/HashMap/BTreeMap; a panic traps and is reported on stderr', async () => {
    // word_stats uses a HashMap with random keys, so its fuel may differ from run to run
    await inEveryMode(file, { useWasi: true, config: { greeting: 'Hi' } }, RUST_STEPS, RUST_EXPECTED, false);
    const err: string[] = [];
    const plugin = await createPlugin(file, { useWasi: true, wasiStderr: (l) => err.push(l) });
    await assert.rejects(plugin.call('panic', 'boom'), { message: 'unreachable' });
    assert.match(err[0] ?? '', /panicked at .*boom/);
  });

  it('reads, writes and lists files with std::fs, and prints with println!', async () => {
    const dir = mkdtempSync(join(work, 'rust-files-'));
    writeFileSync(join(dir, 'a.txt'), 'file contents\n');
    for (const [mode, extra] of [...MODES, ['worker', { runInWorker: true }] as [string, PluginOptions]]) {
      const out: string[] = [];
      const plugin = await createPlugin(file, { useWasi: true, allowedPaths: { [dir]: '/data' }, wasiStdout: (l) => out.push(l), ...extra });
      assert.deepEqual(
        await transcript(plugin, [
          ['read_file', '/data/a.txt'],
          ['read_file', '/data/nope'],
          ['read_file', '/etc/passwd'],
          ['write_and_list', '/data'],
          ['print', 'you'],
        ]),
        [
          'read_file: "file contents\\n"',
          'read_file: PluginCallError 1 cannot read /data/nope: No such file or directory (os error 44)',
          'read_file: PluginCallError 1 cannot read /etc/passwd: failed to find a pre-opened file descriptor through which "/etc/passwd" could be opened',
          'write_and_list: "a.txt,from-rust.txt"',
          'print: null',
        ],
        mode,
      );
      assert.deepEqual(out, ['hello from rust, you'], mode);
      assert.equal(readFileSync(join(dir, 'from-rust.txt'), 'utf8'), 'written by rust');
      await plugin.close();
    }
  });

  it('is stopped by a timeout and by fuel, also in a worker, and is usable afterwards', async () => {
    for (const extra of [{ timeoutMs: 200 }, { fuel: 10_000_000 }, { runInWorker: true, timeoutMs: 200 }] as PluginOptions[]) {
      const plugin = await createPlugin(file, { useWasi: true, ...extra });
      await assert.rejects(plugin.call('spin'), { name: extra.fuel ? 'FuelExhaustedError' : 'TimeoutError' });
      assert.equal((await plugin.call('count_vowels', 'aeiou'))?.json().count, 5);
      await plugin.close();
    }
  });

  it('runs in a worker with the same results', async () => {
    const plugin = await createPlugin(file, { useWasi: true, runInWorker: true, config: { greeting: 'Hi' } });
    assert.deepEqual(await transcript(plugin, RUST_STEPS), RUST_EXPECTED);
    await plugin.close();
  });
});

toolchainSuite(
  'a Rust plug-in without WASI (wasm32-unknown-unknown)',
  rustSkip || ('rustc' in rust && !rust.bare ? 'needs the wasm32-unknown-unknown std' : false),
  () => {
    it('runs the same calls in every mode', async () => {
      const file = rustBuild('rust-bare', 'wasm32-unknown-unknown');
      await inEveryMode(file, { config: { greeting: 'Hi' } }, RUST_STEPS, RUST_EXPECTED, false);
    });
  },
);
