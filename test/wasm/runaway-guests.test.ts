// The nastiest guests we could write against timeouts and fuel: bulk memory and table
// instructions whose work depends on an operand, grows, recursion. Each runs through the
// public API on the main thread in a child process that the test kills at a hard bound, so
// a guest that cannot be stopped fails here instead of hanging the suite.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { assemble } from '../helpers.js';

const child = join(dirname(fileURLToPath(import.meta.url)), 'runaway-child.js');
const scratch = mkdtempSync(join(tmpdir(), 'plughost-runaway-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Kill bound of a child: far past any deadline here, far below the 45-60 s the unguarded guests ran. */
const HARD_BOUND_MS = 25_000;
const TIMEOUT_MS = 1000;
const FUEL = 1_000_000;

const GIB = 1 << 30;
const MIB = 1 << 20;

interface Outcome {
  ok?: boolean;
  code?: string;
  name?: string;
  message?: string;
  tookMs: number;
}

function runGuest(wasm: Uint8Array, fn: string, options: object): Promise<Outcome> {
  const path = join(scratch, `${Math.random().toString(36).slice(2)}.wasm`);
  writeFileSync(path, wasm);
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [child, path, fn, JSON.stringify(options)], { timeout: HARD_BOUND_MS, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`the guest was not stopped within ${HARD_BOUND_MS} ms (${err.message}) ${stderr}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout.trim()) as Outcome);
      } catch {
        reject(new Error(`unexpected child output: ${stdout} ${stderr}`));
      }
    });
  });
}

/** Memory of `bytes` bytes, declared in pages. */
const memory = (bytes: number, max?: number): string => `(memory (export "memory") ${Math.ceil(bytes / 65536)}${max === undefined ? '' : ` ${max}`})`;

/** The module with its one memory made shared (the WAT assembler here refuses `shared`). */
function shareMemory(wasm: Uint8Array): Uint8Array {
  const at = Buffer.from(wasm).indexOf(Buffer.from([0x05, 0x04, 0x01, 0x01, 0x01, 0x01])); // memory section: 1 memory, limits 1..1
  assert.ok(at > 0);
  wasm[at + 3] = 0x03;
  return wasm;
}

const guests: { what: string; wat: string; patch?: (wasm: Uint8Array) => Uint8Array }[] = [
  {
    what: 'memory.fill of 1 GiB in a loop',
    wat: `(module ${memory(GIB)} (func (export "run") (loop $l (memory.fill (i32.const 0) (i32.const 1) (i32.const ${GIB})) (br $l))))`,
  },
  {
    what: 'memory.copy of 512 MiB in a loop',
    wat: `(module ${memory(GIB)} (func (export "run") (loop $l (memory.copy (i32.const 0) (i32.const ${512 * MIB}) (i32.const ${512 * MIB})) (br $l))))`,
  },
  {
    what: 'an overlapping memory.copy upwards (copied backwards) of almost 1 GiB in a loop',
    wat: `(module ${memory(GIB)} (func (export "run") (loop $l (memory.copy (i32.const 65536) (i32.const 0) (i32.const ${GIB - 65536})) (br $l))))`,
  },
  {
    what: 'many small fills',
    wat: `(module ${memory(MIB)} (func (export "run") (loop $l (memory.fill (i32.const 0) (i32.const 7) (i32.const 65536)) (br $l))))`,
  },
  {
    what: 'memory.grow of one page in a loop',
    wat: `(module (memory 1) (func (export "run") (loop $l (drop (memory.grow (i32.const 1))) (br $l))))`,
  },
  {
    what: 'table.grow and table.fill in a loop',
    wat: `(module (table $t 0 funcref) (func (export "run")
      (loop $l
        (drop (table.grow $t (ref.null func) (i32.const 100000)))
        (table.fill $t (i32.const 0) (ref.null func) (table.size $t))
        (br $l))))`,
  },
  {
    what: 'recursion with a fill in every frame',
    wat: `(module ${memory(64 * MIB)} (func $r (export "run") (memory.fill (i32.const 0) (i32.const 1) (i32.const ${64 * MIB})) (call $r)))`,
  },
  {
    what: 'a huge memory.copy in a function called from a loop',
    wat: `(module ${memory(GIB)}
      (func $big (memory.copy (i32.const 0) (i32.const ${512 * MIB}) (i32.const ${512 * MIB})))
      (func (export "run") (loop $l (call $big) (br $l))))`,
  },
  {
    what: 'memory.atomic.wait32 with no timeout, on a shared memory',
    wat: `(module (memory 1 1) (func (export "run") (drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1)))))`,
    patch: shareMemory,
  },
  {
    what: 'memory.atomic.wait64 of a minute in a loop',
    wat: `(module (memory 1 1) (func (export "run") (loop $l (drop (memory.atomic.wait64 (i32.const 0) (i64.const 0) (i64.const 60000000000))) (br $l))))`,
    patch: shareMemory,
  },
  {
    what: 'bulk memory in a function called only once, with no loop anywhere',
    wat: `(module ${memory(GIB)}
      (func $once ${`(memory.fill (i32.const 0) (i32.const 3) (i32.const ${GIB}))`.repeat(60)})
      (func (export "run") (call $once)))`,
  },
];

describe('runaway guests on the main thread', () => {
  const limits: { name: string; options: object; code: string }[] = [
    { name: `timeoutMs: ${TIMEOUT_MS}`, options: { timeoutMs: TIMEOUT_MS }, code: 'PLUGHOST_TIMEOUT' },
    { name: `fuel: ${FUEL}`, options: { fuel: FUEL }, code: 'PLUGHOST_FUEL_EXHAUSTED' },
  ];
  for (const guest of guests) {
    for (const limit of limits) {
      it(`stops ${guest.what} (${limit.name})`, async () => {
        const assembled = await assemble(guest.wat, { all: true });
        const wasm = guest.patch ? guest.patch(assembled) : assembled;
        const outcome = await runGuest(wasm, 'run', limit.options);
        assert.equal(outcome.code, limit.code, JSON.stringify(outcome));
        if (process.env.PLUGHOST_SHOW_TIMES) console.log(`${guest.what} (${limit.name}): ${Math.round(outcome.tookMs)} ms`);
        // Generous: a loaded machine is slow, but a guest that ignores the limit runs for tens of seconds.
        assert.ok(outcome.tookMs < TIMEOUT_MS + 5000, `stopped only after ${Math.round(outcome.tookMs)} ms`);
      });
    }
  }
});
