// Resolves every import of every module of a plug-in, once, at creation: the kernel, the
// host-env functions, user host functions (through i64 trampolines), WASI, the interrupt
// hook, and other modules of the manifest. Missing or mistyped imports are all reported
// together. The result is a plan that can instantiate the plug-in again cheaply (after a
// trap, a timeout or a WASI `_start`).
import type { CallContext } from '../call-context.js';
import { LinkError } from '../errors.js';
import type { HostFunction, HostFunctionCallback } from '../host-function.js';
import type { HostFunctionMap } from '../options.js';
import { HOST_ENV_SIGNATURES, type HostEnvFunctionName } from './host-env.js';
import { asyncAdapter, exactAdapter, fastAdapter, needsTrampoline, TrampolineBatch } from './host-trampolines.js';
import { hasJspi, isAsyncFunction, NO_JSPI_HINT, type SuspensionGuard, suspending } from './jspi.js';
import type { Kernel } from './kernel/kernel.js';
import { acquireMemory } from './memory-pool.js';
import { type LoadedModule, moduleExports, moduleImports, type OwnMemory } from './module-loader.js';
import { WASI_PREVIEW1_FUNCTIONS, type Wasi } from './wasi/index.js';
import { TICK_MODULE, TICK_NAME } from './wasm/instrument.js';
import { MERGED_KERNEL_MODULE } from './wasm/kernel-merge.js';
import { OWN_MEMORY_MODULE, OWN_MEMORY_NAME } from './wasm/memory-limit.js';
import { type FuncType, formatFuncType, sameFuncType } from './wasm/reader.js';

/** The namespace of the Extism kernel and host functions. */
export const EXTISM_ENV = 'extism:host/env';
/** The namespace of WASI preview 1. */
export const WASI_NAMESPACE = 'wasi_snapshot_preview1';

type JsFunction = (...args: any[]) => any;

/** Everything the linker binds imports to. */
export interface LinkInputs {
  modules: LoadedModule[];
  mainIndex: number;
  kernel: Kernel;
  /** The host-env functions of this plug-in's kernel slot, already callable from wasm. */
  envFunctions: Record<HostEnvFunctionName, WebAssembly.ImportValue>;
  functions: HostFunctionMap;
  hostFunctions: readonly HostFunction[];
  callContext: CallContext;
  useWasi: boolean;
  /** Called when an instrumented module's budget runs out (timeouts, fuel, cancellation). */
  tick: () => void;
  /** Where JSPI exists: called as an async import starts, on the guest's stack (see {@link SuspensionGuard}). */
  guard?: () => SuspensionGuard;
  /** Where JSPI exists and the engine wants it: `http_request` as an awaited import (handles in, handle out). */
  asyncHttpRequest?: (requestHandle: number, bodyHandle: number) => Promise<number>;
}

/** A module as its manifest names it, for messages. */
const moduleLabel = (modules: readonly LoadedModule[], index: number) =>
  modules[index]!.name === undefined ? `wasm[${index}]` : `module "${modules[index]!.name}"`;

/** `module.name`, for messages and labels (made only where needed: most imports resolve without one). */
const importName = (imp: { module: string; name: string }) => `${imp.module}.${imp.name}`;

/** How one import is satisfied. */
type Binding =
  | { kind: 'value'; value: WebAssembly.ImportValue }
  /** A whole import namespace, bound as it is (the kernel merged into the module: its memory and globals; the slot's `extism:host/env` functions). */
  | { kind: 'namespace'; value: Record<string, WebAssembly.ImportValue> }
  /** The module's own memory, which the loader made an import: a fresh or pooled one per instantiation. */
  | { kind: 'own-memory'; limits: OwnMemory }
  | { kind: 'wasi'; name: string }
  | { kind: 'module'; target: number; name: string; importKind: string };

/** One import (or, for a namespace binding, a whole namespace: `name` is empty) and what satisfies it. */
export interface BoundImport {
  module: string;
  name: string;
  binding: Binding;
}

/** A binding resolved anew at each instantiation (the fixed ones go into the prepared import object). */
type PerInstanceBinding = Exclude<Binding, { kind: 'value' } | { kind: 'namespace' }>;

