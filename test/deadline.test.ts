// The one deadline clock: the functions over a Deadline, and a clock that reads alike on another
// thread (the HTTP helper receives deadlines as they are).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Deadline } from '../src/internal/deadline.js';

describe('Deadline', () => {
  it('no timeout is no deadline: never expired, Infinity left', () => {
    const none = Deadline.fromTimeout(null);
    assert.equal(none, Deadline.none);
    assert.equal(none, Infinity);
    assert.equal(Deadline.expired(none), false);
    assert.equal(Deadline.remaining(none), Infinity);
  });

  it('a timeout counts down from now and is expired once past, with nothing left', () => {
    const before = Deadline.now();
    const soon = Deadline.fromTimeout(60_000);
    assert.ok(soon >= before + 60_000 && soon <= Deadline.now() + 60_000);
    const left = Deadline.remaining(soon);
    assert.ok(left > 0 && left <= 60_000, `${left} ms left`);
    assert.equal(Deadline.expired(soon), false);
    const past = Deadline.fromTimeout(-1);
    assert.equal(Deadline.expired(past), true);
    assert.equal(Deadline.remaining(past), 0);
    assert.equal(Deadline.expired(soon, soon), true, 'a deadline is due at its own moment');
  });

  it('earliest is the sooner of two, and none yields to any', () => {
    const a = Deadline.fromTimeout(10);
    const b = Deadline.fromTimeout(1_000);
    assert.equal(Deadline.earliest(a, b), a);
    assert.equal(Deadline.earliest(b, a), a);
    assert.equal(Deadline.earliest(Deadline.none, b), b);
    assert.equal(Deadline.earliest(a, Deadline.none), a);
  });

  it('reads the same on a worker, whose performance.now() counts from another origin', async () => {
    const { Worker } = await import('node:worker_threads');
    const moduleUrl = new URL('../src/internal/deadline.js', import.meta.url).href;
    // The worker answers each message with its reading of the clock. Node's workers share the
    // process's performance.timeOrigin, but web-standard runtimes (Deno, browsers) give each
    // worker its own: only a clock on the epoch axis reads alike on all of them.
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      import(workerData.moduleUrl).then(({ Deadline }) => {
        parentPort.on('message', () => parentPort.postMessage(Deadline.now()));
        parentPort.postMessage('ready');
      });`;
    const worker = new Worker(code, { eval: true, workerData: { moduleUrl } });
    try {
      const next = () =>
        new Promise<unknown>((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
        });
      assert.equal(await next(), 'ready');
      const before = Deadline.now();
      const answer = next();
      worker.postMessage('now');
      const there = (await answer) as number;
      const after = Deadline.now();
      // The threads' origins agree to well under a millisecond; the slack is for rounding only.
      const slack = 25;
      assert.ok(
        there >= before - slack && there <= after + slack,
        `the worker read ${there - before} ms after this thread's ${after - before} ms window opened`,
      );
      // On the epoch axis (not counting from some thread's start): within a minute of the wall clock.
      assert.ok(Math.abs(there - Date.now()) < 60_000, `the worker read ${there}, the wall clock ${Date.now()}`);
    } finally {
      await worker.terminate();
    }
  });
});
