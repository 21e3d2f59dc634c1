import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { utf8Length, VAR_ENTRY_BYTES, VarStore } from '../src/internal/vars.js';

describe('VarStore', () => {
  it('counts keys in UTF-8 bytes, as encoders write them', () => {
    for (const text of ['', 'total', 'é', '€', '😀', 'a😀b', '\ud800', '\udc00x', 'ü'.repeat(100)]) {
      assert.equal(utf8Length(text), new TextEncoder().encode(text).byteLength, JSON.stringify(text));
    }
  });

  it('bounds keys plus values plus VAR_ENTRY_BYTES a var, and frees the space of deleted vars', () => {
    const entry = VAR_ENTRY_BYTES;
    const vars = new VarStore(10 + 2 * entry);
    vars.set('ab', new Uint8Array(8));
    assert.throws(() => vars.set('c', new Uint8Array(1)), { code: 'PLUGHOST_MEMORY_LIMIT', limit: 10 + 2 * entry, requested: 12 + 2 * entry });
    vars.set('ab', new Uint8Array(2));
    vars.set('c', new Uint8Array(5));
    vars.set('ab', undefined);
    vars.set('d', new Uint8Array(3));
    assert.equal(vars.get('c')?.byteLength, 5);
  });

  it('answers every get with the value set last, whatever was looked up before', () => {
    const vars = new VarStore(200);
    const one = new Uint8Array([1]);
    const two = new Uint8Array([2, 2]);
    assert.equal(vars.get('a'), undefined);
    vars.set('a', one);
    assert.equal(vars.get('a'), one);
    vars.set('a', two);
    assert.equal(vars.get('a'), two);
    assert.equal(vars.get('b'), undefined);
    vars.set('b', one);
    assert.equal(vars.get('a'), two);
    assert.equal(vars.get('b'), one);
    vars.set('b', undefined);
    assert.equal(vars.get('b'), undefined);
    assert.throws(() => vars.set('a', new Uint8Array(300)), { code: 'PLUGHOST_MEMORY_LIMIT' });
    assert.equal(vars.get('a'), two);
    vars.clear();
    assert.equal(vars.get('a'), undefined);
    // the space of what was cleared is free again
    vars.set('a', new Uint8Array(99));
  });
});
