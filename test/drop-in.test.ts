// Code written for @extism/extism 2.x, with only the import changed: it must type-check (this
// file is compiled by the build) and run the same.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import createPlugin, {
  type CallContext,
  type CurrentPlugin,
  type ExtismPluginOptions,
  type LogLevel,
  type Manifest,
  type ManifestLike,
  newPlugin,
  type Plugin,
  type PluginConfig,
  type PluginOutput,
} from '../src/index.js';
import { pluginPath } from './helpers.js';

describe('code written for @extism/extism', () => {
  it('type-checks and runs unchanged', async () => {
    const kv = new Map<string, Uint8Array>();
    const config: PluginConfig = { vowels: 'aeiouAEIOU' };
    const options: ExtismPluginOptions = {
      useWasi: false,
      runInWorker: false,
      logLevel: 'silent',
      config,
      functions: {
        'extism:host/user': {
          // the peer's host functions get bigint handles and return what store() returns
          kv_read(callContext: CallContext, keyPtr: bigint) {
            const key = callContext.read(keyPtr)?.text() ?? '';
            return callContext.store(kv.get(key) ?? new Uint8Array(4));
          },
          kv_write(callContext: CurrentPlugin, keyPtr: bigint, valuePtr: bigint) {
            const key = callContext.read(keyPtr)!.string();
            kv.set(key, callContext.read(valuePtr)!.bytes().slice());
          },
        },
      },
    };
    const manifest: Manifest = { wasm: [{ path: pluginPath('count-vowels-kvstore') }] };
    const plugin: Plugin = await createPlugin(manifest, options);
    try {
      const output: PluginOutput | null = await plugin.call('count_vowels', 'Hello, World!');
      assert.equal(output?.json().total, 3);
      assert.equal((await plugin.call('count_vowels', 'Hello, World!'))?.json().total, 6);
      assert.equal(await plugin.functionExists('count_vowels'), true);
      assert.ok((await plugin.getExports()).some((e) => e.name === 'count_vowels'));
      assert.equal(plugin.isActive(), false);
    } finally {
      await plugin.close();
    }
    const like: ManifestLike = pluginPath('count-vowels');
    const other = await newPlugin(like, { config });
    assert.equal((await other.call('count_vowels', 'aaa'))?.json().count, 3);
    await other.close();
  });

  // Shapes read in public code that uses @extism/extism (docs/DROP-IN.md names the projects).
  it("users' host-function shapes type-check and run unchanged", async () => {
    const seen: string[] = [];
    // a functions map typed through the options type, as some users build it apart
    const functions: NonNullable<ExtismPluginOptions['functions']> = {
      'extism:host/user': {
        // hostContext() without a type argument is `any` on the peer: its fields are read as is
        echo(callContext: CurrentPlugin, offset: bigint) {
          const request = callContext.hostContext();
          const body = callContext.read(offset)?.json() as { word: string } | undefined;
          seen.push(`${request.user}:${body?.word}`);
          return callContext.store(JSON.stringify({ user: request.user }));
        },
      },
    };
    const plugin: Pick<Plugin, 'call' | 'close' | 'getExports' | 'getImports' | 'getInstance' | 'isActive'> = await createPlugin(pluginPath('host-echo'), {
      functions,
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {} } as unknown as Console,
      logLevel: 'info' satisfies LogLevel,
    });
    try {
      const output = await plugin.call('echo_via_host', JSON.stringify({ word: 'hi' }), { user: 'ada' });
      assert.deepStrictEqual(output?.json(), { user: 'ada' });
      assert.deepStrictEqual(seen, ['ada:hi']);
    } finally {
      await plugin.close();
    }
  });

  it("users' manifest objects with the options' camelCase keys type-check and run unchanged", async () => {
    const { readFile } = await import('node:fs/promises');
    const artifact = await readFile(pluginPath('count-vowels'));
    const manifest: Manifest = {
      wasm: [{ data: new Uint8Array(artifact.buffer, artifact.byteOffset, artifact.byteLength) }],
      allowedHosts: [],
      allowedPaths: {},
      timeoutMs: 30_000,
      memory: { maxPages: 64 },
      config: { vowels: 'e' },
    };
    const plugin = await createPlugin(manifest, { useWasi: true, runInWorker: true });
    try {
      assert.equal(await plugin.functionExists('count_vowels'), true);
      assert.equal((await plugin.call('count_vowels', new TextEncoder().encode('hello')))?.json().count, 1);
    } finally {
      await plugin.close();
    }
  });
});
