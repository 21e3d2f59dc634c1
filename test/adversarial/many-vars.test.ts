// Vars cost the host more than their bytes: each is a Map entry, a string and a Uint8Array. A
// guest setting hundreds of thousands of tiny vars under maxVarBytes must reach the limit long
// before it makes the host hold many times that limit.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPlugin } from '../../src/index.js';
import { assemble } from '../helpers.js';

/** "fill": sets 262,144 vars, each a distinct 3-byte key and a 1-byte value (1 MiB of keys and values). */
const GUEST = `(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
  (func $digit (param $i i32) (param $shift i32) (result i32)
    (i32.or (i32.and (i32.shr_u (local.get $i) (local.get $shift)) (i32.const 0x3f)) (i32.const 0x40)))
  (func (export "fill") (result i32) (local $i i32) (local $key i64)
    (loop $next
      (local.set $key (call $alloc (i64.const 3)))
      (call $store_u8 (local.get $key) (call $digit (local.get $i) (i32.const 0)))
      (call $store_u8 (i64.add (local.get $key) (i64.const 1)) (call $digit (local.get $i) (i32.const 6)))
      (call $store_u8 (i64.add (local.get $key) (i64.const 2)) (call $digit (local.get $i) (i32.const 12)))
      (call $var_set (local.get $key) (call $alloc (i64.const 1)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const 262144))))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))`;

describe('many tiny vars', () => {
  it('each var counts 48 bytes beyond its key and value, so 262,144 of 4 bytes do not fit the default 1 MiB (they held 65 MiB of heap)', async () => {
    const plugin = await createPlugin(await assemble(GUEST));
    try {
      await assert.rejects(plugin.call('fill'), { code: 'PLUGHOST_CALL', message: /above memory\.maxVarBytes 1048576/ });
      assert.equal(await plugin.call('ok'), null);
    } finally {
      await plugin.close();
    }
  });
});
