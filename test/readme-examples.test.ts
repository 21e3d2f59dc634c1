// The README's code, run as a reader would run it: each TypeScript block type-checked against
// the package's shipped declarations and run against its bundle (`import ... from 'plughost'`),
// and each `$ plughost ...` line of a shell block run through the bin, its output compared with
// the lines the README shows under it. A `// {...}` comment after a statement is a claim about
// what it shows, and is checked. Blocks that are fragments (they use a `manifest`, a `db`, some
// `texts`) get what they need from a prelude below, never an edit of their own text; a block
// with no harness here fails the first test, so a new example cannot go unchecked.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { normalizeManifest } from '../src/manifest.js';
import { assemble, consumerTsconfig, pluginPath, repoRoot } from './helpers.js';

const run = promisify(execFile);

/** A fenced block of README.md: its language and its text. */
interface Block {
  language: string;
  code: string;
}

function fencedBlocks(markdown: string): Block[] {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((match) => ({ language: match[1]!, code: match[2]! }));
}

/** How one TypeScript block is run: what it needs before it, and what checks it after. */
interface Harness {
  /** Text the block contains, so the harness is never paired with another block. */
  marker: string;
  /** Index (among the TypeScript blocks) of a block this one continues, run before it. */
  continues?: number;
  prelude?: string;
  postlude?: string;
  /** What the block and its postlude print, line by line. */
  stdout?: string[];
}

const harnesses: Harness[] = [
  { marker: "createPlugin({ wasm: [{ path: 'build/plugins/count-vowels.wasm' }] })" },
  { marker: '"total":6', continues: 0 },
  { marker: "config: { vowels: 'aeiouyAEIOUY' }", prelude: "import createPlugin from 'plughost';" },
  {
    marker: 'const kvStore = new Map',
    postlude: `for (let i = 0; i < 2; i++) console.log((await plugin.call('count_vowels', 'Hello, World!'))?.text());
      console.log([...kvStore.keys()].join());
      await plugin.close();`,
    stdout: ['{"count":3,"total":3,"vowels":"aeiouAEIOU"}', '{"count":3,"total":6,"vowels":"aeiouAEIOU"}', 'count-vowels'],
  },
  {
    marker: 'defineHostFunction(',
    // kv-read.wasm imports kv_read (i64) -> i64 and nothing else
    prelude: "import createPlugin, { LinkError } from 'plughost';\nconst manifest = { wasm: [{ path: 'kv-read.wasm' }] };",
    postlude: `const wrong = defineHostFunction('kv_read', ['i32'], ['i64'], () => 0);
      const error = await createPlugin(manifest, { hostFunctions: [wrong] }).then(() => undefined, (err: unknown) => err);
      if (!(error instanceof LinkError)) throw new Error(\`expected a LinkError, got \${error}\`);
      console.log(error.message.includes('(i64) -> i64') && error.message.includes('(i32) -> i64') ? 'names both' : error.message);`,
    stdout: ['names both'],
  },
  {
    marker: 'runInWorker: true,',
    prelude: `import createPlugin from 'plughost';
      const values = new Map<string, Uint8Array>();
      const db = {
        async get(key: string): Promise<Uint8Array | undefined> { return values.get(key); },
        async set(key: string, value: Uint8Array): Promise<void> { values.set(key, value); },
      };
      const text = 'Hello, World!';`,
    postlude: 'console.log(new DataView(values.get("count-vowels")!.buffer).getUint32(0, true));',
    stdout: ['3'],
  },
  {
    marker: 'createPool(',
    prelude: "import { createPool } from 'plughost';\nconst texts = ['Hello, World!', 'Yellow', 'xyz'];",
    postlude: 'console.log(counts.map((output) => output?.json().count).join());',
    stdout: ['3,2,0'],
  },
];

/**
 * The block with each `statement; // {...}` line turned into a check that the statement's
 * value (an output's text, or the value itself) is what the comment shows; `...` in the
 * comment stands for any text.
 */
function withClaimsChecked(code: string): string {
  return code.replace(/^(\s*)(.+?);\s*\/\/\s*(\{.*\})\s*$/gm, (_line, indent: string, statement: string, claim: string) => {
    const printed = /^console\.log\((.*)\)$/.exec(statement);
    return `${indent}shows(${printed ? printed[1] : statement}, ${JSON.stringify(claim)});`;
  });
}

const SHOWS = `/** Throws unless \`value\` (an output's text, or the value) is what \`claim\` shows; \`...\` is any text. */
export function shows(value: unknown, claim: string): void {
  const text = typeof value === 'object' && value !== null && 'text' in value ? (value as { text(): string }).text() : String(value);
  const pattern = new RegExp(\`^\${claim.split('...').map((part) => part.replace(/[.*+?^\${}()|[\\]\\\\]/g, '\\\\$&')).join('.*')}$\`);
  if (!pattern.test(text)) throw new Error(\`the README says \${claim}, the code shows \${text}\`);
}
`;

const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
const blocks = fencedBlocks(readme);
const typescript = blocks.filter((block) => block.language === 'ts').map((block) => block.code);

// Inside the package, so that 'plughost' resolves to the package itself (its "exports").
const projectDir = join(repoRoot, 'build', 'readme-examples');
/** Where the examples run: the files their paths name, and a `plughost` command on PATH. */
let workDir: string;

