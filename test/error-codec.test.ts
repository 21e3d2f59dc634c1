// Errors crossing threads (internal/error-codec.ts): each comes back as its class, found by its
// code in the one table errors.ts keeps, with its name and fields.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AbortError,
  FuelExhaustedError,
  FunctionNotFoundError,
  HashMismatchError,
  HttpDeniedError,
  LinkError,
  ManifestError,
  MemoryLimitError,
  PlughostError,
  type PlughostErrorCode,
  PluginCallError,
  PluginClosedError,
  PoolFullError,
  ReentrantCallError,
  TimeoutError,
  WasmSourceError,
  WorkerError,
} from '../src/errors.js';
import { fromWire, toWire } from '../src/internal/error-codec.js';

/** One error of every code, with the class it must come back as. */
const samples: [PlughostErrorCode, PlughostError, new (...args: never[]) => PlughostError][] = [
  ['PLUGHOST_MANIFEST', new ManifestError('bad', 'wasm'), ManifestError],
  ['PLUGHOST_WASM_SOURCE', new WasmSourceError('gone', 'a.wasm'), WasmSourceError],
  ['PLUGHOST_HASH_MISMATCH', new HashMismatchError('a.wasm', 'aa', 'bb'), HashMismatchError],
  ['PLUGHOST_LINK', new LinkError('no import'), LinkError],
  ['PLUGHOST_CALL', new PluginCallError('run', 3, 'failed'), PluginCallError],
  ['PLUGHOST_FUNCTION_NOT_FOUND', new FunctionNotFoundError('absent'), FunctionNotFoundError],
  ['PLUGHOST_TIMEOUT', new TimeoutError('spin', 100), TimeoutError],
  ['PLUGHOST_ABORTED', new AbortError('spin', 'stop'), AbortError],
  ['PLUGHOST_FUEL_EXHAUSTED', new FuelExhaustedError('spin', 1000), FuelExhaustedError],
  ['PLUGHOST_MEMORY_LIMIT', new MemoryLimitError('too big', 10, 20), MemoryLimitError],
  ['PLUGHOST_HTTP_DENIED', new HttpDeniedError('http://example.test/'), HttpDeniedError],
  ['PLUGHOST_HTTP', new PlughostError('PLUGHOST_HTTP', 'connection refused'), PlughostError],
  ['PLUGHOST_CLOSED', new PluginClosedError(), PluginClosedError],
  ['PLUGHOST_REENTRANT_CALL', new ReentrantCallError('run'), ReentrantCallError],
  ['PLUGHOST_WORKER', new WorkerError('died', { exitCode: 1 }), WorkerError],
  ['PLUGHOST_POOL_FULL', new PoolFullError(4), PoolFullError],
];

describe('error codec', () => {
  for (const [code, error, errorClass] of samples) {
    it(`rebuilds a ${code} error as its class, name and fields`, () => {
      assert.equal(error.code, code);
      const rebuilt = fromWire(structuredClone(toWire(error)));
      assert.ok(rebuilt instanceof errorClass, `${rebuilt.name} is no ${error.name}`);
      assert.equal(rebuilt.name, error.name);
      assert.equal(rebuilt.message, error.message);
      assert.deepEqual({ ...rebuilt }, { ...error });
    });
  }

  it('names each class after itself, from the code', () => {
    for (const [, error, errorClass] of samples) assert.equal(error.name, errorClass.name);
  });

  it('rebuilds an unknown PLUGHOST_ code as a PlughostError, and standard errors as their class', () => {
    const unknown = fromWire({ name: 'FutureError', message: 'from a newer version', fields: { code: 'PLUGHOST_FUTURE' } });
    assert.ok(unknown instanceof PlughostError);
    assert.equal(unknown.name, 'FutureError');
    assert.ok(fromWire(toWire(new RangeError('out'))) instanceof RangeError);
    assert.ok(fromWire(toWire(new WebAssembly.RuntimeError('trap'))) instanceof WebAssembly.RuntimeError);
  });
});
