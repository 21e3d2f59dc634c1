// The queue shared by worker plug-ins and the pool (internal/call-queue.ts): order, and what
// an AbortSignal does to a waiting call, to one taken out, and to one settled.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AbortError } from '../src/errors.js';
import { CallQueue, type QueuedCall } from '../src/internal/call-queue.js';

interface TestCall extends QueuedCall {
  rejected: unknown[];
}

function call(name: string, signal?: AbortSignal): TestCall {
  const rejected: unknown[] = [];
  return { name, signal, rejected, reject: (error) => rejected.push(error) };
}

describe('CallQueue', () => {
  it('hands calls out first in, first out, and puts one taken out back at the head', () => {
    const queue = new CallQueue<TestCall>();
    const [a, b, c] = [call('a'), call('b'), call('c')];
    queue.push(a);
    queue.push(b);
    queue.push(c);
    assert.equal(queue.length, 3);
    assert.equal(queue.shift(), a);
    queue.unshift(a);
    assert.equal(queue.head, a);
    assert.deepEqual([queue.shift(), queue.shift(), queue.shift(), queue.shift()], [a, b, c, undefined]);
  });

  it('takes a call out and rejects it with AbortError naming it when its signal fires while it waits', () => {
    const aborted: TestCall[] = [];
    const queue = new CallQueue<TestCall>({ abortedWhileQueued: (c) => aborted.push(c) });
    const controller = new AbortController();
    const [a, b] = [call('first'), call('second', controller.signal)];
    queue.push(a);
    queue.push(b);
    controller.abort('enough');
    assert.equal(queue.length, 1);
    assert.equal(queue.head, a);
    assert.equal(b.rejected.length, 1);
    const error = b.rejected[0];
    assert.ok(error instanceof AbortError);
    assert.match(error.message, /second/);
    assert.equal(error.cause, 'enough');
    assert.deepEqual(aborted, [b]);
  });

  it('tells the owner of an abort after the call left the queue, and of none once the call is released', () => {
    const outside: TestCall[] = [];
    const queue = new CallQueue<TestCall>({ abortedOutside: (c) => outside.push(c) });
    const running = new AbortController();
    const settled = new AbortController();
    const [a, b] = [call('running', running.signal), call('settled', settled.signal)];
    queue.push(a);
    queue.push(b);
    queue.shift();
    queue.shift();
    queue.release(b);
    running.abort();
    settled.abort();
    assert.deepEqual(outside, [a], 'only the call not released');
    assert.deepEqual([a.rejected, b.rejected], [[], []], 'the owner settles a call taken out');
  });

  it('drains every waiting call, no longer listening to their signals', () => {
    const outside: TestCall[] = [];
    const queue = new CallQueue<TestCall>({ abortedOutside: (c) => outside.push(c) });
    const controller = new AbortController();
    const [a, b] = [call('a', controller.signal), call('b')];
    queue.push(a);
    queue.push(b);
    assert.deepEqual(queue.drain(), [a, b]);
    assert.equal(queue.length, 0);
    controller.abort();
    assert.deepEqual(outside, []);
    assert.deepEqual(a.rejected, []);
  });
});