describe('the README', () => {
  before(async () => {
    rmSync(projectDir, { recursive: true, force: true });
    mkdirSync(projectDir, { recursive: true });
    writeFileSync(join(projectDir, 'shows.ts'), SHOWS);
    const files = ['shows.ts'];
    harnesses.forEach((harness, index) => {
      const code = typescript[index];
      if (code === undefined) return;
      const earlier = harness.continues === undefined ? '' : withClaimsChecked(typescript[harness.continues] ?? '');
      const source = [
        "import { shows } from './shows.js';",
        harness.prelude ?? '',
        earlier,
        withClaimsChecked(code),
        harness.postlude ?? '',
        'export {};',
      ].join('\n');
      writeFileSync(join(projectDir, `block-${index}.ts`), source);
      files.push(`block-${index}.ts`);
    });
    const tsconfig = JSON.parse(consumerTsconfig(files)) as { compilerOptions: Record<string, unknown> };
    Object.assign(tsconfig.compilerOptions, { noEmit: false, outDir: 'out' });
    writeFileSync(join(projectDir, 'tsconfig.json'), JSON.stringify(tsconfig));

    workDir = mkdtempSync(join(tmpdir(), 'plughost-readme-'));
    mkdirSync(join(workDir, 'build', 'plugins'), { recursive: true });
    mkdirSync(join(workDir, 'bin'));
    for (const name of ['count-vowels', 'count-vowels-kvstore', 'wasi-files']) {
      copyFileSync(pluginPath(name), join(workDir, 'build', 'plugins', `${name}.wasm`));
      copyFileSync(pluginPath(name), join(workDir, `${name}.wasm`));
    }
    copyFileSync(pluginPath('count-vowels-kvstore'), join(workDir, 'kv.wasm'));
    writeFileSync(
      join(workDir, 'kv-read.wasm'),
      await assemble(`(module
        (import "extism:host/user" "kv_read" (func (param i64) (result i64)))
        (memory (export "memory") 1)
        (func (export "count_vowels") (result i32) (i32.const 0)))`),
    );
    writeFileSync(join(workDir, 'plugin.json'), JSON.stringify({ wasm: [{ path: 'count-vowels.wasm' }] }));
    const shim = join(workDir, 'bin', 'plughost');
    writeFileSync(shim, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(repoRoot, 'dist', 'bundle', 'bin.js'))} "$@"\n`);
    chmodSync(shim, 0o755);
  });

  after(() => {
    if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
  });

  it('has a harness here for each of its TypeScript blocks, in order', () => {
    assert.equal(typescript.length, harnesses.length, 'a TypeScript block was added to or removed from README.md: give it a harness here');
    for (const [index, harness] of harnesses.entries()) {
      assert.ok(typescript[index]?.includes(harness.marker), `block ${index} should contain ${harness.marker}`);
    }
  });

  it("has TypeScript blocks that type-check against the package's declarations", async () => {
    const tsc = join(repoRoot, 'node_modules', '.bin', 'tsc');
    const result = await run(tsc, ['-p', projectDir], { timeout: 120_000 }).then(
      () => '',
      (err: { stdout?: string }) => err.stdout ?? String(err),
    );
    assert.equal(result, '');
  });

  harnesses.forEach((harness, index) => {
    it(`runs TypeScript block ${index + 1} (${harness.marker}) and shows what it says`, async () => {
      const script = join(projectDir, 'out', `block-${index}.js`);
      const { stdout } = await run(process.execPath, [script], { cwd: workDir, timeout: 60_000 });
      assert.deepEqual(stdout.split('\n').filter(Boolean), harness.stdout ?? []);
    });
  });

  it('has JSON manifests, in it and in docs/ABI.md, that plughost validates as they are (placeholders filled)', () => {
    const manifests = [readme, readFileSync(join(repoRoot, 'docs', 'ABI.md'), 'utf8')].flatMap((page) =>
      fencedBlocks(page).filter((block) => block.language === 'json'),
    );
    assert.equal(manifests.length, 2);
    for (const { code } of manifests) {
      const filled = code.replace('<sha256 hex>', '0'.repeat(64)).replace('<bytes, or base64 in JSON>', 'AGFzbQEAAAA=');
      const manifest = normalizeManifest(JSON.parse(filled));
      assert.ok(manifest.wasm.length > 0 && manifest.timeoutMs !== null && manifest.memory.maxPages !== undefined);
    }
  });

  const commands = blocks
    .filter((block) => block.language === 'sh')
    .flatMap((block) => {
      const lines = block.code.trimEnd().split('\n');
      return lines.flatMap((line, at) => {
        if (!line.startsWith('$ ')) return [];
        const next = lines.findIndex((other, after) => after > at && other.startsWith('$ '));
        return [{ command: line.slice(2), shown: lines.slice(at + 1, next === -1 ? undefined : next) }];
      });
    });

  it('has shell examples of the CLI', () => assert.ok(commands.length >= 4, `found ${commands.length}`));

  for (const { command, shown } of commands) {
    it(`runs \`${command}\` and prints what it shows`, async () => {
      const env = { ...process.env, PATH: `${join(workDir, 'bin')}:${process.env.PATH}` };
      const { stdout, stderr } = await run('bash', ['-c', command], { cwd: workDir, env, timeout: 60_000 }).catch(
        (err: { stdout: string; stderr: string; code: number }) => {
          if (err.code !== 3) throw err; // the README's failing example exits with 3; nothing else may fail
          return err;
        },
      );
      const printed = `${stdout}\n${stderr}`.split('\n').filter(Boolean);
      assert.equal(printed.length, shown.length, `printed:\n${printed.join('\n')}`);
      shown.forEach((claim, line) => {
        const pattern = new RegExp(
          `^${claim
            .split('...')
            .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
            .join('.*')}$`,
        );
        assert.match(printed[line]!, pattern);
      });
    });
  }
});
