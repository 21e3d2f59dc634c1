#!/usr/bin/env node
// plughost in headless Chromium: the browser test module (build/test/browser/suite.js, which
// drives the browser bundle dist/bundle/browser.js as a page would) run in a real page, twice:
// on an origin that is cross-origin isolated (COOP same-origin + COEP require-corp) and on one
// that is not; then the example page (examples/browser/index.html), checked by what it shows.
// Everything is served by node:http servers on 127.0.0.1 from this process: the repo's built
// files (build/, dist/, examples/ only), and an HTTP endpoint with CORS for the HTTP tests.
// Chromium is Debian's (/usr/bin/chromium, or PLUGHOST_CHROMIUM), driven by playwright-core;
// no browser is ever downloaded. `npm test` (or scripts/build.mjs) must have built everything.
//
//   node scripts/test-browser.mjs
//
// Output: the cross-runtime suite's lines (`features\t<json>`, `start\t<name>`,
// `ok\t<name>\t<ms>`, `not ok\t<name>\t<message>`, and `skip\t<name>\t<why>`), each test's name
// ending in the origin it ran on, then a closing `N passed, N failed`; exits 1 if any test
// failed or a page did not finish. A page that has not finished within its bound fails the test
// it was in.
// PLUGHOST_RUNTIMES_ONLY=<text> runs only the tests whose name contains it.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const executablePath = process.env.PLUGHOST_CHROMIUM ?? '/usr/bin/chromium';

// Generous for a loaded 2-core machine: a page's whole run takes seconds.
const PAGE_BOUND_MS = 60_000;
const EXAMPLE_BOUND_MS = 30_000;

const SUITE_MODULE = '/build/test/browser/suite.js';
const EXAMPLE_PAGE = '/examples/browser/index.html';
/** What the example page shows once it has called count-vowels (its first call, so the total is 3). */
const EXAMPLE_EXPECTED = '{"count":3,"total":3,"vowels":"aeiouAEIOU"}';

for (const [what, path] of [
  ['the browser test module', join(root, SUITE_MODULE)],
  ['the browser bundle', join(root, 'dist', 'bundle', 'browser.js')],
]) {
  if (!existsSync(path)) {
    console.error(`test-browser: ${what} is not built (${path} is missing): run \`npm test\` or \`node scripts/build.mjs\` first`);
    process.exit(1);
  }
}
if (!existsSync(executablePath)) {
  console.error(`test-browser: no Chromium at ${executablePath}: install Debian's \`chromium\` (apt-get install chromium) or set PLUGHOST_CHROMIUM`);
  process.exit(1);
}

// ------------------------------------------------------------------ the servers

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
};
/** The folders a page may read; nothing else of the machine is served. */
const SERVED = ['build', 'dist', 'examples'];

/** The page that runs the test module; `?http=` tells it where the HTTP endpoint is. */
const SUITE_PAGE = `<!doctype html>
<meta charset="utf-8">
<title>plughost browser tests</title>
<script type="module" src="${SUITE_MODULE}"></script>
`;

/** A file of the repo for a static request, or undefined when it is not one we serve. */
function staticFile(pathname) {
  let decoded;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  const top = decoded.split('/')[1];
  if (!SERVED.includes(top) || decoded.includes('\0')) return undefined;
  const file = join(root, decoded);
  // URL parsing already resolved `..`; this holds even for an encoded one.
  if (!file.startsWith(join(root, top) + sep)) return undefined;
  if (!existsSync(file) || !statSync(file).isFile()) return undefined;
  return file;
}

/** A static server for the repo; `isolated` adds the headers that make its pages cross-origin isolated. */
function staticServer(isolated) {
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (isolated) {
      res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
      res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    }
    res.setHeader('Cache-Control', 'no-store');
    if (url.pathname === '/suite.html') {
      res.setHeader('Content-Type', CONTENT_TYPES['.html']);
      return void res.end(SUITE_PAGE);
    }
    // The page's own origin answers with the cookies a request carried (the cookie test's probe).
    if (url.pathname === '/cookie-seen') return void res.end(req.headers.cookie ?? '');
    const file = staticFile(url.pathname);
    if (file === undefined) {
      res.statusCode = 404;
      return void res.end('not found');
    }
    res.setHeader('Content-Type', CONTENT_TYPES[extname(file)] ?? 'application/octet-stream');
    res.end(readFileSync(file));
  });
}

// The HTTP tests' endpoint, another origin than the pages': every answer carries CORS headers
// (and CORP, which a cross-origin isolated page also accepts). /hello answers; /seen?path=P
// says how many requests for P arrived; /redirect?to=U answers 302 to U.
const seenPaths = new Map();
const api = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Allow-Headers', '*');
  res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
  if (req.method === 'OPTIONS') return void res.end();
  const path = url.pathname + url.search;
  if (url.pathname === '/seen') return void res.end(String(seenPaths.get(url.searchParams.get('path')) ?? 0));
  seenPaths.set(path, (seenPaths.get(path) ?? 0) + 1);
  if (url.pathname === '/hello') return void res.end(`hello ${url.searchParams.get('mode')}`);
  if (url.pathname === '/redirect') {
    res.writeHead(302, { Location: url.searchParams.get('to') ?? '/hello' });
    return void res.end();
  }
  res.statusCode = 404;
  res.end('no route');
});

