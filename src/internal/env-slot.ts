// A kernel together with the host-env functions wired to it, ready to serve a plug-in. Making
// one costs two instantiations (one with its own memory), most of a plug-in's creation time,
// so closed plug-ins give theirs back to a small pool; a slot is scrubbed (every byte it ever
// handed out zeroed) before another plug-in gets it.
import { createHostEnv, HOST_ENV_SIGNATURES, type HostEnvFunctionName, type HostEnvHolder, type HostEnvState } from './host-env.js';
import { exactAdapter, needsTrampoline, TrampolineBatch } from './host-trampolines.js';
import { Kernel } from './kernel/kernel.js';
import { toFuncType } from './signature-table.js';
import { VarStore } from './vars.js';

/** A kernel and the host-env functions wired to it, owned by one plug-in at a time. */
export interface EnvSlot {
  readonly kernel: Kernel;
  /** Points the host-env functions at the plug-in that owns the slot. */
  readonly holder: HostEnvHolder;
  readonly envFunctions: Record<HostEnvFunctionName, WebAssembly.ImportValue>;
  /** What the host-env functions see while no plug-in owns the slot: nothing of any plug-in. */
  readonly unowned: HostEnvState;
}

const silent = () => {};

/** The state of a slot between owners, so that the last owner's state is not kept alive by it. */
function unownedState(kernel: Kernel): HostEnvState {
  return {
    kernel,
    vars: new VarStore(0),
    config: {},
    logger: { trace: silent, debug: silent, info: silent, warn: silent, error: silent },
    logLevel: 'silent',
    http: undefined,
    allowResponseHeaders: false,
    lastStatus: 0,
    lastHeaders: undefined,
  };
}

const POOL_LIMIT = 8;
/** Kernels that grew past this are not kept: scrubbing them would cost more than a new one. */
const POOL_MAX_BYTES = 4 * 1024 * 1024;
const pool: EnvSlot[] = [];

function createSlot(maxPages: number | undefined): EnvSlot {
  const kernel = new Kernel(maxPages);
  const unowned = unownedState(kernel);
  const holder: HostEnvHolder = { state: unowned };
  const env = createHostEnv(holder);
  const trampolines = new TrampolineBatch();
  const thunks: [HostEnvFunctionName, () => WebAssembly.ImportValue][] = [];
  for (const name of Object.keys(HOST_ENV_SIGNATURES) as HostEnvFunctionName[]) {
    const type = toFuncType(HOST_ENV_SIGNATURES[name]);
    const fn = env[name];
    if (!needsTrampoline(type)) {
      thunks.push([name, () => fn]);
      continue;
    }
    // Handles beyond 2^53 are never live: the slow path only has to fail the same way.
    const slow = exactAdapter((_ctx, ...args: unknown[]) => fn(...args.map(Number)), undefined as never, type);
    // The fast path needs no adapter: these functions return plain numbers (handles below
    // 2^32, never NaN, never a promise), which is all a user's host function is checked for.
    thunks.push([name, trampolines.add(type, () => fn, slow)]);
  }
  trampolines.finish();
  const envFunctions = Object.fromEntries(thunks.map(([name, thunk]) => [name, thunk()])) as Record<HostEnvFunctionName, WebAssembly.ImportValue>;
  return { kernel, holder, envFunctions, unowned };
}

/** A slot for a new plug-in, its kernel capped at `maxPages`: from the pool when one is free. The owner sets `holder.state`. */
export function acquireEnvSlot(maxPages: number | undefined): EnvSlot {
  const slot = pool.pop() ?? createSlot(maxPages);
  slot.kernel.limitPages(maxPages);
  return slot;
}

/**
 * Let go of a closed plug-in's slot without pooling it: a guest abandoned while suspended (JSPI)
 * may still run on its kernel, which must then serve no other plug-in.
 */
export function discardEnvSlot(slot: EnvSlot): void {
  slot.holder.state = slot.unowned;
}

/** Give a closed plug-in's slot back. */
export function releaseEnvSlot(slot: EnvSlot): void {
  slot.holder.state = slot.unowned;
  if (pool.length >= POOL_LIMIT || slot.kernel.size > POOL_MAX_BYTES) return;
  slot.kernel.scrub();
  pool.push(slot);
}
