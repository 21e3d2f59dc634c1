// The shared-memory channel behind worker mode where there is no receiveMessageOnPort (a
// browser): every kind of value the protocol sends, large and queued messages, and a clear
// error for what it cannot carry. The far end is a real worker_threads worker.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { WorkerError } from '../src/errors.js';
import { createSharedChannel, decodeValue, encodeValue, type SharedSyncPort } from '../src/internal/platform/shared-channel.js';

const TO_WORKER = 0;
const TO_MAIN = 1;
/** Generous for a loaded machine; the echo answers in microseconds. */
const REPLY_BOUND_MS = 20_000;

let worker: Worker;
let port: SharedSyncPort;
let ctrl: Int32Array;

before(() => {
  const { local, remote } = createSharedChannel({ initialBytes: 1024 });
  port = local;
  ctrl = new Int32Array(new SharedArrayBuffer(8));
  worker = new Worker(new URL('./shared-channel-echo.js', import.meta.url), { workerData: { port: remote, ctrl: ctrl.buffer } });
});
after(async () => {
  post('stop');
  await worker.terminate();
});

function post(value: unknown): void {
  port.postMessage(value);
  Atomics.add(ctrl, TO_WORKER, 1);
  Atomics.notify(ctrl, TO_WORKER);
}

/** The next `count` messages from the worker, waiting for them as the host thread does. */
function take(count: number): unknown[] {
  const out: unknown[] = [];
  const giveUp = Date.now() + REPLY_BOUND_MS;
  while (out.length < count) {
    const seen = Atomics.load(ctrl, TO_MAIN);
    for (let m = port.receive(); m !== undefined; m = port.receive()) out.push(m);
    if (out.length >= count) break;
    const left = giveUp - Date.now();
    if (left <= 0) assert.fail(`the worker answered ${out.length} of ${count} messages within ${REPLY_BOUND_MS} ms`);
    Atomics.wait(ctrl, TO_MAIN, seen, left);
  }
  return out;
}

function roundTrip(value: unknown): unknown {
  post(value);
  return take(1)[0];
}

class Thing {
  x = 1;
}

describe('values', () => {
  const cases: [string, unknown][] = [
    // (undefined alone is "no message" to receive(), as to receiveMessage on Node: the protocol never sends it bare)
    ['undefined', [undefined]],
    ['null', null],
    ['true', true],
    ['false', false],
    ['a small integer', 42],
    ['a negative integer', -7],
    ['-0', -0],
    ['a fraction', 1.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.NEGATIVE_INFINITY],
    ['a number past 32 bits', 2 ** 40 + 3],
    ['zero as a bigint', 0n],
    ['a wide negative bigint', -(2n ** 70n) + 5n],
    ['the widest u64', 2n ** 64n - 1n],
    ['the empty string', ''],
    ['a string beyond ASCII', 'héllo ✓ 😀 \u0000 end'],
    ['an ArrayBuffer', new Uint8Array([1, 2, 3, 250]).buffer],
    ['an empty ArrayBuffer', new ArrayBuffer(0)],
    ['a Uint8Array', new Uint8Array([9, 8, 7])],
    ['an Int16Array', new Int16Array([-1, 300])],
    ['a Float64Array', new Float64Array([0.25, -1e300])],
    ['a BigInt64Array', new BigInt64Array([-5n, 2n ** 62n])],
    ['a DataView', new DataView(new Uint8Array([5, 6]).buffer)],
    ['an array of mixed values', [1, 'two', [3n, null], { four: undefined }]],
    ['an object with an undefined value', { opId: 3, value: undefined }],
    ['an error wire record', { name: 'TypeError', message: 'bad', stack: 'at x', fields: { code: 'PLUGHOST_CALL', exitCode: 1 }, cause: { value: 'why' } }],
    ['a memory request', { kind: 'op', seq: 7, opId: 9, op: 'setVar', name: 'k', value: new Uint8Array([1]).buffer }],
    [
      'an HTTP answer',
      { kind: 'return', seq: 2, value: { status: 200, headers: { 'content-type': 'text/plain' }, body: new TextEncoder().encode('ok').buffer } },
    ],
  ];
  for (const [what, value] of cases) {
    test(`${what} comes back as it went`, () => {
      assert.deepStrictEqual(roundTrip(value), value);
    });
  }

  test('a typed array over part of a buffer carries only its own bytes', () => {
    const whole = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]);
    const back = roundTrip(new Uint16Array(whole.buffer, 2, 2)) as Uint16Array;
    assert.ok(back instanceof Uint16Array);
    assert.deepEqual([...new Uint8Array(back.buffer)], [2, 3, 4, 5]);
  });

  test('keys keep their order, and __proto__ stays an own key', () => {
    const value = JSON.parse('{"b":1,"a":2,"__proto__":{"polluted":true}}');
    const back = roundTrip(value) as Record<string, unknown>;
    assert.deepEqual(Object.keys(back), ['b', 'a', '__proto__']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf(back), Object.prototype);
  });
});