/** What a trampolined import is bound to until its batch is finished, which replaces it before the plan is returned. */
const UNBOUND_TRAMPOLINE: Binding = {
  kind: 'value',
  value: () => {
    throw new LinkError('plughost: a trampolined import was called before its trampoline was made');
  },
};

/** How every import of every module is satisfied, computed once; see {@link instantiate}. */
export interface LinkPlan {
  /** Module indices in instantiation order (dependencies first). */
  order: number[];
  bindings: Map<number, BoundImport[]>;
  /** Modules whose imports form a cycle reach each other through late-bound forwarders (`importer:target:name`); undefined when none do. */
  cyclic: Set<string> | undefined;
  /**
   * By module index, its import object with every fixed value in place, made at the first
   * instantiation and reused (an Instance reads it once, at construction), and the imports
   * set anew each time (memory, WASI, other modules' instances).
   */
  prepared: (PreparedImports | undefined)[];
  /** Some import suspends the guest (JSPI): exports must be called through `WebAssembly.promising`. */
  suspends: boolean;
}

/** A module's import object as the first instantiation prepares it, and its imports bound anew each time. */
type PreparedImports = {
  imports: Record<string, Record<string, WebAssembly.ImportValue>>;
  perInstance: { module: string; name: string; binding: PerInstanceBinding }[];
};

/**
 * The `extism:host/env` namespace of one env slot: every kernel function and every host-env
 * function, made once per slot, with its binding and, for a module that imports nothing else,
 * its whole import object. A plug-in whose env imports are all among them is linked to these
 * (the engine looks up only the names the module imports), so creating one makes no import
 * object of its own.
 */
interface SlotNamespace {
  bound: BoundImport;
  /** Shared by every plan of the slot: it has no per-instance import, so nothing writes into it. */
  envOnly: PreparedImports;
}

const slotNamespaces = new WeakMap<object, SlotNamespace>();

function slotNamespace(
  kernelFunctions: Record<string, WebAssembly.ImportValue>,
  envFunctions: Record<HostEnvFunctionName, WebAssembly.ImportValue>,
): SlotNamespace {
  let shared = slotNamespaces.get(envFunctions);
  if (shared === undefined) {
    const namespace = { ...envFunctions, ...kernelFunctions };
    shared = {
      bound: { module: EXTISM_ENV, name: '', binding: { kind: 'namespace', value: namespace } },
      envOnly: { imports: { [EXTISM_ENV]: namespace }, perInstance: [] },
    };
    slotNamespaces.set(envFunctions, shared);
  }
  return shared;
}

/**
 * The application's host function `module.name`, found among own properties only: the plug-in
 * chooses both names, and `__proto__`, `constructor` or `toString` must name nothing rather
 * than `Object.prototype`, `Function` or their methods (what `@extism/extism` binds too: the
 * entries of each namespace).
 */
function ownHostFunction(functions: HostFunctionMap, module: string, name: string): HostFunctionCallback | undefined {
  const namespace = Object.hasOwn(functions, module) ? functions[module] : undefined;
  const callback = namespace !== undefined && namespace !== null && Object.hasOwn(namespace, name) ? namespace[name] : undefined;
  return typeof callback === 'function' ? callback : undefined;
}

const WASI_NAMES: ReadonlySet<string> = new Set(WASI_PREVIEW1_FUNCTIONS);

/** The manifest's module names by index, or undefined when no module has one (the usual single module). */
function moduleNames(modules: readonly LoadedModule[]): Map<string, number> | undefined {
  let names: Map<string, number> | undefined;
  for (let i = 0; i < modules.length; i++) {
    const name = modules[i]!.name;
    if (name !== undefined) (names ??= new Map()).set(name, i);
  }
  return names;
}

/**
 * Resolve every import. Throws {@link LinkError} listing each problem (missing imports as
 * `module.name`). Module linking: imports whose module name is another manifest module's name.
 * Runs at every creation of a plug-in: it allocates only what the plan keeps.
 */
