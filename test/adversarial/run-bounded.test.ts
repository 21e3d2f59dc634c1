// The harness of the adversarial suite: runBounded must fail a child that hangs, blows up its
// memory or crashes, and pass one that behaves. If it could not fail, neither could the suite.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runBounded } from '../helpers.js';

describe('runBounded', () => {
  it('resolves with the output and the peak resident set of a child that behaves', async () => {
    const run = await runBounded(`console.log('fine'); console.error('note');`, { timeoutMs: 30_000, maxRssMb: 300 });
    assert.equal(run.stdout, 'fine\n');
    assert.equal(run.stderr, 'note\n');
    assert.ok(run.peakRssMb > 10 && run.peakRssMb < 300, `peak ${run.peakRssMb} MiB`);
  });

  it('kills and fails a child that hangs', async () => {
    await assert.rejects(runBounded(`for (;;) {}`, { timeoutMs: 500, maxRssMb: 300 }), /ran past 500 ms/);
  });

  it('kills and fails a child whose memory grows past the bound', async () => {
    const hog = `const keep = []; for (;;) { keep.push(new Uint8Array(16 << 20).fill(1)); await new Promise((r) => setTimeout(r, 1)); }`;
    await assert.rejects(runBounded(hog, { timeoutMs: 60_000, maxRssMb: 200 }), /resident set .* past 200 MiB/);
  });

  it('fails a child that exits with an error', async () => {
    await assert.rejects(runBounded(`throw new Error('boom')`, { timeoutMs: 30_000, maxRssMb: 300 }), /exited with 1[\s\S]*boom/);
  });
});