describe('sizes', () => {
  test('a 1 MiB block and an 8 MiB body cross whole', () => {
    for (const size of [1 << 20, 8 << 20]) {
      const bytes = new Uint8Array(size);
      for (let i = 0; i < size; i += 4093) bytes[i] = i % 251;
      const back = roundTrip({ body: bytes.buffer }) as { body: ArrayBuffer };
      assert.equal(back.body.byteLength, size);
      assert.deepEqual(new Uint8Array(back.body), bytes);
    }
  });

  test('many messages queued before the other side reads come out in order', () => {
    const count = 2000;
    for (let i = 0; i < count; i++) port.postMessage({ i, pad: 'x'.repeat(i % 300) });
    // one wake for all of them: they wait in the queue, which grows and is compacted meanwhile
    Atomics.add(ctrl, TO_WORKER, 1);
    Atomics.notify(ctrl, TO_WORKER);
    const back = take(count) as { i: number; pad: string }[];
    assert.deepEqual(
      back.map((m) => m.i),
      Array.from({ length: count }, (_, i) => i),
    );
    assert.equal(back[299]!.pad.length, 299);
  });

  test('a reader that stops reading cannot make the queue grow without bound: past it, posts fail with a WorkerError', () => {
    const { local, remote } = createSharedChannel({ maxMessageBytes: 1024 });
    const message = new Uint8Array(1000);
    let posted = 0;
    const full = (() => {
      try {
        for (; posted < 100_000; posted++) local.postMessage(message);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    assert.ok(full instanceof WorkerError && /channel is full/.test(full.message), `no WorkerError after ${posted} unread messages: ${String(full)}`);
    assert.ok(posted > 1000 && posted < 10_000, `${posted} messages queued`);
    assert.ok(local.outgoing.byteLength <= 5 << 20, `the queue grew to ${local.outgoing.byteLength} bytes`);
    // Reading makes room again.
    for (let i = 0; i < 10; i++) assert.ok(remote.receive() instanceof Uint8Array);
    local.postMessage(message);
  });

  test('a message past the channel limit fails with a WorkerError naming the sizes, and the channel goes on', () => {
    const { local } = createSharedChannel({ maxMessageBytes: 1024 });
    assert.throws(
      () => local.postMessage(new Uint8Array(2048)),
      (error: unknown) => error instanceof WorkerError && /2\d{3} bytes is more than a worker's channel carries \(1024 bytes\)/.test(error.message),
    );
    local.postMessage('small');
  });
});

describe('what cannot be carried', () => {
  const cases: [string, unknown, RegExp][] = [
    ['a function', { status: 200, body: () => 1 }, /the value\.body .*a function/],
    ['a symbol', [Symbol('s')], /the value\[0\] .*a symbol/],
    ['a Map', { m: new Map() }, /the value\.m .*class Map/],
    ['a Date', new Date(0), /class Date/],
    ['a class instance', { deep: [new Thing()] }, /the value\.deep\[0\] .*class Thing/],
  ];
  for (const [what, value, message] of cases) {
    test(`${what} fails with a WorkerError naming where it is, and nothing is sent`, () => {
      assert.throws(
        () => port.postMessage(value),
        (error: unknown) => error instanceof WorkerError && message.test(error.message),
      );
      assert.equal(roundTrip('next'), 'next', 'the channel still works, and nothing half-sent came first');
    });
  }

  test('a cycle fails instead of recursing for ever', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    assert.throws(() => encodeValue(cyclic), /the value\.self .*a cycle/);
    const shared = { x: 1 };
    assert.deepEqual(decodeValue(encodeValue([shared, shared])), [{ x: 1 }, { x: 1 }], 'the same object twice is no cycle');
  });
});

test('after close, posts from either end are dropped', () => {
  const { local, remote } = createSharedChannel();
  local.postMessage(1);
  local.close();
  local.postMessage(2);
  remote.postMessage(3);
  assert.equal(remote.receive(), 1);
  assert.equal(remote.receive(), undefined);
  assert.equal(local.receive(), undefined);
});

test('a writer makes room by moving what is still unread to the front, and the reader finds it whole', () => {
  const { local, remote } = createSharedChannel({ initialBytes: 256 });
  const first = 'a'.repeat(100);
  const second = 'b'.repeat(100);
  local.postMessage(first);
  local.postMessage(second);
  assert.equal(remote.receive(), first);
  // Does not fit after `second`: `second` moves to the front, then the buffer grows.
  const third = 'c'.repeat(300);
  local.postMessage(third);
  assert.equal(remote.receive(), second);
  assert.equal(remote.receive(), third);
  assert.equal(remote.receive(), undefined);
});

describe('a worker whose memory is scribbled', () => {
  // What the worker writes (its `outgoing`) is what the host thread's end reads: header slots
  // LOCK, START, END (Int32 0..2), then records of a u32 length and the encoded value.
  const HEADER_BYTES = 16;
  const fresh = () => createSharedChannel({ initialBytes: 4096, maxMessageBytes: 1 << 20 });
  /** Writes `record` (encoded value bytes) as the only queued record, with `length` as its length word. */
  const queue = (remote: SharedSyncPort, record: ArrayLike<number>, length = record.length) => {
    const view = new DataView(remote.outgoing);
    view.setUint32(HEADER_BYTES, length, true);
    new Uint8Array(remote.outgoing).set(record, HEADER_BYTES + 4);
    const header = new Int32Array(remote.outgoing, 0, 4);
    header[1] = 0;
    header[2] = 4 + record.length;
  };
  const corrupt = (error: unknown) => error instanceof WorkerError && /corrupt/.test(error.message);

  const records: [string, number[]][] = [
    ['an unknown tag', [0xff]],
    ['an int32 cut short', [4, 1, 2]],
    ['a string longer than the record', [7, 0xff, 0xff, 0xff, 0x7f, 0x41]],
    ['an array of 2^32-1 items in a few bytes', [11, 0xff, 0xff, 0xff, 0xff, 0, 0]],
    ['an object of 2^32-1 keys in a few bytes', [12, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0]],
    ['a typed array of an unknown kind', [9, 99, 1, 0, 0, 0, 0]],
    ['a Float64Array of 3 bytes', [9, 8, 3, 0, 0, 0, 1, 2, 3]],
    ['a bigint that is not hexadecimal', [6, 3, 0, 0, 0, 0x7a, 0x7a, 0x7a]],
    ['bytes past the value', [1, 1, 1]],
    // a million nested arrays of one item: the decoder must not recurse into the stack's limit
    ['arrays nested a million deep', Array.from({ length: 5 * 200_000 }, (_, i) => (i % 5 === 0 ? 11 : i % 5 === 1 ? 1 : 0))],
  ];
  for (const [what, record] of records) {
    test(`${what}: a WorkerError, and the channel goes on`, () => {
      const { local, remote } = createSharedChannel({ initialBytes: record.length + 64, maxMessageBytes: 1 << 22 });
      queue(remote, record);
      assert.throws(() => local.receive(), corrupt);
      assert.equal(local.receive(), undefined);
      remote.postMessage({ after: 1 });
      assert.deepEqual(local.receive(), { after: 1 });
    });
  }

  const framings: [string, (header: Int32Array, view: DataView) => void][] = [
    ['an end past the buffer', (h) => h.set([1 << 30], 2)],
    ['a negative start', (h) => h.set([-8], 1)],
    ['a start past the end', (h) => h.set([40, 8], 1)],
    ['a queue shorter than a record header', (h) => h.set([0, 2], 1)],
    [
      'a record longer than the queue',
      (h, v) => {
        v.setUint32(HEADER_BYTES, 0xfffffff0, true);
        h.set([0, 8], 1);
      },
    ],
  ];
  for (const [what, scribble] of framings) {
    test(`${what}: a WorkerError, the queue is dropped, and the channel goes on`, () => {
      const { local, remote } = fresh();
      remote.postMessage('lost');
      scribble(new Int32Array(remote.outgoing, 0, 4), new DataView(remote.outgoing));
      assert.throws(() => local.receive(), corrupt);
      assert.equal(local.receive(), undefined);
      remote.postMessage('next');
      assert.equal(local.receive(), 'next');
    });
  }

  for (const [what, start, end] of [
    ['a negative end', 0, -64],
    ['a start past the end', 64, 8],
    ['an end past the buffer', 0, 1 << 30],
  ] as const) {
    test(`the queue toward the worker with ${what}: posting is a WorkerError, and the next post goes through`, () => {
      const { local, remote } = fresh();
      new Int32Array(local.outgoing, 0, 4).set([start, end], 1);
      assert.throws(() => local.postMessage('first'), corrupt);
      local.postMessage('second');
      assert.equal(remote.receive(), 'second');
    });
  }

  test('random records: every one gives a value or a WorkerError', () => {
    let seed = 20261204;
    const random = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const { local, remote } = fresh();
    const good = [...encodeValue({ kind: 'return', seq: 3, value: [1, 'two', new Uint8Array([3]), 4n, null, { x: -0.5 }] })];
    for (let i = 0; i < 5000; i++) {
      const record = good.slice(0, Math.max(1, Math.floor(random() * (good.length + 4))));
      for (let flips = 1 + Math.floor(random() * 4); flips > 0; flips--) record[Math.floor(random() * record.length)] = Math.floor(random() * 256);
      queue(remote, record);
      try {
        local.receive();
      } catch (error) {
        assert.ok(corrupt(error), `record ${i} (${record.join(',')}): ${String(error)}`);
      }
    }
  });

  test('a lock the worker never lets go of: a WorkerError within its bound, not a hang', () => {
    const { local, remote } = fresh();
    remote.postMessage('stuck');
    Atomics.store(new Int32Array(remote.outgoing, 0, 4), 0, 1);
    assert.throws(
      () => local.receive(),
      (error: unknown) => error instanceof WorkerError && /held its lock/.test(error.message),
    );
  });
});