export function link(inputs: LinkInputs): LinkPlan {
  const { modules, kernel, callContext } = inputs;
  const names = moduleNames(modules);
  const kernelFunctions = kernel.guestFunctions();
  let typed: Map<string, HostFunction> | undefined;
  for (const f of inputs.hostFunctions) (typed ??= new Map()).set(`${f.namespace}\u0000${f.name}`, f);
  // With an awaited http_request (JSPI) the namespace would hold a per-plug-in function: bound one by one then.
  const sharedEnv = inputs.asyncHttpRequest === undefined;

  let trampolines: TrampolineBatch | undefined;
  const problems: string[] = [];
  const missing: string[] = [];
  const bindings = new Map<number, BoundImport[]>();
  // Trampolined imports exist only once the batch is finished: bound then, from their thunk.
  const thunks: { entry: BoundImport; thunk: () => WebAssembly.ImportValue }[] = [];
  let suspends = false;

  const visit = (index: number) => {
    if (bindings.has(index)) return;
    const module = modules[index]!;
    const imports: readonly { module: string; name: string; kind: string; type?: FuncType }[] = moduleImports(module);
    const list: BoundImport[] = [];
    bindings.set(index, list);
    let usesSharedEnv = false;
    for (const imp of imports) {
      const target = names?.get(imp.module);
      if (target !== undefined) {
        const exported = moduleExports(modules[target]!).find((e) => e.name === imp.name);
        if (exported === undefined) missing.push(importName(imp));
        else if (exported.kind !== imp.kind)
          problems.push(`${importName(imp)}: module "${imp.module}" exports "${imp.name}" as a ${exported.kind}, but it is imported as a ${imp.kind}`);
        else list.push({ module: imp.module, name: imp.name, binding: { kind: 'module', target, name: imp.name, importKind: imp.kind } });
        visit(target);
        continue;
      }
      if (imp.module === EXTISM_ENV) {
        const isKernel = imp.kind === 'function' && Object.hasOwn(kernelFunctions, imp.name);
        const isEnv = !isKernel && imp.kind === 'function' && Object.hasOwn(HOST_ENV_SIGNATURES, imp.name);
        if (sharedEnv && (isKernel || isEnv)) usesSharedEnv = true;
        else if (isKernel) list.push({ module: imp.module, name: imp.name, binding: { kind: 'value', value: kernelFunctions[imp.name]! } });
        else if (isEnv && imp.name === 'http_request' && inputs.asyncHttpRequest !== undefined) {
          list.push({ module: imp.module, name: imp.name, binding: { kind: 'value', value: awaitedHttpRequest(inputs.asyncHttpRequest, inputs.guard) } });
          suspends = true;
        } else if (isEnv)
          list.push({ module: imp.module, name: imp.name, binding: { kind: 'value', value: inputs.envFunctions[imp.name as HostEnvFunctionName] } });
        else missing.push(importName(imp));
        continue;
      }
      if (imp.module === WASI_NAMESPACE) {
        if (!inputs.useWasi || !WASI_NAMES.has(imp.name)) missing.push(importName(imp));
        else list.push({ module: imp.module, name: imp.name, binding: { kind: 'wasi', name: imp.name } });
        continue;
      }
      if (imp.module === OWN_MEMORY_MODULE && imp.name === OWN_MEMORY_NAME && imp.kind === 'memory' && module.memory !== undefined) {
        list.push({ module: imp.module, name: imp.name, binding: { kind: 'own-memory', limits: module.memory } });
        continue;
      }
      if (imp.module === TICK_MODULE && imp.name === TICK_NAME && module.instrumented) {
        list.push({ module: imp.module, name: imp.name, binding: { kind: 'value', value: inputs.tick } });
        continue;
      }
      const declared = typed?.get(`${imp.module}\u0000${imp.name}`);
      const loose = ownHostFunction(inputs.functions, imp.module, imp.name);
      const callback = declared?.callback ?? loose;
      if (callback === undefined || imp.kind !== 'function') {
        missing.push(importName(imp));
        continue;
      }
      let type = imp.kind === 'function' ? imp.type : undefined;
      if (declared !== undefined && type !== undefined && !sameFuncType(type, declared)) {
        problems.push(`${importName(imp)}: the plug-in imports ${formatFuncType(type)}, the host function is declared ${formatFuncType(declared)}`);
        continue;
      }
      // A module given compiled does not say its import types: a declared host function then
      // goes by its declaration (a trampoline typed so is checked by the instantiation itself).
      if (type === undefined && declared !== undefined) type = { params: [...declared.params], results: [...declared.results] };
      if (isAsyncFunction(callback)) {
        if (!hasJspi()) {
          problems.push(`${importName(imp)}: the host function is async, ${NO_JSPI_HINT}`);
          continue;
        }
        list.push({
          module: imp.module,
          name: imp.name,
          binding: { kind: 'value', value: suspending(asyncAdapter(callback, callContext, type, inputs.guard ?? noGuard)) },
        });
        suspends = true;
        continue;
      }
      if (type !== undefined && needsTrampoline(type)) {
        const entry: BoundImport = { module: imp.module, name: imp.name, binding: UNBOUND_TRAMPOLINE };
        list.push(entry);
        const fastType = type;
        const label = importName(imp);
        const thunk = (trampolines ??= new TrampolineBatch()).add(
          type,
          (wide) => fastAdapter(callback, callContext, fastType, wide, label),
          exactAdapter(callback, callContext, type),
        );
        thunks.push({ entry, thunk });
      } else {
        list.push({ module: imp.module, name: imp.name, binding: { kind: 'value', value: exactAdapter(callback, callContext, type) } });
      }
    }
    if (usesSharedEnv) list.push(slotNamespace(kernelFunctions, inputs.envFunctions).bound);
    // The kernel merged into the module shares this plug-in's kernel instance's memory and
    // state: the whole namespace at once (one object per kernel: a per-name import object
    // made at each creation cost more than the instantiation).
    if (module.kernelImports !== undefined)
      list.push({ module: MERGED_KERNEL_MODULE, name: '', binding: { kind: 'namespace', value: kernel.mergedImports() } });
  };
  visit(inputs.mainIndex);

  if (missing.length > 0 || problems.length > 0) {
    const lines = [...missing.map((m) => `missing import ${m}`), ...problems];
    throw new LinkError(`cannot link the plug-in: ${lines.join('; ')}${missingImportHints(missing, inputs.useWasi)}`, missing);
  }

  if (trampolines !== undefined) {
    trampolines.finish();
    for (const { entry, thunk } of thunks) entry.binding = { kind: 'value', value: thunk() };
  }

  const order: number[] = [];
  const cyclic = names === undefined ? undefined : sortModules(modules, bindings, inputs.mainIndex, order);
  if (names === undefined) order.push(inputs.mainIndex);
  const prepared: LinkPlan['prepared'] = [];
  // the usual plug-in: one module that imports only the slot's functions
  if (order.length === 1 && bindings.get(order[0]!)!.length === 1 && sharedEnv) {
    const shared = slotNamespace(kernelFunctions, inputs.envFunctions);
    if (bindings.get(order[0]!)![0] === shared.bound) prepared[order[0]!] = shared.envOnly;
  }
  return { order, bindings, cyclic, prepared, suspends };
}