async function listen(server) {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${server.address().port}`;
}
const servers = [staticServer(true), staticServer(false), api];
const [isolatedBase, plainBase, apiBase] = await Promise.all(servers.map(listen));

// ------------------------------------------------------------------ the runs

let passed = 0;
let failed = 0;
let pagesUnfinished = 0;
let skipped = 0;
const report = (line) => console.log(line);
const pass = (name, ms) => {
  passed++;
  report(`ok\t${name}\t${ms}`);
};
const fail = (name, message) => {
  failed++;
  report(`not ok\t${name}\t${String(message).replace(/\s+/g, ' ')}`);
};

const browser = await chromium.launch({ executablePath });
let featuresPrinted = false;

/** The test module in a page of `base`; its test names get `suffix`. */
async function runSuite(base, suffix) {
  const context = await browser.newContext();
  const page = await context.newPage();
  let lastStarted;
  const settled = new Set();
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  const errors = [];
  let reported = false;
  page.on('pageerror', (err) => {
    errors.push(err.message);
    // Before the module's first line, an error means it could not even start: no need to wait out the bound.
    if (!reported) finish(false);
  });
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('response', (response) => {
    if (response.status() < 400) return;
    errors.push(`HTTP ${response.status()} for ${response.url()}`);
    // A module of the page that is missing: it will never report.
    if (!reported && response.request().resourceType() === 'script') finish(false);
  });
  // The module reports through this binding (by console.log when opened by hand).
  await page.exposeFunction('__plughostReport', (line) => {
    reported = true;
    const [kind, name, detail] = String(line).split('\t');
    if (kind === 'features') {
      const features = { runtime: `Chromium ${browser.version()}`, ...JSON.parse(name) };
      if (!featuresPrinted) report(`features\t${JSON.stringify(features)}`);
      featuresPrinted = true;
    } else if (kind === 'start') {
      lastStarted = `${name} ${suffix}`;
      report(`start\t${lastStarted}`);
    } else if (kind === 'ok') {
      settled.add(`${name} ${suffix}`);
      pass(`${name} ${suffix}`, detail);
    } else if (kind === 'not ok') {
      settled.add(`${name} ${suffix}`);
      fail(`${name} ${suffix}`, detail);
    } else if (kind === 'skip') {
      skipped++;
      report(`skip\t${name} ${suffix}\t${detail}`);
    } else if (kind === 'done') finish(true);
  });
  const only = process.env.PLUGHOST_RUNTIMES_ONLY;
  const url = `${base}/suite.html?http=${encodeURIComponent(apiBase)}${only ? `&only=${encodeURIComponent(only)}` : ''}`;
  let timer;
  const bound = new Promise((resolve) => (timer = setTimeout(() => resolve(false), PAGE_BOUND_MS)));
  // Only until the navigation commits: a page whose thread hangs never fires `load`.
  await page.goto(url, { waitUntil: 'commit' });
  const done = await Promise.race([finished, bound]);
  clearTimeout(timer);
  if (!done) {
    pagesUnfinished++;
    const why = `the page did not finish within ${PAGE_BOUND_MS / 1000} s${errors.length > 0 ? `; page errors: ${errors.join('; ')}` : ''}`;
    if (lastStarted !== undefined && !settled.has(lastStarted)) fail(lastStarted, `no result: ${why}`);
    else fail(`[main] the test page runs ${suffix}`, reported ? why : `it never started: ${errors.join('; ') || 'no error seen'}`);
  }
  // A hung page's renderer may never answer a close; the browser's own close ends it.
  await Promise.race([context.close(), new Promise((resolve) => setTimeout(resolve, 5_000))]);
}

/** The example page, as a visitor sees it: the result it shows. */
async function runExample(base, suffix) {
  const name = `[main] examples/browser shows count-vowels' output ${suffix}`;
  report(`start\t${name}`);
  const started = performance.now();
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${base}${EXAMPLE_PAGE}`, { waitUntil: 'commit' });
    // The page marks #result data-state="done" (or "failed") once the call has settled.
    await page.waitForFunction(() => ['done', 'failed'].includes(document.querySelector('#result')?.getAttribute('data-state') ?? ''), undefined, {
      timeout: EXAMPLE_BOUND_MS,
    });
    const result = page.locator('#result');
    const [state, text] = await Promise.all([result.getAttribute('data-state'), result.textContent()]);
    if (state === 'done' && text?.trim() === EXAMPLE_EXPECTED) pass(name, Math.round(performance.now() - started));
    else
      fail(
        name,
        `shows ${JSON.stringify(text)} (state ${state}), expected ${EXAMPLE_EXPECTED}${errors.length > 0 ? `; page errors: ${errors.join('; ')}` : ''}`,
      );
  } catch (err) {
    fail(name, err.message.split('\n')[0]);
  } finally {
    await Promise.race([context.close(), new Promise((resolve) => setTimeout(resolve, 5_000))]);
  }
}

try {
  await runSuite(isolatedBase, '(cross-origin isolated)');
  await runSuite(plainBase, '(not isolated)');
  await runExample(plainBase, '(not isolated)');
} finally {
  await Promise.race([browser.close(), new Promise((resolve) => setTimeout(resolve, 10_000))]);
  for (const server of servers) server.close();
}
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exit(failed === 0 && pagesUnfinished === 0 ? 0 : 1);
