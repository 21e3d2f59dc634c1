// Type-level drop-in checks: values from plughost where code written for @extism/extism expects
// the peer's types. Each @ts-expect-error marks a known difference; once it is gone the build
// fails on the unused directive, so the list stays true.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type * as Peer from '@extism/extism';
import * as plughost from '../src/index.js';
import { pluginPath } from './helpers.js';

describe('drop-in types', () => {
  it("a plughost Plugin has the peer Plugin's methods", async () => {
    const plugin = await plughost.createPlugin(pluginPath('count-vowels'));
    try {
      const methods: Pick<Peer.Plugin, 'functionExists' | 'close' | 'getExports' | 'getImports' | 'getInstance' | 'isActive' | 'reset'> = plugin;
      assert.equal(await methods.functionExists('count_vowels'), true);
      // The peer's PluginOutput (and CallContext) carry #private fields, so only the peer's own
      // class satisfies them: code that annotates with the peer's types changes that import too.
      // @ts-expect-error difference: the peer's PluginOutput type is nominal
      const output: Peer.PluginOutput | null = await plugin.call('count_vowels', 'abc');
      assert.equal(output?.json().count, 1);
      assert.ok((await methods.getInstance()) instanceof WebAssembly.Instance);
    } finally {
      await plugin.close();
    }
  });

  it('peer option, manifest and config values are accepted by plughost', async () => {
    const manifest: Peer.Manifest = { wasm: [{ path: pluginPath('count-vowels') }], config: { vowels: 'a' } };
    const config: Peer.PluginConfig = { vowels: 'b' };
    const options: Omit<Peer.ExtismPluginOptions, 'functions' | 'logger' | 'nodeWorkerArgs'> = {
      useWasi: false,
      runInWorker: false,
      logLevel: 'silent',
      config,
      memory: { maxPages: 64, maxVarBytes: 1024 },
      timeoutMs: null,
      enableWasiOutput: false,
      allowHttpResponseHeaders: false,
    };
    const like: Peer.ManifestLike = manifest;
    const plugin = await plughost.createPlugin(like, options);
    try {
      assert.equal((await plugin.call('count_vowels', 'abba'))?.json().count, 2);
    } finally {
      await plugin.close();
    }
    const capabilities: Peer.Capabilities = plughost.CAPABILITIES;
    assert.equal(capabilities.hasWorkerCapability, true);
  });

  // A user's host function factory typed as the peer's store() returns (gzac's gzac_api host
  // function does this): with plughost the annotation changes to `number | bigint`.
  it('difference: a host function annotated to return bigint does not type-check; number | bigint does', async () => {
    const peerStyle = (callContext: plughost.CallContext, addr: bigint): bigint =>
      // @ts-expect-error difference: store() returns a number in plughost, a bigint on the peer
      callContext.store(callContext.read(addr)?.text() ?? '');
    const changed = async (callContext: plughost.CallContext, addr: bigint): Promise<number | bigint> =>
      callContext.store(`${callContext.read(addr)?.text()}!`);
    const plugin = await plughost.createPlugin(pluginPath('host-echo'), { functions: { 'extism:host/user': { echo: changed } }, runInWorker: true });
    try {
      assert.equal((await plugin.call('echo_via_host', 'a'))?.text(), 'a!');
    } finally {
      await plugin.close();
    }
    assert.equal(typeof peerStyle, 'function');
  });
});