/**
 * What a link failure's message adds after the missing imports (`module.name` each): what to do
 * about WASI imports without useWasi and about the pre-1.0 Extism ABI (`env.extism_*`, which
 * plug-ins built with an old PDK still import). The CLI takes it off to give hints of its own.
 */
export function missingImportHints(missing: readonly string[], useWasi: boolean): string {
  let hints = '';
  if (!useWasi && missing.some((m) => m.startsWith(`${WASI_NAMESPACE}.`))) hints += ' (the plug-in uses WASI: pass useWasi: true)';
  if (missing.some((m) => m.startsWith('env.extism_')))
    hints += ' (env.extism_* are imports of the Extism ABI before 1.0, which Extism 1.x hosts do not provide either: rebuild the plug-in with a 1.x PDK)';
  return hints;
}

const noGuard = (): SuspensionGuard => ({ returned() {}, settled() {} });

/** `http_request` awaited through JSPI. i64 handles arrive as BigInts (no trampoline); one past 2^53 is never live, which Number keeps so. */
function awaitedHttpRequest(request: (requestHandle: number, bodyHandle: number) => Promise<number>, guard: LinkInputs['guard']): WebAssembly.ImportValue {
  const check = guard ?? noGuard;
  return suspending(async (req: bigint, body: bigint) => {
    const guarded = check();
    let handle: number;
    try {
      let pending: Promise<number>;
      try {
        pending = request(Number(req), Number(body));
      } finally {
        guarded.returned();
      }
      handle = await pending;
    } finally {
      guarded.settled();
    }
    return BigInt(handle);
  });
}

