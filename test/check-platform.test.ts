// scripts/check-platform.mjs, which `npm test` runs over src/: it fails naming every core module
// that imports a Node built-in or a platform adapter, by value or by type, and lets the
// adapters and the entries import them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { repoRoot } from './helpers.js';
import { scriptCheck } from './script-check.js';

describe('check-platform', () => {
  const { check, project } = scriptCheck('check-platform.mjs');

  it('passes on src/', async () => {
    const r = await check(`${repoRoot}/src`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /no platform imported by the core in \d+ modules/);
  });

  it('fails naming each core module that imports a built-in or an adapter, by value or by type', async () => {
    const base = await project('bad', {
      'plugin.ts': `import { readFileSync } from 'node:fs';\nexport const a = readFileSync;\n`,
      'internal/engine.ts': `import type { Stats } from 'fs';\nexport type S = Stats;\n`,
      'internal/wasi/index.ts': `import type { nodeFileSystem } from '../platform/node/wasi-fs.js';\nexport type F = typeof nodeFileSystem;\n`,
      'internal/worker/protocol.ts': `export interface P { port: import('node:worker_threads').MessagePort }\n`,
      'internal/load.ts': `export const load = () => require('node:os');\nexport { x } from './platform/web/index.js';\n`,
      'internal/env.ts': `// process.env in a comment is fine\nexport const home = process.env.HOME;\nexport const b = Buffer.from('x');\n`,
      // allowed: the interface, the adapters, the entries, and an import quoted in a comment
      'internal/platform/platform.ts': `/** import { x } from 'node:fs' is no import */\nexport interface Platform { name: string }\n`,
      'internal/platform/node/wasi-fs.ts': `import * as fs from 'node:fs';\nexport const nodeFileSystem = fs;\n`,
      'internal/platform/web/index.ts': `export const x = 1;\n`,
      'index.ts': `import { nodeFileSystem } from './internal/platform/node/wasi-fs.js';\nimport 'node:process';\nexport { nodeFileSystem };\n`,
      'cli/call.ts': `import { readFile } from 'node:fs/promises';\nexport { readFile };\n`,
      'core.ts': `import type { Platform } from './internal/platform/platform.js';\nexport type P = Platform;\n`,
    });
    const r = await check(base);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /check-platform: 8 uses of a platform in the core/);
    assert.match(r.stderr, /\n {2}internal\/env\.ts uses Node's global process\.env\n {2}internal\/env\.ts uses Node's global Buffer\n/);
    assert.match(r.stderr, /\n {2}plugin\.ts imports a Node built-in \(node:fs\)\n/);
    assert.match(r.stderr, /\n {2}internal\/engine\.ts imports a Node built-in \(fs\)\n/);
    assert.match(r.stderr, /\n {2}internal\/wasi\/index\.ts imports a platform adapter \(internal\/platform\/node\/wasi-fs\.ts\)\n/);
    assert.match(r.stderr, /\n {2}internal\/worker\/protocol\.ts imports a Node built-in \(node:worker_threads\)\n/);
    assert.match(r.stderr, /\n {2}internal\/load\.ts imports a Node built-in \(node:os\)\n/);
    assert.match(r.stderr, /\n {2}internal\/load\.ts imports a platform adapter \(internal\/platform\/web\/index\.ts\)\n/);
    assert.doesNotMatch(r.stderr, /^ {2}(index\.ts|cli\/|core\.ts|internal\/platform\/)/m);
  });
});