/**
 * Fill `order` with the modules dependencies first; returns the imports on a back edge (a
 * cycle), which are bridged with late-bound forwarders, or undefined when there are none.
 */
function sortModules(modules: readonly LoadedModule[], bindings: Map<number, BoundImport[]>, mainIndex: number, order: number[]): Set<string> | undefined {
  const state = new Map<number, 'visiting' | 'done'>();
  let cyclic: Set<string> | undefined;
  const sort = (index: number) => {
    state.set(index, 'visiting');
    for (const { binding } of bindings.get(index) ?? []) {
      if (binding.kind !== 'module') continue;
      const s = state.get(binding.target);
      if (s === 'visiting') {
        if (binding.importKind !== 'function') {
          throw new LinkError(
            `cannot link the plug-in: ${moduleLabel(modules, index)} imports the ${binding.importKind} "${binding.name}" from ${moduleLabel(modules, binding.target)}, which depends on it in turn; only functions may be imported circularly`,
          );
        }
        (cyclic ??= new Set()).add(`${index}:${binding.target}:${binding.name}`);
      } else if (s === undefined) {
        sort(binding.target);
      }
    }
    state.set(index, 'done');
    order.push(index);
  };
  sort(mainIndex);
  return cyclic;
}

/** Instances of one instantiation of a plug-in. */
export interface Instantiated {
  main: WebAssembly.Instance;
  all: WebAssembly.Instance[];
  /** The memories handed to modules as their own (see memory-pool.ts), for giving back when these instances are done. */
  ownMemories: { memory: WebAssembly.Memory; limits: OwnMemory }[];
}

/**
 * Instantiate the plug-in from its plan. `wasiFor(index)` gives the WASI of a module (a
 * fresh one per instantiation), whose memory is bound once the module exists.
 */
export function instantiate(plan: LinkPlan, modules: LoadedModule[], mainIndex: number, wasiFor: (index: number) => Wasi | undefined): Instantiated {
  // by module index: most plug-ins are one module, and a Map per creation shows in its cost
  const instances: WebAssembly.Instance[] = [];
  const all: WebAssembly.Instance[] = [];
  const ownMemories: Instantiated['ownMemories'] = [];
  for (const index of plan.order) {
    let prepared = plan.prepared[index];
    if (prepared === undefined) {
      // Keys are names the plug-in chose: without a prototype, `__proto__` is a key like any other.
      prepared = { imports: Object.create(null), perInstance: [] };
      for (const { module, name, binding } of plan.bindings.get(index) ?? []) {
        if (binding.kind === 'value') (prepared.imports[module] ??= Object.create(null))[name] = binding.value;
        else if (binding.kind === 'namespace') prepared.imports[module] = binding.value;
        else prepared.perInstance.push({ module, name, binding });
      }
      plan.prepared[index] = prepared;
    }
    const { imports } = prepared;
    const wasi = wasiFor(index);
    for (const { module, name, binding } of prepared.perInstance) {
      let value: WebAssembly.ImportValue;
      if (binding.kind === 'own-memory') {
        const memory = acquireMemory(binding.limits);
        ownMemories.push({ memory, limits: binding.limits });
        // known before the module exists: WASI works even from its start function
        wasi?.setMemory(memory);
        value = memory;
      } else if (binding.kind === 'wasi') value = wasi!.imports[name] as WebAssembly.ImportValue;
      else if (plan.cyclic?.has(`${index}:${binding.target}:${binding.name}`)) {
        const { target, name: exportName } = binding;
        value = (...args: unknown[]) => (instances[target]!.exports[exportName] as JsFunction)(...args);
      } else value = instances[binding.target]!.exports[binding.name] as WebAssembly.ImportValue;
      (imports[module] ??= Object.create(null))[name] = value;
    }
    const instance = new WebAssembly.Instance(modules[index]!.module, imports);
    if (wasi !== undefined && modules[index]!.memory === undefined && instance.exports.memory instanceof WebAssembly.Memory)
      wasi.setMemory(instance.exports.memory);
    instances[index] = instance;
    all.push(instance);
  }
  return { main: instances[mainIndex]!, all, ownMemories };
}
